package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/config"
	"github.com/lighthouse-ai/lighthouse/integrations/claudecode"
)

func runAgent(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("agent: want `agent add NAME --role ROLE`, `agent list`, `agent capabilities NAME CAP[,CAP...]`, `agent remove NAME` or `agent rotate NAME`")
	}
	fs := flag.NewFlagSet("agent "+args[0], flag.ContinueOnError)
	var c connection
	c.Register(fs)
	switch args[0] {
	case "add":
		role := fs.String("role", "", "admin, builder, reviewer, expert or observer")
		caps := fs.String("capability", "", "comma-separated capabilities the agent declares (security,performance); messages to capability:NAME reach it")
		pos, err := parse(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		if *role == "" {
			return usagef("agent add: --role is required (admin, builder, reviewer, expert or observer)")
		}
		w, err := c.Writer()
		if err != nil {
			return err
		}
		var out struct {
			Agent domain.Agent `json:"agent"`
			Token string       `json:"token"`
		}
		if err := w.PostJSON(ctx, "/v1/agents", map[string]any{"name": pos[0], "role": *role, "capabilities": splitList(*caps)}, &out); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "agent %s (%s) created with id %s; its token (shown once):\n", out.Agent.Name, out.Agent.Role, out.Agent.ID)
		fmt.Println(out.Token)
		return nil
	case "list":
		asJSON := fs.Bool("json", false, "print JSON")
		_, w, err := c.ParseWriter(fs, args[1:], 0, 0)
		if err != nil {
			return err
		}
		var out struct {
			Agents []domain.Agent `json:"agents"`
		}
		if _, err := w.Do(ctx, "GET", "/v1/agents", nil, nil, &out); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(out)
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tCAPABILITIES\tID")
		for _, a := range out.Agents {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, a.Role, strings.Join(a.Capabilities, ","), a.ID)
		}
		return tw.Flush()
	case "capabilities":
		pos, w, err := c.ParseWriter(fs, args[1:], 1, 2)
		if err != nil {
			return err
		}
		caps := []string{}
		if len(pos) == 2 {
			caps = splitList(pos[1])
		}
		var out struct {
			Agent domain.Agent `json:"agent"`
		}
		body, _ := json.Marshal(map[string]any{"capabilities": caps})
		if _, err := w.Do(ctx, http.MethodPut, "/v1/agents/"+url.PathEscape(pos[0])+"/capabilities", http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(body), &out); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "agent %s now has capabilities: %s\n", out.Agent.Name, orDash(strings.Join(out.Agent.Capabilities, ",")))
		return nil
	case "remove", "rotate":
		pos, w, err := c.ParseWriter(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		var out struct {
			Agent domain.Agent `json:"agent"`
			Token string       `json:"token"`
		}
		if args[0] == "remove" {
			if _, err := w.Do(ctx, http.MethodDelete, "/v1/agents/"+url.PathEscape(pos[0]), nil, nil, &out); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "agent %s removed; its token no longer works\n", pos[0])
			return nil
		}
		if err := w.PostJSON(ctx, "/v1/agents/"+url.PathEscape(pos[0])+"/rotate", struct{}{}, &out); err != nil {
			return err
		}
		if domain.IsOwnIdentity(pos[0]) {
			// The CLI, the reader, the fuser and the watcher read these
			// tokens from the data directory.
			data, err := c.DataDir()
			file := ""
			if err == nil {
				file, _ = config.OwnTokenFile(data, pos[0])
				err = config.WriteSecret(file, out.Token)
			}
			if err != nil {
				return fmt.Errorf("agent %s's token was rotated, but writing it to the data directory failed: %w (new token: %s)", pos[0], err, out.Token)
			}
			if pos[0] != domain.AgentAdmin {
				fmt.Fprintf(os.Stderr, "wrote the new token to %s, where the processes using it read it again when the old one is refused\n", file)
			}
		}
		// The hooks init claude wrote read the agent's token from the data
		// directory: it follows the rotation, or every hook would fail.
		if data, err := c.DataDir(); err == nil {
			file := claudecode.AgentTokenFile(data, pos[0])
			if _, err := os.Stat(file); err == nil {
				if err := config.WriteSecret(file, out.Token); err != nil {
					return fmt.Errorf("agent %s's token was rotated, but writing it to %s, which its hooks read, failed: %w (new token: %s)", pos[0], file, err, out.Token)
				}
				fmt.Fprintf(os.Stderr, "wrote the new token to %s, which the agent's hooks read\n", file)
			}
		}
		fmt.Fprintf(os.Stderr, "agent %s has a new token (shown once); the old one no longer works:\n", pos[0])
		fmt.Println(out.Token)
		return nil
	}
	return usagef("agent: unknown subcommand %q (want add, list, capabilities, remove or rotate)", args[0])
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	out := []string{}
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
