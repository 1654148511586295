package policy

// Env is what a rule's `when` expression sees. Field names in expressions are
// the lower-case names given in the expr tags, for example
// `role == "builder" && len(writes) > 3`.
type Env struct {
	Tool        string         `expr:"tool"`         // tool name
	Role        string         `expr:"role"`         // agent role
	AgentID     string         `expr:"agent_id"`     // agent id
	Cwd         string         `expr:"cwd"`          // working directory
	ProjectRoot string         `expr:"project_root"` // project root
	Input       map[string]any `expr:"input"`        // raw tool input
	Command     string         `expr:"command"`      // Bash command line, "" for other tools
	Programs    []string       `expr:"programs"`     // every program the call runs (Bash)
	Paths       []string       `expr:"paths"`        // every path the call touches
	Writes      []string       `expr:"writes"`       // paths written, created or deleted
	Reads       []string       `expr:"reads"`        // paths read
	Outside     []string       `expr:"outside"`      // touched paths outside the project (or not statically known)

	// Set only while a command rule is evaluated.
	Program    string   `expr:"program"`    // the command's program base name
	Subcommand string   `expr:"subcommand"` // its subcommand (git push -> push)
	Flags      []string `expr:"flags"`      // its canonical flags, sorted
	Args       []string `expr:"args"`       // its operands after the subcommand
}

func newEnv(a *analysis) *Env {
	c := a.call
	e := &Env{
		Tool: c.Tool, Role: c.Role, AgentID: c.AgentID, Cwd: c.Cwd,
		ProjectRoot: c.ProjectRoot, Input: c.Input, Command: a.source,
		Paths: []string{}, Writes: []string{}, Reads: []string{}, Outside: []string{}, Programs: []string{},
		Flags: []string{}, Args: []string{},
	}
	for i := range a.commands {
		if p := a.commands[i].program; p != "" {
			e.Programs = append(e.Programs, p)
		}
	}
	for i := range a.paths {
		p := &a.paths[i]
		d := p.display()
		e.Paths = append(e.Paths, d)
		if p.access&accessWrite != 0 {
			e.Writes = append(e.Writes, d)
		}
		if p.access&accessRead != 0 {
			e.Reads = append(e.Reads, d)
		}
		if !p.inside {
			e.Outside = append(e.Outside, d)
		}
	}
	return e
}
