// Package cli holds what every command of the lighthouse CLI shares: how
// it finds the data directory, the writer and the reader, and its token
// (Connection), and its argument parsing (Parse) with usage errors (exit 2).
package cli

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

// UsageError is bad command-line input (exit status 2).
type UsageError struct{ Msg string }

// Error returns the message.
func (e UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error { return UsageError{fmt.Sprintf(format, args...)} }

// Connection holds the flags every client command shares and resolves
// them: the data directory per project, the URLs from DATA/writer.addr and
// DATA/reader/reader.addr, the token.
type Connection struct {
	writerURL string
	readerURL string
	token     string
	tokenFile string
	Data      string
	// NoAdmin refuses the fallback to DATA/admin.token: hooks run for
	// agents and must never act as the admin unless given its token.
	NoAdmin bool
}

// Register adds --url, --reader-url, --token, --token-file and --data to fs,
// with their environment variables as defaults.
func (c *Connection) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.writerURL, "url", config.Env("LIGHTHOUSE_URL", ""), "writer URL (env LIGHTHOUSE_URL; default: the address in DATA/writer.addr, else http://127.0.0.1:8765)")
	fs.StringVar(&c.readerURL, "reader-url", config.Env("LIGHTHOUSE_READER_URL", ""), "reader URL (env LIGHTHOUSE_READER_URL; default: the address in DATA/reader/reader.addr, else http://127.0.0.1:8766)")
	fs.StringVar(&c.token, "token", config.Env("LIGHTHOUSE_TOKEN", ""), "bearer token (env LIGHTHOUSE_TOKEN)")
	fs.StringVar(&c.tokenFile, "token-file", config.Env("LIGHTHOUSE_TOKEN_FILE", ""), "file holding the bearer token, used when no token is given (env LIGHTHOUSE_TOKEN_FILE)")
	fs.StringVar(&c.Data, "data", config.Env("LIGHTHOUSE_DATA", ""), "data directory (env LIGHTHOUSE_DATA; default: the one `lighthouse up` uses for the project this directory is in)")
}

// DataDir returns the data directory: --data, else that of the project the
// working directory is in.
func (c *Connection) DataDir() (string, error) {
	if c.Data != "" {
		return c.Data, nil
	}
	d, err := config.FindDataDir(".")
	if err != nil {
		return "", err
	}
	c.Data = d
	return d, nil
}

// ResolveToken returns the token: --token or LIGHTHOUSE_TOKEN, else the
// content of --token-file, else (for people, never for hooks or inside a
// Claude Code session) the local admin token, so the quick start works
// without exporting anything.
func (c *Connection) ResolveToken() (string, error) {
	if c.token != "" || c.tokenFile != "" {
		t, err := config.Token(c.token, c.tokenFile)
		if err != nil {
			return "", fmt.Errorf("no token: %w", err)
		}
		return t, nil
	}
	if c.NoAdmin {
		return "", errors.New("no token for this agent: set LIGHTHOUSE_TOKEN, or run `lighthouse init claude` to store one for the project (the admin token is never used by hooks)")
	}
	if os.Getenv("CLAUDECODE") != "" {
		return "", errors.New("no token: inside a Claude Code session the admin token is not used; set LIGHTHOUSE_TOKEN")
	}
	data, err := c.DataDir()
	if err != nil {
		return "", fmt.Errorf("no token: set LIGHTHOUSE_TOKEN or --token (%v)", err)
	}
	t, err := config.Token("", filepath.Join(data, "admin.token"))
	if err != nil {
		return "", fmt.Errorf("no token: set LIGHTHOUSE_TOKEN or --token (%v)", err)
	}
	return t, nil
}

// URLs returns the writer's and the reader's URLs: flags or environment,
// else the addresses the running processes wrote into the data directory,
// else the defaults.
func (c *Connection) URLs() (writer, reader string) {
	writer, reader = c.writerURL, c.readerURL
	if writer == "" || reader == "" {
		data, err := c.DataDir()
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

// Writer returns a client of the writer with the resolved token.
func (c *Connection) Writer() (*client.Client, error) {
	t, err := c.ResolveToken()
	if err != nil {
		return nil, err
	}
	w, _ := c.URLs()
	return client.New(w, t), nil
}

// Reader returns a client of the reader with the resolved token.
func (c *Connection) Reader() (*client.Client, error) {
	t, err := c.ResolveToken()
	if err != nil {
		return nil, err
	}
	_, r := c.URLs()
	return client.New(r, t), nil
}

// WriterHead returns the writer's head sequence, or 0 when the writer
// cannot tell. Reads that wait for it see everything written before them.
func (c *Connection) WriterHead(ctx context.Context) uint64 {
	w, err := c.Writer()
	if err != nil {
		return 0
	}
	head, err := w.Head(ctx)
	if err != nil {
		return 0
	}
	return head
}

// ParseWriter parses a client command's arguments and returns a writer client.
func (c *Connection) ParseWriter(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, *client.Client, error) {
	pos, err := Parse(fs, args, minArgs, maxArgs)
	if err != nil {
		return nil, nil, err
	}
	w, err := c.Writer()
	return pos, w, err
}

// ParseReader parses a client command's arguments and returns a reader client.
func (c *Connection) ParseReader(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, *client.Client, error) {
	pos, err := Parse(fs, args, minArgs, maxArgs)
	if err != nil {
		return nil, nil, err
	}
	r, err := c.Reader()
	return pos, r, err
}

// Parse parses flags that may come before or after the positional
// arguments, and checks the count of positionals.
func Parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stdout)
				fs.PrintDefaults()
				return nil, err
			}
			return nil, Usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < minArgs || (maxArgs >= 0 && len(pos) > maxArgs) {
		return nil, Usagef("%s: wrong number of arguments (%s)", fs.Name(), strings.Join(pos, " "))
	}
	return pos, nil
}
