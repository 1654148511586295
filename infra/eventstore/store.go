// Package eventstore is the writer's durable event log on Pebble: a gap-free,
// hash-chained sequence of events with per-stream versions, idempotent
// commands and group commit.
package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/metrics"
	"github.com/lighthouse-ai/lighthouse/infra/pebbledb"
)

// Key layout. Every write of one append goes into one Pebble batch, so the
// log, the stream index, the command record and the head move together.
const (
	prefixEvent   = "e/" // e/<seq> → event JSON
	prefixVersion = "v/" // v/<stream> → stream version
	prefixStream  = "s/" // s/<stream>\x00<version> → seq
	prefixCommand = "c/" // c/<agent>\x00<command id> → Result JSON
	keyHead       = "m/head"
	keyPublished  = "m/published" // the outbox cursor: last seq handed to the bus
)

// maxGroup bounds how many appends share one fsync.
const maxGroup = 512

// ErrClosed is returned by appends after Close.
var ErrClosed = errors.New("event store closed")

// Store is the event log. It is safe for concurrent use.
type Store struct {
	dir     string
	reserve uint64 // bytes the disk must keep free after an append
	sizes   pebbledb.Sizes
	db      *pebble.DB
	log     *slog.Logger
	now     func() time.Time
	reqs    chan *pending
	done    chan struct{}
	stopped chan struct{}
	metrics *metrics.Store

	damage atomic.Pointer[error] // the first sign that the store's files are damaged

	mu       sync.RWMutex
	head     uint64
	lastHash string
	lastTime time.Time // event times never go backwards, even if the clock does
	notify   chan struct{}
	// observers are the views applied on commit (see Observe), under mu.
	observers []Observer
	// streams is every stream's head, loaded at open and moved after each
	// commit, under mu: an append's version checks and its guards' last
	// events read memory, not Pebble, where a new stream's version (a
	// missing key) was a lookup in every level of the tree.
	streams map[string]streamHead
}

// streamHead is what the log keeps in memory of one stream.
type streamHead struct {
	version uint64
	seq     uint64 // of the stream's newest event; 0 until an append after open
	damaged bool   // its version record does not decode
}

type pending struct {
	ctx   context.Context
	req   domain.AppendRequest
	reply chan appendReply
}

type appendReply struct {
	res domain.AppendResult
	err error
}

type headRecord struct {
	Seq  uint64    `json:"seq"`
	Hash string    `json:"hash"`
	Time time.Time `json:"time"`
}

// Option configures a Store.
type Option func(*Store)

// WithReserve makes appends fail with pebbledb.ErrNoSpace, before anything
// is written, while the disk has less than bytes free: the database keeps
// room for its own work (the WAL, flushes, the outbox cursor) and never
// meets a full disk mid-commit, which Pebble cannot survive.
func WithReserve(bytes uint64) Option { return func(s *Store) { s.reserve = bytes } }

// DefaultCacheMiB is the log's Pebble block cache unless its process is
// told otherwise: half of pebbledb.DefaultCacheMiB. Appends read stream
// heads from memory, so what the cache serves them is the check for new
// content and command ids (bloom filters spare those every level but the
// last) and recent events. On a 1M-event log (docs/bench-perf.txt), 64 MiB
// with the filters built faster than 128 MiB without them, with the
// writer's peak RSS ~320 MiB against ~500; 32 MiB cost a quarter of the
// build rate.
const DefaultCacheMiB = 64

// WithSizes sizes the log's Pebble block cache and memtables (default
// DefaultCacheMiB).
func WithSizes(sizes pebbledb.Sizes) Option { return func(s *Store) { s.sizes = sizes } }

// WithMetrics records append latency, group-commit sizes and fsync times in m.
func WithMetrics(m *metrics.Store) Option { return func(s *Store) { s.metrics = m } }

// Open opens the log in dir and starts its committer.
func Open(dir string, log *slog.Logger, opts ...Option) (*Store, error) {
	s := &Store{
		dir:     dir,
		sizes:   pebbledb.Sizes{CacheMiB: DefaultCacheMiB},
		log:     log,
		now:     time.Now,
		reqs:    make(chan *pending, maxGroup),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
		notify:  make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(s)
	}
	db, err := pebbledb.Open(dir, s.sizes, pebbledb.Logged, log)
	if err != nil {
		return nil, err
	}
	s.db = db
	raw, ok, err := pebbledb.Get(db, []byte(keyHead))
	if err != nil {
		db.Close()
		return nil, err
	}
	if ok {
		var h headRecord
		if err := json.Unmarshal(raw, &h); err != nil {
			db.Close()
			return nil, fmt.Errorf("decode log head: %w", err)
		}
		s.head, s.lastHash, s.lastTime = h.Seq, h.Hash, h.Time
		// The head event must be readable and be the one the head names.
		if e, err := s.Event(h.Seq); err != nil {
			s.noteDamage(err)
		} else if e.Hash != h.Hash {
			s.noteDamage(fmt.Errorf("%w: event %d has hash %.12s, the head record says %.12s", errDamaged, h.Seq, e.Hash, h.Hash))
		}
	}
	if err := s.loadStreams(); err != nil {
		db.Close()
		return nil, err
	}
	go s.commitLoop()
	return s, nil
}

