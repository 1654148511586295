package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/cli"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/httpapi"
	"github.com/lighthouse-ai/lighthouse/infra/watcher"
	"github.com/lighthouse-ai/lighthouse/projections"
)

func runPut(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("put", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	var o client.WriteOptions
	expected := fs.Int64("expected-version", -1, "fail unless the file is at this version")
	fs.StringVar(&o.CommandID, "command-id", "", "idempotency key: a retry with the same id appends nothing")
	fs.StringVar(&o.Mode, "mode", "", "octal mode, for example 755")
	logOnly := fs.Bool("log-only", false, "append to the log only; leave the file on disk alone (a running watcher then records the disk's state again)")
	pos, err := parse(fs, args, 1, 2)
	if err != nil {
		return err
	}
	if strings.HasSuffix(pos[0], "/") {
		// Cleaned, dir/ would quietly become a file named dir.
		return usagef("%q names a directory; put writes a file (give its path)", pos[0])
	}
	if *expected >= 0 {
		v := uint64(*expected)
		o.ExpectedVersion = &v
	}
	var in io.Reader = os.Stdin
	if len(pos) == 2 {
		f, err := os.Open(pos[1])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	w, err := c.Writer()
	if err != nil {
		return err
	}
	paths, err := resolvePaths(ctx, &c, pos[:1])
	if err != nil {
		return err
	}
	tree, onDisk, err := treeFor(ctx, &c, *logOnly)
	if err != nil {
		return err
	}
	var content []byte
	if onDisk {
		// The same bytes go to the log and to the disk.
		if content, err = io.ReadAll(in); err != nil {
			return fmt.Errorf("read the content: %w", err)
		}
		in = bytes.NewReader(content)
	}
	release, err := holdFor(ctx, tree, onDisk)
	if err != nil {
		return err
	}
	defer release()
	res, err := w.WriteFile(ctx, paths[0], in, o)
	if err != nil {
		return err
	}
	if onDisk {
		mode := tree.Mode(paths[0], domain.DefaultFileMode)
		if o.Mode != "" {
			m, _ := strconv.ParseUint(o.Mode, 8, 32) // the writer accepted it
			mode = os.FileMode(m).Perm()
		}
		if err := tree.Write(paths[0], content, mode); err != nil {
			return fmt.Errorf("the log has the new %s (@%d), but: %w", paths[0], res.Seq, err)
		}
	}
	if res.Unchanged {
		fmt.Fprintf(os.Stderr, "%s already holds this content: nothing appended\n", paths[0])
	}
	fmt.Println(res.Seq)
	return nil
}

// resolvePaths turns path arguments into project paths (see cli.Paths).
func resolvePaths(ctx context.Context, c *connection, args []string) ([]string, error) {
	p, err := c.Paths(ctx)
	if err != nil {
		return nil, err
	}
	return p.ResolveAll(args)
}

// treeFor returns the working tree that put, rm and mv change with the
// log: the project's, when a watcher records it (else the watcher would
// undo the change). Otherwise, and with --log-only, they change the log
// alone, and a warning says so.
func treeFor(ctx context.Context, c *connection, logOnly bool) (cli.Tree, bool, error) {
	t, ok, err := c.WatchedTree(ctx)
	if err != nil {
		return t, false, err
	}
	switch {
	case ok && logOnly:
		fmt.Fprintln(os.Stderr, "warning: --log-only in a watched project: the watcher records the files on disk again at its next look, undoing this change in the log")
		return t, false, nil
	case !ok && !logOnly:
		fmt.Fprintln(os.Stderr, "warning: no watcher runs for the project, so only the log changed; the files on disk were left alone")
	}
	return t, ok && !logOnly, nil
}

// holdFor holds the watcher's looks from just before a change to the log
// until release, after the same change on disk (cli.Tree.Hold); a change
// of the log alone holds nothing.
func holdFor(ctx context.Context, t cli.Tree, onDisk bool) (release func(), err error) {
	if !onDisk {
		return func() {}, nil
	}
	return t.Hold(ctx)
}

func runCat(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cat", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	at := fs.String("at", "", "the point to read at: a sequence, an RFC 3339 time or a snapshot (default: now)")
	minSeq := fs.Uint64("min-seq", 0, "wait until the reader has applied this sequence (default: the writer's head, so you read your own writes)")
	pos, r, err := c.ParseReader(fs, args, 1, 1)
	if err != nil {
		return err
	}
	paths, err := resolvePaths(ctx, &c, pos)
	if err != nil {
		return err
	}
	q := url.Values{}
	if *at != "" {
		q.Set("at", *at)
	}
	if *minSeq == 0 {
		*minSeq = c.WriterHead(ctx)
	}
	if *minSeq > 0 {
		q.Set("min_seq", strconv.FormatUint(*minSeq, 10))
	}
	return printFile(ctx, r, paths[0], q)
}

// printFile copies a file from the reader to stdout.
func printFile(ctx context.Context, r *client.Client, path string, q url.Values) error {
	if path == "" || strings.HasSuffix(path, "/") {
		return usagef("%q is a directory of the project, not a file (see `lighthouse tree`)", path)
	}
	body, err := r.Open(ctx, client.FilePath(path)+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer body.Close()
	_, err = io.Copy(os.Stdout, body)
	return err
}

func runRm(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rm", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	logOnly := fs.Bool("log-only", false, "delete in the log only; leave the file on disk alone")
	pos, w, err := c.ParseWriter(fs, args, 1, 1)
	if err != nil {
		return err
	}
	paths, err := resolvePaths(ctx, &c, pos)
	if err != nil {
		return err
	}
	tree, onDisk, err := treeFor(ctx, &c, *logOnly)
	if err != nil {
		return err
	}
	release, err := holdFor(ctx, tree, onDisk)
	if err != nil {
		return err
	}
	defer release()
	res, err := w.DeleteFile(ctx, paths[0])
	if err != nil {
		return err
	}
	if onDisk {
		if err := tree.Remove(paths[0]); err != nil {
			return fmt.Errorf("the log has %s deleted (@%d), but: %w", paths[0], res.Seq, err)
		}
	}
	fmt.Println(res.Seq)
	return nil
}

func runMv(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mv", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	logOnly := fs.Bool("log-only", false, "move in the log only; leave the files on disk alone")
	pos, w, err := c.ParseWriter(fs, args, 2, 2)
	if err != nil {
		return err
	}
	paths, err := resolvePaths(ctx, &c, pos)
	if err != nil {
		return err
	}
	tree, onDisk, err := treeFor(ctx, &c, *logOnly)
	if err != nil {
		return err
	}
	release, err := holdFor(ctx, tree, onDisk)
	if err != nil {
		return err
	}
	defer release()
	var res client.CommandResult
	if err := w.PostJSON(ctx, "/v1/files/move", map[string]string{"from": paths[0], "to": paths[1]}, &res); err != nil {
		return err
	}
	if onDisk {
		if err := tree.Move(paths[0], paths[1]); err != nil {
			return fmt.Errorf("the log has %s moved to %s (@%d), but: %w", paths[0], paths[1], res.Seq, err)
		}
	}
	fmt.Fprintf(os.Stderr, "moved %s to %s\n", paths[0], paths[1])
	fmt.Println(res.Seq)
	return nil
}

func runTree(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tree", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	at := fs.String("at", "", "the point to list at: a sequence, an RFC 3339 time or a snapshot (default: now)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, r, err := c.ParseReader(fs, args, 0, 1)
	if err != nil {
		return err
	}
	q := url.Values{}
	if len(pos) == 1 {
		paths, err := resolvePaths(ctx, &c, pos)
		if err != nil {
			return err
		}
		if paths[0] != "" {
			q.Set("prefix", paths[0])
		}
	}
	if *at != "" {
		q.Set("at", *at)
	}
	var out struct {
		Seq   uint64                 `json:"seq"`
		Files []projections.FileInfo `json:"files"`
	}
	if _, err := r.Do(ctx, "GET", "/v1/tree?"+q.Encode(), nil, nil, &out); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	for _, f := range out.Files {
		// The path is the last cell, unterminated: the numbers align right,
		// the paths left.
		fmt.Fprintf(tw, "%d\tv%d\t@%d\t  %s\n", f.Size, f.Version, f.Seq, f.Path)
	}
	return tw.Flush()
}

func runLog(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("log", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	path := fs.String("path", "", "only events under this path")
	agent := fs.String("agent", "", "only events by this agent (a name, or an id)")
	typ := fs.String("type", "", "only events of this type (a prefix ending in '.' matches a family)")
	after := fs.Uint64("after", 0, "the events after this sequence, oldest first (default: the newest events)")
	until := fs.Uint64("until", 0, "the newest events up to this sequence (the page before the last one shown)")
	limit := fs.Int("limit", 100, "at most this many events")
	asJSON := fs.Bool("json", false, "print the events as JSON")
	_, r, err := c.ParseReader(fs, args, 0, 0)
	if err != nil {
		return err
	}
	if *path != "" {
		paths, err := resolvePaths(ctx, &c, []string{*path})
		if err != nil {
			return err
		}
		*path = paths[0]
	}
	names, err := agentNames(ctx, r)
	if err != nil {
		return err
	}
	if *agent != "" {
		id, ok := agentID(names, *agent)
		if !ok {
			return fmt.Errorf("no agent named %q (see `lighthouse agent list`)", *agent)
		}
		*agent = id
	}
	q := url.Values{"path": {*path}, "agent": {*agent}, "type": {*typ}, "limit": {strconv.Itoa(*limit)}}
	switch {
	case *after != 0 && *until != 0:
		return usagef("log: give --after (oldest first) or --until (newest first), not both")
	case *after != 0:
		q.Set("after", strconv.FormatUint(*after, 10))
	default:
		// The newest page, as a person reading the log wants first.
		q.Set("newest", "true")
		if *until != 0 {
			q.Set("until_seq", strconv.FormatUint(*until, 10))
		}
	}
	if head := c.WriterHead(ctx); head > 0 {
		q.Set("min_seq", strconv.FormatUint(head, 10))
	}
	for k, v := range q {
		if v[0] == "" {
			delete(q, k)
		}
	}
	var out struct {
		Events    []domain.Event `json:"events"`
		NextAfter uint64         `json:"next_after,omitempty"`
		NextUntil uint64         `json:"next_until,omitempty"`
	}
	if _, err := r.Do(ctx, "GET", "/v1/events?"+q.Encode(), nil, nil, &out); err != nil {
		return err
	}
	if *asJSON {
		type named struct {
			domain.Event
			Agent string `json:"agent"`
		}
		evs := make([]named, 0, len(out.Events))
		for _, e := range out.Events {
			evs = append(evs, named{e, nameOr(names, e.AgentID)})
		}
		return printJSON(map[string]any{"events": evs, "next_after": out.NextAfter, "next_until": out.NextUntil})
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ	TIME	AGENT	TYPE	SUBJECT")
	for _, e := range out.Events {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Local().Format(time.DateTime), nameOr(names, e.AgentID), e.Type, clip(eventSubject(e, names), 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if out.NextAfter != 0 {
		fmt.Fprintf(os.Stderr, "(more: --after %d)\n", out.NextAfter)
	}
	if out.NextUntil != 0 {
		fmt.Fprintf(os.Stderr, "(older: --until %d)\n", out.NextUntil)
	}
	return nil
}

// eventSubject is what an event is about, in a few words, agents by name.
func eventSubject(e domain.Event, names map[string]string) string {
	var p map[string]any
	_ = json.Unmarshal(e.Payload, &p)
	str := func(k string) string { s, _ := p[k].(string); return s }
	switch {
	case str("path") != "":
		return str("path")
	case str("from") != "" && str("to") != "":
		return str("from") + " -> " + str("to")
	case str("shape") != "":
		return str("decision") + " " + str("shape") // learned.added
	case str("tool") != "":
		in, _ := json.Marshal(p["input"])
		s := callSummary(str("tool"), in)
		if d := str("decision"); d != "" {
			s = d + " " + s
		}
		return s
	case str("reviewer_id") != "":
		return str("review_id")[:min(8, len(str("review_id")))] + " " + str("reason")
	case str("name") != "":
		return str("name") + " " + str("role")
	}
	return e.StreamID
}

// agentNames maps agent ids to names, from c's GET /v1/agents.
func agentNames(ctx context.Context, c *client.Client) (map[string]string, error) {
	var out struct {
		Agents []domain.Agent `json:"agents"`
	}
	if _, err := c.Do(ctx, "GET", "/v1/agents", nil, nil, &out); err != nil {
		return nil, err
	}
	m := map[string]string{"system": "system"}
	for _, a := range out.Agents {
		m[a.ID] = a.Name
	}
	return m, nil
}

// agentID finds the id of the agent named name (an id is accepted too).
func agentID(names map[string]string, name string) (string, bool) {
	for id, n := range names {
		if n == name || id == name {
			return id, true
		}
	}
	return "", false
}

// nameOr returns the name of agent id, else the id.
func nameOr(names map[string]string, id string) string {
	if n := names[id]; n != "" {
		return n
	}
	return id
}

func runStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	_, r, err := c.ParseReader(fs, args, 0, 0)
	if err != nil {
		return err
	}
	var out httpapi.ReaderStatus
	if _, err := r.Do(ctx, "GET", "/v1/status", nil, nil, &out); err != nil {
		return err
	}
	w, rd, _ := c.URLs() // resolved above by ParseReader
	// The policy in force, and why a change to its file was refused.
	var pol *httpapi.PolicyStatus
	polErr := ""
	if wc, err := c.Writer(); err == nil {
		var st httpapi.PolicyStatus
		if _, err := wc.Do(ctx, "GET", "/v1/policy", nil, nil, &st); err == nil {
			pol = &st
		} else {
			polErr = err.Error()
		}
	}
	// The watcher, when one runs for the data directory: what it could
	// not record is otherwise only in up's log.
	var ws *watcher.Status
	if data, err := c.DataDir(); err == nil {
		if l, err := watcher.Dial(data); err == nil {
			if st, err := l.Status(ctx); err == nil {
				ws = &st
			}
		}
	}
	if *asJSON {
		return printJSON(struct {
			httpapi.ReaderStatus
			WriterURL string                `json:"writer_url"`
			ReaderURL string                `json:"reader_url"`
			Policy    *httpapi.PolicyStatus `json:"policy,omitempty"`
			Watcher   *watcher.Status       `json:"watcher,omitempty"`
		}{out, w, rd, pol, ws})
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "writer\t%s\n", w)
	fmt.Fprintf(tw, "reader\t%s\n", rd)
	if out.WriterHead != nil {
		fmt.Fprintf(tw, "writer head\t%d\n", *out.WriterHead)
	} else {
		fmt.Fprintf(tw, "writer head\tunknown (%s)\n", out.WriterError)
	}
	fmt.Fprintf(tw, "reader applied\t%d\n", out.Applied)
	if out.Lag != nil {
		fmt.Fprintf(tw, "lag\t%d\n", *out.Lag)
	}
	switch {
	case pol != nil:
		fmt.Fprintf(tw, "policy\t%s, revision %s\n", pol.Source, pol.Revision)
		if pol.LastError != "" {
			fmt.Fprintf(tw, "policy error\t%s (the revision above stays in force)\n", pol.LastError)
		}
	case polErr != "":
		fmt.Fprintf(tw, "policy\tunknown (%s)\n", polErr)
	}
	if ws != nil {
		fmt.Fprintf(tw, "watcher\t%s (%d changes waiting, %d spooled)\n", ws.Dir, ws.Dirty, ws.Spooled)
		for _, r := range ws.Refused {
			fmt.Fprintf(tw, "not recorded\t%q: %s\n", r.Path, r.Reason)
		}
		if more := ws.RefusedCount - len(ws.Refused); more > 0 {
			fmt.Fprintf(tw, "not recorded\t… and %d more (see the watcher's log)\n", more)
		}
	}
	return tw.Flush()
}

func runVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	_, w, err := c.ParseWriter(fs, args, 0, 0)
	if err != nil {
		return err
	}
	var out struct {
		OK           bool     `json:"ok"`
		Verified     uint64   `json:"verified"`
		Error        string   `json:"error"`
		BlobsChecked int      `json:"blobs_checked"`
		Damaged      []string `json:"damaged_blobs"`
		// DamagedFiles names, for each damaged content, the file versions
		// whose content it is.
		DamagedFiles map[string][]domain.FileVersion `json:"damaged_files,omitempty"`
		// MissingFiles names, for each content the log refers to and the
		// store does not have, the file versions whose content it is.
		MissingFiles map[string][]domain.FileVersion `json:"missing_files,omitempty"`
	}
	if _, err := w.Do(ctx, "GET", "/v1/verify", nil, nil, &out); err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(out); err != nil {
			return err
		}
	} else {
		report := func(what, hash string, held []domain.FileVersion) {
			fmt.Printf("%s content: %s\n", what, hash)
			for _, v := range held {
				fmt.Printf("  the content of %s at event %d\n", v.Path, v.Seq)
			}
			if len(held) == 0 {
				fmt.Printf("  no file in the log has this content\n")
			}
		}
		for _, h := range out.Damaged {
			report("damaged", h, out.DamagedFiles[h])
		}
		missing := slices.Sorted(maps.Keys(out.MissingFiles))
		for _, h := range missing {
			report("missing", h, out.MissingFiles[h])
		}
		if len(out.Damaged)+len(missing) > 0 {
			fmt.Printf("to repair a damaged or missing content, put its good bytes again: lighthouse put PATH < FILE\n")
		}
	}
	if len(out.Damaged) > 0 {
		return fmt.Errorf("%d of %d content blobs do not match their hash", len(out.Damaged), out.BlobsChecked)
	}
	if len(out.MissingFiles) > 0 {
		return fmt.Errorf("%d contents the log refers to are missing", len(out.MissingFiles))
	}
	if !out.OK {
		return fmt.Errorf("hash chain broken after event %d: %s", out.Verified, out.Error)
	}
	if !*asJSON {
		fmt.Printf("hash chain intact: %d events; %d content blobs intact\n", out.Verified, out.BlobsChecked)
	}
	return nil
}
