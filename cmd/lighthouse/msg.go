package main

// `lighthouse msg send|inbox|read|ack|thread`: messages between agents and
// people. The logic takes explicit clients and writers; runMsg parses flags.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// msgView is a message as the reader shows it.
type msgView struct {
	MessageID   string    `json:"message_id"`
	Thread      string    `json:"thread"`
	ReplyTo     string    `json:"reply_to"`
	From        string    `json:"from"`
	To          []string  `json:"to"`
	Subject     string    `json:"subject"`
	Body        string    `json:"body"`
	AckRequired bool      `json:"ack_required"`
	Seq         uint64    `json:"seq"`
	SentAt      time.Time `json:"sent_at"`
	Receipts    map[string]struct {
		Agent  string     `json:"agent"`
		ReadAt *time.Time `json:"read_at"`
		Acked  *time.Time `json:"acked_at"`
	} `json:"receipts"`
}

func runMsg(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("msg: want `msg send`, `msg inbox`, `msg read ID`, `msg ack ID` or `msg thread ID`")
	}
	fs := flag.NewFlagSet("msg "+args[0], flag.ContinueOnError)
	var c connection
	c.Register(fs)
	switch args[0] {
	case "send":
		to := fs.String("to", "", "comma-separated recipients: agent names, role:ROLE, capability:NAME")
		subject := fs.String("s", "", "the subject (one line)")
		body := fs.String("m", "", "the body; - reads it from stdin")
		thread := fs.String("thread", "", "the thread to add to (default: a new one, or the replied message's)")
		replyTo := fs.String("reply-to", "", "the message this answers")
		ack := fs.Bool("ack", false, "ask the recipients to acknowledge")
		asJSON := fs.Bool("json", false, "print JSON")
		_, w, err := c.ParseWriter(fs, args[1:], 0, 0)
		if err != nil {
			return err
		}
		if *to == "" {
			return usagef("msg send: --to is required")
		}
		text := *body
		if text == "-" {
			raw, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
			if err != nil {
				return fmt.Errorf("read the body: %w", err)
			}
			text = string(raw)
		}
		var ans struct {
			ID         string   `json:"id"`
			Thread     string   `json:"thread"`
			Seq        uint64   `json:"seq"`
			Recipients []string `json:"recipients"`
		}
		if *replyTo != "" || *thread != "" {
			r, err := c.Reader()
			if err != nil {
				return err
			}
			head := c.WriterHead(ctx)
			if *replyTo != "" {
				if *replyTo, err = resolveID("message", *replyTo, "lighthouse msg inbox", func() ([]string, error) { return messageIDs(ctx, r, head, false) }); err != nil {
					return err
				}
			}
			if *thread != "" {
				// A thread named by a prefix of one in the inbox is that
				// thread; any other name starts a thread of that name.
				threads, err := messageIDs(ctx, r, head, true)
				if err != nil {
					return err
				}
				if slices.ContainsFunc(threads, func(t string) bool { return strings.HasPrefix(t, *thread) }) {
					if *thread, err = resolveID("thread", *thread, "lighthouse msg inbox --json", func() ([]string, error) { return threads, nil }); err != nil {
						return err
					}
				}
			}
		}
		req := map[string]any{"to": splitList(*to), "subject": *subject, "body": text, "thread": *thread, "reply_to": *replyTo, "ack_required": *ack}
		if err := w.PostJSON(ctx, "/v1/messages", req, &ans); err != nil {
			return fmt.Errorf("send message: %w", err)
		}
		if *asJSON {
			return printJSON(ans)
		}
		fmt.Println(ans.ID)
		fmt.Fprintf(os.Stderr, "sent to %s (thread %s)\n", strings.Join(ans.Recipients, ", "), ans.Thread)
		return nil
	case "inbox":
		unread := fs.Bool("unread", false, "only messages you have not read")
		wait := fs.Duration("wait", 0, "wait up to this long for a message when there is none (at most 1m)")
		asJSON := fs.Bool("json", false, "print JSON")
		_, r, err := c.ParseReader(fs, args[1:], 0, 0)
		if err != nil {
			return err
		}
		q := url.Values{}
		if *unread {
			q.Set("unread", "true")
		}
		if *wait > 0 {
			q.Set("wait", wait.String())
		}
		var ans struct {
			Messages []msgView `json:"messages"`
		}
		if _, err := r.Do(ctx, http.MethodGet, "/v1/inbox?"+q.Encode(), nil, nil, &ans); err != nil {
			return fmt.Errorf("read inbox: %w", err)
		}
		if *asJSON {
			return printJSON(ans)
		}
		if len(ans.Messages) == 0 {
			if *unread {
				fmt.Fprintln(os.Stderr, "no unread messages")
			} else {
				fmt.Fprintln(os.Stderr, "no messages")
			}
			return nil
		}
		return printMessages(os.Stdout, ans.Messages)
	case "read", "ack":
		pos, w, err := c.ParseWriter(fs, args[1:], 1, -1)
		if err != nil {
			return err
		}
		r, err := c.Reader()
		if err != nil {
			return err
		}
		head := c.WriterHead(ctx)
		for _, id := range pos {
			id, err := resolveID("message sent to you", id, "lighthouse msg inbox; a prefix finds only those", func() ([]string, error) { return messageIDs(ctx, r, head, false) })
			if err != nil {
				return err
			}
			var res struct {
				Seq uint64 `json:"seq"`
			}
			if err := w.PostJSON(ctx, "/v1/messages/"+url.PathEscape(id)+"/"+args[0], nil, &res); err != nil {
				return fmt.Errorf("%s message %s: %w", args[0], id, err)
			}
			if args[0] == "read" {
				fmt.Printf("marked %s read\n", id)
			} else {
				fmt.Printf("acknowledged %s\n", id)
			}
		}
		return nil
	case "thread":
		asJSON := fs.Bool("json", false, "print JSON")
		pos, r, err := c.ParseReader(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		head := c.WriterHead(ctx)
		thread, err := resolveID("thread", pos[0], "lighthouse msg inbox --json", func() ([]string, error) { return messageIDs(ctx, r, head, true) })
		if err != nil {
			return err
		}
		var ans struct {
			Thread   string    `json:"thread"`
			Messages []msgView `json:"messages"`
		}
		if _, err := r.Do(ctx, http.MethodGet, "/v1/threads/"+url.PathEscape(thread)+"?min_seq="+fmt.Sprint(head), nil, nil, &ans); err != nil {
			return fmt.Errorf("thread %s: %w", thread, err)
		}
		if *asJSON {
			return printJSON(ans)
		}
		return printMessages(os.Stdout, ans.Messages)
	}
	return usagef("msg: unknown subcommand %q (want send, inbox, read, ack or thread)", args[0])
}

// printMessages prints one message after another: a header line and the body.
func printMessages(out io.Writer, msgs []msgView) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, m := range msgs {
		flags := ""
		if m.AckRequired {
			flags = " [ack required]"
		}
		fmt.Fprintf(tw, "%s\t%s\tfrom %s\t%s%s\n", m.MessageID, m.SentAt.Local().Format(time.RFC3339), m.From, m.Subject, flags)
		if m.Body != "" {
			fmt.Fprintf(tw, "  %s\n", strings.ReplaceAll(m.Body, "\n", "\n  "))
		}
	}
	return tw.Flush()
}
