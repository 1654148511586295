//go:build linux && cgo

package pebbledb

/*
#include <malloc.h>

// tune_malloc bounds what glibc keeps of memory Pebble has freed; see
// tuneMalloc. 0 when this C library has no mallopt settings to change.
static int tune_malloc(void) {
#if defined(__GLIBC__)
	return mallopt(M_ARENA_MAX, 2) && mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#else
	return 1;
#endif
}
*/
import "C"

import "errors"

// tuneMalloc sets the C allocator up for Pebble's manual memory (block
// cache blocks and 32 MiB memtables come from C malloc). By default glibc
// gives each thread that allocates its own arena (up to 8 per core) and
// raises its mmap threshold after every large free, so memtables freed
// after a flush stay in those arenas: a writer held ~280 MiB of arenas for
// ~190 MiB of Pebble memory (docs/bench-perf.txt). Two arenas and a fixed
// 128 KiB threshold (large blocks are mapped and unmapped) hand freed
// memory back. It changes process-wide settings and is idempotent.
func tuneMalloc() error {
	if C.tune_malloc() == 0 {
		return errors.New("mallopt refused the arena or mmap settings")
	}
	return nil
}
