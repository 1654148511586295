package command

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/lighthouse-ai/lighthouse/aggregates"
	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/domain/policy"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// Policies is the policy in force and, optionally, one in shadow mode whose
// decisions are recorded but not enforced.
type Policies struct {
	Enforced *policy.Policy
	Shadow   *policy.Policy
}

// PolicyHolder holds the policies in force. Swapping is atomic: a decision
// in flight finishes under the policy it started with, and every swap
// starts with an empty decision cache.
type PolicyHolder struct {
	state atomic.Pointer[policyState]
}

type policyState struct {
	Policies
	cache *decisionCache
}

// NewPolicyHolder returns a holder with p in force.
func NewPolicyHolder(p Policies) *PolicyHolder {
	h := &PolicyHolder{}
	h.Swap(p)
	return h
}

// Swap puts p in force.
func (h *PolicyHolder) Swap(p Policies) {
	h.state.Store(&policyState{Policies: p, cache: newDecisionCache(MaxCachedDecisions)})
}

// Load returns the policies in force.
func (h *PolicyHolder) Load() Policies { return h.state.Load().Policies }

// MaxCachedDecisions bounds the decision cache (calls, and distinct
// verdicts): the call after that many starts it over, empty, in the memory
// it had grown to.
const MaxCachedDecisions = 1 << 16

// maxPooledInput is the most members a tool_input map may have to be
// reused; a larger one is left to the collector.
const maxPooledInput = 16

// Verdict is the policy's answer for one call, before learned decisions.
// It is comparable, so the decision cache keeps each distinct one once.
type Verdict struct {
	policy.Verdict
	Revision       string         // the revision of the policy that decided
	Shape          string         // an escalation's shape; "" for other verdicts and calls without one
	Shadow         policy.Verdict // the shadow policy's answer, when ShadowRevision is set
	ShadowRevision string         // the shadow policy's revision; "" when none is loaded
}

// decisionCache maps a call's key to its verdict. Calls share few distinct
// verdicts (one per deciding rule, and per shape of an escalation), so
// each is kept once and the call's entry holds its index: an index without
// pointers is never scanned by the collector, which marked every cached
// verdict's strings on each cycle and taxed the gate's allocations with
// that work (the cache-miss tail). Escalations of distinct shapes, or with
// reasons that quote their command, stay distinct: each is kept in verdicts
// and as a key of ids, and scanned as before.
type decisionCache struct {
	mu       sync.RWMutex
	index    map[[32]byte]uint32 // call key → position in verdicts
	verdicts []Verdict           // distinct verdicts
	ids      map[Verdict]uint32  // verdict → position in verdicts
	max      int                 // calls (and distinct verdicts) kept before starting over
}

func newDecisionCache(max int) *decisionCache {
	return &decisionCache{index: make(map[[32]byte]uint32), ids: make(map[Verdict]uint32), max: max}
}

func (c *decisionCache) get(k [32]byte) (Verdict, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	i, ok := c.index[k]
	if !ok {
		return Verdict{}, false
	}
	return c.verdicts[i], true
}

func (c *decisionCache) put(k [32]byte, v Verdict) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.index) >= c.max || len(c.verdicts) >= c.max {
		clear(c.index)
		clear(c.ids)
		clear(c.verdicts)
		c.verdicts = c.verdicts[:0]
	}
	i, ok := c.ids[v]
	if !ok {
		i = uint32(len(c.verdicts))
		c.verdicts = append(c.verdicts, v)
		c.ids[v] = i
	}
	c.index[k] = i
}

// ValidateCall asks the gate about one tool call.
type ValidateCall struct {
	Agent     domain.Agent
	SessionID string
	Tool      string
	Input     json.RawMessage // tool_input, a JSON object
	Cwd       string
	ToolUseID string
	Home      string // the agent's home directory, "" when unknown
}

// GateDecision is the gate's answer, already audited.
type GateDecision struct {
	DecisionID     string `json:"decision_id"`
	Decision       string `json:"decision"`
	Reason         string `json:"reason"`
	Rule           string `json:"rule"`
	PolicyRevision string `json:"policy_revision"`
	Cached         bool   `json:"cached"`
	ReviewID       string `json:"review_id,omitempty"`
	LearnedID      string `json:"learned_id,omitempty"`
	Seq            uint64 `json:"seq"`
}

// LearnedLookup finds decisions learned from reviews.
type LearnedLookup interface {
	Lookup(shape string) (projections.LearnedView, bool)
}

// ValidateHandler decides tool calls: the policy (cached by exact input,
// except verdicts that depend on who last changed project files),
// then, for an escalation, the decisions learned from reviews. Every decision is appended as an
// audit event before it is answered; an escalation opens a review.
type ValidateHandler struct {
	log           EventLog
	policies      *PolicyHolder
	learned       LearnedLookup
	projectRoot   string
	protected     []string
	provenance    policy.Provenance
	reviewTimeout time.Duration
	coord         *Coordination
	agents        AgentLister
	now           func() time.Time
	// inputs holds decoded tool_input maps between cache misses: a map is
	// the largest allocation of a miss, and nothing keeps it past Decide.
	inputs sync.Pool
}

