package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/store"
)

// faultStore wraps a store so that snapshots can fail or wait.
type faultStore struct {
	store.Store
	// beginErr fails Snapshot before anything is read.
	beginErr error
	// failTable fails the scan of this table after its first row.
	failTable string
	// hold, when set, makes snapshots wait until it is closed; started is
	// closed when the first one begins.
	hold    chan struct{}
	started chan struct{}
	once    sync.Once
}

func (f *faultStore) Snapshot(ctx context.Context, fn func(store.Snapshot) error) error {
	if f.beginErr != nil {
		return f.beginErr
	}
	if f.hold != nil {
		f.once.Do(func() { close(f.started) })
		<-f.hold
	}
	return f.Store.Snapshot(ctx, func(s store.Snapshot) error { return fn(&faultSnapshot{Snapshot: s, f: f}) })
}

type faultSnapshot struct {
	store.Snapshot
	f *faultStore
}

func (s *faultSnapshot) ScanTable(ctx context.Context, table string, fn func([]any) error) error {
	n := 0
	return s.Snapshot.ScanTable(ctx, table, func(row []any) error {
		if table == s.f.failTable && n > 0 {
			return errors.New("disk I/O error")
		}
		n++
		return fn(row)
	})
}

// snapshotCall is one OnSnapshot call.
type snapshotCall struct {
	actor string
	m     *Manifest
	err   error
}

func newServer(t *testing.T, st store.Store, dir string) (*httptest.Server, chan snapshotCall) {
	t.Helper()
	calls := make(chan snapshotCall, 4)
	h := NewHandler(HandlerOptions{
		Store: st, DataDir: dir, MapwrightVersion: "test", Now: fixedNow,
		Actor: func(r *http.Request) string { return r.Header.Get("X-Actor") },
		OnSnapshot: func(_ context.Context, actor string, m *Manifest, err error) {
			calls <- snapshotCall{actor, m, err}
		},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, calls
}

func post(t *testing.T, url string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, nil)
	req.Header.Set("X-Actor", "key:key_01JQ")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestHandlerStreamsARestorableBackup(t *testing.T) {
	src := newSQLite(t)
	src.populate(t)
	srv, calls := newServer(t, src.st, src.dir)
	resp := post(t, srv.URL)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != MediaType || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	var buf bytes.Buffer
	m, err := Copy(&buf, resp.Body)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	call := <-calls
	if call.err != nil || call.actor != "key:key_01JQ" || call.m == nil || call.m.Rows() != m.Rows() {
		t.Errorf("OnSnapshot(%q, %v, %v)", call.actor, call.m, call.err)
	}
	dst := newSQLite(t)
	if _, err := Restore(t.Context(), &buf, dst.st, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	diffDumps(t, dumpTables(t, dst.st), dumpTables(t, src.st))
}

func TestHandlerRefuses(t *testing.T) {
	src := newSQLite(t)
	src.populate(t)

	t.Run("GET", func(t *testing.T) {
		srv, _ := newServer(t, src.st, src.dir)
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})

	t.Run("database unavailable", func(t *testing.T) {
		srv, calls := newServer(t, &faultStore{Store: src.st, beginErr: store.ErrUnavailable}, src.dir)
		resp := post(t, srv.URL)
		var prob map[string]any
		json.NewDecoder(resp.Body).Decode(&prob)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/problem+json" || prob["status"] != 503.0 {
			t.Errorf("status %d, %v", resp.StatusCode, prob)
		}
		if call := <-calls; !errors.Is(call.err, store.ErrUnavailable) || call.m != nil {
			t.Errorf("OnSnapshot got %v, %v", call.m, call.err)
		}
	})

	t.Run("no audit key", func(t *testing.T) {
		srv, calls := newServer(t, src.st, t.TempDir())
		resp := post(t, srv.URL)
		if resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("status %d", resp.StatusCode)
		}
		if call := <-calls; call.err == nil {
			t.Error("OnSnapshot saw no error")
		}
	})

	t.Run("failure midway", func(t *testing.T) {
		srv, calls := newServer(t, &faultStore{Store: src.st, failTable: "audit_events"}, src.dir)
		resp := post(t, srv.URL)
		_, err := Copy(io.Discard, resp.Body)
		if !errors.Is(err, ErrAborted) || !bytes.Contains([]byte(err.Error()), []byte("disk I/O error")) {
			t.Errorf("client got %v, want ErrAborted naming the cause", err)
		}
		if call := <-calls; call.err == nil || call.m != nil {
			t.Errorf("OnSnapshot got %v, %v", call.m, call.err)
		}
	})

	t.Run("one at a time", func(t *testing.T) {
		fs := &faultStore{Store: src.st, hold: make(chan struct{}), started: make(chan struct{})}
		srv, calls := newServer(t, fs, src.dir)
		first := make(chan *http.Response, 1)
		go func() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				first <- nil
				return
			}
			first <- resp
		}()
		<-fs.started
		resp := post(t, srv.URL)
		if resp.StatusCode != http.StatusConflict {
			t.Errorf("second backup meanwhile: %d, want 409", resp.StatusCode)
		}
		close(fs.hold)
		r1 := <-first
		if r1 == nil {
			t.Fatal("the first backup failed")
		}
		defer r1.Body.Close()
		if _, err := Copy(io.Discard, r1.Body); err != nil {
			t.Errorf("the first backup: %v", err)
		}
		<-calls
	})
}

func TestAuditHook(t *testing.T) {
	in := newSQLite(t)
	in.populate(t)
	hook := AuditHook(audit.New(in.auditKey, fixedNow), in.st, nil)
	_, m := in.snapshot(t)
	hook(t.Context(), "key:key_01JQ", m, nil)
	hook(t.Context(), "", nil, errors.New("client went away"))

	var evs []store.AuditEvent
	in.st.ScanAudit(t.Context(), 1, 0, func(ev store.AuditEvent) error { evs = append(evs, ev); return nil })
	ok, failed := evs[len(evs)-2], evs[len(evs)-1]
	if ok.Action != audit.ActionBackupCreate || ok.Outcome != audit.OutcomeSuccess || ok.Actor != "key:key_01JQ" ||
		ok.Details["rows"] == "" || ok.Details["backend"] != "sqlite" {
		t.Errorf("success event %+v", ok)
	}
	if failed.Outcome != audit.OutcomeFailure || failed.Actor != "unknown" || failed.Details["error"] != "client went away" {
		t.Errorf("failure event %+v", failed)
	}
	res, err := audit.Verify(t.Context(), in.st, in.auditKey, audit.VerifyOptions{})
	if err != nil || !res.OK {
		t.Errorf("chain after the hook: %+v, %v", res, err)
	}
}
