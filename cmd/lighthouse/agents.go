package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/lighthouse-ai/lighthouse/domain"
)

func runAgent(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("agent: want `agent add NAME --role ROLE` or `agent list`")
	}
	fs := flag.NewFlagSet("agent "+args[0], flag.ContinueOnError)
	var c connection
	c.register(fs)
	switch args[0] {
	case "add":
		role := fs.String("role", "", "admin, builder, reviewer, expert or observer")
		pos, err := parse(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		if *role == "" {
			return usagef("agent add: --role is required (admin, builder, reviewer, expert or observer)")
		}
		w, err := c.writer()
		if err != nil {
			return err
		}
		var out struct {
			Agent domain.Agent `json:"agent"`
			Token string       `json:"token"`
		}
		if err := w.PostJSON(ctx, "/v1/agents", map[string]string{"name": pos[0], "role": *role}, &out); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "agent %s (%s) created with id %s; its token (shown once):\n", out.Agent.Name, out.Agent.Role, out.Agent.ID)
		fmt.Println(out.Token)
		return nil
	case "list":
		_, w, err := c.parseWriter(fs, args[1:], 0, 0)
		if err != nil {
			return err
		}
		var out struct {
			Agents []domain.Agent `json:"agents"`
		}
		if _, err := w.Do(ctx, "GET", "/v1/agents", nil, nil, &out); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tID")
		for _, a := range out.Agents {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Name, a.Role, a.ID)
		}
		return tw.Flush()
	}
	return usagef("agent: unknown subcommand %q", args[0])
}
