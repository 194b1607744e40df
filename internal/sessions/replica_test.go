package sessions

import (
	"errors"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/store/postgres"
	"github.com/mapwright/mapwright/internal/testutil/pgtest"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// TestSessionsAcrossReplicas opens a session on one replica and uses it on
// another: two managers on two connections to one PostgreSQL database,
// sharing the session key as replicas share session.key. A logout on one
// ends the session on both.
func TestSessionsAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	c := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	var managers [2]*Manager
	var services [2]*keys.Service
	for i := range managers {
		st, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		log := audit.New(testAuditKey, c.Now)
		services[i] = keys.New(st, log, keys.Options{Now: c.Now})
		managers[i], err = New(Options{Key: testSessionKey, Store: st, Keys: services[i], Audit: log, Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
	}
	a, b := managers[0], managers[1]
	is, err := services[0].Issue(t.Context(), keys.IssueRequest{Kind: apikey.Secret, Name: "ops", Scopes: []string{keys.ScopeKeysRead}}, alice)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := a.Login(t.Context(), Credentials{Token: is.Token, ClientIP: "192.0.2.1:4000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, k, err := b.Authenticate(t.Context(), opened.Cookie); err != nil || k.ID != is.Key.ID {
		t.Fatalf("session from replica a on replica b: key %q, %v", k.ID, err)
	}
	if _, err := b.Logout(t.Context(), opened.Cookie, "key:"+is.Key.ID, "192.0.2.1:4000"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Authenticate(t.Context(), opened.Cookie); !errors.Is(err, ErrInvalidSession) {
		t.Fatalf("session ended on b, used on a: %v, want ErrInvalidSession", err)
	}
	// The audit chain both wrote to is one chain.
	res, err := audit.Verify(t.Context(), mustOpen(t, url), testAuditKey, audit.VerifyOptions{})
	if err != nil || !res.OK {
		t.Fatalf("audit chain after two replicas: %+v, %v", res, err)
	}
}

func mustOpen(t *testing.T, url string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
