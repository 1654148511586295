package main

// `lighthouse review ...` and `lighthouse learned ...`: people decide
// escalated calls and manage the decisions learned from them.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// reviewCommands are `review` and `learned`.
func reviewCommands() []*cobra.Command {
	return []*cobra.Command{
		group("review", "list, inspect and decide escalated tool calls",
			`An escalated tool call waits for a review: a reviewer or an admin approves
or denies it. The agent's hook waits (100s by default); when it stops waiting
the review is closed as abandoned and a late vote is refused.

IDs may be abbreviated to any unique prefix.`,
			"  lighthouse review watch\n  lighthouse review list\n  lighthouse review approve 3f2a -m 'fine, staging only'",
			leaf(spec{use: "list [--status S] [--json]", short: "list reviews (default: pending)", run: runReviewList,
				example: "  lighthouse review list\n  lighthouse review list --status all --json"}),
			leaf(spec{use: "show ID [--json]", short: "show a review: the call, agent, session, cwd, rule, reason and the agent's recent changes", run: runReviewShow,
				example: "  lighthouse review show 3f2a"}),
			leaf(spec{use: "approve ID [-m REASON] [--for-pattern]", short: "approve an escalated call", run: runReviewVote, prefix: []string{"approve"},
				example: "  lighthouse review approve 3f2a -m 'ok'\n  lighthouse review approve 3f2a --for-pattern   # allow every call of this shape from now on"}),
			leaf(spec{use: "deny ID [-m REASON] [--for-pattern]", short: "deny an escalated call", run: runReviewVote, prefix: []string{"deny"},
				example: "  lighthouse review deny 3f2a -m 'not on main'"}),
			leaf(spec{use: "watch [--json]", short: "print escalations as they open, until interrupted", run: runReviewWatch,
				example: "  lighthouse review watch\n  lighthouse review watch --json | jq -r .id"}),
		),
		group("learned", "decisions learned from reviews decided for a pattern", "",
			"  lighthouse learned list\n  lighthouse learned revoke 7c1e -m 'too broad'",
			leaf(spec{use: "list [--json]", short: "list learned decisions in force", run: runLearnedList,
				example: "  lighthouse learned list --json"}),
			leaf(spec{use: "revoke ID [-m REASON]", short: "withdraw a learned decision", run: runLearnedRevoke,
				example: "  lighthouse learned revoke 7c1e -m 'too broad'"}),
		),
	}
}

// reviewView is a review as the writer's API answers it.
type reviewView = client.Review

// callSummary renders the tool call in one line: the command of a Bash
// call, the path of a file tool, else the input.
func callSummary(tool string, input json.RawMessage) string {
	var m map[string]any
	_ = json.Unmarshal(input, &m)
	for _, k := range []string{"command", "file_path", "notebook_path", "path", "url", "pattern"} {
		if s, ok := m[k].(string); ok && s != "" {
			return tool + ": " + s
		}
	}
	return tool + " " + string(input)
}

// clip shortens s to n runes for a table cell.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func listReviews(ctx context.Context, w *client.Client, status string) ([]reviewView, error) {
	q := ""
	if status != "" {
		q = "?status=" + url.QueryEscape(status)
	}
	var out struct {
		Reviews []reviewView `json:"reviews"`
	}
	if _, err := w.Do(ctx, http.MethodGet, "/v1/reviews"+q, nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Reviews, nil
}

// resolveReview turns a review id or unique prefix into the full id.
func resolveReview(ctx context.Context, w *client.Client, id string) (string, error) {
	return resolveID("review", id, "lighthouse review list --status all", func() ([]string, error) {
		all, err := listReviews(ctx, w, "")
		var ce *client.Error
		if errors.As(err, &ce) && ce.Status == http.StatusForbidden {
			// An agent a review is routed to may decide it without the
			// right to list reviews: it needs the full id.
			return nil, fmt.Errorf("this token's role may not list reviews, so the id prefix %q cannot be resolved; give the full review id (deciding a review takes a reviewer, an expert, an admin or an agent the review is routed to)", id)
		}
		ids := make([]string, 0, len(all))
		for _, r := range all {
			ids = append(ids, r.ID)
		}
		return ids, err
	})
}

func runReviewList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("review list", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	status := fs.String("status", "pending", "pending, approved, denied, expired, abandoned or all")
	asJSON := fs.Bool("json", false, "print JSON")
	_, w, err := c.ParseWriter(fs, args, 0, 0)
	if err != nil {
		return err
	}
	st := *status
	if st == "all" {
		st = ""
	}
	reviews, err := listReviews(ctx, w, st)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(map[string]any{"reviews": reviews})
	}
	return printReviewTable(os.Stdout, reviews)
}

