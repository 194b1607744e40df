// Package clienttest provides an in-memory fake of Mapwright's admin API, for
// tests of programs that use package client (mwctl, its dashboard, scripts).
//
// The fake keeps keys, tilesets and sessions in memory, answers every route
// of package client with the documented JSON shapes and problem details,
// checks credentials and scopes when tokens are registered, and records
// every request so a test can assert what was sent. It is deterministic:
// ids and tokens come from counters and time from Options.Now.
package clienttest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapwright/mapwright/pkg/client"
)

// SessionCookieName is the name of the session cookie the fake sets.
const SessionCookieName = "mapwright_session"

// DefaultPageSize is the page size of GET /admin/v1/keys without a limit.
const DefaultPageSize = 50

// knownScopes are the scopes the fake accepts when creating a key. "admin"
// grants every route.
var knownScopes = []string{"admin", "keys:read", "keys:write", "keys:rotate", "tilesets:admin", "metrics:read", "tiles:read", "audit:read", "backups:write"}

// Options configure a Fake.
type Options struct {
	// Now is the fake's clock; nil: time.Now.
	Now func() time.Time
	// Version is reported by /admin/v1/status; empty: "1.0.0-fake".
	Version string
}

// Request is one request the fake received.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
}

// Fake is the in-memory admin API. Its methods are safe for concurrent use.
type Fake struct {
	mu       sync.Mutex
	now      func() time.Time
	version  string
	started  time.Time
	keys     []*client.Key
	tokens   map[string]*credential
	sessions map[string]string // cookie value -> token
	hashes   map[string]string // SHA-256 of a token (hex) -> key id
	tilesets []client.Tileset
	notReady bool
	nextKey  int
	nextSess int
	requests []Request

	// The audit log (see audit.go): events oldest first, the head's
	// sequence, the hash the last prune cut at, a channel closed at
	// every append, and one closed to end the open streams.
	audit      []client.AuditEvent
	auditHead  int64
	auditCut   string
	auditWake  chan struct{}
	streamEnds chan struct{}
}

type credential struct {
	scopes []string
	keyID  string
	totp   string // required code, empty: none
}

// New returns an empty fake: no keys, no tilesets, no credentials required.
func New(opts Options) *Fake {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	v := opts.Version
	if v == "" {
		v = "1.0.0-fake"
	}
	return &Fake{
		now:      now,
		version:  v,
		started:  now().Add(-90 * time.Minute),
		tokens:   map[string]*credential{},
		sessions: map[string]string{},
		hashes:   map[string]string{},
	}
}

// AddToken registers an admin credential with its scopes. Once any token is
// registered, every route but login, /livez and /readyz needs a bearer
// token or a session cookie: 401 without one, 403 without the route's
// scope.
func (f *Fake) AddToken(token string, scopes ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[token] = &credential{scopes: scopes}
}

// AddAdminKey creates a secret key with scopes, registers its token as an
// admin credential (see AddToken) and returns it with its token.
func (f *Fake) AddAdminKey(name string, scopes ...string) client.CreatedKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	ck := f.newKey(client.CreateKeyRequest{Name: name, Kind: "secret", Scopes: scopes})
	f.tokens[ck.Token] = &credential{scopes: ck.Scopes, keyID: ck.ID}
	return ck
}

// RequireTOTP makes logins with token need code as their TOTP.
func (f *Fake) RequireTOTP(token, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.tokens[token]; ok {
		c.totp = code
	}
}

// AddKey stores k as is (its ID must be unique) and returns it.
func (f *Fake) AddKey(k client.Key) client.Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	kk := k
	f.keys = append(f.keys, &kk)
	return kk
}

// SetTilesets replaces the tilesets the fake reports.
func (f *Fake) SetTilesets(ts ...client.Tileset) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tilesets = slices.Clone(ts)
}

// SetReady sets the answer of /readyz (200 or 503).
func (f *Fake) SetReady(ready bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notReady = !ready
}

// Key returns the stored key with id.
func (f *Fake) Key(id string) (client.Key, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := f.find(id); k != nil {
		return *k, true
	}
	return client.Key{}, false
}

