// Package blobstore keeps file contents once per distinct content, named by
// SHA-256: small contents in a key-value store beside the events that refer
// to them (one fsync for both), larger ones as plain files under a directory.
package blobstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
)

// ErrTooLarge is returned when content exceeds the store's size limit.
var ErrTooLarge = errors.New("content too large")

// ErrCorrupt means stored content no longer matches its hash: the disk
// damaged it.
var ErrCorrupt = domain.ErrCorruptContent

// ValidHash reports whether h is a lowercase hex SHA-256.
func ValidHash(h string) bool {
	_, ok := ParseHash(h)
	return ok
}

// ParseHash returns the 32 bytes of h when it is a lowercase hex SHA-256
// (64 digits 0-9 a-f, the one spelling that encodes back to h).
func ParseHash(h string) (sum [sha256.Size]byte, ok bool) {
	if len(h) != 2*sha256.Size {
		return sum, false
	}
	for i := range len(h) {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return sum, false
		}
	}
	hex.Decode(sum[:], []byte(h)) // every digit checked above
	return sum, true
}

// InlineLimit is the largest content kept in the Small store.
const InlineLimit = 64 << 10

// Small keeps small blobs durably, normally in the writer's event store.
type Small interface {
	Blob(hash string) ([]byte, bool, error)
	// BlobSize is Blob's size alone: what Stat asks, for many blobs at
	// once (a search's prefetch), without copying each content.
	BlobSize(hash string) (size int64, ok bool, err error)
	PutBlob(hash string, data []byte) error
}

// Store is a content-addressed store of blobs.
type Store struct {
	dir     string
	small   Small  // nil: every blob is a file
	reserve uint64 // bytes the disk must keep free after a blob is stored

	mu       sync.Mutex
	verified map[string]fileStamp // blob files hashed since the process started
}

