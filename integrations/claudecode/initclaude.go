package claudecode

// `lighthouse init claude`: register Lighthouse's hooks in a project's
// .claude/settings.local.json, merging into what is already there.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/cli"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/config"
)

// The hook entries `init claude` registers (as in
// testdata/claude-code/settings.example.json).
const (
	// claudePreMatcher names every tool that can touch files, run programs
	// or fetch things, and every MCP tool.
	claudePreMatcher  = "Bash|Write|Edit|MultiEdit|NotebookEdit|Read|Glob|Grep|WebFetch|WebSearch|mcp__.*"
	claudePostMatcher = "Write|Edit|MultiEdit|NotebookEdit|Bash|Read"
	// claudePreTimeout is Claude Code's limit for the pre hook, in seconds:
	// above the hook's default --wait (100s) plus its --timeout (5s).
	claudePreTimeout = 120
	// defaultClaudeAgent is the agent `init claude` creates for a project.
	defaultClaudeAgent = "claude"
)

// RunInit is `lighthouse init claude --dir DIR [--agent NAME] [--role ROLE]`.
func RunInit(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	var conn cli.Connection
	conn.Register(fs)
	dir := fs.String("dir", ".", "the project directory (it must exist); the hooks go into DIR/.claude/settings.local.json")
	agent := fs.String("agent", defaultClaudeAgent, "the agent the hooks act as; created if missing, reused if its stored token works")
	role := fs.String("role", string(domain.RoleBuilder), "the role of a new agent: builder, reviewer, expert or observer")
	pre := fs.String("command", "", "the PreToolUse hook command (default: this binary's `hook pre`, failing closed)")
	noPost := fs.Bool("no-post", false, "register only the PreToolUse hook")
	pos, err := cli.Parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if pos[0] != "claude" {
		return cli.Usagef("init: unknown target %q (want: init claude)", pos[0])
	}
	project, err := config.ProjectDir(*dir)
	if err != nil {
		return cli.Usagef("init: --dir: %v", err)
	}
	if _, err := domain.ParseRole("role", *role); err != nil || *role == string(domain.RoleAdmin) {
		return cli.Usagef("init: --role %q: want builder, reviewer, expert or observer (hooks never act as admin)", *role)
	}
	if err := domain.ValidateAgentName("agent", *agent); err != nil {
		return cli.Usagef("init: --agent: %v", err)
	}
	if conn.Data == "" {
		if conn.Data, err = config.DefaultDataDir(project); err != nil {
			return err
		}
	}
	if conn.Data, err = filepath.Abs(conn.Data); err != nil {
		return err
	}
	bin, err := selfPath()
	if err != nil {
		return err
	}
	tokenFile, err := ensureAgentToken(ctx, &conn, project, *agent, domain.Role(*role))
	if err != nil {
		return err
	}
	preCmd, postCmd := hookCommands(bin, conn.Data, tokenFile, project)
	if *pre != "" {
		preCmd = *pre
	}
	if *noPost {
		postCmd = ""
	}
	path, changed, err := initClaude(project, preCmd, postCmd)
	if err != nil {
		return err
	}
	// Never committed by accident: the file is this machine's.
	if err := config.AddToGitignore(filepath.Join(project, ".gitignore"), "this machine's hook commands (binary and data paths)", []string{"/.claude/settings.local.json"}); err != nil {
		return err
	}
	if changed {
		fmt.Printf("added the Lighthouse hooks to %s\n", path)
	} else {
		fmt.Printf("%s already has the Lighthouse hooks\n", path)
	}
	mcpPath, mcpChanged, err := initMCP(project, bin, []string{"mcp", "--data", conn.Data, "--token-file", tokenFile})
	if err != nil {
		return err
	}
	if mcpChanged {
		fmt.Printf("registered the Lighthouse MCP server (`lighthouse mcp`) in %s\n", mcpPath)
	}
	fmt.Printf("the hooks act as agent %s; its token is in %s (mode 0600, outside the project)\n", *agent, tokenFile)
	fmt.Println("set LIGHTHOUSE_TOKEN in an agent's environment to give it an identity of its own")
	return nil
}

