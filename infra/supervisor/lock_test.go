package supervisor

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
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
	again, err := LockData(data)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again.Release()
}
