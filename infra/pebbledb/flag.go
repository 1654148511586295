package pebbledb

import (
	"flag"
	"fmt"

	"github.com/lighthouse-ai/lighthouse/infra/config"
)

// CacheFlag is a process's --cache-mib flag and the environment variable
// it takes its default from.
type CacheFlag struct {
	mib    int
	env    string
	envErr error // the variable was set to something the flag refuses
}

// RegisterCacheFlag adds --cache-mib to fs: the block cache of the
// database what names ("the log", "the projection"), def MiB unless the
// environment variable env or the command line (which wins) says otherwise.
func RegisterCacheFlag(fs *flag.FlagSet, what string, def int, env string) *CacheFlag {
	f := &CacheFlag{env: env}
	fs.IntVar(&f.mib, "cache-mib", def, fmt.Sprintf("%s's Pebble block cache, in MiB (%d to %d); its memtables are half of it, at most 32 MiB (env %s)", what, MinCacheMiB, MaxCacheMiB, env))
	f.envErr = config.SetFromEnv(fs, "cache-mib", env)
	return f
}

// Sizes returns the sizes the flag asks for, or an error naming the flag
// and its variable (wrapping ErrSizes when the size is out of bounds).
func (f *CacheFlag) Sizes() (Sizes, error) {
	if f.envErr != nil {
		return Sizes{}, f.envErr
	}
	s := Sizes{CacheMiB: f.mib}
	if err := s.Check(); err != nil {
		return Sizes{}, fmt.Errorf("--cache-mib (env %s): %w", f.env, err)
	}
	return s, nil
}
