// Package claudecode is Lighthouse's Claude Code integration: the
// PreToolUse and PostToolUse command hooks (`lighthouse hook pre|post`),
// `lighthouse init claude`, which creates the project's agent and writes the
// hooks into .claude/settings.json, and `lighthouse doctor`, which checks
// them. The streaming payload decoder the hooks use is infra/claudecode.
package claudecode
