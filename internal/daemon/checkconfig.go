package daemon

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/config"
)

func newCheckConfigCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check-config",
		Short: "Validate a configuration (file, environment and flags) and exit",
		Long: `check-config loads the configuration exactly as serve would (defaults, then
the --config file, then MAPWRIGHT_* environment variables, then flags),
validates it and prints the result. A bad field is named in the error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "configuration ok (data dir %s, database %s)\n", cfg.DataDir, describeDatabase(cfg.DatabaseURL))
			return nil
		},
	}
	config.BindFlags(cmd.Flags())
	return cmd
}

// loadConfig loads and validates the configuration of cmd's flags; any
// problem is a usage error (exit 2).
func loadConfig(cmd *cobra.Command) (config.Config, error) {
	file, _ := cmd.Flags().GetString("config")
	cfg, err := config.Load(config.LoadOptions{File: file, Flags: cmd.Flags()})
	if err != nil {
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%w: invalid configuration: %w", errUsage, err)
	}
	return cfg, nil
}

func describeDatabase(url string) string {
	if url == "" {
		return "embedded SQLite"
	}
	return config.RedactURL(url)
}
