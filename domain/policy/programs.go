package policy

import (
	"slices"
	"strings"
)

// progSpec describes how one program's command line is read: which flags are
// spelled differently but mean the same, which take a value, and whether the
// first operand is a subcommand. The tables below are read-only after package
// initialisation.
type progSpec struct {
	alias          map[string]string // flag as written (no dashes) -> canonical name
	value          map[string]bool   // canonical flags that take a value
	optAttached    string            // short flags whose value, if any, is attached (sed -i.bak)
	singleDashLong bool              // -name is one flag, not -n -a -m -e (go, find)
	subcommand     bool              // first operand is a subcommand (git push)
	stopAtOperand  bool              // flags end at the first operand (interpreters)
	stopAfter      map[string]bool   // flags after which flags end (python -m)
}

type specOpt func(*progSpec)

var (
	withSubcommand     specOpt = func(s *progSpec) { s.subcommand = true }
	withSingleDashLong specOpt = func(s *progSpec) { s.singleDashLong = true }
	withStopAtOperand  specOpt = func(s *progSpec) { s.stopAtOperand = true }
)

func withOptAttached(letters string) specOpt {
	return func(s *progSpec) { s.optAttached = letters }
}

func withStopAfter(flags string) specOpt {
	return func(s *progSpec) {
		s.stopAfter = map[string]bool{}
		for _, f := range strings.Fields(flags) {
			s.stopAfter[f] = true
		}
	}
}

