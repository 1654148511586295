package domain

import "time"

// Event types of tasks routed by capability.
const (
	TypeTaskCreated   = "task.created"
	TypeTaskClaimed   = "task.claimed"
	TypeTaskReleased  = "task.released"
	TypeTaskCompleted = "task.completed"
	TypeTaskFailed    = "task.failed"
	TypeTaskExpired   = "task.expired"
)

// Task statuses. Completed, failed and expired are terminal.
const (
	TaskStatusOpen      = "open"
	TaskStatusClaimed   = "claimed"
	TaskStatusCompleted = "completed"
	TaskStatusFailed    = "failed"
	TaskStatusExpired   = "expired"
)

// TaskTerminal reports whether status is final.
func TaskTerminal(status string) bool {
	return status == TaskStatusCompleted || status == TaskStatusFailed || status == TaskStatusExpired
}

// ValidTaskStatus reports whether s names a task status.
func ValidTaskStatus(s string) bool {
	switch s {
	case TaskStatusOpen, TaskStatusClaimed, TaskStatusCompleted, TaskStatusFailed, TaskStatusExpired:
		return true
	}
	return false
}

// Bounds of one task.
const (
	MaxTaskTitle  = 256
	MaxTaskBody   = 16 << 10
	MaxTaskPaths  = 64
	MaxTaskResult = 16 << 10
	// MaxTaskDeadline bounds how far ahead a deadline may be.
	MaxTaskDeadline = 30 * 24 * time.Hour
)

// TaskStreamID is the stream of one task: its creation, claims and closing.
func TaskStreamID(id string) string { return "task:" + id }

// TaskCreated records a task for any agent with Capability. Offered is who
// had the capability when it was created (and got it in their inbox).
type TaskCreated struct {
	TaskID      string      `json:"task_id"`
	Capability  string      `json:"capability"`
	Title       string      `json:"title"`
	Body        string      `json:"body,omitempty"`
	Paths       []string    `json:"paths,omitempty"`
	RequesterID string      `json:"requester_id"`
	Requester   string      `json:"requester"`
	Offered     []Recipient `json:"offered"`
	// Deadline is when the task expires unless completed or failed; zero
	// means never.
	Deadline time.Time `json:"deadline,omitzero"`
}

// TaskClaimed records that an agent took a task; only it may finish it.
type TaskClaimed struct {
	TaskID  string `json:"task_id"`
	AgentID string `json:"agent_id"`
	Agent   string `json:"agent"`
}

// TaskReleased records that the claimer gave a task back: it is open again.
type TaskReleased struct {
	TaskID  string `json:"task_id"`
	AgentID string `json:"agent_id"`
	Agent   string `json:"agent"`
}

// TaskClosed records how a task ended: completed with Result, failed with
// Reason, or expired at its deadline (AgentID empty).
type TaskClosed struct {
	TaskID  string `json:"task_id"`
	AgentID string `json:"agent_id,omitempty"`
	Agent   string `json:"agent,omitempty"`
	Result  string `json:"result,omitempty"`
	Reason  string `json:"reason,omitempty"`
}
