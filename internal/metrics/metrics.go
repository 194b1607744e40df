// Package metrics defines every Prometheus collector of mapwrightd in one
// place. A [Metrics] value is created with [New] on a registry the caller
// owns (never the process-wide default registry) and handed to the packages
// that record into it; the admin listener serves that registry on /metrics.
//
// Labels are bounded by construction: routes are route patterns, never raw
// paths; reasons, scopes, operations and actions are fixed sets chosen by the
// code. No key ID, token, tileset name or client address is ever a label.
package metrics

import (
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace prefixes every metric name.
const Namespace = "mapwright"

// Label values for RateLimited.
const (
	// ScopeKey: a request refused by its key's token bucket.
	ScopeKey = "key"
	// ScopeIP: a request refused by the per-client-network bucket of failed
	// authentications.
	ScopeIP = "ip"
)

// Cache names for the cache_lookups_total metric.
const (
	// CacheKeyVerify is the key service's bounded cache of verified keys
	// and of unknown token hashes: one lookup per verification of a
	// well-formed token.
	CacheKeyVerify = "key_verify"
	// CacheTileDirectory is the PMTiles readers' caches of decoded leaf
	// directories: one lookup per leaf directory a tile read descends
	// through (archives whose root directory holds every tile make none).
	CacheTileDirectory = "tile_directory"
)

// Operation names for the store_latency_seconds metric.
const (
	// StoreOpGetKeyByHash: finding a key by its token hash, which the key
	// service does on a verify cache miss (the only database call on the
	// tile request path).
	StoreOpGetKeyByHash = "get_key_by_hash"
	// StoreOpUpdate: one read-write transaction (key changes, audit
	// appends, sessions), from waiting for it to begin until its commit
	// or rollback.
	StoreOpUpdate = "update"
	// StoreOpTouchKeys: the batched write of key last-used times.
	StoreOpTouchKeys = "touch_keys"
)

// StoreOps lists every operation name of store_latency_seconds.
func StoreOps() []string { return []string{StoreOpGetKeyByHash, StoreOpUpdate, StoreOpTouchKeys} }

// DurationBuckets are the request latency buckets in seconds. Tiles are
// served from local files, so most requests finish well under 10 ms; the
// tail buckets catch slow disks and large decompressions.
var DurationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// StoreBuckets are the database latency buckets in seconds.
var StoreBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// Metrics holds every collector. Fields are safe for concurrent use.
type Metrics struct {
	// HTTPRequests counts finished requests by listener ("public",
	// "admin"), route pattern and status code.
	HTTPRequests *prometheus.CounterVec
	// HTTPDuration observes request latency by listener and route pattern.
	HTTPDuration *prometheus.HistogramVec
	// AuthFailures counts refused authentications and authorisations by
	// reason (missing, malformed, unknown, revoked, expired, not_yet_valid,
	// secret_key, scope, tileset, origin, unavailable).
	AuthFailures *prometheus.CounterVec
	// RateLimited counts requests answered 429, by scope (ScopeKey, ScopeIP).
	RateLimited *prometheus.CounterVec
	// KeyMisuse counts secret keys presented on the public listener.
	KeyMisuse prometheus.Counter
	// CacheLookups counts cache lookups by cache name (CacheKeyVerify,
	// CacheTileDirectory) and result ("hit"/"miss"). Record through
	// KeyCache and TileCache, whose counters are bound once.
	CacheLookups *prometheus.CounterVec
	// StoreLatency observes database operation latency by operation name
	// (see StoreOps).
	StoreLatency *prometheus.HistogramVec
	// TilesetsLoaded is the number of tilesets currently served.
	TilesetsLoaded prometheus.Gauge
	// TilesetsFailed is the number of tileset files left out at the last
	// catalog load because they could not be read.
	TilesetsFailed prometheus.Gauge
	// BuildInfo is always 1; its labels carry the version, Go version and
	// storage backend.
	BuildInfo *prometheus.GaugeVec
	// AuditEvents counts the audit events this process committed, by
	// action: events appended in a transaction that rolled back are not
	// counted, nor are events other replicas or offline commands wrote.
	AuditEvents *prometheus.CounterVec
	// Backups counts scheduled backup runs by outcome ("success",
	// "failure").
	Backups *prometheus.CounterVec
	// BackupLastSuccess is the Unix time of the last successful scheduled
	// backup (0 until one succeeds): alert when it grows old.
	BackupLastSuccess prometheus.Gauge

	keyCache  CacheCounter
	tileCache CacheCounter
}

// New creates every collector and registers it on reg. It panics when a
// collector is already registered on reg, which is a programming error (one
// Metrics per registry).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "http_requests_total",
			Help:      "HTTP requests answered, by listener, route pattern and status code.",
		}, []string{"listener", "route", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "http_request_duration_seconds",
			Help:      "Time to answer an HTTP request, by listener and route pattern.",
			Buckets:   DurationBuckets,
		}, []string{"listener", "route"}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "auth_failures_total",
			Help:      "Requests refused by authentication or authorisation, by reason.",
		}, []string{"reason"}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "rate_limited_total",
			Help:      "Requests refused with 429 by a rate limit, by scope (key or ip).",
		}, []string{"scope"}),
		KeyMisuse: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "key_misuse_total",
			Help:      "Secret keys presented on the public listener.",
		}),
		CacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "cache_lookups_total",
			Help:      "Cache lookups by cache and result (hit or miss): key_verify is the key service's cache of verified and unknown keys, tile_directory the PMTiles readers' caches of decoded leaf directories.",
		}, []string{"cache", "result"}),
		StoreLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "store_latency_seconds",
			Help:      "Database operation latency, by operation: get_key_by_hash (key lookup on a verify cache miss), update (a read-write transaction, from waiting to begin until commit or rollback), touch_keys (batched last-used times).",
			Buckets:   StoreBuckets,
		}, []string{"op"}),
		TilesetsLoaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace,
			Name:      "tilesets_loaded",
			Help:      "Tilesets currently served.",
		}),
		TilesetsFailed: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace,
			Name:      "tilesets_failed",
			Help:      "Tileset files left out at the last load because they could not be read.",
		}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace,
			Name:      "build_info",
			Help:      "Always 1; labels carry the build version, Go version and storage backend.",
		}, []string{"version", "goversion", "backend"}),
		AuditEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "audit_events_total",
			Help:      "Audit events this process committed to the audit log, by action (not those rolled back, nor those of other replicas or offline commands).",
		}, []string{"action"}),
		Backups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "backups_total",
			Help:      "Scheduled backup runs, by outcome.",
		}, []string{"outcome"}),
		BackupLastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace,
			Name:      "backup_last_success_timestamp_seconds",
			Help:      "Unix time of the last successful scheduled backup, 0 before the first.",
		}),
	}
	reg.MustRegister(
		m.HTTPRequests, m.HTTPDuration, m.AuthFailures, m.RateLimited,
		m.KeyMisuse, m.CacheLookups, m.StoreLatency, m.TilesetsLoaded,
		m.TilesetsFailed, m.BuildInfo, m.AuditEvents, m.Backups, m.BackupLastSuccess,
	)
	m.keyCache = m.newCacheCounter(CacheKeyVerify)
	m.tileCache = m.newCacheCounter(CacheTileDirectory)
	// Every scope, outcome, cache result and store operation exists from
	// the start, so a dashboard shows 0 rather than "no data" before the
	// first event.
	m.RateLimited.WithLabelValues(ScopeKey)
	m.RateLimited.WithLabelValues(ScopeIP)
	m.Backups.WithLabelValues("success")
	m.Backups.WithLabelValues("failure")
	for _, op := range StoreOps() {
		m.StoreLatency.WithLabelValues(op)
	}
	return m
}

