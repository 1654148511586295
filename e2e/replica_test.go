package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplicaRebuildsWhenTheLogIsRestored restores the writer's data from
// a backup taken at an earlier head while the reader keeps its store: the
// reader finds that the log no longer continues its projection, rebuilds
// from the log by itself, says so, and never serves the lost files.
func TestReplicaRebuildsWhenTheLogIsRestored(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		e.put(e.admin, fmt.Sprintf("kept/%d.txt", i), "kept")
	}
	// The backup: the writer's log and contents, taken while it is stopped.
	if err := e.sys.Writer.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	backup := t.TempDir()
	for _, d := range []string{"events", "blobs"} {
		if out, err := exec.Command("cp", "-a", filepath.Join(e.data, d), backup).CombinedOutput(); err != nil {
			t.Fatalf("backup: %v %s", err, out)
		}
	}
	if err := e.sys.StartWriter(ctx); err != nil {
		t.Fatal(err)
	}
	var seq uint64
	for i := 0; i < 20; i++ {
		seq = e.put(e.admin, fmt.Sprintf("lost/%d.txt", i), "lost")
	}
	if _, err := e.readFile("lost/19.txt", seq); err != nil {
		t.Fatal(err)
	}

	// Restore the backup; the writer goes on from the older head.
	if err := e.sys.Writer.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"events", "blobs"} {
		if err := os.RemoveAll(filepath.Join(e.data, d)); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", filepath.Join(backup, d), e.data).CombinedOutput(); err != nil {
			t.Fatalf("restore: %v %s", err, out)
		}
	}
	if err := e.sys.StartWriter(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		e.put(e.admin, fmt.Sprintf("new/%d.txt", i), "new")
	}
	head := e.writerHead()
	if head >= seq {
		t.Fatalf("restored writer at %d, not behind the reader's %d", head, seq)
	}

	var st struct {
		Applied       uint64 `json:"applied"`
		WriterHead    uint64 `json:"writer_head"`
		Rebuilds      int    `json:"rebuilds"`
		RebuildReason string `json:"rebuild_reason"`
	}
	eventually(t, "the reader rebuilt from the restored log", func() error {
		if _, err := e.reader.Do(ctx, "GET", "/v1/status", nil, nil, &st); err != nil {
			return err
		}
		if st.Rebuilds == 0 || st.Applied != head {
			return fmt.Errorf("status %+v, writer head %d", st, head)
		}
		return nil
	})
	if !strings.Contains(st.RebuildReason, "writer's log") {
		t.Errorf("rebuild reason %q", st.RebuildReason)
	}
	var tree struct {
		Files []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	if _, err := e.reader.Do(ctx, "GET", fmt.Sprintf("/v1/tree?min_seq=%d", head), nil, nil, &tree); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, f := range tree.Files {
		counts[strings.Split(f.Path, "/")[0]]++
	}
	if counts["kept"] != 10 || counts["new"] != 5 || counts["lost"] != 0 {
		t.Fatalf("reader serves %v, want 10 kept, 5 new, 0 lost", counts)
	}
}
