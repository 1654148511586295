// Command shop is a tiny sample project for Lighthouse's quick start.
package main

import (
	"fmt"

	"example.com/shop/internal/cart"
)

func main() {
	var c cart.Cart
	c.Add("tea", 3)
	fmt.Println(c.Total())
}
