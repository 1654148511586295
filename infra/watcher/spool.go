package watcher

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Entry is one spooled change set: what an agent's hook or the watcher
// could not record while the writer was unreachable. Token is the agent's
// bearer token (empty: the replayer's own identity, the watcher's), kept
// so the replay is attributed to the agent that made the change.
type Entry struct {
	Token       string    `json:"token,omitempty"`
	Agent       bool      `json:"agent"` // made by an agent's call (not seen by the watcher alone)
	CommandID   string    `json:"command_id,omitempty"`
	SessionID   string    `json:"session_id,omitempty"`
	Correlation string    `json:"correlation_id,omitempty"`
	Causation   string    `json:"causation_id,omitempty"`
	Ops         []Op      `json:"ops"`
	Spooled     time.Time `json:"spooled"`
	name        string
}

// Spool is a directory of entries, each a file written and fsync'd before
// it counts, named so that their order is the order they were spooled in.
// Contents of writes are kept beside them by hash.
type Spool struct {
	Dir string
}

// OpenSpool returns the spool in DATA/spool, creating it.
func OpenSpool(data string) (*Spool, error) {
	s := &Spool{Dir: filepath.Join(data, "spool")}
	for _, d := range []string{s.Dir, filepath.Join(s.Dir, "blobs"), filepath.Join(s.Dir, "failed")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create spool: %w", err)
		}
	}
	return s, nil
}

// PutContent copies r into the spool's blobs durably and returns its hash
// and size.
func (s *Spool) PutContent(r io.Reader) (string, int64, error) {
	tmp, err := os.CreateTemp(filepath.Join(s.Dir, "blobs"), ".tmp-*")
	if err != nil {
		return "", 0, fmt.Errorf("spool content: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, fmt.Errorf("spool content: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(tmp.Name(), s.blobPath(sum)); err != nil {
		return "", 0, fmt.Errorf("spool content: %w", err)
	}
	return sum, n, syncDir(filepath.Join(s.Dir, "blobs"))
}

func (s *Spool) blobPath(hash string) string { return filepath.Join(s.Dir, "blobs", hash) }

// OpenContent opens spooled content by hash.
func (s *Spool) OpenContent(hash string) (io.ReadCloser, error) {
	f, err := os.Open(s.blobPath(hash))
	if err != nil {
		return nil, fmt.Errorf("spooled content %s: %w", hash, err)
	}
	return f, nil
}

// Append writes e durably as the spool's last entry.
func (s *Spool) Append(e Entry) error {
	if e.Spooled.IsZero() {
		e.Spooled = time.Now().UTC()
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode spool entry: %w", err)
	}
	name := fmt.Sprintf("e-%020d-%07d.json", time.Now().UnixNano(), os.Getpid())
	tmp, err := os.CreateTemp(s.Dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("spool: %w", err)
	}
	_, err = tmp.Write(raw)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.Dir, name)); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return syncDir(s.Dir)
}

// Entries returns the spooled entries in order.
func (s *Spool) Entries() ([]Entry, error) {
	des, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("read spool: %w", err)
	}
	var names []string
	for _, d := range des {
		if strings.HasPrefix(d.Name(), "e-") && strings.HasSuffix(d.Name(), ".json") {
			names = append(names, d.Name())
		}
	}
	sort.Strings(names)
	out := make([]Entry, 0, len(names))
	for _, n := range names {
		raw, err := os.ReadFile(filepath.Join(s.Dir, n))
		if errors.Is(err, fs.ErrNotExist) {
			continue // replayed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("read spool entry: %w", err)
		}
		var e Entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("spool entry %s: %w", n, err)
		}
		e.name = n
		out = append(out, e)
	}
	return out, nil
}

// Len is the number of entries waiting.
func (s *Spool) Len() int {
	es, _ := s.Entries()
	return len(es)
}

func (s *Spool) done(e Entry) error {
	if err := os.Remove(filepath.Join(s.Dir, e.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	return syncDir(s.Dir)
}

func (s *Spool) fail(e Entry) error {
	if err := os.Rename(filepath.Join(s.Dir, e.name), filepath.Join(s.Dir, "failed", e.name)); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return syncDir(s.Dir)
}

// Lock takes the spool's replay lock (an flock, released when the process
// dies); it returns the release function.
func (s *Spool) Lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.Dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("spool lock: %w", err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// ReplayPlan returns the ops to send for each entry in order: the
// watcher's own writes that a later agent entry claims (the same content at
// the same path) are left to the agent, so each change is attributed once
// and to whoever made it.
func ReplayPlan(entries []Entry) [][]Op {
	claims := map[string]int{}
	for i, e := range entries {
		if !e.Agent {
			continue
		}
		for _, op := range e.Ops {
			if op.Op == opWrite {
				claims[op.Path+"\x00"+op.Hash] = i
			}
		}
	}
	out := make([][]Op, len(entries))
	for i, e := range entries {
		for _, op := range e.Ops {
			if !e.Agent && op.Op == opWrite {
				if j, ok := claims[op.Path+"\x00"+op.Hash]; ok && j > i {
					continue
				}
			}
			op.Expected = nil
			out[i] = append(out[i], op)
		}
	}
	return out
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
