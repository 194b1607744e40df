package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/logging"
	"github.com/mapwright/mapwright/internal/tui"
	"github.com/mapwright/mapwright/pkg/client"
)

// minDashInterval is the shortest poll interval mwctl dash accepts: faster
// polling would load the server for no visible gain.
const minDashInterval = 500 * time.Millisecond

// dashOptions are the inputs of `mwctl dash`.
type dashOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	Interval time.Duration
	LogFile  string
}

func newCmdDash(f *Factory, runF func(context.Context, *dashOptions) error) *cobra.Command {
	opts := &dashOptions{IO: f.IOStreams, Client: f.Client, Interval: tui.DefaultInterval}
	cmd := &cobra.Command{
		Use:   "dash",
		Short: "Watch the server and manage keys in an interactive dashboard",
		Long: `Open a live dashboard of the server in the terminal.

Pages (tab and shift+tab, or 1 to 4):
  Overview   version, uptime, backend, readiness, tilesets loaded and
             failed, keys by state, and the public listener's requests per
             second (2xx, 4xx, 429, 5xx) and p50/p95 latency as sparklines
             over the last minutes, from /metrics polled every --interval
  Keys       every key: / filters, s and S sort, enter shows every field,
             c creates, r rotates (asks the grace period, 24h by default),
             x revokes (asks the reason, then y to confirm). A new key is
             shown once, in a box; copy it then, it is never shown again.
  Audit      the audit log, newest first, live from the server's event
             stream: a filters by action (a prefix such as key.), u by
             actor, enter shows one event, v verifies the hash chain
  Tilesets   format, zoom range, status and error of each tileset; R
             reloads them

? lists every key; q or ctrl+c quits. When the server stops answering,
the status bar says so and the dashboard keeps trying, waiting longer each
time (up to 30s); the audit stream resumes where it stopped.

The dashboard needs a terminal. It writes no logs to the screen: --log-file
sends them to a file. NO_COLOR, TERM=dumb or --no-color turn colour off.`,
		Example: `  mwctl dash
  mwctl --context prod dash --log-file dash.log`,
		Args:        noArgs,
		Annotations: map[string]string{annotationNoOutput: "interactive dashboard"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Interval < minDashInterval {
				return usageErrorf("--interval %s: the shortest is %s", opts.Interval, minDashInterval)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDash(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Interval, "interval", tui.DefaultInterval, "how often to poll the server's status and metrics")
	cmd.Flags().StringVar(&opts.LogFile, "log-file", "", "append the dashboard's logs to this file (default: no logs)")
	_ = cmd.MarkFlagFilename("log-file")
	return cmd
}

func runDash(ctx context.Context, opts *dashOptions) error {
	if !opts.IO.IsStdinTTY || !opts.IO.IsStdoutTTY {
		return usageErrorf("mwctl dash needs a terminal; in scripts use mwctl status, mwctl keys list or mwctl tilesets list")
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	// A wrong address or credentials fail here, with the usual message,
	// exit code and hint, rather than inside a screen that then retries.
	if _, err := c.Status(ctx); err != nil {
		return err
	}
	logger, closeLog, err := dashLogger(opts.LogFile)
	if err != nil {
		return err
	}
	defer closeLog()
	r := lipgloss.NewRenderer(opts.IO.Out)
	if !opts.IO.ColorEnabled {
		r.SetColorProfile(termenv.Ascii)
	}
	logger.Info("dashboard started", logging.KeyAddr, c.Server())
	err = tui.Run(ctx, tui.Options{
		API:      c,
		Renderer: r,
		Logger:   logger,
		Interval: opts.Interval,
	}, opts.IO.In, opts.IO.Out)
	logger.Info("dashboard stopped", logging.KeyErr, err)
	return err
}

// dashLogger returns the dashboard's logger: to path (appended, mode 0600)
// or nowhere. The terminal is the dashboard's; a log line there would
// tear the screen.
func dashLogger(path string) (*slog.Logger, func(), error) {
	if path == "" {
		return slog.New(slog.DiscardHandler), func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open log file: %w", err)
	}
	return slog.New(slog.NewTextHandler(f, nil)), func() { _ = f.Close() }, nil
}
