package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/lighthouse-ai/lighthouse/infra/testchild"
)

// signalHelperEnv makes the test binary act as a CLI whose output is cut.
const signalHelperEnv = "LIGHTHOUSE_SIGNAL_HELPER"

// TestSignalContextEndsWhenOutputCloses runs the test binary as a command
// whose standard output is a pipe, closes the pipe's reader as `head` does,
// and expects the command's context to end with ErrOutputClosed instead of
// the process dying of SIGPIPE. Before that, a peer closing a socket must
// not end it.
func TestSignalContextEndsWhenOutputCloses(t *testing.T) {
	if os.Getenv(signalHelperEnv) == "1" {
		os.Exit(signalHelper())
	}
	t.Parallel()
	cmd, out, line := testchild.Start(context.Background(), t, "TestSignalContextEndsWhenOutputCloses", signalHelperEnv+"=1")
	if line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper's first line %q", line)
	}
	out.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v (a signal here is the SIGPIPE death this prevents)", err)
	}
}

// signalHelper is the helper process's body; its exit status is the result.
func signalHelper() int {
	ctx, stop := SignalContext(context.Background())
	defer stop()
	if err := writeToClosedSocket(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	time.Sleep(100 * time.Millisecond)
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "a socket's SIGPIPE ended the context")
		return 4
	}
	fmt.Fprintln(os.Stdout, "ready")
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-ctx.Done():
			if cause := context.Cause(ctx); !errors.Is(cause, ErrOutputClosed) {
				fmt.Fprintln(os.Stderr, "ended with", cause)
				return 5
			}
			return 0
		case <-deadline:
			fmt.Fprintln(os.Stderr, "the context did not end after the output's reader closed")
			return 6
		case <-time.After(10 * time.Millisecond):
			fmt.Fprintln(os.Stdout, "more")
		}
	}
}

// writeToClosedSocket writes to a TCP connection whose peer has closed
// until the write fails with EPIPE (or a reset), raising SIGPIPE.
func writeToClosedSocket() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	peer, err := l.Accept()
	if err != nil {
		return err
	}
	peer.Close()
	for range 100 {
		if _, err := c.Write([]byte("x")); err != nil {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("writes to a closed socket kept succeeding")
}
