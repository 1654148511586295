package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	iofs "io/fs"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/blobstore"
	"github.com/lighthouse-ai/lighthouse/infra/fusefs"
	"github.com/lighthouse-ai/lighthouse/infra/httpapi"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// source serves the fuser's projection to the filesystem.
type source struct {
	model *projections.Store
	blobs *blobstore.Mirror
}

var _ fusefs.Source = (*source)(nil)

// notExist turns the domain's not-found into the filesystem's.
func notExist(err error) error {
	if errors.Is(err, domain.ErrNotFound) {
		return fmt.Errorf("%w: %v", iofs.ErrNotExist, err)
	}
	return err
}

func (s *source) Head() uint64 { return s.model.Head() }

func (s *source) Tree(_ context.Context, at uint64) ([]projections.FileInfo, error) {
	return s.model.Tree(at, "")
}

func (s *source) Files(_ context.Context, paths []string) ([]projections.FileInfo, error) {
	return s.model.Heads(paths)
}

func (s *source) File(_ context.Context, path string, at uint64) (projections.FileInfo, error) {
	fi, err := s.model.File(path, at)
	return fi, notExist(err)
}

func (s *source) OpenBlob(ctx context.Context, hash string) (fusefs.Blob, error) {
	b, err := s.blobs.Open(ctx, hash)
	return b, notExist(err)
}

func (s *source) StoredEvents(_ context.Context, after uint64, limit int, fn func(seq uint64, stored []byte) error) error {
	return s.model.EachStoredEvent(after, limit, fn)
}

func (s *source) SeqAtTime(_ context.Context, t time.Time) (uint64, error) {
	return s.model.SeqAtTime(t)
}

func (s *source) ChangeSetEdge(_ context.Context, seq uint64) (uint64, error) {
	return domain.ChangeSetEdge(seq, s.model.Event)
}

func (s *source) Snapshots(context.Context) (map[string]uint64, error) {
	snaps, err := s.model.Snapshots()
	out := make(map[string]uint64, len(snaps))
	for _, sn := range snaps {
		out[sn.Name] = sn.Seq
	}
	return out, err
}

func (s *source) Pending(context.Context) ([]fusefs.PendingReview, error) {
	views := s.model.Reviews(domain.ReviewPending)
	out := make([]fusefs.PendingReview, 0, len(views))
	for _, v := range views {
		// People read pending/: agents appear by name.
		named := struct {
			projections.ReviewView
			Requester      string   `json:"requester"`
			DecidedByNames []string `json:"decided_by_names"`
		}{ReviewView: v, Requester: s.model.AgentName(v.RequesterID)}
		for _, id := range v.DecidedBy {
			named.DecidedByNames = append(named.DecidedByNames, s.model.AgentName(id))
		}
		doc, err := json.MarshalIndent(named, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encode review: %w", err)
		}
		out = append(out, fusefs.PendingReview{ID: v.ReviewID, JSON: append(doc, '\n'), Time: v.RequestedAt})
	}
	return out, nil
}

func (s *source) Annotations(_ context.Context, at uint64) (map[string][]byte, error) {
	if at == 0 {
		at = s.model.Head()
	}
	byPath := map[string][]projections.Annotation{}
	for _, a := range s.model.Annotations().List(at, "") {
		byPath[a.Path] = append(byPath[a.Path], a)
	}
	out := make(map[string][]byte, len(byPath))
	for p, list := range byPath {
		// The same document as the reader's GET /v1/annotations?path=P&at=SEQ.
		doc, err := json.Marshal(httpapi.AnnotationsAnswer{At: at, Path: p, Annotations: list})
		if err != nil {
			return nil, fmt.Errorf("encode annotations: %w", err)
		}
		out[p] = append(doc, '\n')
	}
	return out, nil
}
