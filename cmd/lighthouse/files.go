package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/projections"
)

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runPut(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("put", flag.ContinueOnError)
	var c connection
	c.register(fs)
	var o client.WriteOptions
	expected := fs.Int64("expected-version", -1, "fail unless the file is at this version")
	fs.StringVar(&o.CommandID, "command-id", "", "idempotency key: a retry with the same id appends nothing")
	fs.StringVar(&o.Mode, "mode", "", "octal mode, for example 755")
	pos, err := parse(fs, args, 1, 2)
	if err != nil {
		return err
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
	w, err := c.writer()
	if err != nil {
		return err
	}
	res, err := w.WriteFile(ctx, pos[0], in, o)
	if err != nil {
		return err
	}
	fmt.Println(res.Seq)
	return nil
}

func runCat(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cat", flag.ContinueOnError)
	var c connection
	c.register(fs)
	at := fs.String("at", "", "the point to read at: a sequence, an RFC 3339 time or a snapshot (default: now)")
	minSeq := fs.Uint64("min-seq", 0, "wait until the reader has applied this sequence (default: the writer's head, so you read your own writes)")
	pos, r, err := c.parseReader(fs, args, 1, 1)
	if err != nil {
		return err
	}
	q := url.Values{}
	if *at != "" {
		q.Set("at", *at)
	}
	if *minSeq == 0 {
		*minSeq = c.writerHead(ctx)
	}
	if *minSeq > 0 {
		q.Set("min_seq", strconv.FormatUint(*minSeq, 10))
	}
	return printFile(ctx, r, pos[0], q)
}

// printFile copies a file from the reader to stdout.
func printFile(ctx context.Context, r *client.Client, path string, q url.Values) error {
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
	c.register(fs)
	pos, w, err := c.parseWriter(fs, args, 1, 1)
	if err != nil {
		return err
	}
	res, err := w.DeleteFile(ctx, pos[0])
	if err != nil {
		return err
	}
	fmt.Println(res.Seq)
	return nil
}

func runMv(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mv", flag.ContinueOnError)
	var c connection
	c.register(fs)
	pos, w, err := c.parseWriter(fs, args, 2, 2)
	if err != nil {
		return err
	}
	var res client.CommandResult
	if err := w.PostJSON(ctx, "/v1/files/move", map[string]string{"from": pos[0], "to": pos[1]}, &res); err != nil {
		return err
	}
	fmt.Println(res.Seq)
	return nil
}

func runTree(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tree", flag.ContinueOnError)
	var c connection
	c.register(fs)
	at := fs.String("at", "", "the point to list at: a sequence, an RFC 3339 time or a snapshot (default: now)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, r, err := c.parseReader(fs, args, 0, 1)
	if err != nil {
		return err
	}
	q := url.Values{}
	if len(pos) == 1 {
		q.Set("prefix", pos[0])
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
		fmt.Fprintf(tw, "%d\tv%d\t@%d\t%s\t\n", f.Size, f.Version, f.Seq, f.Path)
	}
	return tw.Flush()
}

func runLog(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("log", flag.ContinueOnError)
	var c connection
	c.register(fs)
	path := fs.String("path", "", "only events under this path")
	agent := fs.String("agent", "", "only events by this agent id")
	typ := fs.String("type", "", "only events of this type (a prefix ending in '.' matches a family)")
	after := fs.Uint64("after", 0, "only events after this sequence")
	limit := fs.Int("limit", 100, "at most this many events")
	_, r, err := c.parseReader(fs, args, 0, 0)
	if err != nil {
		return err
	}
	q := url.Values{"path": {*path}, "agent": {*agent}, "type": {*typ}, "after": {strconv.FormatUint(*after, 10)}, "limit": {strconv.Itoa(*limit)}}
	if head := c.writerHead(ctx); head > 0 {
		q.Set("min_seq", strconv.FormatUint(head, 10))
	}
	for k, v := range q {
		if v[0] == "" {
			delete(q, k)
		}
	}
	var out json.RawMessage
	if _, err := r.Do(ctx, "GET", "/v1/events?"+q.Encode(), nil, nil, &out); err != nil {
		return err
	}
	return printJSON(out)
}

func runStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var c connection
	c.register(fs)
	_, r, err := c.parseReader(fs, args, 0, 0)
	if err != nil {
		return err
	}
	var out json.RawMessage
	if _, err := r.Do(ctx, "GET", "/v1/status", nil, nil, &out); err != nil {
		return err
	}
	return printJSON(out)
}

func runVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	var c connection
	c.register(fs)
	_, w, err := c.parseWriter(fs, args, 0, 0)
	if err != nil {
		return err
	}
	var out struct {
		OK           bool     `json:"ok"`
		Verified     uint64   `json:"verified"`
		Error        string   `json:"error"`
		BlobsChecked int      `json:"blobs_checked"`
		Damaged      []string `json:"damaged_blobs"`
	}
	if _, err := w.Do(ctx, "GET", "/v1/verify", nil, nil, &out); err != nil {
		return err
	}
	for _, h := range out.Damaged {
		fmt.Printf("damaged content: %s\n", h)
	}
	if len(out.Damaged) > 0 {
		return fmt.Errorf("%d of %d content blobs do not match their hash", len(out.Damaged), out.BlobsChecked)
	}
	if !out.OK {
		return fmt.Errorf("hash chain broken after event %d: %s", out.Verified, out.Error)
	}
	fmt.Printf("hash chain intact: %d events; %d content blobs intact\n", out.Verified, out.BlobsChecked)
	return nil
}
