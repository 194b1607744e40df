package admin

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/logging"
	"github.com/mapwright/mapwright/internal/metrics"
	"github.com/mapwright/mapwright/internal/sessions"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/tiles"
)

// maxBody caps request bodies; the largest legitimate one, a lookup of 1000
// hashes, is about 70 KB.
const maxBody = 1 << 20

// readyTimeout bounds the database ping of /readyz and the status route.
const readyTimeout = 2 * time.Second

// Catalog is what the admin API needs of the tileset catalog
// (*tiles.Catalog implements it).
type Catalog interface {
	// List describes every tileset file, loaded or failed.
	List() []tiles.Entry
	// Reload rescans the tileset directory.
	Reload(ctx context.Context) error
}

// BackupStreamer answers POST /admin/v1/backups with a plaintext backup
// stream, attributing it to actor; backup.Handler implements it.
type BackupStreamer interface {
	Serve(w http.ResponseWriter, r *http.Request, actor string)
}

// Options configure the admin API. Keys, Audit, Store, Catalog and Sessions
// are required.
type Options struct {
	// Keys issues, verifies, rotates and revokes keys.
	Keys *keys.Service
	// Audit records tileset reloads (key, session and TOTP events are
	// recorded by Keys and Sessions with the same log).
	Audit *audit.Log
	// Store is the database: readiness, key counts and hash lookups.
	Store store.Store
	// Catalog lists and reloads tilesets.
	Catalog Catalog
	// PublicTilesets names the tilesets served without a key, reported by
	// the tileset list.
	PublicTilesets []string
	// Gatherer is served on /metrics; nil serves an empty registry.
	Gatherer prometheus.Gatherer
	// Metrics, when set, records this listener's requests (listener label
	// "admin"), its authentication failures and the tileset counts after a
	// reload.
	Metrics *metrics.Metrics
	// Sessions opens and checks admin sessions and enrols TOTP.
	Sessions *sessions.Manager
	// Logger receives one line per request and server errors; nothing is
	// logged when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Version and Backend are reported by the status route.
	Version, Backend string
	// StartedAt is when the daemon started, for the status route's uptime.
	StartedAt time.Time
	// AllowedHosts are the Host header values the TCP handler accepts,
	// compared exactly (case aside): "admin.example.com:9443", or
	// "admin.example.com" for a client that sends no port (port 443).
	// Empty: every TCP request is refused.
	AllowedHosts []string
	// AllowedCIDRs are the client networks the TCP handler accepts. Empty:
	// every TCP request is refused.
	AllowedCIDRs []netip.Prefix
	// Backups streams a snapshot for POST /admin/v1/backups (see
	// backup.Handler); without it that route answers 503.
	Backups BackupStreamer
	// Checkpoints signs the answers of GET /admin/v1/audit/checkpoint
	// (audit.LoadOrCreateSigner); without it that route answers 503.
	Checkpoints *audit.Signer
	// AuditPoll is how often an audit stream looks for new events; 0
	// means 500 ms.
	AuditPoll time.Duration
	// AuditHeartbeat is how long an audit stream may stay silent before
	// it sends a comment line, so that proxies keep it open; 0 means 15 s.
	AuditHeartbeat time.Duration
}

// Admin is the admin API. Its handlers are safe for concurrent use.
type Admin struct {
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	hosts  map[string]bool
	cidrs  []netip.Prefix
	public map[string]bool
	prom   http.Handler
	m      *metrics.Metrics

	unix http.Handler
	tcp  http.Handler

	// streamsDone is closed by CloseStreams to end every audit stream.
	streamsDone chan struct{}
	closeOnce   sync.Once
}

