package admin

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/logging"
	"github.com/mapwright/mapwright/internal/sessions"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/pkg/apikey"
	"github.com/mapwright/mapwright/pkg/client"
)

// defaultExpiringWithin is the horizon of state=expiring without
// expiring_within, the same default the CLI documents.
const defaultExpiringWithin = 7 * 24 * time.Hour

// maxLookup bounds the hashes of one lookup request.
const maxLookup = 1000

// listKeysParams are the query parameters GET /admin/v1/keys accepts.
var listKeysParams = []string{"kind", "state", "expiring_within", "tileset", "label", "cursor", "limit"}

func (a *Admin) listKeys(w http.ResponseWriter, r *http.Request, _ *principal) {
	f, err := parseKeyFilter(r.URL.Query())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ks, next, err := a.opts.Keys.List(r.Context(), f)
	if err != nil {
		if errors.Is(err, store.ErrInvalid) {
			a.fail(w, r, badRequest("%s", err.Error()))
			return
		}
		a.fail(w, r, err)
		return
	}
	out, err := a.toClientKeys(r.Context(), ks)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, client.KeyList{Keys: out, Next: next})
}

// parseKeyFilter reads the list parameters; a bad value is a 400 naming
// the parameter.
func parseKeyFilter(q url.Values) (store.KeyFilter, error) {
	var f store.KeyFilter
	for name, vals := range q {
		if !contains(listKeysParams, name) {
			return f, badRequest("unknown query parameter %q (known: %s)", name, strings.Join(listKeysParams, ", "))
		}
		if name != "label" && len(vals) > 1 {
			return f, badRequest("query parameter %q given %d times", name, len(vals))
		}
	}
	switch kind := q.Get("kind"); kind {
	case "", apikey.Public.String(), apikey.Secret.String():
		f.Kind = kind
	default:
		return f, badRequest("kind %q: want public or secret", kind)
	}
	expiring := false
	switch state := q.Get("state"); state {
	case "":
	case string(store.StateActive), string(store.StatePending), string(store.StateExpired), string(store.StateRevoked):
		f.State = store.KeyState(state)
	case "expiring":
		expiring = true
	default:
		return f, badRequest("state %q: want active, pending, expired, revoked or expiring", state)
	}
	if s := q.Get("expiring_within"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return f, badRequest("expiring_within %q: want a positive Go duration such as 168h", s)
		}
		f.ExpiringWithin = d
	} else if expiring {
		f.ExpiringWithin = defaultExpiringWithin
	}
	f.Tileset = q.Get("tileset")
	if len(f.Tileset) > 128 {
		return f, badRequest("tileset: longer than 128 characters")
	}
	if labels := q["label"]; len(labels) > 0 {
		f.Labels = make(map[string]string, len(labels))
		for _, l := range labels {
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				return f, badRequest("label %q: want key=value", l)
			}
			f.Labels[k] = v
		}
		if err := keys.ValidateLabels(f.Labels); err != nil {
			return f, badRequest("label: %s", trimSentinel(err))
		}
	}
	if c := q.Get("cursor"); c != "" {
		if !keys.ValidID(c) {
			return f, badRequest("cursor %q: not a cursor returned by this API", c)
		}
		f.Cursor = c
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

func (a *Admin) createKey(w http.ResponseWriter, r *http.Request, p *principal) {
	var req client.CreateKeyRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	kind := apikey.Public
	if req.Kind != "" {
		k, err := apikey.ParseKind(req.Kind)
		if err != nil {
			a.fail(w, r, badRequest("kind %q: want public or secret", req.Kind))
			return
		}
		kind = k
	}
	issued, err := a.opts.Keys.Issue(r.Context(), keys.IssueRequest{
		Kind: kind, Name: req.Name, Scopes: req.Scopes, Tilesets: req.Tilesets, Origins: req.Origins,
		Rate: req.Rate, Burst: req.Burst, Labels: req.Labels, NotBefore: req.NotBefore, ExpiresAt: req.ExpiresAt,
	}, p.actor())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, client.CreatedKey{Key: a.toClientKey(issued.Key, false), Token: issued.Token})
}

func (a *Admin) getKey(w http.ResponseWriter, r *http.Request, _ *principal) {
	k, err := a.opts.Keys.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.toClientKeys(r.Context(), []store.Key{k})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out[0])
}

