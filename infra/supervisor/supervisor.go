// Package supervisor starts Lighthouse's processes (writer, reader, fuser)
// as separate OS processes, waits for them to be ready and stops them. The
// CLI's `up`, the end-to-end tests and the bench command all use it.
package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// FindBinary locates a Lighthouse binary: beside the running executable,
// then in dir (if set), then on PATH.
func FindBinary(dir, name string) (string, error) {
	var candidates []string
	if dir != "" {
		candidates = append(candidates, filepath.Join(dir, name))
	}
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), name))
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			return c, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("binary %q not found beside %s or on PATH (run `make build`)", name, strings.Join(candidates, ", "))
}

// Process is one running child.
type Process struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs path with args; its output goes to out.
func Start(name, path string, args, env []string, out io.Writer) (*Process, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit error, once Done.
func (p *Process) Err() error { return p.err }

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM and waits up to timeout, then kills.
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		var ee *exec.ExitError
		if errors.As(p.err, &ee) && ee.ExitCode() != 0 {
			return fmt.Errorf("%s exited with %w", p.Name, p.err)
		}
		return nil
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s did not stop within %s; killed", p.Name, timeout)
	}
}

// Kill sends SIGKILL and waits for the exit.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// FreeAddrs returns n distinct loopback addresses whose ports were free just
// now. It holds every port until it has them all, because a port closed
// early may be handed out again by the next pick (two servers of one NATS
// node once got the same port that way). Another process may still take a
// port before it is bound: use it only for servers whose addresses others
// must know before they start (a NATS cluster's routes); everything else
// binds port 0 and reports its address.
func FreeAddrs(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// WaitAddr waits until p has written the address it listens on to file
// (see httpapi.Serve) and returns it.
func WaitAddr(ctx context.Context, p *Process, file string) (string, error) {
	for {
		if raw, err := os.ReadFile(file); err == nil && len(bytes.TrimSpace(raw)) > 0 {
			return string(bytes.TrimSpace(raw)), nil
		}
		select {
		case <-p.done:
			return "", fmt.Errorf("%s exited before it was ready: %v", p.Name, p.err)
		case <-ctx.Done():
			return "", fmt.Errorf("%s did not write its address to %s: %w", p.Name, file, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// WaitReady polls url (a /readyz endpoint) until it answers 200, the
// process exits, or ctx ends.
func WaitReady(ctx context.Context, p *Process, url string) error {
	c := &http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %v", p.Name, p.err)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s: %w", p.Name, url, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
