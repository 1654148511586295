package claudecode

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/shell"

	"github.com/lighthouse-ai/lighthouse/infra/cli"
)

const (
	testPreCmd  = "lighthouse hook pre"
	testPostCmd = "lighthouse hook post"
)

// settingsFile returns DIR/.claude/settings.local.json, written with content
// unless content is empty.
func settingsFile(t *testing.T, dir, content string, mode os.FileMode) string {
	t.Helper()
	path := claudeSettingsFile(dir)
	if content != "" {
		mustWrite(t, path, content, mode)
	}
	return path
}

// topKeys lists a JSON object's keys in file order.
func topKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	o, err := parseJSONObject(raw)
	if err != nil {
		t.Fatalf("settings are not a JSON object: %v\n%s", err, raw)
	}
	return o.keys
}

// settingsHooks lists "matcher => command" for an event, in order.
func settingsHooks(t *testing.T, raw []byte, event string) []string {
	t.Helper()
	var s claudeSettings
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("settings: %v\n%s", err, raw)
	}
	var out []string
	for _, g := range s.Hooks[event] {
		for _, h := range g.Hooks {
			out = append(out, g.Matcher+" => "+h.Command)
		}
	}
	return out
}

func TestInitClaude(t *testing.T) {
	t.Parallel()
	const existing = `{
  "model": "opus",
  "permissions": {"allow": ["Bash(go test:*)"], "deny": ["Read(./.env)"]},
  "hooks": {
    "PreToolUse": [
      {"matcher": "Bash", "hooks": [{"type": "command", "command": "./scripts/check-bash.sh && echo ok > /dev/null", "timeout": 30}]}
    ],
    "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]
  },
  "env": {"FOO": "bar <&>"},
  "zzz": [1, 2.50, {"nested": null}]
}
`
	cases := []struct {
		name     string
		existing string // "" : no file
		mode     os.FileMode
		pre      string
		post     string

		wantKeys []string // top-level keys in order
		wantPre  []string
		wantPost []string
		wantHas  []string // substrings of the written file
	}{
		{name: "empty dir", pre: testPreCmd, post: testPostCmd,
			wantKeys: []string{"hooks"},
			wantPre:  []string{claudePreMatcher + " => lighthouse hook pre"},
			wantPost: []string{claudePostMatcher + " => lighthouse hook post"}},
		{name: "empty file", existing: "\n", mode: 0o644, pre: testPreCmd, post: testPostCmd,
			wantKeys: []string{"hooks"},
			wantPre:  []string{claudePreMatcher + " => lighthouse hook pre"},
			wantPost: []string{claudePostMatcher + " => lighthouse hook post"}},
		{name: "existing settings are kept", existing: existing, mode: 0o600, pre: testPreCmd, post: testPostCmd,
			wantKeys: []string{"model", "permissions", "hooks", "env", "zzz"},
			wantPre:  []string{"Bash => ./scripts/check-bash.sh && echo ok > /dev/null", claudePreMatcher + " => lighthouse hook pre"},
			wantPost: []string{claudePostMatcher + " => lighthouse hook post"},
			wantHas:  []string{`"notify-send done"`, `"bar <&>"`, `2.50`, `"Read(./.env)"`, `"timeout": 30`}},
		{name: "other spelling of the hook is updated in place", mode: 0o644,
			existing: `{"hooks":{"PreToolUse":[{"matcher":"Bash","hooks":[{"type":"command","command":"lighthouse hook pre --wait 50","timeout":60}]}],` +
				`"PostToolUse":[{"matcher":"Write","hooks":[{"type":"command","command":"LIGHTHOUSE_URL=http://x /opt/bin/lighthouse hook post"}]}]}}`,
			pre: "/usr/local/bin/lighthouse hook pre", post: "/usr/local/bin/lighthouse hook post",
			wantKeys: []string{"hooks"},
			// An older, narrower matcher and a timeout shorter than the
			// hook's wait (which would fail open) are brought up to date.
			wantPre:  []string{claudePreMatcher + " => /usr/local/bin/lighthouse hook pre"},
			wantPost: []string{claudePostMatcher + " => /usr/local/bin/lighthouse hook post"},
			wantHas:  []string{`"timeout": 120`}},
		{name: "pre only", pre: testPreCmd,
			wantKeys: []string{"hooks"},
			wantPre:  []string{claudePreMatcher + " => lighthouse hook pre"}},
		{name: "null hooks", existing: `{"hooks": null, "a": 1}`, mode: 0o644, pre: testPreCmd, post: testPostCmd,
			wantKeys: []string{"hooks", "a"},
			wantPre:  []string{claudePreMatcher + " => lighthouse hook pre"},
			wantPost: []string{claudePostMatcher + " => lighthouse hook post"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := settingsFile(t, dir, c.existing, c.mode)
			got, changed, err := initClaude(dir, c.pre, c.post)
			if err != nil {
				t.Fatal(err)
			}
			if got != path || !changed {
				t.Fatalf("initClaude = %q, %v; want %q, true", got, changed, path)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if k := topKeys(t, raw); !reflect.DeepEqual(k, c.wantKeys) {
				t.Errorf("keys %v, want %v", k, c.wantKeys)
			}
			if p := settingsHooks(t, raw, "PreToolUse"); !reflect.DeepEqual(p, c.wantPre) {
				t.Errorf("PreToolUse %q, want %q", p, c.wantPre)
			}
			if p := settingsHooks(t, raw, "PostToolUse"); !reflect.DeepEqual(p, c.wantPost) {
				t.Errorf("PostToolUse %q, want %q", p, c.wantPost)
			}
			for _, s := range c.wantHas {
				if !strings.Contains(string(raw), s) {
					t.Errorf("settings lack %s:\n%s", s, raw)
				}
			}
			if c.existing != "" {
				// Everything that was there is still there.
				var before, after map[string]any
				json.Unmarshal([]byte(c.existing), &before)
				json.Unmarshal(raw, &after)
				for k, v := range before {
					if k != "hooks" && !reflect.DeepEqual(after[k], v) {
						t.Errorf("key %s changed: %v -> %v", k, v, after[k])
					}
				}
				if hb, ok := before["hooks"].(map[string]any); ok {
					ha := after["hooks"].(map[string]any)
					for ev, v := range hb {
						if ev != "PreToolUse" && ev != "PostToolUse" && !reflect.DeepEqual(ha[ev], v) {
							t.Errorf("hooks.%s changed: %v -> %v", ev, v, ha[ev])
						}
					}
				}
			}
			if c.mode != 0 {
				if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != c.mode {
					t.Errorf("mode %v, want %v (%v)", fi.Mode().Perm(), c.mode, err)
				}
			}

			// A second run changes nothing.
			_, changed, err = initClaude(dir, c.pre, c.post)
			if err != nil || changed {
				t.Fatalf("second run: changed %v, err %v", changed, err)
			}
			again, _ := os.ReadFile(path)
			if !bytes.Equal(again, raw) {
				t.Errorf("second run rewrote the file:\n%s\n---\n%s", raw, again)
			}
			assertNoTempFiles(t, filepath.Dir(path))
		})
	}
}

// TestInitClaudeMatchesExample: from scratch, the file says what
// settings.example.json says.
func TestInitClaudeMatchesExample(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path, _, err := initClaude(dir, testPreCmd, testPostCmd)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	var got, want any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(claudePayload(t, "settings.example.json"), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("settings\n%s\ndiffer from settings.example.json", raw)
	}
}

func TestInitClaudeRefusesBrokenSettings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, content, wantErr string }{
		{"broken JSON", `{"model": "opus",`, "settings.local.json"},
		{"trailing garbage", `{"model": "opus"} {}`, "settings.local.json"},
		{"not an object", `["hooks"]`, "settings.local.json"},
		{"hooks not an object", `{"hooks": []}`, `"hooks"`},
		{"event not an array", `{"hooks": {"PreToolUse": {"matcher": "Bash"}}}`, "hooks.PreToolUse"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := settingsFile(t, dir, c.content, 0o640)
			_, changed, err := initClaude(dir, testPreCmd, testPostCmd)
			if err == nil || changed {
				t.Fatalf("changed %v, err %v; want an error", changed, err)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error %q does not name %s / %s", err, path, c.wantErr)
			}
			raw, _ := os.ReadFile(path)
			if string(raw) != c.content {
				t.Errorf("file changed to %q", raw)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
				t.Errorf("mode changed to %v", fi.Mode().Perm())
			}
			assertNoTempFiles(t, filepath.Dir(path))
		})
	}
}