// selfPath returns the absolute path of the running binary, symlinks
// resolved, for hook commands that work whatever the agent's PATH.
func selfPath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the lighthouse binary: %w", err)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return filepath.Abs(exe)
}

// hookCommands returns the PreToolUse and PostToolUse commands: this
// binary by absolute path, quoted for sh -c. The pre hook ends in
// "|| exit 2": should the binary be missing (exit 127) or fail in any
// other way, Claude Code still sees a block, never a "go ahead".
func hookCommands(bin, data, tokenFile, project string) (pre, post string) {
	common := " --data " + cli.ShellQuote(data) + " --token-file " + cli.ShellQuote(tokenFile)
	pre = cli.ShellQuote(bin) + " hook pre" + common + " || exit 2"
	post = cli.ShellQuote(bin) + " hook post" + common + " --root " + cli.ShellQuote(project)
	return pre, post
}

// AgentTokenFile is where init claude stores the token of a project's agent
// (DATA/agents/NAME.token), which the hooks it writes read.
func AgentTokenFile(data, agent string) string {
	return filepath.Join(data, "agents", agent+".token")
}

// ensureAgentToken makes sure the agent exists with a token stored in the
// data directory, and returns that file. A stored token the writer still
// accepts is reused; otherwise the agent is created, or its token rotated,
// with the admin's token.
func ensureAgentToken(ctx context.Context, conn *cli.Connection, project, name string, role domain.Role) (string, error) {
	file := AgentTokenFile(conn.Data, name)
	writerURL, _, _ := conn.URLs() // conn.Data is set: no error
	if tok, err := config.Token("", file); err == nil {
		var me domain.Agent
		if _, err := client.New(writerURL, tok).Do(ctx, http.MethodGet, "/v1/whoami", nil, nil, &me); err == nil && me.Name == name {
			return file, checkWriterRoot(ctx, client.New(writerURL, tok), project)
		}
	}
	admin, err := conn.Writer()
	if err != nil {
		return "", fmt.Errorf("init needs the admin's token to create agent %s (is `lighthouse up --project %s` running?): %w", name, project, err)
	}
	if err := checkWriterRoot(ctx, admin, project); err != nil {
		return "", err
	}
	var out struct {
		Token string `json:"token"`
	}
	err = admin.PostJSON(ctx, "/v1/agents", map[string]string{"name": name, "role": string(role)}, &out)
	var ce *client.Error
	if errors.As(err, &ce) && ce.Status == http.StatusConflict {
		// The agent exists but its token is lost: give it a new one.
		err = admin.PostJSON(ctx, "/v1/agents/"+url.PathEscape(name)+"/rotate", struct{}{}, &out)
	}
	if err != nil {
		return "", fmt.Errorf("create agent %s: %w", name, err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", err
	}
	return file, config.WriteSecret(file, out.Token)
}

// checkWriterRoot fails when the writer guards another directory than
// project: hooks wired to it would judge every path wrongly.
func checkWriterRoot(ctx context.Context, w *client.Client, project string) error {
	var st struct {
		ProjectRoot string `json:"project_root"`
	}
	if _, err := w.Do(ctx, http.MethodGet, "/v1/status", nil, nil, &st); err != nil {
		return fmt.Errorf("ask the writer which project it guards: %w", err)
	}
	if st.ProjectRoot != project {
		return fmt.Errorf("the writer at %s guards %s, not %s: start `lighthouse up --project %s`, or pass the right --data", w.BaseURL, st.ProjectRoot, project, project)
	}
	return nil
}

// claudeSettingsFile is where init writes the hooks: the project's local
// Claude Code settings, which are not shared. The hook commands name this
// machine's binary and data directory, which a teammate's clone would not
// have.
func claudeSettingsFile(dir string) string {
	return filepath.Join(dir, ".claude", "settings.local.json")
}

// initClaude merges the hooks into claudeSettingsFile(dir), keeping every
// other key, hook and matcher, and the order of keys. It writes nothing when
// the hooks are already there, and nothing at all when the file is not valid
// JSON. An empty post skips the PostToolUse hook.
func initClaude(dir, pre, post string) (path string, changed bool, err error) {
	path = claudeSettingsFile(dir)
	target := path
	if real, err := filepath.EvalSymlinks(path); err == nil {
		target = real // keep a symlinked settings file a symlink
	}
	mode := fs.FileMode(0o644)
	raw, err := os.ReadFile(target)
	switch {
	case err == nil:
		if fi, err := os.Stat(target); err == nil {
			mode = fi.Mode().Perm()
		}
	case errors.Is(err, fs.ErrNotExist):
		raw = nil
	default:
		return path, false, err
	}

	settings := &jsonObject{}
	if len(bytes.TrimSpace(raw)) > 0 {
		if settings, err = parseJSONObject(raw); err != nil {
			return path, false, fmt.Errorf("%s: not a valid settings file, left untouched: %v", path, err)
		}
	}
	hooks := &jsonObject{}
	if v, ok := settings.get("hooks"); ok && !isJSONNull(v) {
		if hooks, err = parseJSONObject(v); err != nil {
			return path, false, fmt.Errorf("%s: \"hooks\" is not an object, left untouched: %v", path, err)
		}
	}
	type want struct {
		event, matcher, command, kind string
		timeout                       int
	}
	wants := []want{{"PreToolUse", claudePreMatcher, pre, "pre", claudePreTimeout}}
	if post != "" {
		wants = append(wants, want{"PostToolUse", claudePostMatcher, post, "post", 0})
		for _, kind := range []string{"session-start", "session-end", "prompt"} { // SessionStart, SessionEnd (hook_session.go), UserPromptSubmit (hook_messages.go)
			wants = append(wants, want{sessionHookEvents[kind], "", sessionHookCommand(post, kind), kind, 0})
		}
	}
	for _, w := range wants {
		var groups []json.RawMessage
		if v, ok := hooks.get(w.event); ok && !isJSONNull(v) {
			if err := json.Unmarshal(v, &groups); err != nil {
				return path, false, fmt.Errorf("%s: \"hooks.%s\" is not an array, left untouched", path, w.event)
			}
		}
		groups, ch, err := mergeHookGroups(groups, w.matcher, w.command, w.kind, w.timeout)
		if err != nil {
			return path, false, fmt.Errorf("%s: %v", path, err)
		}
		if ch {
			hooks.set(w.event, encodeJSONArray(groups))
			changed = true
		}
	}
	if !changed {
		return path, false, nil
	}
	settings.set("hooks", hooks.encode())
	var out bytes.Buffer
	if err := json.Indent(&out, settings.encode(), "", "  "); err != nil {
		return path, false, fmt.Errorf("%s: %v", path, err)
	}
	out.WriteByte('\n')
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return path, false, err
	}
	if err := writeFileAtomic(target, out.Bytes(), mode); err != nil {
		return path, false, err
	}
	return path, true, nil
}

