package watcher

import (
	"github.com/lighthouse-ai/lighthouse/domain"
)

// Markers put in the correlation id of the watcher's own change sets, so
// the reader (GET /v1/events) shows which ones imported or reconciled.
const (
	BaselineMarker  = "watcher:baseline-import"
	ReconcileMarker = "watcher:reconcile"
)

// logFile is a path's state in the log.
type logFile struct {
	Exists  bool
	Hash    string
	Size    int64
	Mode    uint32
	Version uint64 // the path's stream version; kept after a delete
}

// logState is the files of the log as the watcher last read them, folded
// from the writer's GET /v1/events.
type logState struct {
	files    map[string]logFile
	cursor   uint64             // last applied sequence
	baseline bool               // a baseline import is in the log
	over     map[string]logFile // spooled changes not yet in the log
}

func newLogState() *logState { return &logState{files: map[string]logFile{}} }

// apply folds one event; it ignores events at or before the cursor.
func (s *logState) apply(e domain.Event) error {
	if e.Seq <= s.cursor {
		return nil
	}
	s.cursor = e.Seq
	c, ok, err := domain.AsFileChange(e)
	if err != nil || !ok {
		return err
	}
	if e.CorrelationID == BaselineMarker {
		s.baseline = true
	}
	f := s.files[string(c.Path)]
	f.Version = e.StreamVersion
	if c.Deleted {
		f.Exists, f.Hash, f.Size, f.Mode = false, "", 0, 0
	} else {
		f.Exists, f.Hash, f.Size, f.Mode = true, c.Hash, c.Size, c.Mode
	}
	s.files[string(c.Path)] = f
	return nil
}

// get returns a path's state (zero: never in the log).
// get returns a path's state (zero: never in the log), spooled changes
// included.
func (s *logState) get(p string) logFile {
	if f, ok := s.over[p]; ok {
		return f
	}
	return s.files[p]
}

// logged returns a path's state in the log itself.
func (s *logState) logged(p string) logFile { return s.files[p] }

// assume records ops that were spooled, so they are not planned again.
func (s *logState) assume(ops []Op) {
	if s.over == nil {
		s.over = map[string]logFile{}
	}
	for _, op := range ops {
		switch op.Op {
		case opWrite:
			s.over[op.Path] = logFile{Exists: true, Hash: op.Hash, Size: op.Size, Mode: op.Mode, Version: s.get(op.Path).Version}
		case opDelete:
			s.over[op.Path] = logFile{Version: s.get(op.Path).Version}
		case opMove:
			s.over[op.Path] = logFile{Version: s.get(op.Path).Version}
			s.over[op.To] = logFile{Exists: true, Hash: op.Hash, Size: op.Size, Mode: op.Mode, Version: s.get(op.To).Version}
		}
	}
}

// paths returns every path the log (with spooled changes) has as existing.
func (s *logState) paths() []string {
	var out []string
	for p := range s.files {
		if s.get(p).Exists {
			out = append(out, p)
		}
	}
	for p, f := range s.over {
		if _, ok := s.files[p]; !ok && f.Exists {
			out = append(out, p)
		}
	}
	return out
}

// known returns every path the log has ever had, deleted ones too.
func (s *logState) known() []string {
	out := make([]string, 0, len(s.files))
	for p := range s.files {
		out = append(out, p)
	}
	return out
}