// noteDamage records err when it shows that the store's files are damaged
// (Pebble finds corruption, or a record wrapping errDamaged), so that Ready
// reports it; other errors are ignored. It returns err.
func (s *Store) noteDamage(err error) error {
	if err == nil || !(pebble.IsCorruptionError(err) || errors.Is(err, errDamaged)) {
		return err
	}
	if s.damage.CompareAndSwap(nil, &err) {
		s.log.Error("the log's store is damaged", "err", err)
	}
	return err
}

// errDamaged marks a stored record that no longer decodes or no longer
// matches what refers to it.
var errDamaged = errors.New("stored record is damaged")

// Ready reports whether the store is sound: nil, or why it is not (its
// files are damaged; restore them from a backup).
func (s *Store) Ready() error {
	if p := s.damage.Load(); p != nil {
		return fmt.Errorf("the log's store is damaged: %w", *p)
	}
	return nil
}

// Close stops the committer and closes the database.
func (s *Store) Close() error {
	close(s.done)
	<-s.stopped
	return s.db.Close()
}

// Head returns the sequence and hash of the last durable event.
func (s *Store) Head() (uint64, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.head, s.lastHash
}

// Observer is an in-memory view kept current with the log's appends.
type Observer interface {
	Apply(e domain.Event) error
}

// Observe adds views that see every event appended from now on: each event
// is applied to each of them, in sequence order, on the committing
// goroutine, once it is durable and before it is published or its append
// returns. So a view never lags what a replica or the appending caller can
// already see (a message seen on the reader is in the writer's view when
// the recipient marks it read). Apply must be quick, must not append, and
// must not wait for anything that waits for an append. An Apply error is
// logged: the event is durable either way.
func (s *Store) Observe(views ...Observer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observers = append(append([]Observer(nil), s.observers...), views...)
}

// Appended returns a channel that receives a value after appends; it is
// meant for one consumer (the outbox relay), which rereads Head after waking.
func (s *Store) Appended() <-chan struct{} { return s.notify }

// Append durably appends req's events as one atomic unit. It returns once the
// events are fsync'd. A failed expectation returns *domain.ConflictError.
func (s *Store) Append(ctx context.Context, req domain.AppendRequest) (domain.AppendResult, error) {
	start := time.Now()
	p := &pending{ctx: ctx, req: req, reply: make(chan appendReply, 1)}
	select {
	case s.reqs <- p:
	case <-s.done:
		return domain.AppendResult{}, ErrClosed
	case <-ctx.Done():
		return domain.AppendResult{}, ctx.Err()
	}
	// Once queued the append may commit; wait for the outcome even if ctx
	// ends, so a caller never reports failure for a durable event.
	select {
	case r := <-p.reply:
		s.metrics.ObserveAppend(time.Since(start))
		return r.res, r.err
	case <-s.stopped:
		return domain.AppendResult{}, ErrClosed
	}
}

// commitLoop is the single writer: it takes every queued append, checks it,
// seals its events in order and commits the whole group with one fsync.
func (s *Store) commitLoop() {
	defer close(s.stopped)
	for {
		var first *pending
		select {
		case first = <-s.reqs:
		case <-s.done:
			return
		}
		group := []*pending{first}
	drain:
		for len(group) < maxGroup {
			select {
			case p := <-s.reqs:
				group = append(group, p)
			default:
				break drain
			}
		}
		s.commitGroup(group)
	}
}

// groupBatchSize estimates the bytes of a group's batch, over rather than
// under: per event its JSON (~700 bytes and its stream id) and its two
// stream keys (each holding the stream id), per content its bytes and key,
// per request its command record. Grown from Pebble's 1 KiB by doubling,
// the batch of a group of change sets (megabytes of contents) was copied a
// dozen times and kept up to twice its size. The estimate stops at
// maxBatchEstimate: it counts content and commands the group may find
// already stored (a retried change set writes almost nothing), and a batch
// past it grows as before.
func groupBatchSize(group []*pending) int {
	n := 0
	for _, p := range group {
		n += 128
		for _, d := range p.req.Drafts {
			n += 704 + 3*len(d.StreamID)
		}
		for _, data := range p.req.Blobs {
			n += len(data) + 128
		}
	}
	return min(n, maxBatchEstimate)
}