// mergeHookGroups makes sure one of the matcher groups of an event runs
// command. A hook with exactly that command leaves everything as is; a hook
// that is another spelling of Lighthouse's ("/usr/local/bin/lighthouse hook
// pre --url …") gets the new command in place; otherwise a new group is
// appended. Groups and hooks it cannot read are kept untouched.
func mergeHookGroups(groups []json.RawMessage, matcher, command, kind string, timeout int) ([]json.RawMessage, bool, error) {
	type loc struct {
		group, hook int
		obj         *jsonObject
		hooks       []json.RawMessage
		gobj        *jsonObject
	}
	var similar *loc
	for gi, g := range groups {
		gobj, err := parseJSONObject(g)
		if err != nil {
			continue
		}
		hv, ok := gobj.get("hooks")
		if !ok {
			continue
		}
		var hooks []json.RawMessage
		if json.Unmarshal(hv, &hooks) != nil {
			continue
		}
		for hi, h := range hooks {
			hobj, err := parseJSONObject(h)
			if err != nil {
				continue
			}
			var typ, cmd string
			if v, ok := hobj.get("type"); ok {
				_ = json.Unmarshal(v, &typ)
			}
			if v, ok := hobj.get("command"); ok {
				_ = json.Unmarshal(v, &cmd)
			}
			if typ != "command" {
				continue
			}
			if cmd == command {
				return groups, false, nil
			}
			if similar == nil && isLighthouseHookCommand(cmd, kind) {
				similar = &loc{group: gi, hook: hi, obj: hobj, hooks: hooks, gobj: gobj}
			}
		}
	}
	if similar != nil {
		similar.obj.set("command", encodeJSONString(command))
		if timeout > 0 {
			similar.obj.set("timeout", json.RawMessage(fmt.Sprint(timeout)))
		}
		similar.hooks[similar.hook] = similar.obj.encode()
		similar.gobj.set("hooks", encodeJSONArray(similar.hooks))
		// An older Lighthouse registered fewer tools: the group gets ours.
		similar.gobj.set("matcher", encodeJSONString(matcher))
		out := append([]json.RawMessage(nil), groups...)
		out[similar.group] = similar.gobj.encode()
		return out, true, nil
	}
	g := &jsonObject{}
	g.set("matcher", encodeJSONString(matcher))
	h := &jsonObject{}
	h.set("type", encodeJSONString("command"))
	h.set("command", encodeJSONString(command))
	if timeout > 0 {
		h.set("timeout", json.RawMessage(fmt.Sprint(timeout)))
	}
	g.set("hooks", encodeJSONArray([]json.RawMessage{h.encode()}))
	return append(append([]json.RawMessage(nil), groups...), g.encode()), true, nil
}

