package policy

import (
	"fmt"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

// describe renders the commands found in a Bash call compactly:
// "prog[:sub] {flags} [args] <paths>" joined by " | ".
func describe(cmd string) string {
	c := bash(cmd)
	var a analysis
	a.run(&c)
	return describeAnalysis(&a)
}

func describeAnalysis(a *analysis) string {
	var parts []string
	for _, x := range a.commands {
		if x.dynamic {
			parts = append(parts, "<dynamic>")
			continue
		}
		s := x.program
		if x.subcommand != "" {
			s += ":" + x.subcommand
		}
		if len(x.flags) > 0 {
			s += " {" + strings.Join(x.flags, ",") + "}"
		}
		for _, o := range x.options {
			s += " " + o.name + "=" + o.value
		}
		if len(x.args) > 0 {
			var args []string
			for _, g := range x.args {
				args = append(args, g.text)
			}
			s += " [" + strings.Join(args, " ") + "]"
		}
		for _, p := range x.paths {
			s += " " + p.access.String() + ":" + p.display()
		}
		if len(x.pipedFrom) > 0 {
			s += " <-" + strings.Join(x.pipedFrom, ",")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " | ")
}

func TestAnalysis(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cmd  string
		want string
	}{
		{`rm -rf /`, "rm {f,r} [/] write:/"},
		{`rm -r -f /`, "rm {f,r} [/] write:/"},
		{`rm --recursive --force x`, "rm {f,r} [x] write:/home/dev/proj/x"},
		{`rm -R x`, "rm {r} [x] write:/home/dev/proj/x"},
		{`git -C sub push --force-with-lease origin main`, "git:push {C,force-with-lease} C=sub [origin main]"},
		{`git commit -am "fix rm -rf bug"`, "git:commit {a,m} m=fix rm -rf bug"},
		{`go test -run TestX -count=1 ./...`, "go:test {count,run} run=TestX count=1 [./...]"},
		{`cargo +nightly build`, "cargo:build"},
		{`curl -sSL -XPOST https://x`, "curl {L,S,X,s} X=POST [https://x]"},
		{`chmod -R 777 dir`, "chmod {R} [777 dir] write:/home/dev/proj/dir"},
		{`chmod -x f`, "chmod [-x f] write:/home/dev/proj/f"},
		{`cp -r a /etc/`, "cp {r} [a /etc/] read:/home/dev/proj/a write:/etc"},
		{`dd if=/dev/sda of=disk.img`, "dd [if=/dev/sda of=disk.img] read:/dev/sda write:/home/dev/proj/disk.img"},
		{`grep -rn "rm -rf" src`, "grep {n,r} [rm -rf src] read:/home/dev/proj/src"},
		{`sed -i.bak s/a/b/ f`, "sed {i} i=.bak [s/a/b/ f] write:/home/dev/proj/f"},
		{`cat <<EOF > .env`, "cat write:/home/dev/proj/.env"},
		{`echo x 2>/dev/null >> log`, "echo [x] write:/home/dev/proj/log"},
		{`cd /tmp && touch x`, "cd [/tmp] | touch [x] write:/tmp/x"},
		{`(cd /tmp); touch x`, "cd [/tmp] | touch [x] write:/home/dev/proj/x"},
		{`cd; rm -r x`, "cd | rm {r} [x] write:/home/dev/x"},
		{`sudo -u bob env A=1 timeout -s KILL 5 nice -n 3 ls`, "sudo {u} u=bob | env | timeout {s} s=KILL [5] | nice {n} n=3 | ls"},
		{`curl x | sh`, "curl [x] | sh <-curl"},
		{`bash <(curl x)`, "curl [x] | bash [<(curl x)] <-curl"},
		{`echo a | xargs -n1 rm`, "echo [a] | xargs {n} n=1 <-echo | rm [a] write:/home/dev/proj/a <-echo"},
		{`cat list | xargs -n1 rm`, "cat [list] read:/home/dev/proj/list | xargs {n} n=1 <-cat | rm write:<operands from stdin> <-cat"},
		{`find . -name '*.go' -exec gofmt -l {} \;`, "find {exec,name} [.] read:/home/dev/proj | gofmt {l} [./<found>]"},
		{`find ~ -exec rm {} +`, "find {exec} [~] read:/home/dev | rm [~] write:/home/dev"},
		{`$(which rm) x`, "which [rm] | <dynamic>"},
		{`python3 -m pip install -U x`, "python3 {m} m=pip [install -U x]"},
		{`command -v rm`, "command {v} [rm]"},
		{`bash script.sh -x`, "bash [script.sh -x]"},
		{`\r\m -rf ~/x`, "rm {f,r} [~/x] write:/home/dev/x"},
		{`rm -rf "$HOME/x" '$HOME'`, "rm {f,r} [~/x $HOME] write:/home/dev/x write:/home/dev/proj/$HOME"},
	}
	for _, tc := range tests {
		t.Run(tc.cmd, func(t *testing.T) {
			t.Parallel()
			if got := describe(tc.cmd); got != tc.want {
				t.Errorf("analysis of %q\n got  %s\n want %s", tc.cmd, got, tc.want)
			}
		})
	}
}

// TestSimpleCommandFastPath checks that plain command lines analysed without
// the shell parser give exactly what the parser gives.
func TestSimpleCommandFastPath(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{
		`go test -race -count=1 ./...`, `ls -la`, `rm -rf /`, `  git   push  --force origin main `,
		`X=1 Y=2 make build`, `X=1`, `sudo rm -rf /`, `cat .env`, `chmod -R 777 .`, `npm install -g x`,
		`timeout 5 nohup rm --recursive --force /`, `cp a /etc/`, `dd if=/dev/zero of=/dev/sda`,
		`python3 -m pip install x`, `git commit -m fix`, `curl -XPOST https://x:8080/a`,
	} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			c := bash(cmd)
			var fast, slow analysis
			fast.run(&c)
			slow.call, slow.res, slow.isBash, slow.source = &c, newResolver(&c), true, cmd
			cwd := slow.cwd()
			slow.parseAndWalk(cmd, shellCtx{sc: &scope{cwd: cwd, known: true}})
			if f, s := describeAnalysis(&fast), describeAnalysis(&slow); f != s {
				t.Errorf("fast path %q\n parser: %s", f, s)
			}
			var probe analysis
			probe.call, probe.res = &c, newResolver(&c)
			if !probe.simpleCommand(cmd, shellCtx{sc: &scope{cwd: cwd, known: true}}) && !strings.HasPrefix(cmd, "X=1") {
				t.Errorf("%q did not take the fast path", cmd)
			}
		})
	}
	for _, cmd := range []string{`ls | wc`, `echo "a"`, `ls *.go`, `echo ~`, `a && b`, `echo $X`, "a\nb", `for x`, `time ls`, `a;b`, `a\ b`, `echo a#b`} {
		c := bash(cmd)
		var probe analysis
		probe.call, probe.res = &c, newResolver(&c)
		if probe.simpleCommand(cmd, shellCtx{sc: &scope{cwd: testRoot, known: true}}) {
			t.Errorf("%q took the fast path", cmd)
		}
	}
}

