package admin

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/logging"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/pkg/client"
)

// Defaults of the audit stream.
const (
	defaultAuditPoll      = 500 * time.Millisecond
	defaultAuditHeartbeat = 15 * time.Second
	// streamRetry is the reconnection delay the stream suggests to
	// clients (the SSE retry field), in milliseconds.
	streamRetry = 2000
	// auditBatch is how many events the stream and the export read per
	// query: memory stays bounded whatever the size of the log.
	auditBatch = 500
)

// maxFilterLen bounds a text filter: actors, actions and targets are short.
const maxFilterLen = 256

// Query parameters of the audit routes.
var (
	auditFilterParams = []string{"since", "until", "actor", "action", "target", "outcome"}
	auditListParams   = append(append([]string{}, auditFilterParams...), "order", "cursor", "limit")
	auditExportParams = append(append([]string{}, auditFilterParams...), "format")
	auditStreamParams = []string{"actor", "action", "target", "outcome"}
)

// parseAuditFilter reads the query parameters allowed (a subset of
// auditListParams); a bad value is a 400 naming the parameter.
func parseAuditFilter(q url.Values, allowed []string) (store.AuditFilter, error) {
	var f store.AuditFilter
	for name, vals := range q {
		if !contains(allowed, name) {
			return f, badRequest("unknown query parameter %q (known: %s)", name, strings.Join(allowed, ", "))
		}
		if len(vals) > 1 {
			return f, badRequest("query parameter %q given %d times", name, len(vals))
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return f, badRequest("%s %q: want an RFC 3339 time such as 2025-06-01T12:00:00Z", p.name, s)
			}
			*p.dst = store.Micro(t)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return f, badRequest("until is before since")
	}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"actor", &f.Actor}, {"action", &f.ActionPrefix}, {"target", &f.Target}} {
		v := q.Get(p.name)
		if len(v) > maxFilterLen {
			return f, badRequest("%s: longer than %d bytes", p.name, maxFilterLen)
		}
		*p.dst = v
	}
	switch o := q.Get("outcome"); o {
	case "", audit.OutcomeSuccess, audit.OutcomeFailure:
		f.Outcome = o
	default:
		return f, badRequest("outcome %q: want success or failure", o)
	}
	switch o := q.Get("order"); o {
	case "", "asc":
	case "desc":
		f.Descending = true
	default:
		return f, badRequest("order %q: want asc or desc", o)
	}
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 1 {
			return f, badRequest("cursor %q: not a cursor returned by this API", c)
		}
		f.AfterSeq = n
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return f, badRequest("limit %q: want a number from 1 to 1000", s)
		}
		f.Limit = n
	}
	return f, nil
}

// toClientEvent converts an event for the wire: hashes in hex, details
// never null.
func toClientEvent(ev store.AuditEvent) client.AuditEvent {
	return client.AuditEvent{
		Seq:      ev.Seq,
		Time:     ev.Time,
		Actor:    ev.Actor,
		Action:   ev.Action,
		Target:   ev.Target,
		Outcome:  ev.Outcome,
		Details:  nonNilMap(ev.Details),
		ClientIP: ev.ClientIP,
		Hash:     hex.EncodeToString(ev.Hash),
		PrevHash: hex.EncodeToString(ev.PrevHash),
	}
}

func (a *Admin) listAudit(w http.ResponseWriter, r *http.Request, _ *principal) {
	f, err := parseAuditFilter(r.URL.Query(), auditListParams)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	evs, next, err := a.opts.Store.QueryAudit(r.Context(), f)
	if err != nil {
		a.auditFail(w, r, err)
		return
	}
	out := client.AuditPage{Events: make([]client.AuditEvent, len(evs))}
	for i, ev := range evs {
		out.Events[i] = toClientEvent(ev)
	}
	if next != 0 {
		out.Next = strconv.FormatInt(next, 10)
	}
	writeJSON(w, http.StatusOK, out)
}

// auditFail answers a store error of an audit route: an invalid filter
// is the caller's mistake, anything else goes to fail.
func (a *Admin) auditFail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrInvalid) {
		a.fail(w, r, badRequest("%s", err.Error()))
		return
	}
	a.fail(w, r, err)
}

