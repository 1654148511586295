// Package pebbledb opens Pebble databases the way every Lighthouse process
// wants them: logging through slog and with small key helpers.
package pebbledb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// InUseWait is how long Open waits for another process to close a
// database before it gives up.
const InUseWait = 10 * time.Second

// DefaultCacheMiB is the block cache of a database unless its process is
// told otherwise (the writer's log and the fuser keep less). Pebble's own
// default (8 MiB) makes a past tree a disk read per changed path once a
// projection grows past a few hundred MB.
const DefaultCacheMiB = 128

// MinCacheMiB and MaxCacheMiB bound the block cache Open accepts.
const (
	MinCacheMiB = 8
	MaxCacheMiB = 1 << 20 // 1 TiB: anything larger is a typo
)

// Sizes bound the memory Pebble holds outside the Go heap for one database.
type Sizes struct {
	// CacheMiB is the block cache, in MiB (MinCacheMiB to MaxCacheMiB). The
	// memtable is half of it, at most 32 MiB; Pebble keeps up to two
	// memtables before writes wait for a flush.
	CacheMiB int
}

// DefaultSizes are the sizes of a database whose process is not told
// otherwise.
func DefaultSizes() Sizes { return Sizes{CacheMiB: DefaultCacheMiB} }

// ErrSizes is returned by Open for sizes it cannot use.
var ErrSizes = errors.New("block cache size")

// Check returns ErrSizes, wrapped with the reason, for sizes Open refuses.
func (s Sizes) Check() error {
	_, _, err := s.options()
	return err
}

func (s Sizes) options() (cache int64, memTable uint64, err error) {
	if s.CacheMiB < MinCacheMiB {
		return 0, 0, fmt.Errorf("%w: %d MiB is under the minimum of %d MiB", ErrSizes, s.CacheMiB, MinCacheMiB)
	}
	if s.CacheMiB > MaxCacheMiB {
		return 0, 0, fmt.Errorf("%w: %d MiB is over the maximum of %d MiB", ErrSizes, s.CacheMiB, MaxCacheMiB)
	}
	cache = int64(s.CacheMiB) << 20
	return cache, uint64(min(cache/2, 32<<20)), nil
}

// Durability says which of a database's commits a crash keeps.
type Durability int

const (
	// Logged databases write every commit to Pebble's write-ahead log
	// before applying it: a commit survives a kill of the process, and with
	// pebble.Sync a crash of the machine. The writer's event log is one.
	Logged Durability = iota
	// Derived databases have no write-ahead log. A crash keeps the commits
	// up to the last flush of a memtable, which is always a prefix of them
	// (Pebble flushes its memtables oldest first), and loses the rest; a
	// commit with pebble.Sync fails, and Close does not flush (call
	// DB.Flush first). For state rebuilt from elsewhere, such as a
	// replica's projection, which resumes from the position it kept: the
	// log was about half the bytes a replica wrote as it caught up, and
	// its writes were in every commit's path (docs/bench-perf.txt item 30).
	Derived
)

// DerivedL0CompactionThreshold is a Derived database's L0 compaction
// threshold, twice Pebble's default of 4: Pebble compacts L0 once its
// sublevels reach half of it, 4 instead of 2. Writes stop at three times
// it (24 sublevels), as in Pebble's defaults (4 and 12).
const DerivedL0CompactionThreshold = 8

