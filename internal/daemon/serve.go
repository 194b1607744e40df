package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/backup"
	"github.com/mapwright/mapwright/internal/certs"
	"github.com/mapwright/mapwright/internal/config"
	"github.com/mapwright/mapwright/internal/logging"
	"github.com/mapwright/mapwright/internal/metrics"
	"github.com/mapwright/mapwright/internal/server"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/tiles"
	"github.com/mapwright/mapwright/internal/version"
)

func newServeCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve tiles over TLS and the admin API on its unix socket",
		Long: `serve runs the daemon: tiles on the public TLS listener (--addr, default
:8443), the admin API on a unix socket in the data directory, and (only when
asked) plain HTTP for a TLS-terminating proxy and admin over TCP.

With no certificate given, a local CA and a server certificate are created in
DATA/tls on first start; the CA's fingerprint is logged and written to
DATA/tls/ca.fingerprint. SIGHUP reloads the tilesets; SIGINT or SIGTERM
drains requests in flight and stops (a second signal stops at once).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return runServe(cmd.Context(), s, cfg, nil)
		},
	}
	config.BindFlags(cmd.Flags())
	return cmd
}

// runServe runs the daemon until ctx ends or a signal stops it. ready, when
// not nil, is called once every listener is bound and before requests are
// served (the demo issues its key and prints its instructions then); an
// error from it stops the daemon.
func runServe(ctx context.Context, s Streams, cfg config.Config, ready func(context.Context, *app, *daemonInfo) error) error {
	log, err := logging.New(s.Err, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	a, err := openApp(ctx, cfg, log, m)
	if err != nil {
		return err
	}
	defer a.Close()

	m.SetBuildInfo(version.String(), a.store.Backend())
	reg.MustRegister(metrics.KeyCacheCollectors(
		func() float64 { return float64(a.keys.StaleServed()) },
		func() float64 {
			if a.keys.ReceivingNotices() {
				return 1
			}
			return 0
		})...)

	catalog := tiles.Open(cfg.Tiles.Dir, logging.Sub(log, "tiles"), tiles.WithDirectoryCacheRecorder(m.TileCache()))
	defer catalog.Close()
	m.SetTilesets(catalog.Loaded(), catalog.Failed())

	cert, info, err := serverCert(cfg, log)
	if err != nil {
		return err
	}
	// Both the local CA and tls.LoadX509KeyPair fill in Leaf; parse only
	// when a GODEBUG setting turned that off.
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return fmt.Errorf("%w: parse TLS certificate: %w", errUsage, err)
		}
	}
	reg.MustRegister(metrics.ServingCollectors(func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return a.store.Ping(ctx) == nil
	}, leaf.NotAfter)...)

	agg := audit.NewAggregator(a.audit, a.store, logging.Sub(log, "audit"), 0)
	recorders := auditRecorders{agg}

	public := server.New(server.Options{
		MisuseRecorder:      recorders,
		AuthFailureRecorder: recorders,
		Tilesets:            server.FromCatalog(catalog),
		Keys:                a.keys,
		PublicTilesets:      cfg.Tiles.Public,
		Logger:              logging.Sub(log, "public"),
		Metrics:             m,
		DefaultRate:         cfg.RateLimit.RPS,
		DefaultBurst:        cfg.RateLimit.Burst,
		AuthFailRPS:         cfg.RateLimit.AuthFailRPS,
		AuthFailBurst:       cfg.RateLimit.AuthFailBurst,
		CacheControl:        cfg.Tiles.CacheControl,
		HSTS:                cfg.Listen.HSTS,
		TrustedProxies:      cfg.Listen.TrustedProxyPrefixes(),
		PublicBaseURL:       cfg.Listen.PublicURL,
	})

	srv := NewServer(log, cfg.Server)
	ln, err := net.Listen("tcp", cfg.Listen.Addr)
	if err != nil {
		return fmt.Errorf("public listener: %w", err)
	}
	srv.Add("public", ln, public, certs.ServerTLSConfig(cert)).ConnContext = server.ConnContext
	info.PublicAddr = ln.Addr().String()
	if cfg.Listen.HTTPAddr != "" {
		hln, err := net.Listen("tcp", cfg.Listen.HTTPAddr)
		if err != nil {
			srv.closeListeners()
			return fmt.Errorf("plain HTTP listener: %w", err)
		}
		log.Warn("plain HTTP listener enabled: keys and tiles cross it unencrypted; only use it behind a TLS-terminating proxy",
			logging.KeyAddr, hln.Addr().String())
		if len(cfg.Listen.TrustedProxies) == 0 {
			log.Warn("plain HTTP listener without listen.trusted_proxies: behind a proxy every client appears as the proxy, "+
				"so one client's failed keys rate-limit them all; list the proxy's addresses in listen.trusted_proxies",
				logging.KeyAddr, hln.Addr().String())
		}
		srv.Add("http", hln, public, nil).ConnContext = server.ConnContext
		info.HTTPAddr = hln.Addr().String()
	}

	if err := a.addAdmin(srv, catalog, reg, m, cert, info); err != nil {
		srv.closeListeners()
		return err
	}

	ctx, reload, stopSignals := withSignals(ctx, log)
	defer stopSignals()
	// Background work stops when the listeners do, whether a signal or a
	// failed listener ended them.
	ctx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()

	a.auditSystem(ctx, audit.ActionServerStart, map[string]string{
		"version": version.String(), "backend": a.store.Backend(),
	})
	log.Info("mapwrightd started", logging.KeyVersion, version.String(), logging.KeyBackend, a.store.Backend(),
		logging.KeyDataDir, cfg.DataDir, "tilesets_loaded", catalog.Loaded(), "tilesets_failed", catalog.Failed())
	if ready != nil {
		if err := ready(ctx, a, info); err != nil {
			srv.closeListeners()
			return err
		}
	}

	go a.keys.Run(ctx)
	if w, ok := a.store.(store.KeyWatcher); ok {
		go func() {
			if err := w.WatchKeys(ctx, a.keys); err != nil {
				log.Error("key change notices stopped", logging.KeyErr, err)
			}
		}()
	}
	pruner := &audit.Pruner{Log: a.audit, Store: a.store, Retention: cfg.Audit.Retention, Logger: logging.Sub(log, "audit")}
	go pruner.Run(ctx)
	if cfg.Backup.Schedule > 0 {
		sched := &backup.Scheduler{
			Interval:   cfg.Backup.Schedule,
			Dir:        cfg.Backup.Dir,
			Recipients: cfg.Backup.Recipients,
			Keep: backup.KeepPolicy{Last: cfg.Backup.KeepLast, Daily: cfg.Backup.KeepDaily,
				Weekly: cfg.Backup.KeepWeekly, Monthly: cfg.Backup.KeepMonthly},
			Store:            a.store,
			DataDir:          cfg.DataDir,
			Audit:            a.audit,
			MapwrightVersion: version.String(),
			Logger:           logging.Sub(log, "backup"),
			OnRun: func(r backup.RunResult) {
				m.BackupRun(r.Err == nil, r.Start.Add(r.Duration))
			},
		}
		go func() {
			if err := sched.Run(ctx); err != nil && ctx.Err() == nil {
				log.Error("scheduled backups stopped", logging.KeyErr, err)
			}
		}()
	}
	aggDone := make(chan struct{})
	go func() {
		defer close(aggDone)
		agg.Run(ctx)
	}()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-reload:
				a.reloadTilesets(ctx, catalog, m, "system")
			}
		}
	}()

	runErr := srv.Run(ctx)
	stopBackground()
	// The aggregator writes its last minute once ctx is done; wait for it
	// before the store closes.
	<-aggDone
	// The context is done: record the stop with a fresh one.
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.keys.FlushLastUsed(stopCtx); err != nil {
		log.Warn("flush last-used times", logging.KeyErr, err)
	}
	a.auditSystem(stopCtx, audit.ActionServerStop, nil)
	log.Info("mapwrightd stopped")
	return runErr
}

// daemonInfo is what a running daemon tells its caller once ready.
type daemonInfo struct {
	PublicAddr    string
	HTTPAddr      string
	AdminAddr     string
	AdminSocket   string
	CAPath        string
	CAFingerprint string
}

// serverCert returns the certificate of the TLS listeners: the configured
// one, else the local CA's server certificate (created on first use).
func serverCert(cfg config.Config, log *slog.Logger) (tls.Certificate, *daemonInfo, error) {
	info := &daemonInfo{}
	if cfg.Listen.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Listen.TLSCert, cfg.Listen.TLSKey)
		if err != nil {
			return tls.Certificate{}, nil, fmt.Errorf("%w: load TLS certificate: %w", errUsage, err)
		}
		return cert, info, nil
	}
	dir := filepath.Join(cfg.DataDir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("create %s: %w", dir, err)
	}
	var hosts []string
	for _, addr := range []string{cfg.Listen.Addr, cfg.Admin.Addr} {
		if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
			hosts = append(hosts, host)
		}
	}
	mat, err := certs.EnsureLocalCA(dir, hosts, time.Now())
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("%w: local CA: %w", errUnsafeDataDir, err)
	}
	if mat.Created {
		log.Info("created a local CA for TLS; add it to your clients' trust store",
			logging.KeyPath, mat.CAPath, logging.KeyFingerprint, mat.CAFingerprint)
	} else {
		log.Info("using the local CA", logging.KeyPath, mat.CAPath, logging.KeyFingerprint, mat.CAFingerprint)
	}
	info.CAPath, info.CAFingerprint = mat.CAPath, mat.CAFingerprint
	return mat.ServerCert, info, nil
}

// auditSystem appends an event by the daemon itself. A failure is logged:
// the event it would record has already happened.
func (a *app) auditSystem(ctx context.Context, action string, details map[string]string) {
	_, err := a.audit.AppendStandalone(ctx, a.store, audit.Event{Actor: actorSystem, Action: action, Details: details})
	if err != nil && !errors.Is(err, context.Canceled) {
		a.log.Error("write audit event", "action", action, logging.KeyErr, err)
	}
}

// reloadTilesets rescans the tiles directory, keeping requests in flight on
// the sources they hold, and records the reload.
func (a *app) reloadTilesets(ctx context.Context, c *tiles.Catalog, m *metrics.Metrics, actor string) error {
	err := c.Reload(ctx)
	m.SetTilesets(c.Loaded(), c.Failed())
	outcome := audit.OutcomeSuccess
	details := map[string]string{"loaded": fmt.Sprint(c.Loaded()), "failed": fmt.Sprint(c.Failed())}
	if err != nil {
		outcome = audit.OutcomeFailure
		details["error"] = err.Error()
		a.log.Error("reload tilesets", logging.KeyErr, err)
	} else {
		a.log.Info("tilesets reloaded", "loaded", c.Loaded(), "failed", c.Failed())
	}
	if _, aerr := a.audit.AppendStandalone(ctx, a.store, audit.Event{
		Actor: actor, Action: audit.ActionTilesetReload, Outcome: outcome, Details: details,
	}); aerr != nil {
		a.log.Error("write audit event", "action", audit.ActionTilesetReload, logging.KeyErr, aerr)
	}
	return err
}

// newQuietLogger is the logger of one-shot commands (init): warnings and
// errors only, so their own output stays readable.
func newQuietLogger(s Streams, cfg config.Config) (*slog.Logger, error) {
	log, err := logging.New(s.Err, "warn", cfg.Log.Format)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return log, nil
}
