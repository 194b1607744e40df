package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"
)

// EventStreamMediaType is the Content-Type of server-sent events.
const EventStreamMediaType = "text/event-stream"

// AuditEventType is the SSE event name of an audit event on the stream.
const AuditEventType = "audit"

// Limits of the event stream reader: a line, and the data of one event.
const (
	maxSSELine = 256 << 10
	maxSSEData = 1 << 20
)

// ErrStreamEnded means the server closed the audit stream; FollowAudit
// reconnects after it.
var ErrStreamEnded = errors.New("audit stream ended")

// AuditStream follows the audit log as server-sent events (GET
// /admin/v1/audit/stream, scope audit:read) and calls fn with every event
// whose sequence is above lastEventID, in order, as they are appended. A
// negative lastEventID starts with the events appended after the stream
// opens. It returns when ctx ends (ctx.Err()), when fn returns an error
// (that error), or when the connection ends (an error wrapping
// ErrStreamEnded, or the network error); it does not reconnect, see
// FollowAudit.
func (c *Client) AuditStream(ctx context.Context, lastEventID int64, fn func(AuditEvent) error) error {
	_, err := c.streamAudit(ctx, lastEventID, fn, nil)
	return err
}

// FollowAudit is AuditStream that reconnects: when the stream ends or the
// server cannot be reached, it waits (1 s, doubling up to 30 s, reset by a
// successful connection) and resumes after the last event it delivered
// (Last-Event-ID), so no event is lost or repeated. onRetry, when not nil,
// hears about each wait. It returns when ctx ends, when fn fails, or at
// an answer that retrying cannot change (bad credentials, a missing
// scope, an invalid request).
func (c *Client) FollowAudit(ctx context.Context, lastEventID int64, fn func(AuditEvent) error, onRetry func(err error, wait time.Duration)) error {
	const first, most = time.Second, 30 * time.Second
	wait := first
	for {
		next, err := c.streamAudit(ctx, lastEventID, fn, func() { wait = first })
		lastEventID = next
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var fnErr *callbackError
		if errors.As(err, &fnErr) {
			return fnErr.err
		}
		if s := statusOf(err); s >= 400 && s < 500 && s != http.StatusTooManyRequests && s != http.StatusRequestTimeout {
			return err
		}
		if onRetry != nil {
			onRetry(err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, most)
	}
}

// callbackError carries an error of the caller's fn through streamAudit,
// so that FollowAudit can tell it from a network failure.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

// streamAudit runs one connection of the stream. It returns the position
// to resume from: the last event delivered, or the one the server named
// when the stream opened, or lastEventID unchanged. onOpen runs once the
// server accepted the stream.
func (c *Client) streamAudit(ctx context.Context, lastEventID int64, fn func(AuditEvent) error, onOpen func()) (int64, error) {
	h := http.Header{"Accept": {EventStreamMediaType}}
	if lastEventID >= 0 {
		h.Set("Last-Event-ID", strconv.FormatInt(lastEventID, 10))
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "/admin/v1/audit/stream", header: h})
	if err != nil {
		return lastEventID, fmt.Errorf("follow audit log: %w", err)
	}
	defer resp.Body.Close()
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != EventStreamMediaType {
		return lastEventID, fmt.Errorf("follow audit log: the server answered with %q, not an event stream", clean(resp.Header.Get("Content-Type")))
	}
	if onOpen != nil {
		onOpen()
	}
	sr := newSSEReader(resp.Body)
	pos := lastEventID
	for {
		ev, err := sr.Next()
		if err != nil {
			if ctx.Err() != nil {
				return pos, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return pos, fmt.Errorf("follow audit log: %w", ErrStreamEnded)
			}
			return pos, fmt.Errorf("follow audit log: %w", err)
		}
		if ev.Data == "" || ev.Type != AuditEventType {
			// An event without data only moves the position: the server
			// names where a stream without Last-Event-ID starts.
			if ev.Data == "" && ev.HasID {
				if id, err := strconv.ParseInt(ev.ID, 10, 64); err == nil && id >= 0 && id > pos {
					pos = id
				}
			}
			continue
		}
		var ae AuditEvent
		if err := json.Unmarshal([]byte(ev.Data), &ae); err != nil {
			return pos, fmt.Errorf("follow audit log: decode event %q: %w", clean(ev.ID), err)
		}
		if ae.Seq <= pos {
			// Already delivered (a server that replays); never twice.
			continue
		}
		if ae.Details == nil {
			ae.Details = map[string]string{}
		}
		if err := fn(ae); err != nil {
			return pos, &callbackError{err}
		}
		pos = ae.Seq
	}
}

// sseEvent is one event of a server-sent event stream.
type sseEvent struct {
	// Type is the "event" field; "message" when absent.
	Type string
	// ID is the "id" field of this event, if any (HasID).
	ID    string
	HasID bool
	// Data is the "data" fields joined by line feeds.
	Data string
	// Retry is the "retry" field in milliseconds, 0 when absent.
	Retry int
}

// sseReader reads server-sent events (the text/event-stream format of the
// HTML standard) from a stream, with bounded lines and event sizes.
// Comments (lines starting with ":") are skipped.
type sseReader struct {
	r *bufio.Reader
	// skipLF: the last line ended with CR, so an LF right after it
	// belongs to that line ending.
	skipLF bool
}

// newSSEReader returns a reader of r.
func newSSEReader(r io.Reader) *sseReader { return &sseReader{r: bufio.NewReaderSize(r, 16<<10)} }

// errSSETooLong: a line or an event exceeds the reader's limits.
var errSSETooLong = errors.New("event stream line or event too long")

// Next returns the next event: the fields up to a blank line, when at
// least one field was set. At the end of the stream it returns io.EOF;
// an unterminated last event is dropped, as the standard says.
func (s *sseReader) Next() (sseEvent, error) {
	var (
		ev      sseEvent
		data    bytes.Buffer
		hasData bool
		seen    bool
	)
	for {
		line, err := s.readLine()
		if err != nil {
			return sseEvent{}, err
		}
		if len(line) == 0 {
			if !seen {
				continue
			}
			if hasData {
				ev.Data = string(bytes.TrimSuffix(data.Bytes(), []byte("\n")))
			}
			if ev.Type == "" {
				ev.Type = "message"
			}
			return ev, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value, found := bytes.Cut(line, []byte(":"))
		if found {
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			ev.Type, seen = string(value), true
		case "data":
			if data.Len()+len(value)+1 > maxSSEData {
				return sseEvent{}, errSSETooLong
			}
			data.Write(value)
			data.WriteByte('\n')
			hasData, seen = true, true
		case "id":
			if !bytes.ContainsRune(value, 0) {
				ev.ID, ev.HasID, seen = string(value), true, true
			}
		case "retry":
			if n, err := strconv.Atoi(string(value)); err == nil && n >= 0 {
				ev.Retry, seen = n, true
			}
		}
	}
}

// readLine returns the next line without its ending (LF, CRLF or CR).
func (s *sseReader) readLine() ([]byte, error) {
	var line []byte
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, err
		}
		skip := s.skipLF
		s.skipLF = false
		switch b {
		case '\n':
			if skip && len(line) == 0 {
				continue
			}
			return line, nil
		case '\r':
			// Waiting here for a possible LF would stall a live stream, so
			// the next read skips it instead.
			s.skipLF = true
			return line, nil
		}
		if len(line) >= maxSSELine {
			return nil, errSSETooLong
		}
		line = append(line, b)
	}
}