// SetBuildInfo publishes the build_info gauge for this process. The Go
// version is the running toolchain's. Calling it again replaces the labels.
func (m *Metrics) SetBuildInfo(version, backend string) {
	m.BuildInfo.Reset()
	m.BuildInfo.WithLabelValues(version, runtime.Version(), backend).Set(1)
}

// ObserveStore records the latency of one database operation started at
// start; op is one of StoreOps.
func (m *Metrics) ObserveStore(op string, start time.Time) {
	m.StoreLatency.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

// AuditEvent counts one committed audit event; action is the event's
// action name (such as "key.create"), a fixed set chosen by the code.
func (m *Metrics) AuditEvent(action string) {
	m.AuditEvents.WithLabelValues(action).Inc()
}

// BackupRun records one scheduled backup run ending at t.
func (m *Metrics) BackupRun(ok bool, t time.Time) {
	if !ok {
		m.Backups.WithLabelValues("failure").Inc()
		return
	}
	m.Backups.WithLabelValues("success").Inc()
	m.BackupLastSuccess.Set(float64(t.Unix()))
}

// SetTilesets publishes the result of a catalog load.
func (m *Metrics) SetTilesets(loaded, failed int) {
	m.TilesetsLoaded.Set(float64(loaded))
	m.TilesetsFailed.Set(float64(failed))
}

// CacheRecorder is the small interface a cache reports its lookups through.
// The key service takes one for its verify cache, the tile readers one for
// their directory caches.
type CacheRecorder interface {
	// Hit records a lookup answered from the cache.
	Hit()
	// Miss records a lookup that had to go to the source.
	Miss()
}

// CacheCounter is a CacheRecorder bound to one cache name.
type CacheCounter struct {
	hit, miss prometheus.Counter
}

// Hit implements CacheRecorder.
func (c CacheCounter) Hit() { c.hit.Inc() }

// Miss implements CacheRecorder.
func (c CacheCounter) Miss() { c.miss.Inc() }

func (m *Metrics) newCacheCounter(name string) CacheCounter {
	return CacheCounter{
		hit:  m.CacheLookups.WithLabelValues(name, "hit"),
		miss: m.CacheLookups.WithLabelValues(name, "miss"),
	}
}

// KeyCache returns the recorder for the key service's verify cache.
func (m *Metrics) KeyCache() CacheRecorder { return m.keyCache }

// TileCache returns the recorder for the tile readers' directory cache.
func (m *Metrics) TileCache() CacheRecorder { return m.tileCache }

// KeyCacheCollectors returns the collectors that read the key service's
// outage state when scraped: stale counts verifications answered from an
// expired cache entry because the database could not answer, receiving is 1
// while the key change notices of other replicas arrive and 0 while they
// may be missed. The caller registers them (they need the key service,
// which is built after New).
func KeyCacheCollectors(stale, receiving func() float64) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "keys_served_stale_total",
			Help:      "Key verifications answered from the cache past its TTL because the database could not answer (keys.outage_grace).",
		}, stale),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace,
			Name:      "keys_notices_receiving",
			Help:      "1 while key change notices from other replicas arrive, 0 while they may be missed (cached keys are then rechecked every second).",
		}, receiving),
	}
}

// ServingCollectors returns the collectors of the daemon's own health that
// are read when scraped: database_up pings the database (1 when it
// answers, 0 when not), and tls_certificate_not_after_timestamp_seconds is
// the expiry time of the certificate the TLS listeners present, so an
// alert can fire weeks before it runs out.
func ServingCollectors(ping func() bool, notAfter time.Time) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace,
			Name:      "database_up",
			Help:      "1 when the database answered a ping at scrape time, 0 when it did not.",
		}, func() float64 {
			if ping() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace,
			Name:      "tls_certificate_not_after_timestamp_seconds",
			Help:      "Unix time at which the TLS listeners' certificate expires.",
		}, func() float64 { return float64(notAfter.Unix()) }),
	}
}
