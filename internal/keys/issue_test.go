package keys

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/sqlite"
	"github.com/mapwright/mapwright/pkg/apikey"
)

func TestIssueValidation(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{})
	now := e.clock.Now()
	manyLabels := map[string]string{}
	for i := range MaxLabels + 1 {
		manyLabels["l"+string(rune('a'+i%26))+strings.Repeat("x", i/26)] = "v"
	}
	pub := func(mod func(*IssueRequest)) IssueRequest {
		r := IssueRequest{Kind: apikey.Public, Name: "web map"}
		mod(&r)
		return r
	}
	cases := []struct {
		name  string
		req   IssueRequest
		actor Actor
		want  error
	}{
		{"no kind", IssueRequest{Name: "x"}, alice, ErrInvalidRequest},
		{"empty name", pub(func(r *IssueRequest) { r.Name = "" }), alice, ErrInvalidRequest},
		{"blank name", pub(func(r *IssueRequest) { r.Name = "   " }), alice, ErrInvalidRequest},
		{"name too long", pub(func(r *IssueRequest) { r.Name = strings.Repeat("é", MaxNameLen+1) }), alice, ErrInvalidRequest},
		{"control character in name", pub(func(r *IssueRequest) { r.Name = "web\nmap" }), alice, ErrInvalidRequest},
		{"invalid UTF-8 in name", pub(func(r *IssueRequest) { r.Name = "web\xffmap" }), alice, ErrInvalidRequest},
		{"secret without scopes", IssueRequest{Kind: apikey.Secret, Name: "ci"}, alice, ErrInvalidScope},
		{"public with admin", pub(func(r *IssueRequest) { r.Scopes = []string{ScopeAdmin} }), alice, ErrInvalidScope},
		{"unknown scope", IssueRequest{Kind: apikey.Secret, Name: "ci", Scopes: []string{"keys:delete"}}, alice, ErrInvalidScope},
		{"bad origin", pub(func(r *IssueRequest) { r.Origins = []string{"https://example.com/path"} }), alice, ErrInvalidOrigin},
		{"origin on a secret key", IssueRequest{Kind: apikey.Secret, Name: "ci", Scopes: []string{ScopeAdmin}, Origins: []string{"https://example.com"}}, alice, ErrInvalidOrigin},
		{"tilesets on a secret key", IssueRequest{Kind: apikey.Secret, Name: "ci", Scopes: []string{ScopeAdmin}, Tilesets: []string{"osm"}}, alice, ErrInvalidRequest},
		{"bad tileset name", pub(func(r *IssueRequest) { r.Tilesets = []string{"../etc"} }), alice, ErrInvalidRequest},
		{"negative rate", pub(func(r *IssueRequest) { r.Rate = -1 }), alice, ErrInvalidRequest},
		{"NaN rate", pub(func(r *IssueRequest) { r.Rate = math.NaN() }), alice, ErrInvalidRequest},
		{"infinite rate", pub(func(r *IssueRequest) { r.Rate = math.Inf(1) }), alice, ErrInvalidRequest},
		{"negative burst", pub(func(r *IssueRequest) { r.Burst = -5 }), alice, ErrInvalidRequest},
		{"expiry in the past", pub(func(r *IssueRequest) { r.ExpiresAt = tp(now.Add(-time.Hour)) }), alice, ErrInvalidRequest},
		{"expiry now", pub(func(r *IssueRequest) { r.ExpiresAt = tp(now) }), alice, ErrInvalidRequest},
		{"expiry before not-before", pub(func(r *IssueRequest) {
			r.NotBefore, r.ExpiresAt = tp(now.Add(2*time.Hour)), tp(now.Add(time.Hour))
		}), alice, ErrInvalidRequest},
		{"label key with space", pub(func(r *IssueRequest) { r.Labels = map[string]string{"team name": "maps"} }), alice, ErrInvalidRequest},
		{"label key starting with dash", pub(func(r *IssueRequest) { r.Labels = map[string]string{"-x": "1"} }), alice, ErrInvalidRequest},
		{"label key with equals", pub(func(r *IssueRequest) { r.Labels = map[string]string{"a=b": "c"} }), alice, ErrInvalidRequest},
		{"label value with space", pub(func(r *IssueRequest) { r.Labels = map[string]string{"team": "the maps"} }), alice, ErrInvalidRequest},
		{"label value too long", pub(func(r *IssueRequest) { r.Labels = map[string]string{"team": strings.Repeat("a", 256)} }), alice, ErrInvalidRequest},
		{"too many labels", pub(func(r *IssueRequest) { r.Labels = manyLabels }), alice, ErrInvalidRequest},
		{"no actor", pub(func(*IssueRequest) {}), Actor{}, ErrInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.Issue(context.Background(), tc.req, tc.actor)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	keys, _, err := e.svc.List(context.Background(), store.KeyFilter{})
	if err != nil || len(keys) != 0 || e.head(t) != 0 {
		t.Fatalf("rejected requests left %d keys and %d audit events (%v)", len(keys), e.head(t), err)
	}
}

func TestIssueAndVerify(t *testing.T) {
	for _, o := range stores() {
		t.Run(o.name, func(t *testing.T) {
			e := newEnv(t, o.open(t), Options{})
			ctx := context.Background()
			exp := e.clock.Now().Add(90 * 24 * time.Hour)
			iss := e.issue(t, IssueRequest{
				Kind:     apikey.Public,
				Name:     "Web map",
				Origins:  []string{"HTTPS://Maps.Example.com:443", "http://localhost:*"},
				Tilesets: []string{"osm", "contours", "osm"},
				Rate:     50, Burst: 100,
				Labels:    map[string]string{"team": "maps", "env": "prod"},
				ExpiresAt: &exp,
			})
			k := iss.Key
			if kind, err := apikey.Parse(iss.Token); err != nil || kind != apikey.Public {
				t.Fatalf("token is not a valid public key: %v", err)
			}
			if !ValidID(k.ID) || k.Hash != apikey.Hash(iss.Token) || k.Start != apikey.Start(iss.Token) {
				t.Fatalf("issued key identity wrong: %+v", k)
			}
			if !slices.Equal(k.Scopes, []string{ScopeTilesRead}) ||
				!slices.Equal(k.Origins, []string{"http://localhost:*", "https://maps.example.com"}) ||
				!slices.Equal(k.Tilesets, []string{"contours", "osm"}) {
				t.Fatalf("issued key not normalised: scopes %v origins %v tilesets %v", k.Scopes, k.Origins, k.Tilesets)
			}
			if k.CreatedBy != alice.Name || !k.CreatedAt.Equal(store.Micro(e.clock.Now())) {
				t.Fatalf("created by %q at %v", k.CreatedBy, k.CreatedAt)
			}

			got, err := e.svc.Verify(ctx, iss.Token)
			if err != nil {
				t.Fatalf("verify fresh key: %v", err)
			}
			if got.ID != k.ID || got.Name != "Web map" || got.Rate != 50 || got.Burst != 100 ||
				got.Labels["team"] != "maps" || got.ExpiresAt == nil || !got.ExpiresAt.Equal(store.Micro(exp)) {
				t.Fatalf("verified key %+v differs from issued %+v", got, k)
			}
			stored, err := e.svc.Get(ctx, k.ID)
			if err != nil || stored.Hash != k.Hash || stored.Name != k.Name {
				t.Fatalf("get: %+v, %v", stored, err)
			}

			sec, err := e.svc.Issue(ctx, IssueRequest{Kind: apikey.Secret, Name: "ci rotation",
				Scopes: []string{ScopeKeysRotate, ScopeKeysRead}}, alice)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(sec.Token, "mpw_sk_") {
				t.Fatal("secret key token has the wrong prefix")
			}
			if gk, err := e.svc.Verify(ctx, sec.Token); err != nil || !HasScope(gk.Scopes, ScopeKeysRotate) {
				t.Fatalf("verify secret key: %v", err)
			}

			evs := e.events(t)
			if len(evs) != 2 {
				t.Fatalf("%d audit events, want 2", len(evs))
			}
			ev := evs[0]
			if ev.Action != audit.ActionKeyCreate || ev.Target != k.ID || ev.Actor != alice.Name ||
				ev.ClientIP != "192.0.2.0" || ev.Details["name"] != "Web map" ||
				ev.Details["kind"] != "public" || ev.Details["scopes"] != ScopeTilesRead {
				t.Fatalf("key.create event %+v", ev)
			}
			for _, ev := range evs {
				for k, v := range ev.Details {
					if strings.Contains(v, iss.Token) || strings.Contains(v, sec.Token) ||
						strings.Contains(v, iss.Token[apikey.StartLen:]) {
						t.Fatalf("audit detail %s carries the token", k)
					}
				}
			}
			e.verifyChain(t)
		})
	}
}

func TestTokenIsNeverStored(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mapwright.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, st, Options{})
	var tokens []string
	var hashes [][32]byte
	for i := range 3 {
		iss := e.issue(t, IssueRequest{Name: "k" + string(rune('0'+i))})
		tokens = append(tokens, iss.Token)
		hashes = append(hashes, iss.Key.Hash)
		if _, err := e.svc.Verify(context.Background(), iss.Token); err != nil {
			t.Fatal(err)
		}
	}
	rot, _, err := e.svc.Rotate(context.Background(), e.mustFirstID(t), time.Hour, alice)
	if err != nil {
		t.Fatal(err)
	}
	tokens = append(tokens, rot.Token)
	hashes = append(hashes, rot.Key.Hash)
	if err := e.svc.FlushLastUsed(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Read every file of the database (main file, write-ahead log, shared
	// memory) both while open and after closing.
	readAll := func() []byte {
		var all []byte
		entries, _ := os.ReadDir(dir)
		for _, ent := range entries {
			b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		return all
	}
	check := func(when string, raw []byte) {
		for i, tok := range tokens {
			if bytes.Contains(raw, []byte(tok)) || bytes.Contains(raw, []byte(tok[apikey.StartLen:])) {
				t.Fatalf("%s: token %d found in the database files", when, i)
			}
			if !bytes.Contains(raw, hashes[i][:]) {
				t.Fatalf("%s: hash of token %d not found in the database files", when, i)
			}
		}
	}
	check("open", readAll())
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed", readAll())
}

func (e *env) mustFirstID(t *testing.T) string {
	t.Helper()
	ks, _, err := e.svc.List(context.Background(), store.KeyFilter{Limit: 1})
	if err != nil || len(ks) == 0 {
		t.Fatalf("list: %v", err)
	}
	return ks[0].ID
}
