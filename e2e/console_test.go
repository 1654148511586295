package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser starts headless Chromium (Debian's package, installed by
// scripts/deps.sh) with a fresh profile and returns a chromedp context.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (scripts/deps.sh installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1600), // room for every card a test points at
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(bctx); err != nil { // starts the browser, which lives as long as bctx
		t.Fatalf("start chromium: %v", err)
	}
	// Every step of the test has a deadline; the browser is not tied to it.
	ctx, cancelTimeout := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

// TestConsoleInChromium: a reviewer signs in to the console in a real
// browser, sees an escalation appear without reloading, approves it, and
// the real `lighthouse hook pre` that was waiting allows the call.
func TestConsoleInChromium(t *testing.T) {
	t.Parallel()
	e := startGate(t)
	builder, _ := e.addAgent("builder", "builder")
	reviewer, _ := e.addAgent("dana", "reviewer")
	ctx := signIn(t, e, reviewer.Token)
	console := e.sys.ReaderURL + "/console/"
	me, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("me")))
	if err != nil {
		t.Fatal(err)
	}
	// A marker a reload would lose.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.lighthouseMarker = "still here"; true`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(me, "dana") {
		t.Fatalf("signed in as %q, want dana", me)
	}

	// The agent's hook asks for a call the gate escalates and waits.
	hookDone := waitingHook(t, e, builder.Token, "git push origin main")

	item := `article.review[data-command="Bash: git push origin main"]`
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(item)), chromedp.WaitEnabled(chromedp.CSS(item+` button.approve`))); err != nil {
		t.Fatalf("the escalation did not appear: %v", err)
	}
	marker, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.lighthouseMarker || "reloaded"`))
	if err != nil {
		t.Fatal(err)
	}
	if marker != "still here" {
		t.Fatalf("the page reloaded (marker %q); it must update in place", marker)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(item+` input[name=reason]`), "fine from the browser"),
		chromedp.Click(chromedp.CSS(item+` button.approve`)),
		chromedp.WaitVisible(chromedp.ID("flash")),
	); err != nil {
		t.Fatalf("approve: %v", err)
	}
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(flash, "approved") {
		t.Fatalf("after approving: %q", flash)
	}
	select {
	case r := <-hookDone:
		if got := permission(t, r); got != "allow" || !strings.Contains(r.stdout, "dana") || !strings.Contains(r.stdout, "fine from the browser") {
			t.Fatalf("the waiting hook answered %s: %s", got, r.stdout)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the waiting hook did not return after the approval")
	}

	// The other pages render for the signed-in reviewer.
	for _, c := range []struct{ path, want string }{
		{"agents", "dana"},
		{"files", "The project at now"},
		{"learned", "Learned decisions"},
		{"diff?from=1", "What changed"},
		// A point names its own sequence, not the reader's head, and a
		// diff with nothing in it says so.
		{"files?at=2", "The project at 2 (#2)"},
		{fmt.Sprintf("diff?from=%d", e.writerHead()), "No changes between"},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(console+c.path)); err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if !strings.Contains(body, c.want) {
			t.Fatalf("%s lacks %q:\n%s", c.path, c.want, body)
		}
	}
}

// waitingHook runs the agent's `lighthouse hook pre` for a Bash command the
// gate escalates, in the background; its result arrives once it is decided.
func waitingHook(t *testing.T, e *env, token, command string) <-chan hookResult {
	t.Helper()
	// Ended with the test: a hook still waiting would outlive it.
	return runAsync(exec.CommandContext(t.Context(), filepath.Join(binDir, "lighthouse"), "hook", "pre", "--wait", "90s"),
		append(os.Environ(), "LIGHTHOUSE_URL="+e.sys.WriterURL, "LIGHTHOUSE_TOKEN="+token), bashPayload(t, command))
}

// signIn opens the console in a new headless browser signed in with token.
func signIn(t *testing.T, e *env, token string) context.Context {
	t.Helper()
	ctx := browser(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.sys.ReaderURL+"/console/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("pending")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	return ctx
}

// TestConsoleVoteLandsOnTheCardRead: a click in the console decides the
// call the reviewer was reading, never another one the live list moved
// under the pointer, and a vote being written survives the refresh.
//   - A review that arrives while the pointer rests on a card's Approve
//     goes below it (oldest first), and the click approves the card read.
//   - A review decided elsewhere above the card does not shift the list
//     while the pointer is over it.
//   - A card that appears or moves has its buttons disarmed for a moment.
//   - A typed reason and a ticked pattern box outlive the pointer leaving.
//   - The card names the pattern "for this pattern" would learn.
func TestConsoleVoteLandsOnTheCardRead(t *testing.T) {
	t.Parallel()
	e := startGate(t)
	builder, _ := e.addAgent("builder", "builder")
	reviewer, _ := e.addAgent("dana", "reviewer")
	ctx := signIn(t, e, reviewer.Token)
	// watch records every card the page disarms, in order, in
	// window.disarmed, until the page is left.
	watch := func() {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.disarmed = [];
new MutationObserver(function (ms) { ms.forEach(function (m) {
  if (m.target.classList && m.target.classList.contains("arming")) window.disarmed.push(m.target.id);
}); }).observe(document.getElementById("pending"), {subtree: true, attributes: true, attributeFilter: ["class"]}); true`)); err != nil {
			t.Fatal(err)
		}
	}
	away := func() {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.MouseEvent(chromedp.MouseMoved, 1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	card := func(command string) string { return `article.review[data-command="Bash: ` + command + `"]` }
	appear := func(command string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(card(command))), chromedp.WaitEnabled(chromedp.CSS(card(command)+` button.approve`))); err != nil {
			t.Fatalf("%s did not appear: %v", command, err)
		}
	}
	// point rests the pointer on a card's Approve and returns where.
	point := func(command string) (x, y float64) {
		t.Helper()
		r, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(function(){var b=document.querySelector('`+card(command)+` button.approve').getBoundingClientRect();return [b.x+b.width/2,b.y+b.height/2];})()`))
		if err != nil || len(r) != 2 {
			t.Fatalf("where is %s: %v %v", command, r, err)
		}
		if err := chromedp.Do(ctx, chromedp.MouseEvent(chromedp.MouseMoved, r[0], r[1])); err != nil {
			t.Fatal(err)
		}
		return r[0], r[1]
	}
	// clickAt clicks where the pointer rests and returns the flash.
	clickAt := func(x, y float64) string {
		t.Helper()
		// The last vote's flash is renamed (removing it would move the
		// cards), so the one waited for is this vote's.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`var f = document.getElementById("flash"); if (f) f.id = "last-flash"; true`)); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.MouseClickXY(x, y), chromedp.WaitVisible(chromedp.ID("flash"))); err != nil {
			t.Fatalf("click: %v", err)
		}
		flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
		if err != nil {
			t.Fatal(err)
		}
		return flash
	}
	pending := func() []string {
		t.Helper()
		var out struct {
			Reviews []struct {
				Input struct {
					Command string `json:"command"`
				} `json:"input"`
			} `json:"reviews"`
		}
		if _, err := e.admin.Do(context.Background(), http.MethodGet, "/v1/reviews?status=pending", nil, nil, &out); err != nil {
			t.Fatal(err)
		}
		var cmds []string
		for _, r := range out.Reviews {
			cmds = append(cmds, r.Input.Command)
		}
		return cmds
	}
	pendingCount := func(n int, what string) {
		t.Helper()
		eventually(t, what, func() error {
			if got := pending(); len(got) != n {
				return fmt.Errorf("pending %q", got)
			}
			return nil
		})
	}
	const a, b, c = "git push origin main", "git push origin master", "git push origin release/1.0"

	// A new review while the pointer rests on A's Approve.
	hookA := waitingHook(t, e, builder.Token, a)
	appear(a)
	x, y := point(a)
	waitingHook(t, e, builder.Token, b)
	pendingCount(2, "B pending")
	time.Sleep(2500 * time.Millisecond) // two refreshes
	if flash := clickAt(x, y); !strings.Contains(flash, a) {
		t.Fatalf("the click meant for %q: %q", a, flash)
	}
	if r := <-hookA; permission(t, r) != "allow" {
		t.Fatalf("A's hook: %s", r.stdout)
	}
	if got := pending(); len(got) != 1 || got[0] != b {
		t.Fatalf("pending after approving A: %q, want only B", got)
	}

	// A card above decided elsewhere: the list holds while the pointer is
	// on B, so C does not slide under it.
	// The page after the vote: C arrives while the pointer is elsewhere.
	watch()
	away()
	appear(b)
	waitingHook(t, e, builder.Token, c)
	appear(c)
	x, y = point(c)
	ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("article.review")).map(function(a){return a.id})`))
	if err != nil || len(ids) != 2 {
		t.Fatalf("cards %v, %v", ids, err)
	}
	// C appeared under B: it was disarmed when it came.
	if disarmed, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.disarmed`)); err != nil || !slices.Contains(disarmed, ids[1]) {
		t.Fatalf("disarmed %v (%v), want the new card %s among them", disarmed, err, ids[1])
	}
	waitingHook(t, e, builder.Token, "git push origin develop")
	pendingCount(3, "D pending")
	if err := e.admin.PostJSON(context.Background(), "/v1/reviews/"+strings.TrimPrefix(ids[0], "review-")+"/deny", map[string]any{"reason": "decided elsewhere"}, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	if flash := clickAt(x, y); !strings.Contains(flash, c) {
		t.Fatalf("the click meant for %q: %q", c, flash)
	}

	// A vote being written outlives the refresh once the pointer leaves.
	const d = "git push origin develop"
	away()
	appear(d)
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(card(d)+` input[name=reason]`), "only for staging"),
		chromedp.Click(chromedp.CSS(card(d)+` input[name=for_pattern]`)),
		chromedp.MouseEvent(chromedp.MouseMoved, 1, 1),
		chromedp.Click(chromedp.CSS("h2")), // focus leaves the input
	); err != nil {
		t.Fatal(err)
	}
	waitingHook(t, e, builder.Token, "git push origin staging")
	pendingCount(2, "E pending")
	time.Sleep(2500 * time.Millisecond)
	reason, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(card(d)+` input[name=reason]`)))
	if err != nil {
		t.Fatal(err)
	}
	ticked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('`+card(d)+` input[name=for_pattern]').checked`))
	if err != nil {
		t.Fatal(err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(card(d)+` code.pattern`)))
	if err != nil {
		t.Fatal(err)
	}
	if reason != "only for staging" || !ticked {
		t.Fatalf("after a refresh: reason %q, pattern box %v", reason, ticked)
	}
	if shown != "Bash: git push <arg> develop [pushes-protected-branch]" {
		t.Fatalf("the card names the pattern %q", shown)
	}
}

