//go:build !linux || !cgo

package pebbledb

// tuneMalloc has nothing to tune here: without cgo Pebble allocates from
// the Go heap, and other C libraries keep their own defaults.
func tuneMalloc() error { return nil }
