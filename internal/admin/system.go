package admin

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/logging"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/tiles"
	"github.com/mapwright/mapwright/pkg/client"
)

func (a *Admin) status(w http.ResponseWriter, r *http.Request, _ *principal) {
	ctx, cancel := withTimeout(r.Context())
	defer cancel()
	now := a.now()
	out := client.Status{
		Version:   a.opts.Version,
		StartedAt: a.opts.StartedAt,
		Backend:   a.opts.Backend,
		Ready:     a.opts.Store.Ping(ctx) == nil,
		Keys:      map[string]int{},
	}
	if !a.opts.StartedAt.IsZero() {
		out.UptimeSeconds = now.Sub(a.opts.StartedAt).Seconds()
	}
	entries := a.opts.Catalog.List()
	out.Tilesets.Loaded, out.Tilesets.Failed = countTilesets(entries)
	if out.Ready {
		v, err := a.opts.Store.SchemaVersion(ctx)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out.SchemaVersion = v
		counts, err := a.opts.Store.CountKeys(ctx, store.Micro(now))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		for st, n := range counts {
			out.Keys[string(st)] = n
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func countTilesets(entries []tiles.Entry) (loaded, failed int) {
	for _, e := range entries {
		if e.Status == tiles.StatusOK {
			loaded++
		} else {
			failed++
		}
	}
	return loaded, failed
}

func (a *Admin) tilesetList() client.TilesetList {
	entries := a.opts.Catalog.List()
	out := client.TilesetList{Tilesets: make([]client.Tileset, 0, len(entries))}
	for _, e := range entries {
		out.Tilesets = append(out.Tilesets, client.Tileset{
			Name:    e.Name,
			Path:    e.Path,
			Format:  string(e.Format),
			MinZoom: e.MinZoom,
			MaxZoom: e.MaxZoom,
			Public:  a.public[e.Name],
			Status:  string(e.Status),
			Error:   e.Error,
		})
	}
	out.Loaded, out.Failed = countTilesets(entries)
	return out
}

func (a *Admin) listTilesets(w http.ResponseWriter, _ *http.Request, _ *principal) {
	writeJSON(w, http.StatusOK, a.tilesetList())
}

// reloadTilesets rescans the tileset directory and records a
// tileset.reload event with the outcome. A reload cannot be undone, so the
// event follows it; if the event cannot be written the caller is told so.
func (a *Admin) reloadTilesets(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := decodeJSON(r, &struct{}{}, true); err != nil {
		a.fail(w, r, err)
		return
	}
	reloadErr := a.opts.Catalog.Reload(r.Context())
	list := a.tilesetList()
	ev := audit.Event{
		Actor: p.Actor, Action: audit.ActionTilesetReload, ClientIP: p.ClientIP,
		Details: map[string]string{"loaded": strconv.Itoa(list.Loaded), "failed": strconv.Itoa(list.Failed)},
	}
	if reloadErr != nil {
		ev.Outcome = audit.OutcomeFailure
		ev.Details["error"] = reloadErr.Error()
	}
	_, auditErr := a.opts.Audit.AppendStandalone(r.Context(), a.opts.Store, ev)
	if a.m != nil {
		a.m.SetTilesets(list.Loaded, list.Failed)
	}
	switch {
	case reloadErr != nil:
		a.log.Error("reload tilesets", slog.String(logging.KeyErr, reloadErr.Error()))
		writeProblem(w, http.StatusInternalServerError, probInternal, reloadErr.Error())
	case auditErr != nil:
		a.log.Error("record tileset reload", slog.String(logging.KeyErr, auditErr.Error()))
		writeProblem(w, http.StatusInternalServerError, probInternal,
			"the tilesets were reloaded but the audit event could not be written")
	default:
		writeJSON(w, http.StatusOK, list)
	}
}

func (a *Admin) metrics(w http.ResponseWriter, r *http.Request, _ *principal) {
	a.prom.ServeHTTP(w, r)
}

// newMetricsHandler serves the gatherer in the Prometheus text format. A
// collector that fails is logged and left out rather than failing the
// whole scrape.
func newMetricsHandler(g prometheus.Gatherer, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

func (a *Admin) readyz(w http.ResponseWriter, r *http.Request, _ *principal) {
	ctx, cancel := withTimeout(r.Context())
	defer cancel()
	if err := a.opts.Store.Ping(ctx); err != nil {
		a.log.Warn("not ready", slog.String(logging.KeyErr, err.Error()))
		writeProblem(w, http.StatusServiceUnavailable, probNotReady, fmt.Sprintf("the %s database does not answer", a.opts.Store.Backend()))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ready\n"))
}

func (a *Admin) livez(w http.ResponseWriter, _ *http.Request, _ *principal) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// withTimeout is a context for a quick database check.
func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, readyTimeout)
}
