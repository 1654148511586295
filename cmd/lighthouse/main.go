// Command lighthouse is the one CLI people and agents' hooks run: it starts
// the system, manages agents and talks to the writer and the reader.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/config"
)

// usageError is bad command-line input (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// connection holds the flags every client command shares.
type connection struct {
	writerURL string
	readerURL string
	token     string
	tokenFile string
	data      string
	// noAdmin refuses the fallback to DATA/admin.token: hooks run for
	// agents and must never act as the admin unless given its token.
	noAdmin bool
}

func (c *connection) register(fs *flag.FlagSet) {
	fs.StringVar(&c.writerURL, "url", config.Env("LIGHTHOUSE_URL", ""), "writer URL (env LIGHTHOUSE_URL; default: the address in DATA/writer.addr, else http://127.0.0.1:8765)")
	fs.StringVar(&c.readerURL, "reader-url", config.Env("LIGHTHOUSE_READER_URL", ""), "reader URL (env LIGHTHOUSE_READER_URL; default: the address in DATA/reader/reader.addr, else http://127.0.0.1:8766)")
	fs.StringVar(&c.token, "token", config.Env("LIGHTHOUSE_TOKEN", ""), "bearer token (env LIGHTHOUSE_TOKEN)")
	fs.StringVar(&c.tokenFile, "token-file", config.Env("LIGHTHOUSE_TOKEN_FILE", ""), "file holding the bearer token, used when no token is given (env LIGHTHOUSE_TOKEN_FILE)")
	fs.StringVar(&c.data, "data", config.Env("LIGHTHOUSE_DATA", ""), "data directory (env LIGHTHOUSE_DATA; default: the one `lighthouse up` uses for the project this directory is in)")
}

// dataDir returns the data directory: --data, else that of the project the
// working directory is in.
func (c *connection) dataDir() (string, error) {
	if c.data != "" {
		return c.data, nil
	}
	d, err := config.FindDataDir(".")
	if err != nil {
		return "", err
	}
	c.data = d
	return d, nil
}

// resolveToken returns the token: --token or LIGHTHOUSE_TOKEN, else the
// content of --token-file, else (for people, never for hooks or inside a
// Claude Code session) the local admin token, so the quick start works
// without exporting anything.
func (c *connection) resolveToken() (string, error) {
	if c.token != "" || c.tokenFile != "" {
		t, err := config.Token(c.token, c.tokenFile)
		if err != nil {
			return "", fmt.Errorf("no token: %w", err)
		}
		return t, nil
	}
	if c.noAdmin {
		return "", errors.New("no token for this agent: set LIGHTHOUSE_TOKEN, or run `lighthouse init claude` to store one for the project (the admin token is never used by hooks)")
	}
	if os.Getenv("CLAUDECODE") != "" {
		return "", errors.New("no token: inside a Claude Code session the admin token is not used; set LIGHTHOUSE_TOKEN")
	}
	data, err := c.dataDir()
	if err != nil {
		return "", fmt.Errorf("no token: set LIGHTHOUSE_TOKEN or --token (%v)", err)
	}
	t, err := config.Token("", filepath.Join(data, "admin.token"))
	if err != nil {
		return "", fmt.Errorf("no token: set LIGHTHOUSE_TOKEN or --token (%v)", err)
	}
	return t, nil
}

// urls returns the writer's and the reader's URLs: flags or environment,
// else the addresses the running processes wrote into the data directory,
// else the defaults.
func (c *connection) urls() (writer, reader string) {
	writer, reader = c.writerURL, c.readerURL
	if writer == "" || reader == "" {
		data, err := c.dataDir()
		if writer == "" && err == nil {
			writer = config.AddrURL(filepath.Join(data, "writer.addr"))
		}
		if reader == "" && err == nil {
			reader = config.AddrURL(filepath.Join(data, "reader", "reader.addr"))
		}
	}
	if writer == "" {
		writer = "http://127.0.0.1:8765"
	}
	if reader == "" {
		reader = "http://127.0.0.1:8766"
	}
	return writer, reader
}

func (c *connection) writer() (*client.Client, error) {
	t, err := c.resolveToken()
	if err != nil {
		return nil, err
	}
	w, _ := c.urls()
	return client.New(w, t), nil
}

func (c *connection) reader() (*client.Client, error) {
	t, err := c.resolveToken()
	if err != nil {
		return nil, err
	}
	_, r := c.urls()
	return client.New(r, t), nil
}

// writerHead returns the writer's head sequence, or 0 when the writer
// cannot tell. Reads that wait for it see everything written before them.
func (c *connection) writerHead(ctx context.Context) uint64 {
	w, err := c.writer()
	if err != nil {
		return 0
	}
	var st struct {
		Head uint64 `json:"head"`
	}
	if _, err := w.Do(ctx, "GET", "/v1/status", nil, nil, &st); err != nil {
		return 0
	}
	return st.Head
}

// parseWriter parses a client command's arguments and returns a writer client.
func (c *connection) parseWriter(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, *client.Client, error) {
	pos, err := parse(fs, args, minArgs, maxArgs)
	if err != nil {
		return nil, nil, err
	}
	w, err := c.writer()
	return pos, w, err
}

// parseReader parses a client command's arguments and returns a reader client.
func (c *connection) parseReader(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, *client.Client, error) {
	pos, err := parse(fs, args, minArgs, maxArgs)
	if err != nil {
		return nil, nil, err
	}
	r, err := c.reader()
	return pos, r, err
}

// parse parses flags that may come before or after the positional
// arguments, and checks the count of positionals.
func parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stdout)
				fs.PrintDefaults()
				return nil, err
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < minArgs || (maxArgs >= 0 && len(pos) > maxArgs) {
		return nil, usagef("%s: wrong number of arguments (%s)", fs.Name(), strings.Join(pos, " "))
	}
	return pos, nil
}
