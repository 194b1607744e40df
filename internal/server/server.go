package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mapwright/mapwright/internal/metrics"
	"github.com/mapwright/mapwright/internal/tiles"
)

// server holds the configuration and shared state behind the handler chain.
type server struct {
	opts     Options
	log      *slog.Logger
	tilesets Tilesets
	keys     KeyVerifier
	public   map[string]bool
	now      func() time.Time

	defaultRate  float64
	defaultBurst int
	keyLimits    *limiterSet[string]
	ipFailures   *limiterSet[netip.Prefix]
	blocked      *blockList
	failRate     float64
	failBurst    int

	cacheControl      []string
	keyedCacheControl []string

	// trusted are the proxies whose forwarding headers count, normalised
	// by normalizeProxies; publicBase is Options.PublicBaseURL without a
	// trailing slash.
	trusted    []netip.Prefix
	publicBase string

	// unavailable samples the error log of requests refused because keys
	// could not be checked.
	unavailable logSampler

	m        *metrics.Metrics
	requests [numRoutes]counterCache
	duration [numRoutes]prometheus.Observer
}

// New builds the public HTTP handler of mapwrightd: tiles, TileJSON, the
// tileset list and /livez. Nothing of the admin API or /metrics is ever
// served by it. The middleware chain is assembled here, read outside in.
func New(opts Options) http.Handler { return newServer(opts).handler() }

// handler assembles the chain.
func (s *server) handler() http.Handler {
	return chain(s.routes(),
		s.recoverPanics,   // a panic becomes a 500 problem, logged without secrets
		s.logRequests,     // one log line per request: redacted target, truncated client
		s.measure,         // request count and latency by route pattern
		s.securityHeaders, // nosniff on everything, HSTS on TLS
	)
}

// chain wraps h in the middlewares, the first one outermost.
func chain(h http.Handler, mw ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

func newServer(opts Options) *server {
	s := &server{
		opts:         opts,
		log:          opts.Logger,
		tilesets:     opts.Tilesets,
		keys:         opts.Keys,
		public:       make(map[string]bool, len(opts.PublicTilesets)),
		now:          opts.Now,
		defaultRate:  opts.DefaultRate,
		defaultBurst: opts.DefaultBurst,
		failRate:     opts.AuthFailRPS,
		failBurst:    opts.AuthFailBurst,
		m:            opts.Metrics,
		unavailable:  logSampler{interval: int64(10 * time.Second)},
		trusted:      normalizeProxies(opts.TrustedProxies),
		publicBase:   strings.TrimRight(opts.PublicBaseURL, "/"),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.tilesets == nil {
		s.tilesets = noTilesets{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.defaultRate <= 0 {
		s.defaultRate = DefaultKeyRate
	}
	if s.defaultBurst <= 0 {
		s.defaultBurst = DefaultKeyBurst
	}
	if s.failRate <= 0 {
		s.failRate = DefaultAuthFailRPS
	}
	if s.failBurst <= 0 {
		s.failBurst = DefaultAuthFailBurst
	}
	maxLimiters := opts.MaxLimiters
	if maxLimiters <= 0 {
		maxLimiters = DefaultMaxLimiters
	}
	s.keyLimits = newLimiterSet(maxLimiters, hashString)
	s.ipFailures = newLimiterSet(maxLimiters, hashPrefix)
	s.blocked = newBlockList(maxLimiters)
	for _, name := range opts.PublicTilesets {
		s.public[name] = true
	}
	s.cacheControl = []string{orDefault(opts.CacheControl, DefaultCacheControl)}
	s.keyedCacheControl = []string{orDefault(opts.KeyedCacheControl, DefaultKeyedCacheControl)}
	if s.m != nil {
		listener := orDefault(opts.Listener, DefaultListener)
		for rt := route(0); rt < numRoutes; rt++ {
			c := &s.requests[rt]
			c.vec, c.listener, c.route = s.m.HTTPRequests, listener, rt.String()
			s.duration[rt] = s.m.HTTPDuration.WithLabelValues(listener, rt.String())
		}
	}
	return s
}

// noTilesets stands in for a missing catalog: nothing is served.
type noTilesets struct{}

func (noTilesets) Acquire(string) (tiles.Source, bool) { return nil, false }
func (noTilesets) Names() []string                     { return nil }

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// routes registers every route of the public listener. Everything not
// listed is a 404 problem; in particular /admin/... and /metrics are never
// served here.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", s.livez)
	mux.HandleFunc("/livez", s.methodNotAllowed(routeLivez, "GET, HEAD"))
	mux.HandleFunc("GET /v1/tilesets", s.listTilesets)
	mux.HandleFunc("OPTIONS /v1/tilesets", s.listTilesetsOptions)
	mux.HandleFunc("/v1/tilesets", s.methodNotAllowed(routeTilesets, "GET, HEAD, OPTIONS"))
	// Without this, ServeMux would redirect /v1/tiles to /v1/tiles/.
	mux.HandleFunc("/v1/tiles", s.notFound)
	mux.HandleFunc("/", s.notFound)
	return s.dispatch(mux)
}

// dispatch refuses a request with a body and any path that is not already
// clean, then sends tile and TileJSON paths to their own strict parser and
// everything else to mux.
//
// Unclean paths are refused before ServeMux sees them: it would answer "..",
// "." and "//" segments with a redirect to the cleaned path. Percent-encoded
// dots, slashes, backslashes and NULs are refused too, since they only
// serve to smuggle traversal.
//
// Tile paths bypass ServeMux: "{tileset}.json" and "{y}.{ext}" are not
// patterns it can express, and its match of a subtree costs allocations on
// the hottest path for nothing the parser does not redo.
func (s *server) dispatch(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
			// No route takes a body. A body on a GET, or one framed by
			// Transfer-Encoding (which the HTTP server lets override a
			// Content-Length it then drops), is how request smuggling
			// through a proxy begins: refuse it and close the connection,
			// so nothing that follows on the wire is read as a request.
			stateOf(w).route = routeUnmatched
			w.Header()["Connection"] = connectionClose
			writeProblem(w, r, http.StatusBadRequest, probBadRequest, "requests to this server carry no body")
			return
		}
		p := r.URL.EscapedPath()
		if !isCleanPath(p) {
			stateOf(w).route = routeUnmatched
			writeProblem(w, r, http.StatusBadRequest, probBadRequest, "malformed request path")
			return
		}
		if strings.HasPrefix(p, tilesPrefix) {
			s.tiles(w, r, p)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' || strings.Contains(p, "//") || strings.IndexByte(p, '\\') >= 0 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			switch p[i+1 : i+3] {
			case "2e", "2E", "2f", "2F", "5c", "5C", "00":
				return false
			}
		}
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

var (
	textPlain       = []string{"text/plain; charset=utf-8"}
	connectionClose = []string{"close"}
)

func (s *server) livez(w http.ResponseWriter, r *http.Request) {
	stateOf(w).route = routeLivez
	h := w.Header()
	h["Content-Type"] = textPlain
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte("ok\n"))
	}
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	stateOf(w).route = routeUnmatched
	writeProblem(w, r, http.StatusNotFound, probNotFound, "no such resource")
}

