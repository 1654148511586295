package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/procstat"
	"github.com/lighthouse-ai/lighthouse/infra/supervisor"
)

// smallDisk mounts a tmpfs of size bytes and returns its directory, or
// skips the test where that is not possible.
func smallDisk(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("disk-full test skipped: mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("disk-full test skipped: mount -t tmpfs failed: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// startOn runs a system whose writer keeps its data in data; the reader
// keeps its own elsewhere.
func startOn(t *testing.T, data string, writerArgs ...string) *env {
	t.Helper()
	return startConfig(t, supervisor.Config{Data: data, WriterArgs: append([]string{"--rate", "0"}, writerArgs...), ReaderData: t.TempDir()})
}

// TestDiskFull fills the writer's disk: every append answers 507
// insufficient_storage and stores nothing, the writer stays up, and once
// space is freed it carries on by itself with nothing acknowledged lost.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	disk := smallDisk(t, 96<<20)
	const reserve = 8 << 20
	e := startOn(t, disk, "--min-free", fmt.Sprint(reserve))
	ctx := context.Background()
	acked := map[string]string{}
	for i := 0; i < 20; i++ {
		p, c := fmt.Sprintf("before/%d.txt", i), fmt.Sprint("content ", i)
		e.put(e.admin, p, c)
		acked[p] = c
	}

	// Fill the disk to half the reserve.
	var st syscall.Statfs_t
	if err := syscall.Statfs(disk, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	filler, err := os.Create(filepath.Join(disk, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Fallocate(int(filler.Fd()), 0, 0, free-reserve/2); err != nil {
		t.Fatalf("fallocate: %v", err)
	}
	filler.Close()

	big := strings.Repeat("b", 200<<10) // streamed to a blob file, not inline
	full := []struct {
		name string
		do   func() error
	}{
		{"small write", func() error {
			_, err := e.admin.WriteFile(ctx, "full/a.txt", strings.NewReader("x"), client.WriteOptions{})
			return err
		}},
		{"large write", func() error {
			_, err := e.admin.WriteFile(ctx, "full/big.txt", strings.NewReader(big), client.WriteOptions{})
			return err
		}},
		{"change set", func() error {
			return e.admin.PostJSON(ctx, "/v1/changes", map[string]any{"ops": []any{map[string]any{"op": "write", "path": "full/c.txt", "content": "c"}}}, nil)
		}},
		{"blob upload", func() error {
			_, err := e.admin.Do(ctx, "POST", "/v1/blobs", nil, strings.NewReader("a small blob"), nil)
			return err
		}},
		{"gate decision", func() error {
			return e.admin.PostJSON(ctx, "/v1/validate", map[string]any{"tool_name": "Bash", "tool_input": map[string]any{"command": "ls"}}, nil)
		}},
	}
	head := e.writerHead()
	for _, c := range full {
		if err := c.do(); !isCode(err, 507, "insufficient_storage") {
			t.Errorf("%s on a full disk: %v, want 507 insufficient_storage", c.name, err)
		}
	}
	if h := e.writerHead(); h != head {
		t.Errorf("refused appends moved the head %d → %d", head, h)
	}
	if _, err := client.New(e.sys.WriterURL, "").Do(ctx, "GET", "/readyz", nil, nil, nil); err != nil {
		t.Fatalf("writer not up on a full disk: %v", err)
	}

	// Free the space: the writer carries on without a restart.
	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		p, c := fmt.Sprintf("after/%d.txt", i), fmt.Sprint("content ", i)
		e.put(e.admin, p, c)
		acked[p] = c
	}
	if _, err := e.admin.WriteFile(ctx, "after/big.txt", strings.NewReader(big), client.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	acked["after/big.txt"] = big
	last := e.writerHead()
	for p, c := range acked {
		if got, err := e.readFile(p, last); err != nil || got != c {
			t.Errorf("%s after the disk was full: %d bytes, %v", p, len(got), err)
		}
	}
	var verify struct {
		OK bool `json:"ok"`
	}
	if _, err := e.admin.Do(ctx, "GET", "/v1/verify", nil, nil, &verify); err != nil || !verify.OK {
		t.Fatalf("verify after a full disk: %+v %v", verify, err)
	}
	select {
	case <-e.sys.Writer.Done():
		t.Fatalf("the writer exited: %v", e.sys.Writer.Err())
	default:
	}
}

// flipByte damages one byte of a file, as a failing disk would, and moves
// its time so no cache takes it for the old file.
func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x20
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
	f.Close()
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedContent flips a byte of stored contents (and removes one):
// verify names the damaged or missing blob and the file versions it is the
// content of, the writer and the reader answer corrupt_content for that
// file only, and search skips it and says so; putting the content again
// repairs both copies.
func TestDamagedContent(t *testing.T) {
	t.Parallel()
	e := start(t, false)
	ctx := context.Background()
	big := strings.Repeat("needle in a big file\n", 10000) // stored as a file
	e.put(e.admin, "ok.txt", "needle in a small file\n")
	seq := e.put(e.admin, "big.txt", big)
	for _, p := range []string{"ok.txt", "big.txt"} {
		if _, err := e.readFile(p, seq); err != nil {
			t.Fatal(err)
		}
	}
	hash := hashOf(big)
	flipByte(t, filepath.Join(e.data, "blobs", hash[:2], hash[2:]), 1000)

	cmd := exec.Command(filepath.Join(binDir, "lighthouse"), "verify")
	cmd.Env = append(cmd.Environ(), "LIGHTHOUSE_URL="+e.sys.WriterURL, "LIGHTHOUSE_TOKEN="+e.sys.AdminToken)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "damaged content: "+hash) {
		t.Fatalf("lighthouse verify with a damaged blob: %v\n%s", err, out)
	}
	// It names the file whose content it is, and how to repair it.
	if held := fmt.Sprintf("damaged content: %s\n  the content of big.txt at event %d\n", hash, seq); !strings.Contains(string(out), held) || !strings.Contains(string(out), "lighthouse put PATH < FILE") {
		t.Fatalf("lighthouse verify does not name the damaged file (want %q):\n%s", held, out)
	}
	if _, err := e.admin.Do(ctx, "GET", "/v1/blobs/"+hash, nil, nil, nil); !isCode(err, 500, "corrupt_content") {
		t.Errorf("writer serves a damaged blob: %v", err)
	}

	// The reader's own copy.
	copies, _ := filepath.Glob(filepath.Join(e.data, "reader", "*", hash[:2], hash[2:]))
	if len(copies) == 0 {
		copies, _ = filepath.Glob(filepath.Join(e.data, "reader", "*", "*", hash[:2], hash[2:]))
	}
	if len(copies) != 1 {
		t.Fatalf("reader's copy of %s not found: %v", hash, copies)
	}
	flipByte(t, copies[0], 2000)
	if _, err := e.readFile("big.txt", seq); !isCode(err, 500, "corrupt_content") {
		t.Errorf("reader serves a damaged blob: %v", err)
	}
	if got, err := e.readFile("ok.txt", seq); err != nil || got != "needle in a small file\n" {
		t.Errorf("an intact file next to a damaged one: %q, %v", got, err)
	}
	body, err := e.reader.Open(ctx, "/v1/search?q=needle")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(readAll(t, body)), "\n")
	body.Close()
	if last := lines[len(lines)-1]; len(lines) != 2 || !strings.Contains(last, `"corrupt":["big.txt"]`) {
		t.Errorf("search over a damaged file: %v", lines)
	}

	// The repair: putting the good bytes again replaces the writer's
	// damaged copy, verify passes, and the reader replaces its own damaged
	// copy with the writer's on the next read.
	lighthouse := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(binDir, "lighthouse"), args...)
		cmd.Env = append(cmd.Environ(), "LIGHTHOUSE_URL="+e.sys.WriterURL, "LIGHTHOUSE_TOKEN="+e.sys.AdminToken)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := lighthouse(big, "put", "big.txt"); err != nil {
		t.Fatalf("lighthouse put big.txt: %v\n%s", err, out)
	}
	if out, err := lighthouse("", "verify"); err != nil {
		t.Fatalf("lighthouse verify after putting the content again: %v\n%s", err, out)
	}
	if got, err := e.readFile("big.txt", e.writerHead()); err != nil || got != big {
		t.Fatalf("big.txt after the repair: %d bytes, %v", len(got), err)
	}

	// A content that is gone (its blob file removed) is missing, not
	// intact: verify names it and its files. An empty file is no missing
	// content.
	e.put(e.admin, "empty.txt", "")
	other := strings.Repeat("another big file\n", 10000)
	otherSeq := e.put(e.admin, "other.txt", other)
	otherHash := hashOf(other)
	if err := os.Remove(filepath.Join(e.data, "blobs", otherHash[:2], otherHash[2:])); err != nil {
		t.Fatal(err)
	}
	out2, err := lighthouse("", "verify")
	if held := fmt.Sprintf("missing content: %s\n  the content of other.txt at event %d\n", otherHash, otherSeq); err == nil || !strings.Contains(out2, held) || strings.Contains(out2, "empty.txt") {
		t.Fatalf("lighthouse verify with a missing blob (want %q):\n%s", held, out2)
	}
	if out, err := lighthouse(other, "put", "other.txt"); err != nil {
		t.Fatalf("lighthouse put other.txt: %v\n%s", err, out)
	}
	if out, err := lighthouse("", "verify"); err != nil {
		t.Fatalf("lighthouse verify after putting the missing content again: %v\n%s", err, out)
	}
}

// TestCacheSizeFlag: every process takes --cache-mib, or its
// LIGHTHOUSE_<PROCESS>_CACHE_MIB variable (the flag wins). A size out of
// bounds, or a variable that is no number, is refused at start, naming the
// flag or the variable, before the data directory is created (and before
// the fuser looks for /dev/fuse); the sizes a system is started with are
// the ones its Pebble databases run with (their OPTIONS files), the fuser's
// default included; and a writer and a reader at the minimum size append,
// catch up and serve.
func TestCacheSizeFlag(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"writer", "reader", "fuser"} {
		env := "LIGHTHOUSE_" + strings.ToUpper(name) + "_CACHE_MIB"
		for _, c := range []struct {
			flag, environ []string
			want          string
		}{
			{[]string{"--cache-mib", "4"}, nil, "--cache-mib (env " + env + "): block cache size: 4 MiB is under the minimum of 8 MiB"},
			{[]string{"--cache-mib", "8796093022208"}, nil, "block cache size: 8796093022208 MiB is over the maximum of 1048576 MiB"},
			{nil, []string{env + "=4"}, "--cache-mib (env " + env + "): block cache size: 4 MiB is under the minimum of 8 MiB"},
			{nil, []string{env + "=abc"}, env + `="abc": parse error`},
			// The command line wins over the environment.
			{[]string{"--cache-mib", "4"}, []string{env + "=64"}, "4 MiB is under the minimum"},
		} {
			refusedAtStart(t, name, c.flag, c.environ, c.want)
		}
	}

	cfg := supervisor.Config{WriterArgs: []string{"--rate", "0", "--cache-mib", "8"}, ReaderArgs: []string{"--cache-mib", "48"}}
	_, fuseErr := os.Stat("/dev/fuse")
	if fuseErr == nil && os.Geteuid() == 0 {
		cfg.Mount = filepath.Join(t.TempDir(), "mnt")
	}
	e := startConfig(t, cfg)
	want := map[string][2]int64{ // database → cache, memtable (bytes)
		filepath.Join(e.data, "events"):               {8 << 20, 4 << 20},
		filepath.Join(e.data, "reader", "projection"): {48 << 20, 24 << 20},
	}
	if e.sys.Fuser != nil {
		want[filepath.Join(e.data, "fuser", "projection")] = [2]int64{32 << 20, 16 << 20} // the fuser's default
	} else {
		t.Logf("the fuser's default is not checked here: no mount (%v, uid %d)", fuseErr, os.Geteuid())
	}
	for dir, w := range want {
		if cache, memTable := pebbleSizes(t, dir); cache != w[0] || memTable != w[1] {
			t.Errorf("%s runs with a %d-byte cache and %d-byte memtables, want %d and %d", dir, cache, memTable, w[0], w[1])
		}
	}

	ctx := context.Background()
	var last uint64
	for i := range 50 {
		res, err := e.admin.WriteFile(ctx, fmt.Sprintf("small-cache/f%d.txt", i), strings.NewReader(fmt.Sprintf("file %d\n", i)), client.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Seq
	}
	// The reader at the minimum size, set from the environment as under
	// lighthouse up, which passes its environment to every process.
	small, smallData, err := startExtraReader(e, []string{"LIGHTHOUSE_READER_CACHE_MIB=8"})
	if err != nil {
		t.Fatal(err)
	}
	if cache, memTable := pebbleSizes(t, filepath.Join(smallData, "projection")); cache != 8<<20 || memTable != 4<<20 {
		t.Errorf("LIGHTHOUSE_READER_CACHE_MIB=8: the reader runs with a %d-byte cache and %d-byte memtables", cache, memTable)
	}
	if n := filesUnder(t, small, "small-cache/", last); n != 50 {
		t.Fatalf("a reader with an 8 MiB cache lists %d of the 50 files", n)
	}
}

// TestBackfillPageFlag: the reader and the fuser take --backfill-page, the
// events a catch-up asks the writer for at once, or its
// LIGHTHOUSE_<PROCESS>_BACKFILL_PAGE variable (the flag wins); a size out
// of bounds, or a variable that is no number, is refused at start, naming
// the flag and the variable, before the data directory is created.
// A reader started late with pages of 100 asks for the log in pages of
// that size and lists every file; one with the largest page keeps
// following the log once it has caught up (its later requests ask for one
// event more than the page).
func TestBackfillPageFlag(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"reader", "fuser"} {
		env := "LIGHTHOUSE_" + strings.ToUpper(name) + "_BACKFILL_PAGE"
		for _, c := range []struct {
			flag, environ []string
			want          string
		}{
			{[]string{"--backfill-page", "99"}, nil, "--backfill-page 99 (env " + env + "): must be between 100 and 9999 events"},
			// The writer answers at most 10,000 events, and a catch-up
			// asks for one more than its page.
			{[]string{"--backfill-page", "10000"}, nil, "--backfill-page 10000 (env " + env + "): must be between 100 and 9999 events"},
			{[]string{"--backfill-page", "many"}, nil, `invalid value "many" for flag -backfill-page`},
			{nil, []string{env + "=50"}, "--backfill-page 50 (env " + env + "): must be between 100 and 9999 events"},
			{nil, []string{env + "=many"}, env + `="many": parse error`},
			// The command line wins over the environment.
			{[]string{"--backfill-page", "99"}, []string{env + "=1000"}, "--backfill-page 99 "},
		} {
			refusedAtStart(t, name, c.flag, c.environ, c.want)
		}
	}

	e := start(t, false)
	ctx := context.Background()
	const files = 600
	var last uint64
	for i := range files {
		res, err := e.admin.WriteFile(ctx, fmt.Sprintf("paged/f%d.txt", i), strings.NewReader(fmt.Sprintf("file %d\n", i)), client.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Seq
	}
	pages := func() float64 {
		v, _ := metricValue(scrape(t, e.sys.WriterURL), "lighthouse_http_request_duration_seconds",
			map[string]string{"route": "/v1/events", "method": "GET", "status": "200"})
		return v
	}
	before := pages()
	late, _, err := startExtraReader(e, nil, "--backfill-page", "100")
	if err != nil {
		t.Fatal(err)
	}
	// 600 writes: at least six pages (the default asks for one, and the
	// system's reader polls every 2 s when idle).
	if n := pages() - before; n < 6 {
		t.Errorf("the late reader asked for %v pages of events, want at least 6 of 100", n)
	}
	if n := filesUnder(t, late, "paged/", last); n != files {
		t.Fatalf("a reader catching up in pages of 100 lists %d of the %d files", n, files)
	}

	largest, _, err := startExtraReader(e, nil, "--backfill-page", "9999")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // idle: the reader asks the writer for what it missed
	res, err := e.admin.WriteFile(ctx, "paged/after.txt", strings.NewReader("after\n"), client.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := filesUnder(t, largest, "paged/", res.Seq); n != files+1 {
		t.Fatalf("a reader with pages of 9999 lists %d of the %d files after a later write", n, files+1)
	}
}

// refusedAtStart runs the process name with a data directory and args
// (environ added to its environment) and checks that it exits at once
// with a message holding want, before creating its data directory.
func refusedAtStart(t *testing.T, name string, args, environ []string, want string) {
	t.Helper()
	bin, err := supervisor.FindBinary(binDir, name)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	// A process that wrongly starts is stopped, and fails the test, here.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--data", data, "--bus-url", "nats://127.0.0.1:1"}, args...)...)
	cmd.Env = append(append(os.Environ(), "LIGHTHOUSE_TOKEN=t"), environ...)
	what := fmt.Sprintf("%s %v %v", name, environ, args)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("%s started:\n%s", what, out)
	}
	wantIn(t, what, string(out), want)
	if _, err := os.Stat(data); err == nil {
		t.Fatalf("%s created %s", what, data)
	}
}

// filesUnder counts the files under prefix in the tree a reader serves
// once it has applied seq minSeq.
func filesUnder(t *testing.T, reader *client.Client, prefix string, minSeq uint64) int {
	t.Helper()
	var tree struct {
		Files []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	if _, err := reader.Do(context.Background(), "GET", fmt.Sprintf("/v1/tree?min_seq=%d&wait=20s", minSeq), nil, nil, &tree); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range tree.Files {
		if strings.HasPrefix(f.Path, prefix) {
			n++
		}
	}
	return n
}

// pebbleSizes reads the block cache and memtable sizes a Pebble database
// was opened with from its newest OPTIONS file.
func pebbleSizes(t *testing.T, dir string) (cache, memTable int64) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "OPTIONS-*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no OPTIONS file in %s: %v", dir, err)
	}
	sort.Strings(files)
	b, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	field := func(name string) int64 {
		m := regexp.MustCompile(`(?m)^\s*` + name + `=(\d+)$`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s: no %s in %s", dir, name, files[len(files)-1])
		}
		v, err := strconv.ParseInt(string(m[1]), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return field("cache_size"), field("mem_table_size")
}

// TestUpPassesCacheSizes: under lighthouse up, the LIGHTHOUSE_*_CACHE_MIB
// variables of its environment size its processes' databases, as the
// README's Memory section says.
func TestUpPassesCacheSizes(t *testing.T) {
	t.Parallel()
	bin := quotedBin
	project := filepath.Join(t.TempDir(), "shop")
	writeProjectFile(t, project, "go.mod", "module shop\n")
	g := startUpEnv(t, bin, project, "", []string{"LIGHTHOUSE_WRITER_CACHE_MIB=16", "LIGHTHOUSE_READER_CACHE_MIB=24"},
		"--no-mount", "--writer-addr", "127.0.0.1:0", "--reader-addr", "127.0.0.1:0", "--bus-addr", "127.0.0.1:0")
	for dir, w := range map[string][2]int64{
		filepath.Join(g.data, "events"):               {16 << 20, 8 << 20},
		filepath.Join(g.data, "reader", "projection"): {24 << 20, 12 << 20},
	} {
		if cache, memTable := pebbleSizes(t, dir); cache != w[0] || memTable != w[1] {
			t.Errorf("%s runs with a %d-byte cache and %d-byte memtables, want %d and %d", dir, cache, memTable, w[0], w[1])
		}
	}
}

// TestReplicaDiskFull fills a reader's disk, so its projection's flushes
// fail. The reader keeps serving what it applied, retries without spinning
// a core or flooding its log, flushes by itself once space is freed, and
// stops on SIGTERM while its disk is full; started again, it serves every
// file, what it could not flush applied again from the writer's log.
func TestReplicaDiskFull(t *testing.T) {
	t.Parallel()
	disk := smallDisk(t, 32<<20)
	e := startConfig(t, supervisor.Config{WriterArgs: []string{"--rate", "0"}, ReaderData: disk})
	filler := filepath.Join(disk, "filler")
	fill := func() {
		t.Helper()
		var st syscall.Statfs_t
		if err := syscall.Statfs(disk, &st); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filler)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Fallocate(int(f.Fd()), 0, 0, int64(st.Bavail)*int64(st.Bsize)); err != nil {
			t.Fatalf("fallocate: %v", err)
		}
	}
	acked := map[string]string{}
	put := func(prefix string) uint64 {
		var seq uint64
		for i := range 20 {
			p, c := fmt.Sprintf("%s/%d.txt", prefix, i), fmt.Sprint(prefix, " content ", i)
			seq = e.put(e.admin, p, c)
			acked[p] = c
		}
		return seq
	}

	fill()
	seq := put("full")
	if got, err := e.readFile("full/19.txt", seq); err != nil || got != acked["full/19.txt"] {
		t.Fatalf("full/19.txt from a reader with a full disk: %q, %v", got, err)
	}
	// The reader asks for a flush within a second of applying.
	eventually(t, "the reader's flush fails", func() error {
		if !strings.Contains(e.out.String(), "no space left on device") {
			return fmt.Errorf("no flush has failed yet")
		}
		return nil
	})
	pid := e.sys.Reader.Pid()
	linesBefore := strings.Count(e.out.String(), "\n")
	before, err := procstat.Read(pid)
	if err != nil {
		t.Fatal(err)
	}
	const window = 4 * time.Second
	time.Sleep(window)
	after, err := procstat.Read(pid)
	if err != nil {
		t.Fatal(err)
	}
	spent, lines := after.CPU-before.CPU, strings.Count(e.out.String(), "\n")-linesBefore
	t.Logf("with its disk full the reader spent %s of CPU and logged %d lines in %s", spent, lines, window)
	if spent > window/4 {
		t.Errorf("the reader spent %s of CPU in %s with its disk full: it retries its flush without pause", spent, window)
	}
	if lines > 20 {
		t.Errorf("%d lines logged in %s with the reader's disk full, want at most 20:\n%s", lines, window, tail(e.out.String(), 2000))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reader flushes once space is freed", func() error {
		if !strings.Contains(e.out.String(), "background work recovered") {
			return fmt.Errorf("no recovery logged yet")
		}
		return nil
	})

	fill()
	seq = put("full-again")
	if _, err := e.readFile("full-again/19.txt", seq); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	if err := e.sys.Reader.Stop(15 * time.Second); err != nil {
		t.Fatalf("stop the reader with its disk full: %v", err)
	}
	t.Logf("the reader stopped in %s with its disk full", time.Since(stopped).Round(time.Millisecond))

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.sys.StartReader(ctx); err != nil {
		t.Fatalf("restart the reader: %v", err)
	}
	for p, c := range acked {
		if got, err := e.readFile(p, seq); err != nil || got != c {
			t.Errorf("%s after the reader's disk was full: %q, %v", p, got, err)
		}
	}
}
