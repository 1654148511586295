package supervisor

import (
	"context"
	"fmt"
	"io"
	"time"
)

// RestartPolicy bounds how often Supervise restarts one process.
type RestartPolicy struct {
	// Max restarts of one process within Window; one more exit and
	// Supervise gives up.
	Max    int
	Window time.Duration
	// Backoff is the wait before the first restart in a row; it doubles
	// with every failed start, up to Window/Max.
	Backoff time.Duration
}

// DefaultRestartPolicy allows 5 restarts of a process per minute, the
// first after 200 ms.
func DefaultRestartPolicy() RestartPolicy {
	return RestartPolicy{Max: 5, Window: time.Minute, Backoff: 200 * time.Millisecond}
}

// Supervise watches the running processes until ctx ends and restarts each
// one that exits (a crash, a kill -9): the writer on its address, the
// reader after it has caught up, the fuser (which detaches its stale mount
// first) and the watcher. Each restart is reported on out. It returns nil
// when ctx ends, or an error naming the process that exited more often than
// policy allows (the caller then stops the rest).
func (s *System) Supervise(ctx context.Context, out io.Writer, policy RestartPolicy) error {
	restarts := map[string][]time.Time{}
	backoff := map[string]time.Duration{}
	for {
		p := s.waitAny(ctx)
		if p == nil {
			return nil
		}
		now := time.Now()
		recent := restarts[p.Name][:0]
		for _, at := range restarts[p.Name] {
			if now.Sub(at) < policy.Window {
				recent = append(recent, at)
			}
		}
		if len(recent) >= policy.Max {
			return fmt.Errorf("%s exited %d times within %s (last: %v); not restarting it again", p.Name, len(recent)+1, policy.Window, p.Err())
		}
		restarts[p.Name] = append(recent, now)
		wait := backoff[p.Name]
		if wait == 0 {
			wait = policy.Backoff
		}
		fmt.Fprintf(out, "lighthouse: %s exited (%v); restarting it in %s\n", p.Name, p.Err(), wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		if err := s.restart(ctx, p.Name); err != nil {
			backoff[p.Name] = min(2*wait, policy.Window/time.Duration(max(policy.Max, 1)))
			fmt.Fprintf(out, "lighthouse: restarting the %s failed: %v\n", p.Name, err)
			continue // the dead process is still in place: the next round retries
		}
		backoff[p.Name] = 0
		fmt.Fprintf(out, "lighthouse: %s restarted\n", p.Name)
	}
}

// restart starts the named process again.
func (s *System) restart(ctx context.Context, name string) error {
	switch name {
	case "writer":
		return s.StartWriter(ctx)
	case "reader":
		return s.StartReader(ctx)
	case "fuser":
		return s.StartFuser(ctx)
	case "watcher":
		return s.StartWatcher(ctx)
	}
	return fmt.Errorf("no process named %q", name)
}

// waitAny returns the first running process that exits, or nil when ctx
// ends first.
func (s *System) waitAny(ctx context.Context) *Process {
	done := make(chan *Process, 4)
	stop := make(chan struct{})
	defer close(stop)
	for _, p := range []*Process{s.Writer, s.Reader, s.Fuser, s.Watcher} {
		if p == nil {
			continue
		}
		go func() {
			select {
			case <-p.Done():
				done <- p
			case <-stop:
			}
		}()
	}
	select {
	case p := <-done:
		return p
	case <-ctx.Done():
		return nil
	}
}
