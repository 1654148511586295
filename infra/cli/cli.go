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

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/client"
	"github.com/lighthouse-ai/lighthouse/infra/config"
)

// NotRunningError is a server whose address file is missing: it is not
// running (a server removes its file when it stops).
type NotRunningError struct {
	Process string // "writer" or "reader"
	File    string // the address file looked for
	Env     string // the variable that names its URL instead
}

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("no %s address in %s: is `lighthouse up` running for this project? (or set %s)", e.Process, e.File, e.Env)
}

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
	// root is the project root once known: found with the data directory,
	// or asked from the writer.
	root string
}

// Register adds --url, --reader-url, --token, --token-file and --data to fs,
// with their environment variables as defaults.
func (c *Connection) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.writerURL, "url", config.Env("LIGHTHOUSE_URL", ""), "writer URL (env LIGHTHOUSE_URL; default: the address in DATA/writer.addr)")
	fs.StringVar(&c.readerURL, "reader-url", config.Env("LIGHTHOUSE_READER_URL", ""), "reader URL (env LIGHTHOUSE_READER_URL; default: the address in DATA/reader/reader.addr)")
	fs.StringVar(&c.token, "token", config.Env("LIGHTHOUSE_TOKEN", ""), "bearer token (env LIGHTHOUSE_TOKEN)")
	fs.StringVar(&c.tokenFile, "token-file", config.Env("LIGHTHOUSE_TOKEN_FILE", ""), "file holding the bearer token, used when no token is given (env LIGHTHOUSE_TOKEN_FILE)")
	fs.StringVar(&c.Data, "data", config.Env("LIGHTHOUSE_DATA", ""), "data directory (env LIGHTHOUSE_DATA; default: the one lighthouse up uses for the project this directory is in)")
}

// NotInProjectError is returned when a command needs the data directory
// and neither --data nor LIGHTHOUSE_DATA names one, and the working
// directory lies in no guarded project.
type NotInProjectError struct {
	Dir   string // the working directory
	State string // where data directories are looked for
}

// Error names the directory, where data directories were looked for, and
// the ways out.
func (e *NotInProjectError) Error() string {
	return fmt.Sprintf("%s is not inside a guarded project (no data directory for it or its parents under %s); "+
		"run `lighthouse up --project DIR`, or set LIGHTHOUSE_DATA / LIGHTHOUSE_URL", e.Dir, e.State)
}

// DataDir returns the data directory: --data, else that of the project the
// working directory is in. Outside any project it is a *NotInProjectError.
func (c *Connection) DataDir() (string, error) {
	if c.Data != "" {
		return c.Data, nil
	}
	root, data, ok, err := config.LocateProject(".")
	if err != nil {
		return "", err
	}
	if !ok {
		cwd, _ := config.ProjectDir(".")
		state, _ := config.StateHome()
		return "", &NotInProjectError{Dir: cwd, State: filepath.Join(state, "projects")}
	}
	c.Data, c.root = data, root
	return data, nil
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
		return "", errors.New("no token for this agent: set LIGHTHOUSE_TOKEN, or run `lighthouse init claude` to store one for the project (the admin token is never used by an agent's hooks or MCP server)")
	}
	if InAgentSession() {
		return "", errors.New("no token: inside a Claude Code session the admin token is not used; set LIGHTHOUSE_TOKEN")
	}
	data, err := c.DataDir()
	if err != nil {
		var nip *NotInProjectError
		if errors.As(err, &nip) {
			return "", err
		}
		return "", fmt.Errorf("no token: set LIGHTHOUSE_TOKEN or --token (%w)", err)
	}
	adminToken, _ := config.OwnTokenFile(data, domain.AgentAdmin)
	t, err := config.Token("", adminToken)
	if err != nil {
		return "", fmt.Errorf("no token: set LIGHTHOUSE_TOKEN or --token (%w)", err)
	}
	return t, nil
}

// URLs returns the writer's and the reader's URLs: flags or environment,
// else the addresses the running processes wrote into the data directory.
// Without a URL and outside any project it is a *NotInProjectError; with a
// data directory that holds no address (its system is not running, or a
// start failed) it is an error naming the file. It never guesses the
// default ports: whatever listens there, maybe another project's writer,
// would be sent this project's token.
func (c *Connection) URLs() (writer, reader string, err error) {
	writer, reader = c.writerURL, c.readerURL
	if writer != "" && reader != "" {
		return writer, reader, nil
	}
	data, err := c.DataDir()
	if err != nil {
		if writer != "" {
			err = fmt.Errorf("no reader URL: set LIGHTHOUSE_READER_URL or --reader-url along with the writer's (%w)", err)
		} else if reader != "" {
			err = fmt.Errorf("no writer URL: set LIGHTHOUSE_URL or --url along with the reader's (%w)", err)
		}
		return writer, reader, err
	}
	notRunning := func(process, file, env string) error { return &NotRunningError{Process: process, File: file, Env: env} }
	if reader == "" {
		file := filepath.Join(data, "reader", "reader.addr")
		if reader = config.AddrURL(file); reader == "" {
			err = notRunning("reader", file, "LIGHTHOUSE_READER_URL")
		}
	}
	if writer == "" {
		file := filepath.Join(data, "writer.addr")
		if writer = config.AddrURL(file); writer == "" {
			err = notRunning("writer", file, "LIGHTHOUSE_URL")
		}
	}
	return writer, reader, err
}

// Writer returns a client of the writer with the resolved token.
func (c *Connection) Writer() (*client.Client, error) {
	t, err := c.ResolveToken()
	if err != nil {
		return nil, err
	}
	w, _, err := c.URLs()
	if w == "" {
		return nil, err
	}
	return client.New(w, t), nil
}

// Reader returns a client of the reader with the resolved token.
func (c *Connection) Reader() (*client.Client, error) {
	t, err := c.ResolveToken()
	if err != nil {
		return nil, err
	}
	_, r, err := c.URLs()
	if r == "" {
		return nil, err
	}
	return client.New(r, t), nil
}

// ProjectRoot returns the absolute root of the project the commands work
// on: the one the data directory was found for, else the writer's
// GET /v1/status project_root (with --data or --url).
func (c *Connection) ProjectRoot(ctx context.Context) (string, error) {
	if c.root != "" {
		return c.root, nil
	}
	if c.Data == "" && c.writerURL == "" {
		if _, err := c.DataDir(); err != nil {
			return "", err
		}
		if c.root != "" {
			return c.root, nil
		}
	}
	w, err := c.Writer()
	if err != nil {
		return "", err
	}
	var st struct {
		ProjectRoot string `json:"project_root"`
	}
	if _, err := w.Do(ctx, "GET", "/v1/status", nil, nil, &st); err != nil {
		return "", fmt.Errorf("ask the writer for its project root: %w", err)
	}
	c.root = st.ProjectRoot
	return c.root, nil
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
				PrintFlags(os.Stdout, fs)
				return nil, err
			}
			return nil, flagError(fs, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < minArgs || (maxArgs >= 0 && len(pos) > maxArgs) {
		return nil, countError(fs, pos, minArgs, maxArgs)
	}
	return pos, nil
}

// ShellQuote quotes s for a POSIX shell: as is when it holds only letters,
// digits and /._- ; otherwise in single quotes, with each single quote in s
// closed, escaped and opened again.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