// Requests returns the requests received so far, oldest first.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// Sessions returns the number of open sessions.
func (f *Fake) Sessions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sessions)
}

// Start serves the fake over HTTPS on a loopback port until the test ends
// and returns the server (its Certificate is the CA to trust).
func (f *Fake) Start(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	return srv
}

// StartUnix serves the fake over a unix socket in a fresh directory until
// the test ends and returns the server address "unix:///.../admin.sock".
func (f *Fake) StartUnix(t testing.TB) string {
	t.Helper()
	// Socket paths are limited to about 100 bytes: a test's TempDir can be
	// longer, so the socket lives in a short directory of its own.
	dir, err := os.MkdirTemp("", "mwfake")
	if err != nil {
		t.Fatalf("socket dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "admin.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listen on %s: %v", path, err)
	}
	srv := httptest.NewUnstartedServer(f)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return "unix://" + path
}

// ServeHTTP implements http.Handler: the admin API routes.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		problem(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, Request{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body,
	})
	path := r.URL.Path
	if path == "/admin/v1/audit/stream" && r.Method == http.MethodGet {
		// A stream outlives the request lock: it takes the lock only to
		// read the log.
		ok := f.allowed(w, r, "audit:read")
		f.mu.Unlock()
		if ok {
			f.streamAudit(w, r)
		}
		return
	}
	defer f.mu.Unlock()
	switch {
	case path == "/livez" && r.Method == http.MethodGet:
		w.WriteHeader(http.StatusOK)
		return
	case path == "/readyz" && r.Method == http.MethodGet:
		if f.notReady {
			problem(w, http.StatusServiceUnavailable, "store unreachable")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	case path == "/admin/v1/sessions" && r.Method == http.MethodPost:
		f.login(w, body)
		return
	}
	route, scope, ok := f.route(r.Method, path)
	if !ok {
		problem(w, http.StatusNotFound, "no route "+r.Method+" "+path)
		return
	}
	if !f.allowed(w, r, scope) {
		return
	}
	route(w, r, body)
}

type handler func(w http.ResponseWriter, r *http.Request, body []byte)

// route returns the handler and the scope of a request.
func (f *Fake) route(method, path string) (handler, string, bool) {
	switch {
	case path == "/admin/v1/status" && method == http.MethodGet:
		return f.status, "", true
	case path == "/admin/v1/sessions" && method == http.MethodDelete:
		return f.logout, "", true
	case path == "/admin/v1/keys" && method == http.MethodGet:
		return f.listKeys, "keys:read", true
	case path == "/admin/v1/keys" && method == http.MethodPost:
		return f.createKey, "keys:write", true
	case path == "/admin/v1/keys/lookup" && method == http.MethodPost:
		return f.lookup, "keys:read", true
	case path == "/admin/v1/tilesets" && method == http.MethodGet:
		return f.listTilesets, "tilesets:admin", true
	case path == "/admin/v1/tilesets/reload" && method == http.MethodPost:
		return f.listTilesets, "tilesets:admin", true
	case path == "/metrics" && method == http.MethodGet:
		return f.metrics, "metrics:read", true
	case path == "/admin/v1/audit" && method == http.MethodGet:
		return f.listAudit, "audit:read", true
	case path == "/admin/v1/audit/verify" && method == http.MethodPost:
		return f.verifyAudit, "audit:read", true
	case path == "/admin/v1/audit/checkpoint" && method == http.MethodGet:
		return f.auditCheckpoint, "audit:read", true
	case path == "/admin/v1/audit/export" && method == http.MethodGet:
		return f.exportAudit, "audit:read", true
	case path == "/admin/v1/audit/prune" && method == http.MethodPost:
		return f.pruneAudit, "admin", true
	}
	rest, ok := strings.CutPrefix(path, "/admin/v1/keys/")
	if !ok || rest == "" {
		return nil, "", false
	}
	id, action, _ := strings.Cut(rest, "/")
	withID := func(h func(http.ResponseWriter, *client.Key, []byte)) handler {
		return func(w http.ResponseWriter, _ *http.Request, body []byte) {
			k := f.find(id)
			if k == nil {
				problem(w, http.StatusNotFound, fmt.Sprintf("no key with id %q", id))
				return
			}
			h(w, k, body)
		}
	}
	switch {
	case action == "" && method == http.MethodGet:
		return withID(func(w http.ResponseWriter, k *client.Key, _ []byte) { writeJSON(w, http.StatusOK, k) }), "keys:read", true
	case action == "rotate" && method == http.MethodPost:
		return withID(f.rotate), "keys:rotate", true
	case action == "revoke" && method == http.MethodPost:
		return withID(f.revoke), "keys:write", true
	case action == "totp" && method == http.MethodPost:
		return withID(f.totp), "keys:write", true
	}
	return nil, "", false
}

