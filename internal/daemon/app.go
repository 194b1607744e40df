package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/config"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/logging"
	"github.com/mapwright/mapwright/internal/metrics"
	"github.com/mapwright/mapwright/internal/sessions"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/open"
)

// app holds the daemon's long-lived parts, opened in dependency order and
// closed in reverse.
type app struct {
	cfg      config.Config
	log      *slog.Logger
	store    store.Store
	audit    *audit.Log
	auditKy  []byte
	keys     *keys.Service
	sessions *sessions.Manager
	started  time.Time
}

// openApp opens the data directory's pieces: the store (migrating it), the
// audit key and the key service. It refuses, without writing anything, a
// database whose audit key has gone missing. m, when not nil, receives the
// store's latencies, the committed audit events and the key service's
// verify cache lookups.
func openApp(ctx context.Context, cfg config.Config, log *slog.Logger, m *metrics.Metrics) (*app, error) {
	if err := ensureDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	st, err := open.Open(ctx, cfg.DataDir, cfg.DatabaseURL)
	if err != nil {
		if errors.Is(err, store.ErrSchemaTooNew) || errors.Is(err, store.ErrUnavailable) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errUnsafeDataDir, err)
	}
	var keyCache keys.CacheRecorder
	if m != nil {
		st = meterStore(st, m)
		keyCache = m.KeyCache()
	}
	a := &app{cfg: cfg, log: log, store: st, started: time.Now()}
	if err := a.openAudit(ctx); err != nil {
		st.Close()
		return nil, err
	}
	a.keys = keys.New(st, a.audit, keys.Options{
		CacheSize:     cfg.Keys.CacheSize,
		CacheTTL:      cfg.Keys.CacheTTL,
		OutageGrace:   cfg.Keys.OutageGrace,
		Logger:        logging.Sub(log, "keys"),
		CacheRecorder: keyCache,
	})
	if _, ok := st.(store.KeyWatcher); ok {
		// Other replicas change keys too: until the watcher listens, cached
		// answers are trusted only briefly.
		a.keys.Watching(false, nil)
	}
	sessionKey, err := sessions.OpenKey(ctx, cfg.DataDir, st)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("%w: %w", errUnsafeDataDir, err)
	}
	a.sessions, err = sessions.New(sessions.Options{
		Key: sessionKey, Store: st, Keys: a.keys, Audit: a.audit, Logger: logging.Sub(log, "sessions"),
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

// openAudit loads the audit key. A store that already holds keys or audit
// events must find its key: creating a fresh one would orphan the chain.
func (a *app) openAudit(ctx context.Context) error {
	key, err := audit.OpenKey(ctx, a.cfg.DataDir, a.store)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnsafeDataDir, err)
	}
	a.auditKy = key
	a.audit = audit.New(key, time.Now)
	return nil
}

func (a *app) Close() error { return a.store.Close() }

// actorSystem is the audit actor of what the daemon does by itself.
const actorSystem = "system"
