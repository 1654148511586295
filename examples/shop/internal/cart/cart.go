// Package cart holds line items.
package cart

// Cart is a list of items and their prices in cents.
type Cart struct{ items map[string]int }

// Add puts an item in the cart.
func (c *Cart) Add(name string, cents int) {
	if c.items == nil {
		c.items = map[string]int{}
	}
	c.items[name] += cents
}

// Total is the sum of the prices, in cents.
func (c *Cart) Total() int {
	t := 0
	for _, v := range c.items {
		t += v
	}
	return t
}
