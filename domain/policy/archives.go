package policy

import (
	"path"
	"strings"
)

func isTar(prog string) bool { return prog == "tar" || prog == "gtar" || prog == "bsdtar" }

// isLetters reports a non-empty word of ASCII letters (tar's old-style
// bundled flags).
func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
			return false
		}
	}
	return s != ""
}

// compressors read their operands and replace them with (de)compressed
// files, or write to standard output with -c.
var compressors = map[string]bool{
	"gzip": true, "gunzip": true, "bzip2": true, "bunzip2": true, "xz": true, "unxz": true,
	"zstd": true, "unzstd": true, "lz4": true, "pigz": true, "unpigz": true, "brotli": true,
	"compress": true, "uncompress": true, "lzma": true, "unlzma": true,
}

// archive analyses archivers and data tools, whose operands are files read
// or written in ways the generic reader and writer tables cannot express.
// It reports whether it handled cmd.
func (w *walker) archive(cmd *command, rest []wordVal, ctx shellCtx) bool {
	switch {
	case isTar(cmd.program):
		w.tar(cmd, ctx)
	case cmd.program == "zip":
		w.zip(cmd, rest, ctx)
	case cmd.program == "unzip":
		w.unzip(cmd, rest, ctx)
	case cmd.program == "jq" || cmd.program == "yq" || cmd.program == "gojq":
		w.jq(cmd, rest, ctx)
	case compressors[cmd.program]:
		acc := accessAny
		if cmd.hasFlag("c") || cmd.hasFlag("stdout") || cmd.hasFlag("t") || cmd.hasFlag("l") {
			acc = accessRead
		}
		for _, a := range cmd.args {
			w.addOperand(cmd, wordVal{s: a.text, static: !a.dynamic, tilde: a.tilde, recursive: cmd.hasFlag("r")}, acc, ctx)
		}
		w.addOption(cmd, "o", accessWrite, ctx)
	default:
		return false
	}
	return true
}

// tar: create (c, r, u, A) reads its operands, relative to -C, and writes
// the archive; extract (x) reads the archive and writes below -C or the
// working directory; the program-running options are analysed as commands.
func (w *walker) tar(cmd *command, ctx shellCtx) {
	for _, o := range cmd.options {
		v := wordVal{s: o.value, static: !o.dynamic}
		switch o.name {
		case "to-command", "I", "F", "rsh-command":
			w.runString(cmd, "tar --"+o.name, v, ctx)
		case "checkpoint-action":
			if s, ok := strings.CutPrefix(o.value, "exec="); ok {
				w.runString(cmd, "tar --checkpoint-action", wordVal{s: s, static: v.static}, ctx)
			} else if !v.static {
				w.runString(cmd, "tar --checkpoint-action", v, ctx)
			}
		}
	}
	var dir *option
	if o, ok := cmd.option("C"); ok {
		dir = &o
	}
	archive, hasArchive := cmd.option("f")
	archiveAcc := accessRead
	create := cmd.hasFlag("c") || cmd.hasFlag("r") || cmd.hasFlag("u") || cmd.hasFlag("A")
	if create {
		archiveAcc = accessWrite
	}
	if hasArchive && archive.value != "-" {
		w.addOperand(cmd, wordVal{s: archive.value, static: !archive.dynamic, tilde: archive.tilde}, archiveAcc, ctx)
	}
	if o, ok := cmd.option("T"); ok {
		w.addOperand(cmd, wordVal{s: o.value, static: !o.dynamic, tilde: o.tilde}, accessRead, ctx)
	}
	switch {
	case create:
		for _, a := range cmd.args {
			v := wordVal{s: a.text, static: !a.dynamic, tilde: a.tilde, recursive: true}
			if dir != nil && v.static && !v.tilde && !path.IsAbs(v.s) {
				v = wordVal{s: path.Join(dir.value, v.s), static: !dir.dynamic, tilde: dir.tilde, recursive: true}
			}
			w.addOperand(cmd, v, accessRead, ctx)
		}
	case cmd.hasFlag("x"):
		target := wordVal{s: ".", static: true, recursive: true}
		if dir != nil {
			target = wordVal{s: dir.value, static: !dir.dynamic, tilde: dir.tilde, recursive: true}
		}
		if !cmd.hasFlag("O") {
			w.addOperand(cmd, target, accessWrite, ctx)
		}
	}
}