func TestWordUnquoting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src    string
		want   string
		static bool
		tilde  bool
	}{
		{`a`, "a", true, false},
		{`'a b'`, "a b", true, false},
		{`"a\"b\$c\d"`, `a"b$c\d`, true, false},
		{`a\ b`, "a b", true, false},
		{`$'\x72\155\t\u00e9\cA\q\''`, "rm\t\u00e9\x01\\q'", true, false},
		{`r""m`, "rm", true, false},
		{`~/x`, "~/x", true, true},
		{`"~/x"`, "~/x", true, false},
		{`$HOME/x`, "~/x", true, true},
		{`"${HOME}"`, "~", true, true},
		{`$HOMEX`, "$HOMEX", false, false},
		{`a$b`, "a$b", false, false},
		{`"$(x)"`, `"$(x)"`, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			t.Parallel()
			var a analysis
			src := "echo " + tc.src
			f, err := a.parse(src)
			if err != nil {
				t.Fatal(err)
			}
			w := walker{a: &a, src: src}
			v := w.word(f.Stmts[0].Cmd.(*syntax.CallExpr).Args[1])
			if v.s != tc.want || v.static != tc.static || v.tilde != tc.tilde {
				t.Errorf("word(%s) = %q static=%v tilde=%v, want %q %v %v", tc.src, v.s, v.static, v.tilde, tc.want, tc.static, tc.tilde)
			}
		})
	}
}

func ExampleShape() {
	s, ok := Shape(Call{Tool: "Bash", Input: map[string]any{"command": "git push origin feature-1"}, Cwd: "/p", ProjectRoot: "/p"})
	fmt.Println(s, ok)
	// Output: Bash: git push <arg> true
}
