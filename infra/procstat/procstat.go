// Package procstat reads what Lighthouse needs of a process from Linux's
// /proc/PID/stat: its parent and the CPU time it has used.
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc (USER_HZ): 100 on every
// architecture Go runs Linux on, as prometheus/procfs assumes too.
const userHZ = 100

// Stat is the part of a process's /proc/PID/stat line Lighthouse reads.
type Stat struct {
	Parent int           // field 4, ppid
	CPU    time.Duration // fields 14 and 15, utime + stime, all threads
}

// Read reads /proc/PID/stat. The bench measures a replica's catch-up by
// its CPU as well as by its rate (the rate also moves with what else runs
// on the machine; the CPU is what the replica itself spent:
// docs/bench-perf.txt item 31), tests check a process is not spinning,
// and the CLI walks up its ancestors.
func Read(pid int) (Stat, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, err
	}
	st, err := Parse(raw)
	if err != nil {
		return Stat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// Parse reads a /proc/PID/stat line. Field 2, the command's name, is in
// parentheses and may hold spaces and parentheses itself, so the fields
// are counted from its last ')'.
func Parse(stat []byte) (Stat, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("no command name in %q", stat)
	}
	f := strings.Fields(string(stat[i+1:])) // f[0] is field 3
	if len(f) < 13 {
		return Stat{}, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	var st Stat
	var err error
	if st.Parent, err = strconv.Atoi(f[1]); err != nil {
		return Stat{}, fmt.Errorf("parent %q: %w", f[1], err)
	}
	var ticks uint64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return Stat{}, fmt.Errorf("CPU time %q: %w", s, err)
		}
		ticks += n
	}
	st.CPU = time.Duration(ticks) * time.Second / userHZ
	return st, nil
}