// TestInitClaudeSymlink: a symlinked settings file (dotfiles) stays a
// symlink and its target gets the hooks.
func TestInitClaudeSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "shared-settings.json")
	mustWrite(t, target, `{"model":"opus"}`, 0o644)
	if err := os.MkdirAll(filepath.Join(dir, ".claude"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := claudeSettingsFile(dir)
	mustSymlink(t, target, link)
	if _, _, err := initClaude(dir, testPreCmd, testPostCmd); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("settings.json is no longer a symlink (%v)", err)
	}
	raw, _ := os.ReadFile(target)
	if k := topKeys(t, raw); !reflect.DeepEqual(k, []string{"model", "hooks"}) {
		t.Errorf("target keys %v", k)
	}
}

func TestHookCommands(t *testing.T) {
	t.Parallel()
	bin := "/opt/my  tools/it's/lighthouse"
	pre, post := hookCommands(bin, "/state/p 1", "/state/p 1/agents/claude.token", "/work/my shop")
	for _, c := range []struct {
		cmd  string
		want []string
	}{
		{pre, []string{bin, "hook", "pre", "--data", "/state/p 1", "--token-file", "/state/p 1/agents/claude.token"}},
		{post, []string{bin, "hook", "post", "--data", "/state/p 1", "--token-file", "/state/p 1/agents/claude.token", "--root", "/work/my shop"}},
	} {
		// What sh -c runs: the words after quote removal, spaces intact.
		f, err := shell.Fields(strings.TrimSuffix(c.cmd, " || exit 2"), nil)
		if err != nil || !reflect.DeepEqual(f, c.want) {
			t.Errorf("%s\n  words %q (%v)\n  want  %q", c.cmd, f, err, c.want)
		}
	}
	if !strings.HasSuffix(pre, " || exit 2") || strings.Contains(post, "exit 2") {
		t.Errorf("only the pre hook fails closed: %q / %q", pre, post)
	}
	if strings.Contains(post, " pre") {
		t.Errorf("post command carries pre flags: %q", post)
	}
	for cmd, want := range map[string]bool{
		"lighthouse hook pre":                   true,
		"/usr/bin/lighthouse hook pre --wait 5": true,
		"A=1 B=2 lighthouse hook pre":           true,
		pre:                                     true,
		"'/a  b/lighthouse' hook pre || exit 2": true,
		"lighthouse hook post":                  false,
		"lighthouse-other hook pre":             false,
		"echo lighthouse hook pre":              false,
		"'unterminated":                         false,
	} {
		if got := isLighthouseHookCommand(cmd, "pre"); got != want {
			t.Errorf("isLighthouseHookCommand(%q) = %v", cmd, got)
		}
	}
}

func TestRunInitArgs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var ue cli.UsageError
	for _, args := range [][]string{
		{"cursor", "--dir", dir}, {"--dir", dir},
		{"claude", "--dir", filepath.Join(dir, "missing")},
		{"claude", "--dir", dir, "--role", "admin"},
		{"claude", "--dir", dir, "--agent", "bad name"},
	} {
		if err := RunInit(t.Context(), args); !asUsage(err, &ue) {
			t.Errorf("RunInit %v = %v, want a usage error", args, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".claude")); err == nil {
		t.Errorf("a refused init wrote settings")
	}
}

func asUsage(err error, ue *cli.UsageError) bool {
	if err == nil {
		return false
	}
	u, ok := err.(cli.UsageError)
	*ue = u
	return ok
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
