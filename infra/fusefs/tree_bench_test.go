package fusefs

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/projections"
)

// BenchmarkBuildTree builds the mount's tree of 100,000 files in 1,000
// directories from a listing, as the fuser does when it catches up, and
// reports the heap the tree keeps per file (B/file) once the listing is
// gone: the fuser keeps one tree of the whole project.
func BenchmarkBuildTree(b *testing.B) {
	const files = 100000
	list := make([]projections.FileInfo, files)
	for i := range list {
		list[i] = projections.FileInfo{
			Path: fmt.Sprintf("src/pkg%03d/sub/file%06d.go", i%1000, i),
			Hash: fmt.Sprintf("%064x", i+1), Size: 200, Mode: 0o644,
			Time: time.Unix(int64(i), 0), Seq: uint64(i + 1),
			AgentID: "ag-1", Version: 1,
		}
	}
	var kept float64
	for b.Loop() {
		before := heapInUse()
		// Fresh paths, so what the tree keeps of them is counted.
		own := make([]projections.FileInfo, len(list))
		for i, fi := range list {
			fi.Path = string([]byte(fi.Path))
			own[i] = fi
		}
		t := buildTree(1, own, func(p, why string) { b.Fatalf("%s: %s", p, why) })
		own = nil
		after := heapInUse()
		if t.nfiles != files {
			b.Fatalf("tree has %d files", t.nfiles)
		}
		kept = float64(after-before) / files
		runtime.KeepAlive(t)
	}
	b.ReportMetric(kept, "B/file")
}

// heapInUse returns the live heap after a full collection, in bytes.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