// maxBatchEstimate bounds groupBatchSize: room for a group of several
// change sets of megabytes (the time-travel bench's four clients commit
// ~16 MB groups), half of the largest request body.
const maxBatchEstimate = 32 << 20

func (s *Store) commitGroup(group []*pending) {
	s.mu.RLock()
	head, lastHash, lastTime := s.head, s.lastHash, s.lastTime
	s.mu.RUnlock()

	g := &groupState{
		store:    s,
		batch:    s.db.NewBatchWithSize(groupBatchSize(group)),
		versions: map[string]uint64{},
		commands: map[string]commandRecord{},
		last:     map[string]domain.Event{},
		head:     head,
		lastHash: lastHash,
		lastTime: lastTime,
	}
	defer g.batch.Close()
	replies := make([]appendReply, len(group))
	for i, p := range group {
		if err := p.ctx.Err(); err != nil {
			replies[i].err = err
			continue
		}
		replies[i].res, replies[i].err = g.add(p.req)
	}
	if g.head != head {
		rec, _ := json.Marshal(headRecord{Seq: g.head, Hash: g.lastHash, Time: g.lastTime})
		err := g.batch.Set([]byte(keyHead), rec, nil)
		if err == nil {
			// Twice the batch: its WAL record, then the flushed table.
			err = pebbledb.CheckSpace(s.dir, 2*uint64(g.batch.Len()), s.reserve)
		}
		if err == nil {
			t := time.Now()
			err = g.batch.Commit(pebble.Sync)
			s.metrics.ObserveCommit(len(group), time.Since(t))
		}
		if pebbledb.IsNoSpace(err) {
			s.log.Warn("append refused: disk full", "err", err)
		} else if err != nil {
			s.log.Error("commit failed", "err", err)
		}
		if err != nil {
			for i := range replies {
				if replies[i].err == nil {
					replies[i] = appendReply{err: fmt.Errorf("commit events: %w", err)}
				}
			}
		} else {
			// The views first, then the head and the stream heads: the
			// log's readers (the replicas' backfill, the relay) see no
			// event before the writer's own views have it, and a view read
			// after a stream's version is at least that new (see
			// command.ChangeAgentHandler).
			s.mu.RLock()
			views := s.observers
			s.mu.RUnlock()
			for _, r := range replies {
				if r.err != nil {
					continue
				}
				for _, e := range r.res.Events {
					for _, v := range views {
						if err := v.Apply(e); err != nil {
							s.log.Error("apply an appended event to a view", "seq", e.Seq, "type", e.Type, "err", err)
						}
					}
				}
			}
			s.mu.Lock()
			s.head, s.lastHash, s.lastTime = g.head, g.lastHash, g.lastTime
			for stream, v := range g.versions {
				s.streams[stream] = streamHead{version: v, seq: g.last[stream].Seq}
			}
			s.mu.Unlock()
			select {
			case s.notify <- struct{}{}:
			default:
			}
		}
	}
	for i, p := range group {
		p.reply <- replies[i]
	}
}

// groupState is what one commit group has decided so far, overlaying the
// database for the appends later in the same group.
type groupState struct {
	store    *Store
	batch    *pebble.Batch
	versions map[string]uint64
	commands map[string]commandRecord
	last     map[string]domain.Event // each stream's newest event of this group
	head     uint64
	lastHash string
	lastTime time.Time
}

