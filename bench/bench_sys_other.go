//go:build !linux

package bench

import "os"

// benchDatasync falls back to a full fsync where fdatasync is missing.
func benchDatasync(f *os.File) error { return f.Sync() }

func benchFSType(string) string { return "unknown" }
