package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// The FUSE scenarios (issue 4): the same generated tree on the local disk
// and in the fuser's mount, walked by stat, a 4 KiB read, grep -r and
// find, cold and warm; and the lag from a write to the mount.

// benchFUSEWord is the word grep looks for; benchFUSETree puts it in one
// file in a hundred.
const benchFUSEWord = "lighthousebenchneedle"

// The FUSE scenarios' names, which the test looks for.
const (
	benchScFUSETree = "FUSE tree (bench/fuse/)"
	benchScStat     = "FUSE: stat every file (os.Stat)"
	benchScFind     = "FUSE: find DIR -type f"
	benchScCat      = "FUSE: 4 KiB read of every file (open+read+close; the first content reads)"
	benchScGrep     = "FUSE: grep -r WORD DIR (1% match; content read before)"
	benchScLagNew   = "FUSE: write → visible in the mount, new file (polled every 1 ms)"
	benchScLagOver  = "FUSE: write → visible in the mount, overwrite (polled every 1 ms)"
)

// benchFUSECheck says whether FUSE can be mounted here, and why not.
func benchFUSECheck() error {
	if os.Geteuid() != 0 {
		return errors.New("not running as root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("no /dev/fuse: %w", err)
	}
	return nil
}

// benchFUSETree is the generated tree: Files files of FileBytes under
// bench/fuse/, a hundred to a directory.
type benchFUSETree struct {
	Files, FileBytes int
}

func (t benchFUSETree) sub(i int) string { return fmt.Sprintf("d%03d/f%05d.txt", i/100, i) }

const benchFUSEPrefix = "bench/fuse/"

func (t benchFUSETree) content(i int) []byte {
	c := benchContent(t.FileBytes, benchFUSEPrefix+t.sub(i)+" ")
	if t.marked(i) {
		copy(c[len(c)/2:], " "+benchFUSEWord+" ")
	}
	return c
}

func (t benchFUSETree) marked(i int) bool { return i%100 == 7 }

func (t benchFUSETree) markedCount() int {
	n := 0
	for i := range t.Files {
		if t.marked(i) {
			n++
		}
	}
	return n
}

// benchDropCaches writes back dirty pages, then drops the page cache,
// dentries and inodes, when /proc/sys/vm/drop_caches is writable.
func benchDropCaches() bool {
	syscall.Sync()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0) == nil
}

