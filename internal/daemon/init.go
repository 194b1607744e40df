package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/config"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/pkg/apikey"
)

type initOptions struct {
	adminKeyFile string
}

func newInitCmd(s Streams) *cobra.Command {
	opts := initOptions{}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a data directory: database, audit key, TLS material and the first admin key",
		Long: `init prepares a new data directory (mode 0700): the database (embedded
SQLite, or the PostgreSQL of --database-url), the audit key, the local CA and
server certificate, and a first secret key with scope admin.

The admin key is printed once and never stored; with --admin-key-file it is
written to that file (mode 0600) instead and only the path is printed. Use it
for the admin API over TCP or from CI; on this machine the admin socket
(DATA/admin.sock) gives admin access without a key.

init refuses a data directory that already holds a database or an audit key,
and a database that already holds keys: it never overwrites anything.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return runInit(cmd.Context(), s, cfg, opts)
		},
	}
	config.BindFlags(cmd.Flags())
	cmd.Flags().StringVar(&opts.adminKeyFile, "admin-key-file", "", "write the first admin key to this file (mode 0600) instead of printing it")
	return cmd
}

func runInit(ctx context.Context, s Streams, cfg config.Config, opts initOptions) error {
	for _, name := range []string{"mapwright.db", "audit.key"} {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, name)); err == nil {
			return fmt.Errorf("%w: %s is already initialised (it holds %s)", errUnsafeDataDir, cfg.DataDir, name)
		}
	}
	var keyFile *os.File
	if opts.adminKeyFile != "" {
		// Created before anything else so that a bad path fails early,
		// and exclusively so that an existing file is never replaced.
		f, err := os.OpenFile(opts.adminKeyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%w: admin key file %s already exists", errUsage, opts.adminKeyFile)
			}
			return fmt.Errorf("admin key file: %w", err)
		}
		keyFile = f
		defer func() {
			if keyFile != nil {
				keyFile.Close()
				os.Remove(opts.adminKeyFile)
			}
		}()
	}

	log, err := newQuietLogger(s, cfg)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	counts, err := a.store.CountKeys(ctx, a.started)
	if err != nil {
		return fmt.Errorf("count keys: %w", err)
	}
	for _, n := range counts {
		if n > 0 {
			return fmt.Errorf("%w: the database already holds keys; init only prepares a new one", errUnsafeDataDir)
		}
	}
	_, info, err := serverCert(cfg, log)
	if err != nil {
		return err
	}
	issued, err := a.keys.Issue(ctx, keys.IssueRequest{
		Kind:   apikey.Secret,
		Name:   "initial admin",
		Scopes: []string{keys.ScopeAdmin},
	}, keys.Actor{Name: actorSystem})
	if err != nil {
		return fmt.Errorf("create the first admin key: %w", err)
	}

	fmt.Fprintf(s.Out, "Initialised %s (database: %s).\n", cfg.DataDir, describeDatabase(cfg.DatabaseURL))
	fmt.Fprintf(s.Out, "Local CA: %s\nCA SHA-256 fingerprint: %s\n", info.CAPath, info.CAFingerprint)
	if keyFile != nil {
		if _, err := fmt.Fprintln(keyFile, issued.Token); err != nil {
			return fmt.Errorf("write admin key file: %w", err)
		}
		if err := keyFile.Sync(); err != nil {
			return fmt.Errorf("write admin key file: %w", err)
		}
		if err := keyFile.Close(); err != nil {
			return fmt.Errorf("write admin key file: %w", err)
		}
		keyFile = nil
		fmt.Fprintf(s.Out, "Admin key (id %s) written to %s.\n", issued.Key.ID, opts.adminKeyFile)
		return nil
	}
	fmt.Fprintf(s.Out, "Admin key (id %s); it will not be shown again:\n%s\n", issued.Key.ID, issued.Token)
	return nil
}
