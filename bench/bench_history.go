package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/supervisor"
)

// The time-travel scenarios (issue 5): a file read at past points of a
// long log, the whole tree at past points, a diff of two points, and a
// search of the tree at head against grep -r on the same tree on disk.
//
// They run on a system of their own (a second writer and reader on an
// empty data directory), so the log holds exactly the events written here:
// the tree, the search and the diff then cover exactly the generated files,
// not also every other scenario's.

// The log: HistoryFiles files under src/, each of 1–10 KiB in lines of 64
// bytes, created first and then rewritten at random, one line changed per
// write (so every write is new content, a small patch away from the last);
// and benchHistHot, rewritten HistoryHotRevs times, spread over the log.
const (
	benchHistHot      = "hot/file.txt"
	benchHistWord     = "timetravelneedle" // in the first line of one file in a hundred
	benchHistLineLen  = 64
	benchHistHotLines = 64 // the hot file is 4 KiB
	benchHistPrefix   = 15 // "L0042 r0000123 "
	benchHistOps      = 1000
	benchHistHotIndex = -1 // the hot file's index in the plan
)

// The time-travel scenarios' names, which the test looks for.
const (
	benchScTTLog    = "time travel: the log (own writer and reader, POST /v1/changes of 1000 writes)"
	benchScTTFile   = "time travel: GET /v1/files/hot/file.txt?at=SEQ (random points)"
	benchScTTTree   = "time travel: GET /v1/tree?at=SEQ (whole tree)"
	benchScTTDiff   = "time travel: GET /v1/diff of two points"
	benchScTTSearch = "time travel: GET /v1/search at head vs grep -r -n on disk (1% of files match)"
	benchScTTFuser  = "time travel: a fuser started on the whole log (its own mount)"
)

// benchTTEventsFigure and benchTTCutFigure name the log's size figures:
// the names carry the target, so a log cut short says so in the table.
func benchTTEventsFigure(p benchParams) string {
	return fmt.Sprintf("events in the log (target: %d writes + a few)", p.HistoryEvents)
}

func benchTTCutFigure(p benchParams) string {
	return fmt.Sprintf("build cut short by its %.0f s budget", p.HistoryBuildS)
}

// benchHistBodies are the line bodies generated files are made of: code-like
// text that compresses like text, never containing benchHistWord.
var benchHistBodies = func() [][]byte {
	words := []string{"func", "return", "if", "err", "!=", "nil", "ctx", "for", "range", ":=", "{", "}", "(", ")",
		"len", "append", "make", "string", "int", "byte", "var", "const", "type", "struct", "map", "chan", "go",
		"select", "case", "default", "switch", "break", "defer", "buf", "out", "n", "i", "j", "path", "name",
		"value", "key", "node", "tree", "file", "seq", "hash", "size", "mode", "time", "event", "reader", "writer",
		"=", "+", "-", "*", "==", "<", ">", "&&", "||", "//", "x", "y"}
	r := rand.New(rand.NewPCG(5, 7))
	bodies := make([][]byte, 4096)
	const width = benchHistLineLen - benchHistPrefix - 1
	for k := range bodies {
		b := make([]byte, 0, width)
		for {
			w := words[r.IntN(len(words))]
			if len(b)+len(w)+1 > width {
				break
			}
			b = append(append(b, w...), ' ')
		}
		for len(b) < width {
			b = append(b, ' ')
		}
		bodies[k] = b
	}
	return bodies
}()

// benchMix is a 64-bit mixer (splitmix64's finaliser).
func benchMix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// benchHistPlan describes the generated files; file i < 0 is the hot file.
type benchHistPlan struct{ Files int }

func (benchHistPlan) path(i int) string {
	if i == benchHistHotIndex {
		return benchHistHot
	}
	return fmt.Sprintf("src/d%03d/f%05d.txt", i/100, i)
}

// lines is file i's length in 64-byte lines: 16 to 160 (1–10 KiB),
// log-uniform like source files' sizes (mean 3.9 KiB).
func (benchHistPlan) lines(i int) int {
	if i == benchHistHotIndex {
		return benchHistHotLines
	}
	u := float64(benchMix(uint64(i))>>11) / (1 << 53)
	return min(int(16*math.Pow(10, u)), 160)
}

func (benchHistPlan) marked(i int) bool { return i >= 0 && i%100 == 7 }

func (p benchHistPlan) markedCount() int {
	n := 0
	for i := range p.Files {
		if p.marked(i) {
			n++
		}
	}
	return n
}

