package policy

import (
	"strings"
	"testing"
)

func TestProtectedPathsAndProjectRoot(t *testing.T) {
	t.Parallel()
	const root, data, mnt = "/work/app", "/home/dev/.local/state/lighthouse/projects/app-1", "/work/app/.lighthouse/mnt"
	tests := []struct {
		name       string
		tool       string
		input      map[string]any
		cwd        string
		want       Decision
		rule       string
		reasonHas  string
		protected  []string
		wantNoRule string
		home       string
	}{
		{name: "read the admin token", tool: "Read", input: map[string]any{"file_path": data + "/admin.token"}, want: Block, rule: ruleProtected},
		{name: "cat the admin token", tool: "Bash", input: map[string]any{"command": "cat " + data + "/admin.token"}, want: Block, rule: ruleProtected},
		{name: "cat through ~", tool: "Bash", input: map[string]any{"command": "cat ~/.local/state/lighthouse/projects/app-1/agents/claude.token"}, want: Block, rule: ruleProtected},
		{name: "cd then cat", tool: "Bash", input: map[string]any{"command": "cd " + data + " && cat admin.token"}, want: Block, rule: ruleProtected},
		{name: "copy the store away", tool: "Bash", input: map[string]any{"command": "cp -r " + data + " /tmp/x"}, want: Block, rule: ruleProtected},
		{name: "write into the data dir", tool: "Write", input: map[string]any{"file_path": data + "/policy.yaml", "content": "x"}, want: Block},
		{name: "rm -rf ~ keeps its own reason", tool: "Bash", input: map[string]any{"command": "rm -rf ~"}, want: Block, rule: "rm-recursive-outside-project"},
		{name: "grep the mount inside the project", tool: "Grep", input: map[string]any{"pattern": "TODO", "path": mnt}, want: Block, rule: ruleProtected},
		{name: "run a program from the data dir", tool: "Bash", input: map[string]any{"command": data + "/bin/tool --x"}, want: Block, rule: ruleProtected},
		{name: "a glob into the state directory", tool: "Bash", input: map[string]any{"command": "cat ~/.local/state/lighthouse/projects/*/admin.token"}, want: Block, rule: ruleProtected},
		{name: "a glob with ** ", tool: "Bash", input: map[string]any{"command": "cat /home/dev/.local/**/admin.token"}, want: Block, rule: ruleProtected},
		{name: "grep -r above the state directory", tool: "Bash", input: map[string]any{"command": "grep -r lh_ ~/.local"}, want: Block, rule: ruleProtected},
		{name: "find from /", tool: "Bash", input: map[string]any{"command": "find / -name '*.token'"}, want: Block, rule: ruleProtected},
		{name: "Grep tool above the state directory", tool: "Grep", input: map[string]any{"pattern": "lh_", "path": "/home/dev"}, want: Block, rule: ruleProtected},
		{name: "a glob elsewhere in the home", tool: "Bash", input: map[string]any{"command": "cat ~/.local/share/*/x.txt"}, wantNoRule: ruleProtected},
		{name: "a sibling in the home", tool: "Read", input: map[string]any{"file_path": "/home/dev/notes.txt"}, wantNoRule: ruleProtected},
		{name: "the project root above an in-project mount stays usable", tool: "Bash", input: map[string]any{"command": "grep -r TODO ."}, want: Allow},
		// Moving or removing a directory above an in-project protected path
		// takes it along (a walkthrough replaced the policy file with
		// mv conf conf2; sed -i conf2/...; mv conf2 conf).
		{name: "mv of a directory above an in-project mount", tool: "Bash", input: map[string]any{"command": "mv .lighthouse .old"}, want: Block, rule: ruleProtected},
		{name: "rm -rf of a directory above an in-project mount", tool: "Bash", input: map[string]any{"command": "rm -rf .lighthouse"}, want: Block, rule: ruleProtected},
		{name: "ls of a directory above an in-project mount", tool: "Bash", input: map[string]any{"command": "ls .lighthouse"}, wantNoRule: ruleProtected},
		{name: "rm -rf ~ with a home in /tmp", tool: "Bash", input: map[string]any{"command": "rm -rf ~"}, home: "/tmp/agent-home", want: Block, rule: "rm-home"},
		{name: "rm -rf the home by path in /tmp", tool: "Bash", input: map[string]any{"command": "rm -rf /tmp/agent-home/"}, home: "/tmp/agent-home", want: Block, rule: "rm-home"},
		{name: "rm -rf elsewhere in /tmp", tool: "Bash", input: map[string]any{"command": "rm -rf /tmp/build-cache"}, home: "/tmp/agent-home", want: Allow},
		{name: "a look-alike sibling is not protected", tool: "Read", input: map[string]any{"file_path": root + "/.lighthouse/mntx/readme"}, want: Allow},
		{name: "no protected paths configured", tool: "Read", input: map[string]any{"file_path": data + "/x"}, protected: []string{}, wantNoRule: ruleProtected},
		{name: "write outside names the root", tool: "Write", input: map[string]any{"file_path": "/srv/other/x.go", "content": "x"}, want: Block, rule: "write-outside-project", reasonHas: "/srv/other/x.go is outside the project root /work/app"},
		{name: "worktree edit is a project edit", tool: "Edit", input: map[string]any{"file_path": root + "/.claude/worktrees/feat/x.go", "old_string": "a", "new_string": "b"}, cwd: root + "/.claude/worktrees/feat", want: Allow, rule: "edit-inside-project"},
		{name: "worktree agent settings escalate", tool: "Write", input: map[string]any{"file_path": root + "/.claude/worktrees/feat/.claude/settings.json", "content": "{}"}, want: Escalate, rule: "agent-config-write-worktree"},
		{name: "project agent settings escalate", tool: "Write", input: map[string]any{"file_path": root + "/.claude/settings.local.json", "content": "{}"}, want: Escalate, rule: "agent-config-write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cwd := tt.cwd
			if cwd == "" {
				cwd = root
			}
			prot := []string{data, mnt}
			if tt.protected != nil {
				prot = tt.protected
			}
			home := tt.home
			if home == "" {
				home = "/home/dev"
			}
			v, matches := defaultPolicy.Explain(Call{Tool: tt.tool, Input: tt.input, Cwd: cwd, ProjectRoot: root, Role: "builder", Home: home, Protected: prot})
			if tt.wantNoRule != "" {
				for _, m := range matches {
					if m.Rule == tt.wantNoRule {
						t.Fatalf("rule %s matched: %+v", tt.wantNoRule, v)
					}
				}
				return
			}
			if v.Decision != tt.want || (tt.rule != "" && v.Rule != tt.rule) {
				t.Fatalf("got %s by %s (%s), want %s by %s", v.Decision, v.Rule, v.Reason, tt.want, tt.rule)
			}
			if !strings.Contains(v.Reason, tt.reasonHas) {
				t.Fatalf("reason %q lacks %q", v.Reason, tt.reasonHas)
			}
		})
	}
}
