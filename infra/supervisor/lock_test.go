package supervisor

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLockData(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "project")
	first, err := LockData(data)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockData(data)
	var inUse *DataInUseError
	if !errors.As(err, &inUse) || inUse.PID != os.Getpid() || inUse.Data != data {
		t.Fatalf("second lock: %v, want a DataInUseError naming pid %d", err, os.Getpid())
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	// A process another test forks at this moment shares the descriptor
	// until it execs, so the kernel may release the lock a moment later.
	deadline := time.Now().Add(5 * time.Second)
	for {
		again, err := LockData(data)
		if err == nil {
			again.Release()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock after release: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
