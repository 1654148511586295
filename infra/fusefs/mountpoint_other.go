//go:build !linux

package fusefs

import (
	"log/slog"
	"os/exec"
	"path/filepath"
)

// Outside Linux there is no /proc/self/mountinfo: stale mounts are not
// detected, and unmounting goes through umount(8).

func resolveMountpoint(mountpoint string) (string, error) { return filepath.Abs(mountpoint) }

func mountsAt(dir string) ([]string, error) { return nil, nil }

func clearMounts(dir string, log *slog.Logger) error { return nil }

func detach(dir string) error { return exec.Command("umount", "-f", dir).Run() }

const directMountFlags = 0 // go-fuse's defaults; "ro" is passed as an option