// zip ARCHIVE FILES...: the archive is written, the files read (with
// everything below them under -r).
func (w *walker) zip(cmd *command, rest []wordVal, ctx shellCtx) {
	recursive := false
	var ops []wordVal
	for i := 0; i < len(rest); i++ {
		v := rest[i]
		if v.static && len(v.s) > 1 && v.s[0] == '-' {
			switch v.s {
			case "-x", "-i", "--exclude", "--include":
				for i+1 < len(rest) && !(rest[i+1].static && strings.HasPrefix(rest[i+1].s, "-")) {
					i++
				}
				continue
			case "-b", "-t", "-tt", "-n", "-O", "-P", "-Z", "-s", "--temp-path", "--output-file":
				if v.s == "-O" || v.s == "--output-file" {
					if i+1 < len(rest) {
						w.addOperand(cmd, rest[i+1], accessWrite, ctx)
					}
				}
				i++
				continue
			case "-@":
				w.addOperand(cmd, wordVal{s: "<files from stdin>"}, accessRead, ctx)
				continue
			}
			if !strings.HasPrefix(v.s, "--") && strings.ContainsAny(v.s, "rR") || v.s == "--recurse-paths" {
				recursive = true
			}
			continue
		}
		ops = append(ops, v)
	}
	if len(ops) == 0 {
		return
	}
	if !(ops[0].static && ops[0].s == "-") {
		w.addOperand(cmd, ops[0], accessAny, ctx)
	}
	for _, v := range ops[1:] {
		v.recursive = recursive
		w.addOperand(cmd, v, accessRead, ctx)
	}
}

// unzip ARCHIVE [MEMBERS] [-x XLIST] [-d DIR]: the archive is read and DIR
// (or the working directory) written, unless it only lists or prints.
func (w *walker) unzip(cmd *command, rest []wordVal, ctx shellCtx) {
	var archive *wordVal
	target := wordVal{s: ".", static: true, recursive: true}
	writes := true
	for i := 0; i < len(rest); i++ {
		v := rest[i]
		if v.static && len(v.s) > 1 && v.s[0] == '-' {
			switch {
			case v.s == "-d" && i+1 < len(rest):
				target = rest[i+1]
				target.recursive = true
				i++
			case strings.HasPrefix(v.s, "-d") && len(v.s) > 2:
				target = wordVal{s: v.s[2:], static: true, recursive: true}
			case v.s == "-x":
				for i+1 < len(rest) && !(rest[i+1].static && strings.HasPrefix(rest[i+1].s, "-")) {
					i++
				}
			case v.s == "-P":
				i++
			default:
				if strings.ContainsAny(v.s[1:], "lptvZz") {
					writes = false
				}
			}
			continue
		}
		if archive == nil {
			archive = &rest[i]
		}
	}
	if archive != nil {
		w.addOperand(cmd, *archive, accessRead, ctx)
	}
	if writes {
		w.addOperand(cmd, target, accessWrite, ctx)
	}
}

// jqValueArgs are jq options followed by that many values.
var jqValueArgs = map[string]int{
	"--arg": 2, "--argjson": 2, "--slurpfile": 2, "--rawfile": 2, "--indent": 1, "-L": 1,
	"--from-file": 1, "-f": 1, "--output-format": 1, "-o": 1, "--front-matter": 0,
}

// jq FILTER FILES...: the files are read (and --slurpfile/--rawfile
// files, and the -f filter file); yq -i writes them.
func (w *walker) jq(cmd *command, rest []wordVal, ctx shellCtx) {
	filterSeen := false
	acc := accessRead
	for _, v := range rest {
		if v.static && (v.s == "-i" || v.s == "--inplace") {
			acc = accessAny
		}
	}
	for i := 0; i < len(rest); i++ {
		v := rest[i]
		if v.static && len(v.s) > 1 && v.s[0] == '-' {
			if v.s == "--args" || v.s == "--jsonargs" {
				return
			}
			n := jqValueArgs[v.s]
			switch v.s {
			case "--slurpfile", "--rawfile":
				if i+2 < len(rest) {
					w.addOperand(cmd, rest[i+2], accessRead, ctx)
				}
			case "-f", "--from-file":
				if i+1 < len(rest) {
					w.addOperand(cmd, rest[i+1], accessRead, ctx)
				}
				filterSeen = true
			}
			i += n
			continue
		}
		if !filterSeen {
			filterSeen = true
			continue
		}
		w.addOperand(cmd, v, acc, ctx)
	}
}

// httpServer records the directory python -m http.server publishes as
// read, with everything below it.
func (w *walker) httpServer(cmd *command, ctx shellCtx) {
	m, ok := cmd.option("m")
	if !ok || (m.value != "http.server" && m.value != "SimpleHTTPServer") {
		return
	}
	dir := wordVal{s: ".", static: true}
	for i, a := range cmd.args {
		switch {
		case (a.text == "--directory" || a.text == "-d") && i+1 < len(cmd.args):
			n := cmd.args[i+1]
			dir = wordVal{s: n.text, static: !n.dynamic, tilde: n.tilde}
		case strings.HasPrefix(a.text, "--directory="):
			dir = wordVal{s: a.text[len("--directory="):], static: !a.dynamic}
		}
	}
	dir.recursive = true
	w.addOperand(cmd, dir, accessRead, ctx)
}
