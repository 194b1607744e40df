// Package logging builds the slog loggers of both binaries and holds every
// attribute key in one place, so log lines stay greppable and stable.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Attribute keys used across Mapwright's logs. Values that could carry a
// secret or a personal datum must already be redacted or truncated.
const (
	KeySubsystem   = "subsystem"
	KeyErr         = "err"
	KeyAddr        = "addr"
	KeyPath        = "path"
	KeyDataDir     = "data_dir"
	KeyBackend     = "backend"
	KeyDatabase    = "database"
	KeyVersion     = "version"
	KeyTileset     = "tileset"
	KeyKey         = "key" // always apikey.Redact'ed
	KeyKeyID       = "key_id"
	KeyClientIP    = "client_ip" // always truncated
	KeyMethod      = "method"
	KeyRoute       = "route"
	KeyStatus      = "status"
	KeyDuration    = "duration"
	KeyBytes       = "bytes"
	KeyReason      = "reason"
	KeyActor       = "actor"
	KeyCount       = "count"
	KeySignal      = "signal"
	KeyFingerprint = "fingerprint"
)

// New returns a logger writing to w at level ("debug", "info", "warn",
// "error") in format ("text" or "json").
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToLower(level))); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
}

// Sub returns the logger of one subsystem ("store", "tiles", "admin", ...).
func Sub(l *slog.Logger, name string) *slog.Logger { return l.With(KeySubsystem, name) }
