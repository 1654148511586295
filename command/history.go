package command

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// HistoryLog is what snapshots and restores read of the writer's log.
type HistoryLog interface {
	domain.PointIndex
	Head() (uint64, string)
	Streams(prefix string) ([]string, error)
	StreamAt(stream string, seq uint64) (domain.Event, bool, error)
	LastEvent(stream string) (domain.Event, bool, error)
}

// CreateSnapshot names the current point in history.
type CreateSnapshot struct {
	Meta        domain.Metadata
	Name        string
	Description string
}

// Restore brings files back as they were at a point, as new events.
type Restore struct {
	CommandID string
	Meta      domain.Metadata
	Point     domain.Point
	Paths     []domain.Path // files or directories; none means the whole project
	Exclude   []domain.Path // files or directories left out
}

// RestoreResult says what a restore changed.
type RestoreResult struct {
	domain.AppendResult
	Point    uint64 // the resolved point
	Restored int    // files written back
	Deleted  int    // files that did not exist at the point
}

// maxRestoreOps bounds one restore's atomic change set.
const maxRestoreOps = 100000

// HistoryHandler handles snapshots and restores. History is never
// rewritten: a restore appends the changes that bring the files back.
type HistoryHandler struct {
	log   EventLog
	files ChangeFilesHandler
	hist  HistoryLog
	now   func() time.Time
}

// NewHistoryHandler returns a handler appending to log and reading hist.
func NewHistoryHandler(log EventLog, hist HistoryLog) *HistoryHandler {
	return &HistoryHandler{log: log, files: NewChangeFilesHandler(log), hist: hist, now: time.Now}
}

// Snapshot records the current head under a name. A taken name is a
// *domain.RuleError "snapshot_exists".
func (h *HistoryHandler) Snapshot(ctx context.Context, cmd CreateSnapshot) (domain.AppendResult, error) {
	if err := domain.ValidateSnapshotName("name", cmd.Name); err != nil {
		return domain.AppendResult{}, err
	}
	// Words that read as the head in the CLI and the console ("diff now")
	// are not names (a snapshot made with one before stays readable).
	if n := strings.ToLower(cmd.Name); n == "now" || n == "head" {
		return domain.AppendResult{}, domain.Invalid("name", "name_reserved", "snapshot name %q reads as the head; choose another", cmd.Name)
	}
	if len(cmd.Description) > 4096 {
		return domain.AppendResult{}, domain.Invalid("description", "description_too_long", "description is at most 4096 bytes")
	}
	head, _ := h.hist.Head()
	d := domain.Draft{StreamID: domain.SnapshotStreamID(cmd.Name), Type: domain.TypeSnapshotCreated, SchemaVersion: 1,
		Payload: domain.SnapshotCreated{Name: cmd.Name, Description: cmd.Description, Seq: head}}
	res, err := h.log.Append(ctx, domain.AppendRequest{Meta: cmd.Meta, Expect: []domain.Expectation{{StreamID: d.StreamID}}, Drafts: []domain.Draft{d}})
	var conflict *domain.ConflictError
	if errors.As(err, &conflict) {
		return res, &domain.RuleError{Code: "snapshot_exists", Message: fmt.Sprintf("a snapshot named %q exists", cmd.Name)}
	}
	return res, err
}