// commandRecord is what the log keeps of a command with a command id: its
// result and what it asked for.
type commandRecord struct {
	FirstSeq    uint64 `json:"first_seq"`
	LastSeq     uint64 `json:"last_seq"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// duplicate answers a command id seen before: its first result, or
// command_id_reused when it asked for something else. Records written
// before fingerprints existed match any request.
func (r commandRecord) duplicate(req domain.AppendRequest) (domain.AppendResult, error) {
	if r.Fingerprint != "" && req.Fingerprint != "" && r.Fingerprint != req.Fingerprint {
		return domain.AppendResult{}, &domain.RuleError{Code: "command_id_reused",
			Message: fmt.Sprintf("command_id %q was used for another request (at seq %d)", req.CommandID, r.LastSeq)}
	}
	return domain.AppendResult{FirstSeq: r.FirstSeq, LastSeq: r.LastSeq, Duplicate: true}, nil
}

// LastEvent is the stream's newest event, this group's included.
func (g *groupState) LastEvent(stream string) (domain.Event, bool, error) {
	if e, ok := g.last[stream]; ok {
		return e, true, nil
	}
	return g.store.LastEvent(stream)
}

// EachStream lists the streams with prefix, those this group created included.
func (g *groupState) EachStream(prefix string, fn func(string) bool) error {
	seen := map[string]bool{}
	for stream := range g.last {
		if strings.HasPrefix(stream, prefix) {
			seen[stream] = true
			if !fn(stream) {
				return nil
			}
		}
	}
	return g.store.EachStream(prefix, func(stream string) bool { return seen[stream] || fn(stream) })
}

func (g *groupState) version(stream string) (uint64, error) {
	if v, ok := g.versions[stream]; ok {
		return v, nil
	}
	return g.store.StreamVersion(stream)
}

func (g *groupState) add(req domain.AppendRequest) (domain.AppendResult, error) {
	var cmdKey []byte
	if req.CommandID != "" {
		cmdKey = pebbledb.Key(prefixCommand, []byte(req.Meta.AgentID), []byte{0}, []byte(req.CommandID))
		if r, ok := g.commands[string(cmdKey)]; ok {
			return r.duplicate(req)
		}
		if r, ok, err := g.store.commandRecord(cmdKey); err != nil {
			return domain.AppendResult{}, err
		} else if ok {
			return r.duplicate(req)
		}
	}
	for _, x := range req.Expect {
		cur, err := g.version(x.StreamID)
		if err != nil {
			return domain.AppendResult{}, err
		}
		if cur != x.Version {
			return domain.AppendResult{}, &domain.ConflictError{StreamID: x.StreamID, Expected: x.Version, Current: cur}
		}
	}
	if len(req.Drafts) == 0 {
		// A command that changes nothing (its writes are of what the files
		// hold) once its expectations hold: no event, no command record.
		return domain.AppendResult{Unchanged: true}, nil
	}
	if req.Guard != nil {
		if err := req.Guard(g); err != nil {
			return domain.AppendResult{}, err
		}
	}
	at := g.store.now()
	if at.Before(g.lastTime) {
		at = g.lastTime
	}
	events := make([]domain.Event, 0, len(req.Drafts))
	versions := map[string]uint64{}
	head, prev := g.head, g.lastHash
	set := domain.SpanOf(head, len(req.Drafts))
	for _, d := range req.Drafts {
		v, ok := versions[d.StreamID]
		if !ok {
			var err error
			if v, err = g.version(d.StreamID); err != nil {
				return domain.AppendResult{}, err
			}
		}
		v++
		head++
		e, err := d.Seal(head, v, at, req.Meta, prev, set)
		if err != nil {
			return domain.AppendResult{}, err
		}
		versions[d.StreamID] = v
		prev = e.Hash
		events = append(events, e)
	}
	// Content already stored is not written again (compactions would carry
	// every copy).
	newBlobs := map[string][]byte{}
	for hash, data := range req.Blobs {
		_, ok, err := g.store.Blobs().Blob(hash)
		if err != nil {
			return domain.AppendResult{}, err
		}
		if !ok {
			newBlobs[hash] = data
		}
	}
	raws := make([][]byte, len(events))
	for i, e := range events {
		// The round trip check: an event that would not decode to its own
		// hash is refused, never appended (it would break the chain).
		raw, err := e.Encode()
		if err != nil {
			return domain.AppendResult{}, err
		}
		raws[i] = raw
	}
	// Everything is decided and encoded: only now touch the batch, so a
	// request that fails leaves nothing in it.
	for i, e := range events {
		g.batch.Set(eventKey(e.Seq), raws[i], nil)
		g.batch.Set(streamKey(e.StreamID, e.StreamVersion), pebbledb.Uint64(e.Seq), nil)
	}
	for hash, data := range newBlobs {
		g.batch.Set(pebbledb.Key(pebbledb.BlobPrefix, []byte(hash)), data, nil)
	}
	for stream, v := range versions {
		g.batch.Set(pebbledb.Key(prefixVersion, []byte(stream)), pebbledb.Uint64(v), nil)
		g.versions[stream] = v
	}
	res := domain.AppendResult{FirstSeq: events[0].Seq, LastSeq: head, Events: events}
	if cmdKey != nil {
		rec := commandRecord{FirstSeq: res.FirstSeq, LastSeq: res.LastSeq, Fingerprint: req.Fingerprint}
		raw, _ := json.Marshal(rec)
		g.batch.Set(cmdKey, raw, nil)
		g.commands[string(cmdKey)] = rec
	}
	for _, e := range events {
		g.last[e.StreamID] = e
	}
	g.head, g.lastHash, g.lastTime = head, prev, at
	return res, nil
}

func (s *Store) commandRecord(key []byte) (commandRecord, bool, error) {
	raw, ok, err := pebbledb.Get(s.db, key)
	if err != nil || !ok {
		return commandRecord{}, false, err
	}
	var r commandRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return commandRecord{}, false, fmt.Errorf("decode command record: %w", err)
	}
	return r, true, nil
}

func eventKey(seq uint64) []byte { return pebbledb.Key(prefixEvent, pebbledb.Uint64(seq)) }

func streamKey(stream string, version uint64) []byte {
	return pebbledb.Key(prefixStream, []byte(stream), []byte{0}, pebbledb.Uint64(version))
}