func (a *Admin) rotateKey(w http.ResponseWriter, r *http.Request, p *principal) {
	var req client.RotateKeyRequest
	if err := decodeJSON(r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	var grace time.Duration
	if req.Grace != "" {
		d, err := time.ParseDuration(req.Grace)
		if err != nil || d < 0 {
			a.fail(w, r, badRequest("grace %q: want a Go duration of zero or more, such as 24h", req.Grace))
			return
		}
		grace = d
	}
	issued, old, err := a.opts.Keys.Rotate(r.Context(), r.PathValue("id"), grace, p.actor())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// The successor keeps the second factor. The new token exists only in
	// this answer, so a failure here is logged and reported through the
	// key's totp field rather than by failing the request.
	totp, err := a.opts.Sessions.CarryTOTP(r.Context(), old.ID, issued.Key.ID)
	if err != nil {
		a.log.Error("rotated key lost its TOTP enrolment; enrol it again",
			logging.KeyKeyID, issued.Key.ID, logging.KeyErr, err.Error())
	}
	writeJSON(w, http.StatusCreated, client.RotatedKey{
		Key:          a.toClientKey(issued.Key, totp),
		Token:        issued.Token,
		OldExpiresAt: old.ExpiresAt,
	})
}

func (a *Admin) revokeKey(w http.ResponseWriter, r *http.Request, p *principal) {
	var req client.RevokeKeyRequest
	if err := decodeJSON(r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	var (
		k       store.Key
		already bool
		err     error
	)
	if req.Leaked {
		loc, lerr := leakLocation(req.Location)
		if lerr != nil {
			a.fail(w, r, lerr)
			return
		}
		k, already, err = a.opts.Keys.RevokeLeaked(r.Context(), r.PathValue("id"), loc, p.actor())
	} else {
		if req.Location != "" {
			a.fail(w, r, badRequest("location goes with leaked: true"))
			return
		}
		k, already, err = a.opts.Keys.Revoke(r.Context(), r.PathValue("id"), req.Reason, p.actor())
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.toClientKeys(r.Context(), []store.Key{k})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, client.RevokeResult{Key: out[0], AlreadyRevoked: already})
}

// leakPrefix starts the reason of a leak revocation (keys.RevokeLeaked).
const leakPrefix = "leaked: "

// leakLocation checks where a leaked key was found and fits it into a
// revocation reason: anything shaped like a key is redacted (a location
// never needs one) and a location too long for the reason is shortened.
func leakLocation(loc string) (string, error) {
	loc = strings.TrimSpace(loc)
	if loc == "" {
		return "", badRequest("location is required with leaked: true (where the key was found, such as config.js:12:7)")
	}
	loc = scrubKeys(loc)
	if limit := keys.MaxReasonLen - len(leakPrefix); utf8.RuneCountInString(loc) > limit {
		r := []rune(loc)
		loc = string(r[:limit-1]) + "…"
	}
	return loc, nil
}

func (a *Admin) lookupKeys(w http.ResponseWriter, r *http.Request, _ *principal) {
	var req client.LookupRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	if len(req.Hashes) > maxLookup {
		a.fail(w, r, badRequest("%d hashes: at most %d per request", len(req.Hashes), maxLookup))
		return
	}
	hashes := make([][32]byte, len(req.Hashes))
	for i, h := range req.Hashes {
		if !isLowerHex(h, 64) {
			a.fail(w, r, badRequest("hashes[%d]: want a SHA-256 as 64 lowercase hexadecimal digits", i))
			return
		}
		_, _ = hex.Decode(hashes[i][:], []byte(h))
	}
	found, err := a.opts.Store.GetKeysByHashes(r.Context(), uniqueHashes(hashes))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	byHash := make(map[[32]byte]store.Key, len(found))
	for _, k := range found {
		byHash[k.Hash] = k
	}
	now := a.now()
	out := client.LookupResponse{Results: make([]client.LookupResult, len(hashes))}
	for i, h := range hashes {
		res := client.LookupResult{Hash: req.Hashes[i], State: "unknown"}
		if k, ok := byHash[h]; ok {
			res.State, res.ID, res.Name, res.Kind = string(k.State(now)), k.ID, k.Name, k.Kind
		}
		out.Results[i] = res
	}
	writeJSON(w, http.StatusOK, out)
}

func uniqueHashes(hs [][32]byte) [][32]byte {
	seen := make(map[[32]byte]bool, len(hs))
	out := make([][32]byte, 0, len(hs))
	for _, h := range hs {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (a *Admin) enrollTOTP(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := decodeJSON(r, &struct{}{}, true); err != nil {
		a.fail(w, r, err)
		return
	}
	uri, err := a.opts.Sessions.EnrollTOTP(r.Context(), r.PathValue("id"), p.actor())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, client.TOTPEnrollment{URI: uri})
}

// toClientKeys converts keys for the wire, with their TOTP enrolment.
func (a *Admin) toClientKeys(ctx context.Context, ks []store.Key) ([]client.Key, error) {
	var ids []string
	for _, k := range ks {
		if k.Kind == apikey.Secret.String() {
			ids = append(ids, k.ID)
		}
	}
	totp := map[string]bool{}
	if len(ids) > 0 {
		var err error
		if totp, err = a.opts.Sessions.TOTPEnrolled(ctx, ids); err != nil {
			return nil, fmt.Errorf("read TOTP enrolment: %w", err)
		}
	}
	out := make([]client.Key, len(ks))
	for i, k := range ks {
		out[i] = a.toClientKey(k, totp[k.ID])
	}
	return out, nil
}

// toClientKey converts one key. Lists and maps are never null on the wire,
// so scripts can iterate without a check.
func (a *Admin) toClientKey(k store.Key, totp bool) client.Key {
	return client.Key{
		ID:           k.ID,
		Name:         k.Name,
		Kind:         k.Kind,
		Start:        k.Start,
		State:        string(k.State(a.now())),
		Scopes:       nonNil(k.Scopes),
		Tilesets:     nonNil(k.Tilesets),
		Origins:      nonNil(k.Origins),
		Rate:         k.Rate,
		Burst:        k.Burst,
		Labels:       nonNilMap(k.Labels),
		TOTP:         totp,
		CreatedAt:    k.CreatedAt,
		CreatedBy:    k.CreatedBy,
		NotBefore:    k.NotBefore,
		ExpiresAt:    k.ExpiresAt,
		RevokedAt:    k.RevokedAt,
		RevokedBy:    k.RevokedBy,
		RevokeReason: k.RevokeReason,
		Replaces:     k.Replaces,
		ReplacedBy:   k.ReplacedBy,
		LastUsedAt:   k.LastUsedAt,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// fail answers an error: an *httpError as it says; errors of the key
// service and the session manager by their sentinels; anything else is a
// server error, logged here and answered without its details.
func (a *Admin) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		writeProblem(w, he.status, he.code, he.detail)
	case errors.Is(err, keys.ErrNotFound):
		writeProblem(w, http.StatusNotFound, probNotFound, "no key with ID "+quoteID(r.PathValue("id")))
	case errors.Is(err, keys.ErrNotActive), errors.Is(err, keys.ErrAlreadyRotated):
		writeProblem(w, http.StatusConflict, probConflict, trimSentinel(err))
	case errors.Is(err, keys.ErrInvalidScope), errors.Is(err, keys.ErrInvalidOrigin),
		errors.Is(err, keys.ErrInvalidRequest), errors.Is(err, sessions.ErrNotSecretKey):
		writeProblem(w, http.StatusBadRequest, probBadRequest, trimSentinel(err))
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		a.log.Error("admin request failed", logging.KeyRoute, stateOf(w).route, logging.KeyErr, scrubKeys(err.Error()))
		writeProblem(w, http.StatusServiceUnavailable, probUnavailable, "the database is unavailable; try again")
	default:
		a.log.Error("admin request failed", logging.KeyRoute, stateOf(w).route, logging.KeyErr, scrubKeys(err.Error()))
		writeProblem(w, http.StatusInternalServerError, probInternal, "")
	}
}

// trimSentinel drops the operation prefixes the services put in front of a
// validation message ("issue key: ") and the sentinel suffix (": invalid
// scope"), which the problem title already says.
func trimSentinel(err error) string {
	msg := err.Error()
	for _, p := range []string{"issue key: ", "rotate key: ", "revoke key: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	for _, s := range []error{keys.ErrInvalidScope, keys.ErrInvalidOrigin, keys.ErrInvalidRequest} {
		msg = strings.TrimSuffix(msg, ": "+s.Error())
	}
	return msg
}

// quoteID quotes a path ID for a message, redacting anything key-shaped
// and shortening junk.
func quoteID(id string) string {
	if len(id) > 40 {
		id = id[:40] + "…"
	}
	return strconv.Quote(scrubKeys(id))
}
