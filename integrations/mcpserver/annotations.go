package mcpserver

import (
	"context"
	"net/http"
	"net/url"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type (
	annotateInput struct {
		Path      string `json:"path" jsonschema:"project-relative path"`
		LineStart int    `json:"line_start" jsonschema:"first line, from 1"`
		LineEnd   int    `json:"line_end,omitempty" jsonschema:"last line; default line_start"`
		Kind      string `json:"kind,omitempty" jsonschema:"note (default), warning, todo or review"`
		Body      string `json:"body"`
	}
	annotationsInput struct {
		Path string `json:"path,omitempty" jsonschema:"one file; default all"`
		At   string `json:"at,omitempty" jsonschema:"point; default now"`
	}
)

// addAnnotationTools adds annotate and list_annotations to s.
func (t tools) addAnnotationTools(s *mcp.Server) {
	mcp.AddTool(s, &mcp.Tool{Name: "annotate", Description: "Attach a note to lines of a file; it follows later edits."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in annotateInput) (*mcp.CallToolResult, any, error) {
			if in.LineEnd == 0 {
				in.LineEnd = in.LineStart
			}
			return t.json(ctx, t.w, http.MethodPost, "/v1/annotations", in)
		})
	mcp.AddTool(s, &mcp.Tool{Name: "list_annotations", Description: "Notes on files, with their current lines (or at a point)."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in annotationsInput) (*mcp.CallToolResult, any, error) {
			q := url.Values{}
			if in.Path != "" {
				q.Set("path", in.Path)
			}
			if in.At != "" {
				q.Set("at", in.At)
			}
			return t.json(ctx, t.r, http.MethodGet, "/v1/annotations?"+t.ownWrites(ctx, q), nil)
		})
}
