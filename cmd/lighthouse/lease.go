package main

// `lighthouse lease add|list|release` and `lighthouse sessions`: the logic
// takes explicit parameters (clients, writers, values); run* are thin
// flag-parsing wrappers.

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

	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/config"
)

func runLease(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("lease: want `lease add GLOB... [--ttl D] [--shared] [-m REASON]`, `lease list` or `lease release ID`")
	}
	fs := flag.NewFlagSet("lease "+args[0], flag.ContinueOnError)
	var c connection
	c.Register(fs)
	switch args[0] {
	case "add":
		ttl := fs.Duration("ttl", 10*time.Minute, "how long the lease lasts unless the holder's hook calls renew it")
		shared := fs.Bool("shared", false, "a shared lease: it coexists with other shared leases")
		reason := fs.String("m", "", "why you hold the paths; shown to the agents your lease blocks")
		session := fs.String("session", config.Env("LIGHTHOUSE_SESSION_ID", ""), "the session the lease belongs to (env LIGHTHOUSE_SESSION_ID; default: your latest session)")
		pos, w, err := c.ParseWriter(fs, args[1:], 1, -1)
		if err != nil {
			return err
		}
		p, err := c.Paths(ctx)
		if err != nil {
			return err
		}
		if pos, err = p.ResolveAll(pos); err != nil {
			return err
		}
		for i, g := range pos {
			if g == "" {
				pos[i] = "**" // the project root: everything
			}
		}
		return leaseAdd(ctx, w, os.Stdout, pos, *ttl, *shared, *reason, *session)
	case "list":
		asJSON := fs.Bool("json", false, "print the reader's JSON")
		_, r, err := c.ParseReader(fs, args[1:], 0, 0)
		if err != nil {
			return err
		}
		path := "/v1/leases?min_seq=" + strconv.FormatUint(c.WriterHead(ctx), 10)
		if *asJSON {
			return printReaderJSON(ctx, r, path)
		}
		return leaseList(ctx, r, path, os.Stdout)
	case "release":
		pos, w, err := c.ParseWriter(fs, args[1:], 1, -1)
		if err != nil {
			return err
		}
		r, err := c.Reader()
		if err != nil {
			return err
		}
		head := c.WriterHead(ctx)
		for _, id := range pos {
			id, err := resolveID("active lease", id, "lighthouse lease list", func() ([]string, error) { return leaseIDs(ctx, r, head) })
			if err != nil {
				return err
			}
			if err := leaseRelease(ctx, w, os.Stdout, id); err != nil {
				return err
			}
		}
		return nil
	}
	return usagef("lease: unknown subcommand %q (want add, list or release)", args[0])
}

// leaseAnswer is the writer's answer to POST /v1/leases.
type leaseAnswer struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
	Seq       uint64    `json:"seq"`
	Paths     []string  `json:"paths"`
	Exclusive bool      `json:"exclusive"`
}

// leaseAdd asks the writer for a lease on globs and prints its id.
func leaseAdd(ctx context.Context, w *client.Client, out io.Writer, globs []string, ttl time.Duration, shared bool, reason, session string) error {
	exclusive := !shared
	body := map[string]any{"paths": globs, "ttl": ttl.String(), "exclusive": exclusive, "reason": reason}
	if session != "" {
		body["session_id"] = session
	}
	var ans leaseAnswer
	if err := w.PostJSON(ctx, "/v1/leases", body, &ans); err != nil {
		return fmt.Errorf("lease %s: %w", strings.Join(globs, " "), err)
	}
	kind := "exclusive"
	if !ans.Exclusive {
		kind = "shared"
	}
	fmt.Fprintf(out, "%s\n", ans.ID)
	fmt.Fprintf(os.Stderr, "lease %s on %s (%s) until %s\n", ans.ID, strings.Join(ans.Paths, " "), kind, ans.ExpiresAt.Local().Format(time.RFC3339))
	return nil
}

// leaseJSON is one lease of the reader's GET /v1/leases.
type leaseJSON struct {
	ID        string    `json:"id"`
	Holder    string    `json:"holder"`
	SessionID string    `json:"session_id"`
	Paths     []string  `json:"paths"`
	Exclusive bool      `json:"exclusive"`
	Reason    string    `json:"reason"`
	ExpiresAt time.Time `json:"expires_at"`
}

// leaseList prints the active leases of the reader's path (GET /v1/leases).
func leaseList(ctx context.Context, r *client.Client, path string, out io.Writer) error {
	var ans struct {
		Leases []leaseJSON `json:"leases"`
	}
	if _, err := r.Do(ctx, http.MethodGet, path, nil, nil, &ans); err != nil {
		return fmt.Errorf("list leases: %w", err)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOLDER\tKIND\tEXPIRES\tPATHS\tREASON")
	for _, l := range ans.Leases {
		kind := "exclusive"
		if !l.Exclusive {
			kind = "shared"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", shortID(l.ID), l.Holder, kind, l.ExpiresAt.Local().Format(time.RFC3339), strings.Join(l.Paths, " "), l.Reason)
	}
	return tw.Flush()
}

// leaseRelease releases one lease.
func leaseRelease(ctx context.Context, w *client.Client, out io.Writer, id string) error {
	var res client.CommandResult
	if _, err := w.Do(ctx, http.MethodDelete, "/v1/leases/"+url.PathEscape(id), nil, nil, &res); err != nil {
		return fmt.Errorf("release lease %s: %w", id, err)
	}
	fmt.Fprintf(out, "released %s\n", id)
	return nil
}

func runSessions(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sessions", flag.ContinueOnError)
	var c connection
	c.Register(fs)
	asJSON := fs.Bool("json", false, "print the reader's JSON")
	_, r, err := c.ParseReader(fs, args, 0, 0)
	if err != nil {
		return err
	}
	path := "/v1/sessions?min_seq=" + strconv.FormatUint(c.WriterHead(ctx), 10)
	if *asJSON {
		return printReaderJSON(ctx, r, path)
	}
	return sessionsList(ctx, r, path, os.Stdout)
}

// sessionsList prints the active sessions of the reader's path (GET
// /v1/sessions).
func sessionsList(ctx context.Context, r *client.Client, path string, out io.Writer) error {
	var ans struct {
		Sessions []struct {
			SessionID string    `json:"session_id"`
			Agent     string    `json:"agent"`
			Role      string    `json:"role"`
			Cwd       string    `json:"cwd"`
			StartedAt time.Time `json:"started_at"`
			LastSeen  time.Time `json:"last_seen"`
		} `json:"sessions"`
	}
	if _, err := r.Do(ctx, http.MethodGet, path, nil, nil, &ans); err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tAGENT\tROLE\tSTARTED\tLAST SEEN\tCWD")
	for _, s := range ans.Sessions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.SessionID, s.Agent, s.Role, s.StartedAt.Local().Format(time.RFC3339), s.LastSeen.Local().Format(time.RFC3339), s.Cwd)
	}
	return tw.Flush()
}
