package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/contexts"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/pkg/client"
)

// logoutOptions are the inputs of `mwctl logout`.
type logoutOptions struct {
	IO         *iostreams.IOStreams
	Target     func() (*Target, error)
	Config     func() (*contexts.File, error)
	ConfigPath func() (string, error)
	// NewClient builds a client that sends the session, whatever else the
	// target holds.
	NewClient func(*Target) (*client.Client, error)
}

func newCmdLogout(f *Factory, runF func(context.Context, *logoutOptions) error) *cobra.Command {
	opts := &logoutOptions{IO: f.IOStreams, Target: f.Target, Config: f.Config, ConfigPath: f.ConfigPath, NewClient: newClient}
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "End the context's admin session",
		Long: `End the admin session of the context on the server, so its cookie stops
working at once, and remove the cookie from the contexts file. A session
the server has already ended is simply forgotten.`,
		Args:        noArgs,
		Annotations: map[string]string{annotationNoOutput: "prints a confirmation"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runLogout(cmd.Context(), opts)
		},
	}
	return cmd
}

func runLogout(ctx context.Context, opts *logoutOptions) error {
	t, err := opts.Target()
	if err != nil {
		return err
	}
	if t.ContextName == "" {
		return usageErrorf("logout ends the session of a context, and none is in use: select one with --context or `mwctl context use`")
	}
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	cur, err := cfg.Get(t.ContextName)
	if err != nil {
		return err
	}
	if cur.Session == "" {
		fmt.Fprintf(opts.IO.ErrOut, "Not logged in (context %s).\n", t.ContextName)
		return nil
	}
	// The stored session is sent even if it looks expired locally: the
	// server is the judge, and ending it there is the point.
	st := *t
	st.Session, st.ExplicitToken, st.Token = cur.Session, false, ""
	c, err := opts.NewClient(&st)
	if err != nil {
		return err
	}
	if err := c.Logout(ctx); err != nil && !client.IsUnauthorized(err) {
		return err
	}
	if err := saveSession(opts.Config, opts.ConfigPath, t.ContextName, "", nil); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Logged out of %s.\n", t.ContextName)
	return nil
}
