package httpapi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// TestContentReport: one walk names, for each damaged content and each
// content the store does not have, the file versions holding it, oldest
// first and at most max; a damaged content no version holds is absent, and
// the store's error ends the report.
func TestContentReport(t *testing.T) {
	t.Parallel()
	v := func(p string, seq uint64) domain.FileVersion {
		return domain.FileVersion{Path: domain.Path(p), Seq: seq}
	}
	log := []struct {
		hash string
		v    domain.FileVersion
	}{{"h1", v("a.txt", 1)}, {"h2", v("b.txt", 2)}, {"h1", v("c.txt", 3)}, {"h2", v("d.txt", 5)}, {"h1", v("e.txt", 6)}, {"h3", v("f.txt", 7)}}
	each := func(fn func(string, domain.FileVersion) error) error {
		for _, e := range log {
			if err := fn(e.hash, e.v); err != nil {
				return err
			}
		}
		return nil
	}
	for _, c := range []struct {
		name                  string
		damaged, gone         []string
		max                   int
		wantDamaged, wantGone map[string][]domain.FileVersion
	}{
		{"nothing wrong", nil, nil, 10, map[string][]domain.FileVersion{}, map[string][]domain.FileVersion{}},
		{"damaged", []string{"h1"}, nil, 10, map[string][]domain.FileVersion{"h1": {v("a.txt", 1), v("c.txt", 3), v("e.txt", 6)}}, map[string][]domain.FileVersion{}},
		{"damaged, at most max", []string{"h1"}, nil, 2, map[string][]domain.FileVersion{"h1": {v("a.txt", 1), v("c.txt", 3)}}, map[string][]domain.FileVersion{}},
		{"damaged, one held by none", []string{"h2", "nowhere"}, nil, 10, map[string][]domain.FileVersion{"h2": {v("b.txt", 2), v("d.txt", 5)}}, map[string][]domain.FileVersion{}},
		{"missing", nil, []string{"h1", "h3"}, 2, map[string][]domain.FileVersion{}, map[string][]domain.FileVersion{"h1": {v("a.txt", 1), v("c.txt", 3)}, "h3": {v("f.txt", 7)}}},
		{"both", []string{"h2"}, []string{"h3"}, 10, map[string][]domain.FileVersion{"h2": {v("b.txt", 2), v("d.txt", 5)}}, map[string][]domain.FileVersion{"h3": {v("f.txt", 7)}}},
	} {
		gone := map[string]bool{}
		for _, h := range c.gone {
			gone[h] = true
		}
		has := func(h string) (bool, error) { return !gone[h], nil }
		d, m, err := contentReport(each, has, c.damaged, c.max)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(d) != fmt.Sprint(c.wantDamaged) || fmt.Sprint(m) != fmt.Sprint(c.wantGone) {
			t.Errorf("%s: damaged %v, missing %v; want %v, %v", c.name, d, m, c.wantDamaged, c.wantGone)
		}
	}
	broken := errors.New("store unreadable")
	if _, _, err := contentReport(each, func(string) (bool, error) { return false, broken }, nil, 10); !errors.Is(err, broken) {
		t.Errorf("a store error: %v", err)
	}
}
