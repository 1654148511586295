package main

// `lighthouse task create|list|show|claim|complete|fail|release`: work
// routed to the agents with a capability.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// taskView is a task as the reader and writer show it.
type taskView struct {
	TaskID     string    `json:"task_id"`
	Capability string    `json:"capability"`
	Title      string    `json:"title"`
	Body       string    `json:"body"`
	Paths      []string  `json:"paths"`
	Requester  string    `json:"requester"`
	Status     string    `json:"status"`
	Claimer    string    `json:"claimer"`
	Result     string    `json:"result"`
	Reason     string    `json:"reason"`
	Deadline   time.Time `json:"deadline"`
	CreatedAt  time.Time `json:"created_at"`
	Offered    []struct {
		Name string `json:"name"`
	} `json:"offered"`
}

// taskFinal reports whether a task's status is final.
func taskFinal(status string) bool {
	return status == "completed" || status == "failed" || status == "expired"
}

func runTask(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("task: want create, list, show ID, claim ID, complete ID, fail ID or release ID")
	}
	fs := flag.NewFlagSet("task "+args[0], flag.ContinueOnError)
	var c connection
	c.Register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	switch args[0] {
	case "create":
		capability := fs.String("capability", "", "the capability of the agents the task is for (required)")
		title := fs.String("title", "", "the title, one line (required)")
		body := fs.String("m", "", "the body; - reads it from stdin")
		paths := fs.String("paths", "", "comma-separated project paths the task is about")
		deadline := fs.Duration("deadline", 0, "close the task as expired if not done within this long (e.g. 30m)")
		_, w, err := c.ParseWriter(fs, args[1:], 0, 0)
		if err != nil {
			return err
		}
		if *capability == "" || *title == "" {
			return usagef("task create: --capability and --title are required")
		}
		text := *body
		if text == "-" {
			raw, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
			if err != nil {
				return fmt.Errorf("read the body: %w", err)
			}
			text = string(raw)
		}
		// Paths are the user's, like every path argument: relative to the
		// working directory inside the project.
		taskPaths, err := resolvePaths(ctx, &c, splitList(*paths))
		if err != nil {
			return err
		}
		req := map[string]any{"capability": *capability, "title": *title, "body": text, "paths": taskPaths}
		if *deadline != 0 {
			req["deadline"] = deadline.String()
		}
		var ans struct {
			ID      string   `json:"id"`
			Seq     uint64   `json:"seq"`
			Offered []string `json:"offered"`
		}
		if err := w.PostJSON(ctx, "/v1/tasks", req, &ans); err != nil {
			return fmt.Errorf("create task: %w", err)
		}
		if *asJSON {
			return printJSON(ans)
		}
		fmt.Println(ans.ID)
		fmt.Fprintf(os.Stderr, "offered to %s\n", strings.Join(ans.Offered, ", "))
		return nil
	case "list":
		capability := fs.String("capability", "", "only tasks for this capability")
		status := fs.String("status", "", "only tasks in this status: open, claimed, completed, failed or expired")
		_, r, err := c.ParseReader(fs, args[1:], 0, 0)
		if err != nil {
			return err
		}
		q := url.Values{"min_seq": {fmt.Sprint(c.WriterHead(ctx))}}
		if *capability != "" {
			q.Set("capability", *capability)
		}
		if *status != "" {
			q.Set("status", *status)
		}
		var ans struct {
			Tasks []taskView `json:"tasks"`
		}
		if _, err := r.Do(ctx, http.MethodGet, "/v1/tasks?"+q.Encode(), nil, nil, &ans); err != nil {
			return fmt.Errorf("list tasks: %w", err)
		}
		if *asJSON {
			return printJSON(ans)
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tCAPABILITY\tCLAIMER\tREQUESTER\tTITLE")
		for _, t := range ans.Tasks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", shortID(t.TaskID), t.Status, t.Capability, orDash(t.Claimer), t.Requester, t.Title)
		}
		return tw.Flush()
	case "show":
		wait := fs.Duration("wait", 0, "wait up to this long for the task to finish (completed, failed or expired)")
		pos, r, err := c.ParseReader(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		head := c.WriterHead(ctx)
		id, err := resolveTask(ctx, r, pos[0], head)
		if err != nil {
			return err
		}
		t, err := showTask(ctx, r, id, head, *wait)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(t)
		}
		printTask(os.Stdout, t)
		return nil
	case "claim", "release", "complete", "fail":
		msg := fs.String("m", "", "the result (complete) or the reason (fail)")
		pos, w, err := c.ParseWriter(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		if args[0] == "fail" && strings.TrimSpace(*msg) == "" {
			return usagef("task fail: -m REASON is required")
		}
		body := map[string]any{}
		switch args[0] {
		case "complete":
			body["result"] = *msg
		case "fail":
			body["reason"] = *msg
		}
		r, err := c.Reader()
		if err != nil {
			return err
		}
		id, err := resolveTask(ctx, r, pos[0], c.WriterHead(ctx))
		if err != nil {
			return err
		}
		var t taskView
		if err := w.PostJSON(ctx, "/v1/tasks/"+url.PathEscape(id)+"/"+args[0], body, &t); err != nil {
			return fmt.Errorf("%s task %s: %w", args[0], id, err)
		}
		if *asJSON {
			return printJSON(t)
		}
		fmt.Fprintf(os.Stderr, "task %s is %s\n", t.TaskID, t.Status)
		return nil
	}
	return usagef("task: unknown subcommand %q (want create, list, show, claim, complete, fail or release)", args[0])
}

// showTask reads task id once the reader has applied minSeq; with wait it
// keeps long-polling the reader until the task is final or wait has passed.
func showTask(ctx context.Context, r *client.Client, id string, minSeq uint64, wait time.Duration) (taskView, error) {
	deadline := time.Now().Add(wait)
	q := url.Values{"min_seq": {fmt.Sprint(minSeq)}}
	for {
		var t taskView
		if _, err := r.Do(ctx, http.MethodGet, "/v1/tasks/"+url.PathEscape(id)+"?"+q.Encode(), nil, nil, &t); err != nil {
			return t, fmt.Errorf("task %s: %w", id, err)
		}
		left := time.Until(deadline).Round(time.Millisecond)
		if taskFinal(t.Status) || left <= 0 {
			return t, nil
		}
		q = url.Values{"wait": {min(left, time.Minute).String()}}
	}
}

func printTask(out io.Writer, t taskView) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\nstatus\t%s\ncapability\t%s\ntitle\t%s\nrequester\t%s\n", t.TaskID, t.Status, t.Capability, t.Title, t.Requester)
	if t.Claimer != "" {
		fmt.Fprintf(tw, "claimer\t%s\n", t.Claimer)
	}
	if len(t.Paths) > 0 {
		fmt.Fprintf(tw, "paths\t%s\n", strings.Join(t.Paths, ", "))
	}
	if !t.Deadline.IsZero() {
		fmt.Fprintf(tw, "deadline\t%s\n", t.Deadline.Local().Format(time.RFC3339))
	}
	if t.Result != "" {
		fmt.Fprintf(tw, "result\t%s\n", t.Result)
	}
	if t.Reason != "" {
		fmt.Fprintf(tw, "reason\t%s\n", t.Reason)
	}
	tw.Flush()
	if t.Body != "" {
		fmt.Fprintf(out, "\n%s\n", t.Body)
	}
}
