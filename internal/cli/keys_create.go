package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// keysCreateOptions are the inputs of `mwctl keys create`.
type keysCreateOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Now    func() time.Time
	Format output.Format

	Name      string
	Kind      string
	Scopes    []string
	Tilesets  []string
	Origins   []string
	Rate      float64
	Burst     int
	Expires   string
	NotBefore string
	Labels    []string
	Quiet     bool
}

func newCmdKeysCreate(f *Factory, runF func(context.Context, *keysCreateOptions) error) *cobra.Command {
	opts := &keysCreateOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "create --name NAME [flags]",
		Short: "Issue a new API key and print it once",
		Long: `Issue a new API key. Its token is printed once, on standard output; the
server keeps only its hash, so store it now.

By default the key is public (tiles only). A public key with no --origin
is refused when a browser sends Origin or Referer: give the sites that may
use it. With no --tileset the key reaches every tileset. --rate and
--burst default to the server's limits (100 requests/s, burst 400).

--expires and --not-before take a duration from now (720h, 30d), an
RFC 3339 time (2030-12-31T23:59:59Z) or a date (2030-12-31, midnight UTC).

With -o json the output is the created key with its token in "key":
{"id", "key", "name", "kind", "scopes", "tilesets", "origins",
"expires_at", ...}. --quiet prints the token alone.`,
		Example: `  # A browser key for one site and one tileset, valid 90 days
  mwctl keys create --name web-prod --origin https://maps.example.com \
    --tileset osm --expires 90d

  # A secret key for a CI job that rotates keys, stored straight into a file
  mwctl keys create --name ci --kind secret --scope keys:read \
    --scope keys:rotate --quiet > ci.key`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runKeysCreate(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Name, "name", "", "name of the key, for people (required)")
	fl.StringVar(&opts.Kind, "kind", "public", "kind of key: public (tiles) or secret (admin API)")
	fl.StringSliceVar(&opts.Scopes, "scope", nil, "scope granted, repeatable (default: the server's for the kind)")
	fl.StringSliceVar(&opts.Tilesets, "tileset", nil, "tileset the key may read, repeatable (default: all)")
	fl.StringSliceVar(&opts.Origins, "origin", nil, "browser origin allowed, repeatable: https://maps.example.com or https://*.example.com")
	fl.Float64Var(&opts.Rate, "rate", 0, "requests per second (0: the server's default)")
	fl.IntVar(&opts.Burst, "burst", 0, "burst of requests above the rate (0: the server's default)")
	fl.StringVar(&opts.Expires, "expires", "", "when the key stops working: a duration (720h, 30d), an RFC 3339 time or a date")
	fl.StringVar(&opts.NotBefore, "not-before", "", "when the key starts working, in the same forms as --expires")
	fl.StringArrayVar(&opts.Labels, "label", nil, "label key=value, repeatable")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "print only the key's token")
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML)
	_ = cmd.RegisterFlagCompletionFunc("kind", fixedCompletion(keyKinds...))
	return cmd
}

func runKeysCreate(ctx context.Context, opts *keysCreateOptions) error {
	if strings.TrimSpace(opts.Name) == "" {
		return usageErrorf("--name is required")
	}
	if err := checkChoice("kind", opts.Kind, keyKinds); err != nil {
		return err
	}
	if opts.Quiet && opts.Format != output.FormatTable {
		return usageErrorf("--quiet prints the token alone and cannot be combined with -o %s", opts.Format)
	}
	if opts.Rate < 0 || opts.Burst < 0 {
		return usageErrorf("--rate and --burst cannot be negative")
	}
	now := opts.Now()
	expires, err := parseWhen("expires", opts.Expires, now)
	if err != nil {
		return err
	}
	notBefore, err := parseWhen("not-before", opts.NotBefore, now)
	if err != nil {
		return err
	}
	if expires != nil && notBefore != nil && !expires.After(*notBefore) {
		return usageErrorf("--expires must be after --not-before")
	}
	lbls, err := parseLabels("label", opts.Labels)
	if err != nil {
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	created, err := c.CreateKey(ctx, client.CreateKeyRequest{
		Name:      opts.Name,
		Kind:      opts.Kind,
		Scopes:    opts.Scopes,
		Tilesets:  opts.Tilesets,
		Origins:   opts.Origins,
		Rate:      opts.Rate,
		Burst:     opts.Burst,
		Labels:    lbls,
		NotBefore: notBefore,
		ExpiresAt: expires,
	})
	if err != nil {
		return err
	}
	if opts.Quiet {
		_, err := fmt.Fprintln(opts.IO.Out, created.Token)
		return err
	}
	p := output.New(opts.IO, opts.Format)
	if err := p.Print(created, nil, func() output.Human { return keyDetail(p, created.Key, created.Token, now) }); err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.ErrOut, shownOnce)
	return nil
}

// fixedCompletion completes a flag from fixed values.
func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}
