package config

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrOutputClosed is the cause of a SignalContext's end when the reader of
// the process's standard output or error has gone.
var ErrOutputClosed = errors.New("standard output closed")

// SignalContext returns a context that ends on SIGINT or SIGTERM, or when
// standard output or error is a pipe whose reader has gone (`lighthouse
// bench | head -2`, a daemon's log piped to a reader that quit). The CLI
// and every daemon (RunDaemon) run under it. Without it, the first write to such a pipe kills the
// process with SIGPIPE before it can stop its children, unmount or remove
// its temporary files; with it, that write fails with EPIPE and the command
// stops as it would on Ctrl-C. A SIGPIPE from any other descriptor (a peer
// that closed a socket) is ignored: that write fails with EPIPE on its own.
// stop releases the signals.
func SignalContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				switch {
				case s != syscall.SIGPIPE:
					cancel(context.Canceled)
				case stdioClosed():
					cancel(ErrOutputClosed)
				}
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel(context.Canceled)
	}
}

// stdioClosed reports whether standard output or error has no reader: the
// kernel marks a pipe's write end with POLLERR once its last reader closes.
func stdioClosed() bool {
	fds := []unix.PollFd{{Fd: 1, Events: unix.POLLOUT}, {Fd: 2, Events: unix.POLLOUT}}
	if _, err := unix.Poll(fds, 0); err != nil {
		return false
	}
	for _, f := range fds {
		if f.Revents&unix.POLLERR != 0 {
			return true
		}
	}
	return false
}
