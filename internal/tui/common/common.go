// Package common holds what every page and component of the dashboard
// shares: its size, the styles, the key map, the logger, the clock, and the
// admin API it talks to. A Common value is embedded in each of them; its
// pointer fields are shared, its size is each one's own.
package common

import (
	"context"
	"log/slog"
	"time"

	"github.com/mapwright/mapwright/internal/tui/keymap"
	"github.com/mapwright/mapwright/internal/tui/styles"
	"github.com/mapwright/mapwright/pkg/client"
)

// RequestTimeout bounds one admin API call of the dashboard, so that a
// server that accepts connections but never answers shows up as an error
// instead of a frozen page.
const RequestTimeout = 10 * time.Second

// API is the admin API as the dashboard uses it. *client.Client implements
// it; tests use the same client against an in-memory fake.
type API interface {
	// Server is the admin API address, for the status bar.
	Server() string
	Status(ctx context.Context) (client.Status, error)
	Ready(ctx context.Context) error
	Metrics(ctx context.Context) ([]byte, error)
	ListAllKeys(ctx context.Context, opts client.ListKeysOptions) ([]client.Key, error)
	CreateKey(ctx context.Context, req client.CreateKeyRequest) (client.CreatedKey, error)
	RotateKey(ctx context.Context, id string, grace time.Duration) (client.RotatedKey, error)
	RevokeKey(ctx context.Context, id, reason string) (client.RevokeResult, error)
	ListTilesets(ctx context.Context) (client.TilesetList, error)
	ReloadTilesets(ctx context.Context) (client.TilesetList, error)
	AuditAPI
}

// AuditAPI is the audit part of the admin API.
type AuditAPI interface {
	AuditList(ctx context.Context, q client.AuditQuery) (client.AuditPage, error)
	// FollowAudit streams events above lastEventID to fn, reconnecting
	// with backoff and Last-Event-ID; onRetry hears about each wait.
	FollowAudit(ctx context.Context, lastEventID int64, fn func(client.AuditEvent) error, onRetry func(err error, wait time.Duration)) error
	AuditVerify(ctx context.Context, req client.AuditVerifyRequest) (client.AuditVerifyResult, error)
}

// Common is embedded in every page and component.
type Common struct {
	// Ctx is the dashboard's lifetime: requests end with it.
	Ctx context.Context
	// Width and Height are the component's own size in cells.
	Width, Height int
	// Styles, KeyMap and Logger are shared by every component.
	Styles *styles.Styles
	KeyMap *keymap.KeyMap
	// Logger never writes to the terminal: it goes to a file or nowhere.
	Logger *slog.Logger
	// Now is the clock (fixed in tests).
	Now func() time.Time
	// API is the admin API.
	API API
}

// SetSize sets the component's size.
func (c *Common) SetSize(width, height int) {
	c.Width, c.Height = max(width, 0), max(height, 0)
}

// Request returns a context for one admin API call, bounded by
// RequestTimeout and by the dashboard's lifetime.
func (c *Common) Request() (context.Context, context.CancelFunc) {
	ctx := c.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, RequestTimeout)
}
