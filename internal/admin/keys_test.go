package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/pkg/apikey"
	"github.com/mapwright/mapwright/pkg/client"
)

func TestCreateKey(t *testing.T) {
	e := newEnv(t)
	exp := e.clock.Now().Add(48 * time.Hour)
	w := e.tcp(t, http.MethodPost, "/admin/v1/keys", client.CreateKeyRequest{
		Name: "web", Tilesets: []string{"countries"}, Origins: []string{"https://maps.example.com"},
		Labels: map[string]string{"team": "maps"}, ExpiresAt: &exp,
	}, bearer(e.root.Token))
	ck := decode[client.CreatedKey](t, w, http.StatusCreated)
	if kind, err := apikey.Parse(ck.Token); err != nil || kind != apikey.Public {
		t.Fatalf("token %s: %v, kind %v", apikey.Redact(ck.Token), err, kind)
	}
	if ck.Kind != "public" || ck.State != "active" || ck.Name != "web" || !slices.Equal(ck.Scopes, []string{keys.ScopeTilesRead}) ||
		ck.Start != apikey.Start(ck.Token) || ck.ExpiresAt == nil || !ck.ExpiresAt.Equal(exp) || ck.CreatedBy != "key:"+e.root.Key.ID {
		t.Errorf("created key %+v", ck.Key)
	}
	evs := e.events(t, audit.ActionKeyCreate)
	last := evs[len(evs)-1]
	if last.Actor != "key:"+e.root.Key.ID || last.Target != ck.ID || last.ClientIP != "127.0.0.0" {
		t.Errorf("key.create event %+v", last)
	}

	// The key is never shown again.
	got := decode[client.Key](t, e.tcp(t, http.MethodGet, "/admin/v1/keys/"+ck.ID, nil, bearer(e.root.Token)), http.StatusOK)
	if got.ID != ck.ID || got.Origins[0] != "https://maps.example.com" || got.Labels["team"] != "maps" {
		t.Errorf("get = %+v", got)
	}
}

func TestCreateKeyRefusals(t *testing.T) {
	e := newEnv(t)
	past := e.clock.Now().Add(-time.Hour)
	cases := []struct {
		name   string
		body   any
		raw    string
		detail string
	}{
		{"unknown scope", client.CreateKeyRequest{Name: "x", Kind: "secret", Scopes: []string{"keys:everything"}}, "", `unknown scope "keys:everything"`},
		{"secret scope on a public key", client.CreateKeyRequest{Name: "x", Scopes: []string{keys.ScopeAdmin}}, "", "is for secret keys"},
		{"secret key without scope", client.CreateKeyRequest{Name: "x", Kind: "secret"}, "", "at least one scope"},
		{"unknown kind", client.CreateKeyRequest{Name: "x", Kind: "private"}, "", `kind "private"`},
		{"no name", client.CreateKeyRequest{}, "", "name is required"},
		{"expiry in the past", client.CreateKeyRequest{Name: "x", ExpiresAt: &past}, "", "not in the future"},
		{"bad origin", client.CreateKeyRequest{Name: "x", Origins: []string{"ftp://x"}}, "", "ftp://x"},
		{"misspelt field", nil, `{"name":"x","scope":["admin"]}`, `unknown field "scope"`},
		{"wrong type", nil, `{"name":"x","rate":"fast"}`, `field "rate"`},
		{"two JSON values", nil, `{"name":"x"}{}`, "data after the JSON value"},
		{"no body", nil, ``, "JSON request body is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := []reqOpt{bearer(e.root.Token)}
			if tc.body == nil {
				opts = append(opts, rawBody("application/json", tc.raw))
			}
			p := problem(t, e.tcp(t, http.MethodPost, "/admin/v1/keys", tc.body, opts...), http.StatusBadRequest, probBadRequest)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q does not say %q", p.Detail, tc.detail)
			}
		})
	}
	if n := len(e.events(t, audit.ActionKeyCreate)); n != 1 {
		t.Errorf("%d key.create events, want only the root key's", n)
	}
}

