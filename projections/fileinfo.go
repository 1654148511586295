package projections

import "time"

// FileInfo is a file's state as of some point in the log.
type FileInfo struct {
	Path    string    `json:"path"`
	Hash    string    `json:"hash"`
	Size    int64     `json:"size"`
	Mode    uint32    `json:"mode"`
	Version uint64    `json:"version"`    // the file stream's version after the change
	AgentID string    `json:"last_agent"` // who made the change
	Seq     uint64    `json:"last_seq"`   // the global sequence of the change
	Time    time.Time `json:"mtime"`      // when the change was appended
}
