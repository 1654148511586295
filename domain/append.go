package domain

// Expectation is an optimistic-concurrency check: the stream must be at Version.
type Expectation struct {
	StreamID string
	Version  uint64
}

// AppendRequest is one command's events, to be appended atomically.
type AppendRequest struct {
	CommandID string // idempotency key, scoped to Meta.AgentID; empty for none
	Meta      Metadata
	Expect    []Expectation
	Drafts    []Draft
	// Blobs is small content (by SHA-256 hex) the events refer to, stored
	// in the same atomic write so one fsync covers both.
	Blobs map[string][]byte
}

// AppendResult is what an append produced. A retried command gets its first
// result back with Duplicate set and no events.
type AppendResult struct {
	FirstSeq  uint64  `json:"first_seq"`
	LastSeq   uint64  `json:"last_seq"`
	Events    []Event `json:"-"`
	Duplicate bool    `json:"-"`
}