// allowed checks the credentials of r for scope, answering 401 or 403.
func (f *Fake) allowed(w http.ResponseWriter, r *http.Request, scope string) bool {
	if len(f.tokens) == 0 {
		return true
	}
	var cred *credential
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		cred = f.tokens[tok]
	} else if ck, err := r.Cookie(SessionCookieName); err == nil {
		if tok, ok := f.sessions[ck.Value]; ok {
			cred = f.tokens[tok]
		}
	}
	if cred == nil {
		problem(w, http.StatusUnauthorized, "a valid secret key or session is required")
		return false
	}
	if scope != "" && !slices.Contains(cred.scopes, scope) && !slices.Contains(cred.scopes, "admin") {
		problem(w, http.StatusForbidden, fmt.Sprintf("the key lacks scope %s", scope))
		return false
	}
	return true
}

func (f *Fake) find(id string) *client.Key {
	for _, k := range f.keys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

// state is the key's state at the fake's current time.
func (f *Fake) state(k *client.Key) string {
	now := f.now()
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return "expired"
	case k.NotBefore != nil && now.Before(*k.NotBefore):
		return "pending"
	}
	return "active"
}

func (f *Fake) refresh() {
	for _, k := range f.keys {
		k.State = f.state(k)
	}
}

func (f *Fake) status(w http.ResponseWriter, _ *http.Request, _ []byte) {
	f.refresh()
	counts := map[string]int{"active": 0, "pending": 0, "expired": 0, "revoked": 0}
	for _, k := range f.keys {
		counts[k.State]++
	}
	loaded, failed := f.tilesetCounts()
	writeJSON(w, http.StatusOK, client.Status{
		Version:       f.version,
		StartedAt:     f.started.UTC(),
		UptimeSeconds: f.now().Sub(f.started).Seconds(),
		Backend:       "sqlite",
		SchemaVersion: 3,
		Ready:         !f.notReady,
		Tilesets:      client.TilesetCounts{Loaded: loaded, Failed: failed},
		Keys:          counts,
	})
}

func (f *Fake) tilesetCounts() (loaded, failed int) {
	for _, t := range f.tilesets {
		if t.Status == "ok" {
			loaded++
		} else {
			failed++
		}
	}
	return loaded, failed
}

func (f *Fake) listTilesets(w http.ResponseWriter, _ *http.Request, _ []byte) {
	loaded, failed := f.tilesetCounts()
	ts := slices.Clone(f.tilesets)
	if ts == nil {
		ts = []client.Tileset{}
	}
	writeJSON(w, http.StatusOK, client.TilesetList{Tilesets: ts, Loaded: loaded, Failed: failed})
}

func (f *Fake) metrics(w http.ResponseWriter, _ *http.Request, _ []byte) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	loaded, failed := f.tilesetCounts()
	fmt.Fprintf(w, "# HELP mapwright_tilesets Tilesets by status.\n# TYPE mapwright_tilesets gauge\n")
	fmt.Fprintf(w, "mapwright_tilesets{status=\"loaded\"} %d\nmapwright_tilesets{status=\"failed\"} %d\n", loaded, failed)
}

var validStates = []string{"active", "revoked", "expired", "expiring", "pending"}