// streamAudit serves the log as server-sent events: "id: SEQ", "event:
// audit", "data: JSON" for every event after Last-Event-ID (or, without
// that header, after the head at the time the stream opens, which a first
// data-less "id:" line names), polling the store, with comment lines as
// heartbeats.
func (a *Admin) streamAudit(w http.ResponseWriter, r *http.Request, _ *principal) {
	f, err := parseAuditFilter(r.URL.Query(), auditStreamParams)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ctx := r.Context()
	var pos int64
	if v, ok := r.Header["Last-Event-Id"]; ok {
		id := strings.TrimSpace(strings.Join(v, ""))
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n < 0 {
			a.fail(w, r, badRequest("Last-Event-ID %q: want the sequence of the last event received", id))
			return
		}
		pos = n
	} else {
		head, err := a.opts.Store.AuditHead(ctx)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		pos = head.Seq
	}

	rc := http.NewResponseController(w)
	// The server's timeouts suit requests, not a stream that stays open
	// for hours; this connection alone goes without them.
	a.clearDeadlines(rc, "audit stream")
	h := w.Header()
	h.Set("Content-Type", client.EventStreamMediaType)
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, ": mapwright audit stream\nretry: %d\nid: %d\n\n", streamRetry, pos)
	if !a.flushStream(bw, rc) {
		return
	}

	poll, beat := a.opts.AuditPoll, a.opts.AuditHeartbeat
	if poll <= 0 {
		poll = defaultAuditPoll
	}
	if beat <= 0 {
		beat = defaultAuditHeartbeat
	}
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	lastWrite := time.Now()
	f.Limit = auditBatch
	for {
		f.AfterSeq = pos
		evs, next, err := a.opts.Store.QueryAudit(ctx, f)
		if err != nil {
			if ctx.Err() == nil {
				// The client reconnects and resumes; the stream cannot
				// carry an error answer any more.
				a.log.Error("audit stream: read events", logging.KeyErr, err.Error())
			}
			return
		}
		for _, ev := range evs {
			data, err := json.Marshal(toClientEvent(ev))
			if err != nil {
				a.log.Error("audit stream: encode event", logging.KeyErr, err.Error())
				return
			}
			fmt.Fprintf(bw, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, client.AuditEventType, data)
			pos = ev.Seq
		}
		if len(evs) > 0 {
			if !a.flushStream(bw, rc) {
				return
			}
			lastWrite = time.Now()
		}
		if next != 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-a.streamsDone:
			return
		case <-ticker.C:
		}
		if time.Since(lastWrite) >= beat {
			bw.WriteString(": ping\n\n")
			if !a.flushStream(bw, rc) {
				return
			}
			lastWrite = time.Now()
		}
	}
}

// clearDeadlines lifts the connection's read and write deadlines for a
// long response: a read deadline that passes would also cancel the
// request, as the server reads in the background to notice a client
// leaving.
func (a *Admin) clearDeadlines(rc *http.ResponseController, what string) {
	for _, set := range []func(time.Time) error{rc.SetReadDeadline, rc.SetWriteDeadline} {
		if err := set(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
			a.log.Warn(what+": clear the connection deadline", logging.KeyErr, err.Error())
		}
	}
}

// flushStream sends what bw holds to the client; false when the client is
// gone.
func (a *Admin) flushStream(bw *bufio.Writer, rc *http.ResponseController) bool {
	if err := bw.Flush(); err != nil {
		return false
	}
	if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return false
	}
	return true
}