// GateConfig configures the ValidateHandler.
type GateConfig struct {
	ProjectRoot   string        // absolute; paths inside it are "in project"
	Protected     []string      // absolute paths no agent may touch: Lighthouse's data directory, tokens and mount
	ReviewTimeout time.Duration // how long a review stays open before it is denied
	// Provenance says who last changed each project file, so that running
	// one an agent changed since the baseline escalates. Optional.
	Provenance policy.Provenance
	// Coordination, when set, makes the gate enforce leases, deny stale
	// writes and renew the caller's leases on every call. Optional.
	Coordination *Coordination
	// Agents, when set, finds the agents an escalation routed to a
	// capability goes to; they are told in their inbox. Optional.
	Agents AgentLister
}

// NewValidateHandler returns the gate.
func NewValidateHandler(log EventLog, policies *PolicyHolder, learned LearnedLookup, cfg GateConfig) *ValidateHandler {
	return &ValidateHandler{log: log, policies: policies, learned: learned, projectRoot: cfg.ProjectRoot,
		protected: cfg.Protected, provenance: cfg.Provenance, reviewTimeout: cfg.ReviewTimeout, coord: cfg.Coordination, agents: cfg.Agents, now: time.Now}
}

// Decide evaluates the call without auditing it: the hot path's pure part.
func (h *ValidateHandler) Decide(call ValidateCall) (v Verdict, cached bool, err error) {
	st := h.policies.state.Load()
	var leases policy.Leases
	var gen uint64
	if h.coord != nil {
		leases, gen = h.coord.Leases, h.coord.Leases.Generation()
	}
	key := cacheKey(call, gen)
	if c, ok := st.cache.get(key); ok {
		return c, true, nil
	}
	input, _ := h.inputs.Get().(map[string]any)
	input, err = domain.DecodeToolInput(call.Input, input)
	if input != nil && len(input) <= maxPooledInput {
		defer h.inputs.Put(input)
	}
	if err != nil {
		return v, false, domain.Invalid("tool_input", "tool_input_invalid", "tool_input must be a JSON object")
	}
	pc := policy.Call{Tool: call.Tool, Input: input, Cwd: call.Cwd, ProjectRoot: h.projectRoot,
		Role: string(call.Agent.Role), AgentID: call.Agent.ID, Home: call.Home, Protected: h.protected, Provenance: h.provenance, Leases: leases}
	v = Verdict{Verdict: st.Enforced.Evaluate(pc), Revision: st.Enforced.Revision()}
	// Only an escalation's shape is used (a learned decision, a review),
	// and computing it analyses the call again.
	if v.Verdict.Decision == policy.Escalate {
		if shape, ok := policy.Shape(pc); ok {
			v.Shape = shape
		}
	}
	if st.Shadow != nil {
		v.Shadow, v.ShadowRevision = st.Shadow.Evaluate(pc), st.Shadow.Revision()
	}
	// A verdict that asked who changed the files the call runs holds only
	// while they stay unchanged: it is not cached.
	if !v.Verdict.FileDependent && !v.Shadow.FileDependent {
		st.cache.put(key, v)
	}
	return v, false, nil
}

// Handle decides, audits and, for an escalation, opens a review.
func (h *ValidateHandler) Handle(ctx context.Context, call ValidateCall) (GateDecision, error) {
	v, cached, err := h.Decide(call)
	if err != nil {
		return GateDecision{}, err
	}
	out := GateDecision{DecisionID: uuid.NewString(), Decision: string(v.Verdict.Decision), Reason: v.Verdict.Reason,
		Rule: v.Verdict.Rule, PolicyRevision: v.Revision, Cached: cached}
	// A reviewer's "for this pattern" decides later escalations of the same shape.
	if v.Verdict.Decision == policy.Escalate && v.Shape != "" {
		if l, ok := h.learned.Lookup(v.Shape); ok {
			out.Decision, out.LearnedID, out.Rule = l.Decision, l.LearnedID, "learned:"+l.LearnedID
			out.Reason = fmt.Sprintf("learned from review %s: %s", l.ReviewID, l.Reason)
		}
	}
	if out.Decision != domain.DecisionBlock {
		if reason, ok := h.staleWrite(call); ok {
			out.Decision, out.Reason, out.Rule, out.LearnedID = domain.DecisionBlock, reason, ruleStaleWrite, ""
		}
	}
	input := auditInput(call.Input)
	audit := domain.GateDecided{DecisionID: out.DecisionID, Tool: call.Tool, Input: input, ToolUseID: call.ToolUseID, Cwd: call.Cwd,
		Decision: out.Decision, Reason: out.Reason, Rule: out.Rule, PolicyRevision: out.PolicyRevision, Cached: cached, LearnedID: out.LearnedID}
	if v.ShadowRevision != "" {
		audit.ShadowDecision, audit.ShadowRule, audit.ShadowRevision = string(v.Shadow.Decision), v.Shadow.Rule, v.ShadowRevision
	}
	drafts := []domain.Draft{{StreamID: domain.GateStreamID(call.Agent.ID), Type: domain.TypeGateDecided, SchemaVersion: 1}}
	if out.Decision == domain.DecisionEscalate {
		out.ReviewID = uuid.NewString()
		audit.ReviewID = out.ReviewID
		req := domain.ReviewRequested{ReviewID: out.ReviewID, DecisionID: out.DecisionID,
			RequesterID: call.Agent.ID, Requester: call.Agent.Name, SessionID: call.SessionID, Cwd: call.Cwd, Tool: call.Tool, Input: input, Shape: v.Shape, Reason: out.Reason, Rule: out.Rule,
			Approvals: max(v.Verdict.Approvals, 1), Deadline: h.now().Add(h.reviewTimeout).UTC()}
		if out.Rule == v.Verdict.Rule {
			req.Route = v.Verdict.Route
		}
		drafts = append(drafts, aggregates.RequestReview(req))
		drafts = append(drafts, h.routeNotice(call.Agent, req)...)
	}
	drafts[0].Payload = audit
	drafts = append(drafts, h.coord.Renewals(call.Agent.ID)...)
	res, err := h.log.Append(ctx, domain.AppendRequest{Meta: domain.Metadata{AgentID: call.Agent.ID, SessionID: call.SessionID, CorrelationID: call.ToolUseID}, Drafts: drafts})
	if err != nil {
		return GateDecision{}, err
	}
	out.Seq = res.LastSeq
	return out, nil
}

