package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/contexts"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
)

// contextRemoveOptions are the inputs of `mwctl context remove`.
type contextRemoveOptions struct {
	IO         *iostreams.IOStreams
	Config     func() (*contexts.File, error)
	ConfigPath func() (string, error)

	Name string
}

func newCmdContextRemove(f *Factory, runF func(context.Context, *contextRemoveOptions) error) *cobra.Command {
	opts := &contextRemoveOptions{IO: f.IOStreams, Config: f.Config, ConfigPath: f.ConfigPath}
	cmd := &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   "Remove a context and the credentials stored with it",
		Long: `Remove a context, with any key or session stored in it. A token file it
named is left alone. If it was the current context, none is current
afterwards. The session, if any, is not ended on the server: run mwctl
logout first for that.`,
		Args:              exactArgs("NAME"),
		Annotations:       map[string]string{annotationNoOutput: "prints a confirmation"},
		ValidArgsFunction: completeContextArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runContextRemove(cmd.Context(), opts)
		},
	}
	return cmd
}

func runContextRemove(_ context.Context, opts *contextRemoveOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	wasCurrent := cfg.CurrentContext == opts.Name
	if err := cfg.Remove(opts.Name); err != nil {
		return err
	}
	path, err := opts.ConfigPath()
	if err != nil {
		return err
	}
	if err := cfg.Save(path); err != nil {
		return err
	}
	msg := fmt.Sprintf("Removed context %s", opts.Name)
	if wasCurrent {
		msg += "; no context is current now"
	}
	fmt.Fprintln(opts.IO.ErrOut, msg+".")
	return nil
}
