// Command lighthouse is the one CLI people and agents' hooks run: it starts
// the system, manages agents and talks to the writer and the reader.
package main

import (
	"flag"

	"github.com/lighthouse-ai/lighthouse/infra/cli"
)

// The command-line plumbing every command shares lives in package cli.
type (
	connection = cli.Connection
	usageError = cli.UsageError
)

func usagef(format string, args ...any) error { return cli.Usagef(format, args...) }

func parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	return cli.Parse(fs, args, minArgs, maxArgs)
}
