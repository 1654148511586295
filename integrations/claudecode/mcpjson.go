package claudecode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// mcpServerName is the name of Lighthouse's MCP server in .mcp.json.
const mcpServerName = "lighthouse"

// mcpServer is one stdio server of .mcp.json.
type mcpServer struct {
	Type    string   `json:"type"`
	Command string   `json:"command"`
	Args    []string `json:"args"`
}

// initMCP registers `lighthouse mcp` in dir/.mcp.json, Claude Code's
// project-scoped MCP servers, keeping every other server and key. It
// writes nothing when the entry is already there, and nothing at all when
// the file is not valid JSON.
func initMCP(dir, bin string, args []string) (path string, changed bool, err error) {
	path = filepath.Join(dir, ".mcp.json")
	mode := fs.FileMode(0o644)
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm()
		}
	case errors.Is(err, fs.ErrNotExist):
		raw = nil
	default:
		return path, false, err
	}
	file := &jsonObject{}
	if len(bytes.TrimSpace(raw)) > 0 {
		if file, err = parseJSONObject(raw); err != nil {
			return path, false, fmt.Errorf("%s: not valid JSON, left untouched: %w", path, err)
		}
	}
	servers := &jsonObject{}
	if v, ok := file.get("mcpServers"); ok && !isJSONNull(v) {
		if servers, err = parseJSONObject(v); err != nil {
			return path, false, fmt.Errorf("%s: \"mcpServers\" is not an object, left untouched: %w", path, err)
		}
	}
	want := mcpServer{Type: "stdio", Command: bin, Args: args}
	if v, ok := servers.get(mcpServerName); ok {
		var have mcpServer
		if json.Unmarshal(v, &have) == nil && have.Type == want.Type && have.Command == want.Command && slices.Equal(have.Args, want.Args) {
			return path, false, nil
		}
	}
	entry, err := json.Marshal(want)
	if err != nil {
		return path, false, fmt.Errorf("encode the MCP server: %w", err)
	}
	servers.set(mcpServerName, entry)
	file.set("mcpServers", servers.encode())
	var out bytes.Buffer
	if err := json.Indent(&out, file.encode(), "", "  "); err != nil {
		return path, false, fmt.Errorf("%s: %w", path, err)
	}
	out.WriteByte('\n')
	if err := writeFileAtomic(path, out.Bytes(), mode); err != nil {
		return path, false, err
	}
	return path, true, nil
}
