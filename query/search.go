package query

import (
	"bufio"
	"context"
	"errors"
	"io"
	"path"
	"regexp"
	"slices"
	"sync"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/projections"
)

// Search looks for a pattern in every file (matching Globs) as of At.
type Search struct {
	Pattern    string
	Literal    bool
	IgnoreCase bool
	At         uint64
	Globs      []string // path globs; a glob without "/" also matches base names
	Limit      int      // at most this many matches
}

// Match is one matching line.
type Match struct {
	Path string `json:"path"`
	Line int    `json:"line"`
	Text string `json:"text"`
}

// SearchSummary closes a search.
type SearchSummary struct {
	Matches   int  `json:"matches"`
	Files     int  `json:"files_searched"`
	Truncated bool `json:"truncated"`
	// Corrupt lists the files skipped because their stored content no
	// longer matches its hash.
	Corrupt []string `json:"corrupt,omitempty"`
}

// Limits of a search.
const (
	MaxSearchMatches  = 100000
	maxSearchFile     = 64 << 20
	maxSearchLine     = 1 << 20
	searchParallelism = 4
	prefetchChunk     = 512
)

// errLimit stops a search that has found enough.
var errLimit = errors.New("match limit reached")

// SearchHandler handles Search, reading files in parallel and emitting
// matches in path order as they are found.
type SearchHandler struct {
	Model   ReadModel
	Content Content
}

// Handle calls emit for each match; binary files are skipped, like grep -I.
func (h SearchHandler) Handle(ctx context.Context, q Search, emit func(Match) error) (SearchSummary, error) {
	expr := q.Pattern
	if q.Literal {
		expr = regexp.QuoteMeta(expr)
	}
	if q.IgnoreCase {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return SearchSummary{}, domain.Invalid("q", "pattern_invalid", "bad regular expression: %v", err)
	}
	for _, g := range q.Globs {
		if _, err := path.Match(g, ""); err != nil {
			return SearchSummary{}, domain.Invalid("glob", "glob_invalid", "bad glob %q", g)
		}
	}
	limit := q.Limit
	if limit <= 0 || limit > MaxSearchMatches {
		limit = MaxSearchMatches
	}
	all, err := h.Model.Tree(q.At, "")
	if err != nil {
		return SearchSummary{}, err
	}
	var files []projections.FileInfo
	for _, f := range all {
		if f.Size <= maxSearchFile && globbed(f.Path, q.Globs) {
			files = append(files, f)
		}
	}
	sum := SearchSummary{Files: len(files)}
	// Each file's matches land in its own slot; slots are emitted in order.
	results := make([]chan []Match, len(files))
	for i := range results {
		results[i] = make(chan []Match, 1)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan int)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) { errOnce.Do(func() { firstErr = err; cancel() }) }
	var (
		corruptMu sync.Mutex
		corrupt   []string
	)
	takeCorrupt := func() {
		corruptMu.Lock()
		sum.Corrupt = slices.Sorted(slices.Values(corrupt))
		corruptMu.Unlock()
	}
	for w := 0; w < searchParallelism; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				m, err := h.searchFile(ctx, files[i], re, limit)
				if errors.Is(err, domain.ErrCorruptContent) {
					corruptMu.Lock()
					corrupt = append(corrupt, files[i].Path)
					corruptMu.Unlock()
					m, err = nil, nil
				}
				if err != nil {
					fail(err)
				}
				results[i] <- m
			}
		}()
	}
	// Contents are fetched ahead a chunk at a time, so a search that stops
	// early does not fetch everything.
	go func() {
		defer close(work)
		for start := 0; start < len(files); start += prefetchChunk {
			chunk := files[start:min(start+prefetchChunk, len(files))]
			hashes := make([]string, len(chunk))
			for i, f := range chunk {
				hashes[i] = f.Hash
			}
			if err := prefetch(ctx, h.Content, hashes); err != nil {
				fail(err)
				return
			}
			for i := range chunk {
				select {
				case work <- start + i:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	defer wg.Wait()
	for i := range files {
		var ms []Match
		select {
		case ms = <-results[i]:
		case <-ctx.Done():
			if firstErr != nil {
				return sum, firstErr
			}
			return sum, ctx.Err()
		}
		for _, m := range ms {
			if sum.Matches == limit {
				sum.Truncated = true
				cancel()
				takeCorrupt()
				return sum, nil
			}
			if err := emit(m); err != nil {
				cancel()
				return sum, err
			}
			sum.Matches++
		}
	}
	takeCorrupt()
	return sum, nil
}

func (h SearchHandler) searchFile(ctx context.Context, f projections.FileInfo, re *regexp.Regexp, limit int) ([]Match, error) {
	if ctx.Err() != nil {
		return nil, nil
	}
	rc, err := h.Content.Open(ctx, f.Hash)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	if head, _ := br.Peek(8000); isBinary(head) {
		return nil, nil
	}
	var out []Match
	for n := 1; len(out) < limit; n++ {
		line, err := readLine(br)
		if len(line) > 0 && re.Match(line) {
			out = append(out, Match{Path: f.Path, Line: n, Text: string(line)})
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readLine returns the next line without its newline, cut at maxSearchLine.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if len(line) < maxSearchLine {
			line = append(line, chunk[:min(len(chunk), maxSearchLine-len(line))]...)
		}
		if err != nil || !isPrefix {
			return line, err
		}
	}
}

func globbed(p string, globs []string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, p); ok {
			return true
		}
		if ok, _ := path.Match(g, path.Base(p)); ok {
			return true
		}
	}
	return false
}
