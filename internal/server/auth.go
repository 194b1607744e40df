package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// credential is the API key a request presents.
type credential struct {
	token     string
	present   bool
	fromQuery bool // the key came as ?key= (TileJSON URLs then carry it)
}

// credentialOf extracts the key from the key query parameter or an
// "Authorization: Bearer" header. Both present with different values, or
// several different key parameters, is a bad request. An Authorization
// header with another scheme is not ours (a proxy's, say) and is ignored.
func credentialOf(r *http.Request) (credential, string) {
	var c credential
	if q := r.URL.RawQuery; q != "" {
		for q != "" {
			var pair string
			pair, q, _ = strings.Cut(q, "&")
			name, v, _ := strings.Cut(pair, "=")
			if name != "key" {
				continue
			}
			if strings.IndexByte(v, '%') >= 0 || strings.IndexByte(v, '+') >= 0 {
				u, err := url.QueryUnescape(v)
				if err != nil {
					return c, "the key query parameter is not valid percent-encoding"
				}
				v = u
			}
			if c.present && v != c.token {
				return c, "more than one key query parameter"
			}
			c = credential{token: v, present: true, fromQuery: true}
		}
	}
	if hv := r.Header["Authorization"]; len(hv) > 0 {
		if len(hv) > 1 {
			return c, "more than one Authorization header"
		}
		scheme, token, _ := strings.Cut(hv[0], " ")
		if strings.EqualFold(scheme, "Bearer") {
			token = strings.TrimSpace(token)
			if c.present && token != c.token {
				return c, "the key query parameter and the Authorization header carry different keys"
			}
			if !c.present {
				c = credential{token: token, present: true}
			}
		}
	}
	return c, ""
}

// denial is a refused request, not yet written. status 0 means allowed.
type denial struct {
	status     int
	code       string // problem code
	detail     string
	challenge  string // WWW-Authenticate value for 401
	retryAfter int    // seconds, for 429
}

var (
	bearerChallenge        = `Bearer realm="mapwright"`
	bearerInvalidChallenge = `Bearer realm="mapwright", error="invalid_token"`
)

// target says what a request wants access to.
type target struct {
	tileset string // "" for the tileset list
	listing bool   // the tileset list: any authentic key may ask
}

// authorize decides whether the request may read t. It returns the key that
// authenticated the request (nil for an anonymous request to a public
// tileset or to the list). Order matters and is part of the contract:
//
//  1. No key: allowed for public tilesets and the list, else 401 (so an
//     unknown tileset answers 401, not 404, to unauthenticated callers).
//  2. A client network with too many recent failures: 429 before any
//     lookup.
//  3. Malformed token (apikey.Parse): 401 before any lookup. Secret key
//     (mpw_sk_): 403, counted as misuse, never looked up.
//  4. Verification: unknown 401; revoked, expired, not yet valid 403.
//  5. For a public tileset an authentic key suffices (its rate limit
//     still applies); the key's restrictions guard keyed tilesets only,
//     since anyone may read a public one without a key.
//  6. Origin (Origin, else Referer) against the key's allowlist: 403. For
//     the list that is all; the list then shows only what the key may read.
//  7. Scope tiles:read, then the key's tileset list: 403.
//
// Side effects: failures are counted in metrics, reported to the
// recorders, and credential failures charge the client network's bucket.
func (s *server) authorize(ctx context.Context, r *http.Request, st *reqState, c credential, t target) (*store.Key, denial) {
	public := t.listing || s.public[t.tileset]
	if !c.present {
		if public {
			return nil, denial{}
		}
		s.countFailure(ReasonMissing)
		return nil, denial{status: http.StatusUnauthorized, code: probMissingKey,
			detail: "this tileset needs an API key: pass ?key= or an Authorization: Bearer header", challenge: bearerChallenge}
	}
	if st.client.IsValid() {
		if blocked, wait := s.blocked.check(st.client, st.start.UnixNano()); blocked {
			s.countRateLimited(true)
			return nil, denial{status: http.StatusTooManyRequests, code: probAuthFailures,
				detail: "too many failed authentications from this network; retry later", retryAfter: wait}
		}
	}
	st.token = c.token
	// The format is checked (and the token hashed) once per request, or
	// once per connection for a repeated key (see ConnContext); a
	// malformed token and a secret key are refused without any lookup.
	kind, hash, err := tokenHash(ctx, c.token)
	switch {
	case err != nil:
		s.credentialFailure(ctx, st, ReasonMalformed, "")
		return nil, denial{status: http.StatusUnauthorized, code: probInvalidKey,
			detail: "the API key is malformed", challenge: bearerInvalidChallenge}
	case kind == apikey.Secret:
		s.misuse(ctx, r, st)
		return nil, denial{status: http.StatusForbidden, code: probSecretKey,
			detail: "a secret key (mpw_sk_) was sent to the public tile server; secret keys must never be used in a browser or an app: rotate it"}
	case s.keys == nil:
		s.credentialFailure(ctx, st, ReasonUnknown, "")
		return nil, denial{status: http.StatusUnauthorized, code: probInvalidKey,
			detail: "unknown API key", challenge: bearerInvalidChallenge}
	}
	key, err := s.keys.VerifyHashAt(ctx, hash, st.start)
	if err != nil {
		return nil, s.verifyFailure(ctx, st, key, err)
	}
	if key.Kind != "public" {
		s.misuse(ctx, r, st)
		return nil, denial{status: http.StatusForbidden, code: probSecretKey,
			detail: "this key is not a public key and cannot be used on the public tile server"}
	}
	if public && !t.listing {
		return key, denial{}
	}
	if o, present := requestOrigin(r); present && !originAllowed(key.Origins, o) {
		s.refusal(ctx, st, ReasonOrigin, key)
		detail := "this key may not be used from this origin"
		if len(key.Origins) == 0 {
			detail = "this key has no allowed origins, so it may not be used from a browser page"
		}
		return nil, denial{status: http.StatusForbidden, code: probOrigin, detail: detail}
	}
	if t.listing {
		return key, denial{}
	}
	if !keys.HasScope(key.Scopes, keys.ScopeTilesRead) {
		s.refusal(ctx, st, ReasonScope, key)
		return nil, denial{status: http.StatusForbidden, code: probScope,
			detail: "this key lacks the " + keys.ScopeTilesRead + " scope"}
	}
	if len(key.Tilesets) > 0 && !slices.Contains(key.Tilesets, t.tileset) {
		s.refusal(ctx, st, ReasonTileset, key)
		return nil, denial{status: http.StatusForbidden, code: probTileset,
			detail: "this key may not read this tileset"}
	}
	return key, denial{}
}