func TestListKeys(t *testing.T) {
	e := newEnv(t)
	// Key IDs sort by creation time to the millisecond; a frozen clock
	// would leave their order to chance.
	e.clock.Advance(time.Second)
	e.issue(t, client.CreateKeyRequest{Name: "a", Labels: map[string]string{"team": "maps", "env": "prod"}, Tilesets: []string{"countries"}})
	soon := e.clock.Now().Add(24 * time.Hour)
	e.clock.Advance(time.Second)
	e.issue(t, client.CreateKeyRequest{Name: "b", Labels: map[string]string{"team": "maps"}, ExpiresAt: &soon})
	e.clock.Advance(time.Second)
	c := e.issue(t, client.CreateKeyRequest{Name: "c", Kind: "secret", Scopes: []string{keys.ScopeKeysRead}})
	if _, _, err := e.keys.Revoke(t.Context(), c.Key.ID, "", keys.Actor{Name: testActor}); err != nil {
		t.Fatal(err)
	}
	list := func(q string) []string {
		t.Helper()
		kl := decode[client.KeyList](t, e.tcp(t, http.MethodGet, "/admin/v1/keys?"+q, nil, bearer(e.root.Token)), http.StatusOK)
		var names []string
		for _, k := range kl.Keys {
			names = append(names, k.Name)
		}
		return names
	}
	cases := []struct {
		name, query string
		want        []string
	}{
		{"all", "", []string{"root", "a", "b", "c"}},
		{"kind", "kind=secret", []string{"root", "c"}},
		{"state", "state=revoked", []string{"c"}},
		{"expiring default horizon", "state=expiring", []string{"b"}},
		{"expiring within a shorter horizon", "expiring_within=1h", nil},
		{"expiring within", "state=expiring&expiring_within=48h", []string{"b"}},
		{"one label", "label=team%3Dmaps", []string{"a", "b"}},
		{"two labels", "label=team%3Dmaps&label=env%3Dprod", []string{"a"}},
		{"tileset", "tileset=countries", []string{"a"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.query); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("pagination", func(t *testing.T) {
		var names []string
		cursor := ""
		for range 10 {
			q := url.Values{"limit": {"3"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			kl := decode[client.KeyList](t, e.tcp(t, http.MethodGet, "/admin/v1/keys?"+q.Encode(), nil, bearer(e.root.Token)), http.StatusOK)
			for _, k := range kl.Keys {
				names = append(names, k.Name)
			}
			if cursor = kl.Next; cursor == "" {
				break
			}
		}
		if !slices.Equal(names, []string{"root", "a", "b", "c"}) {
			t.Errorf("pages gave %v", names)
		}
	})

	t.Run("wire form", func(t *testing.T) {
		kl := decode[client.KeyList](t, e.tcp(t, http.MethodGet, "/admin/v1/keys?state=revoked", nil, bearer(e.root.Token)), http.StatusOK)
		k := kl.Keys[0]
		if k.ID != c.Key.ID || k.State != "revoked" || k.RevokedBy != testActor || k.Tilesets == nil || k.Origins == nil || k.Labels == nil {
			t.Errorf("revoked key on the wire: %+v", k)
		}
		raw := e.tcp(t, http.MethodGet, "/admin/v1/keys?kind=secret", nil, bearer(e.root.Token)).Body.String()
		if strings.Contains(raw, "null") {
			t.Errorf("a list or map is null on the wire: %s", raw)
		}
	})
}

func TestListKeysBadParameters(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ query, names string }{
		{"kind=private", "kind"},
		{"state=dead", "state"},
		{"expiring_within=7d", "expiring_within"},
		{"expiring_within=-1h", "expiring_within"},
		{"label=team", "label"},
		{"label=%21bad%3Dx", "label"},
		{"cursor=abc", "cursor"},
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=ten", "limit"},
		{"kind=public&kind=secret", "kind"},
		{"sort=name", "sort"},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			p := problem(t, e.tcp(t, http.MethodGet, "/admin/v1/keys?"+tc.query, nil, bearer(e.root.Token)), http.StatusBadRequest, probBadRequest)
			if !strings.Contains(p.Detail, tc.names) {
				t.Errorf("detail %q does not name %q", p.Detail, tc.names)
			}
		})
	}
}

func TestGetUnknownKey(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"key_01JQ0000000000000000000000", "nope", url.PathEscape(e.root.Token)} {
		t.Run(id[:4], func(t *testing.T) {
			p := problem(t, e.tcp(t, http.MethodGet, "/admin/v1/keys/"+id, nil, bearer(e.root.Token)), http.StatusNotFound, probNotFound)
			if strings.Contains(p.Detail, e.root.Token) {
				t.Error("the detail repeats a key")
			}
		})
	}
	for _, op := range []string{"rotate", "revoke", "totp"} {
		t.Run(op, func(t *testing.T) {
			problem(t, e.tcp(t, http.MethodPost, "/admin/v1/keys/key_01JQ0000000000000000000000/"+op, nil, bearer(e.root.Token)),
				http.StatusNotFound, probNotFound)
		})
	}
}

