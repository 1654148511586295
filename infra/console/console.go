// Package console is Lighthouse's web console, served by the reader under
// /console/: people sign in with their token, decide pending reviews as
// they arrive, follow what agents do, browse the project at any point of
// its history, and manage agents' learned decisions.
//
// Pages are server-rendered from embedded templates; a small embedded
// script refreshes the live parts. Every read goes through the reader's
// API and every action through the writer's, with the signed-in person's
// token, so the console has exactly the API's role checks.
package console

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/client"
)

//go:embed templates/*.html static/*
var assets embed.FS

// cookieName holds the signed-in person's session id: a random name for a
// token the console keeps in memory. The token itself never goes to the
// browser, since a browser sends a host's cookies to every port of it,
// whatever listens there.
const cookieName = "lighthouse_console"

// sessionTTL is how long a sign-in lasts.
const sessionTTL = 12 * time.Hour

// sessions are the console's sign-ins: session id → token and expiry. A
// restart of the reader signs everyone out.
type sessions struct {
	mu   sync.Mutex
	byID map[string]signIn
}

type signIn struct {
	token   string
	expires time.Time
}

// start records a sign-in and returns its id (32 random bytes, hex).
func (ss *sessions) start(token string, now time.Time) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session id: %w", err)
	}
	id := hex.EncodeToString(b)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, s := range ss.byID { // expired sign-ins go as new ones come
		if now.After(s.expires) {
			delete(ss.byID, k)
		}
	}
	ss.byID[id] = signIn{token: token, expires: now.Add(sessionTTL)}
	return id, nil
}

// token returns the token of a live session id.
func (ss *sessions) token(id string, now time.Time) (string, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[id]
	if !ok || now.After(s.expires) {
		return "", false
	}
	return s.token, true
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byID, id)
}

// cookieFor names the cookie of the console r reached: cookieName and the
// port it listens on. Browsers keep cookies per host, whatever the port, so
// with one name two projects' consoles on one machine (up picks a free
// port for the second) shared one cookie: signing in to the second signed
// the first out, and the first then sent the second's token to its own
// writer. (The browser still sends both cookies to both; each reads its
// own.)
func cookieFor(r *http.Request) string {
	if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "" {
		return cookieName + "_" + port
	}
	return cookieName
}

// Server serves the console.
type Server struct {
	// WriterURL is the writer's base URL: reviews, learned decisions and
	// every action.
	WriterURL string
	// Reader is the reader's API handler, called in process.
	Reader http.Handler
	Log    *slog.Logger
}

// Handler returns the console's routes, all under /console/.
func (s *Server) Handler() http.Handler {
	tpl := template.Must(template.New("").Funcs(template.FuncMap{
		"short":   func(id string) string { return id[:min(8, len(id))] },
		"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"when":    func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
		"summary": callSummary,
	}).ParseFS(assets, "templates/*.html"))
	v := &views{s: s, tpl: tpl, signIns: &sessions{byID: map[string]signIn{}}}
	mux := http.NewServeMux()
	mux.Handle("GET /console/static/", http.StripPrefix("/console/", http.FileServerFS(assets)))
	mux.HandleFunc("GET /console/login", v.loginPage)
	mux.HandleFunc("POST /console/login", v.login)
	mux.HandleFunc("POST /console/logout", v.logout)
	mux.HandleFunc("GET /console/{$}", v.auth(v.dashboard))
	mux.HandleFunc("GET /console/fragments/pending", v.auth(v.pendingFragment))
	mux.HandleFunc("GET /console/fragments/activity", v.auth(v.activityFragment))
	mux.HandleFunc("GET /console/reviews/{id}", v.auth(v.review))
	mux.HandleFunc("POST /console/reviews/{id}/{verb}", v.auth(v.vote))
	mux.HandleFunc("GET /console/files", v.auth(v.files))
	mux.HandleFunc("GET /console/file", v.auth(v.file))
	mux.HandleFunc("GET /console/diff", v.auth(v.diff))
	mux.HandleFunc("GET /console/agents", v.auth(v.agents))
	mux.HandleFunc("GET /console/learned", v.auth(v.learned))
	mux.HandleFunc("POST /console/learned/{id}/revoke", v.auth(v.revoke))
	mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/console/", http.StatusFound) })
	return securityHeaders(mux)
}