// content is file i at revision r (0 is its first write). Revision r ≥ 1
// rewrites line 1 + (r+i) mod (lines-1) with r in it; line 0 never changes.
func (p benchHistPlan) content(i, r int) []byte {
	n := p.lines(i)
	buf := make([]byte, n*benchHistLineLen)
	head := buf[:benchHistLineLen]
	for k := range head {
		head[k] = ' '
	}
	h := "// " + p.path(i)
	if p.marked(i) {
		h += " " + benchHistWord
	}
	copy(head, h)
	head[benchHistLineLen-1] = '\n'
	m := n - 1
	for j := 1; j < n; j++ {
		// The last revision ≤ r that rewrote line j, or 0.
		c := ((j-1-i)%m + m) % m
		t := r - ((r-c)%m+m)%m
		if t < 1 {
			t = 0
		}
		line := buf[j*benchHistLineLen : (j+1)*benchHistLineLen]
		line[0], line[5], line[6], line[14] = 'L', ' ', 'r', ' '
		benchPutDigits(line[1:5], j)
		benchPutDigits(line[7:14], t)
		copy(line[benchHistPrefix:], benchHistBodies[benchMix(uint64(i)<<40^uint64(j)<<24^uint64(t))%uint64(len(benchHistBodies))])
		line[benchHistLineLen-1] = '\n'
	}
	return buf
}

// benchPutDigits writes v in decimal, zero-padded, filling dst.
func benchPutDigits(dst []byte, v int) {
	for k := len(dst) - 1; k >= 0; k-- {
		dst[k] = byte('0' + v%10)
		v /= 10
	}
}

// benchHistSet is one appended change set: its first sequence number and
// the files its writes went to, in order.
type benchHistSet struct {
	first uint64
	files []int32
}

// last is the set's last sequence number.
func (s benchHistSet) last() uint64 { return s.first + uint64(len(s.files)) - 1 }

// setOf returns the change set holding seq (h.sets is sorted by first).
func (h *benchHistory) setOf(seq uint64) (benchHistSet, bool) {
	i := sort.Search(len(h.sets), func(i int) bool { return h.sets[i].last() >= seq })
	if i < len(h.sets) && h.sets[i].first <= seq {
		return h.sets[i], true
	}
	return benchHistSet{}, false
}

// edge is where the reader answers a point at seq: a point inside a change
// set is rounded down to just before it (domain.ChangeSetEdge).
func (h *benchHistory) edge(seq uint64) uint64 {
	if s, ok := h.setOf(seq); ok && seq < s.last() && len(s.files) > 1 {
		return s.first - 1
	}
	return seq
}

// setEnd is the last sequence of the change set holding seq (seq when none).
func (h *benchHistory) setEnd(seq uint64) uint64 {
	if s, ok := h.setOf(seq); ok {
		return s.last()
	}
	return seq
}

// benchHistory is the time-travel scenarios' state.
type benchHistory struct {
	b    *benchRun
	sys  *supervisor.System
	cl   *http.Client
	plan benchHistPlan

	sets    []benchHistSet
	created []uint64 // per file: the sequence of its first write
	revs    []int    // per file: its last revision
	hotSeqs []uint64 // per hot revision: its sequence
	head    uint64
	events  int
	// firstTree is the first sequence at which every file exists.
	firstTree uint64
	data      string  // the system's data directory
	treeP50   float64 // tree at a past point, ms
	fuseSkip  string  // why the fuser step cannot run, if it cannot
}

