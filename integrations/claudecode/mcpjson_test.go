package claudecode

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInitMCP(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, before string
		changed      bool
		wantErr      bool
		keep         []string // servers and keys that must survive
	}{
		{"new file", "", true, false, nil},
		{"keeps other servers and keys", `{"mcpServers":{"other":{"command":"x"}},"extra":1}`, true, false, []string{"other", "extra"}},
		{"already registered", `{"mcpServers":{"lighthouse":{"type":"stdio","command":"/bin/lighthouse","args":["mcp","--data","/d"]}}}`, false, false, nil},
		{"stale entry replaced", `{"mcpServers":{"lighthouse":{"type":"stdio","command":"/old/lighthouse","args":[]}}}`, true, false, nil},
		{"broken file left alone", `{"mcpServers":`, false, true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, ".mcp.json")
			if c.before != "" {
				if err := os.WriteFile(path, []byte(c.before), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, changed, err := initMCP(dir, "/bin/lighthouse", []string{"mcp", "--data", "/d"})
			if (err != nil) != c.wantErr || changed != c.changed {
				t.Fatalf("changed %v err %v, want changed %v err %v", changed, err, c.changed, c.wantErr)
			}
			raw, _ := os.ReadFile(path)
			if c.wantErr {
				if string(raw) != c.before {
					t.Fatalf("broken file changed to %s", raw)
				}
				return
			}
			var got struct {
				MCPServers map[string]mcpServer `json:"mcpServers"`
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if s := got.MCPServers["lighthouse"]; s.Command != "/bin/lighthouse" || strings.Join(s.Args, " ") != "mcp --data /d" || s.Type != "stdio" {
				t.Errorf("entry %+v in %s", s, raw)
			}
			for _, k := range c.keep {
				if !strings.Contains(string(raw), `"`+k+`"`) {
					t.Errorf("lost %q: %s", k, raw)
				}
			}
		})
	}
}
