package scan

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/pkg/apikey"
	"github.com/mapwright/mapwright/pkg/client"
	"github.com/mapwright/mapwright/pkg/client/clienttest"
)

// fakeAPI answers lookups from a table of hash → result and records calls.
type fakeAPI struct {
	known   map[string]client.LookupResult
	batches []int
	revoked map[string]string // id → reason
	failFor string            // id whose revocation fails
	mangle  bool              // answer with one result too few
}

func (f *fakeAPI) LookupKeys(_ context.Context, hashes []string) (client.LookupResponse, error) {
	f.batches = append(f.batches, len(hashes))
	var out client.LookupResponse
	for _, h := range hashes {
		r, ok := f.known[h]
		if !ok {
			r = client.LookupResult{Hash: h, State: "unknown"}
		}
		out.Results = append(out.Results, r)
	}
	if f.mangle {
		out.Results = out.Results[1:]
	}
	return out, nil
}

func (f *fakeAPI) RevokeLeakedKey(_ context.Context, id, location string) (client.RevokeResult, error) {
	if id == f.failFor {
		return client.RevokeResult{}, &client.APIError{Status: http.StatusForbidden, Problem: client.Problem{Title: "Forbidden"}}
	}
	if f.revoked == nil {
		f.revoked = map[string]string{}
	}
	f.revoked[id] = "leaked: " + location
	return client.RevokeResult{Key: client.Key{ID: id, State: "revoked"}}, nil
}

func resultWith(keys ...*Key) *Result { return &Result{Keys: keys} }

func keyAt(t *testing.T, kind apikey.Kind, path string, sup Suppression) (*Key, string) {
	tok := mustKey(t, kind)
	h := apikey.HashHex(tok)
	return &Key{Hash: h, Redacted: apikey.Redact(tok), Kind: kind, Valid: true, Status: StatusUnchecked,
		Locations: []Location{{Path: path, Line: 3, Column: 7, Fingerprint: Fingerprint(h, path), Suppressed: sup}}}, tok
}

func TestLookupBatches(t *testing.T) {
	api := &fakeAPI{known: map[string]client.LookupResult{}}
	var keys []*Key
	for i := range 2500 {
		h := fmt.Sprintf("%064x", i)
		keys = append(keys, &Key{Hash: h, Valid: true, Status: StatusUnchecked, Locations: []Location{{Path: "x"}}})
		if i%2 == 0 {
			api.known[h] = client.LookupResult{Hash: h, State: "revoked", ID: fmt.Sprintf("key_%d", i), Name: "n"}
		}
	}
	// A look-alike is never sent.
	keys = append(keys, &Key{Hash: strings.Repeat("f", 64), Valid: false, Status: StatusInvalid, Locations: []Location{{Path: "y"}}})
	res := resultWith(keys...)
	if err := res.Lookup(context.Background(), api); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(api.batches) != "[1000 1000 500]" {
		t.Errorf("batches %v, want [1000 1000 500]", api.batches)
	}
	if !res.Checked || keys[0].Status != StatusRevoked || keys[0].ID != "key_0" || keys[1].Status != StatusUnknown || keys[2500].Status != StatusInvalid {
		t.Errorf("statuses: %v %v %v %v", res.Checked, keys[0], keys[1], keys[2500].Status)
	}
	if len(res.Failing(FailOnLive)) != 1250 || len(res.Failing(FailOnAny)) != 2500 {
		t.Errorf("failing live %d any %d", len(res.Failing(FailOnLive)), len(res.Failing(FailOnAny)))
	}

	bad := &fakeAPI{mangle: true}
	res = resultWith(&Key{Hash: strings.Repeat("a", 64), Valid: true, Status: StatusUnchecked})
	if err := res.Lookup(context.Background(), bad); !errors.Is(err, ErrLookup) || res.Keys[0].Status != StatusUnchecked {
		t.Errorf("short answer: err %v status %v", err, res.Keys[0].Status)
	}
}