// benchFUSE runs the FUSE scenarios, or says why it cannot.
func (b *benchRun) benchFUSE(ctx context.Context) error {
	if b.fuseSkip != "" {
		b.rep.FUSE = "skipped: " + b.fuseSkip
		b.progress("FUSE scenarios skipped: %s", b.fuseSkip)
		b.rep.Warnings = append(b.rep.Warnings, "FUSE scenarios skipped: "+b.fuseSkip)
		return nil
	}
	t := benchFUSETree{Files: b.p.FUSEFiles, FileBytes: b.p.FUSEFileBytes}
	diskRoot := filepath.Join(b.dir, "fuse-disk", filepath.FromSlash(benchFUSEPrefix))
	mountRoot := filepath.Join(b.sys.MountDir(), "current", filepath.FromSlash(benchFUSEPrefix))
	const sc = benchScFUSETree
	mib := float64(t.Files*t.FileBytes) / (1 << 20)

	b.progress("FUSE: writing %d files of %d B (%.0f MiB) to the local disk and through POST /v1/changes", t.Files, t.FileBytes, mib)
	for i := range t.Files {
		p := filepath.Join(diskRoot, filepath.FromSlash(t.sub(i)))
		if i%100 == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(p, t.content(i), 0o644); err != nil {
			return err
		}
	}
	upload, err := b.fuseUpload(ctx, t)
	if err != nil {
		return err
	}
	b.rep.add(sc, "files", float64(t.Files), "files")
	b.rep.add(sc, "size", mib, "MiB")
	b.rep.add(sc, "written through POST /v1/changes (500 ops per change set)", upload.Seconds(), "s")
	b.rep.add(sc, "write rate through POST /v1/changes", mib/upload.Seconds(), "MiB/s")
	if err := b.settle(ctx, 5*time.Minute); err != nil {
		return err
	}
	head, _ := b.writerHead(ctx)

	// The fuser was stopped after the start-up check, so it did not share
	// the CPUs with the other scenarios; it now catches up on the log.
	b.progress("FUSE: starting the fuser at %s (log head %d)", b.sys.MountDir(), head)
	started := time.Now()
	if err := b.sys.StartFuser(ctx); err != nil {
		b.rep.FUSE = "skipped: the fuser did not start again: " + err.Error()
		b.rep.Warnings = append(b.rep.Warnings, "FUSE scenarios skipped: the fuser did not start again: "+err.Error())
		return nil
	}
	ready := time.Since(started)
	b.addCPUPerEvent(sc, "fuser", b.sys.Fuser.Pid(), head)
	last := filepath.Join(mountRoot, filepath.FromSlash(t.sub(t.Files-1)))
	want := t.content(t.Files - 1)
	for {
		if got, err := os.ReadFile(last); err == nil && bytes.Equal(got, want) {
			break
		}
		if time.Since(started) > 5*time.Minute {
			return fmt.Errorf("FUSE: %s not visible in the mount: %w", last, errBenchTimeout)
		}
		if err := benchSleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	visible := time.Since(started)
	b.rep.FUSE = "ran"
	b.rep.add(sc, "fuser start → ready (caught up on the log)", ready.Seconds(), "s")
	b.rep.add(sc, "fuser start → last file readable in the mount", visible.Seconds(), "s")
	b.rep.add(sc, "log events the fuser caught up on", float64(head), "events")

	if err := b.fuseWalks(ctx, t, diskRoot, mountRoot); err != nil {
		return err
	}
	return b.fuseLag(ctx)
}

// fuseUpload writes the tree through POST /v1/changes, 500 ops to a change
// set, from LoadWorkers clients.
func (b *benchRun) fuseUpload(ctx context.Context, t benchFUSETree) (time.Duration, error) {
	const per = 500
	sets := (t.Files + per - 1) / per
	took, err := b.postChangeSets(ctx, sets, func(set int) []benchChangeOp {
		ops := make([]benchChangeOp, 0, per)
		for i := set * per; i < min((set+1)*per, t.Files); i++ {
			ops = append(ops, benchChangeOp{Op: "write", Path: benchFUSEPrefix + t.sub(i), Content: string(t.content(i))})
		}
		return ops
	})
	if err != nil {
		return 0, fmt.Errorf("FUSE: upload: %w", err)
	}
	return took, nil
}

// benchWalk is one way to go over a tree; it returns what it counted
// (files, or for grep the files that match).
type benchWalk struct {
	scenario string
	run      func(ctx context.Context, root string) (int, error)
	want     int
}

// fuseWalks times each walk on the disk tree and the mounted one: cold
// (after dropping the caches, where that is allowed; for the mount the
// first pass since the fuser started) and warm (the median of WarmPasses
// more passes).
func (b *benchRun) fuseWalks(ctx context.Context, t benchFUSETree, diskRoot, mountRoot string) error {
	subs := make([]string, t.Files)
	for i := range subs {
		subs[i] = filepath.FromSlash(t.sub(i))
	}
	walks := []benchWalk{
		{benchScStat, func(ctx context.Context, root string) (int, error) {
			n := 0
			for _, s := range subs {
				if _, err := os.Stat(filepath.Join(root, s)); err != nil {
					return n, err
				}
				n++
			}
			return n, nil
		}, t.Files},
		{benchScFind, func(ctx context.Context, root string) (int, error) {
			return benchExecLines(ctx, "find", root, "-type", "f")
		}, t.Files},
		{benchScCat, func(ctx context.Context, root string) (int, error) {
			buf := make([]byte, 4096)
			n := 0
			for _, s := range subs {
				f, err := os.Open(filepath.Join(root, s))
				if err != nil {
					return n, err
				}
				_, err = io.ReadFull(f, buf)
				f.Close()
				if err != nil {
					return n, err
				}
				n++
			}
			return n, nil
		}, t.Files},
		{benchScGrep, func(ctx context.Context, root string) (int, error) {
			return benchExecLines(ctx, "grep", "-r", "-l", benchFUSEWord, root)
		}, t.markedCount()},
	}
	dropped := true
	timeWalk := func(w benchWalk, root string) (time.Duration, error) {
		start := time.Now()
		n, err := w.run(ctx, root)
		d := time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("%s in %s: %w", w.scenario, root, err)
		}
		if n != w.want {
			b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("%s in %s counted %d, want %d", w.scenario, root, n, w.want))
		}
		return d, nil
	}
	for _, w := range walks {
		b.progress("%s: %d files, on disk and in the mount, cold and warm", w.scenario, t.Files)
		dropped = benchDropCaches() && dropped
		diskCold, err := timeWalk(w, diskRoot)
		if err != nil {
			return err
		}
		dropped = benchDropCaches() && dropped
		mountCold, err := timeWalk(w, mountRoot)
		if err != nil {
			return err
		}
		var disk, mount []time.Duration
		for range b.p.WarmPasses {
			d, err := timeWalk(w, diskRoot)
			if err != nil {
				return err
			}
			m, err := timeWalk(w, mountRoot)
			if err != nil {
				return err
			}
			disk, mount = append(disk, d), append(mount, m)
		}
		diskWarm, mountWarm := benchSummarise(disk).P50, benchSummarise(mount).P50
		b.rep.add(w.scenario, "disk, cold", diskCold.Seconds(), "s")
		b.rep.add(w.scenario, "mount, cold", mountCold.Seconds(), "s")
		b.rep.addRatio(w.scenario, "mount ÷ disk, cold", mountCold.Seconds(), diskCold.Seconds())
		b.rep.add(w.scenario, "disk, warm (median)", diskWarm.Seconds(), "s")
		b.rep.add(w.scenario, "mount, warm (median)", mountWarm.Seconds(), "s")
		b.rep.addRatio(w.scenario, "mount ÷ disk, warm", mountWarm.Seconds(), diskWarm.Seconds())
	}
	yes := 0.0
	if dropped {
		yes = 1
	} else {
		b.rep.Warnings = append(b.rep.Warnings, "FUSE: /proc/sys/vm/drop_caches is not writable: \"cold\" passes ran on warm kernel caches")
	}
	b.rep.add(benchScFUSETree, "page cache dropped before each cold pass", yes, "1 = yes")
	return nil
}