// securityHeaders keeps the console out of frames and refuses cross-site
// form posts (the cookie is SameSite=Strict too).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if r.Method == http.MethodPost {
			if o := r.Header.Get("Origin"); o != "" && o != "null" {
				if u, err := url.Parse(o); err != nil || u.Host != r.Host {
					http.Error(w, "cross-site request refused", http.StatusForbidden)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// views renders the pages.
type views struct {
	s       *Server
	tpl     *template.Template
	signIns *sessions
}

// session is the signed-in person.
type session struct {
	Name   string
	Role   string
	writer *client.Client
	reader *client.Client
}

type sessionKey struct{}

// inProcess sends requests to an http.Handler without a network.
type inProcess struct{ h http.Handler }

// RoundTrip serves r with the handler and returns its recorded answer.
func (p inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func (v *views) clients(token string) (*client.Client, *client.Client) {
	w := client.New(v.s.WriterURL, token)
	r := client.New("http://reader.internal", token)
	r.HTTP = &http.Client{Transport: inProcess{v.s.Reader}, Timeout: 30 * time.Second}
	return w, r
}

// whoami asks the writer whose token it is.
func (v *views) whoami(ctx context.Context, token string) (session, error) {
	w, r := v.clients(token)
	var a struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}
	if _, err := w.Do(ctx, http.MethodGet, "/v1/whoami", nil, nil, &a); err != nil {
		return session{}, err
	}
	return session{Name: a.Name, Role: a.Role, writer: w, reader: r}, nil
}

// auth runs h for a signed-in person and sends anyone else to sign in.
func (v *views) auth(h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieFor(r))
		if err != nil || c.Value == "" {
			http.Redirect(w, r, "/console/login", http.StatusFound)
			return
		}
		token, ok := v.signIns.token(c.Value, time.Now())
		if !ok {
			http.Redirect(w, r, "/console/login?expired=1", http.StatusFound)
			return
		}
		s, err := v.whoami(r.Context(), token)
		if err != nil {
			var ce *client.Error
			if errors.As(err, &ce) && ce.Status == http.StatusUnauthorized {
				http.Redirect(w, r, "/console/login?expired=1", http.StatusFound)
				return
			}
			v.fail(w, err)
			return
		}
		h(w, r, s)
	}
}

func (v *views) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := v.tpl.ExecuteTemplate(w, name, data); err != nil && v.s.Log != nil {
		v.s.Log.Error("render console page", "page", name, "err", err)
	}
}

// fail shows an error; the API's status (403, 404, 422) is kept.
func (v *views) fail(w http.ResponseWriter, err error) {
	status := http.StatusBadGateway
	var ce *client.Error
	if errors.As(err, &ce) {
		status = ce.Status
	}
	w.WriteHeader(status)
	v.render(w, "error.html", map[string]any{"Error": err.Error()})
}

func (v *views) loginPage(w http.ResponseWriter, r *http.Request) {
	v.render(w, "login.html", map[string]any{"Expired": r.URL.Query().Get("expired") != ""})
}