func TestRevoke(t *testing.T) {
	active, _ := keyAt(t, apikey.Secret, "ci/deploy.yml", NotSuppressed)
	active.Status, active.ID = StatusActive, "key_1"
	pending, _ := keyAt(t, apikey.Public, "web/a.js", NotSuppressed)
	pending.Status, pending.ID = StatusPending, "key_2"
	revoked, _ := keyAt(t, apikey.Public, "web/b.js", NotSuppressed)
	revoked.Status, revoked.ID = StatusRevoked, "key_3"
	suppressed, _ := keyAt(t, apikey.Public, "docs/demo.md", SuppressedInline)
	suppressed.Status, suppressed.ID = StatusActive, "key_4"
	unknown, _ := keyAt(t, apikey.Public, "x.txt", NotSuppressed)
	unknown.Status = StatusUnknown
	failing, _ := keyAt(t, apikey.Secret, "y.txt", NotSuppressed)
	failing.Status, failing.ID = StatusActive, "key_6"
	res := resultWith(active, pending, revoked, suppressed, unknown, failing)

	todo := res.Revocable()
	if len(todo) != 3 {
		t.Fatalf("revocable: %d keys, want active, pending and the failing one", len(todo))
	}
	api := &fakeAPI{failFor: "key_6"}
	out, err := Revoke(context.Background(), api, todo)
	if err == nil || !client.IsForbidden(err) {
		t.Errorf("err = %v, want the 403 of key_6", err)
	}
	if len(out) != 3 || out[2].Err == nil {
		t.Errorf("revocations %+v", out)
	}
	if api.revoked["key_1"] != "leaked: ci/deploy.yml:3:7" || api.revoked["key_2"] != "leaked: web/a.js:3:7" {
		t.Errorf("reasons %v", api.revoked)
	}
	if active.Status != StatusRevoked || !active.RevokedByScan || failing.Status != StatusActive || suppressed.Status != StatusActive {
		t.Errorf("after revoke: %v %v %v %v", active.Status, active.RevokedByScan, failing.Status, suppressed.Status)
	}
	commit := Location{Path: "a/b.env", Commit: strings.Repeat("c", 40), Line: 1, Column: 2}
	if got := LeakReason(commit); got != "leaked: cccccccccccc:a/b.env:1:2" {
		t.Errorf("LeakReason = %q", got)
	}
	if got := LeakReason(Location{Path: strings.Repeat("p", 2000)}); len(got) > maxReasonLen {
		t.Errorf("reason of %d bytes", len(got))
	}
}

// TestStatusThroughAdminAPI scans files holding keys issued by the fake
// admin API and checks status and revocation through the real client.
func TestStatusThroughAdminAPI(t *testing.T) {
	fake := clienttest.New(clienttest.Options{Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }})
	admin := fake.AddAdminKey("operator", "admin")
	srv := fake.Start(t)
	c, err := client.New(client.Options{Server: srv.URL, Token: admin.Token, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	web, err := c.CreateKey(context.Background(), client.CreateKeyRequest{Name: "web", Kind: "public"})
	if err != nil {
		t.Fatal(err)
	}
	old, err := c.CreateKey(context.Background(), client.CreateKeyRequest{Name: "old", Kind: "public"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RevokeKey(context.Background(), old.ID, "rotated"); err != nil {
		t.Fatal(err)
	}
	foreign := mustKey(t, apikey.Secret)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "site", "index.html"), []byte("<script>\nvar k='"+web.Token+"';\n</script>\n"))
	write(t, filepath.Join(dir, "old.txt"), []byte(old.Token))
	write(t, filepath.Join(dir, "other.env"), []byte("K="+foreign))

	res, err := Scan(context.Background(), Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Lookup(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	states := map[string]Status{}
	for _, k := range res.Keys {
		states[k.Hash] = k.Status
	}
	if states[apikey.HashHex(web.Token)] != StatusActive || states[apikey.HashHex(old.Token)] != StatusRevoked || states[apikey.HashHex(foreign)] != StatusUnknown {
		t.Fatalf("statuses %v", states)
	}
	for _, r := range fake.Requests() {
		for _, tok := range []string{web.Token, old.Token, foreign} {
			if strings.Contains(string(r.Body), tok) || strings.Contains(r.RawQuery, tok) {
				t.Errorf("a token travelled to the admin API in %s %s", r.Method, r.Path)
			}
		}
	}
	if n := len(res.Failing(FailOnLive)); n != 2 {
		t.Errorf("%d failing keys, want 2 (active and unknown)", n)
	}
	out, err := Revoke(context.Background(), c, res.Revocable())
	if err != nil || len(out) != 1 {
		t.Fatalf("revoke: %v %+v", err, out)
	}
	k, _ := fake.Key(web.ID)
	want := "leaked: " + filepath.ToSlash(dir) + "/site/index.html:2:8"
	if k.State != "revoked" || k.RevokeReason != want {
		t.Errorf("after revoke: state %q reason %q, want %q", k.State, k.RevokeReason, want)
	}
}
