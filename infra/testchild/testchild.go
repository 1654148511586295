// Package testchild runs a test binary again as a child process that runs
// one test function as its body: the way tests kill, cut off or crash a
// process of their own and look at what it left.
package testchild

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"testing"
)

// Start starts this test binary again, running only the test named test,
// with env (NAME=value) added to the environment: that test sees env and
// acts as the child. It returns once the child has printed its first line
// on stdout (with its newline), and hands back the child and its stdout.
// The child's stderr is this process's. A child that exits or closes stdout
// before a whole line is killed and the test fails.
func Start(ctx context.Context, t testing.TB, test string, env ...string) (*exec.Cmd, io.ReadCloser, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child %s wrote no line: %q, %v", test, line, err)
	}
	return cmd, out, line
}
