package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
	ctx := browser(t)
	console := e.sys.ReaderURL + "/console/"

	if err := chromedp.Do(ctx,
		chromedp.Navigate(console),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), reviewer.Token),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("pending")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
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
	hookDone := make(chan hookResult, 1)
	go func() {
		cmd := exec.Command(filepath.Join(binDir, "lighthouse"), "hook", "pre", "--wait", "90s")
		cmd.Env = append(os.Environ(), "LIGHTHOUSE_URL="+e.sys.WriterURL, "LIGHTHOUSE_TOKEN="+builder.Token)
		cmd.Stdin = bytes.NewReader(bashPayload(t, "git push origin main"))
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		r := hookResult{stdout: out.String(), stderr: errb.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			r.code, r.stderr = -1, err.Error()
		}
		hookDone <- r
	}()

	item := `article.review[data-command="Bash: git push origin main"]`
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(item))); err != nil {
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
