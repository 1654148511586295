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
	// Fingerprint digests what the command asks for. A CommandID seen
	// before with another fingerprint is refused with a *RuleError
	// "command_id_reused"; with the same one the first result comes back.
	Fingerprint string
	// Guard, when set, checks rules that span more streams than the
	// expectations name (a path is a file or a directory). The log runs it
	// after the expectations, serialised with every other append, against
	// the log as it is at that moment.
	Guard func(StreamLookup) error
}

// StreamLookup is the log as an append's Guard sees it: every committed
// event and every event appended before it in the same commit.
type StreamLookup interface {
	LastEvent(stream string) (Event, bool, error)
	// EachStream calls fn with the id of every stream that starts with
	// prefix until fn returns false.
	EachStream(prefix string, fn func(stream string) bool) error
}

// AppendResult is what an append produced. A retried command gets its first
// result back with Duplicate set and no events.
type AppendResult struct {
	FirstSeq  uint64  `json:"first_seq"`
	LastSeq   uint64  `json:"last_seq"`
	Events    []Event `json:"-"`
	Duplicate bool    `json:"-"`
	// Unchanged is set when the command changed nothing and appended no
	// event (a write of the content a file already has); LastSeq is then
	// the newest sequence of what it read.
	Unchanged bool `json:"-"`
}
