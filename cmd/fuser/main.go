// Command fuser builds its own projection from the event stream and serves
// it as a read-only FUSE filesystem.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "fuser: the FUSE projection is not built yet")
	os.Exit(1)
}