// mkSpec builds a progSpec from compact strings: aliases "from=to from=to",
// values "a b long-name" (canonical names).
func mkSpec(aliases, values string, opts ...specOpt) *progSpec {
	s := &progSpec{alias: map[string]string{}, value: map[string]bool{}}
	for _, a := range strings.Fields(aliases) {
		from, to, _ := strings.Cut(a, "=")
		s.alias[from] = to
	}
	for _, v := range strings.Fields(values) {
		s.value[v] = true
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// takesValue reports whether canonical flag f takes a value.
func (s *progSpec) takesValue(f string) bool { return s != nil && s.value[f] }

// canonical returns the canonical name of flag f for this program.
func (s *progSpec) canonical(f string) string {
	if s == nil {
		return f
	}
	if c, ok := s.alias[f]; ok {
		return c
	}
	return f
}

// canonicalLong returns the canonical name of the long option --f, given
// with its value attached (--f=v) or not. GNU's getopt_long takes any
// unambiguous prefix of a long option (env --uns=X is env --unset=X), so a
// prefix of the long names this spec knows that leads to one canonical
// flag is that flag, but only where reading it so cannot hide a word: a
// flag that takes a value is taken from a prefix only with the value
// attached, since the prefix may be a whole option the spec does not list
// (tar --checkpoint is not --checkpoint-action, and must not swallow the
// --to-command after it). Go-style programs (singleDashLong) take exact
// names only.
func (s *progSpec) canonicalLong(f string, attached bool) string {
	if s == nil || s.singleDashLong || f == "" {
		return s.canonical(f)
	}
	if c := s.expandLong(f, attached); c != f && (attached || !s.takesValue(c)) {
		return c
	}
	return s.canonical(f)
}

// expandLong is the flag a prefix f of the known long names stands for,
// else f. A prefix of one flag's names stands for it. One several flags
// share is resolved by how it is written when that leaves one: with its
// value attached, the one that takes a value; without, the one that takes
// none. A spec shared by a program's subcommands lists options each
// subcommand does not have (git's format is log's; git clean --for is
// --force), and an option that takes no value is the one that cannot
// hide the word after it.
func (s *progSpec) expandLong(f string, attached bool) string {
	if c, ok := s.alias[f]; ok {
		return c
	}
	if len(f) > 1 && s.value[f] {
		return f // a long canonical name itself (--data-binary)
	}
	var candidates []string
	add := func(c string) {
		if !slices.Contains(candidates, c) {
			candidates = append(candidates, c)
		}
	}
	for long, c := range s.alias {
		if len(long) > len(f) && strings.HasPrefix(long, f) {
			add(c)
		}
	}
	for v := range s.value {
		if len(v) > len(f) && strings.HasPrefix(v, f) {
			add(v)
		}
	}
	if len(candidates) == 1 {
		return candidates[0]
	}
	match := ""
	for _, c := range candidates {
		if s.takesValue(c) == attached {
			if match != "" {
				return f // ambiguous: the program refuses it
			}
			match = c
		}
	}
	if match == "" {
		return f
	}
	return match
}

const (
	curlValues = "X d F T H o u A b c K e x m w E r U Y y z C data-binary data-raw data-urlencode json url form-string output-dir connect-timeout retry retry-delay cert key cacert proxy-user resolve"
	grepValues = "e f m A B C g t T max-count context after-context before-context type type-not glob regexp file label color colour"
	gitValues  = "C c m F o git-dir work-tree namespace exec-path push-option config-env upload-pack receive-pack author date format pretty since until grep"
	goValues   = "C o run bench benchtime count timeout tags p coverprofile covermode coverpkg ldflags gcflags asmflags mod modfile exec cpu parallel skip overlay pkgdir toolexec fuzz fuzztime list shuffle memprofile cpuprofile blockprofile mutexprofile outputdir trace vettool"
	pkgValues  = "prefix w registry filter dir C cache"
	pipValues  = "r c t i e f extra-index-url prefix root find-links src python"
	dockValues = "H l log-level config context host v e p name w u network mount entrypoint f platform env-file label"
	kubeValues = "n context kubeconfig f o l c cluster user field-selector server s"
	shValues   = "o O rcfile init-file"
)

// programs maps a program's base name to its flag table. Programs not listed
// are read with no aliases and no value flags.
var programs = map[string]*progSpec{
	"rm":        mkSpec("R=r recursive=r force=f dir=d interactive=i verbose=v", ""),
	"rmdir":     mkSpec("parents=p verbose=v", ""),
	"unlink":    mkSpec("", ""),
	"shred":     mkSpec("remove=u zero=z force=f iterations=n", "n s"),
	"chmod":     mkSpec("recursive=R changes=c silent=f quiet=f verbose=v", ""),
	"chown":     mkSpec("recursive=R changes=c silent=f quiet=f verbose=v", ""),
	"chgrp":     mkSpec("recursive=R changes=c silent=f quiet=f verbose=v", ""),
	"cp":        mkSpec("R=r recursive=r force=f archive=a target-directory=t no-target-directory=T interactive=i link=l symbolic-link=s verbose=v", "t S"),
	"mv":        mkSpec("force=f target-directory=t no-target-directory=T interactive=i verbose=v", "t S"),
	"ln":        mkSpec("symbolic=s force=f target-directory=t no-target-directory=T", "t S"),
	"install":   mkSpec("mode=m owner=o group=g target-directory=t directory=d", "m o g t S"),
	"tee":       mkSpec("append=a", ""),
	"touch":     mkSpec("date=d reference=r", "d r t"),
	"mkdir":     mkSpec("parents=p mode=m verbose=v", "m"),
	"truncate":  mkSpec("size=s reference=r", "s r"),
	"sed":       mkSpec("in-place=i expression=e file=f regexp-extended=E quiet=n silent=n", "e f l", withOptAttached("i")),
	"sort":      mkSpec("output=o key=k field-separator=t reverse=r", "o k t T S compress-program"),
	"head":      mkSpec("lines=n bytes=c", "n c"),
	"tail":      mkSpec("lines=n bytes=c", "n c"),
	"grep":      mkSpec("regexp=e file=f max-count=m", grepValues),
	"egrep":     mkSpec("regexp=e file=f max-count=m", grepValues),
	"fgrep":     mkSpec("regexp=e file=f max-count=m", grepValues),
	"rg":        mkSpec("regexp=e file=f max-count=m glob=g type=t", grepValues),
	"ag":        mkSpec("", "G g A B C m"),
	"awk":       mkSpec("field-separator=F assign=v file=f source=e", "F v f e"),
	"gawk":      mkSpec("field-separator=F assign=v file=f source=e", "F v f e"),
	"curl":      mkSpec("request=X data=d data-ascii=d form=F upload-file=T header=H output=o user=u user-agent=A location=L silent=s show-error=S fail=f include=i head=I insecure=k remote-name=O verbose=v cookie=b cookie-jar=c config=K referer=e proxy=x max-time=m write-out=w", curlValues),
	"wget":      mkSpec("output-document=O output-file=o quiet=q directory-prefix=P input-file=i user-agent=U continue=c execute=e tries=t timeout=T", "O o P i U t T e header post-data post-file method body-data body-file"),
	"git":       mkSpec("force=f message=m all=a dry-run=n verbose=v quiet=q set-upstream=u delete=d patch=p file=F hard=hard merge=merge keep=keep mirror=mirror", gitValues, withSubcommand),
	"go":        mkSpec("", goValues, withSubcommand, withSingleDashLong),
	"npm":       mkSpec("global=g save-dev=D save=S save-exact=E yes=y workspace=w force=f", pkgValues+" script-shell node-options", withSubcommand),
	"pnpm":      mkSpec("global=g save-dev=D workspace=w force=f", pkgValues, withSubcommand),
	"yarn":      mkSpec("global=g dev=D", pkgValues, withSubcommand),
	"bun":       mkSpec("global=g dev=d", pkgValues, withSubcommand),
	"pip":       mkSpec("requirement=r upgrade=U target=t index-url=i editable=e constraint=c", pipValues, withSubcommand),
	"pip3":      mkSpec("requirement=r upgrade=U target=t index-url=i editable=e constraint=c", pipValues, withSubcommand),
	"uv":        mkSpec("", "p python with directory project", withSubcommand),
	"pipx":      mkSpec("", "", withSubcommand),
	"poetry":    mkSpec("", "C directory", withSubcommand),
	"python":    mkSpec("", "c m W X Q", withStopAtOperand, withStopAfter("m c")),
	"python3":   mkSpec("", "c m W X Q", withStopAtOperand, withStopAfter("m c")),
	"node":      mkSpec("eval=e print=p require=r", "e p r input-type import loader C", withStopAtOperand, withStopAfter("e p")),
	"perl":      mkSpec("", "e E M I", withStopAtOperand, withStopAfter("e E")),
	"ruby":      mkSpec("", "e r I C", withStopAtOperand, withStopAfter("e")),
	"php":       mkSpec("", "r f c d", withStopAtOperand, withStopAfter("r")),
	"docker":    mkSpec("volume=v env=e publish=p user=u workdir=w file=f", dockValues, withSubcommand),
	"podman":    mkSpec("volume=v env=e publish=p user=u workdir=w file=f", dockValues, withSubcommand),
	"kubectl":   mkSpec("namespace=n filename=f output=o selector=l container=c", kubeValues, withSubcommand),
	"helm":      mkSpec("namespace=n values=f", "n f kube-context kubeconfig set set-string version", withSubcommand),
	"make":      mkSpec("directory=C file=f makefile=f jobs=j dry-run=n just-print=n keep-going=k silent=s always-make=B eval=E", "C f o W I E", withSubcommand),
	"rustc":     mkSpec("out-dir=out-dir", "o out-dir L l C crate-type crate-name edition emit target cfg"),
	"tsc":       mkSpec("", "outDir outFile declarationDir project p target module lib rootDir"),
	"javac":     mkSpec("", "d s h cp classpath sourcepath source target release encoding", withSingleDashLong),
	"pytest":    mkSpec("junit-xml=junitxml override-ini=o", "c k m p o W junitxml junit-prefix basetemp html log-file log-level log-cli-level confcutdir rootdir maxfail tb durations cov cov-report cov-config deselect ignore ignore-glob import-mode capture pythonwarnings result-log n dist timeout"),
	"cargo":     mkSpec("package=p jobs=j", "p j features F target manifest-path bin example test bench Z color target-dir profile", withSubcommand),
	"rustup":    mkSpec("", "", withSubcommand),
	"gh":        mkSpec("repo=R method=X field=F raw-field=f header=H", "R X f F H q t b B L jq template", withSubcommand),
	"apt":       mkSpec("yes=y", "o t c", withSubcommand),
	"apt-get":   mkSpec("yes=y", "o t c", withSubcommand),
	"yum":       mkSpec("", "c", withSubcommand),
	"dnf":       mkSpec("", "c", withSubcommand),
	"apk":       mkSpec("", "X repository", withSubcommand),
	"brew":      mkSpec("", "", withSubcommand),
	"snap":      mkSpec("", "", withSubcommand),
	"gem":       mkSpec("", "v version", withSubcommand),
	"bundle":    mkSpec("", "", withSubcommand),
	"composer":  mkSpec("", "d working-dir", withSubcommand),
	"terraform": mkSpec("", "chdir", withSubcommand),
	"systemctl": mkSpec("", "", withSubcommand),
	"pacman":    mkSpec("", "", withSubcommand),
	"ssh":       mkSpec("", "i p l o F J L R D b c E e m O S W w B Q I"),
	"scp":       mkSpec("", "i P o F l c J S"),
	"rsync":     mkSpec("rsh=e remote-option=M", "e M rsync-path exclude include exclude-from include-from files-from filter log-file password-file T temp-dir backup-dir suffix chmod chown port address"),
	"tar":       tarSpec,
	"gtar":      tarSpec,
	"bsdtar":    tarSpec,
	"zstd":      mkSpec("stdout=c decompress=d force=f keep=k", "o D T"),
	"gzip":      mkSpec("stdout=c to-stdout=c decompress=d uncompress=d force=f keep=k recursive=r test=t list=l", "S suffix"),
	"gunzip":    mkSpec("stdout=c to-stdout=c force=f keep=k recursive=r test=t list=l", "S suffix"),
	"find":      mkSpec("", "", withSingleDashLong),
	"sh":        mkSpec("", shValues, withStopAtOperand),
	"chroot":    mkSpec("", "userspec groups"),
}

// tarSpec reads GNU and BSD tar command lines.
var tarSpec = mkSpec("file=f directory=C create=c extract=x get=x list=t append=r update=u catenate=A concatenate=A "+
	"diff=d compare=d files-from=T exclude-from=X use-compress-program=I info-script=F new-volume-script=F to-stdout=O",
	"f C T X b I F g H K N V to-command checkpoint-action rsh-command exclude transform xform owner group mode")

// wrapperSpec describes a program that runs another command given in its
// operands (sudo rm ..., xargs rm ...).
type wrapperSpec struct {
	spec         *progSpec
	assignments  bool   // NAME=VALUE operands before the command set its environment
	skip         int    // operands to skip before the command (timeout DURATION)
	extraArgs    bool   // the command receives more operands from stdin (xargs)
	numericFlags bool   // -10 is a flag, not the command (nice -10)
	lookupFlags  string // flags that make it look a command up instead of running it
	scriptFlag   string // flag whose value is a command line to parse (env -S)
	joinArgs     bool   // all operands are joined and run by sh -c (watch)
}

var wrappers = map[string]*wrapperSpec{
	"sudo":       {spec: mkSpec("user=u group=g close-from=C chdir=D host=h prompt=p role=r type=t other-user=U command-timeout=T chroot=R", "u g C D h p r t U T R"), assignments: true},
	"doas":       {spec: mkSpec("", "u C")},
	"env":        {spec: mkSpec("unset=u chdir=C split-string=S ignore-environment=i null=0", "u C S"), assignments: true, scriptFlag: "S"},
	"nohup":      {spec: mkSpec("", "")},
	"timeout":    {spec: mkSpec("signal=s kill-after=k", "s k"), skip: 1},
	"nice":       {spec: mkSpec("adjustment=n", "n"), numericFlags: true},
	"ionice":     {spec: mkSpec("class=c classdata=n pid=p", "c n p")},
	"stdbuf":     {spec: mkSpec("input=i output=o error=e", "i o e")},
	"xargs":      {spec: mkSpec("replace=I max-args=n max-procs=P delimiter=d eof=E max-lines=L max-chars=s arg-file=a null=0 no-run-if-empty=r verbose=t interactive=p", "I n P d E L s a", withOptAttached("iel")), extraArgs: true},
	"command":    {spec: mkSpec("", ""), lookupFlags: "vV"},
	"exec":       {spec: mkSpec("", "a")},
	"time":       {spec: mkSpec("format=f output=o portability=p verbose=v append=a", "f o")},
	"builtin":    {spec: mkSpec("", "")},
	"setsid":     {spec: mkSpec("", "")},
	"busybox":    {spec: mkSpec("", "")},
	"unbuffer":   {spec: mkSpec("", "")},
	"chronic":    {spec: mkSpec("", "")},
	"torsocks":   {spec: mkSpec("", "")},
	"caffeinate": {spec: mkSpec("", "t w")},
	"strace":     {spec: mkSpec("", "o e p s u E")},
	"ltrace":     {spec: mkSpec("", "o e p s u E")},
	"watch":      {spec: mkSpec("interval=n", "n"), joinArgs: true},
	"chroot":     {spec: programs["chroot"], skip: 1},
}

// subWrappers are subcommands that run the rest of the line as a command
// (poetry run pytest, bundle exec rake).
var subWrappers = map[string]bool{
	"uv run": true, "poetry run": true, "pipenv run": true, "bundle exec": true,
	"pnpm exec": true, "yarn exec": true, "npm exec": true, "pdm run": true,
	"hatch run": true, "conda run": true, "mise exec": true, "rye run": true,
}

// shells run a script given with -c, as a file operand, or on stdin.
var shells = map[string]bool{
	"sh": true, "bash": true, "zsh": true, "dash": true, "ksh": true, "mksh": true,
	"ash": true, "fish": true, "csh": true, "tcsh": true, "rbash": true, "yash": true,
}

// systemDirs hold programs trusted to be what their base name says.
var systemDirs = map[string]bool{
	"/bin": true, "/sbin": true, "/usr/bin": true, "/usr/sbin": true,
	"/usr/local/bin": true, "/usr/local/sbin": true, "/opt/homebrew/bin": true,
}

// printers only print their operands; a static echo piped to a shell is
// read as the script it prints.
var printers = map[string]bool{"echo": true, "printf": true}
