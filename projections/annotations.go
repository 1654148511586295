package projections

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// ContentFunc reads stored content by its SHA-256 (hex).
type ContentFunc func(ctx context.Context, hash string) ([]byte, error)

// Annotation is one annotation as of a point: where its lines are then.
type Annotation struct {
	ID        string    `json:"id"`
	Path      string    `json:"path"`
	LineStart int       `json:"line_start"`
	LineEnd   int       `json:"line_end"`
	Orphaned  bool      `json:"orphaned"`
	Kind      string    `json:"kind"`
	Body      string    `json:"body"`
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"created_at"`
	// CreatedSeq is the event that created it; Seq the last event that
	// changed it (its creation, a change of its file, a move).
	CreatedSeq uint64 `json:"created_seq"`
	Seq        uint64 `json:"seq"`
	// Hash is the content its line numbers refer to; empty once its file
	// was deleted.
	Hash     string `json:"content_hash"`
	Resolved bool   `json:"resolved,omitempty"`
}

// Annotations follows every annotation through the changes of its file,
// keeping each state it had so that it answers as of any point. The line
// diff that finds an anchor again (domain.LineMap) is deterministic, so
// every replica computes the same states from the same log.
//
// What happens to an annotation:
//   - its file written: the anchor is found again in the new content
//     (moved, kept, edited in place, or orphaned when its lines are gone);
//   - its file moved: it follows the file to the new path, lines unchanged;
//   - its file deleted: it is orphaned (kept and flagged, never dropped),
//     and stays orphaned even if the path is written again;
//   - resolved: it no longer shows from then on.
//
// It is safe for concurrent use.
type Annotations struct {
	mu     sync.RWMutex
	hist   map[string][]Annotation    // id → its states, oldest first
	byPath map[string]map[string]bool // path → ids of live annotations there now
}

// NewAnnotations returns an empty view.
func NewAnnotations() *Annotations {
	a := &Annotations{}
	a.reset()
	return a
}

func (a *Annotations) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.hist, a.byPath = map[string][]Annotation{}, map[string]map[string]bool{}
}

// load adds a stored state; states come in (id, seq) order.
func (a *Annotations) load(s Annotation) { a.commit([]Annotation{s}) }

// commit records new states, in sequence order.
func (a *Annotations) commit(states []Annotation) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range states {
		h := a.hist[s.ID]
		if n := len(h); n > 0 {
			if h[n-1].Seq >= s.Seq {
				continue // already applied (a batch re-applied after a failed commit)
			}
			a.unindex(h[n-1])
		}
		a.hist[s.ID] = append(h, s)
		if !s.Resolved {
			ids := a.byPath[s.Path]
			if ids == nil {
				ids = map[string]bool{}
				a.byPath[s.Path] = ids
			}
			ids[s.ID] = true
		}
	}
}

func (a *Annotations) unindex(s Annotation) {
	if ids := a.byPath[s.Path]; ids != nil {
		delete(ids, s.ID)
		if len(ids) == 0 {
			delete(a.byPath, s.Path)
		}
	}
}

// plan computes the states events give annotations, without changing the
// view: the caller stores them with the events, then commits them.
// content reads file contents when an annotated file changes.
func (a *Annotations) plan(ctx context.Context, events []domain.Event, content ContentFunc) ([]Annotation, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if len(a.byPath) == 0 && !hasAnnotationEvent(events) {
		return nil, nil // the common case costs one look at the event types
	}
	p := planner{a: a, latest: map[string]Annotation{}, paths: map[string]map[string]bool{}, content: content, maps: map[[2]string]domain.LineMap{}}
	for _, e := range events {
		if err := p.apply(ctx, e); err != nil {
			return nil, err
		}
	}
	return p.out, nil
}

func hasAnnotationEvent(events []domain.Event) bool {
	for _, e := range events {
		if strings.HasPrefix(e.Type, "annotation.") {
			return true
		}
	}
	return false
}

// planner is the view plus the states planned so far in one batch.
type planner struct {
	a       *Annotations
	latest  map[string]Annotation      // id → state planned in this batch
	paths   map[string]map[string]bool // path → ids moved there in this batch
	content ContentFunc
	maps    map[[2]string]domain.LineMap
	out     []Annotation
}

func (p *planner) state(id string) (Annotation, bool) {
	if s, ok := p.latest[id]; ok {
		return s, true
	}
	h := p.a.hist[id]
	if len(h) == 0 {
		return Annotation{}, false
	}
	return h[len(h)-1], true
}

func (p *planner) set(s Annotation) {
	p.latest[s.ID] = s
	p.out = append(p.out, s)
	if p.paths[s.Path] == nil {
		p.paths[s.Path] = map[string]bool{}
	}
	p.paths[s.Path][s.ID] = true
}

// on returns the live annotations on path now, sorted by id.
func (p *planner) on(path string) []Annotation {
	var out []Annotation
	seen := map[string]bool{}
	for _, set := range []map[string]bool{p.a.byPath[path], p.paths[path]} {
		for id := range set {
			if seen[id] {
				continue
			}
			seen[id] = true
			if s, ok := p.state(id); ok && s.Path == path && !s.Resolved {
				out = append(out, s)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (p *planner) apply(ctx context.Context, e domain.Event) error {
	switch e.Type {
	case domain.TypeAnnotationCreated:
		var c domain.AnnotationCreated
		if err := e.DecodePayload(&c); err != nil {
			return err
		}
		if _, ok := p.state(c.AnnotationID); ok {
			return nil
		}
		p.set(Annotation{ID: c.AnnotationID, Path: string(c.Path), LineStart: c.LineStart, LineEnd: c.LineEnd, Kind: c.Kind, Body: c.Body,
			Author: c.Author, CreatedAt: e.Time, CreatedSeq: e.Seq, Seq: e.Seq, Hash: c.Hash})
		return nil
	case domain.TypeAnnotationResolved:
		var r domain.AnnotationResolved
		if err := e.DecodePayload(&r); err != nil {
			return err
		}
		if s, ok := p.state(r.AnnotationID); ok && !s.Resolved {
			s.Resolved, s.Seq = true, e.Seq
			p.set(s)
		}
		return nil
	}
	path, isFile := strings.CutPrefix(e.StreamID, "file:")
	if !isFile || len(p.a.byPath[path]) == 0 && len(p.paths[path]) == 0 {
		return nil
	}
	live := p.on(path)
	if len(live) == 0 {
		return nil
	}
	c, _, err := domain.AsFileChange(e)
	if err != nil {
		return err
	}
	for _, s := range live {
		next := s
		next.Seq = e.Seq
		switch {
		case s.Hash == "":
			continue // orphaned by its file's deletion: later files at the path are others'
		case c.Deleted && c.MovedTo != "":
			next.Path = string(c.MovedTo) // the annotation follows its file
		case c.Deleted:
			next.Orphaned, next.Hash = true, ""
		case s.Orphaned || s.Hash == c.Hash:
			continue // nothing to find again
		case c.Size > domain.MaxAnnotatedBytes:
			next.Orphaned, next.Hash = true, c.Hash
		default:
			m, err := p.lineMap(ctx, s.Hash, c.Hash)
			if err != nil {
				return fmt.Errorf("follow annotation %s through event %d: %w", s.ID, e.Seq, err)
			}
			a := m.Follow(domain.Anchor{Start: s.LineStart, End: s.LineEnd})
			next.LineStart, next.LineEnd, next.Orphaned, next.Hash = a.Start, a.End, a.Orphaned, c.Hash
		}
		p.set(next)
	}
	return nil
}

func (p *planner) lineMap(ctx context.Context, from, to string) (domain.LineMap, error) {
	key := [2]string{from, to}
	if m, ok := p.maps[key]; ok {
		return m, nil
	}
	if p.content == nil {
		return domain.LineMap{}, fmt.Errorf("no content source to follow annotations")
	}
	old, err := p.content(ctx, from)
	if err != nil {
		return domain.LineMap{}, err
	}
	cur, err := p.content(ctx, to)
	if err != nil {
		return domain.LineMap{}, err
	}
	m := domain.NewLineMap(old, cur)
	p.maps[key] = m
	return m, nil
}

// List returns the annotations as of global sequence at (0 means now) on
// path ("" for every path), sorted by path, then line, then creation.
// Resolved annotations are left out; orphaned ones are in, flagged.
func (a *Annotations) List(at uint64, path string) []Annotation {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := []Annotation{}
	for _, h := range a.hist {
		i := len(h) - 1
		if at != 0 {
			i = sort.Search(len(h), func(i int) bool { return h[i].Seq > at }) - 1
		}
		if i < 0 {
			continue
		}
		s := h[i]
		if s.Resolved || path != "" && s.Path != path {
			continue
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if x.Path != y.Path {
			return x.Path < y.Path
		}
		if x.LineStart != y.LineStart {
			return x.LineStart < y.LineStart
		}
		if x.CreatedSeq != y.CreatedSeq {
			return x.CreatedSeq < y.CreatedSeq
		}
		return x.ID < y.ID
	})
	return out
}
