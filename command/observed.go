package command

import "github.com/lighthouse-ai/lighthouse/domain"

// Observer is an in-memory view the writer keeps current with its own
// appends (agents, reviews, learned decisions, review deadlines): the
// event store applies every appended event to it before the append
// returns and before the event is published (eventstore.Store.Observe).
type Observer interface {
	Apply(e domain.Event) error
}