// New builds the admin API. It panics when a required option is missing,
// which is a wiring mistake, not a runtime condition.
func New(opts Options) *Admin {
	if opts.Keys == nil || opts.Audit == nil || opts.Store == nil || opts.Catalog == nil || opts.Sessions == nil {
		panic("admin.New: Keys, Audit, Store, Catalog and Sessions are required")
	}
	a := &Admin{
		opts:   opts,
		log:    opts.Logger,
		now:    opts.Now,
		hosts:  make(map[string]bool, len(opts.AllowedHosts)),
		public: make(map[string]bool, len(opts.PublicTilesets)),
		m:      opts.Metrics,

		streamsDone: make(chan struct{}),
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	gatherer := opts.Gatherer
	if gatherer == nil {
		gatherer = prometheus.NewRegistry()
	}
	a.prom = newMetricsHandler(gatherer, a.log)
	for _, h := range opts.AllowedHosts {
		a.hosts[strings.ToLower(strings.TrimSpace(h))] = true
	}
	for _, p := range opts.AllowedCIDRs {
		a.cidrs = append(a.cidrs, p.Masked())
	}
	for _, n := range opts.PublicTilesets {
		a.public[n] = true
	}
	a.unix = a.build(listenerUnix)
	a.tcp = a.build(listenerTCP)
	return a
}

// CloseStreams ends every open audit stream (GET /admin/v1/audit/stream)
// and makes new ones end at once. Register it with the admin servers'
// RegisterOnShutdown: a stream never goes idle, so Shutdown would
// otherwise wait for it until its deadline. Clients resume elsewhere with
// Last-Event-ID.
func (a *Admin) CloseStreams() { a.closeOnce.Do(func() { close(a.streamsDone) }) }

// UnixHandler returns the handler of the unix socket listener. The server
// must set ConnContext to [ConnContext], which identifies the peer; a
// request whose peer is unknown is refused.
func (a *Admin) UnixHandler() http.Handler { return a.unix }

// TCPHandler returns the handler of the TCP listener: host, client network,
// browser and authentication gates in front of every route.
func (a *Admin) TCPHandler() http.Handler { return a.tcp }

// listenerKind tells the two handlers apart.
type listenerKind int

const (
	listenerUnix listenerKind = iota
	listenerTCP
)

// build assembles one listener's handler, read outside in: recover from
// panics, log, measure, security headers, the TCP gate (host, client,
// browser), the body rule, then the router, whose every route is wrapped in
// its authentication and scope guard.
func (a *Admin) build(kind listenerKind) http.Handler {
	mws := []func(http.Handler) http.Handler{
		a.recoverPanics,
		a.logRequests,
		a.measure,
		securityHeaders,
	}
	if kind == listenerTCP {
		mws = append(mws, a.tcpGate)
	}
	mws = append(mws, bodyGate)
	return chain(a.router(kind), mws...)
}

// chain wraps h in the middlewares, the first one outermost.
func chain(h http.Handler, mws ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// reqState wraps the ResponseWriter of one request: it records the status
// and size for the log and metrics, and inner layers fill in the route and
// actor once they know them.
type reqState struct {
	http.ResponseWriter
	start       time.Time
	status      int
	bytes       int64
	wroteHeader bool
	route       string
	actor       string
}

// WriteHeader records the first status written.
func (s *reqState) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write counts the bytes of the body.
func (s *reqState) Write(b []byte) (int, error) {
	if !s.wroteHeader {
		s.WriteHeader(http.StatusOK)
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *reqState) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// stateOf returns the request state the outermost layer installed.
func stateOf(w http.ResponseWriter) *reqState {
	if s, ok := w.(*reqState); ok {
		return s
	}
	return &reqState{ResponseWriter: w}
}

func (a *Admin) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{ResponseWriter: w, start: a.now(), route: routeUnmatched}
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler {
				panic(rec)
			}
			a.log.LogAttrs(r.Context(), slog.LevelError, "panic serving admin request",
				slog.String(logging.KeyRoute, st.route),
				slog.String("panic", scrubKeys(fmt.Sprint(rec))),
				slog.String("stack", string(debug.Stack())))
			if !st.wroteHeader {
				writeProblem(st, http.StatusInternalServerError, probInternal, "")
			}
		}()
		next.ServeHTTP(st, r)
	})
}

// routeUnmatched labels requests refused before the router chose a route.
const routeUnmatched = "unmatched"

func (a *Admin) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(w)
		defer func() {
			status := st.status
			if status == 0 {
				status = http.StatusOK
			}
			level := slog.LevelInfo
			if isProbe(st.route) {
				level = slog.LevelDebug
			}
			a.log.LogAttrs(r.Context(), level, "admin request",
				slog.String(logging.KeyMethod, r.Method),
				slog.String(logging.KeyRoute, st.route),
				slog.String(logging.KeyPath, scrubKeys(r.URL.Path)),
				slog.Int(logging.KeyStatus, status),
				slog.Int64(logging.KeyBytes, st.bytes),
				slog.Duration(logging.KeyDuration, a.now().Sub(st.start)),
				slog.String(logging.KeyActor, st.actor),
				slog.String(logging.KeyClientIP, audit.TruncateIP(r.RemoteAddr)))
		}()
		next.ServeHTTP(st, r)
	})
}

func (a *Admin) measure(next http.Handler) http.Handler {
	if a.m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(w)
		defer func() {
			status := st.status
			if status == 0 {
				status = http.StatusOK
			}
			a.m.HTTPRequests.WithLabelValues("admin", st.route, strconv.Itoa(status)).Inc()
			a.m.HTTPDuration.WithLabelValues("admin", st.route).Observe(a.now().Sub(st.start).Seconds())
		}()
		next.ServeHTTP(st, r)
	})
}

// authFailure counts a refused authentication by reason.
func (a *Admin) authFailure(reason string) {
	if a.m != nil {
		a.m.AuthFailures.WithLabelValues(reason).Inc()
	}
}

// securityHeaders sets the headers every response carries. The admin API
// serves no page: nothing may be sniffed, framed, cached or refer onwards.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}
