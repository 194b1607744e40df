package sessions

import (
	"bytes"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/sqlite"
	"github.com/mapwright/mapwright/pkg/apikey"
)

var (
	testAuditKey   = bytes.Repeat([]byte{7}, audit.KeySize)
	testSessionKey = bytes.Repeat([]byte{9}, KeySize)
	alice          = keys.Actor{Name: "unix:1000(alice)"}
)

// clock is a settable time source shared by every component of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a manager over a real SQLite store.
type env struct {
	st    store.Store
	keys  *keys.Service
	clock *clock
	m     *Manager
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "mapwright.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	log := audit.New(testAuditKey, c.Now)
	ks := keys.New(st, log, keys.Options{Now: c.Now, CacheSize: -1})
	m, err := New(Options{Key: testSessionKey, Store: st, Keys: ks, Audit: log, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: st, keys: ks, clock: c, m: m}
}

// issue creates a key of kind with the given scopes.
func (e *env) issue(t *testing.T, kind apikey.Kind, name string, scopes ...string) keys.Issued {
	t.Helper()
	is, err := e.keys.Issue(t.Context(), keys.IssueRequest{Kind: kind, Name: name, Scopes: scopes}, alice)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// events returns the audit events with action, in order.
func (e *env) events(t *testing.T, action string) []store.AuditEvent {
	t.Helper()
	var out []store.AuditEvent
	err := e.st.ScanAudit(t.Context(), 1, 0, func(ev store.AuditEvent) error {
		if ev.Action == action {
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// enroll enrols TOTP for key id and returns the secret from the URI.
func (e *env) enroll(t *testing.T, id string) []byte {
	t.Helper()
	uri, err := e.m.EnrollTOTP(t.Context(), id, alice)
	if err != nil {
		t.Fatal(err)
	}
	return secretOf(t, uri)
}

func secretOf(t *testing.T, uri string) []byte {
	t.Helper()
	_, q, ok := strings.Cut(uri, "?secret=")
	if !ok {
		t.Fatalf("URI %q has no secret", uri)
	}
	enc, _, _ := strings.Cut(q, "&")
	sec, err := b32.DecodeString(enc)
	if err != nil {
		t.Fatalf("secret of %q: %v", uri, err)
	}
	return sec
}

func (e *env) code(secret []byte, offset int64) string {
	return totpCode(secret, totpStep(e.clock.Now())+offset)
}
