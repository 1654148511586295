package supervisor

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

// ProcessCPU returns the CPU time process pid has used so far, user and
// system, all its threads, from /proc/<pid>/stat. The bench measures a
// replica's catch-up by it as well as by its rate (the rate also moves with
// what else runs on the machine; the CPU is what the replica itself spent:
// docs/bench-perf.txt item 31), and tests check a process is not spinning.
func ProcessCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	cpu, err := statCPU(raw)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return cpu, nil
}

// statCPU reads utime and stime, fields 14 and 15, of a /proc/<pid>/stat
// line. Field 2, the command's name, is in parentheses and may hold spaces
// and parentheses itself, so the fields are counted from its last ')'.
func statCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in %q", stat)
	}
	f := strings.Fields(string(stat[i+1:])) // f[0] is field 3
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	var ticks uint64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
