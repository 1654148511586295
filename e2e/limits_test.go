package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// TestLargeFileStreams writes a 64 MiB file and reads it back through the
// reader, and checks the writer never held much more than a buffer of it.
func TestLargeFileStreams(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	const size = 64 << 20
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{1}).Read(data)
	sum := sha256.Sum256(data)
	before := peakRSS(t, e.sys.Writer.Pid())
	res, err := e.admin.WriteFile(context.Background(), "big.bin", bytes.NewReader(data), client.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	grew := peakRSS(t, e.sys.Writer.Pid()) - before
	body, err := e.reader.Open(context.Background(), fmt.Sprintf("/v1/files/big.bin?min_seq=%d", res.Seq))
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	h := sha256.New()
	n, err := io.Copy(h, body)
	if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != hex.EncodeToString(sum[:]) {
		t.Fatalf("read back %d bytes, hash match %v, %v", n, hex.EncodeToString(h.Sum(nil)) == hex.EncodeToString(sum[:]), err)
	}
	// A whole copy in memory would grow the peak by 64 MiB.
	if grew > 32<<20 {
		t.Fatalf("writer peak RSS grew by %d MiB for a 64 MiB upload", grew>>20)
	}
}

func TestSizeAndRateLimits(t *testing.T) {
	t.Parallel()
	e := start(t, false, "--max-file-bytes", "1024", "--rate", "5", "--burst", "5")
	ctx := context.Background()
	_, err := e.admin.WriteFile(ctx, "big", strings.NewReader(strings.Repeat("x", 1025)), client.WriteOptions{})
	if !isField(err, 413, "body") {
		t.Fatalf("oversized write: %v, want 413", err)
	}
	limited := 0
	for i := 0; i < 20; i++ {
		_, err := e.admin.WriteFile(ctx, "f", strings.NewReader("x"), client.WriteOptions{})
		if isStatus(err, 429) {
			limited++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if limited == 0 {
		t.Fatal("20 quick requests with a burst of 5 were never limited")
	}
	// A limited request says when to retry.
	for i := 0; i < 20; i++ {
		status, body, h := e.rawRequest("PUT", e.sys.WriterURL, "/v1/files/f", nil, []byte("x"))
		if status != 429 {
			continue
		}
		if code, _, ok := apiErr(body); !ok || code != "rate_limited" || h.Get("Retry-After") != "1" {
			t.Fatalf("429 answer: Retry-After %q, body %s", h.Get("Retry-After"), body)
		}
		return
	}
	t.Fatal("no 429 to check Retry-After on")
}

// peakRSS returns a process's peak resident set in bytes (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestBodyMemory: the writer reads at most --body-memory-mib of large
// request bodies into memory at once; concurrent change sets past it wait
// their turn and are all accepted, and the writer's peak RSS stays near
// one change set's worth instead of all of theirs (without the bound,
// eight change sets of 12 MiB each grew it by ~335 MiB; with a bound of
// 16 MiB, by 78-88 MiB). A bound out of range,
// or a variable that is no number, is refused at start.
func TestBodyMemory(t *testing.T) {
	t.Parallel()
	const env = "LIGHTHOUSE_WRITER_BODY_MEMORY_MIB"
	refusedAtStart(t, "writer", []string{"--body-memory-mib", "0"}, nil, "--body-memory-mib (env "+env+"): 0 MiB is not within 1 to 1048576")
	refusedAtStart(t, "writer", nil, []string{env + "=lots"}, env+`="lots": parse error`)

	e := start(t, false, "--body-memory-mib", "16")
	ctx := context.Background()
	const sets, files, size = 8, 3, 4 << 20
	content := func(set, file int) string { return strings.Repeat(fmt.Sprintf("%d.%d ", set, file), size/4)[:size] }
	before := peakRSS(t, e.sys.Writer.Pid())
	errs := make(chan error, sets)
	for set := range sets {
		go func() {
			ops := make([]map[string]any, files)
			for f := range files {
				ops[f] = map[string]any{"op": "write", "path": fmt.Sprintf("sets/%d/%d.txt", set, f), "content": content(set, f)}
			}
			errs <- e.admin.PostJSON(ctx, "/v1/changes", map[string]any{"ops": ops}, nil)
		}()
	}
	for range sets {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	grew := peakRSS(t, e.sys.Writer.Pid()) - before
	if grew > 200<<20 {
		t.Fatalf("the writer's peak RSS grew by %d MiB for eight change sets of 12 MiB with a bound of 16 MiB", grew>>20)
	}
	if got, err := e.readFile("sets/7/2.txt", e.writerHead()); err != nil || got != content(7, 2) {
		t.Fatalf("sets/7/2.txt: %d bytes, %v; want its %d", len(got), err, size)
	}
}