// fileStamp is what a blob file looked like when its hash was checked.
type fileStamp struct {
	size  int64
	mtime time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithReserve refuses (pebbledb.ErrNoSpace) a blob file that would leave
// less than bytes free on the disk.
func WithReserve(bytes uint64) Option { return func(s *Store) { s.reserve = bytes } }

// Open creates dir if needed and returns a store over it and small (which
// may be nil).
func Open(dir string, small Small, opts ...Option) (*Store, error) {
	for _, d := range []string{dir, filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create blob dir: %w", err)
		}
	}
	s := &Store{dir: dir, small: small, verified: map[string]fileStamp{}}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Content is ingested content. When Inline is set the content is small and
// not yet stored: the caller stores it with the events that refer to it.
type Content struct {
	domain.ContentRef
	Inline []byte
}

// Ingest reads r, up to limit bytes. Small content comes back inline; larger
// content is streamed to a file (never held whole in memory) and fsync'd.
func (s *Store) Ingest(r io.Reader, limit int64) (Content, error) {
	if s.small == nil {
		ref, err := s.putFile(r, limit)
		return Content{ContentRef: ref}, err
	}
	if size, ok := inMemory(r); ok && size <= InlineLimit && int64(size) <= limit {
		// Content already in memory (a change set's "content") is copied
		// once, at its size, instead of through a buffer grown to it.
		inline := make([]byte, size)
		if _, err := io.ReadFull(r, inline); err != nil {
			return Content{}, fmt.Errorf("read content: %w", err)
		}
		return inlineContent(inline), nil
	}
	head := make([]byte, 0, 4096)
	buf := bytes.NewBuffer(head)
	n, err := io.Copy(buf, io.LimitReader(r, min(InlineLimit, limit)+1))
	if err != nil {
		return Content{}, fmt.Errorf("read content: %w", err)
	}
	if n <= InlineLimit && n <= limit {
		// Copied out at its size: a change set's contents are held until
		// its append commits, and the read buffer's capacity (4 KiB or
		// more, for a file of a few hundred bytes) would be held with each.
		return inlineContent(bytes.Clone(buf.Bytes())), nil
	}
	ref, err := s.putFile(io.MultiReader(buf, r), limit)
	return Content{ContentRef: ref}, err
}

// inMemory returns the bytes left in r when r is a reader over memory,
// whose Len is exactly what it has left to read.
func inMemory(r io.Reader) (int, bool) {
	switch r := r.(type) {
	case *strings.Reader:
		return r.Len(), true
	case *bytes.Reader:
		return r.Len(), true
	}
	return 0, false
}

// inlineContent is data kept whole, named by its SHA-256.
func inlineContent(data []byte) Content {
	sum := sha256.Sum256(data)
	return Content{ContentRef: domain.ContentRef{Hash: hex.EncodeToString(sum[:]), Size: int64(len(data))}, Inline: data}
}

func (s *Store) path(hash string) string {
	return filepath.Join(s.dir, hash[:2], hash[2:])
}

// Put stores r durably on its own (not with events), up to limit bytes.
func (s *Store) Put(r io.Reader, limit int64) (domain.ContentRef, error) {
	c, err := s.Ingest(r, limit)
	if err != nil || c.Inline == nil {
		return c.ContentRef, err
	}
	if err := s.small.PutBlob(c.Hash, c.Inline); err != nil {
		return domain.ContentRef{}, err
	}
	return c.ContentRef, nil
}

// putFile streams r into a file, hashing as it goes, so content of any size
// is held in memory only a buffer at a time. It fails with ErrTooLarge past
// limit bytes. The blob is fsync'd before putFile returns.
func (s *Store) putFile(r io.Reader, limit int64) (domain.ContentRef, error) {
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "put-*")
	if err != nil {
		return domain.ContentRef{}, fmt.Errorf("create temp blob: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, limit+1))
	if err != nil {
		return domain.ContentRef{}, fmt.Errorf("read content: %w", err)
	}
	if n > limit {
		return domain.ContentRef{}, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
	}
	if err := pebbledb.CheckSpace(s.dir, 0, s.reserve); err != nil {
		return domain.ContentRef{}, err
	}
	ref := domain.ContentRef{Hash: hex.EncodeToString(h.Sum(nil)), Size: n}
	if s.intact(ref.Hash) {
		return ref, nil
	}
	// Not stored, or stored damaged: the good copy just read replaces it,
	// so putting the same content again repairs it.
	if err := tmp.Sync(); err != nil {
		return domain.ContentRef{}, fmt.Errorf("sync blob: %w", err)
	}
	final := s.path(ref.Hash)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return domain.ContentRef{}, fmt.Errorf("create blob dir: %w", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return domain.ContentRef{}, fmt.Errorf("store blob: %w", err)
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return domain.ContentRef{}, err
	}
	return ref, nil
}

// Stat returns the stored blob's reference.
func (s *Store) Stat(hash string) (domain.ContentRef, error) {
	if !ValidHash(hash) {
		return domain.ContentRef{}, domain.Invalid("hash", "hash_invalid", "hash must be 64 lowercase hex digits")
	}
	if s.small != nil {
		if size, ok, err := s.small.BlobSize(hash); ok || err != nil {
			return domain.ContentRef{Hash: hash, Size: size}, err
		}
	}
	fi, err := os.Stat(s.path(hash))
	if errors.Is(err, os.ErrNotExist) {
		return domain.ContentRef{}, fmt.Errorf("blob %s: %w", hash, domain.ErrNotFound)
	}
	if err != nil {
		return domain.ContentRef{}, fmt.Errorf("stat blob: %w", err)
	}
	return domain.ContentRef{Hash: hash, Size: fi.Size()}, nil
}

func (s *Store) smallBlob(hash string) ([]byte, bool, error) {
	if s.small == nil {
		return nil, false, nil
	}
	return s.small.Blob(hash)
}

// Blob is open content, readable at any offset.
type Blob interface {
	io.ReadSeeker
	io.ReaderAt
	io.Closer
	Size() int64
}

// ReadAll reads and closes b. Content over limit bytes is an error: it is
// not read into memory.
func ReadAll(b Blob, limit int64) ([]byte, error) {
	defer b.Close()
	if b.Size() > limit {
		return nil, fmt.Errorf("blob of %d bytes is over the %d read at once", b.Size(), limit)
	}
	data := make([]byte, b.Size())
	if _, err := b.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read blob: %w", err)
	}
	return data, nil
}

type fileBlob struct {
	*os.File
	size int64
}

func (b fileBlob) Size() int64 { return b.size }

type bytesBlob struct{ *bytes.Reader }

func (bytesBlob) Close() error { return nil }

// Open opens a stored blob for reading at any offset.
func (s *Store) Open(hash string) (Blob, error) {
	if !ValidHash(hash) {
		return nil, domain.Invalid("hash", "hash_invalid", "hash must be 64 lowercase hex digits")
	}
	if data, ok, err := s.smallBlob(hash); ok || err != nil {
		if err == nil && hashOf(data) != hash {
			return nil, fmt.Errorf("blob %s: %w", hash, ErrCorrupt)
		}
		return bytesBlob{bytes.NewReader(data)}, err
	}
	f, err := os.Open(s.path(hash))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", hash, domain.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat blob: %w", err)
	}
	if err := s.checkFile(hash, f, fi); err != nil {
		f.Close()
		return nil, err
	}
	return fileBlob{File: f, size: fi.Size()}, nil
}