// Open opens (creating if needed) the Pebble database in dir, with the
// given sizes (ErrSizes when they are too small) and durability. A Derived
// database still replays the write-ahead log a Logged one left.
func Open(dir string, sizes Sizes, durability Durability, log *slog.Logger) (*pebble.DB, error) {
	cache, memTable, err := sizes.options()
	if err != nil {
		return nil, err
	}
	plog := log.With("component", "pebble")
	if err := tuneMalloc(); err != nil {
		plog.Warn("C allocator left at its defaults: freed Pebble memory may stay resident", "err", err)
	}
	opts := &pebble.Options{
		Logger:       slogger{plog},
		CacheSize:    cache,
		MemTableSize: memTable,
		DisableWAL:   durability == Derived,
		// Pebble's default makes damaged data fatal (a panic in whatever
		// goroutine read it). The read that found it fails with a
		// corruption error instead, which the process reports (not ready,
		// corrupt_content, a rebuild) and survives.
		EventListener: &pebble.EventListener{DataCorruption: func(info pebble.DataCorruptionInfo) {
			plog.Error("damaged data found", "file", info.Path, "err", info.Details)
		}},
	}
	newBackgroundErrors(plog).listen(opts.EventListener)
	// A bloom filter in every table above the last level (10 bits a key,
	// ~1 % false positives): a lookup of a key that is not there — the
	// writer's check for new content, a command id seen for the first time
	// — otherwise reads a data block in every level, and content makes
	// those blocks too many to stay cached (docs/bench-perf.txt). Get never
	// reads the last level's filters (Pebble's IterOptions.UseL6Filters is
	// off for it), so none are written there: a missing key still costs a
	// seek in the last level.
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10) // L1–L5 inherit it
	opts.Levels[len(opts.Levels)-1].FilterPolicy = pebble.NoFilterPolicy
	if durability == Derived {
		// A replica writes as fast as it can while it catches up, and
		// compactions were a third of its CPU. Each L0 compaction rewrites
		// the base level's tables it overlaps, so compacting twice as many
		// L0 sublevels at once rewrites them half as often:
		// BenchmarkCatchUpPage compacts ~40 % fewer bytes an event
		// (docs/bench-perf.txt item 33).
		// Reads merge up to twice as many L0 sublevels; the writer's
		// lookups on the gate's path keep Pebble's defaults.
		opts.L0CompactionThreshold = DerivedL0CompactionThreshold
		opts.L0StopWritesThreshold = 3 * DerivedL0CompactionThreshold
	}
	// Pebble's LOCK file held means a process that is still running: often
	// one of a stopped `lighthouse up` that is still closing its database,
	// so Open waits for it a while before giving up.
	inUse := func(err error) bool { return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) }
	db, err := pebble.Open(dir, opts)
	if inUse(err) {
		plog.Info("waiting for another process to close the database", "dir", dir, "up_to", InUseWait)
		for deadline := time.Now().Add(InUseWait); inUse(err) && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			db, err = pebble.Open(dir, opts)
		}
	}
	if inUse(err) {
		return nil, fmt.Errorf("open pebble at %s: another process is using it (a Lighthouse process of this data directory still running?), and it did not close it within %s: %w", dir, InUseWait, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open pebble at %s: %w", dir, err)
	}
	return db, nil
}

// Get returns a copy of the value at key, or ok=false when it is absent.
func Get(db pebble.Reader, key []byte) (val []byte, ok bool, err error) {
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get %q: %w", key, err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), true, nil
}

// Uint64 encodes v big-endian so keys sort numerically.
func Uint64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, v)
}

// Key joins a prefix and parts into one key.
func Key(prefix string, parts ...[]byte) []byte {
	k := []byte(prefix)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

// PrefixEnd returns the smallest key greater than every key with prefix.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// slogger adapts slog to Pebble's logger. Pebble's routine messages go to
// debug so an idle process stays quiet.
type slogger struct{ log *slog.Logger }

func (l slogger) Infof(format string, args ...any)  { l.log.Debug(fmt.Sprintf(format, args...)) }
func (l slogger) Errorf(format string, args ...any) { l.log.Error(fmt.Sprintf(format, args...)) }
func (l slogger) Fatalf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
	panic(fmt.Sprintf(format, args...))
}

// BlobPrefix is where small content is kept by hash, in the writer's log
// and in each replica's projection.
const BlobPrefix = "b/"

// Blobs keeps small content by SHA-256 under BlobPrefix.
type Blobs struct {
	DB *pebble.DB
	// Write says how a lone PutBlob is written: pebble.Sync where the blob
	// must be durable, pebble.NoSync for a cache.
	Write *pebble.WriteOptions
	// Dir and Reserve, when Reserve is set, refuse a PutBlob that would
	// leave less than Reserve bytes free on Dir's disk (ErrNoSpace).
	Dir     string
	Reserve uint64
}

// Blob returns the content with hash.
func (b Blobs) Blob(hash string) ([]byte, bool, error) {
	return Get(b.DB, Key(BlobPrefix, []byte(hash)))
}

// BlobSize returns the size in bytes of the content with hash, without
// copying the content out of Pebble.
func (b Blobs) BlobSize(hash string) (size int64, ok bool, err error) {
	v, closer, err := b.DB.Get(Key(BlobPrefix, []byte(hash)))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("get blob %s: %w", hash, err)
	}
	size = int64(len(v))
	return size, true, closer.Close()
}

// PutBlob stores content under its hash.
func (b Blobs) PutBlob(hash string, data []byte) error {
	if err := CheckSpace(b.Dir, 2*uint64(len(data)), b.Reserve); err != nil {
		return err
	}
	if err := b.DB.Set(Key(BlobPrefix, []byte(hash)), data, b.Write); err != nil {
		return fmt.Errorf("store blob: %w", err)
	}
	return nil
}

// EachBlob calls fn with every stored blob until fn returns false.
func (b Blobs) EachBlob(fn func(hash string, data []byte) bool) error {
	it, err := b.DB.NewIter(&pebble.IterOptions{LowerBound: []byte(BlobPrefix), UpperBound: PrefixEnd([]byte(BlobPrefix))})
	if err != nil {
		return fmt.Errorf("scan blobs: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if !fn(string(it.Key()[len(BlobPrefix):]), it.Value()) {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("scan blobs: %w", err)
	}
	return nil
}