// isLighthouseHookCommand reports whether the first command of the shell
// line cmd runs `lighthouse hook KIND`, through any path, quoted or not.
func isLighthouseHookCommand(cmd, kind string) bool {
	words := commandWords(cmd)
	if len(words) < 3 {
		return false
	}
	base := strings.TrimSuffix(filepath.Base(words[0]), ".exe")
	return base == "lighthouse" && words[1] == "hook" && words[2] == kind
}

// commandWords returns the words of the first simple command of the shell
// line cmd after quote removal, as sh -c would run it; nil when cmd does not
// parse.
func commandWords(cmd string) []string {
	f, err := syntax.NewParser().Parse(strings.NewReader(cmd), "")
	if err != nil {
		return nil
	}
	var call *syntax.CallExpr
	syntax.Walk(f, func(n syntax.Node) bool {
		if c, ok := n.(*syntax.CallExpr); ok && call == nil {
			call = c
		}
		return call == nil
	})
	if call == nil {
		return nil
	}
	words, err := expand.Fields(nil, call.Args...)
	if err != nil {
		return nil
	}
	return words
}

// claudeSettings is the part of a Claude Code settings file that holds the
// hooks: for each event, matcher groups of command hooks.
type claudeSettings struct {
	Hooks map[string][]struct {
		Matcher string `json:"matcher"`
		Hooks   []struct {
			Type    string `json:"type"`
			Command string `json:"command"`
			Timeout int    `json:"timeout"`
		} `json:"hooks"`
	} `json:"hooks"`
}

// jsonObject is a JSON object that keeps its keys in order and its values
// as they were written.
type jsonObject struct {
	keys []string
	vals map[string]json.RawMessage
}

// parseJSONObject reads one JSON object. A key that appears twice keeps its
// first place and its last value, as encoding/json would read it.
func parseJSONObject(raw []byte) (*jsonObject, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("want a JSON object, found %v", tok)
	}
	o := &jsonObject{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("want an object key, found %v", tok)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		o.set(key, v)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the JSON object")
		}
		return nil, err
	}
	return o, nil
}

func (o *jsonObject) get(key string) (json.RawMessage, bool) {
	v, ok := o.vals[key]
	return v, ok
}

func (o *jsonObject) set(key string, v json.RawMessage) {
	if o.vals == nil {
		o.vals = map[string]json.RawMessage{}
	}
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
}

// encode writes the object compactly, values as stored.
func (o *jsonObject) encode() json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(encodeJSONString(k))
		b.WriteByte(':')
		b.Write(o.vals[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

func encodeJSONArray(items []json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// encodeJSONString quotes s without HTML escaping, so commands with && or >
// stay readable.
func encodeJSONString(s string) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimRight(b.Bytes(), "\n")
}

func isJSONNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// writeFileAtomic replaces path with data through a temporary file in the
// same directory and a rename, so readers see the old or the new file.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
