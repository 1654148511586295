package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/lighthouse-ai/lighthouse/domain/policy"
	"github.com/lighthouse-ai/lighthouse/infra/config"
	"github.com/lighthouse-ai/lighthouse/infra/policyfile"
)

// runPolicy works on policy files locally, with the same parser and engine
// the writer uses: check a file, run its test cases, explain a decision.
func runPolicy(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("policy: want `policy check`, `policy test FILE` or `policy explain`")
	}
	fs := flag.NewFlagSet("policy "+args[0], flag.ContinueOnError)
	file := fs.String("policy", config.Env("LIGHTHOUSE_POLICY", ""), "project policy file on top of the built-in policy (env LIGHTHOUSE_POLICY)")
	switch args[0] {
	case "check":
		if _, err := parse(fs, args[1:], 0, 0); err != nil {
			return err
		}
		p, err := policyfile.Parse(*file)
		if err != nil {
			return err
		}
		fmt.Printf("policy ok: revision %s, %d rules, default %s\n", p.Revision(), len(p.RuleIDs()), p.DefaultDecision())
		return nil
	case "test":
		pos, err := parse(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		return policyTest(*file, pos[0])
	case "explain":
		return policyExplain(ctx, fs, file, args[1:])
	}
	return usagef("policy: unknown subcommand %q", args[0])
}

func policyTest(policyPath, casesPath string) error {
	p, err := policyfile.Parse(policyPath)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(casesPath)
	if err != nil {
		return err
	}
	results, err := policy.RunTests(p, data)
	if err != nil {
		var pe *policy.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("%s:%d: %s", casesPath, pe.Line, pe.Msg)
		}
		return err
	}
	failed := 0
	for _, r := range results {
		status := "ok  "
		if !r.Pass {
			status = "FAIL"
			failed++
		}
		fmt.Printf("%s %s:%d %s: got %s (rule %s), want %s", status, casesPath, r.Line, r.Name, r.Got.Decision, r.Got.Rule, r.Want)
		if r.WantRule != "" {
			fmt.Printf(" (rule %s)", r.WantRule)
		}
		fmt.Println()
	}
	fmt.Printf("%d passed, %d failed\n", len(results)-failed, failed)
	if failed > 0 {
		return fmt.Errorf("%d policy test case(s) failed", failed)
	}
	return nil
}

func policyExplain(ctx context.Context, fs *flag.FlagSet, file *string, args []string) error {
	bash := fs.String("bash", "", "explain a Bash command")
	tool := fs.String("tool", "", "the tool name, with --input")
	input := fs.String("input", "", "the tool_input as JSON, with --tool")
	role := fs.String("role", "builder", "the agent's role")
	cwd := fs.String("cwd", "", "the agent's working directory (default: the current one)")
	root := fs.String("root", "", "the project root (default: the one the running writer guards)")
	home := fs.String("home", os.Getenv("HOME"), "the agent's home directory")
	var conn connection
	conn.Register(fs)
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	call := policy.Call{Role: *role, Cwd: *cwd, ProjectRoot: *root, Home: *home}
	rootFrom, policyFrom := "--root", "--policy"
	// Explain what the writer would decide: its root, its protected paths
	// and the policy in force, unless they are given.
	var st struct {
		Revision    string   `json:"revision"`
		Source      string   `json:"source"`
		ProjectRoot string   `json:"project_root"`
		Protected   []string `json:"protected"`
	}
	if call.ProjectRoot == "" || *file == "" {
		w, err := conn.Writer()
		if err == nil {
			_, err = w.Do(ctx, http.MethodGet, "/v1/policy", nil, nil, &st)
		}
		switch {
		case err != nil && call.ProjectRoot == "":
			return fmt.Errorf("policy explain: no --root given and the writer cannot tell its project root: %w", err)
		case err != nil:
			policyFrom = "no --policy, and no writer answered"
		default:
			if call.ProjectRoot == "" {
				call.ProjectRoot, call.Protected, rootFrom = st.ProjectRoot, st.Protected, "the writer at "+w.BaseURL
			}
			if *file == "" {
				policyFrom = "the writer at " + w.BaseURL
				if st.Source != policyfile.BuiltinSource {
					*file = st.Source
				}
			}
		}
	}
	switch {
	case *bash != "":
		call.Tool, call.Input = "Bash", map[string]any{"command": *bash}
	case *tool != "":
		call.Tool = *tool
		if err := json.Unmarshal([]byte(*input), &call.Input); err != nil {
			return usagef("policy explain: --input must be a JSON object: %v", err)
		}
	default: // a PreToolUse payload on stdin
		var hook struct {
			ToolName  string         `json:"tool_name"`
			ToolInput map[string]any `json:"tool_input"`
			Cwd       string         `json:"cwd"`
		}
		if err := json.NewDecoder(io.LimitReader(os.Stdin, 10<<20)).Decode(&hook); err != nil {
			return usagef("policy explain: give --bash, --tool/--input, or a PreToolUse JSON on stdin (%v)", err)
		}
		call.Tool, call.Input = hook.ToolName, hook.ToolInput
		if call.Cwd == "" {
			call.Cwd = hook.Cwd
		}
	}
	if call.Cwd == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		call.Cwd = wd
	}
	p, err := policyfile.Parse(*file)
	if err != nil {
		if policyFrom != "--policy" && st.Revision != "" {
			return fmt.Errorf("%w\n(the writer refused this change too and still runs revision %s, loaded before it: fix the file, or see `lighthouse status`)", err, st.Revision)
		}
		return err
	}
	v, matches := p.Explain(call)
	source := *file
	if source == "" {
		source = policyfile.BuiltinSource
	}
	fmt.Printf("decision: %s\nrule:     %s\nreason:   %s\npolicy:   %s, revision %s (from %s)\nroot:     %s (from %s)\n",
		v.Decision, v.Rule, v.Reason, source, p.Revision(), policyFrom, call.ProjectRoot, rootFrom)
	if st.Revision != "" && policyFrom != "--policy" && st.Revision != p.Revision() {
		fmt.Fprintf(os.Stderr, "warning: the writer runs revision %s; %s reads as %s now (changed since it was loaded, or failing to load: see `lighthouse status`)\n", st.Revision, source, p.Revision())
	}
	if v.Decision == policy.Escalate {
		fmt.Printf("approvals required: %d\n", v.Approvals)
	}
	if shape, ok := policy.Shape(call); ok {
		fmt.Printf("shape:    %s\n", shape)
	}
	fmt.Println("matched rules:")
	for _, m := range matches {
		fmt.Printf("  %-8s %-32s %s — %s\n", m.Decision, m.Rule, m.Subject, m.Reason)
	}
	return nil
}