// intact reports whether the blob file for hash exists and holds its
// content (checked as Open checks it).
func (s *Store) intact(hash string) bool {
	f, err := os.Open(s.path(hash))
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	return err == nil && s.checkFile(hash, f, fi) == nil
}

// checkFile hashes a blob file the first time this process opens it (and
// again if its size or time changed), so damaged content is never served.
func (s *Store) checkFile(hash string, f *os.File, fi os.FileInfo) error {
	stamp := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	s.mu.Lock()
	ok := s.verified[hash] == stamp
	s.mu.Unlock()
	if ok {
		return nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size())); err != nil {
		return fmt.Errorf("check blob %s: %w", hash, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != hash {
		return fmt.Errorf("blob %s: %w", hash, ErrCorrupt)
	}
	s.mu.Lock()
	s.verified[hash] = stamp
	s.mu.Unlock()
	return nil
}

func hashOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// BlobLister is a Small store that can list its contents, for VerifyAll.
type BlobLister interface {
	EachBlob(fn func(hash string, data []byte) bool) error
}

// VerifyAll hashes every stored blob, small and file, and returns how many
// it checked and the hashes of those whose content no longer matches.
func (s *Store) VerifyAll() (checked int, damaged []string, err error) {
	if l, ok := s.small.(BlobLister); ok {
		err := l.EachBlob(func(hash string, data []byte) bool {
			checked++
			if hashOf(data) != hash {
				damaged = append(damaged, hash)
			}
			return true
		})
		if err != nil {
			return checked, damaged, err
		}
	}
	err = filepath.WalkDir(s.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != s.dir && d.Name() == "tmp" {
				return filepath.SkipDir
			}
			return nil
		}
		hash := filepath.Base(filepath.Dir(path)) + d.Name()
		if !ValidHash(hash) {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("open blob: %w", err)
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return fmt.Errorf("read blob %s: %w", hash, err)
		}
		checked++
		if hex.EncodeToString(h.Sum(nil)) != hash {
			damaged = append(damaged, hash)
		}
		return nil
	})
	if err != nil {
		return checked, damaged, fmt.Errorf("verify blobs: %w", err)
	}
	return checked, damaged, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}

// Mirror is a local Store filled on demand from a writer's blob endpoint:
// the read side keeps its own copy of each content it serves.
type Mirror struct {
	Local  *Store
	Client *http.Client
	URL    string // base URL of the writer, for GET {URL}/v1/blobs/{hash}
	Token  string
}

