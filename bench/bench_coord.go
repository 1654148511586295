package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lighthouse-ai/lighthouse/command"
	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/domain/policy"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// The coordination scenario (issue 13): the cost of leases and the
// stale-write guard on the validate path, in process.

// benchLeases is how many active leases the loaded variant holds.
const benchLeases = 1000

func benchScCoord(variant string) string {
	return "gate in-process: Handle (decide + guard + audit to a no-op log), Write and sed -i, cache misses, " + variant
}

// benchCoordLog seals events and applies them to its views, as the event
// store does on commit, and keeps nothing.
type benchCoordLog struct {
	seq   uint64
	views []command.Observer
}

func (l *benchCoordLog) Append(_ context.Context, req domain.AppendRequest) (domain.AppendResult, error) {
	var res domain.AppendResult
	for _, d := range req.Drafts {
		l.seq++
		e, err := d.Seal(l.seq, 1, time.Now(), req.Meta, "", domain.ChangeSet{})
		if err != nil {
			return res, err
		}
		res.Events = append(res.Events, e)
		for _, v := range l.views {
			if err := v.Apply(e); err != nil {
				return res, err
			}
		}
	}
	res.LastSeq = l.seq
	return res, nil
}

func (l *benchCoordLog) LastEvent(string) (domain.Event, bool, error) {
	return domain.Event{}, false, nil
}

// benchCoordination times ValidateHandler.Handle for calls that write
// project files (a Write and a Bash sed -i, each to a new file, so every
// call misses the cache) without coordination, with coordination and no
// lease (the session has seen 200 files, so the guard looks), and with
// 1,000 active exclusive leases of another agent.
func (b *benchRun) benchCoordination(ctx context.Context) error {
	n := max(b.p.GateMissCalls/4, 500)
	b.progress("gate in-process: Handle with leases and the stale-write guard, %d calls per variant", 3*n)
	agent := domain.Agent{ID: "a", Name: "bench", Role: domain.RoleBuilder}
	other := domain.Agent{ID: "o", Name: "other", Role: domain.RoleBuilder}
	inputs := make([]command.ValidateCall, 0, 2*n)
	for i := range n {
		w, _ := json.Marshal(map[string]string{"file_path": fmt.Sprintf("%s/src/pkg%d/f%d.go", benchProjectRoot, i%97, i), "content": "package x\n"})
		inputs = append(inputs, command.ValidateCall{Agent: agent, SessionID: "s", Tool: "Write", Input: w, Cwd: benchProjectRoot, Home: "/home/dev"})
		inputs = append(inputs, command.ValidateCall{Agent: agent, SessionID: "s", Tool: "Bash", Cwd: benchProjectRoot, Home: "/home/dev",
			Input: benchBashInput(fmt.Sprintf("sed -i 's/a/b/' src/pkg%d/g%d.go", i%97, i))})
	}
	variant := func(coordinated bool, leases int) (benchLatencies, error) {
		log := &benchCoordLog{}
		cfg := command.GateConfig{ProjectRoot: benchProjectRoot, ReviewTimeout: time.Minute}
		if coordinated {
			files := projections.NewProvenance()
			ls, ss, fr := projections.NewLeases(), projections.NewSessions(), projections.NewFreshness(files)
			fr.Live()
			log.views = []command.Observer{files, ls, ss, fr}
			co := command.NewCoordination(log, ls, ss, fr)
			for i := range leases {
				if _, _, err := co.Grant(ctx, command.GrantLease{Agent: other, Paths: []string{fmt.Sprintf("src/mod%d/**", i)}, Exclusive: true, TTL: time.Hour}); err != nil {
					return benchLatencies{}, err
				}
			}
			for i := range 200 {
				if _, err := co.MarkSeen(agent, "s", fmt.Sprintf("src/pkg%d/seen%d.go", i%97, i)); err != nil {
					return benchLatencies{}, err
				}
			}
			cfg.Coordination = co
		}
		h := command.NewValidateHandler(log, command.NewPolicyHolder(command.Policies{Enforced: policy.Default()}), projections.NewLearned(), cfg)
		return b.timeHandle(ctx, h, inputs)
	}
	var p50s [3]float64
	for i, v := range []struct {
		name        string
		coordinated bool
		leases      int
	}{
		{"no coordination (before)", false, 0},
		{"leases and guard on, 0 leases", true, 0},
		{fmt.Sprintf("leases and guard on, %d leases", benchLeases), true, benchLeases},
	} {
		s, err := variant(v.coordinated, v.leases)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		sc := benchScCoord(v.name)
		b.rep.add(sc, "p50", us(s.P50), "µs")
		b.rep.add(sc, "p99", us(s.P99), "µs")
		b.rep.add(sc, "calls", float64(s.N), "samples")
		p50s[i] = us(s.P50)
	}
	b.rep.addRatio(benchScCoord(fmt.Sprintf("leases and guard on, %d leases", benchLeases)), "p50 ÷ p50 with no coordination", p50s[2], p50s[0])
	return nil
}

// timeHandle runs every call through h.Handle (after a warm-up) and
// returns the latencies. Every call must be allowed: none is under a lease.
func (b *benchRun) timeHandle(ctx context.Context, h *command.ValidateHandler, calls []command.ValidateCall) (benchLatencies, error) {
	for _, c := range calls[:min(len(calls), 200)] {
		if _, err := h.Handle(ctx, c); err != nil {
			return benchLatencies{}, err
		}
	}
	lat := make([]time.Duration, 0, len(calls))
	for i, c := range calls {
		if i%1024 == 0 && ctx.Err() != nil {
			return benchLatencies{}, ctx.Err()
		}
		c.ToolUseID = fmt.Sprint(i)
		t := time.Now()
		d, err := h.Handle(ctx, c)
		lat = append(lat, time.Since(t))
		if err != nil {
			return benchLatencies{}, err
		}
		if d.Decision != domain.DecisionAllow {
			return benchLatencies{}, fmt.Errorf("call %d (%s) was decided %s: %s", i, c.Tool, d.Decision, d.Reason)
		}
	}
	return benchSummarise(lat), nil
}
