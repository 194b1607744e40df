package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/contexts"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// loginOptions are the inputs of `mwctl login`.
type loginOptions struct {
	IO         *iostreams.IOStreams
	Client     func() (*client.Client, error)
	Target     func() (*Target, error)
	Config     func() (*contexts.File, error)
	ConfigPath func() (string, error)
	Now        func() time.Time
	Format     output.Format

	TOTP string
}

func newCmdLogin(f *Factory, runF func(context.Context, *loginOptions) error) *cobra.Command {
	opts := &loginOptions{
		IO: f.IOStreams, Client: f.Client, Target: f.Target,
		Config: f.Config, ConfigPath: f.ConfigPath, Now: f.Now,
	}
	cmd := &cobra.Command{
		Use:   "login [--totp CODE]",
		Short: "Open an admin session and keep its cookie in the context",
		Long: `Open an admin session with the context's secret key (or --token-file,
--token, MWCTL_TOKEN) and, when the key has TOTP enrolled, a current code
from --totp. The session cookie is stored in the context (the contexts
file is mode 0600) and used by the following commands instead of the key,
until it ends: after 30 minutes idle or 12 hours, or at mwctl logout.

With -o json the output is the session: {"key_id", "expires_at",
"idle_expires_at"}; the cookie itself is never printed.`,
		Example: `  mwctl --context prod login --totp 492039`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runLogin(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.TOTP, "totp", "", "current TOTP code, when the key has TOTP enrolled")
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML)
	return cmd
}

func runLogin(ctx context.Context, opts *loginOptions) error {
	t, err := opts.Target()
	if err != nil {
		return err
	}
	if t.ContextName == "" {
		return usageErrorf("login keeps the session in a context, and none is in use: add one with `mwctl context add` and select it with --context or `mwctl context use`")
	}
	if t.Token == "" {
		return usageErrorf("no secret key to log in with: give the context one (mwctl context add --token-file) or pass --token-file")
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	sess, cookie, err := c.Login(ctx, t.Token, opts.TOTP)
	if err != nil {
		if client.IsUnauthorized(err) && opts.TOTP == "" {
			return fmt.Errorf("%w (if the key has TOTP enrolled, pass --totp CODE)", err)
		}
		return err
	}
	if err := saveSession(opts.Config, opts.ConfigPath, t.ContextName, cookie, &sess.ExpiresAt); err != nil {
		return err
	}
	now := opts.Now()
	p := output.New(opts.IO, opts.Format)
	return p.Print(sess, nil, func() output.Human {
		return output.Message(fmt.Sprintf("Logged in to %s (%s) with key %s. The session ends %s, or after %s idle.\n",
			t.ContextName, t.Server, sess.KeyID, output.Relative(sess.ExpiresAt, now), output.Duration(sess.IdleExpiresAt.Sub(now))))
	})
}

// saveSession stores (or, with an empty cookie, forgets) the session of
// context name and writes the contexts file.
func saveSession(load func() (*contexts.File, error), path func() (string, error), name, cookie string, expires *time.Time) error {
	cfg, err := load()
	if err != nil {
		return err
	}
	ctx, err := cfg.Get(name)
	if err != nil {
		return err
	}
	ctx.Session = cookie
	ctx.SessionExpiresAt = nil
	if cookie != "" && expires != nil && !expires.IsZero() {
		e := expires.UTC()
		ctx.SessionExpiresAt = &e
	}
	p, err := path()
	if err != nil {
		return err
	}
	return cfg.Save(p)
}