// Restore writes back, in one atomic change set, every file (under Paths)
// whose state differs from the point's, and deletes files that did not
// exist then. Each change expects the file's current version, so a
// concurrent edit makes the restore fail rather than be lost.
func (h *HistoryHandler) Restore(ctx context.Context, cmd Restore) (RestoreResult, error) {
	head, _ := h.hist.Head()
	at, err := cmd.Point.Resolve("point", h.hist, head, h.now())
	if err != nil {
		return RestoreResult{}, err
	}
	streams, err := h.hist.Streams("file:")
	if err != nil {
		return RestoreResult{}, err
	}
	out := RestoreResult{Point: at}
	var ops []FileOp
	matched := false
	var linked []string // the excluded paths (symlinks) the requested paths' files are below
	for _, stream := range streams {
		path := domain.Path(strings.TrimPrefix(stream, "file:"))
		if !under(path, cmd.Paths) {
			continue
		}
		if len(cmd.Exclude) > 0 && under(path, cmd.Exclude) {
			for _, link := range cmd.Exclude {
				if path.HasPrefix(string(link)) && !slices.Contains(linked, string(link)) {
					linked = append(linked, string(link))
				}
			}
			continue
		}
		then, err := stateOf(h.hist.StreamAt(stream, at))
		if err != nil {
			return out, err
		}
		now, err := stateOf(h.hist.LastEvent(stream))
		if err != nil {
			return out, err
		}
		matched = matched || then.exists || now.exists
		version := now.version
		switch {
		case then.exists && (!now.exists || then.hash != now.hash || then.mode != now.mode):
			mode := then.mode
			ops = append(ops, FileOp{Op: OpWrite, Path: path, Content: domain.ContentRef{Hash: then.hash, Size: then.size}, Mode: &mode, ExpectedVersion: &version})
			out.Restored++
		case !then.exists && now.exists:
			ops = append(ops, FileOp{Op: OpDelete, Path: path, ExpectedVersion: &version})
			out.Deleted++
		}
	}
	if len(cmd.Paths) > 0 && !matched {
		// A path naming nothing is a mistake (a typo, a path relative to
		// the wrong directory), not a restore with nothing to do.
		names := make([]string, len(cmd.Paths))
		for i, p := range cmd.Paths {
			names[i] = string(p)
		}
		point := fmt.Sprintf("@%d", at)
		if cmd.Point.Seq != 0 && cmd.Point.Seq != at {
			// A seq inside a change set goes back to the edge before it:
			// say so, or @5 answered about @4 reads as a mistake.
			point += fmt.Sprintf(" (@%d is inside a change set; a restore goes back to the edge before it)", cmd.Point.Seq)
		}
		if len(linked) > 0 {
			// The paths were all left out (below a symlink on disk):
			// say so, not that they never existed.
			return out, &domain.RuleError{Code: "symlink_in_the_way", Message: fmt.Sprintf("every file under %s is at or below a symlink on disk (%s), and a restore never writes through one; nothing to restore",
				strings.Join(names, ", "), strings.Join(linked, ", "))}
		}
		return out, &domain.RuleError{Code: "restore_no_match", Message: fmt.Sprintf("no file under %s existed at %s or exists now; nothing to restore", strings.Join(names, ", "), point)}
	}
	if len(ops) == 0 {
		out.LastSeq = head
		return out, nil
	}
	cmd.Meta.CausationID = fmt.Sprintf("restore@%d", at)
	// A retried restore asks for the same point and paths; its ops differ
	// once the first attempt is in, so they are not what identifies it.
	fp := fmt.Sprintf("restore@%d", at)
	for _, p := range cmd.Paths {
		fp += fmt.Sprintf(" %d:%s", len(p), p)
	}
	for _, p := range cmd.Exclude {
		fp += fmt.Sprintf(" -%d:%s", len(p), p)
	}
	out.AppendResult, err = h.files.handle(ctx, ChangeFiles{CommandID: cmd.CommandID, Meta: cmd.Meta, Ops: ops, Fingerprint: fp}, maxRestoreOps)
	return out, err
}

type fileState struct {
	exists  bool
	hash    string
	size    int64
	mode    uint32
	version uint64
}

// stateOf reads a file's state from its event at some point (ok=false: the
// file did not exist yet).
func stateOf(e domain.Event, ok bool, err error) (fileState, error) {
	if err != nil || !ok {
		return fileState{}, err
	}
	c, _, err := domain.AsFileChange(e)
	if err != nil {
		return fileState{}, err
	}
	return fileState{exists: !c.Deleted, hash: c.Hash, size: c.Size, mode: c.Mode, version: e.StreamVersion}, nil
}

func under(p domain.Path, prefixes []domain.Path) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, pre := range prefixes {
		if p.HasPrefix(string(pre)) {
			return true
		}
	}
	return false
}