func TestRotateKey(t *testing.T) {
	e := newEnv(t)
	old := e.issue(t, client.CreateKeyRequest{Name: "ci", Kind: "secret", Scopes: []string{keys.ScopeKeysRotate}})
	path := "/admin/v1/keys/" + old.Key.ID + "/rotate"
	problem(t, e.tcp(t, http.MethodPost, path, client.RotateKeyRequest{Grace: "a day"}, bearer(e.root.Token)), http.StatusBadRequest, probBadRequest)
	problem(t, e.tcp(t, http.MethodPost, path, client.RotateKeyRequest{Grace: "-1h"}, bearer(e.root.Token)), http.StatusBadRequest, probBadRequest)

	// A CI job rotates its own key with just keys:rotate.
	rk := decode[client.RotatedKey](t, e.tcp(t, http.MethodPost, path, client.RotateKeyRequest{Grace: "24h"}, bearer(old.Token)), http.StatusCreated)
	if rk.Replaces != old.Key.ID || rk.OldExpiresAt == nil || !rk.OldExpiresAt.Equal(e.clock.Now().Add(24*time.Hour)) {
		t.Errorf("rotated = %+v", rk)
	}
	if _, err := apikey.Parse(rk.Token); err != nil || rk.Token == old.Token {
		t.Fatalf("new token: %v", err)
	}
	p := problem(t, e.tcp(t, http.MethodPost, path, client.RotateKeyRequest{}, bearer(e.root.Token)), http.StatusConflict, probConflict)
	if !strings.Contains(p.Detail, "already replaced") {
		t.Errorf("detail %q", p.Detail)
	}
	e.clock.Advance(25 * time.Hour)
	problem(t, e.tcp(t, http.MethodGet, "/admin/v1/keys", nil, bearer(old.Token)), http.StatusForbidden, probKeyExpired)

	revoked := e.issue(t, client.CreateKeyRequest{Name: "gone"})
	if _, _, err := e.keys.Revoke(t.Context(), revoked.Key.ID, "", keys.Actor{Name: testActor}); err != nil {
		t.Fatal(err)
	}
	problem(t, e.tcp(t, http.MethodPost, "/admin/v1/keys/"+revoked.Key.ID+"/rotate", nil, bearer(e.root.Token)), http.StatusConflict, probConflict)
}

