package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/config"
	"github.com/mapwright/mapwright/internal/demo"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/pkg/apikey"
)

type demoOptions struct {
	addr     string
	httpAddr string
	dataDir  string
	keep     bool
	keyRate  float64
	keyBurst int
	public   bool
}

func newDemoCmd(s Streams) *cobra.Command {
	opts := demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Serve the bundled world map on a fresh data directory, with a key ready to use",
		Long: `demo starts mapwrightd on a new temporary data directory (removed on exit
unless --keep) with the bundled Natural Earth countries tileset, creates a
public key allowed from http://localhost:* and https://localhost:*, and
prints the key, the local CA's fingerprint and a curl command that fetches a
tile. It listens on loopback only. Stop it with Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), s, opts)
		},
	}
	cmd.Flags().StringVar(&opts.addr, "addr", "127.0.0.1:8443", "public TLS listener address")
	cmd.Flags().StringVar(&opts.httpAddr, "http-addr", "", "also serve plain HTTP here (for a TLS-terminating proxy or a load test)")
	cmd.Flags().StringVar(&opts.dataDir, "data-dir", "", "data directory to use instead of a temporary one")
	cmd.Flags().Float64Var(&opts.keyRate, "key-rate", 0, "rate limit of the demo key in requests/s (0: the server default, 100)")
	cmd.Flags().IntVar(&opts.keyBurst, "key-burst", 0, "burst of the demo key (0: the server default, 400)")
	cmd.Flags().BoolVar(&opts.public, "public", false, "serve the demo tileset without a key too (to compare keyed and public serving)")
	cmd.Flags().BoolVar(&opts.keep, "keep", false, "keep the temporary data directory on exit")
	return cmd
}

func runDemo(ctx context.Context, s Streams, opts demoOptions) error {
	dir := opts.dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "mapwright-demo-")
		if err != nil {
			return fmt.Errorf("create demo data directory: %w", err)
		}
		dir = tmp
		if !opts.keep {
			defer os.RemoveAll(tmp)
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	// The demo ignores MAPWRIGHT_* settings and config files: it must run
	// the same on any machine.
	cfg, err := config.Load(config.LoadOptions{Environ: []string{"HOME=" + dir}})
	if err != nil {
		return err
	}
	cfg.DataDir = dir
	cfg.Tiles.Dir = filepath.Join(dir, "tiles")
	cfg.Admin.Socket = filepath.Join(dir, "admin.sock")
	cfg.Listen.Addr = opts.addr
	cfg.Listen.HTTPAddr = opts.httpAddr
	if opts.public {
		cfg.Tiles.Public = []string{demo.TilesetName}
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := ensureDataDir(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Tiles.Dir, 0o700); err != nil {
		return fmt.Errorf("create tiles directory: %w", err)
	}
	if _, err := demo.WriteTileset(cfg.Tiles.Dir); err != nil {
		return fmt.Errorf("write demo tileset: %w", err)
	}
	return runServe(ctx, s, cfg, func(ctx context.Context, a *app, info *daemonInfo) error {
		issued, err := a.keys.Issue(ctx, keys.IssueRequest{
			Kind:     apikey.Public,
			Name:     "demo",
			Tilesets: []string{demo.TilesetName},
			Origins:  []string{"http://localhost:*", "https://localhost:*"},
			Labels:   map[string]string{"purpose": "demo"},
			Rate:     opts.keyRate,
			Burst:    opts.keyBurst,
		}, keys.Actor{Name: actorSystem})
		if err != nil {
			return fmt.Errorf("create demo key: %w", err)
		}
		port := portOf(info.PublicAddr)
		base := "https://localhost:" + port
		fmt.Fprintf(s.Out, `Mapwright demo is running (data directory %s).

  Public key (shown once; it is only valid in this demo):
    %s

  Local CA: %s
  CA SHA-256 fingerprint: %s

  Fetch a tile:
    curl --cacert %s -o tile.mvt "%s/v1/tiles/%s/0/0/0.mvt?key=%s"

  TileJSON for a web map:
    %s/v1/tiles/%s.json?key=%s

Press Ctrl-C to stop.
`, dir, issued.Token, info.CAPath, info.CAFingerprint, info.CAPath, base, demo.TilesetName, issued.Token,
			base, demo.TilesetName, issued.Token)
		return nil
	})
}
