package fusefs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// resolveMountpoint makes mountpoint absolute with its parent's symlinks
// resolved, as /proc/self/mountinfo spells it. The last component is not
// resolved: a stale FUSE mount there cannot even be stat'ed.
func resolveMountpoint(mountpoint string) (string, error) {
	abs, err := filepath.Abs(mountpoint)
	if err != nil {
		return "", fmt.Errorf("fusefs: mountpoint: %w", err)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return "", fmt.Errorf("fusefs: mountpoint: %w", err)
	}
	return filepath.Join(parent, filepath.Base(abs)), nil
}

// mountsAt lists the filesystem types mounted at dir, per
// /proc/self/mountinfo (several when mounts are stacked).
func mountsAt(dir string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var types []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// id parent major:minor root mountpoint options... - fstype source superopts
		line := sc.Text()
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		fields := strings.Fields(pre)
		if len(fields) < 5 || unescapeMountinfo(fields[4]) != dir {
			continue
		}
		if pf := strings.Fields(post); len(pf) > 0 {
			types = append(types, pf[0])
		}
	}
	return types, sc.Err()
}

// unescapeMountinfo undoes the octal escapes (\040 for space, ...) of
// /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// clearMounts detaches every FUSE mount at dir, stale or live: mounting
// over one would stack silently. A mount of another kind is an error.
func clearMounts(dir string, log *slog.Logger) error {
	for i := 0; i < 16; i++ {
		types, err := mountsAt(dir)
		if err != nil {
			return fmt.Errorf("fusefs: read mounts: %w", err)
		}
		if len(types) == 0 {
			return nil
		}
		for _, t := range types {
			if t != "fuse" && !strings.HasPrefix(t, "fuse.") {
				return fmt.Errorf("fusefs: %s is already a mount point of type %s", dir, t)
			}
		}
		log.Warn("fusefs: detaching existing mount", "dir", dir, "type", types[len(types)-1])
		if err := detach(dir); err != nil {
			return fmt.Errorf("fusefs: detach existing mount at %s: %w", dir, err)
		}
	}
	return fmt.Errorf("fusefs: %s is still mounted after repeated detaches", dir)
}

// detach lazily unmounts the top mount at dir: umount2(MNT_DETACH) when
// allowed, else fusermount3 -u -z (or fusermount).
func detach(dir string) error {
	err := syscall.Unmount(dir, syscall.MNT_DETACH)
	if err == nil {
		return nil
	}
	for _, bin := range []string{"fusermount3", "fusermount"} {
		path, lerr := exec.LookPath(bin)
		if lerr != nil {
			continue
		}
		out, cerr := exec.Command(path, "-u", "-z", dir).CombinedOutput()
		if cerr == nil {
			return nil
		}
		return fmt.Errorf("%s: %v: %s", bin, cerr, bytes.TrimSpace(out))
	}
	return errors.Join(fmt.Errorf("umount2: %w", err), errors.New("no fusermount3 or fusermount in PATH"))
}

// directMountFlags are the mount(2) flags of a direct mount: read-only,
// like fusermount's defaults otherwise.
const directMountFlags = syscall.MS_RDONLY | syscall.MS_NOSUID | syscall.MS_NODEV
