package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/supervisor"
)

func isStatus(err error, status int) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Status == status
}

func isField(err error, status int, field string) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Status == status && ce.Field == field
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func eventAt(e *env, seq uint64) (domain.Event, error) {
	evs, _, err := e.admin.Events(context.Background(), seq-1, 1)
	if err != nil {
		return domain.Event{}, err
	}
	if len(evs) != 1 || evs[0].Seq != seq {
		return domain.Event{}, errors.New("event missing")
	}
	return evs[0], nil
}

// startExtraReader starts another reader process on a fresh directory, with
// variables added to its environment and flags to its own, and returns a
// client for it, as admin, and its data directory.
func startExtraReader(e *env, environ []string, flags ...string) (*client.Client, string, error) {
	bin, err := supervisor.FindBinary(binDir, "reader")
	if err != nil {
		return nil, "", err
	}
	data := e.t.TempDir()
	p, err := supervisor.Start("reader-2", bin, append([]string{"--data", data, "--addr", "127.0.0.1:0", "--name", "reader-2",
		"--token-file", filepath.Join(e.data, "service.token")}, flags...),
		append([]string{"LIGHTHOUSE_BUS_URL=" + e.sys.BusURL, "LIGHTHOUSE_URL=" + e.sys.WriterURL}, environ...), e.out)
	if err != nil {
		return nil, "", err
	}
	e.t.Cleanup(func() { p.Stop(10 * time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	addr, err := supervisor.WaitAddr(ctx, p, filepath.Join(data, "reader.addr"))
	if err != nil {
		return nil, "", err
	}
	if err := supervisor.WaitReady(ctx, p, "http://"+addr+"/readyz"); err != nil {
		return nil, "", err
	}
	return client.New("http://"+addr, e.sys.AdminToken), data, nil
}

func errorsAs(err error, target **client.Error) bool { return errors.As(err, target) }

// foldLog reads the writer's whole log through admin, failing the test on a
// gap: the files at its head (path → content hash), the seqs that wrote each
// content hash, and the head.
func foldLog(ctx context.Context, t *testing.T, admin *client.Client) (files map[string]string, writes map[string][]uint64, head uint64) {
	t.Helper()
	files, writes = map[string]string{}, map[string][]uint64{}
	for {
		evs, _, err := admin.Events(ctx, head, 5000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return files, writes, head
		}
		for _, ev := range evs {
			if ev.Seq != head+1 {
				t.Fatalf("gap in the log: %d after %d", ev.Seq, head)
			}
			head = ev.Seq
			if c, ok, _ := domain.AsFileChange(ev); ok {
				if c.Deleted {
					delete(files, string(c.Path))
				} else {
					files[string(c.Path)] = c.Hash
					writes[c.Hash] = append(writes[c.Hash], ev.Seq)
				}
			}
		}
	}
}

// exitCode is the exit status of a command that ran: 0 for a nil error, the
// process's status for an *exec.ExitError, -1 for a command that did not run.
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}