func (v *views) login(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimSpace(r.FormValue("token"))
	if _, err := v.whoami(r.Context(), token); err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		v.render(w, "login.html", map[string]any{"Error": "That token does not work: " + err.Error()})
		return
	}
	id, err := v.signIns.start(token, time.Now())
	if err != nil {
		v.fail(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieFor(r), Value: id, Path: "/console/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: int(sessionTTL / time.Second)})
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (v *views) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieFor(r)); err == nil {
		v.signIns.end(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieFor(r), Value: "", Path: "/console/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// review is a review as the writer's API answers it, with what the
// templates need.
type review struct{ client.Review }

// InputJSON is the call's input, indented.
func (r review) InputJSON() string {
	var v any
	if json.Unmarshal(r.Input, &v) != nil {
		return string(r.Input)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func (v *views) pending(ctx context.Context, s session) ([]review, error) {
	var out struct {
		Reviews []review `json:"reviews"`
	}
	_, err := s.writer.Do(ctx, http.MethodGet, "/v1/reviews?status=pending", nil, nil, &out)
	var ce *client.Error
	if errors.As(err, &ce) && ce.Status == http.StatusForbidden {
		return nil, fmt.Errorf("you are signed in as %s, whose role (%s) does not review calls: sign in with a reviewer's, an expert's or the admin's token to see and decide them", s.Name, s.Role)
	}
	// Oldest first: a review that arrives goes below the ones a reviewer
	// may be reading, so no card moves under the pointer.
	sort.SliceStable(out.Reviews, func(i, j int) bool { return out.Reviews[i].RequestedAt.Before(out.Reviews[j].RequestedAt) })
	return out.Reviews, err
}

// page is what every full page gets.
type page struct {
	Me    session
	Title string
	Flash string
	Data  any
}

func (v *views) dashboard(w http.ResponseWriter, r *http.Request, s session) {
	pend, perr := v.pending(r.Context(), s)
	acts, aerr := v.activity(r.Context(), s, 40)
	v.render(w, "dashboard.html", page{Me: s, Title: "Reviews and activity", Flash: r.URL.Query().Get("flash"), Data: map[string]any{
		"Pending": pend, "PendingError": errText(perr), "Activity": acts, "ActivityError": errText(aerr)}})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (v *views) pendingFragment(w http.ResponseWriter, r *http.Request, s session) {
	pend, err := v.pending(r.Context(), s)
	v.render(w, "pending", map[string]any{"Pending": pend, "PendingError": errText(err)})
}

func (v *views) activityFragment(w http.ResponseWriter, r *http.Request, s session) {
	acts, err := v.activity(r.Context(), s, 40)
	v.render(w, "activity", map[string]any{"Activity": acts, "ActivityError": errText(err)})
}

func (v *views) review(w http.ResponseWriter, r *http.Request, s session) {
	var rv review
	if _, err := s.writer.Do(r.Context(), http.MethodGet, "/v1/reviews/"+url.PathEscape(r.PathValue("id")), nil, nil, &rv); err != nil {
		v.fail(w, err)
		return
	}
	changes, _ := v.recentChanges(r.Context(), s, rv.RequesterID, 15)
	v.render(w, "review.html", page{Me: s, Title: "Review " + rv.ID[:min(8, len(rv.ID))], Data: map[string]any{"Review": rv, "Changes": changes}})
}

func (v *views) vote(w http.ResponseWriter, r *http.Request, s session) {
	verb := r.PathValue("verb")
	if verb != "approve" && verb != "deny" {
		http.NotFound(w, r)
		return
	}
	id := r.PathValue("id")
	forPattern := r.FormValue("for_pattern") != ""
	body := map[string]any{"reason": r.FormValue("reason"), "for_pattern": forPattern}
	var rv review
	if err := s.writer.PostJSON(r.Context(), "/v1/reviews/"+url.PathEscape(id)+"/"+verb, body, &rv); err != nil {
		v.fail(w, err)
		return
	}
	flash := fmt.Sprintf("Review %s: %s (%s by %s)", id[:min(8, len(id))], rv.Status, callSummary(rv.Tool, rv.Input), rv.Requester)
	if forPattern && rv.Status != "pending" && rv.Shape != "" {
		flash += "; learned for every later call of the pattern " + rv.Shape
	}
	http.Redirect(w, r, "/console/?flash="+url.QueryEscape(flash), http.StatusSeeOther)
}

// activityItem is one line of the feed.
type activityItem struct {
	Seq     uint64
	Time    time.Time
	Agent   string
	Kind    string // "decision", "change", "review"
	Type    string
	Subject string
}

type event struct {
	Seq      uint64          `json:"seq"`
	Type     string          `json:"type"`
	StreamID string          `json:"stream_id"`
	Time     time.Time       `json:"time"`
	AgentID  string          `json:"agent_id"`
	Payload  json.RawMessage `json:"payload"`
}

func (v *views) names(ctx context.Context, s session) map[string]string {
	var out struct {
		Agents []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Role string `json:"role"`
		} `json:"agents"`
	}
	m := map[string]string{"system": "system"}
	if _, err := s.reader.Do(ctx, http.MethodGet, "/v1/agents", nil, nil, &out); err == nil {
		for _, a := range out.Agents {
			m[a.ID] = a.Name
		}
	}
	return m
}

// lastEvents returns up to n of the latest events.
func (v *views) lastEvents(ctx context.Context, s session, n int) ([]event, error) {
	var st struct {
		Applied uint64 `json:"applied"`
	}
	if _, err := s.reader.Do(ctx, http.MethodGet, "/v1/status", nil, nil, &st); err != nil {
		return nil, err
	}
	after := uint64(0)
	if st.Applied > uint64(n) {
		after = st.Applied - uint64(n)
	}
	var out struct {
		Events []event `json:"events"`
	}
	q := url.Values{"after": {strconv.FormatUint(after, 10)}, "limit": {strconv.Itoa(n)}}
	if _, err := s.reader.Do(ctx, http.MethodGet, "/v1/events?"+q.Encode(), nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Events, nil
}

func (v *views) activity(ctx context.Context, s session, n int) ([]activityItem, error) {
	evs, err := v.lastEvents(ctx, s, 500)
	if err != nil {
		return nil, err
	}
	names := v.names(ctx, s)
	var out []activityItem
	for i := len(evs) - 1; i >= 0 && len(out) < n; i-- {
		e := evs[i]
		var p map[string]any
		_ = json.Unmarshal(e.Payload, &p)
		str := func(k string) string { x, _ := p[k].(string); return x }
		it := activityItem{Seq: e.Seq, Time: e.Time, Agent: nameOr(names, e.AgentID), Type: e.Type}
		switch {
		case e.Type == "gate.decided":
			in, _ := json.Marshal(p["input"])
			it.Kind, it.Subject = "decision", str("decision")+": "+callSummary(str("tool"), in)
		case strings.HasPrefix(e.Type, "file."):
			it.Kind, it.Subject = "change", str("path")
			if it.Subject == "" {
				it.Subject = str("from") + " → " + str("to")
			}
		case strings.HasPrefix(e.Type, "review."):
			it.Kind, it.Subject = "review", strings.TrimPrefix(e.Type, "review.")+" "+strings.TrimPrefix(e.StreamID, "review:")[:8]
			if reason := str("reason"); reason != "" && e.Type != "review.requested" {
				it.Subject += ": " + reason
			}
		default:
			continue
		}
		out = append(out, it)
	}
	return out, nil
}

func nameOr(names map[string]string, id string) string {
	if n := names[id]; n != "" {
		return n
	}
	return id
}

// change is one file change of an agent.
type change struct {
	Seq  uint64
	Time time.Time
	Type string
	Path string
}

func (v *views) recentChanges(ctx context.Context, s session, agentID string, n int) ([]change, error) {
	var out struct {
		Events []event `json:"events"`
	}
	q := url.Values{"agent": {agentID}, "type": {"file."}, "limit": {"10000"}}
	if _, err := s.reader.Do(ctx, http.MethodGet, "/v1/events?"+q.Encode(), nil, nil, &out); err != nil {
		return nil, err
	}
	var cs []change
	for i := len(out.Events) - 1; i >= 0 && len(cs) < n; i-- {
		e := out.Events[i]
		var p struct {
			Path string `json:"path"`
			To   string `json:"to"`
		}
		_ = json.Unmarshal(e.Payload, &p)
		cs = append(cs, change{Seq: e.Seq, Time: e.Time, Type: strings.TrimPrefix(e.Type, "file."), Path: p.Path + p.To})
	}
	return cs, nil
}

// fileInfo is a file of the tree.
type fileInfo struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	Version uint64    `json:"version"`
	AgentID string    `json:"last_agent"`
	Seq     uint64    `json:"last_seq"`
	Time    time.Time `json:"mtime"`
	Agent   string    `json:"-"`
}

func (v *views) files(w http.ResponseWriter, r *http.Request, s session) {
	at, prefix := r.URL.Query().Get("at"), r.URL.Query().Get("prefix")
	q := url.Values{}
	if at != "" {
		q.Set("at", at)
	}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	var tree struct {
		Seq   uint64     `json:"seq"`
		Files []fileInfo `json:"files"`
	}
	h, err := s.reader.Do(r.Context(), http.MethodGet, "/v1/tree?"+q.Encode(), nil, nil, &tree)
	if err != nil {
		v.fail(w, err)
		return
	}
	// A point read names the sequence it stands for; tree.Seq is the
	// reader's head.
	if p, err := strconv.ParseUint(h.Get("X-Lighthouse-Point-At"), 10, 64); err == nil && at != "" {
		tree.Seq = p
	}
	names := v.names(r.Context(), s)
	for i := range tree.Files {
		tree.Files[i].Agent = nameOr(names, tree.Files[i].AgentID)
	}
	var snaps struct {
		Snapshots []struct {
			Name string `json:"name"`
			Seq  uint64 `json:"seq"`
		} `json:"snapshots"`
	}
	_, _ = s.reader.Do(r.Context(), http.MethodGet, "/v1/snapshots", nil, nil, &snaps)
	v.render(w, "files.html", page{Me: s, Title: "Project history", Data: map[string]any{"At": at, "Prefix": prefix, "Seq": tree.Seq,
		"Files": tree.Files, "Snapshots": snaps.Snapshots}})
}

func (v *views) file(w http.ResponseWriter, r *http.Request, s session) {
	path, at := r.URL.Query().Get("path"), r.URL.Query().Get("at")
	q := url.Values{}
	if at != "" {
		q.Set("at", at)
	}
	body, err := s.reader.Open(r.Context(), client.FilePath(path)+"?"+q.Encode())
	if err != nil {
		v.fail(w, err)
		return
	}
	defer body.Close()
	raw, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err != nil {
		v.fail(w, err)
		return
	}
	v.render(w, "file.html", page{Me: s, Title: path, Data: map[string]any{"Path": path, "At": at, "Content": string(raw)}})
}

func (v *views) diff(w http.ResponseWriter, r *http.Request, s session) {
	from, to := r.URL.Query().Get("from"), r.URL.Query().Get("to")
	data := map[string]any{"From": from, "To": to}
	if from != "" {
		q := url.Values{"from": {from}}
		if to != "" {
			q.Set("to", to)
		}
		var out struct {
			Changes []struct {
				Path   string `json:"path"`
				Status string `json:"status"`
				From   string `json:"from"`
				Patch  string `json:"patch"`
				Binary bool   `json:"binary"`
			} `json:"changes"`
		}
		if _, err := s.reader.Do(r.Context(), http.MethodGet, "/v1/diff?"+q.Encode(), nil, nil, &out); err != nil {
			v.fail(w, err)
			return
		}
		data["Changes"] = out.Changes
	}
	v.render(w, "diff.html", page{Me: s, Title: "Diff", Data: data})
}

func (v *views) agents(w http.ResponseWriter, r *http.Request, s session) {
	var out struct {
		Agents []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Role string `json:"role"`
		} `json:"agents"`
	}
	if _, err := s.reader.Do(r.Context(), http.MethodGet, "/v1/agents", nil, nil, &out); err != nil {
		v.fail(w, err)
		return
	}
	evs, _ := v.lastEvents(r.Context(), s, 10000)
	seen := map[string]time.Time{}
	for _, e := range evs {
		seen[e.AgentID] = e.Time
	}
	type row struct {
		Name, Role string
		LastSeen   time.Time
	}
	rows := make([]row, 0, len(out.Agents))
	for _, a := range out.Agents {
		rows = append(rows, row{a.Name, a.Role, seen[a.ID]})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	v.render(w, "agents.html", page{Me: s, Title: "Agents", Data: rows})
}

// learnedItem is a learned decision.
type learnedItem struct {
	LearnedID string          `json:"learned_id"`
	Decision  string          `json:"decision"`
	Tool      string          `json:"tool"`
	Example   json.RawMessage `json:"example"`
	ByNames   []string        `json:"by_names"`
	Reason    string          `json:"reason"`
	Shape     string          `json:"shape"`
	Time      time.Time       `json:"time"`
}

func (v *views) learned(w http.ResponseWriter, r *http.Request, s session) {
	var out struct {
		Learned []learnedItem `json:"learned"`
	}
	if _, err := s.writer.Do(r.Context(), http.MethodGet, "/v1/learned", nil, nil, &out); err != nil {
		v.fail(w, err)
		return
	}
	v.render(w, "learned.html", page{Me: s, Title: "Learned decisions", Flash: r.URL.Query().Get("flash"), Data: out.Learned})
}

func (v *views) revoke(w http.ResponseWriter, r *http.Request, s session) {
	id := r.PathValue("id")
	body, _ := json.Marshal(map[string]string{"reason": r.FormValue("reason")})
	if _, err := s.writer.Do(r.Context(), http.MethodDelete, "/v1/learned/"+url.PathEscape(id), http.Header{"Content-Type": {"application/json"}},
		strings.NewReader(string(body)), nil); err != nil {
		v.fail(w, err)
		return
	}
	http.Redirect(w, r, "/console/learned?flash="+url.QueryEscape("revoked "+id[:min(8, len(id))]), http.StatusSeeOther)
}

// callSummary renders a tool call in one line.
func callSummary(tool string, input json.RawMessage) string {
	var m map[string]any
	_ = json.Unmarshal(input, &m)
	for _, k := range []string{"command", "file_path", "notebook_path", "path", "url", "pattern"} {
		if s, ok := m[k].(string); ok && s != "" {
			return tool + ": " + s
		}
	}
	return tool
}
