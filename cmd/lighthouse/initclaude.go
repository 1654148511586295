package main

// `lighthouse init claude`: register Lighthouse's hooks in a project's
// .claude/settings.json, merging into what is already there.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The hook entries `init claude` registers (as in
// testdata/claude-code/settings.example.json).
const (
	claudePreMatcher  = "Bash|Write|Edit|MultiEdit|Read|NotebookEdit"
	claudePostMatcher = "Write|Edit|MultiEdit"
	// claudePreTimeout is Claude Code's limit for the pre hook, in seconds:
	// above the hook's default --wait (100s) plus its --timeout (5s).
	claudePreTimeout = 120
)

// runInit is `lighthouse init claude [--dir DIR] [--command CMD]`.
func runInit(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	dir := fs.String("dir", ".", "project directory; the hooks go into DIR/.claude/settings.json")
	pre := fs.String("command", "lighthouse hook pre", "the PreToolUse hook command")
	post := fs.String("post-command", "", "the PostToolUse hook command (default: --command with `hook pre` changed to `hook post`)")
	noPost := fs.Bool("no-post", false, "register only the PreToolUse hook")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if pos[0] != "claude" {
		return usagef("init: unknown target %q (want: init claude)", pos[0])
	}
	if strings.TrimSpace(*pre) == "" {
		return usagef("init: --command is empty")
	}
	postCmd := *post
	if *noPost {
		postCmd = ""
	} else if postCmd == "" {
		postCmd = derivePostCommand(*pre)
	}
	path, changed, err := initClaude(*dir, *pre, postCmd)
	if err != nil {
		return err
	}
	if changed {
		fmt.Printf("added the Lighthouse hooks to %s\n", path)
	} else {
		fmt.Printf("%s already has the Lighthouse hooks\n", path)
	}
	return nil
}

// derivePostCommand turns "… hook pre …" into "… hook post …".
func derivePostCommand(pre string) string {
	f := strings.Fields(pre)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "hook" && f[i+1] == "pre" {
			f[i+1] = "post"
			return strings.Join(f, " ")
		}
	}
	return "lighthouse hook post"
}

// initClaude merges the hooks into DIR/.claude/settings.json, keeping every
// other key, hook and matcher, and the order of keys. It writes nothing when
// the hooks are already there, and nothing at all when the file is not valid
// JSON. An empty post skips the PostToolUse hook.
func initClaude(dir, pre, post string) (path string, changed bool, err error) {
	path = filepath.Join(dir, ".claude", "settings.json")
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
		similar.hooks[similar.hook] = similar.obj.encode()
		similar.gobj.set("hooks", encodeJSONArray(similar.hooks))
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

// isLighthouseHookCommand reports whether cmd runs `lighthouse hook KIND`,
// maybe through a path and after VAR=value assignments.
func isLighthouseHookCommand(cmd, kind string) bool {
	f := strings.Fields(cmd)
	for len(f) > 0 && isEnvAssignment(f[0]) {
		f = f[1:]
	}
	if len(f) < 3 {
		return false
	}
	base := strings.TrimSuffix(filepath.Base(strings.Trim(f[0], `"'`)), ".exe")
	return base == "lighthouse" && f[1] == "hook" && f[2] == kind
}

// isEnvAssignment reports whether a shell word is NAME=value.
func isEnvAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return false
	}
	for i, r := range name {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
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