// TestConsoleCookieIsPerPort: the console's cookie is named for the port
// it listens on, so two projects' consoles on one machine (browsers share
// cookies across ports) neither sign each other out nor read each other's
// sign-in; and it holds a session id, never the token, since the browser
// sends it to whatever listens on any port of the host (a walkthrough's
// listener on another port received a reviewer's token). Signing out ends
// the session.
func TestConsoleCookieIsPerPort(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(e.sys.ReaderURL+"/console/login", url.Values{"token": {e.sys.AdminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(e.sys.ReaderURL)
	want := "lighthouse_console_" + u.Port()
	var got *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			got = c
		}
	}
	if got == nil || got.Name != want {
		t.Fatalf("sign-in set %v, want a cookie named %s", resp.Cookies(), want)
	}
	if strings.Contains(got.Value, e.sys.AdminToken) {
		t.Fatalf("the console's cookie holds the token: %s", got)
	}
	open := func(name, value string) int {
		req, _ := http.NewRequest(http.MethodGet, e.sys.ReaderURL+"/console/", nil)
		req.AddCookie(&http.Cookie{Name: name, Value: value})
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		name, value string
		status      int
	}{
		{want, got.Value, http.StatusOK},
		{"lighthouse_console_1", got.Value, http.StatusFound}, // another port's
		{want, e.sys.AdminToken, http.StatusFound},            // a token is no session
	} {
		if status := open(c.name, c.value); status != c.status {
			t.Errorf("the console with cookie %s=%.12s…: %d, want %d", c.name, c.value, status, c.status)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, e.sys.ReaderURL+"/console/logout", nil)
	req.AddCookie(got)
	if resp, err := noRedirect.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if status := open(want, got.Value); status != http.StatusFound {
		t.Errorf("the console after signing out: %d, want a redirect to sign in", status)
	}
}
