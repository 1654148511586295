package httpapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
)

// TestShutdownEndsLongPolls: a long poll answers as soon as the server
// begins to shut down, and the shutdown then ends cleanly instead of
// waiting out the poll past its grace (an agent's hook polling a review
// made every stop of the writer fail after 10 s).
func TestShutdownEndsLongPolls(t *testing.T) {
	t.Parallel()
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pctx, cancel := longPoll(r, time.Minute)
		defer cancel()
		close(started)
		<-pctx.Done()
		io.WriteString(w, "as it stands")
	})
	addrFile := filepath.Join(t.TempDir(), "addr")
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), h, ServeOptions{Addr: "127.0.0.1:0", AddrFile: addrFile})
	}()
	var addr []byte
	for addr == nil {
		addr, _ = os.ReadFile(addrFile)
		time.Sleep(5 * time.Millisecond)
	}
	answered := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + string(addr) + "/")
		if err != nil {
			answered <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- string(b)
	}()
	<-started
	stop()
	if err := <-served; err != nil {
		t.Fatalf("shutdown with a long poll open: %v", err)
	}
	if got := <-answered; got != "as it stands" {
		t.Fatalf("the poll answered %q", got)
	}
}

// TestErrorMessagesSayTheirCodeOnce: a forbidden or not-found error's
// message leaves out the word its code already says (clients print "403
// forbidden: forbidden: role builder…").
func TestErrorMessagesSayTheirCodeOnce(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err        error
		code, want string
	}{
		{fmt.Errorf("%w: role builder may not do this", domain.ErrForbidden), "forbidden", "role builder may not do this"},
		{fmt.Errorf("message x: %w", domain.ErrNotFound), "not_found", "message x"},
		{fmt.Errorf("thread t: %w", fmt.Errorf("lookup: %w", domain.ErrNotFound)), "not_found", "thread t: lookup"},
		{domain.ErrForbidden, "forbidden", "forbidden"},
	} {
		if _, d := statusOf(c.err); d.Code != c.code || d.Message != c.want {
			t.Errorf("statusOf(%v) = %s %q; want %s %q", c.err, d.Code, d.Message, c.code, c.want)
		}
	}
}