// routeNotice tells the agents an escalation is routed to, in their inbox
// (and so through their hooks), that they can decide it; nothing when the
// review is not routed or nobody has the capability (reviewers still can).
func (h *ValidateHandler) routeNotice(requester domain.Agent, req domain.ReviewRequested) []domain.Draft {
	c, ok := strings.CutPrefix(req.Route, "capability:")
	if !ok || h.agents == nil {
		return nil
	}
	recips := Capable(h.agents.List(), c, requester.ID)
	if len(recips) == 0 {
		return nil
	}
	body := fmt.Sprintf("%s asks to run %s %s\nRule %s: %s\nDecide before %s with `lighthouse review approve %s` or `lighthouse review deny %s -m REASON`.",
		requester.Name, req.Tool, domain.TruncateText(string(req.Input), 2048), req.Rule, req.Reason, req.Deadline.Format(time.RFC3339), req.ReviewID, req.ReviewID)
	return []domain.Draft{Notice(requester, req.Route, recips, "Review "+req.ReviewID+": "+req.Tool+" call escalated to "+c, body)}
}

// ruleStaleWrite is the rule of a write denied by the stale-write guard.
const ruleStaleWrite = "builtin.stale-write"

// staleWrite applies the stale-write guard: a Write, Edit or MultiEdit of a
// project file the call's session saw at one version and someone else has
// changed since is denied. It parses the input only for sessions that have
// seen files.
func (h *ValidateHandler) staleWrite(call ValidateCall) (string, bool) {
	if h.coord == nil || call.SessionID == "" || !h.coord.Freshness.HasSeen(call.SessionID) {
		return "", false
	}
	switch call.Tool {
	case "Write", "Edit", "MultiEdit":
	default:
		return "", false
	}
	var in struct {
		FilePath string `json:"file_path"`
	}
	if json.Unmarshal(call.Input, &in) != nil || in.FilePath == "" {
		return "", false
	}
	abs := policy.ToolPath(in.FilePath, call.Cwd, call.Home)
	rel, ok := strings.CutPrefix(abs, h.projectRoot+"/")
	if abs == "" || h.projectRoot == "" || !ok {
		return "", false
	}
	c, stale := h.coord.Freshness.Stale(call.SessionID, rel)
	if !stale {
		return "", false
	}
	by := c.Agent
	if by == domain.AgentWatcher {
		by = "a change on disk outside any agent's tool call (a person, an editor, a build)"
	}
	return fmt.Sprintf("%s: changed by %s at seq %d since you last read it at seq %d; read it again", rel, by, c.Seq, c.SeenSeq), true
}

// cacheKey digests everything a verdict depends on besides the policy: the
// call and the generation of the leases.
func cacheKey(c ValidateCall, leaseGen uint64) [32]byte {
	h := sha256.New()
	var g [8]byte
	binary.LittleEndian.PutUint64(g[:], leaseGen)
	h.Write(g[:])
	// Each field's length before it: a separator alone would let a field
	// that holds it (a cwd with a NUL) shift the fields after it.
	var n [4]byte
	for _, s := range []string{string(c.Agent.Role), c.Agent.ID, c.Tool, c.Cwd, c.Home} {
		binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	h.Write(c.Input)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// maxAuditInput bounds the tool input kept in an audit event; a larger one
// (a Write of a big file) is kept as its digest and first bytes.
const maxAuditInput = 16 << 10

func auditInput(raw json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		raw = buf.Bytes()
	}
	if len(raw) <= maxAuditInput {
		return raw
	}
	sum := sha256.Sum256(raw)
	out, _ := json.Marshal(map[string]any{"truncated": true, "bytes": len(raw), "sha256": hex.EncodeToString(sum[:]), "head": domain.TruncateText(string(raw), 1024)})
	return out
}
