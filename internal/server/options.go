package server

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/mapwright/mapwright/internal/metrics"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/tiles"
)

// Defaults applied by [New] to zero Options fields.
const (
	// DefaultKeyRate is the per-key token bucket refill rate in requests
	// per second for keys without their own rate.
	DefaultKeyRate = 100
	// DefaultKeyBurst is the per-key bucket size for keys without their own
	// burst.
	DefaultKeyBurst = 400
	// DefaultAuthFailRPS is the refill rate, per second, of the bucket of
	// failed authentications allowed per client network.
	DefaultAuthFailRPS = 1
	// DefaultAuthFailBurst is the size of that bucket.
	DefaultAuthFailBurst = 20
	// DefaultCacheControl is sent with tiles of public tilesets.
	DefaultCacheControl = "public, max-age=3600"
	// DefaultKeyedCacheControl is sent with tiles of keyed tilesets. It is
	// private so that a shared cache never hands a keyed tile to a caller
	// without the key (a request authorised by an Authorization header has
	// the same URL as an anonymous one).
	DefaultKeyedCacheControl = "private, max-age=3600"
	// DefaultMaxLimiters bounds the number of per-key and per-network
	// token buckets held in memory (each set separately).
	DefaultMaxLimiters = 100_000
	// DefaultListener is the listener label of the request metrics.
	DefaultListener = "public"
)

