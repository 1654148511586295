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
	"github.com/lighthouse-ai/lighthouse/infra/httpapi"
	"github.com/lighthouse-ai/lighthouse/infra/policyfile"
)

// runPolicy works on policy files locally, with the same parser and engine
// the writer uses: check a file, run its test cases, explain a decision.
// Without --policy each works on the file the project's running writer
// enforces (the built-in policy when it runs none, or when no writer
// answers), and says which.
func runPolicy(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("policy: want `policy check`, `policy test FILE` or `policy explain`")
	}
	fs := flag.NewFlagSet("policy "+args[0], flag.ContinueOnError)
	file := fs.String("policy", config.Env("LIGHTHOUSE_POLICY", ""), "project policy file on top of the built-in policy (env LIGHTHOUSE_POLICY; default: the one the running writer enforces)")
	var conn connection
	conn.Register(fs)
	switch args[0] {
	case "check":
		if _, err := parse(fs, args[1:], 0, 0); err != nil {
			return err
		}
		src := policySourceOf(ctx, &conn, *file)
		p, err := src.parse()
		if err != nil {
			return err
		}
		fmt.Printf("policy ok: %s, revision %s, %d rules, default %s\n", src, p.Revision(), len(p.RuleIDs()), p.DefaultDecision())
		return nil
	case "test":
		pos, err := parse(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		return policyTest(policySourceOf(ctx, &conn, *file), pos[0])
	case "explain":
		return policyExplain(ctx, fs, &conn, *file, args[1:])
	}
	return usagef("policy: unknown subcommand %q", args[0])
}

// policySource is the policy file a policy command works on, and where
// that choice came from.
type policySource struct {
	file string // "" for the built-in policy alone
	from string // "--policy", "the writer at URL", or why neither
	// writer is what the writer at url answered, when it was asked and did.
	writer *httpapi.PolicyStatus
	url    string
}

// policySourceOf is --policy when given, else the file the project's
// running writer enforces.
func policySourceOf(ctx context.Context, conn *connection, flagFile string) policySource {
	if flagFile != "" {
		return policySource{file: flagFile, from: "--policy"}
	}
	st, url, err := writerPolicy(ctx, conn)
	if err != nil {
		return policySource{from: "no --policy, and no writer answered: " + err.Error()}
	}
	src := policySource{from: "the writer at " + url, writer: st, url: url}
	if st.Source != policyfile.BuiltinSource {
		src.file = st.Source
	}
	return src
}

// writerPolicy asks the project's running writer for its policy and root.
func writerPolicy(ctx context.Context, conn *connection) (*httpapi.PolicyStatus, string, error) {
	w, err := conn.Writer()
	if err != nil {
		return nil, "", err
	}
	var st httpapi.PolicyStatus
	if _, err := w.Do(ctx, http.MethodGet, "/v1/policy", nil, nil, &st); err != nil {
		return nil, "", err
	}
	return &st, w.BaseURL, nil
}

func (s policySource) String() string {
	name := s.file
	if name == "" {
		name = policyfile.BuiltinSource
	}
	return name + " (from " + s.from + ")"
}

// parse reads the policy; a file the writer refused says what it runs.
func (s policySource) parse() (*policy.Policy, error) {
	p, err := policyfile.Parse(s.file)
	if err != nil && s.writer != nil {
		return nil, fmt.Errorf("%w\n(the writer refused this change too and still runs revision %s, loaded before it: fix the file, or see `lighthouse status`)", err, s.writer.Revision)
	}
	return p, err
}

func policyTest(src policySource, casesPath string) error {
	p, err := src.parse()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "policy %s, revision %s\n", src, p.Revision())
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

func policyExplain(ctx context.Context, fs *flag.FlagSet, conn *connection, flagFile string, args []string) error {
	bash := fs.String("bash", "", "explain a Bash command")
	tool := fs.String("tool", "", "the tool name, with --input")
	input := fs.String("input", "", "the tool_input as JSON, with --tool")
	role := fs.String("role", "builder", "the agent's role")
	cwd := fs.String("cwd", "", "the agent's working directory (default: the current one)")
	root := fs.String("root", "", "the project root (default: the one the running writer guards)")
	home := fs.String("home", os.Getenv("HOME"), "the agent's home directory")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	call := policy.Call{Role: *role, Cwd: *cwd, ProjectRoot: *root, Home: *home}
	// Explain what the writer would decide: its root, its protected paths
	// and the policy in force, unless they are given.
	src := policySourceOf(ctx, conn, flagFile)
	rootFrom := "--root"
	if call.ProjectRoot == "" {
		st, url, err := src.writer, src.url, error(nil)
		if st == nil { // --policy given: the writer is asked for its root alone
			st, url, err = writerPolicy(ctx, conn)
		}
		if err != nil {
			return fmt.Errorf("policy explain: no --root given and the writer cannot tell its project root: %w", err)
		}
		call.ProjectRoot, call.Protected, rootFrom = st.ProjectRoot, st.Protected, "the writer at "+url
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
	p, err := src.parse()
	if err != nil {
		return err
	}
	v, matches := p.Explain(call)
	shape, shaped := policy.Shape(call)
	decision, rule, reason := string(v.Decision), v.Rule, v.Reason
	if v.Decision == policy.Escalate && shaped {
		// The gate decides an escalation by a decision learned from a
		// review of the same shape, when there is one.
		if w, err := conn.Writer(); err == nil {
			if learned, err := listLearned(ctx, w); err == nil {
				for _, l := range learned {
					if l.Shape == shape {
						decision = fmt.Sprintf("%s (learned; the rules alone: escalate)", l.Decision)
						rule, reason = "learned:"+l.LearnedID, fmt.Sprintf("learned from review %s: %s", l.ReviewID, l.Reason)
					}
				}
			}
		}
	}
	fmt.Printf("decision: %s\nrule:     %s\nreason:   %s\npolicy:   %s, revision %s\nroot:     %s (from %s)\n",
		decision, rule, reason, src, p.Revision(), call.ProjectRoot, rootFrom)
	if src.writer != nil && src.from != "--policy" && src.writer.Revision != p.Revision() {
		fmt.Fprintf(os.Stderr, "warning: the writer runs revision %s; %s reads as %s now (changed since it was loaded, or failing to load: see `lighthouse status`)\n", src.writer.Revision, src, p.Revision())
	}
	if v.Decision == policy.Escalate {
		fmt.Printf("approvals required: %d\n", v.Approvals)
	}
	if shaped {
		fmt.Printf("shape:    %s\n", shape)
	}
	fmt.Println("matched rules:")
	for _, m := range matches {
		fmt.Printf("  %-8s %-32s %s — %s\n", m.Decision, m.Rule, m.Subject, m.Reason)
	}
	return nil
}
