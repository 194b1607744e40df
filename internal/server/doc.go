// Package server is the public HTTP face of mapwrightd: tiles, TileJSON, the
// tileset list and /livez. [New] builds the whole handler chain in one
// place, read outside in: recover (500 problem), request log, metrics,
// security headers, routes. Nothing of the admin API or /metrics is ever
// served here; every other path is a 404 problem.
//
// # Routes
//
//	GET|HEAD  /livez
//	GET|HEAD  /v1/tilesets
//	GET|HEAD  /v1/tiles/{tileset}.json
//	GET|HEAD  /v1/tiles/{tileset}/{z}/{x}/{y}.{ext}
//	OPTIONS   the three /v1 routes (CORS preflight)
//
// Paths are checked on their escaped form: a "." or ".." segment, "//", a
// backslash or a percent-encoded dot, slash, backslash or NUL is a 400
// before routing, so encoded traversal never reaches a handler (and
// ServeMux never gets to redirect it). Tile paths are parsed strictly by
// [ParseTilePath].
//
// # Status codes
//
//	200  tile, TileJSON, list
//	204  tile absent from the set, stored empty, or zoom outside the
//	     tileset's min/max zoom (the address is valid, there is just no
//	     data: map clients draw nothing and do not log an error); also every
//	     OPTIONS answer
//	304  If-None-Match matched the ETag
//	400  malformed path or query, two different keys (query and header);
//	     a request with a body (Content-Length above 0 or any
//	     Transfer-Encoding), after which the connection is closed: no
//	     route takes one, and a body on a GET is where request smuggling
//	     through a proxy starts
//	401  no key for a keyed tileset (with WWW-Authenticate: Bearer
//	     realm="mapwright"), malformed key (refused before any lookup),
//	     unknown key
//	403  revoked, expired or not yet valid key; secret key (mpw_sk_, counted
//	     as misuse and never looked up); key without tiles:read; tileset not
//	     in the key's list; origin not allowed
//	404  unknown tileset (only after authentication: without a key an
//	     unknown tileset is 401, so existence does not leak); extension that
//	     does not fit the tileset's format (that representation does not
//	     exist); any other path
//	405  other methods, with Allow
//	429  per-key bucket empty, or too many failed authentications from the
//	     client's network (/24, /48); with Retry-After
//	503  the key store cannot answer (fail closed)
//
// Every error body is an RFC 9457 application/problem+json document written
// by one helper; its type is [ProblemTypePrefix] plus a stable code, and its
// detail never holds a key.
//
// # Keys
//
// A key comes as ?key= or Authorization: Bearer; both present with different
// values is a 400 (the same value twice is fine). A public tileset needs no
// key, but a key sent anyway must be authentic: a broken, revoked or secret
// key is refused there too, so clients learn at once that their key is bad
// and a secret key is always caught. The key's own restrictions (origins,
// scope, tileset list) are not applied to public tilesets, which anyone may
// read without a key; its rate limit is. The tileset list accepts an
// optional key the same way and shows public tilesets plus the keyed ones
// the key may read; a key given there must be allowed from the request's
// origin.
//
// Failed credentials (malformed, unknown, revoked, expired, not yet valid,
// secret) each take a token from a bucket per client network; while it is
// empty, requests from that network that carry a key get 429 before any
// lookup. This protects the store from guessing at the price of also
// delaying valid keys behind the same /24 during an attack.
//
// # Origins and CORS
//
// A browser request is one with Origin, else Referer. A key without allowed
// origins is refused (403) when either is present; otherwise the origin must
// match one of the key's patterns (exact, https://*.example.com for
// subdomains but not the apex, http://localhost:* for any port), compared by
// keys.OriginAllowed. "Origin: null" never matches. Responses to keyed
// tilesets echo the allowed origin and never say "*"; public tilesets and
// the anonymous list answer "*". Preflights are answered 204, with CORS
// headers only when the actual request would be allowed (the key can only
// come as ?key= on a preflight).
//
// # Rate limits
//
// Each key has a token bucket (its own Rate/Burst, else 100/s and 400); see
// the comment on ratePolicyName for how the RateLimit and RateLimit-Policy
// fields are filled. Buckets live in a bounded, sharded map. Anonymous
// requests to public tilesets have no per-key bucket; limit them at a proxy
// if needed. Limits are per process: with several replicas each keeps its
// own buckets.
//
// # Caching
//
// Tiles carry a strong ETag (xxHash-64 of the stored bytes and the content
// coding sent, so the gzip and the identity form differ), honour
// If-None-Match with weak comparison, and send Cache-Control from Options:
// "public, max-age=3600" for public tilesets and "private, max-age=3600" for
// keyed ones, so a shared cache never serves a keyed tile to someone without
// the key. Vary: Origin, Accept-Encoding. Tiles stored gzip-compressed go
// out as stored to clients that accept gzip (q-values honoured, gzip;q=0
// refuses) and are inflated for the others, including clients that send no
// Accept-Encoding. Identity tiles are never compressed on the fly.
//
// # Behind proxies
//
// The client is the connection's peer unless the peer is inside
// Options.TrustedProxies (empty by default). For such a peer the client is
// the right-most X-Forwarded-For entry that is not itself a trusted proxy:
// the entries on the right were appended by our own proxies, anything
// further left is what the client claimed and is never read. A malformed
// entry on that walk makes the peer the client. Forwarding headers from
// any other peer are ignored, so a client cannot pick the network its
// failed keys are charged to, or the one audit and logs record.
// X-Forwarded-Proto from a trusted proxy decides HSTS and the scheme of
// URLs, X-Forwarded-Host their host; Options.PublicBaseURL, when set,
// fixes scheme and host of URLs regardless.
//
// # Logs
//
// One line per request: method, route pattern, path with the key query
// parameter and anything key-shaped redacted, status, bytes, duration, the
// client's /24 or /48 network, and the redacted key when one authenticated.
// Authorization, Referer and full addresses are never logged.
package server