// verifyFailure maps a verification error to a denial. The key service
// returns the key along with a revoked, expired or not-yet-valid error, so
// those failures name the key.
func (s *server) verifyFailure(ctx context.Context, st *reqState, key *store.Key, err error) denial {
	id := ""
	if key != nil {
		id = key.ID
	}
	switch {
	case errors.Is(err, keys.ErrUnknownKey):
		s.credentialFailure(ctx, st, ReasonUnknown, "")
		return denial{status: http.StatusUnauthorized, code: probInvalidKey, detail: "unknown API key", challenge: bearerInvalidChallenge}
	case errors.Is(err, keys.ErrRevoked):
		s.credentialFailure(ctx, st, ReasonRevoked, id)
		return denial{status: http.StatusForbidden, code: probKeyRevoked, detail: "this API key has been revoked"}
	case errors.Is(err, keys.ErrExpired):
		s.credentialFailure(ctx, st, ReasonExpired, id)
		return denial{status: http.StatusForbidden, code: probKeyExpired, detail: "this API key has expired"}
	case errors.Is(err, keys.ErrNotYetValid):
		s.credentialFailure(ctx, st, ReasonNotYetValid, id)
		return denial{status: http.StatusForbidden, code: probKeyNotYetValid, detail: "this API key is not valid yet"}
	default:
		// The store could not answer: fail closed, and do not blame the
		// client's network for it.
		s.countFailure(ReasonUnavailable)
		// During an outage every such request fails alike: log the first
		// and then one a while, with how many went unlogged.
		if n, ok := s.unavailable.allow(st.start.UnixNano()); ok {
			s.log.LogAttrs(ctx, slog.LevelError, "verify API key", slog.String(attrKey, st.redactedKey()),
				slog.String(attrErr, scrubKeys(err.Error())), slog.Int64("unlogged_since_last", n))
		}
		return denial{status: http.StatusServiceUnavailable, code: probUnavailable, detail: "keys cannot be checked right now; retry later", retryAfter: 1}
	}
}

// credentialFailure records a token that failed authentication: metric,
// recorder, and one token from the client network's failure bucket.
func (s *server) credentialFailure(ctx context.Context, st *reqState, reason, keyID string) {
	s.countFailure(reason)
	if st.client.IsValid() {
		s.chargeFailure(st)
	}
	if s.opts.AuthFailureRecorder != nil {
		s.opts.AuthFailureRecorder.RecordAuthFailure(ctx, AuthFailure{
			Time: s.now(), Reason: reason, KeyID: keyID, KeyStart: st.redactedKey(), ClientIP: clientString(st),
		})
	}
}

