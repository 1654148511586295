package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/config"
)

// Config says where and how to run a whole Lighthouse.
type Config struct {
	Data string // data directory; the writer's files live here, the reader's and fuser's below it
	// Project is the absolute project root: the gate guards it and a
	// watcher (`lighthouse watch`) shadows it into the log. Empty runs no
	// watcher and leaves the writer's default root.
	Project     string
	WriterAddr  string // host:port; port 0 picks a free one
	ReaderAddr  string
	BusAddr     string // the embedded broker's address, when BusURL is empty
	BusURL      string // an external JetStream URL; empty runs the embedded broker
	Mount       string // where the fuser mounts; empty runs no fuser
	BinDir      string // where the binaries are; empty looks beside the executable and on PATH
	Output      io.Writer
	ReaderData  string   // the reader's data directory; empty is DATA/reader
	WriterArgs  []string // extra flags for the writer
	ReaderArgs  []string
	FuserArgs   []string
	WatcherArgs []string
}

// System is a running writer, reader and (optionally) fuser.
type System struct {
	cfg        Config
	Writer     *Process
	Reader     *Process
	Fuser      *Process
	Watcher    *Process
	WriterURL  string
	ReaderURL  string
	BusURL     string
	AdminToken string
	// FuserError says why the fuser is not running, when it is not.
	FuserError error
	// FuserURL is the fuser's health and metrics endpoint, once it runs.
	FuserURL string
}

