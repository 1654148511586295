package command

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// streamLog keeps every stream and checks expectations like the event
// store: a stale expectation is a *domain.ConflictError. beforeAppend, when
// set, runs once before the first append (to change a file under a
// command's feet).
type streamLog struct {
	mu           sync.Mutex
	seq          uint64
	streams      map[string][]domain.Event
	beforeAppend func()
}

func newStreamLog() *streamLog { return &streamLog{streams: map[string][]domain.Event{}} }

func (l *streamLog) Append(_ context.Context, req domain.AppendRequest) (domain.AppendResult, error) {
	if f := l.beforeAppend; f != nil {
		l.beforeAppend = nil
		f()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range req.Expect {
		if cur := uint64(len(l.streams[x.StreamID])); cur != x.Version {
			return domain.AppendResult{}, &domain.ConflictError{StreamID: x.StreamID, Expected: x.Version, Current: cur}
		}
	}
	var res domain.AppendResult
	set := domain.SpanOf(l.seq, len(req.Drafts))
	for _, d := range req.Drafts {
		l.seq++
		e, err := d.Seal(l.seq, uint64(len(l.streams[d.StreamID]))+1, time.Now(), req.Meta, "", set)
		if err != nil {
			return res, err
		}
		l.streams[d.StreamID] = append(l.streams[d.StreamID], e)
		res.Events = append(res.Events, e)
	}
	res.FirstSeq, res.LastSeq = res.Events[0].Seq, l.seq
	return res, nil
}

func (l *streamLog) LastEvent(stream string) (domain.Event, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	evs := l.streams[stream]
	if len(evs) == 0 {
		return domain.Event{}, false, nil
	}
	return evs[len(evs)-1], true, nil
}

func (l *streamLog) StreamEvents(stream string) ([]domain.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]domain.Event(nil), l.streams[stream]...), nil
}

// replay feeds every task event, in log order, to fn.
func (l *streamLog) replay(fn func(domain.Event) error) error {
	l.mu.Lock()
	var all []domain.Event
	for id, evs := range l.streams {
		if strings.HasPrefix(id, "task:") {
			all = append(all, evs...)
		}
	}
	head := l.seq
	l.mu.Unlock()
	for seq := uint64(1); seq <= head; seq++ {
		for _, e := range all {
			if e.Seq == seq {
				if err := fn(e); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

var (
	requester = domain.Agent{ID: "b", Name: "builder", Role: domain.RoleBuilder}
	experts   = agentList{requester,
		{ID: "s1", Name: "sec-1", Role: domain.RoleExpert, Capabilities: []string{"security"}},
		{ID: "s2", Name: "sec-2", Role: domain.RoleExpert, Capabilities: []string{"security"}},
		{ID: "s3", Name: "sec-3", Role: domain.RoleExpert, Capabilities: []string{"security"}},
		{ID: "s4", Name: "sec-4", Role: domain.RoleExpert, Capabilities: []string{"security"}},
	}
)

// TestTaskOneClaimWins: racing claims leave exactly one claimer; the
// others learn the task is claimed.
func TestTaskOneClaimWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log, view := newStreamLog(), projections.NewTasks()
	h := NewTaskHandler(NewObservedLog(log, view), log, experts, view)
	created, err := h.Create(ctx, CreateTask{Requester: requester, Capability: "security", Title: "audit"})
	if err != nil {
		t.Fatal(err)
	}
	if len(created.Offered) != 4 {
		t.Fatalf("offered to %v", created.Offered)
	}
	var wins, claimed int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, a := range experts[1:] {
		wg.Go(func() {
			_, err := h.Claim(ctx, TaskAction{Agent: a, TaskID: created.ID})
			var re *domain.RuleError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.As(err, &re) && re.Code == "task_claimed":
				claimed++
			default:
				t.Errorf("claim by %s: %v", a.Name, err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || claimed != 3 {
		t.Fatalf("%d claims won, %d refused; want 1 and 3", wins, claimed)
	}
	if v, _ := view.Get(created.ID); v.Status != domain.TaskStatusClaimed || v.ClaimerID == "" {
		t.Fatalf("view after the race: %+v", v)
	}
}

// TestTaskDeadlinesSurviveRestart: a writer that starts again over the
// same log schedules the open tasks' deadlines from it; a task finished
// before the restart is left alone.
func TestTaskDeadlinesSurviveRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	log := newStreamLog()
	first := NewTaskHandler(log, log, experts, projections.NewTasks())
	open, err := first.Create(ctx, CreateTask{Requester: requester, Capability: "security", Title: "open", Deadline: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done, err := first.Create(ctx, CreateTask{Requester: requester, Capability: "security", Title: "done", Deadline: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Claim(ctx, TaskAction{Agent: experts[1], TaskID: done.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Complete(ctx, TaskAction{Agent: experts[1], TaskID: done.ID, Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	cancel() // the first writer stops before any deadline: nothing expires

	view := projections.NewTasks()
	if err := log.replay(view.Apply); err != nil {
		t.Fatal(err)
	}
	second := NewTaskHandler(NewObservedLog(log, view), log, experts, view)
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	deadlines := NewTaskDeadlines(ctx2, second, slog.New(slog.DiscardHandler))
	if err := log.replay(deadlines.Apply); err != nil {
		t.Fatal(err)
	}
	ctxWait, cancelWait := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelWait()
	v, err := view.Wait(ctxWait, open.ID, domain.TaskStatusOpen)
	if err != nil || v.Status != domain.TaskStatusExpired {
		t.Fatalf("open task after its deadline: %+v %v", v, err)
	}
	if v, _ := view.Get(done.ID); v.Status != domain.TaskStatusCompleted {
		t.Fatalf("completed task became %s", v.Status)
	}
	evs, _ := log.StreamEvents(domain.TaskStreamID(open.ID))
	if last := evs[len(evs)-1]; last.Type != domain.TypeTaskExpired || last.AgentID != "system" {
		t.Fatalf("last event %s by %s", last.Type, last.AgentID)
	}
}
