package claudecode

// `lighthouse doctor [--dir DIR]`: check that Claude Code's hooks in DIR are
// wired to a Lighthouse that guards DIR, as an agent's hook would find them.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/cli"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/config"
)

// doctorTools are tools the PreToolUse matcher must cover.
var doctorTools = []string{"Bash", "Write", "Edit", "MultiEdit", "NotebookEdit", "Read", "Glob", "Grep", "WebFetch", "WebSearch", "mcp__github__create_issue"}

// RunDoctor prints one line per check and fails when one does.
func RunDoctor(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	dir := fs.String("dir", ".", "the project directory whose Claude Code hooks to check")
	if _, err := cli.Parse(fs, args, 0, 0); err != nil {
		return err
	}
	project, err := config.ProjectDir(*dir)
	if err != nil {
		return cli.Usagef("doctor: --dir: %v", err)
	}
	d := &doctor{out: os.Stdout, project: project}
	d.run(ctx)
	if d.failed > 0 {
		return fmt.Errorf("%d check(s) failed", d.failed)
	}
	return nil
}

type doctor struct {
	out     io.Writer
	project string
	failed  int
}

func (d *doctor) ok(check, format string, args ...any) {
	fmt.Fprintf(d.out, "ok    %-9s %s\n", check, fmt.Sprintf(format, args...))
}

func (d *doctor) fail(check, format string, args ...any) {
	d.failed++
	fmt.Fprintf(d.out, "FAIL  %-9s %s\n", check, fmt.Sprintf(format, args...))
}

// settingsHook is one hook command found in a settings file.
type settingsHook struct {
	file, matcher, command string
	timeout                int
}

// findHooks returns the Lighthouse hooks of kind ("pre" or "post")
// registered for event in the project's settings files.
func findHooks(project, event, kind string) ([]settingsHook, error) {
	var out []settingsHook
	for _, name := range []string{"settings.json", "settings.local.json"} {
		file := filepath.Join(project, ".claude", name)
		raw, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var s claudeSettings
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for _, g := range s.Hooks[event] {
			for _, h := range g.Hooks {
				if h.Type == "command" && isLighthouseHookCommand(h.Command, kind) {
					out = append(out, settingsHook{file: file, matcher: g.Matcher, command: h.Command, timeout: h.Timeout})
				}
			}
		}
	}
	return out, nil
}

