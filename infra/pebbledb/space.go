package pebbledb

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrNoSpace means the disk is full, or fuller than the reserve a process
// keeps so that the database itself never runs out of space mid-write.
var ErrNoSpace = errors.New("insufficient storage")

// IsNoSpace reports whether err comes from a full disk.
func IsNoSpace(err error) bool {
	return errors.Is(err, ErrNoSpace) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// CheckSpace fails with ErrNoSpace unless dir's filesystem has need bytes
// free on top of reserve. A reserve of 0 checks nothing.
func CheckSpace(dir string, need, reserve uint64) error {
	if reserve == 0 {
		return nil
	}
	free, err := freeBytes(dir)
	if err != nil {
		return fmt.Errorf("free space of %s: %w", dir, err)
	}
	if free < need+reserve {
		return fmt.Errorf("%w: %d bytes free in %s, %d needed plus a reserve of %d", ErrNoSpace, free, dir, need, reserve)
	}
	return nil
}
