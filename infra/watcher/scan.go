package watcher

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// diskFile is a regular file as found on disk.
type diskFile struct {
	Size int64
	Mode uint32 // permission bits
	Hash string // SHA-256 of the content, hex
}

// statKey identifies a file version cheaply, to reuse a hash.
type statKey struct {
	size  int64
	mtime int64
	ctime int64
	ino   uint64
}

// hasher hashes files, reusing the hash of a file whose size, times and
// inode have not changed.
type hasher struct {
	root  string
	cache map[string]cachedHash
}

type cachedHash struct {
	key  statKey
	hash string
}

func newHasher(root string) *hasher { return &hasher{root: root, cache: map[string]cachedHash{}} }

func keyOf(fi os.FileInfo) statKey {
	k := statKey{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.ino = st.Ino
		k.ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	}
	return k
}

// stat looks at one project path: ok is false when it is not a regular
// file (missing, a directory, a symlink, a device).
func (h *hasher) stat(rel string) (diskFile, bool, error) {
	abs := filepath.Join(h.root, filepath.FromSlash(rel))
	if h.symlinkOn(path.Dir(rel)) != "" {
		// Below a symlinked directory: not the project's file (the link
		// may lead anywhere, outside the project too).
		delete(h.cache, rel)
		return diskFile{}, false, nil
	}
	fi, err := os.Lstat(abs)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		delete(h.cache, rel)
		return diskFile{}, false, nil
	}
	if err != nil {
		return diskFile{}, false, fmt.Errorf("stat %s: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		delete(h.cache, rel)
		return diskFile{}, false, nil
	}
	k := keyOf(fi)
	if c, ok := h.cache[rel]; ok && c.key == k {
		return diskFile{Size: fi.Size(), Mode: uint32(fi.Mode().Perm()), Hash: c.hash}, true, nil
	}
	sum, err := hashFile(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return diskFile{}, false, nil
	}
	if err != nil {
		return diskFile{}, false, err
	}
	h.cache[rel] = cachedHash{key: k, hash: sum}
	return diskFile{Size: fi.Size(), Mode: uint32(fi.Mode().Perm()), Hash: sum}, true, nil
}

// symlinkOn returns the first of rel's leading paths (a, a/b, ..., rel
// itself) that is a symlink on disk, "" if none is. Each is looked at with
// Lstat from the top down, so none is followed.
func (h *hasher) symlinkOn(rel string) string {
	if rel == "" || rel == "." {
		return ""
	}
	at := ""
	for _, name := range strings.Split(rel, "/") {
		at = path.Join(at, name)
		fi, err := os.Lstat(filepath.Join(h.root, filepath.FromSlash(at)))
		if err != nil {
			return "" // nothing further down exists
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return at
		}
	}
	return ""
}

func hashFile(abs string) (string, error) {
	f, err := os.Open(abs)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", abs, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", abs, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// walk calls file for every shadowed regular file and dir for every
// shadowed directory below root/start (start itself included; the root is
// ""), loading nested .gitignore files as it goes down.
func walk(root, start string, ig *ignorer, dir func(rel string) error, file func(rel string) error) error {
	top := filepath.Join(root, filepath.FromSlash(start))
	return filepath.WalkDir(top, func(abs string, d fs.DirEntry, err error) error {
		if err != nil {
			if abs != root && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)) {
				return nil // vanished or unreadable: not ours to shadow
			}
			return fmt.Errorf("walk %s: %w", abs, err)
		}
		r, err := filepath.Rel(root, abs)
		if err != nil {
			return fmt.Errorf("walk: %w", err)
		}
		rel := filepath.ToSlash(r)
		if rel == "." {
			rel = ""
		}
		if d.IsDir() {
			if ig.ignored(rel, true) {
				return filepath.SkipDir
			}
			if rel != "" {
				if err := ig.loadDir(rel); err != nil {
					return err
				}
			}
			if dir != nil {
				return dir(rel)
			}
			return nil
		}
		if !d.Type().IsRegular() || ig.ignored(rel, false) {
			return nil
		}
		return file(rel)
	})
}
