//go:build linux

package bench

import (
	"fmt"
	"os"
	"syscall"
)

// benchDatasync flushes f's data (and the size, when it grew) to the disk.
func benchDatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// benchFSType names the file system dir is on, for the report's header.
func benchFSType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	switch uint64(st.Type) {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs"
	case 0x794C7630:
		return "overlayfs"
	case 0x2FC12FC1:
		return "zfs"
	case 0x6969:
		return "nfs"
	}
	return fmt.Sprintf("0x%X", uint64(st.Type))
}