func printReviewTable(out io.Writer, reviews []reviewView) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tAGENT\tAGE\tCALL\tRULE")
	for _, r := range reviews {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID[:min(8, len(r.ID))], r.Status, r.Requester,
			time.Since(r.RequestedAt).Round(time.Second), clip(callSummary(r.Tool, r.Input), 60), r.Rule)
	}
	return tw.Flush()
}

func runReviewShow(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("review show", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, w, err := c.ParseWriter(fs, args, 1, 1)
	if err != nil {
		return err
	}
	id, err := resolveReview(ctx, w, pos[0])
	if err != nil {
		return err
	}
	var rv reviewView
	if _, err := w.Do(ctx, http.MethodGet, "/v1/reviews/"+url.PathEscape(id), nil, nil, &rv); err != nil {
		return err
	}
	changes, cerr := recentChanges(ctx, &c, rv.RequesterID, 10)
	if *asJSON {
		if changes == nil {
			changes = []changeView{}
		}
		return printJSON(map[string]any{"review": rv, "recent_changes": changes})
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "review\t%s\n", rv.ID)
	fmt.Fprintf(tw, "status\t%s\n", rv.Status)
	fmt.Fprintf(tw, "call\t%s\n", callSummary(rv.Tool, rv.Input))
	fmt.Fprintf(tw, "input\t%s\n", rv.Input)
	fmt.Fprintf(tw, "agent\t%s\n", rv.Requester)
	fmt.Fprintf(tw, "session\t%s\n", orDash(rv.SessionID))
	fmt.Fprintf(tw, "cwd\t%s\n", orDash(rv.Cwd))
	fmt.Fprintf(tw, "rule\t%s\n", rv.Rule)
	fmt.Fprintf(tw, "pattern\t%s\n", patternLine(rv.Shape))
	fmt.Fprintf(tw, "reason\t%s\n", rv.EscalationReason)
	fmt.Fprintf(tw, "requested\t%s (deadline %s)\n", rv.RequestedAt.Local().Format(time.DateTime), rv.Deadline.Local().Format(time.DateTime))
	if rv.Status != domain.ReviewPending {
		fmt.Fprintf(tw, "decided by\t%s\n", orDash(strings.Join(rv.DecidedByNames, ", ")))
		fmt.Fprintf(tw, "decision\t%s\n", orDash(rv.Reason))
	} else if p := rv.ApprovalProgress(); p != "" {
		fmt.Fprintf(tw, "approvals\t%s\n", p)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Printf("\nrecent changes by %s:\n", rv.Requester)
	if cerr != nil {
		fmt.Printf("  (unavailable: %v)\n", cerr)
	}
	if len(changes) == 0 && cerr == nil {
		fmt.Println("  none")
	}
	for _, ch := range changes {
		fmt.Printf("  %s  #%d %-8s %s\n", ch.Time.Local().Format(time.TimeOnly), ch.Seq, ch.Change, ch.Path)
	}
	return nil
}

// patternLine describes a review's call shape: what `--for-pattern` learns.
func patternLine(shape string) string {
	if shape == "" {
		return "- (this call has no pattern; --for-pattern cannot be used)"
	}
	return shape + "   (what --for-pattern would decide for every later call)"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// changeView is one file change in `review show`.
type changeView struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Change string    `json:"change"`
	Path   string    `json:"path"`
}

// recentChanges returns the agent's last n file changes, from the reader.
func recentChanges(ctx context.Context, c *connection, agentID string, n int) ([]changeView, error) {
	r, err := c.Reader()
	if err != nil {
		return nil, err
	}
	var all []changeView
	after := uint64(0)
	for {
		q := url.Values{"agent": {agentID}, "type": {"file."}, "limit": {"10000"}, "after": {strconv.FormatUint(after, 10)}}
		var page struct {
			Events    []domain.Event `json:"events"`
			NextAfter uint64         `json:"next_after"`
		}
		if _, err := r.Do(ctx, http.MethodGet, "/v1/events?"+q.Encode(), nil, nil, &page); err != nil {
			return nil, err
		}
		for _, e := range page.Events {
			var p struct {
				Path string `json:"path"`
				From string `json:"from"`
				To   string `json:"to"`
			}
			_ = json.Unmarshal(e.Payload, &p)
			path := p.Path
			if path == "" && p.To != "" {
				path = p.From + " -> " + p.To
			}
			all = append(all, changeView{Seq: e.Seq, Time: e.Time, Change: strings.TrimPrefix(e.Type, "file."), Path: path})
		}
		if page.NextAfter == 0 || len(page.Events) == 0 {
			break
		}
		after = page.NextAfter
	}
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return all, nil
}

func runReviewVote(ctx context.Context, args []string) error {
	verb := args[0]
	fs := flag.NewFlagSet("review "+verb, flag.ContinueOnError)
	var c connection
	c.Register(fs)
	reason := fs.String("m", "", "the reason, shown to the agent")
	forPattern := fs.Bool("for-pattern", false, "decide every call of the same shape the same way from now on (a learned decision)")
	asJSON := fs.Bool("json", false, "print the review as JSON")
	pos, w, err := c.ParseWriter(fs, args[1:], 1, 1)
	if err != nil {
		return err
	}
	id, err := resolveReview(ctx, w, pos[0])
	if err != nil {
		return err
	}
	var rv reviewView
	if err := w.PostJSON(ctx, "/v1/reviews/"+url.PathEscape(id)+"/"+verb, map[string]any{"reason": *reason, "for_pattern": *forPattern}, &rv); err != nil {
		var ce *client.Error
		if errors.As(err, &ce) && ce.Code == "review_closed" {
			return fmt.Errorf("review %s is closed, nothing was decided: %s", id, ce.Message)
		}
		return err
	}
	if *asJSON {
		return printJSON(rv)
	}
	fmt.Printf("review %s: %s (call %s by %s)\n", rv.ID, rv.Status, clip(callSummary(rv.Tool, rv.Input), 60), rv.Requester)
	if *forPattern {
		fmt.Printf("for the pattern %s: every later call matching it is %s without a review (`lighthouse learned list` shows it, `lighthouse learned revoke` withdraws it)\n",
			rv.Shape, map[string]string{"approve": "allowed", "deny": "denied"}[verb])
	}
	if p := rv.ApprovalProgress(); rv.Status == domain.ReviewPending && p != "" {
		fmt.Printf("approvals: %s\n", p)
	}
	return nil
}

func runReviewWatch(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("review watch", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	interval := fs.Duration("interval", time.Second, "time between two looks")
	_, w, err := c.ParseWriter(fs, args, 0, 0)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	if !*asJSON {
		fmt.Fprintln(os.Stderr, "watching for escalations; Ctrl-C stops")
	}
	enc := json.NewEncoder(os.Stdout)
	for {
		reviews, err := listReviews(ctx, w, domain.ReviewPending)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		for _, r := range reviews {
			if seen[r.ID] {
				continue
			}
			seen[r.ID] = true
			if *asJSON {
				if err := enc.Encode(r); err != nil {
					return err
				}
				continue
			}
			fmt.Printf("%s  %s wants %s\n  rule %s: %s\n  lighthouse review approve %s   |   lighthouse review deny %s -m REASON\n",
				r.RequestedAt.Local().Format(time.TimeOnly), r.Requester, clip(callSummary(r.Tool, r.Input), 100), r.Rule, r.EscalationReason, r.ID[:8], r.ID[:8])
		}
		t := time.NewTimer(*interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// learnedView is a learned decision as GET /v1/learned answers it.
type learnedView struct {
	LearnedID string          `json:"learned_id"`
	Shape     string          `json:"shape"`
	Decision  string          `json:"decision"`
	ReviewID  string          `json:"review_id"`
	Tool      string          `json:"tool"`
	Example   json.RawMessage `json:"example"`
	By        []string        `json:"by"`
	ByNames   []string        `json:"by_names"`
	Reason    string          `json:"reason"`
	Seq       uint64          `json:"seq"`
	Time      time.Time       `json:"time"`
}

func listLearned(ctx context.Context, w *client.Client) ([]learnedView, error) {
	var out struct {
		Learned []learnedView `json:"learned"`
	}
	if _, err := w.Do(ctx, http.MethodGet, "/v1/learned", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Learned, nil
}

func runLearnedList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("learned list", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	_, w, err := c.ParseWriter(fs, args, 0, 0)
	if err != nil {
		return err
	}
	learned, err := listLearned(ctx, w)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(map[string]any{"learned": learned})
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDECISION\tPATTERN\tBY\tEXAMPLE\tREASON")
	for _, l := range learned {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.LearnedID[:min(8, len(l.LearnedID))], l.Decision, l.Shape, strings.Join(l.ByNames, ","),
			clip(callSummary(l.Tool, l.Example), 50), clip(l.Reason, 40))
	}
	return tw.Flush()
}

func runLearnedRevoke(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("learned revoke", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	reason := fs.String("m", "", "why")
	pos, w, err := c.ParseWriter(fs, args, 1, 1)
	if err != nil {
		return err
	}
	id, err := resolveID("learned decision", pos[0], "lighthouse learned list", func() ([]string, error) {
		all, err := listLearned(ctx, w)
		ids := make([]string, 0, len(all))
		for _, l := range all {
			ids = append(ids, l.LearnedID)
		}
		return ids, err
	})
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"reason": *reason})
	if _, err := w.Do(ctx, http.MethodDelete, "/v1/learned/"+url.PathEscape(id), http.Header{"Content-Type": {"application/json"}}, strings.NewReader(string(body)), nil); err != nil {
		return err
	}
	fmt.Printf("learned decision %s revoked\n", id)
	return nil
}