func TestRevokeTwice(t *testing.T) {
	e := newEnv(t)
	k := e.issue(t, client.CreateKeyRequest{Name: "web"})
	path := "/admin/v1/keys/" + k.Key.ID + "/revoke"
	first := decode[client.RevokeResult](t, e.tcp(t, http.MethodPost, path, client.RevokeKeyRequest{Reason: "leaked"}, bearer(e.root.Token)), http.StatusOK)
	if first.AlreadyRevoked || first.Key.State != "revoked" || first.Key.RevokeReason != "leaked" || first.Key.RevokedBy != "key:"+e.root.Key.ID {
		t.Errorf("first revoke = %+v", first)
	}
	e.clock.Advance(time.Minute)
	second := decode[client.RevokeResult](t, e.tcp(t, http.MethodPost, path, nil, bearer(e.root.Token)), http.StatusOK)
	if !second.AlreadyRevoked || !second.Key.RevokedAt.Equal(*first.Key.RevokedAt) || second.Key.RevokeReason != "leaked" {
		t.Errorf("second revoke = %+v", second)
	}
	if n := len(e.events(t, audit.ActionKeyRevoke)); n != 1 {
		t.Errorf("%d key.revoke events, want 1: the second revoke writes nothing", n)
	}
	long := strings.Repeat("x", keys.MaxReasonLen+1)
	other := e.issue(t, client.CreateKeyRequest{Name: "other"})
	problem(t, e.tcp(t, http.MethodPost, "/admin/v1/keys/"+other.Key.ID+"/revoke", client.RevokeKeyRequest{Reason: long}, bearer(e.root.Token)),
		http.StatusBadRequest, probBadRequest)
}

func TestLookup(t *testing.T) {
	e := newEnv(t)
	active := e.issue(t, client.CreateKeyRequest{Name: "active"})
	soon := e.clock.Now().Add(time.Hour)
	expiring := e.issue(t, client.CreateKeyRequest{Name: "expiring", ExpiresAt: &soon})
	revoked := e.issue(t, client.CreateKeyRequest{Name: "revoked", Kind: "secret", Scopes: []string{keys.ScopeKeysRead}})
	if _, _, err := e.keys.Revoke(t.Context(), revoked.Key.ID, "", keys.Actor{Name: testActor}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)
	unknown, _ := apikey.Generate(apikey.Public)
	req := client.LookupRequest{Hashes: []string{
		apikey.HashHex(revoked.Token), apikey.HashHex(unknown), apikey.HashHex(active.Token),
		apikey.HashHex(expiring.Token), apikey.HashHex(active.Token),
	}}
	res := decode[client.LookupResponse](t, e.tcp(t, http.MethodPost, "/admin/v1/keys/lookup", req, bearer(e.root.Token)), http.StatusOK)
	want := []client.LookupResult{
		{Hash: req.Hashes[0], State: "revoked", ID: revoked.Key.ID, Name: "revoked", Kind: "secret"},
		{Hash: req.Hashes[1], State: "unknown"},
		{Hash: req.Hashes[2], State: "active", ID: active.Key.ID, Name: "active", Kind: "public"},
		{Hash: req.Hashes[3], State: "expired", ID: expiring.Key.ID, Name: "expiring", Kind: "public"},
		{Hash: req.Hashes[4], State: "active", ID: active.Key.ID, Name: "active", Kind: "public"},
	}
	if !slices.Equal(res.Results, want) {
		t.Errorf("lookup =\n%+v\nwant\n%+v", res.Results, want)
	}

	tooMany := make([]string, maxLookup+1)
	for i := range tooMany {
		tooMany[i] = apikey.HashHex(unknown)
	}
	bad := []struct {
		name   string
		hashes []string
		detail string
	}{
		{"upper case", []string{strings.ToUpper(apikey.HashHex(unknown))}, "hashes[0]"},
		{"short", []string{"abc"}, "hashes[0]"},
		{"a token instead of its hash", []string{apikey.HashHex(unknown), unknown}, "hashes[1]"},
		{"too many", tooMany, "at most 1000"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			p := problem(t, e.tcp(t, http.MethodPost, "/admin/v1/keys/lookup", client.LookupRequest{Hashes: tc.hashes}, bearer(e.root.Token)),
				http.StatusBadRequest, probBadRequest)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q does not say %q", p.Detail, tc.detail)
			}
		})
	}
}
