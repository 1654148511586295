package command

import (
	"context"
	"fmt"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// ObservedLog is an EventLog that tells observers of every event it appends: the event store does this itself (eventstore.Store.Observe); the tests wrap their memory logs in it.
type ObservedLog struct {
	EventLog
	observers []Observer
}

// NewObservedLog wraps log so that observers see every appended event.
func NewObservedLog(log EventLog, observers ...Observer) *ObservedLog {
	return &ObservedLog{EventLog: log, observers: observers}
}

// Observe adds observers. Call it before the log is shared.
func (l *ObservedLog) Observe(observers ...Observer) {
	l.observers = append(l.observers, observers...)
}

// Append appends and then applies the new events to every observer. A
// retried command (Duplicate) carries no events and changes nothing.
func (l *ObservedLog) Append(ctx context.Context, req domain.AppendRequest) (domain.AppendResult, error) {
	res, err := l.EventLog.Append(ctx, req)
	if err != nil {
		return res, err
	}
	for _, e := range res.Events {
		for _, o := range l.observers {
			if err := o.Apply(e); err != nil {
				return res, fmt.Errorf("apply event %d to a view: %w", e.Seq, err)
			}
		}
	}
	return res, nil
}
