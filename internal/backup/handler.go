package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/store"
)

// MediaType is the Content-Type of a plaintext backup stream.
const MediaType = "application/vnd.mapwright.backup"

// writeGrace is how long each write of the stream may take before the
// connection is given up, renewed at every write, so that a long backup is
// not cut by the server's overall write timeout.
const writeGrace = 2 * time.Minute

// HandlerOptions configure the handler of POST /admin/v1/backups.
type HandlerOptions struct {
	// Store is the database to snapshot. Required.
	Store store.Store
	// DataDir holds the key files the backup carries (see ReadKeyFiles),
	// read at each request. Required.
	DataDir string
	// MapwrightVersion is recorded in each manifest.
	MapwrightVersion string
	// Actor names the caller of a request for OnSnapshot, when the
	// handler is used through ServeHTTP; nil names nobody.
	Actor func(r *http.Request) string
	// OnSnapshot, when set, is called after every attempt with the
	// caller, the manifest streamed (nil on failure) and the error (nil
	// on success). Wire it to the audit log: see AuditHook.
	OnSnapshot func(ctx context.Context, actor string, m *Manifest, err error)
	// Logger receives failures; nothing is logged when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Handler streams a plaintext backup of the store: the answer to POST
// /admin/v1/backups. The stream is the format Reader reads; the client
// encrypts it (the server never sees a passphrase). One backup runs at a
// time; a second request meanwhile gets 409 Conflict.
//
// Errors before the stream starts are problem+json answers (405 for a
// method other than POST, 409 while another backup runs, 500 when the key
// files or the database cannot be read). Once the stream has started its
// status is 200 and a failure ends it with an abort record, which the
// client reports as ErrAborted.
type Handler struct {
	opts HandlerOptions
	sem  chan struct{}
	log  *slog.Logger
	now  func() time.Time
}

// NewHandler returns the backup handler. It panics without Store or
// DataDir, a wiring mistake.
func NewHandler(opts HandlerOptions) *Handler {
	if opts.Store == nil || opts.DataDir == "" {
		panic("backup.NewHandler: Store and DataDir are required")
	}
	h := &Handler{opts: opts, sem: make(chan struct{}, 1), log: opts.Logger, now: opts.Now}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// ServeHTTP serves the request, naming the caller with opts.Actor.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	actor := ""
	if h.opts.Actor != nil {
		actor = h.opts.Actor(r)
	}
	h.Serve(w, r, actor)
}

// Serve serves the request on behalf of actor (as the audit log names
// callers), for routers that authenticate before calling it.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, actor string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeProblem(w, http.StatusMethodNotAllowed, "method not allowed", r.Method+" is not allowed; use POST")
		return
	}
	select {
	case h.sem <- struct{}{}:
		defer func() { <-h.sem }()
	default:
		writeProblem(w, http.StatusConflict, "backup running", ErrBusy.Error()+"; try again when it has finished")
		return
	}
	ctx := r.Context()
	m, err := h.stream(ctx, w)
	if err != nil {
		h.log.LogAttrs(ctx, slog.LevelError, "backup failed", slog.String("actor", actor), slog.String("error", err.Error()))
	}
	if h.opts.OnSnapshot != nil {
		// The request's context may be cancelled (the client went away);
		// recording the failure must not be.
		h.opts.OnSnapshot(context.WithoutCancel(ctx), actor, m, err)
	}
}

func (h *Handler) stream(ctx context.Context, w http.ResponseWriter) (*Manifest, error) {
	files, err := ReadKeyFiles(h.opts.DataDir)
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, "backup failed", "the server cannot read its key files")
		return nil, err
	}
	sw := &streamWriter{w: w, rc: http.NewResponseController(w), now: h.now}
	m, err := WriteSnapshot(ctx, h.opts.Store, sw, SnapshotOptions{
		Files:            files,
		MapwrightVersion: h.opts.MapwrightVersion,
		Now:              h.now,
	})
	if err != nil && !sw.started {
		status := http.StatusInternalServerError
		if errors.Is(err, store.ErrUnavailable) {
			status = http.StatusServiceUnavailable
		}
		writeProblem(w, status, "backup failed", "the database snapshot could not be taken")
	}
	return m, err
}

// streamWriter starts the 200 answer at the first write and pushes every
// write to the client at once, renewing the write deadline.
type streamWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	now     func() time.Time
	started bool
}

func (s *streamWriter) Write(p []byte) (int, error) {
	if !s.started {
		s.started = true
		h := s.w.Header()
		h.Set("Content-Type", MediaType)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Disposition", `attachment; filename="`+FileName(s.now())+`"`)
		s.w.WriteHeader(http.StatusOK)
	}
	// Not every server supports deadlines (tests, some proxies); the
	// stream works without.
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeGrace))
	n, err := s.w.Write(p)
	if err != nil {
		return n, err
	}
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return n, err
	}
	return n, nil
}

// writeProblem answers with RFC 9457 problem details.
func writeProblem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "about:blank", "title": title, "status": status, "detail": detail,
	})
}

// AuditHook returns an OnSnapshot that records every backup taken through
// the handler as a backup.create event (outcome success or failure) in
// st's audit log, with the manifest's facts as details. A failure to
// record is logged.
func AuditHook(log *audit.Log, st store.Store, logger *slog.Logger) func(ctx context.Context, actor string, m *Manifest, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, actor string, m *Manifest, err error) {
		if actor == "" {
			actor = "unknown"
		}
		ev := audit.Event{Actor: actor, Action: audit.ActionBackupCreate, Target: "stream", Details: manifestDetails(m)}
		if err != nil {
			ev.Outcome = audit.OutcomeFailure
			ev.Details["error"] = sanitize(err.Error())
		}
		if _, aerr := log.AppendStandalone(ctx, st, ev); aerr != nil {
			logger.LogAttrs(ctx, slog.LevelError, "record backup in the audit log", slog.String("error", aerr.Error()))
		}
	}
}

// manifestDetails are the audit details of a backup: never a secret.
func manifestDetails(m *Manifest) map[string]string {
	d := map[string]string{}
	if m == nil {
		return d
	}
	d["format_version"] = strconv.Itoa(m.FormatVersion)
	d["backend"] = m.Backend
	d["schema_version"] = strconv.Itoa(m.SchemaVersion)
	d["created"] = m.Created.UTC().Format(time.RFC3339)
	d["rows"] = strconv.FormatInt(m.Rows(), 10)
	d["parts"] = strconv.Itoa(len(m.Parts))
	return d
}

// describeManifest is a one-line summary for logs and messages.
func describeManifest(m *Manifest) string {
	if m == nil {
		return "no manifest"
	}
	return fmt.Sprintf("%d rows in %d parts, %s schema %d", m.Rows(), len(m.Parts), m.Backend, m.SchemaVersion)
}
