package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// DataInUseError says that another process holds a data directory's lock:
// the project is already run by another `lighthouse up`.
type DataInUseError struct {
	Data string
	PID  int // the holder's process id, 0 when unknown
}

func (e *DataInUseError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "pid " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("the data directory %s is in use by another `lighthouse up` (%s): this project is already running; stop that one first", e.Data, holder)
}

// DataLock is an exclusive hold on a data directory (DATA/up.lock).
type DataLock struct{ f *os.File }

// LockData takes the data directory's lock without waiting, creating the
// directory if needed, and records this process's id in it. A held lock is
// a *DataInUseError. It must be taken before anything in the directory is
// touched (address files, sockets), so a second start of the same project
// cannot disturb the running one. The kernel releases the lock when the
// process dies, so a crash never leaves it stale.
func LockData(data string) (*DataLock, error) {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(data, "up.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		raw, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
			return nil, &DataInUseError{Data: data, PID: pid}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &DataLock{f: f}, nil
}

// Release gives the lock up.
func (l *DataLock) Release() error { return l.f.Close() }