// benchExecLines runs a command (LC_ALL=C) and counts its output lines;
// grep's "no match" exit is not an error.
func benchExecLines(ctx context.Context, name string, args ...string) (int, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	n := 0
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		n++
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) && name == "grep" && ee.ExitCode() == 1 {
		err = nil
	}
	if err != nil {
		return n, fmt.Errorf("%s: %w: %s", name, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return n, nil
}

// fuseLag PUTs a file, then reads it from the mount until the content is
// the one written: new files, then overwrites of one file with content of
// the same size.
func (b *benchRun) fuseLag(ctx context.Context) error {
	const poll = time.Millisecond
	b.progress("FUSE: %d write → mount-visible samples for new files and as many for overwrites", b.p.FUSELagSamples)
	sample := func(path string, body []byte) (time.Duration, error) {
		if _, err := b.call(ctx, b.http, http.MethodPut, b.sys.WriterURL+"/v1/files/"+path, body, nil); err != nil {
			return 0, err
		}
		written := time.Now()
		p := filepath.Join(b.sys.MountDir(), "current", filepath.FromSlash(path))
		for {
			got, err := os.ReadFile(p)
			if err == nil && bytes.Equal(got, body) {
				return time.Since(written), nil
			}
			if d := time.Since(written); d > 10*time.Second {
				return 0, fmt.Errorf("FUSE: %s not visible in the mount %s after the write (last read: %d bytes, %v): %w", path, d, len(got), err, errBenchTimeout)
			}
			if err := benchSleep(ctx, poll); err != nil {
				return 0, err
			}
		}
	}
	const over = "bench/fuse-lag/overwritten.txt"
	if _, err := sample(over, benchContent(b.p.FileBytes, over+" first ")); err != nil {
		return err
	}
	var created, overwritten []time.Duration
	for i := range b.p.FUSELagSamples {
		path := fmt.Sprintf("bench/fuse-lag/new/f%d.txt", i)
		d, err := sample(path, benchContent(b.p.FileBytes, path+" "))
		if err != nil {
			return err
		}
		created = append(created, d)
		d, err = sample(over, benchContent(b.p.FileBytes, fmt.Sprintf("%s %06d ", over, i)))
		if err != nil {
			return err
		}
		overwritten = append(overwritten, d)
	}
	for _, m := range []struct {
		sc  string
		lat []time.Duration
	}{
		{benchScLagNew, created},
		{benchScLagOver, overwritten},
	} {
		s := benchSummarise(slices.Clone(m.lat))
		b.rep.add(m.sc, "p50", ms(s.P50), "ms")
		b.rep.add(m.sc, "p99", ms(s.P99), "ms")
		b.rep.add(m.sc, "max", ms(s.Max), "ms")
		b.rep.add(m.sc, "samples", float64(s.N), "samples")
		b.rep.addRatio(m.sc, "p50 ÷ reader-visible lag p50", ms(s.P50), b.lagP50)
	}
	return nil
}