func (b *benchRun) benchHistory(ctx context.Context) error {
	p := b.p
	data := filepath.Join(b.dir, "history-data")
	mount := ""
	if b.fuseSkip == "" {
		mount = filepath.Join(b.dir, "history-mnt")
	}
	b.progress("time travel: starting a writer and reader of their own on %s", data)
	sys, err := supervisor.StartSystem(ctx, supervisor.Config{Data: data, BinDir: b.opts.Bin, Output: b.logOut, Mount: mount,
		WriterArgs: b.rep.WriterArg, ReaderArgs: b.rep.ReaderArg})
	if err != nil {
		return fmt.Errorf("start the time-travel system: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = p.HistoryWorkers + 4
	h := &benchHistory{b: b, sys: sys, cl: &http.Client{Transport: tr, Timeout: 5 * time.Minute},
		plan: benchHistPlan{Files: p.HistoryFiles}, data: data, fuseSkip: b.fuseSkip}
	if mount != "" {
		h.fuseSkip = parkFuser(sys)
	}
	defer func() {
		tr.CloseIdleConnections()
		if err := sys.Stop(); err != nil {
			b.rep.Warnings = append(b.rep.Warnings, "stopping the time-travel system: "+err.Error())
		}
		if !b.opts.Keep {
			t := time.Now()
			if err := os.RemoveAll(data); err != nil {
				b.rep.Warnings = append(b.rep.Warnings, "removing the time-travel data: "+err.Error())
			}
			b.progress("time travel: removed its data in %.1f s", time.Since(t).Seconds())
		}
	}()
	steps := []func(context.Context) error{h.build, h.search, h.fileAtPoints, h.treeAtPoints, h.diff, h.rss, h.fuser}
	for _, step := range steps {
		if err := h.alive(); err != nil {
			return err
		}
		if err := step(ctx); err != nil {
			return err
		}
	}
	return h.alive()
}

func (h *benchHistory) alive() error {
	for _, p := range []*supervisor.Process{h.sys.Writer, h.sys.Reader} {
		select {
		case <-p.Done():
			return fmt.Errorf("the time-travel %s exited: %v", p.Name, p.Err())
		default:
		}
	}
	return nil
}

// --- building the log ----------------------------------------------------------

// build appends the log from HistoryWorkers clients, each writing its own
// files (i mod workers), so concurrent change sets never touch the same
// file; the first client also writes the hot file. It stops early, and
// says so, when the build budget runs out.
func (h *benchHistory) build(ctx context.Context) error {
	b, p := h.b, h.b.p
	W := p.HistoryWorkers
	if W < 1 || p.HistoryFiles < W {
		return fmt.Errorf("%d files for %d clients: each client needs files of its own", p.HistoryFiles, W)
	}
	nsets := (p.HistoryEvents + benchHistOps - 1) / benchHistOps
	h.created = make([]uint64, p.HistoryFiles)
	h.revs = make([]int, p.HistoryFiles)
	h.hotSeqs = make([]uint64, 0, p.HistoryHotRevs)
	setSize := func(s int) int { return min(benchHistOps, p.HistoryEvents-s*benchHistOps) }
	// Worker 0's writes, to spread the hot file's revisions over them.
	ops0 := 0
	for s := 0; s < nsets; s += W {
		ops0 += setSize(s)
	}
	stride := max(ops0/max(p.HistoryHotRevs, 1), 1)
	b.progress("time travel: appending %d writes (%d files, %s rewritten %d times) as %d change sets of %d from %d clients; budget %s",
		p.HistoryEvents, p.HistoryFiles, benchHistHot, p.HistoryHotRevs, nsets, benchHistOps, W, p.HistoryBuild)

	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		stopped  bool
		bytesIn  int64
		marks    []benchMark // after each change set: when, and the writes so far
	)
	start := time.Now()
	deadline := start.Add(p.HistoryBuild)
	lastProgress := start
	for w := range W {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []int
			for i := w; i < p.HistoryFiles; i += W {
				mine = append(mine, i)
			}
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			c, made, hot := 0, 0, 0
			for s := w; s < nsets; s += W {
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				quit := firstErr != nil || stopped
				if !quit && time.Now().After(deadline) {
					stopped, quit = true, true
				}
				mu.Unlock()
				if quit {
					return
				}
				n := setSize(s)
				ops := make([]benchChangeOp, 0, n)
				files := make([]int32, 0, n)
				revs := make([]int, 0, n)
				var size int64
				for range n {
					var i, r int
					switch {
					case w == 0 && hot < p.HistoryHotRevs && c%stride == 0:
						i, r = benchHistHotIndex, hot
						hot++
					case made < len(mine):
						i, r = mine[made], 0
						made++
					default:
						i = mine[rng.IntN(len(mine))]
						h.revs[i]++ // only this client writes file i
						r = h.revs[i]
					}
					content := h.plan.content(i, r)
					size += int64(len(content))
					ops = append(ops, benchChangeOp{Op: "write", Path: h.plan.path(i), Content: string(content)})
					files, revs = append(files, int32(i)), append(revs, r)
					c++
				}
				body, _ := json.Marshal(map[string]any{"ops": ops})
				var res struct {
					Seq      uint64 `json:"seq"`
					FirstSeq uint64 `json:"first_seq"`
				}
				_, err := h.b.callAs(ctx, h.cl, h.sys.AdminToken, http.MethodPost, h.sys.WriterURL+"/v1/changes", body, &res)
				if err == nil && res.Seq-res.FirstSeq+1 != uint64(n) {
					err = fmt.Errorf("a change set of %d writes appended seqs %d..%d", n, res.FirstSeq, res.Seq)
				}
				mu.Lock()
				if err != nil {
					firstErr = cmpOr(firstErr, err)
					mu.Unlock()
					return
				}
				h.sets = append(h.sets, benchHistSet{first: res.FirstSeq, files: files})
				for k, i := range files {
					seq := res.FirstSeq + uint64(k)
					switch {
					case i == benchHistHotIndex:
						for len(h.hotSeqs) <= revs[k] {
							h.hotSeqs = append(h.hotSeqs, 0)
						}
						h.hotSeqs[revs[k]] = seq
					case revs[k] == 0:
						h.created[i] = seq
					}
				}
				h.events += n
				bytesIn += size
				marks = append(marks, benchMark{time.Since(start), h.events})
				if time.Since(lastProgress) > 15*time.Second {
					lastProgress = time.Now()
					b.progress("time travel: %d events appended in %.0f s", h.events, time.Since(start).Seconds())
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return fmt.Errorf("build: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sort.Slice(h.sets, func(i, j int) bool { return h.sets[i].first < h.sets[j].first })
	head, err := h.writerHead(ctx)
	if err != nil {
		return err
	}
	h.head = head
	for _, s := range h.created {
		if s == 0 {
			return errors.New("the build stopped before every file was written (raise the build budget)")
		}
		h.firstTree = max(h.firstTree, s)
	}
	if len(h.hotSeqs) == 0 || slices.Contains(h.hotSeqs, 0) {
		return errors.New("the hot file's revisions were not all recorded")
	}
	h.firstTree = max(h.firstTree, h.hotSeqs[0])
	// A point inside a change set answers as of before it: points that must
	// see every file start where the last file's set ends.
	h.firstTree = h.setEnd(h.firstTree)

	// Wait for the reader: the catch-up after the last append, and the
	// lag it had then.
	applied, _ := h.readerApplied(ctx)
	t := time.Now()
	if err := h.waitApplied(ctx, head, 10*time.Minute); err != nil {
		return err
	}
	settle := time.Since(t)

	sc := benchScTTLog
	cut := 0.0
	if stopped {
		cut = 1
		msg := fmt.Sprintf("time travel: THE BUILD STOPPED AT ITS %s BUDGET after %d of %d writes: every time-travel figure is for a log of %d events, not %d",
			p.HistoryBuild, h.events, p.HistoryEvents, head, p.HistoryEvents)
		b.rep.Warnings = append(b.rep.Warnings, msg)
		b.progress("%s", msg)
	}
	b.rep.add(sc, benchTTEventsFigure(p), float64(head), "events")
	b.rep.add(sc, benchTTCutFigure(p), cut, "1 = yes")
	b.rep.add(sc, "files at head", float64(p.HistoryFiles+1), "files")
	b.rep.add(sc, benchHistHot+" revisions", float64(len(h.hotSeqs)), "revisions")
	b.rep.add(sc, "content appended (every write distinct)", float64(bytesIn)/(1<<20), "MiB")
	b.rep.add(sc, "build time", elapsed.Seconds(), "s")
	b.rep.add(sc, "build rate", perSecond(h.events, elapsed), "events/s")
	b.rep.add(sc, "build rate, content", float64(bytesIn)/(1<<20)/elapsed.Seconds(), "MiB/s")
	// Whether the rate holds as the log grows.
	tenth := max(len(marks)/10, 1)
	firstT, lastT := marks[tenth-1], marks[len(marks)-1]
	before := benchMark{}
	if len(marks) > tenth {
		before = marks[len(marks)-1-tenth]
	}
	b.rep.add(sc, "build rate, first tenth of the change sets", perSecond(firstT.n, firstT.at), "events/s")
	b.rep.add(sc, "build rate, last tenth of the change sets", perSecond(lastT.n-before.n, lastT.at-before.at), "events/s")
	b.rep.add(sc, "reader behind when the last append returned", float64(head-min(applied, head)), "events")
	b.rep.add(sc, "last append → reader applied head", settle.Seconds(), "s")
	b.rep.addRatio(sc, "build rate ÷ catch-up scenario's bulk append rate", perSecond(h.events, elapsed), b.bulkRate)
	if du, err := benchDiskUsage(h.data, "reader"); err == nil {
		b.rep.add(sc, "writer data on disk", du/(1<<20), "MiB")
	}
	b.progress("time travel: %d events (%.0f MiB) in %.1f s; the reader applied the head %.1f s later",
		h.events, float64(bytesIn)/(1<<20), elapsed.Seconds(), settle.Seconds())
	return nil
}

// benchMark is a point of a build's progress.
type benchMark struct {
	at time.Duration
	n  int
}

// --- HTTP helpers ----------------------------------------------------------------

func (h *benchHistory) writerHead(ctx context.Context) (uint64, error) {
	var st struct {
		Head uint64 `json:"head"`
	}
	_, err := h.b.callAs(ctx, h.cl, h.sys.AdminToken, http.MethodGet, h.sys.WriterURL+"/v1/status", nil, &st)
	return st.Head, err
}

func (h *benchHistory) readerApplied(ctx context.Context) (uint64, error) {
	var st struct {
		Applied uint64 `json:"applied"`
	}
	_, err := h.b.callAs(ctx, h.cl, h.sys.AdminToken, http.MethodGet, h.sys.ReaderURL+"/v1/status", nil, &st)
	return st.Applied, err
}

func (h *benchHistory) waitApplied(ctx context.Context, seq uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		applied, err := h.readerApplied(ctx)
		if err == nil && applied >= seq {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the time-travel reader did not reach seq %d within %s (applied %d, err %v): %w", seq, timeout, applied, err, errBenchTimeout)
		}
		if err := benchSleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
}

// get GETs a reader path and reads the whole answer; the duration runs
// from sending the request to the answer's last byte.
func (h *benchHistory) get(ctx context.Context, pathAndQuery string) ([]byte, http.Header, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.sys.ReaderURL+pathAndQuery, nil)
	if err != nil {
		return nil, nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+h.sys.AdminToken)
	t := time.Now()
	resp, err := h.cl.Do(req)
	if err != nil {
		return nil, nil, 0, err
	}
	raw, err := io.ReadAll(resp.Body)
	d := time.Since(t)
	resp.Body.Close()
	if err != nil {
		return nil, nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, 0, fmt.Errorf("GET %s: %d %s", pathAndQuery, resp.StatusCode, strings.TrimSpace(string(raw[:min(len(raw), 4096)])))
	}
	return raw, resp.Header, d, nil
}

// wrong counts answers that are not what was written, and warns about the
// first few.
func (h *benchHistory) wrong(n *int, format string, args ...any) {
	*n++
	if *n <= 3 {
		h.b.rep.Warnings = append(h.b.rep.Warnings, "time travel: "+fmt.Sprintf(format, args...))
	}
}

// benchRandomPoints are n sequences drawn uniformly from [lo, hi] with a
// fixed seed, in the order drawn.
func benchRandomPoints(n int, lo, hi uint64, seed uint64) []uint64 {
	r := rand.New(rand.NewPCG(seed, 3))
	out := make([]uint64, n)
	for k := range out {
		out[k] = lo + r.Uint64N(hi-lo+1)
	}
	return out
}

// --- file at a point -------------------------------------------------------------

// fileAtPoints reads the hot file at random points of its history, twice
// (the first read of a revision makes the reader fetch its content from
// the writer; the second finds it in the reader's own store), each read
// followed by a read of the head version, the baseline.
func (h *benchHistory) fileAtPoints(ctx context.Context) error {
	b, p := h.b, h.b.p
	n := p.HistoryFilePoints
	b.progress("time travel: %s at %d random points of its %d revisions, twice, each followed by a read at head", benchHistHot, n, len(h.hotSeqs))
	points := benchRandomPoints(n, h.setEnd(h.hotSeqs[0]), h.head-1, 1)
	want := func(seq uint64) int { // the hot revision the reader answers at seq
		seq = h.edge(seq)
		return sort.Search(len(h.hotSeqs), func(r int) bool { return h.hotSeqs[r] > seq }) - 1
	}
	last := len(h.hotSeqs) - 1
	headWant := h.plan.content(benchHistHotIndex, last)
	var wrongs int
	check := func(body []byte, hdr http.Header, r int, at string) {
		if !bytes.Equal(body, h.plan.content(benchHistHotIndex, r)) {
			h.wrong(&wrongs, "%s at %s: %d bytes, not revision %d's", benchHistHot, at, len(body), r)
		} else if v := hdr.Get("X-Lighthouse-Version"); v != strconv.Itoa(r+1) {
			h.wrong(&wrongs, "%s at %s: version %s, want %d", benchHistHot, at, v, r+1)
		}
	}
	headPath := "/v1/files/" + benchHistHot
	// Untimed: opens the connection and caches the head version's content.
	if body, hdr, _, err := h.get(ctx, headPath); err != nil {
		return err
	} else {
		check(body, hdr, last, "head")
	}
	var first, again, head []time.Duration
	for pass := range 2 {
		for _, seq := range points {
			if err := ctx.Err(); err != nil {
				return err
			}
			at := strconv.FormatUint(seq, 10)
			body, hdr, d, err := h.get(ctx, headPath+"?at="+at)
			if err != nil {
				return err
			}
			check(body, hdr, want(seq), at)
			if pass == 0 {
				first = append(first, d)
			} else {
				again = append(again, d)
			}
			body, hdr, d, err = h.get(ctx, headPath)
			if err != nil {
				return err
			}
			if !bytes.Equal(body, headWant) {
				h.wrong(&wrongs, "%s at head: %d bytes, not revision %d's", benchHistHot, len(body), last)
			}
			head = append(head, d)
		}
	}
	sf, sa, sh := benchSummarise(first), benchSummarise(again), benchSummarise(head)
	sc := benchScTTFile
	b.rep.add(sc, "revisions of the file", float64(len(h.hotSeqs)), "revisions")
	b.rep.add(sc, "points", float64(n), "samples")
	b.rep.add(sc, "p50, first read of the point", ms(sf.P50), "ms")
	b.rep.add(sc, "p99, first read of the point", ms(sf.P99), "ms")
	b.rep.add(sc, "p50, read again", ms(sa.P50), "ms")
	b.rep.add(sc, "p99, read again", ms(sa.P99), "ms")
	b.rep.add(sc, "head (no at) p50", ms(sh.P50), "ms")
	b.rep.add(sc, "head (no at) p99", ms(sh.P99), "ms")
	b.rep.addRatio(sc, "first read p50 ÷ head p50", ms(sf.P50), ms(sh.P50))
	b.rep.addRatio(sc, "read again p50 ÷ head p50", ms(sa.P50), ms(sh.P50))
	b.rep.addRatio(sc, "head p50 ÷ GET /healthz p50", us(sh.P50), b.loopP50)
	b.rep.add(sc, "wrong answers", float64(wrongs), "answers")
	return nil
}

// --- tree at a point ---------------------------------------------------------------

// treeAtPoints lists the whole tree at random points after every file was
// written, each followed by a listing at head, the baseline.
func (h *benchHistory) treeAtPoints(ctx context.Context) error {
	b, p := h.b, h.b.p
	n := p.HistoryTreePoints
	files := p.HistoryFiles + 1
	b.progress("time travel: the tree (%d files) at %d random points, each followed by the tree at head", files, n)
	points := benchRandomPoints(n, h.firstTree, h.head-1, 2)
	var wrongs int
	count := func(raw []byte, at string) error {
		var tree struct {
			Files []struct {
				Path string `json:"path"`
			} `json:"files"`
		}
		if err := json.Unmarshal(raw, &tree); err != nil {
			return fmt.Errorf("tree at %s: %w", at, err)
		}
		if len(tree.Files) != files {
			h.wrong(&wrongs, "the tree at %s has %d files, want %d", at, len(tree.Files), files)
		}
		return nil
	}
	if raw, _, _, err := h.get(ctx, "/v1/tree"); err != nil { // untimed warm-up
		return err
	} else if err := count(raw, "head"); err != nil {
		return err
	}
	var past, head []time.Duration
	var bytesAt int
	for _, seq := range points {
		at := strconv.FormatUint(seq, 10)
		raw, _, d, err := h.get(ctx, "/v1/tree?at="+at)
		if err != nil {
			return err
		}
		past, bytesAt = append(past, d), len(raw)
		if err := count(raw, at); err != nil {
			return err
		}
		raw, _, d, err = h.get(ctx, "/v1/tree")
		if err != nil {
			return err
		}
		head = append(head, d)
		if err := count(raw, "head"); err != nil {
			return err
		}
	}
	sp, sh := benchSummarise(past), benchSummarise(head)
	h.treeP50 = ms(sp.P50)
	sc := benchScTTTree
	b.rep.add(sc, "files", float64(files), "files")
	b.rep.add(sc, "answer size", float64(bytesAt)/(1<<20), "MiB")
	b.rep.add(sc, "points", float64(n), "samples")
	b.rep.add(sc, "p50", ms(sp.P50), "ms")
	b.rep.add(sc, "p99", ms(sp.P99), "ms")
	b.rep.add(sc, "head (no at) p50", ms(sh.P50), "ms")
	b.rep.add(sc, "head (no at) p99", ms(sh.P99), "ms")
	b.rep.addRatio(sc, "p50 ÷ head p50", ms(sp.P50), ms(sh.P50))
	b.rep.add(sc, "wrong answers", float64(wrongs), "answers")
	return nil
}

// --- diff of two points ------------------------------------------------------------

// diff compares the tree at two points HistoryDiffSpan events apart (both
// after every file exists, both before the head), without and with
// patches. The first diff with patches reads contents the reader has not
// served before, so it fetches them from the writer; it is reported apart.
func (h *benchHistory) diff(ctx context.Context) error {
	b, p := h.b, h.b.p
	span := min(uint64(p.HistoryDiffSpan), h.head-1-h.firstTree)
	from := h.firstTree + (h.head-1-h.firstTree-span)/2
	to := from + span
	from, to = h.edge(from), h.edge(to) // what the reader answers for them
	// The files written between the points: each write is new content.
	changed := map[int32]bool{}
	for _, s := range h.sets {
		for k, i := range s.files {
			if seq := s.first + uint64(k); seq > from && seq <= to {
				changed[i] = true
			}
		}
	}
	b.progress("time travel: diff of seq %d and %d (%d events apart, %d files changed), without and with patches", from, to, span, len(changed))
	var wrongs int
	run := func(patches bool) (time.Duration, int, error) {
		raw, _, d, err := h.get(ctx, fmt.Sprintf("/v1/diff?from=%d&to=%d&patches=%t", from, to, patches))
		if err != nil {
			return 0, 0, err
		}
		var res struct {
			Changes []struct {
				Path   string `json:"path"`
				Status string `json:"status"`
				Patch  string `json:"patch"`
			} `json:"changes"`
		}
		if err := json.Unmarshal(raw, &res); err != nil {
			return 0, 0, fmt.Errorf("diff: %w", err)
		}
		if len(res.Changes) != len(changed) {
			h.wrong(&wrongs, "the diff of %d and %d (patches=%t) has %d changes, want %d", from, to, patches, len(res.Changes), len(changed))
		}
		for _, c := range res.Changes {
			if c.Status != "modified" || patches && !strings.Contains(c.Patch, "@@") {
				h.wrong(&wrongs, "the diff of %d and %d (patches=%t): %s is %q with a %d-byte patch, want modified with a patch", from, to, patches, c.Path, c.Status, len(c.Patch))
				break
			}
		}
		return d, len(raw), nil
	}
	var plain, again []time.Duration
	for range 3 {
		d, _, err := run(false)
		if err != nil {
			return err
		}
		plain = append(plain, d)
	}
	first, size, err := run(true)
	if err != nil {
		return err
	}
	for range 2 {
		d, _, err := run(true)
		if err != nil {
			return err
		}
		again = append(again, d)
	}
	sp, sa := benchSummarise(plain), benchSummarise(again)
	sc := benchScTTDiff
	b.rep.add(sc, "events between the points", float64(span), "events")
	b.rep.add(sc, "changes", float64(len(changed)), "files")
	b.rep.add(sc, "patches=false, median of 3", ms(sp.P50), "ms")
	b.rep.add(sc, "patches=true, first (contents fetched from the writer)", ms(first), "ms")
	b.rep.add(sc, "patches=true, again (median of 2)", ms(sa.P50), "ms")
	b.rep.add(sc, "answer size, patches=true", float64(size)/(1<<20), "MiB")
	b.rep.addRatio(sc, "patches=false ÷ (2 × tree-at-point p50)", ms(sp.P50), 2*h.treeP50)
	b.rep.addRatio(sc, "patches=true again ÷ patches=false", ms(sa.P50), ms(sp.P50))
	b.rep.add(sc, "wrong answers", float64(wrongs), "answers")
	return nil
}

// --- search against grep -------------------------------------------------------------

// search writes the tree at head to the local disk, then searches it for a
// word in one file in a hundred: GET /v1/search against grep -r -n, cold
// (after dropping the page cache; for the reader also its first read of
// these contents, fetched from the writer) and warm (the median of
// WarmPasses more).
func (h *benchHistory) search(ctx context.Context) error {
	b, p := h.b, h.b.p
	root := filepath.Join(b.dir, "history-disk")
	b.progress("time travel: writing the tree at head (%d files) to %s", p.HistoryFiles+1, root)
	write := func(i, r int) error {
		dst := filepath.Join(root, filepath.FromSlash(h.plan.path(i)))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, h.plan.content(i, r), 0o644)
	}
	if err := write(benchHistHotIndex, len(h.hotSeqs)-1); err != nil {
		return err
	}
	var mib float64
	for i := range p.HistoryFiles {
		if err := write(i, h.revs[i]); err != nil {
			return err
		}
		mib += float64(h.plan.lines(i)*benchHistLineLen) / (1 << 20)
	}
	want := h.plan.markedCount()
	b.progress("time travel: search for %q (%d matching files) at head, and grep -r -n, cold and warm", benchHistWord, want)

	q := fmt.Sprintf("/v1/search?q=%s&limit=100000&at=%d", url.QueryEscape(benchHistWord), h.head)
	var searched int
	lighthouse := func() (time.Duration, int, error) {
		raw, _, d, err := h.get(ctx, q)
		if err != nil {
			return 0, 0, err
		}
		lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
		var sum struct {
			Done    bool   `json:"done"`
			Matches int    `json:"matches"`
			Files   int    `json:"files_searched"`
			Trunc   bool   `json:"truncated"`
			Error   string `json:"error"`
		}
		if err := json.Unmarshal(lines[len(lines)-1], &sum); err != nil || !sum.Done {
			return 0, 0, fmt.Errorf("search: the last line is not the summary: %q (%v)", lines[len(lines)-1], err)
		}
		if sum.Error != "" || sum.Trunc {
			return 0, 0, fmt.Errorf("search: error %q, truncated %v", sum.Error, sum.Trunc)
		}
		if sum.Matches != len(lines)-1 {
			return 0, 0, fmt.Errorf("search: %d match lines, the summary says %d", len(lines)-1, sum.Matches)
		}
		searched = sum.Files
		return d, sum.Matches, nil
	}
	grep := func() (time.Duration, int, error) {
		t := time.Now()
		n, err := benchExecLines(ctx, "grep", "-r", "-n", benchHistWord, root)
		return time.Since(t), n, err
	}
	dropped := benchDropCaches()
	lhCold, lhN, err := lighthouse()
	if err != nil {
		return err
	}
	dropped = benchDropCaches() && dropped
	grepCold, grepN, err := grep()
	if err != nil {
		return err
	}
	var lh, gr []time.Duration
	for range p.WarmPasses {
		d, n, err := lighthouse()
		if err != nil {
			return err
		}
		lh, lhN = append(lh, d), n
		if d, n, err = grep(); err != nil {
			return err
		}
		gr, grepN = append(gr, d), n
	}
	if lhN != want || grepN != want || searched != p.HistoryFiles+1 {
		b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("time travel: search found %d matches in %d files, grep -r -n %d; want %d in %d",
			lhN, searched, grepN, want, p.HistoryFiles+1))
	}
	lhWarm, grepWarm := benchSummarise(lh).P50, benchSummarise(gr).P50
	sc := benchScTTSearch
	b.rep.add(sc, "files searched", float64(searched), "files")
	b.rep.add(sc, "size", mib, "MiB")
	b.rep.add(sc, "matches, GET /v1/search", float64(lhN), "lines")
	b.rep.add(sc, "matches, grep -r -n", float64(grepN), "lines")
	b.rep.add(sc, "search, cold (first: contents fetched from the writer)", lhCold.Seconds(), "s")
	b.rep.add(sc, "grep, cold", grepCold.Seconds(), "s")
	b.rep.addRatio(sc, "search ÷ grep, cold", lhCold.Seconds(), grepCold.Seconds())
	b.rep.add(sc, fmt.Sprintf("search, warm (median of %d)", p.WarmPasses), lhWarm.Seconds(), "s")
	b.rep.add(sc, fmt.Sprintf("grep, warm (median of %d)", p.WarmPasses), grepWarm.Seconds(), "s")
	b.rep.addRatio(sc, "search ÷ grep, warm", lhWarm.Seconds(), grepWarm.Seconds())
	yes := 0.0
	if dropped {
		yes = 1
	} else {
		b.rep.Warnings = append(b.rep.Warnings, "time travel: /proc/sys/vm/drop_caches is not writable: \"cold\" searches ran on warm kernel caches")
	}
	b.rep.add(sc, "page cache dropped before each cold pass", yes, "1 = yes")
	return nil
}

// --- resources ---------------------------------------------------------------------

func (h *benchHistory) rss(context.Context) error {
	const sc = "peak RSS (VmHWM)"
	for _, p := range []*supervisor.Process{h.sys.Writer, h.sys.Reader} {
		rss, err := benchVmHWM(p.Pid())
		if err != nil {
			h.b.rep.Warnings = append(h.b.rep.Warnings, fmt.Sprintf("time-travel %s RSS: %v", p.Name, err))
			continue
		}
		h.b.rep.add(sc, "time-travel "+p.Name, rss, "MiB")
	}
	if du, err := benchDiskUsage(filepath.Join(h.data, "reader")); err == nil {
		h.b.rep.add(benchScTTLog, "reader data on disk (after the scenarios)", du/(1<<20), "MiB")
	}
	return nil
}

// fuser starts a fuser on the whole log, as a user mounting an existing
// project does: its catch-up, what its mount shows and its peak RSS (the
// issue's "peak RSS after 1M events: fuser"). It runs after the other
// steps, which it would share the CPUs with, and after the writer's and
// reader's RSS, which its catch-up's requests would add to.
func (h *benchHistory) fuser(ctx context.Context) error {
	b := h.b
	if h.fuseSkip != "" {
		b.progress("time travel: no fuser: %s", h.fuseSkip)
		return nil
	}
	b.progress("time travel: starting a fuser on the log (head %d)", h.head)
	started := time.Now()
	if err := h.sys.StartFuser(ctx); err != nil {
		b.rep.Warnings = append(b.rep.Warnings, "time travel: the fuser did not start again: "+err.Error())
		return nil
	}
	ready := time.Since(started)
	// Read before the walk below, which the fuser serves.
	b.addCPUPerEvent(benchScTTFuser, "fuser", h.sys.Fuser.Pid(), h.head)
	files := 0
	err := filepath.WalkDir(filepath.Join(h.sys.MountDir(), "current"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files++
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("time travel: walk the fuser's current/: %w", err)
	}
	if want := h.plan.Files + 1; files != want {
		return fmt.Errorf("time travel: the fuser's current/ shows %d files once ready, want %d", files, want)
	}
	sc := benchScTTFuser
	b.rep.add(sc, "log events the fuser caught up on", float64(h.head), "events")
	b.rep.add(sc, "fuser start → ready (caught up on the log)", ready.Seconds(), "s")
	b.rep.add(sc, "catch-up rate", float64(h.head)/ready.Seconds(), "events/s")
	b.rep.add(sc, "files in current/", float64(files), "files")
	rss, err := benchVmHWM(h.sys.Fuser.Pid())
	if err != nil {
		b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("time-travel fuser RSS: %v", err))
		return nil
	}
	b.rep.add("peak RSS (VmHWM)", "time-travel fuser", rss, "MiB")
	return nil
}

// benchDiskUsage sums the sizes of the files below root, except below the
// directories named skip.
func benchDiskUsage(root string, skip ...string) (float64, error) {
	var n int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a file removed while walking (Pebble compacts)
			}
			return err
		}
		if d.IsDir() && path != root && slices.Contains(skip, d.Name()) {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return float64(n), err
}
