package domain

// Event types of the file shadow.
const (
	TypeFileWritten = "file.written"
	TypeFileDeleted = "file.deleted"
	TypeFileMoved   = "file.moved"
)

// DefaultFileMode is the mode of a shadowed file when the agent names none.
const DefaultFileMode = 0o644

// FileStreamID is the stream of one path's changes.
func FileStreamID(p Path) string { return "file:" + string(p) }

// ContentRef names stored content: its SHA-256 (hex) and size in bytes.
type ContentRef struct {
	Hash string `json:"hash"`
	Size int64  `json:"size"`
}

// FileWritten records that a file now has the given content.
type FileWritten struct {
	Path Path   `json:"path"`
	Hash string `json:"hash"`
	Size int64  `json:"size"`
	Mode uint32 `json:"mode"`
}

// FileDeleted records that a file is gone. MovedTo is set when the deletion
// is the source half of a move.
type FileDeleted struct {
	Path    Path `json:"path"`
	MovedTo Path `json:"moved_to,omitempty"`
}

// FileMoved records, on the destination's stream, that a file arrived from
// another path with its content unchanged.
type FileMoved struct {
	From Path   `json:"from"`
	To   Path   `json:"to"`
	Hash string `json:"hash"`
	Size int64  `json:"size"`
	Mode uint32 `json:"mode"`
}

// FileChange is a file event reduced to what projections need: the path it
// leaves (if any) and the state it sets (if any).
type FileChange struct {
	Path    Path   // the path whose state is set or removed
	Deleted bool   // true when the path no longer exists
	Hash    string // content, when not deleted
	Size    int64
	Mode    uint32
	From    Path // for a move's destination, where the content came from
	MovedTo Path // for a move's source, where the content went
}

// FileVersion is one version of a file in the log: its path and the
// sequence of the event that wrote its content there.
type FileVersion struct {
	Path Path   `json:"path"`
	Seq  uint64 `json:"seq"`
}

// AsFileChange decodes a file event. ok is false for events of other types.
func AsFileChange(e Event) (c FileChange, ok bool, err error) {
	switch e.Type {
	case TypeFileWritten:
		p, ok := decodeFileWrittenFast(e.Payload)
		if !ok {
			p = FileWritten{} // the fast path may have filled some fields
			if err := e.DecodePayload(&p); err != nil {
				return c, true, err
			}
		}
		return FileChange{Path: p.Path, Hash: p.Hash, Size: p.Size, Mode: p.Mode}, true, nil
	case TypeFileDeleted:
		var p FileDeleted
		if err := e.DecodePayload(&p); err != nil {
			return c, true, err
		}
		return FileChange{Path: p.Path, Deleted: true, MovedTo: p.MovedTo}, true, nil
	case TypeFileMoved:
		var p FileMoved
		if err := e.DecodePayload(&p); err != nil {
			return c, true, err
		}
		return FileChange{Path: p.To, Hash: p.Hash, Size: p.Size, Mode: p.Mode, From: p.From}, true, nil
	}
	return c, false, nil
}
