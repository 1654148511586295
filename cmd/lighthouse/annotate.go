package main

// `lighthouse annotate PATH:START[-END] BODY` and `lighthouse annotations
// [PATH] [--at POINT]`: notes anchored to lines that follow the code.

import (
	"context"
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
)

// annotationView is an annotation as the reader shows it.
type annotationView struct {
	ID        string    `json:"id"`
	Path      string    `json:"path"`
	LineStart int       `json:"line_start"`
	LineEnd   int       `json:"line_end"`
	Orphaned  bool      `json:"orphaned"`
	Kind      string    `json:"kind"`
	Body      string    `json:"body"`
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"created_at"`
	Seq       uint64    `json:"seq"`
}

// parseLines reads PATH:START or PATH:START-END.
func parseLines(arg string) (path string, start, end int, err error) {
	i := strings.LastIndexByte(arg, ':')
	if i <= 0 {
		return "", 0, 0, usagef("annotate: want PATH:START or PATH:START-END, got %q", arg)
	}
	path, lines := arg[:i], arg[i+1:]
	from, to, ranged := strings.Cut(lines, "-")
	if start, err = strconv.Atoi(from); err != nil {
		return "", 0, 0, usagef("annotate: %q is not a line number", from)
	}
	end = start
	if ranged {
		if end, err = strconv.Atoi(to); err != nil {
			return "", 0, 0, usagef("annotate: %q is not a line number", to)
		}
	}
	return path, start, end, nil
}

func runAnnotate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("annotate", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	kind := fs.String("kind", "note", "note, warning, todo or review")
	resolve := fs.Bool("resolve", false, "resolve the annotation ID given instead: it no longer shows from now on")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, w, err := c.ParseWriter(fs, args, 1, -1)
	if err != nil {
		return err
	}
	if *resolve {
		r, err := c.Reader()
		if err != nil {
			return err
		}
		head := c.WriterHead(ctx)
		for _, id := range pos {
			id, err := resolveID("annotation", id, "lighthouse annotations", func() ([]string, error) { return annotationIDs(ctx, r, head) })
			if err != nil {
				return err
			}
			var res struct {
				Seq uint64 `json:"seq"`
			}
			if err := w.PostJSON(ctx, "/v1/annotations/"+url.PathEscape(id)+"/resolve", nil, &res); err != nil {
				return fmt.Errorf("resolve annotation %s: %w", id, err)
			}
			fmt.Fprintf(os.Stderr, "resolved annotation %s (@%d)\n", shortID(id), res.Seq)
		}
		return nil
	}
	if len(pos) < 2 {
		return usagef("annotate: want PATH:START[-END] and a body")
	}
	arg, start, end, err := parseLines(pos[0])
	if err != nil {
		return err
	}
	paths, err := resolvePaths(ctx, &c, []string{arg})
	if err != nil {
		return err
	}
	path := paths[0]
	body := strings.Join(pos[1:], " ")
	if body == "-" {
		raw, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
		if err != nil {
			return fmt.Errorf("read the body: %w", err)
		}
		body = string(raw)
	}
	var ans struct {
		ID        string `json:"id"`
		Seq       uint64 `json:"seq"`
		Path      string `json:"path"`
		LineStart int    `json:"line_start"`
		LineEnd   int    `json:"line_end"`
		Kind      string `json:"kind"`
	}
	req := map[string]any{"path": path, "line_start": start, "line_end": end, "kind": *kind, "body": body}
	if err := w.PostJSON(ctx, "/v1/annotations", req, &ans); err != nil {
		return fmt.Errorf("annotate: %w", err)
	}
	if *asJSON {
		return printJSON(ans)
	}
	fmt.Println(ans.ID)
	return nil
}

func runAnnotations(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("annotations", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	at := fs.String("at", "", "the point: a sequence, an RFC 3339 time or a snapshot (default: now)")
	asJSON := fs.Bool("json", false, "print JSON (the reader's answer)")
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
		q.Set("path", paths[0])
	}
	if *at != "" {
		q.Set("at", *at)
	}
	if head := c.WriterHead(ctx); head > 0 {
		q.Set("min_seq", strconv.FormatUint(head, 10)) // read your own writes
	}
	path := "/v1/annotations?" + q.Encode()
	if *asJSON {
		return printReaderJSON(ctx, r, path)
	}
	var ans struct {
		Annotations []annotationView `json:"annotations"`
	}
	if _, err := r.Do(ctx, http.MethodGet, path, nil, nil, &ans); err != nil {
		return fmt.Errorf("annotations: %w", err)
	}
	return printAnnotations(os.Stdout, ans.Annotations)
}

// printAnnotations prints one line per annotation, then its body indented.
func printAnnotations(out io.Writer, list []annotationView) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, a := range list {
		lines := fmt.Sprintf("%s:%d", a.Path, a.LineStart)
		if a.LineEnd != a.LineStart {
			lines += fmt.Sprintf("-%d", a.LineEnd)
		}
		state := ""
		if a.Orphaned {
			state = " [orphaned]"
		}
		fmt.Fprintf(tw, "%s\t%s%s\t%s\t%s\n", lines, a.Kind, state, a.Author, shortID(a.ID))
		fmt.Fprintf(tw, "  %s\n", strings.ReplaceAll(a.Body, "\n", "\n  "))
	}
	return tw.Flush()
}
