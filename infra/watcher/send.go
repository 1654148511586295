package watcher

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"

	"github.com/lighthouse-ai/lighthouse/domain"
	"github.com/lighthouse-ai/lighthouse/infra/client"
)

// Change-set limits: the writer takes at most 1,000 ops and 64 MiB of JSON
// per change set; contents over inlineMax are uploaded first (POST
// /v1/blobs) and referred to by hash.
const (
	maxSetOps   = 1000
	maxSetBytes = 16 << 20
	inlineMax   = 256 << 10
)

// writerAPI is what the watcher uses of the writer's HTTP client.
type writerAPI interface {
	Do(ctx context.Context, method, path string, header http.Header, body io.Reader, out any) (http.Header, error)
}

// identity is who a change set is recorded as.
type identity struct {
	Token       string // "" is the watcher's own
	Agent       bool
	CommandID   string
	SessionID   string
	Correlation string
	Causation   string // the tool call (tool_use_id) that made the changes
}

// contentSource opens the content of a write op.
type contentSource func(op Op) (io.ReadCloser, error)

type wireOp struct {
	Op              string  `json:"op"`
	Path            string  `json:"path"`
	To              string  `json:"to,omitempty"`
	ContentBase64   *string `json:"content_base64,omitempty"`
	Hash            string  `json:"hash,omitempty"`
	Mode            string  `json:"mode,omitempty"`
	ExpectedVersion *uint64 `json:"expected_version,omitempty"`
}

// sendResult is what a recorded change set answered.
type sendResult struct {
	Seq   uint64
	Sets  int
	Ops   int
	Paths []string
}

// sendOps records ops through POST /v1/changes, in change sets of at most
// maxSetOps ops and maxSetBytes of inline content. The first set carries
// id.CommandID, later ones CommandID#2, #3... A write whose file vanished
// before it was read is dropped (its deletion is the next change).
func sendOps(ctx context.Context, w writerAPI, id identity, ops []Op, open contentSource) (sendResult, error) {
	var res sendResult
	var set []wireOp
	var setBytes int
	flush := func() error {
		if len(set) == 0 {
			return nil
		}
		res.Sets++
		cid := id.CommandID
		if cid != "" && res.Sets > 1 {
			cid = fmt.Sprintf("%s#%d", cid, res.Sets)
		}
		body, err := json.Marshal(map[string]any{"command_id": cid, "ops": set})
		if err != nil {
			return fmt.Errorf("encode change set: %w", err)
		}
		h := http.Header{"Content-Type": {"application/json"}}
		if id.SessionID != "" {
			h.Set("X-Session-Id", id.SessionID)
		}
		if id.Correlation != "" {
			h.Set("X-Correlation-Id", id.Correlation)
		}
		if id.Causation != "" {
			h.Set("X-Causation-Id", id.Causation)
		}
		var out client.CommandResult
		if _, err := w.Do(ctx, http.MethodPost, "/v1/changes", h, bytes.NewReader(body), &out); err != nil {
			return err
		}
		res.Seq = out.Seq
		res.Ops += len(set)
		set, setBytes = nil, 0
		return nil
	}
	for _, op := range ops {
		wo := wireOp{Op: op.Op, Path: op.Path, To: op.To, ExpectedVersion: op.Expected}
		if op.Op == opWrite {
			wo.Mode = strconv.FormatUint(uint64(op.Mode), 8)
			inline, hash, size, err := loadContent(ctx, w, op, open)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return res, err
			}
			if inline != nil {
				s := base64.StdEncoding.EncodeToString(inline)
				wo.ContentBase64 = &s
				size = int64(len(s))
			} else {
				wo.Hash, size = hash, 0
			}
			if len(set) > 0 && setBytes+int(size) > maxSetBytes {
				if err := flush(); err != nil {
					return res, err
				}
			}
			setBytes += int(size)
		}
		set = append(set, wo)
		res.Paths = append(res.Paths, op.Path)
		if op.To != "" {
			res.Paths = append(res.Paths, op.To)
		}
		if len(set) >= maxSetOps {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	return res, flush()
}

// loadContent returns small contents inline, and uploads large ones,
// returning their hash.
func loadContent(ctx context.Context, w writerAPI, op Op, open contentSource) ([]byte, string, int64, error) {
	r, err := open(op)
	if err != nil {
		return nil, "", 0, err
	}
	defer r.Close()
	head, err := io.ReadAll(io.LimitReader(r, inlineMax+1))
	if err != nil {
		return nil, "", 0, fmt.Errorf("read %s: %w", op.Path, err)
	}
	if len(head) <= inlineMax {
		return head, "", int64(len(head)), nil
	}
	var ref domain.ContentRef
	if _, err := w.Do(ctx, http.MethodPost, "/v1/blobs", http.Header{"Content-Type": {"application/octet-stream"}},
		io.MultiReader(bytes.NewReader(head), r), &ref); err != nil {
		return nil, "", 0, fmt.Errorf("upload %s: %w", op.Path, err)
	}
	return nil, ref.Hash, ref.Size, nil
}

// Unreachable reports whether err (from infra/client) means the writer
// could not take a command now: a hook spools its change then.
func Unreachable(err error) bool { return unreachable(err) }

// unreachable reports whether err means the writer could not take the
// command now (down, restarting, overloaded), as opposed to refusing it.
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		switch ce.Status {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
			return true
		}
		return false
	}
	var ue *url.Error
	return errors.As(err, &ue) && !errors.Is(err, context.Canceled)
}

// isConflict reports a 409 version conflict.
func isConflict(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Status == http.StatusConflict
}