func (a *Admin) verifyAudit(w http.ResponseWriter, r *http.Request, _ *principal) {
	var req client.AuditVerifyRequest
	if err := decodeJSON(r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.From < 0 || req.To < 0 {
		a.fail(w, r, badRequest("from and to must not be negative"))
		return
	}
	opts := audit.VerifyOptions{From: req.From, To: req.To}
	if eh := req.ExpectHead; eh != nil {
		hash, err := hex.DecodeString(eh.Hash)
		switch {
		case eh.Seq < 0:
			a.fail(w, r, badRequest("expect_head.seq must not be negative"))
			return
		case eh.Seq == 0 && eh.Hash != "":
			a.fail(w, r, badRequest("expect_head: an empty log has no hash"))
			return
		case eh.Seq > 0 && (err != nil || len(hash) != 32 || !isLowerHex(eh.Hash, 64)):
			a.fail(w, r, badRequest("expect_head.hash: want 64 lowercase hexadecimal digits"))
			return
		}
		opts.ExpectHead = store.AuditHead{Seq: eh.Seq, Hash: hash}
	}
	res, err := a.opts.Audit.Verify(r.Context(), a.opts.Store, opts)
	if err != nil {
		if errors.Is(err, audit.ErrInvalidOptions) {
			a.fail(w, r, badRequest("%s", strings.TrimSuffix(strings.TrimPrefix(err.Error(), "verify audit log: "), ": "+audit.ErrInvalidOptions.Error())))
			return
		}
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, client.AuditVerifyResult{
		OK: res.OK, Checked: res.Checked, Start: res.Start, Anchor: res.Anchor,
		FirstBad: res.FirstBad, Reason: res.Reason, Note: res.Note,
		Head: client.AuditHead{Seq: res.Head.Seq, Hash: hex.EncodeToString(res.Head.Hash)},
	})
}

func (a *Admin) auditCheckpoint(w http.ResponseWriter, r *http.Request, _ *principal) {
	if a.opts.Checkpoints == nil {
		writeProblem(w, http.StatusServiceUnavailable, probUnavailable, "this server has no checkpoint key configured")
		return
	}
	cp, err := a.opts.Checkpoints.Checkpoint(r.Context(), a.opts.Store, a.now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, client.Checkpoint{
		Origin:    cp.Origin,
		Size:      cp.Size,
		Hash:      hex.EncodeToString(cp.Hash),
		Time:      cp.Time,
		KeyID:     cp.KeyID,
		PublicKey: base64.StdEncoding.EncodeToString(cp.PublicKey),
		Signature: base64.StdEncoding.EncodeToString(cp.Signature),
	})
}

// exportAudit streams the events matching the filter as JSON Lines or CSV,
// oldest first, a batch at a time. The export is recorded first (no
// audit, no export) and covers the log up to and including its own
// audit.export event.
func (a *Admin) exportAudit(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	f, err := parseAuditFilter(q, auditExportParams)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	format := q.Get("format")
	if format == "" {
		format = client.AuditFormatJSONL
	}
	var mediaType, ext string
	switch format {
	case client.AuditFormatJSONL:
		mediaType, ext = client.AuditJSONLMediaType, "jsonl"
	case client.AuditFormatCSV:
		mediaType, ext = client.AuditCSVMediaType+"; charset=utf-8; header=present", "csv"
	default:
		a.fail(w, r, badRequest("format %q: want jsonl or csv", format))
		return
	}
	details := map[string]string{"format": format}
	for _, name := range auditFilterParams {
		if v := q.Get(name); v != "" {
			details[name] = v
		}
	}
	rec, err := a.opts.Audit.AppendStandalone(r.Context(), a.opts.Store, audit.Event{
		Actor: p.Actor, Action: audit.ActionAuditExport, ClientIP: p.ClientIP, Details: details,
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}

	rc := http.NewResponseController(w)
	// A large export may take longer than the server's timeouts.
	a.clearDeadlines(rc, "audit export")
	h := w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="mapwright-audit-%s.%s"`, a.now().UTC().Format("20060102T150405Z"), ext))
	h.Set("X-Mapwright-Audit-Through", strconv.FormatInt(rec.Seq, 10))
	w.WriteHeader(http.StatusOK)

	bw := bufio.NewWriterSize(w, 64<<10)
	var enc func(store.AuditEvent) error
	if format == client.AuditFormatCSV {
		cw := csv.NewWriter(bw)
		if err := cw.Write(client.AuditCSVHeader); err != nil {
			a.abortExport(err)
		}
		enc = func(ev store.AuditEvent) error {
			if err := cw.Write(toClientEvent(ev).CSVRecord()); err != nil {
				return err
			}
			cw.Flush()
			return cw.Error()
		}
	} else {
		je := json.NewEncoder(bw)
		je.SetEscapeHTML(false)
		enc = func(ev store.AuditEvent) error { return je.Encode(toClientEvent(ev)) }
	}
	f.Limit = auditBatch
	for {
		evs, next, err := a.opts.Store.QueryAudit(r.Context(), f)
		if err != nil {
			a.abortExport(err)
		}
		for _, ev := range evs {
			if ev.Seq > rec.Seq {
				next = 0
				break
			}
			if err := enc(ev); err != nil {
				a.abortExport(err)
			}
		}
		if err := bw.Flush(); err != nil {
			a.abortExport(err)
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			a.abortExport(err)
		}
		if next == 0 {
			return
		}
		f.AfterSeq = next
	}
}

// abortExport ends an export that failed after its first byte: the status
// is sent, so the connection is cut and the client sees a truncated body
// rather than a complete-looking file.
func (a *Admin) abortExport(err error) {
	if !errors.Is(err, context.Canceled) {
		a.log.Error("audit export failed midway", logging.KeyErr, err.Error())
	}
	panic(http.ErrAbortHandler)
}

func (a *Admin) pruneAudit(w http.ResponseWriter, r *http.Request, p *principal) {
	var req client.AuditPruneRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := time.ParseDuration(req.OlderThan)
	if err != nil || d <= 0 {
		a.fail(w, r, badRequest("older_than %q: want a positive Go duration such as 720h", req.OlderThan))
		return
	}
	res, err := a.opts.Audit.Prune(r.Context(), a.opts.Store, a.now().Add(-d), audit.Event{
		Actor: p.Actor, ClientIP: p.ClientIP, Details: map[string]string{"older_than": d.String()},
	})
	if err != nil {
		if errors.Is(err, audit.ErrPruneRefused) {
			writeProblem(w, http.StatusConflict, probConflict, strings.TrimSuffix(err.Error(), ": "+audit.ErrPruneRefused.Error())+
				"; nothing was deleted: the events that would be pruned are evidence")
			return
		}
		a.fail(w, r, err)
		return
	}
	out := client.AuditPruneResult{Deleted: res.Deleted}
	if res.Deleted > 0 {
		out.CutSeq, out.CutHash, out.Event = res.CutSeq, hex.EncodeToString(res.CutHash), res.Event.Seq
	}
	writeJSON(w, http.StatusOK, out)
}