func (s *server) methodNotAllowed(rt route, allow string) http.HandlerFunc {
	allowed := []string{allow}
	return func(w http.ResponseWriter, r *http.Request) {
		stateOf(w).route = rt
		w.Header()["Allow"] = allowed
		writeProblem(w, r, http.StatusMethodNotAllowed, probMethod, "allowed methods: "+allow)
	}
}

// recoverPanics is the outermost layer: it creates the request state and
// turns a panic into a 500 problem. The panic value is logged scrubbed of
// key-shaped strings; the stack holds no argument values.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client, fwd := s.resolveClient(r)
		st := &reqState{w: w, start: s.now(), client: truncatedClient(client), fwd: fwd}
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler {
				panic(rec)
			}
			s.log.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
				slog.String(attrRoute, st.route.String()),
				slog.String(attrPath, redactTarget(r.URL.EscapedPath(), r.URL.RawQuery)),
				slog.String(attrPanic, scrubKeys(fmt.Sprint(rec))),
				slog.String(attrStack, string(debug.Stack())))
			if !st.wroteHeader {
				writeProblem(st, r, http.StatusInternalServerError, probInternal, "")
			}
		}()
		next.ServeHTTP(st, r)
	})
}

// finalStatus is the status a request ended with: what the handler wrote,
// 200 when it wrote nothing, 500 when it panicked before writing (the
// recover layer answers 500 after the inner layers have finished).
func (st *reqState) finalStatus(completed bool) int {
	switch {
	case st.status != 0:
		return st.status
	case completed:
		return http.StatusOK
	default:
		return http.StatusInternalServerError
	}
}

// logRequests writes one line per request.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(w)
		completed := false
		defer func() {
			ctx := r.Context()
			if !s.log.Enabled(ctx, slog.LevelInfo) {
				return
			}
			client := "unknown"
			if st.client.IsValid() {
				client = string(st.client.AppendTo(st.buf[:0]))
			}
			s.log.LogAttrs(ctx, slog.LevelInfo, "request",
				slog.String(attrMethod, r.Method),
				slog.String(attrRoute, st.route.String()),
				slog.String(attrPath, st.logTarget(r)),
				slog.Int(attrStatus, st.finalStatus(completed)),
				slog.Int64(attrBytes, st.bytes),
				slog.Duration(attrDuration, st.duration(s.now)),
				slog.String(attrClient, client),
				slog.String(attrKey, st.redactedKey()))
		}()
		next.ServeHTTP(st, r)
		completed = true
	})
}

// measure records the request count and latency by route pattern.
func (s *server) measure(next http.Handler) http.Handler {
	if s.m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(w)
		completed := false
		defer func() {
			s.requests[st.route].get(st.finalStatus(completed)).Inc()
			s.duration[st.route].Observe(st.duration(s.now).Seconds())
		}()
		next.ServeHTTP(st, r)
		completed = true
	})
}

var (
	nosniff = []string{"nosniff"}
	hsts    = []string{"max-age=31536000"}
)

// securityHeaders sets the headers every response carries.
func (s *server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = nosniff
		if s.opts.HSTS && s.isTLS(r, stateOf(w)) {
			h["Strict-Transport-Security"] = hsts
		}
		next.ServeHTTP(w, r)
	})
}

// truncatedClient keeps the /24 of an IPv4 address or the /48 of an IPv6
// one: enough to rate-limit a network, not enough to name a person.
func truncatedClient(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.WithZone("").Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// counterCache resolves request counters by status code without building a
// label slice per request: a copy-on-write map read with one atomic load.
type counterCache struct {
	vec      *prometheus.CounterVec
	listener string
	route    string
	mu       sync.Mutex
	m        atomic.Pointer[map[int]prometheus.Counter]
}

func (c *counterCache) get(code int) prometheus.Counter {
	if m := c.m.Load(); m != nil {
		if ctr, ok := (*m)[code]; ok {
			return ctr
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if ctr, ok := (*old)[code]; ok {
			return ctr
		}
	}
	next := make(map[int]prometheus.Counter, 8)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	ctr := c.vec.WithLabelValues(c.listener, c.route, strconv.Itoa(code))
	next[code] = ctr
	c.m.Store(&next)
	return ctr
}

// isCanceled reports whether err only says the client went away.
func isCanceled(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
