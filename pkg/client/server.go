package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Status returns the server's version, uptime, backend and counts (GET
// /admin/v1/status).
func (c *Client) Status(ctx context.Context) (Status, error) {
	var out Status
	if err := c.call(ctx, request{method: http.MethodGet, path: "/admin/v1/status"}, &out); err != nil {
		return Status{}, fmt.Errorf("get status: %w", err)
	}
	return out, nil
}

// ListTilesets returns the tilesets the server knows, loaded or failed (GET
// /admin/v1/tilesets).
func (c *Client) ListTilesets(ctx context.Context) (TilesetList, error) {
	var out TilesetList
	if err := c.call(ctx, request{method: http.MethodGet, path: "/admin/v1/tilesets"}, &out); err != nil {
		return TilesetList{}, fmt.Errorf("list tilesets: %w", err)
	}
	if out.Tilesets == nil {
		out.Tilesets = []Tileset{}
	}
	return out, nil
}

// ReloadTilesets makes the server rescan its tileset directory and returns
// the result (POST /admin/v1/tilesets/reload). Tilesets that fail to load
// are listed with Status "failed"; that is not an error of the call.
func (c *Client) ReloadTilesets(ctx context.Context) (TilesetList, error) {
	var out TilesetList
	if err := c.call(ctx, request{method: http.MethodPost, path: "/admin/v1/tilesets/reload"}, &out); err != nil {
		return TilesetList{}, fmt.Errorf("reload tilesets: %w", err)
	}
	if out.Tilesets == nil {
		out.Tilesets = []Tileset{}
	}
	return out, nil
}

// Metrics returns the Prometheus text exposition of GET /metrics.
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	r := request{method: http.MethodGet, path: "/metrics"}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("get metrics: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetrics+1))
	if err != nil {
		return nil, fmt.Errorf("get metrics: read: %w", err)
	}
	if len(b) > maxMetrics {
		return nil, fmt.Errorf("get metrics: answer larger than %d bytes", maxMetrics)
	}
	return b, nil
}

// Ready returns nil when the server answers GET /readyz with 200 (its store
// is reachable), else an error: an *APIError with status 503 when the
// server runs but is not ready.
func (c *Client) Ready(ctx context.Context) error {
	if err := c.call(ctx, request{method: http.MethodGet, path: "/readyz"}, nil); err != nil {
		return fmt.Errorf("readiness: %w", err)
	}
	return nil
}