// StartSystem starts the writer, waits until it is ready, then the reader
// (and the fuser), each as its own process.
func StartSystem(ctx context.Context, cfg Config) (*System, error) {
	if cfg.Output == nil {
		cfg.Output = os.Stderr
	}
	// Port 0: each process binds a free port itself and writes the address
	// it got into its data directory, so no other process can take the
	// port between a probe and the bind.
	for _, a := range []*string{&cfg.WriterAddr, &cfg.ReaderAddr, &cfg.BusAddr} {
		if *a == "" {
			*a = "127.0.0.1:0"
		}
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	s := &System{cfg: cfg}
	if err := s.StartWriter(ctx); err != nil {
		return nil, err
	}
	adminToken, _ := config.OwnTokenFile(cfg.Data, domain.AgentAdmin)
	raw, err := os.ReadFile(adminToken)
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("read admin token: %w", err)
	}
	s.AdminToken = strings.TrimSpace(string(raw))
	if err := s.StartReader(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	if cfg.Mount != "" {
		s.FuserError = s.StartFuser(ctx)
	}
	if cfg.Project != "" {
		if err := s.StartWatcher(ctx); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// StartWatcher starts the working-tree watcher on cfg.Project and waits
// until it has recorded the tree (its socket answers).
func (s *System) StartWatcher(ctx context.Context) error {
	bin, err := FindBinary(s.cfg.BinDir, "lighthouse")
	if err != nil {
		return err
	}
	args := []string{"watch", s.cfg.Project, "--data", s.cfg.Data, "--url", s.WriterURL}
	if s.cfg.Mount != "" {
		args = append(args, "--skip", s.cfg.Mount)
	}
	p, err := Start("watcher", bin, append(args, s.cfg.WatcherArgs...), s.env(), s.cfg.Output)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	sock := filepath.Join(s.cfg.Data, "watcher.sock")
	for {
		if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			c.Close()
			s.Watcher = p
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("watcher exited before it was ready: %v", p.Err())
		case <-wctx.Done():
			p.Kill()
			return fmt.Errorf("watcher not ready: %w", wctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *System) env() []string {
	return []string{"LIGHTHOUSE_BUS_URL=" + s.BusURL, "LIGHTHOUSE_URL=" + s.WriterURL}
}

// StartWriter (re)starts the writer on the configured address.
func (s *System) StartWriter(ctx context.Context) error {
	bin, err := FindBinary(s.cfg.BinDir, "writer")
	if err != nil {
		return err
	}
	args := []string{"--data", s.cfg.Data, "--addr", s.cfg.WriterAddr, "--bus-addr", s.cfg.BusAddr}
	if s.cfg.Project != "" {
		args = append(args, "--project-root", s.cfg.Project)
	}
	if s.cfg.Mount != "" {
		args = append(args, "--protect", s.cfg.Mount) // the mount is Lighthouse's, not the agents'
	}
	args = append(args, s.cfg.WriterArgs...)
	var env []string
	if s.cfg.BusURL != "" {
		env = append(env, "LIGHTHOUSE_BUS_URL="+s.cfg.BusURL)
	}
	addrFile := filepath.Join(s.cfg.Data, "writer.addr")
	os.Remove(addrFile)
	p, err := Start("writer", bin, args, env, s.cfg.Output)
	if err != nil {
		return err
	}
	s.Writer = p
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	addr, err := WaitAddr(wctx, p, addrFile)
	if err != nil {
		p.Kill()
		return err
	}
	// A restart binds the same address, so clients keep working.
	s.cfg.WriterAddr, s.WriterURL = addr, "http://"+addr
	if err := WaitReady(wctx, p, s.WriterURL+"/readyz"); err != nil {
		p.Kill()
		return err
	}
	raw, err := os.ReadFile(filepath.Join(s.cfg.Data, "bus.url"))
	if err != nil {
		return fmt.Errorf("read bus url: %w", err)
	}
	s.BusURL = strings.TrimSpace(string(raw))
	if s.cfg.BusURL == "" {
		if u, err := url.Parse(s.BusURL); err == nil && u.Host != "" {
			s.cfg.BusAddr = u.Host // the embedded broker's port, kept across restarts
		}
	}
	return nil
}

// StartReader (re)starts the reader and waits until it has caught up.
func (s *System) StartReader(ctx context.Context) error {
	bin, err := FindBinary(s.cfg.BinDir, "reader")
	if err != nil {
		return err
	}
	data := s.cfg.ReaderData
	if data == "" {
		data = filepath.Join(s.cfg.Data, "reader")
	}
	serviceToken, _ := config.OwnTokenFile(s.cfg.Data, domain.AgentService)
	args := append([]string{"--data", data, "--addr", s.cfg.ReaderAddr,
		"--token-file", serviceToken}, s.cfg.ReaderArgs...)
	addrFile := filepath.Join(data, "reader.addr")
	os.Remove(addrFile)
	p, err := Start("reader", bin, args, s.env(), s.cfg.Output)
	if err != nil {
		return err
	}
	s.Reader = p
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	addr, err := WaitAddr(wctx, p, addrFile)
	if err != nil {
		p.Kill()
		return err
	}
	s.cfg.ReaderAddr, s.ReaderURL = addr, "http://"+addr
	if err := WaitReady(wctx, p, s.ReaderURL+"/readyz"); err != nil {
		p.Kill()
		return err
	}
	return nil
}

// StartFuser starts the fuser. A missing FUSE is reported, not fatal.
func (s *System) StartFuser(ctx context.Context) error {
	bin, err := FindBinary(s.cfg.BinDir, "fuser")
	if err != nil {
		return err
	}
	serviceToken, _ := config.OwnTokenFile(s.cfg.Data, domain.AgentService)
	args := append([]string{"--data", filepath.Join(s.cfg.Data, "fuser"), "--mount", s.cfg.Mount, "--addr", "127.0.0.1:0",
		"--token-file", serviceToken}, s.cfg.FuserArgs...)
	addrFile := filepath.Join(s.cfg.Data, "fuser", "fuser.addr")
	os.Remove(addrFile)
	p, err := Start("fuser", bin, args, s.env(), s.cfg.Output)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	addr, err := WaitAddr(wctx, p, addrFile)
	if err == nil {
		err = WaitReady(wctx, p, "http://"+addr+"/readyz")
	}
	if err != nil {
		p.Kill()
		var ee *exec.ExitError
		if errors.As(p.Err(), &ee) && ee.ExitCode() == FuserExitNoFUSE {
			return ErrNoFUSE
		}
		return err
	}
	s.Fuser = p
	s.FuserURL = "http://" + addr
	return nil
}

// FuserExitNoFUSE is the fuser's exit status when FUSE cannot work here.
const FuserExitNoFUSE = 3

// ErrNoFUSE means the machine cannot mount FUSE; the rest runs without it.
var ErrNoFUSE = errors.New("FUSE is not available here (no /dev/fuse, or mounting is not permitted); see the fuser's message above")

// MountDir is where the fuser mounts ("" when it is not asked to).
func (s *System) MountDir() string { return s.cfg.Mount }

// Stop stops the processes, readers first, each with SIGTERM.
func (s *System) Stop() error {
	var errs []error
	for _, p := range []*Process{s.Watcher, s.Fuser, s.Reader, s.Writer} {
		if p != nil {
			errs = append(errs, p.Stop(15*time.Second))
		}
	}
	return errors.Join(errs...)
}