func (d *doctor) run(ctx context.Context) {
	pres, err := findHooks(d.project, "PreToolUse", "pre")
	if err != nil {
		d.fail("settings", "%v", err)
		return
	}
	if len(pres) == 0 {
		d.fail("hooks", "no `lighthouse hook pre` PreToolUse hook in %s: run `lighthouse init claude --dir %s`", claudeSettingsFile(d.project), d.project)
		return
	}
	pre := pres[0]
	words := commandWords(pre.command)
	bin := words[0]
	switch fi, err := os.Stat(bin); {
	case !filepath.IsAbs(bin):
		d.fail("hooks", "the pre hook runs %q, not an absolute path: Claude Code's PATH may not find it, and a missing command lets every call through", bin)
	case err != nil:
		d.fail("hooks", "the pre hook's binary %s: %v", bin, err)
	case fi.Mode()&0o111 == 0:
		d.fail("hooks", "the pre hook's binary %s is not executable", bin)
	default:
		d.ok("hooks", "PreToolUse runs %s (%s)", bin, pre.file)
	}
	if !strings.HasSuffix(strings.TrimSpace(pre.command), "|| exit 2") {
		d.fail("hooks", "the pre hook command does not end in `|| exit 2`, so a failure to start it would let the call through")
	}
	if re, err := regexp.Compile("^(" + pre.matcher + ")$"); err != nil || pre.matcher == "" {
		if pre.matcher != "" && pre.matcher != "*" {
			d.fail("matcher", "PreToolUse matcher %q is not a valid pattern: %v", pre.matcher, err)
		} else {
			d.ok("matcher", "PreToolUse runs for every tool")
		}
	} else {
		var missing []string
		for _, t := range doctorTools {
			if !re.MatchString(t) {
				missing = append(missing, t)
			}
		}
		if len(missing) > 0 {
			d.fail("matcher", "PreToolUse matcher %q misses %s", pre.matcher, strings.Join(missing, ", "))
		} else {
			d.ok("matcher", "PreToolUse covers %s", strings.Join(doctorTools[:len(doctorTools)-1], ", ")+" and MCP tools")
		}
	}
	if pre.timeout != 0 && pre.timeout < 110 {
		d.fail("timeout", "PreToolUse timeout %ds is under the hook's wait for reviews (100 s): Claude Code would kill the hook and run the call", pre.timeout)
	}
	if posts, err := findHooks(d.project, "PostToolUse", "post"); err != nil || len(posts) == 0 {
		d.fail("hooks", "no `lighthouse hook post` PostToolUse hook: edits are not recorded")
	}

	// The cli.Connection exactly as the hook will make it.
	fs := flag.NewFlagSet("hook pre", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	conn, _ := hookFlags(fs, hookDefaultTimeout)
	fs.String("wait", "", "")
	fs.String("undecided", "", "")
	fs.Bool("emit-allow", false, "")
	if err := fs.Parse(words[3:]); err != nil {
		d.fail("hooks", "the pre hook's flags: %v", err)
		return
	}
	conn.NoAdmin = true
	w, err := conn.Writer()
	switch {
	case errors.Is(err, os.ErrNotExist):
		// The token file the hooks name is gone (the state directory
		// deleted, or the agent's file removed): init claude makes it.
		d.fail("token", "%v: run `lighthouse init claude --dir %s` again", err, d.project)
		return
	case err != nil:
		d.fail("token", "%v", err)
		return
	}
	var me domain.Agent
	if _, err := w.Do(ctx, http.MethodGet, "/v1/whoami", nil, nil, &me); err != nil {
		var ce *client.Error
		if errors.As(err, &ce) && ce.Status == http.StatusUnauthorized {
			d.fail("token", "the writer refuses the hook's token (removed or rotated?): run `lighthouse init claude --dir %s` again", d.project)
		} else {
			d.fail("writer", "cannot reach the writer at %s: %v (is `lighthouse up --project %s` running?)", w.BaseURL, err, d.project)
		}
		return
	}
	if me.Role == domain.RoleAdmin {
		d.fail("token", "the hooks act as %s, an admin: an agent could approve its own escalations", me.Name)
	} else {
		d.ok("token", "the hooks act as agent %s (%s)", me.Name, me.Role)
	}
	var pol struct {
		ProjectRoot string   `json:"project_root"`
		Protected   []string `json:"protected"`
	}
	if _, err := w.Do(ctx, http.MethodGet, "/v1/policy", nil, nil, &pol); err != nil {
		d.fail("writer", "GET /v1/policy: %v", err)
		return
	}
	if pol.ProjectRoot != d.project {
		d.fail("writer", "the writer at %s guards %s, not %s", w.BaseURL, pol.ProjectRoot, d.project)
	} else {
		d.ok("writer", "%s guards %s", w.BaseURL, pol.ProjectRoot)
	}
	data, err := conn.DataDir()
	if err != nil {
		d.fail("data", "%v", err)
		return
	}
	data, _ = filepath.Abs(data)
	for _, p := range []struct{ what, path string }{{"data", data}, {"mount", filepath.Join(data, "mnt")}} {
		if !config.Within(p.path, d.project) {
			d.ok(p.what, "%s is outside the project", p.path)
			continue
		}
		protected := false
		for _, q := range pol.Protected {
			protected = protected || config.Within(p.path, q)
		}
		if protected {
			d.ok(p.what, "%s is inside the project but the gate protects it", p.path)
		} else {
			d.fail(p.what, "%s is inside the project and not protected by the gate", p.path)
		}
	}
}
