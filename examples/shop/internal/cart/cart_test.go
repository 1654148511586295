package cart

import "testing"

func TestTotal(t *testing.T) {
	var c Cart
	c.Add("tea", 3)
	c.Add("cake", 4)
	if c.Total() != 7 {
		t.Fatalf("total %d", c.Total())
	}
}
