//go:build tools

// Package tools pins the module's dependencies while the packages that use
// them are written; it is never built.
package tools
import (
 _ "modernc.org/sqlite"
 _ "github.com/jackc/pgx/v5/pgxpool"
 _ "github.com/spf13/cobra"
 _ "github.com/spf13/viper"
 _ "golang.org/x/sync/errgroup"
 _ "golang.org/x/time/rate"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/rogpeppe/go-internal/testscript"
 _ "filippo.io/age"
 _ "github.com/charmbracelet/bubbletea"
 _ "github.com/charmbracelet/lipgloss"
 _ "github.com/charmbracelet/bubbles/table"
 _ "github.com/olekukonko/tablewriter"
 _ "github.com/paulmach/orb/encoding/mvt"
)
