package server

import (
	"net/http"
)

// CORS header values, shared by every response (never mutated).
var (
	corsAny          = []string{"*"}
	corsAllowMethods = []string{"GET, HEAD"}
	corsAllowHeaders = []string{"Authorization"}
	corsMaxAge       = []string{"600"}
	corsExpose       = []string{"ETag, RateLimit, RateLimit-Policy, Retry-After"}
	varyTile         = []string{"Origin, Accept-Encoding"}
	varyOrigin       = []string{"Origin"}
	varyPreflight    = []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
	allowTileMethods = []string{"GET, HEAD, OPTIONS"}
)

// setCORS sets the CORS headers of an actual (not preflight) response to a
// request that carries Origin. With anyOrigin (public tilesets, anonymous
// listing) the origin is "*"; otherwise the request's Origin is echoed,
// which callers only ask for once authorize has matched it against the
// key's allowlist. Keyed responses never say "*".
func setCORS(h http.Header, r *http.Request, anyOrigin bool) {
	o := r.Header["Origin"]
	if len(o) == 0 {
		return
	}
	if anyOrigin {
		h["Access-Control-Allow-Origin"] = corsAny
	} else {
		h["Access-Control-Allow-Origin"] = o[:1]
	}
	h["Access-Control-Expose-Headers"] = corsExpose
}

// preflight answers OPTIONS. Without Access-Control-Request-Method it is a
// plain OPTIONS: 204 with Allow. A CORS preflight always gets 204, but the
// CORS headers only when the actual request would be allowed: "*" for a
// public tileset (or the anonymous list), the echoed origin for a key (which
// a preflight can only carry as ?key=, since browsers send no Authorization
// on a preflight) that is authentic and allowed from that origin. A keyed
// tileset without a key, or with a key refused for any reason, gets no CORS
// headers, so the browser stops there. Preflights spend no rate-limit token.
func (s *server) preflight(w http.ResponseWriter, r *http.Request, st *reqState, t target) {
	h := w.Header()
	h["Vary"] = varyPreflight
	if len(r.Header["Access-Control-Request-Method"]) == 0 {
		h["Allow"] = allowTileMethods
		w.WriteHeader(http.StatusNoContent)
		return
	}
	defer w.WriteHeader(http.StatusNoContent)
	o := r.Header["Origin"]
	if len(o) != 1 {
		return
	}
	switch r.Header.Get("Access-Control-Request-Method") {
	case http.MethodGet, http.MethodHead:
	default:
		return
	}
	c, bad := credentialOf(r)
	if bad != "" {
		return
	}
	anyOrigin := false
	switch {
	case !t.listing && s.public[t.tileset], t.listing && !c.present:
		anyOrigin = true
	case !c.present:
		return
	default:
		if _, d := s.authorize(r.Context(), r, st, c, t); d.status != 0 {
			return
		}
	}
	if anyOrigin {
		h["Access-Control-Allow-Origin"] = corsAny
	} else {
		h["Access-Control-Allow-Origin"] = o
	}
	h["Access-Control-Allow-Methods"] = corsAllowMethods
	h["Access-Control-Allow-Headers"] = corsAllowHeaders
	h["Access-Control-Max-Age"] = corsMaxAge
}
