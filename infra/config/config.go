// Package config is how every Lighthouse process reads its settings: flags,
// whose defaults come from LIGHTHOUSE_* environment variables.
package config

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only by ServeDebug
	"os"
	"strings"
)

// Env returns the environment variable key, or def when it is unset or empty.
func Env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// SetFromEnv sets the flag name of fs from the environment variable key
// when that is set. Call it before fs.Parse, so the command line still
// wins. The error names the variable and its value.
func SetFromEnv(fs *flag.FlagSet, name, key string) error {
	v := os.Getenv(key)
	if v == "" {
		return nil
	}
	if err := fs.Set(name, v); err != nil {
		return fmt.Errorf("%s=%q: %w", key, v, err)
	}
	return nil
}

// Logger returns a JSON logger on stderr at level (debug, info, warn, error).
func Logger(level, process string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	h := slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})
	return slog.New(h).With("process", process), nil
}

// Token returns the bearer token: the value of token if set, else the
// content of tokenFile.
func Token(token, tokenFile string) (string, error) {
	if token != "" {
		return token, nil
	}
	if tokenFile == "" {
		return "", fmt.Errorf("no token: set LIGHTHOUSE_TOKEN or pass --token or --token-file")
	}
	raw, err := os.ReadFile(tokenFile)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	t := strings.TrimSpace(string(raw))
	if t == "" {
		return "", fmt.Errorf("token file %s is empty", tokenFile)
	}
	return t, nil
}

// WriteSecret writes a secret file with mode 0600, atomically.
func WriteSecret(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ServeDebug serves Go's pprof profiles on addr in the background, when addr
// is set (the --debug-addr flag of every process).
func ServeDebug(addr string, log *slog.Logger) {
	if addr == "" {
		return
	}
	go func() { log.Error("debug server stopped", "err", http.ListenAndServe(addr, nil)) }()
}

// ExitCoder is an error that asks for a particular exit status.
type ExitCoder interface {
	error
	ExitCode() int
}

// RunDaemon is the main of every long-running process: a JSON logger at
// level, a SignalContext (SIGTERM, SIGINT, or its log's reader gone), run,
// and an exit status (1 on error, or the error's own ExitCode).
func RunDaemon(process, level string, run func(ctx context.Context, log *slog.Logger) error) {
	log, err := Logger(level, process)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", process, err)
		os.Exit(2)
	}
	// Held to the last line logged: a log whose reader has gone must not
	// kill the process with SIGPIPE at that line.
	ctx, stop := SignalContext(context.Background())
	defer stop()
	err = run(ctx, log)
	if err != nil {
		log.Error(process+" failed", "err", err)
		fmt.Fprintf(os.Stderr, "%s: %v\n", process, err)
		var ec ExitCoder
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
	log.Info(process + " stopped")
}
