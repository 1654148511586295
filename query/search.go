package query

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"regexp/syntax"
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
	m, err := newLineMatcher(q)
	if err != nil {
		return SearchSummary{}, err
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
			var buf []byte // this worker's file contents, one at a time
			for i := range work {
				var ms []Match
				var err error
				ms, buf, err = h.searchFile(ctx, files[i], m, limit, buf)
				if errors.Is(err, domain.ErrCorruptContent) {
					corruptMu.Lock()
					corrupt = append(corrupt, files[i].Path)
					corruptMu.Unlock()
					ms, err = nil, nil
				}
				if err != nil {
					fail(err)
				}
				results[i] <- ms
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

// searchFile returns f's matching lines. A file of at most maxSearchLine
// bytes is read whole into buf (returned for the next file) and searched
// with m.find; a larger one line by line.
func (h SearchHandler) searchFile(ctx context.Context, f projections.FileInfo, m *lineMatcher, limit int, buf []byte) ([]Match, []byte, error) {
	if ctx.Err() != nil {
		return nil, buf, nil
	}
	rc, err := h.Content.Open(ctx, f.Hash)
	if err != nil {
		return nil, buf, err
	}
	defer rc.Close()
	if f.Size <= maxSearchLine {
		// One byte more than the file should hold shows whether it does.
		data, err := readUpTo(rc, buf[:0], maxSearchLine+1)
		if err != nil {
			return nil, data, err
		}
		if isBinary(data) {
			return nil, data, nil
		}
		if len(data) <= maxSearchLine {
			return m.find(ctx, f.Path, data, limit), data, nil
		}
		if _, err := rc.Seek(0, io.SeekStart); err != nil {
			return nil, data, fmt.Errorf("search %s: %w", f.Path, err)
		}
	}
	br := bufio.NewReaderSize(rc, 64<<10)
	if head, _ := br.Peek(8000); isBinary(head) {
		return nil, buf, nil
	}
	var out []Match
	for n := 1; len(out) < limit; n++ {
		line, err := readLine(br)
		if len(line) > 0 && m.line.Match(line) {
			out = append(out, Match{Path: f.Path, Line: n, Text: string(line)})
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, buf, err
		}
	}
	return out, buf, nil
}

// readUpTo appends up to max bytes of r to buf.
// A reader that returns nothing, and no error, 100 times running is an
// io.ErrNoProgress, as in bufio.
func readUpTo(r io.Reader, buf []byte, max int) ([]byte, error) {
	for empty := 0; len(buf) < max; {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), max)])
		buf = buf[:len(buf)+n]
		if n > 0 {
			empty = 0
		} else if empty++; empty == 100 && err == nil {
			return buf, io.ErrNoProgress
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// lineMatcher matches a search's pattern against lines, as grep does: a
// line matches when the pattern matches somewhere in it, without its
// newline (nor a carriage return before it).
type lineMatcher struct {
	line *regexp.Regexp // the pattern, matched against one line
	// file is the pattern in multi-line mode, run over a whole file to find
	// the lines worth matching: one scan instead of one match a line. Nil
	// when it could miss a line line does match (see newLineMatcher).
	file *regexp.Regexp
}

// newLineMatcher compiles q's pattern; a bad one is a *domain.ValidationError.
func newLineMatcher(q Search) (*lineMatcher, error) {
	expr := q.Pattern
	if q.Literal {
		expr = regexp.QuoteMeta(expr)
	}
	if q.IgnoreCase {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, domain.Invalid("q", "pattern_invalid", "bad regular expression: %v", err)
	}
	m := &lineMatcher{line: re}
	// With the m flag, ^ and $ hold at a line's ends inside a file as they
	// do at the ends of a line alone, and so do \b and \B (a newline is not
	// a word character). So a match within a line is a match in the file,
	// starting at the same byte, and the file's leftmost match starts in
	// the first line that matches. Only \A and \z (and ^ or $ with the m
	// flag cleared) hold at a line's ends and not inside a file: such a
	// pattern is matched line by line. So is a pattern that can match a
	// newline ([^x], \s, (?s:.)): its matches would run on over lines, to
	// the end of the file, so each line where one starts would rescan the
	// rest of it. find still matches each line the scan finds as a line, a
	// guard that costs one match a matching line.
	//
	// The scan pays only for a pattern that starts with a literal, which
	// the regexp package finds with a fast byte search; any other pattern
	// (one that starts with ^, a class, or ignores case) costs as much over
	// a file as over its lines, and more when only a line's start can match.
	wrapped := "(?m:" + expr + ")"
	if tree, err := syntax.Parse(wrapped, syntax.Perl); err == nil && !hasTextAnchor(tree) && !matchesNewline(tree) {
		if file, err := regexp.Compile(wrapped); err == nil {
			if prefix, _ := file.LiteralPrefix(); prefix != "" {
				m.file = file
			}
		}
	}
	return m, nil
}

// hasTextAnchor reports whether re holds \A or \z (or ^, $ without the m flag).
func hasTextAnchor(re *syntax.Regexp) bool {
	if re.Op == syntax.OpBeginText || re.Op == syntax.OpEndText {
		return true
	}
	return slices.ContainsFunc(re.Sub, hasTextAnchor)
}

// matchesNewline reports whether re can match a newline character.
func matchesNewline(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpAnyChar:
		return true
	case syntax.OpLiteral:
		return slices.Contains(re.Rune, '\n')
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i] <= '\n' && '\n' <= re.Rune[i+1] {
				return true
			}
		}
		return false
	}
	return slices.ContainsFunc(re.Sub, matchesNewline)
}

// find returns the lines of data that match, at most limit, numbered from
// 1. data holds no line over maxSearchLine bytes (it is no longer).
// It gives up, returning nil, when ctx ends.
func (m *lineMatcher) find(ctx context.Context, path string, data []byte, limit int) []Match {
	var out []Match
	if m.file == nil || bytes.IndexByte(data, '\r') >= 0 {
		// Line by line: a line's carriage return is not part of it.
		for n, pos := 1, 0; pos < len(data) && len(out) < limit; n++ {
			if n%1024 == 0 && ctx.Err() != nil {
				return nil
			}
			end := len(data)
			if i := bytes.IndexByte(data[pos:], '\n'); i >= 0 {
				end = pos + i
			}
			line := data[pos:end]
			if end < len(data) {
				line = bytes.TrimSuffix(line, []byte{'\r'}) // as bufio.Reader.ReadLine
			}
			if len(line) > 0 && m.line.Match(line) {
				out = append(out, Match{Path: path, Line: n, Text: string(line)})
			}
			pos = end + 1
		}
		return out
	}
	n := 1 // the line number at pos, a line's start
	for pos := 0; pos < len(data) && len(out) < limit; {
		if ctx.Err() != nil {
			return nil
		}
		loc := m.file.FindIndex(data[pos:])
		if loc == nil {
			break
		}
		at := pos + loc[0]
		start := pos + bytes.LastIndexByte(data[pos:at], '\n') + 1
		end := len(data)
		if i := bytes.IndexByte(data[at:], '\n'); i >= 0 {
			end = at + i
		}
		n += bytes.Count(data[pos:start], []byte{'\n'})
		if line := data[start:end]; len(line) > 0 && m.line.Match(line) {
			out = append(out, Match{Path: path, Line: n, Text: string(line)})
		}
		pos, n = end+1, n+1
	}
	return out
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