// Options configures the public handler built by [New]. Every zero field
// gets the documented default.
type Options struct {
	// Tilesets gives access to the loaded tilesets; nil serves none.
	Tilesets Tilesets
	// Keys verifies API keys. When nil, only public tilesets are served and
	// every key is refused as unknown.
	Keys KeyVerifier
	// PublicTilesets names the tilesets served without a key. A key sent
	// anyway to a public tileset must still be authentic (see package doc).
	PublicTilesets []string

	// Logger receives the request log and errors. Nil: slog.Default().
	Logger *slog.Logger
	// Metrics records request, auth and rate-limit metrics. Nil: none.
	Metrics *metrics.Metrics
	// Listener is the listener label on request metrics ("public").
	Listener string

	// MisuseRecorder, when set, is told about every secret key presented
	// on this listener (the daemon writes it to the audit log).
	MisuseRecorder MisuseRecorder
	// AuthFailureRecorder, when set, is told about every refused
	// credential and authorisation, for the aggregated audit events.
	AuthFailureRecorder AuthFailureRecorder

	// DefaultRate and DefaultBurst are the per-key token bucket for keys
	// without their own Rate/Burst (100 req/s, burst 400).
	DefaultRate  float64
	DefaultBurst int
	// AuthFailRPS and AuthFailBurst size the bucket of failed
	// authentications per client network (/24 IPv4, /48 IPv6): 1/s, 20.
	AuthFailRPS   float64
	AuthFailBurst int
	// MaxLimiters bounds each set of token buckets held in memory
	// (100000). Buckets idle long enough to be full again are evicted
	// first, which loses nothing.
	MaxLimiters int

	// CacheControl is sent with tiles of public tilesets
	// ("public, max-age=3600").
	CacheControl string
	// KeyedCacheControl is sent with tiles of keyed tilesets
	// ("private, max-age=3600").
	KeyedCacheControl string

	// HSTS sends Strict-Transport-Security: max-age=31536000 on responses
	// to requests that arrived over TLS.
	HSTS bool
	// TrustedProxies are the networks of the reverse proxies and load
	// balancers in front of the listener. Forwarding headers are read only
	// from a request whose immediate peer (its RemoteAddr) is inside one
	// of them; from any other peer they are ignored, so a client cannot
	// choose the address it is limited, logged and audited under. For a
	// trusted peer the client is the right-most X-Forwarded-For entry
	// that is not itself a trusted proxy (entries further left are
	// claims the client made itself); X-Forwarded-Proto then decides
	// whether the client used TLS (HSTS, URL scheme) and X-Forwarded-Host
	// names the host in URLs when PublicBaseURL is not set. A malformed
	// X-Forwarded-For entry on that walk makes the peer itself the
	// client. Empty (the default): no forwarding header is trusted.
	// IPv4-mapped IPv6 prefixes match the IPv4 addresses they map.
	TrustedProxies []netip.Prefix
	// PublicBaseURL, when set (e.g. "https://tiles.example.com"), is the
	// scheme, host and optional path prefix written into TileJSON and
	// tileset URLs instead of those of the request.
	PublicBaseURL string

	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Tilesets is what the handler needs of the tile catalog; [FromCatalog]
// adapts a *tiles.Catalog.
type Tilesets interface {
	// Acquire returns the open source of the named tileset, held until the
	// handler calls its Close (which releases it rather than closing the
	// shared file), so a reload cannot close the file under a request in
	// flight. ok is false when no such tileset is loaded.
	Acquire(name string) (src tiles.Source, ok bool)
	// Names lists the loaded tilesets.
	Names() []string
}

// KeyVerifier finds and judges an API key by its token's hash. The key
// service implements it. The handler checks each token's format with
// apikey.Parse itself (a malformed token is refused before any lookup, a
// secret key is refused as misuse and never looked up) and passes the
// apikey.Hash of a well-formed public token with the request's start time.
// VerifyHashAt returns the stored key, or an error matching one of
// keys.ErrUnknownKey, keys.ErrRevoked, keys.ErrExpired or
// keys.ErrNotYetValid (judged at now); any other error is treated as the
// store being unavailable (503, fail closed).
type KeyVerifier interface {
	VerifyHashAt(ctx context.Context, hash [32]byte, now time.Time) (*store.Key, error)
}

// MisuseRecorder is told about secret keys presented on the public listener.
// It is called on the request path and must not block.
type MisuseRecorder interface {
	RecordKeyMisuse(ctx context.Context, ev MisuseEvent)
}

// MisuseEvent describes one secret key presented on the public listener.
type MisuseEvent struct {
	// Time of the request.
	Time time.Time
	// KeyStart is the redacted token, e.g. "mpw_sk_AbCd…".
	KeyStart string
	// ClientIP is the client's network, truncated (/24 or /48).
	ClientIP string
	// Path is the request path with keys redacted.
	Path string
}

// AuthFailureRecorder is told about each refused credential or
// authorisation, so the audit log can aggregate them per key and reason. It
// is called on the request path and must not block. Requests without any
// credential are not reported (they are no authentication attempt), only
// counted in metrics.
type AuthFailureRecorder interface {
	RecordAuthFailure(ctx context.Context, f AuthFailure)
}

// AuthFailure describes one refused request.
type AuthFailure struct {
	// Time of the request.
	Time time.Time
	// Reason is one of the Reason* constants.
	Reason string
	// KeyID is the key's ID when the token was authentic (refusals by
	// revocation, expiry, scope, tileset or origin); empty otherwise.
	KeyID string
	// KeyStart is the redacted token, e.g. "mpw_pk_AbCd…".
	KeyStart string
	// ClientIP is the client's network, truncated (/24 or /48).
	ClientIP string
}

// Refusal reasons, used in AuthFailure.Reason and as the reason label of
// the auth_failures_total metric.
const (
	ReasonMissing     = "missing"
	ReasonMalformed   = "malformed"
	ReasonUnknown     = "unknown"
	ReasonRevoked     = "revoked"
	ReasonExpired     = "expired"
	ReasonNotYetValid = "not_yet_valid"
	ReasonSecretKey   = "secret_key"
	ReasonScope       = "scope"
	ReasonTileset     = "tileset"
	ReasonOrigin      = "origin"
	ReasonUnavailable = "unavailable"
)

// FromCatalog adapts a tile catalog to Tilesets: Acquire hands out the
// catalog's handle, whose Close releases it.
func FromCatalog(c *tiles.Catalog) Tilesets { return catalogTilesets{c} }

type catalogTilesets struct{ c *tiles.Catalog }

func (t catalogTilesets) Acquire(name string) (tiles.Source, bool) {
	h, ok := t.c.Acquire(name)
	if !ok {
		return nil, false
	}
	return h, true
}

func (t catalogTilesets) Names() []string {
	entries := t.c.List()
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Status == tiles.StatusOK {
			names = append(names, e.Name)
		}
	}
	return names
}