func (f *Fake) listKeys(w http.ResponseWriter, r *http.Request, _ []byte) {
	f.refresh()
	q := r.URL.Query()
	kind, state := q.Get("kind"), q.Get("state")
	if kind != "" && kind != "public" && kind != "secret" {
		problem(w, http.StatusBadRequest, fmt.Sprintf("unknown kind %q", kind))
		return
	}
	if state != "" && !slices.Contains(validStates, state) {
		problem(w, http.StatusBadRequest, fmt.Sprintf("unknown state %q", state))
		return
	}
	within := 7 * 24 * time.Hour
	if s := q.Get("expiring_within"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			problem(w, http.StatusBadRequest, fmt.Sprintf("bad expiring_within %q", s))
			return
		}
		within = d
	}
	labels := map[string]string{}
	for _, l := range q["label"] {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			problem(w, http.StatusBadRequest, fmt.Sprintf("bad label %q: want key=value", l))
			return
		}
		labels[k] = v
	}
	limit := DefaultPageSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			problem(w, http.StatusBadRequest, fmt.Sprintf("bad limit %q: want 1 to 1000", s))
			return
		}
		limit = n
	}
	start := 0
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(c, "c"))
		if err != nil || !strings.HasPrefix(c, "c") || n < 0 {
			problem(w, http.StatusBadRequest, "bad cursor")
			return
		}
		start = n
	}
	var match []client.Key
	for _, k := range f.keys {
		if kind != "" && k.Kind != kind {
			continue
		}
		switch state {
		case "":
		case "expiring":
			if k.State != "active" || k.ExpiresAt == nil || k.ExpiresAt.Sub(f.now()) > within {
				continue
			}
		default:
			if k.State != state {
				continue
			}
		}
		if t := q.Get("tileset"); t != "" && len(k.Tilesets) > 0 && !slices.Contains(k.Tilesets, t) {
			continue
		}
		ok := true
		for lk, lv := range labels {
			if k.Labels[lk] != lv {
				ok = false
			}
		}
		if ok {
			match = append(match, *k)
		}
	}
	out := client.KeyList{Keys: []client.Key{}}
	if start < len(match) {
		end := min(start+limit, len(match))
		out.Keys = match[start:end]
		if end < len(match) {
			out.Next = "c" + strconv.Itoa(end)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *Fake) createKey(w http.ResponseWriter, _ *http.Request, body []byte) {
	var req client.CreateKeyRequest
	if err := json.Unmarshal(body, &req); err != nil {
		problem(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	if strings.TrimSpace(req.Name) == "" {
		problem(w, http.StatusUnprocessableEntity, "a key needs a name")
		return
	}
	if req.Kind == "" {
		req.Kind = "public"
	}
	if req.Kind != "public" && req.Kind != "secret" {
		problem(w, http.StatusUnprocessableEntity, fmt.Sprintf("unknown kind %q", req.Kind))
		return
	}
	for _, s := range req.Scopes {
		if !slices.Contains(knownScopes, s) {
			problem(w, http.StatusUnprocessableEntity, fmt.Sprintf("unknown scope %q", s))
			return
		}
	}
	for _, k := range f.keys {
		if k.Name == req.Name && f.state(k) != "revoked" {
			problem(w, http.StatusConflict, fmt.Sprintf("a key named %q exists", req.Name))
			return
		}
	}
	k := f.newKey(req)
	f.appendAudit(client.AuditEvent{Actor: "unix:1000(test)", Action: "key.create", Target: k.ID,
		Details: map[string]string{"name": k.Name, "kind": k.Kind}})
	writeJSON(w, http.StatusCreated, k)
}

func (f *Fake) newKey(req client.CreateKeyRequest) client.CreatedKey {
	f.nextKey++
	now := f.now().UTC()
	scopes := req.Scopes
	if len(scopes) == 0 {
		scopes = []string{"tiles:read"}
		if req.Kind == "secret" {
			scopes = []string{"admin"}
		}
	}
	k := &client.Key{
		ID:        fmt.Sprintf("key_%04d", f.nextKey),
		Name:      req.Name,
		Kind:      req.Kind,
		Scopes:    scopes,
		Tilesets:  nonNil(req.Tilesets),
		Origins:   nonNil(req.Origins),
		Rate:      req.Rate,
		Burst:     req.Burst,
		Labels:    req.Labels,
		CreatedAt: now,
		CreatedBy: "unix:1000(test)",
		NotBefore: req.NotBefore,
		ExpiresAt: req.ExpiresAt,
	}
	if k.Labels == nil {
		k.Labels = map[string]string{}
	}
	token := makeToken(req.Kind, f.nextKey)
	k.Start = token[:11]
	f.hashes[fmt.Sprintf("%x", sha256.Sum256([]byte(token)))] = k.ID
	k.State = f.state(k)
	f.keys = append(f.keys, k)
	return client.CreatedKey{Key: *k, Token: token}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (f *Fake) rotate(w http.ResponseWriter, old *client.Key, body []byte) {
	var req client.RotateKeyRequest
	if err := json.Unmarshal(body, &req); err != nil {
		problem(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	grace := time.Duration(0)
	if req.Grace != "" {
		d, err := time.ParseDuration(req.Grace)
		if err != nil || d < 0 {
			problem(w, http.StatusUnprocessableEntity, fmt.Sprintf("bad grace %q", req.Grace))
			return
		}
		grace = d
	}
	if st := f.state(old); st == "revoked" || st == "expired" {
		problem(w, http.StatusConflict, fmt.Sprintf("key %s is %s and cannot be rotated", old.ID, st))
		return
	}
	if old.ReplacedBy != "" {
		problem(w, http.StatusConflict, fmt.Sprintf("key %s was already rotated to %s", old.ID, old.ReplacedBy))
		return
	}
	nk := f.newKey(client.CreateKeyRequest{
		Name: old.Name, Kind: old.Kind, Scopes: old.Scopes, Tilesets: old.Tilesets,
		Origins: old.Origins, Rate: old.Rate, Burst: old.Burst, Labels: old.Labels,
		ExpiresAt: old.ExpiresAt,
	})
	stored := f.find(nk.ID)
	stored.Replaces = old.ID
	nk.Replaces = old.ID
	end := f.now().UTC().Add(grace)
	old.ExpiresAt = &end
	old.ReplacedBy = nk.ID
	old.State = f.state(old)
	f.appendAudit(client.AuditEvent{Actor: "unix:1000(test)", Action: "key.rotate", Target: old.ID,
		Details: map[string]string{"new_key": nk.ID, "grace": grace.String()}})
	writeJSON(w, http.StatusCreated, client.RotatedKey{Key: nk.Key, Token: nk.Token, OldExpiresAt: &end})
}

func (f *Fake) revoke(w http.ResponseWriter, k *client.Key, body []byte) {
	var req client.RevokeKeyRequest
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			problem(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
	}
	if req.Leaked && strings.TrimSpace(req.Location) == "" {
		problem(w, http.StatusBadRequest, "location is required with leaked: true")
		return
	}
	if k.RevokedAt != nil {
		k.State = "revoked"
		writeJSON(w, http.StatusOK, client.RevokeResult{Key: *k, AlreadyRevoked: true})
		return
	}
	now := f.now().UTC()
	k.RevokedAt = &now
	k.RevokedBy = "unix:1000(test)"
	k.RevokeReason = req.Reason
	action := "key.revoke"
	details := map[string]string{"reason": req.Reason}
	if req.Leaked {
		k.RevokeReason = "leaked: " + req.Location
		action = "key.leak_revoked"
		details = map[string]string{"reason": k.RevokeReason, "location": req.Location}
	}
	k.State = "revoked"
	f.appendAudit(client.AuditEvent{Actor: "unix:1000(test)", Action: action, Target: k.ID, Details: details})
	writeJSON(w, http.StatusOK, client.RevokeResult{Key: *k})
}

func (f *Fake) totp(w http.ResponseWriter, k *client.Key, _ []byte) {
	if k.Kind != "secret" {
		problem(w, http.StatusUnprocessableEntity, "TOTP is for secret keys only")
		return
	}
	if k.TOTP {
		problem(w, http.StatusConflict, fmt.Sprintf("key %s already has TOTP enrolled", k.ID))
		return
	}
	k.TOTP = true
	secret := strings.ToUpper(fmt.Sprintf("%x", sha256.Sum256([]byte(k.ID))))[:32]
	writeJSON(w, http.StatusCreated, client.TOTPEnrollment{
		URI: "otpauth://totp/Mapwright:" + k.ID + "?secret=" + base32ish(secret) + "&issuer=Mapwright&algorithm=SHA1&digits=6&period=30",
	})
}

// base32ish maps hex digits into the base32 alphabet so the fake's secrets
// look like real ones.
func base32ish(hex string) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := []byte(hex)
	for i, c := range b {
		b[i] = alpha[int(c)%32]
	}
	return string(b)
}

func (f *Fake) lookup(w http.ResponseWriter, _ *http.Request, body []byte) {
	var req client.LookupRequest
	if err := json.Unmarshal(body, &req); err != nil {
		problem(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	if len(req.Hashes) > 1000 {
		problem(w, http.StatusUnprocessableEntity, "at most 1000 hashes")
		return
	}
	f.refresh()
	out := client.LookupResponse{Results: []client.LookupResult{}}
	for _, h := range req.Hashes {
		res := client.LookupResult{Hash: h, State: "unknown"}
		if k := f.find(f.hashes[strings.ToLower(h)]); k != nil {
			res = client.LookupResult{Hash: h, State: k.State, ID: k.ID, Name: k.Name, Kind: k.Kind}
		}
		out.Results = append(out.Results, res)
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *Fake) login(w http.ResponseWriter, body []byte) {
	var req client.LoginRequest
	if err := json.Unmarshal(body, &req); err != nil {
		problem(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	cred, ok := f.tokens[req.Key]
	if !ok {
		problem(w, http.StatusUnauthorized, "unknown or revoked key")
		return
	}
	if cred.totp != "" && req.TOTP != cred.totp {
		problem(w, http.StatusUnauthorized, "a valid TOTP code is required")
		return
	}
	f.nextSess++
	value := fmt.Sprintf("sess%06d", f.nextSess)
	f.sessions[value] = req.Key
	now := f.now().UTC()
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookieName, Value: value, Path: "/admin",
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
	writeJSON(w, http.StatusCreated, client.Session{
		ExpiresAt:     now.Add(12 * time.Hour),
		IdleExpiresAt: now.Add(30 * time.Minute),
		KeyID:         cred.keyID,
	})
}

func (f *Fake) logout(w http.ResponseWriter, r *http.Request, _ []byte) {
	ck, err := r.Cookie(SessionCookieName)
	if err != nil {
		problem(w, http.StatusUnauthorized, "no session")
		return
	}
	if _, ok := f.sessions[ck.Value]; !ok {
		problem(w, http.StatusUnauthorized, "no such session")
		return
	}
	delete(f.sessions, ck.Value)
	http.SetCookie(w, &http.Cookie{Name: SessionCookieName, Path: "/admin", MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

// makeToken returns the fake's n-th token of kind: a well-formed key with a
// valid checksum, derived from n so tests are reproducible.
func makeToken(kind string, n int) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	prefix := "mpw_pk_"
	if kind == "secret" {
		prefix = "mpw_sk_"
	}
	seed := sha256.Sum256([]byte("clienttest:" + strconv.Itoa(n)))
	random := make([]byte, 30)
	for i := range random {
		random[i] = alphabet[int(seed[i])%62]
	}
	body := prefix + string(random)
	crc := crc32.ChecksumIEEE([]byte(body))
	sum := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		sum[i] = alphabet[crc%62]
		crc /= 62
	}
	return body + string(sum)
}

// TokenFor returns the token the fake issued for the n-th key it created
// (1-based), of kind "public" or "secret".
func TokenFor(kind string, n int) string { return makeToken(kind, n) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(client.Problem{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
	})
}

// sortedKeys returns the ids of the stored keys, for debugging output.
func (f *Fake) sortedKeys() []string {
	ids := make([]string, 0, len(f.keys))
	for _, k := range f.keys {
		ids = append(ids, k.ID)
	}
	sort.Strings(ids)
	return ids
}

// String describes the fake's content, for test failure messages.
func (f *Fake) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("fake admin API: keys %v, %d tilesets, %d sessions", f.sortedKeys(), len(f.tilesets), len(f.sessions))
}
