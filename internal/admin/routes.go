package admin

import (
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/mapwright/mapwright/internal/keys"
)

// route is one entry of the route table: a Go ServeMux pattern (method and
// path), who may call it, and its handler.
type route struct {
	method string
	path   string
	// scope is the key scope required over TCP; "" admits any secret key
	// or session (only with authKey).
	scope  string
	auth   authMode
	handle handlerFunc
}

// label is the route's pattern, as logs and metrics name it.
func (rt route) label() string { return rt.method + " " + rt.path }

// routeTable is every route of the admin API. The router registers exactly
// these, each through guard; tests walk the same table.
func routeTable() []route {
	return []route{
		{http.MethodGet, "/admin/v1/status", "", authKey, (*Admin).status},

		{http.MethodGet, "/admin/v1/keys", keys.ScopeKeysRead, authKey, (*Admin).listKeys},
		{http.MethodPost, "/admin/v1/keys", keys.ScopeKeysWrite, authKey, (*Admin).createKey},
		{http.MethodPost, "/admin/v1/keys/lookup", keys.ScopeKeysRead, authKey, (*Admin).lookupKeys},
		{http.MethodGet, "/admin/v1/keys/{id}", keys.ScopeKeysRead, authKey, (*Admin).getKey},
		{http.MethodPost, "/admin/v1/keys/{id}/rotate", keys.ScopeKeysRotate, authKey, (*Admin).rotateKey},
		{http.MethodPost, "/admin/v1/keys/{id}/revoke", keys.ScopeKeysWrite, authKey, (*Admin).revokeKey},
		{http.MethodPost, "/admin/v1/keys/{id}/totp", keys.ScopeKeysWrite, authKey, (*Admin).enrollTOTP},

		{http.MethodGet, "/admin/v1/audit", keys.ScopeAuditRead, authKey, (*Admin).listAudit},
		{http.MethodGet, "/admin/v1/audit/stream", keys.ScopeAuditRead, authKey, (*Admin).streamAudit},
		{http.MethodPost, "/admin/v1/audit/verify", keys.ScopeAuditRead, authKey, (*Admin).verifyAudit},
		{http.MethodGet, "/admin/v1/audit/checkpoint", keys.ScopeAuditRead, authKey, (*Admin).auditCheckpoint},
		{http.MethodGet, "/admin/v1/audit/export", keys.ScopeAuditRead, authKey, (*Admin).exportAudit},
		{http.MethodPost, "/admin/v1/audit/prune", keys.ScopeAdmin, authKey, (*Admin).pruneAudit},

		{http.MethodPost, "/admin/v1/backups", keys.ScopeBackupCreate, authKey, (*Admin).createBackup},

		{http.MethodPost, "/admin/v1/sessions", "", authLogin, (*Admin).login},
		{http.MethodDelete, "/admin/v1/sessions", "", authKey, (*Admin).logout},

		{http.MethodGet, "/admin/v1/tilesets", keys.ScopeTilesetsAdmin, authKey, (*Admin).listTilesets},
		{http.MethodPost, "/admin/v1/tilesets/reload", keys.ScopeTilesetsAdmin, authKey, (*Admin).reloadTilesets},

		{http.MethodGet, "/metrics", keys.ScopeMetricsRead, authKey, (*Admin).metrics},
		{http.MethodGet, "/readyz", "", authNone, (*Admin).readyz},
		{http.MethodGet, "/livez", "", authNone, (*Admin).livez},
	}
}

// isProbe reports whether a route is a health probe, logged at debug
// level because orchestrators poll it.
func isProbe(label string) bool {
	return label == "GET /readyz" || label == "GET /livez"
}

// router registers the route table for one kind of listener. Requests that
// match no route reach a catch-all that is guarded like any route (any
// credentials, no scope), so even a 404 or 405 tells an unauthenticated
// caller nothing about which paths exist.
func (a *Admin) router(kind listenerKind) http.Handler {
	mux := http.NewServeMux()
	// paths answers "which methods does this path have?" for the 405
	// answer; method-less patterns only, which never conflict the way
	// they would mixed with the table's method patterns.
	paths := http.NewServeMux()
	allow := map[string][]string{}
	for _, rt := range routeTable() {
		mux.Handle(rt.label(), a.guard(kind, rt, rt.label()))
		if _, ok := allow[rt.path]; !ok {
			paths.Handle(rt.path, http.NotFoundHandler())
		}
		allow[rt.path] = append(allow[rt.path], rt.method)
	}
	fallback := route{method: "", path: "/", auth: authKey, handle: func(a *Admin, w http.ResponseWriter, r *http.Request, _ *principal) {
		// An unclean path would make the mux "find" the route it redirects
		// to; such a path names nothing.
		if isCleanPath(r.URL.Path) {
			if _, pattern := paths.Handler(r); pattern != "" {
				methods := slices.Clone(allow[pattern])
				if slices.Contains(methods, http.MethodGet) {
					methods = append(methods, http.MethodHead)
				}
				if !slices.Contains(methods, r.Method) {
					slices.Sort(methods)
					w.Header().Set("Allow", strings.Join(methods, ", "))
					writeProblem(w, http.StatusMethodNotAllowed, probMethod, r.Method+" is not allowed on "+scrubKeys(r.URL.Path))
					return
				}
			}
		}
		writeProblem(w, http.StatusNotFound, probNotFound, "no such admin route: "+scrubKeys(r.URL.Path))
	}}
	unmatched := a.guard(kind, fallback, routeUnmatched)
	mux.Handle("/", unmatched)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The mux would answer an unclean path ("/admin/v1//keys") with a
		// redirect before any guard runs; such paths are simply unknown.
		if !isCleanPath(r.URL.Path) {
			unmatched.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// isCleanPath reports whether p is in the canonical form the mux routes
// without redirecting.
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}