// Open returns the blob, fetching it from the writer first if needed. The
// fetched content is checked against its hash before it is kept.
func (m *Mirror) Open(ctx context.Context, hash string) (Blob, error) {
	f, err := m.Local.Open(hash)
	if !errors.Is(err, domain.ErrNotFound) && !errors.Is(err, ErrCorrupt) {
		return f, err
	}
	// Missing, or the replica's own copy damaged: the writer's copy is
	// fetched, checked and kept in its place.
	writer := client.Client{BaseURL: m.URL, Token: m.Token, HTTP: m.Client}
	body, err := writer.Open(ctx, "/v1/blobs/"+hash)
	var ce *client.Error
	switch {
	case errors.As(err, &ce) && ce.Status == http.StatusNotFound:
		return nil, fmt.Errorf("blob %s: %w", hash, domain.ErrNotFound)
	case errors.As(err, &ce) && ce.Code == "corrupt_content":
		return nil, fmt.Errorf("fetch blob %s: the writer's copy: %w", hash, ErrCorrupt)
	case err != nil:
		return nil, fmt.Errorf("fetch blob %s: %w", hash, err)
	}
	defer body.Close()
	ref, err := m.Local.Put(body, 1<<40)
	if err != nil {
		return nil, err
	}
	if ref.Hash != hash {
		return nil, fmt.Errorf("fetch blob %s: content hashes to %s: %w", hash, ref.Hash, ErrCorrupt)
	}
	return m.Local.Open(hash)
}

// BatchRequest asks the writer for many small contents at once.
type BatchRequest struct {
	Hashes []string `json:"hashes"`
}

// BatchResponse carries the small contents found; a hash that is unknown or
// too large to batch is left out, to be fetched on its own.
type BatchResponse struct {
	Blobs []BatchBlob `json:"blobs"`
}

// BatchBlob is one content of a batch.
type BatchBlob struct {
	Hash    string `json:"hash"`
	Content []byte `json:"content"` // base64 in JSON
}

// MaxBatch bounds the hashes of one batch request.
const MaxBatch = 512

// Batch returns the small contents among hashes that the store has.
func (s *Store) Batch(hashes []string) (BatchResponse, error) {
	out := BatchResponse{Blobs: []BatchBlob{}}
	for _, h := range hashes {
		if !ValidHash(h) {
			continue
		}
		data, ok, err := s.smallBlob(h)
		if err != nil {
			return out, err
		}
		if ok {
			out.Blobs = append(out.Blobs, BatchBlob{Hash: h, Content: data})
		}
	}
	return out, nil
}

// Prefetch fetches, in batches, the contents among hashes that are not kept
// locally yet, so that reading many files (a diff, a search) costs a few
// round trips instead of one each. Contents the writer does not batch are
// left to Open.
func (m *Mirror) Prefetch(ctx context.Context, hashes []string) error {
	seen := map[string]bool{}
	var missing []string
	for _, h := range hashes {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if _, err := m.Local.Stat(h); errors.Is(err, domain.ErrNotFound) {
			missing = append(missing, h)
		}
	}
	for len(missing) > 0 {
		n := min(len(missing), MaxBatch)
		if err := m.fetchBatch(ctx, missing[:n]); err != nil {
			return err
		}
		missing = missing[n:]
	}
	return nil
}

func (m *Mirror) fetchBatch(ctx context.Context, hashes []string) error {
	body, err := json.Marshal(BatchRequest{Hashes: hashes})
	if err != nil {
		return fmt.Errorf("encode batch: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+"/v1/blobs/batch", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("fetch blobs: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+m.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.Client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch blobs: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch blobs: writer answered %s", resp.Status)
	}
	var out BatchResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("decode blobs: %w", err)
	}
	for _, b := range out.Blobs {
		sum := sha256.Sum256(b.Content)
		if hex.EncodeToString(sum[:]) != b.Hash {
			return fmt.Errorf("fetch blobs: content of %s does not match its hash", b.Hash)
		}
		if _, err := m.Local.Put(bytes.NewReader(b.Content), InlineLimit); err != nil {
			return err
		}
	}
	return nil
}