// refusal records an authentic key refused by its own restrictions. It does
// not charge the network's failure bucket: the key is real.
func (s *server) refusal(ctx context.Context, st *reqState, reason string, key *store.Key) {
	s.countFailure(reason)
	if s.opts.AuthFailureRecorder != nil {
		s.opts.AuthFailureRecorder.RecordAuthFailure(ctx, AuthFailure{
			Time: s.now(), Reason: reason, KeyID: key.ID, KeyStart: st.redactedKey(), ClientIP: clientString(st),
		})
	}
}

// chargeFailure takes one token from the client network's failure bucket
// and lists the network as blocked when that empties it.
func (s *server) chargeFailure(st *reqState) {
	now := st.start.UnixNano()
	bk := s.ipFailures.get(st.client, s.failRate, s.failBurst, now)
	if until := bk.charge(now); until > now {
		s.blocked.block(st.client, until, now)
	}
}

// misuse records a secret key presented on the public listener.
func (s *server) misuse(ctx context.Context, r *http.Request, st *reqState) {
	start := st.redactedKey()
	s.countFailure(ReasonSecretKey)
	if s.m != nil {
		s.m.KeyMisuse.Inc()
	}
	if st.client.IsValid() {
		s.chargeFailure(st)
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "secret key presented on the public listener",
		slog.String(attrKey, start), slog.String(attrClient, clientString(st)))
	if s.opts.MisuseRecorder != nil {
		s.opts.MisuseRecorder.RecordKeyMisuse(ctx, MisuseEvent{
			Time: s.now(), KeyStart: start, ClientIP: clientString(st),
			Path: redactTarget(r.URL.EscapedPath(), r.URL.RawQuery),
		})
	}
}

func clientString(st *reqState) string {
	if !st.client.IsValid() {
		return ""
	}
	return st.client.String()
}

func (s *server) countFailure(reason string) {
	if s.m != nil {
		s.m.AuthFailures.WithLabelValues(reason).Inc()
	}
}

func (s *server) countRateLimited(ip bool) {
	if s.m == nil {
		return
	}
	if ip {
		s.m.RateLimited.WithLabelValues("ip").Inc()
	} else {
		s.m.RateLimited.WithLabelValues("key").Inc()
	}
}

// deny writes a denial as a problem response.
func (s *server) deny(w http.ResponseWriter, r *http.Request, d denial) {
	h := w.Header()
	if d.challenge != "" {
		h["Www-Authenticate"] = []string{d.challenge}
	}
	if d.retryAfter > 0 {
		h["Retry-After"] = []string{strconv.Itoa(d.retryAfter)}
	}
	writeProblem(w, r, d.status, d.code, d.detail)
}

// limitKey spends one token of the key's bucket and sets the RateLimit
// fields. When the bucket is empty it writes the 429 and returns false.
func (s *server) limitKey(w http.ResponseWriter, r *http.Request, st *reqState, key *store.Key) bool {
	rt, burst := key.Rate, key.Burst
	if rt <= 0 {
		rt = s.defaultRate
	}
	if burst <= 0 {
		burst = s.defaultBurst
	}
	// The request's start time is "now" to within microseconds, and reading
	// the clock again is not free.
	now := st.start.UnixNano()
	bk := s.keyLimits.get(key.ID, rt, burst, now)
	if st.keyStart == "" {
		// The bucket keeps the key's redacted form for the log, so the hot
		// path does not build it per request.
		st.keyStart = bk.display(key.Start)
	}
	allowed, remaining, t := bk.take(now)
	st.rateVal[0] = rateLimitValue(remaining, t)
	h := w.Header()
	h["Ratelimit"] = st.rateVal[:]
	h["Ratelimit-Policy"] = bk.policy
	if allowed {
		return true
	}
	s.countRateLimited(false)
	st.retryVal[0] = strconv.Itoa(t)
	h["Retry-After"] = st.retryVal[:]
	writeProblem(w, r, http.StatusTooManyRequests, probRateLimited,
		"this key's rate limit is exhausted; retry after "+st.retryVal[0]+" s")
	return false
}

// logSampler lets one log line through per interval and counts the rest.
type logSampler struct {
	interval int64 // nanoseconds
	next     atomic.Int64
	skipped  atomic.Int64
}

// allow reports whether a line may be logged at now (Unix nanoseconds) and,
// if so, how many were held back since the last one.
func (l *logSampler) allow(now int64) (int64, bool) {
	next := l.next.Load()
	if now < next || !l.next.CompareAndSwap(next, now+l.interval) {
		l.skipped.Add(1)
		return 0, false
	}
	return l.skipped.Swap(0), true
}
