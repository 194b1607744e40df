package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/contexts"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
)

// contextUseOptions are the inputs of `mwctl context use`.
type contextUseOptions struct {
	IO         *iostreams.IOStreams
	Config     func() (*contexts.File, error)
	ConfigPath func() (string, error)

	Name string
}

func newCmdContextUse(f *Factory, runF func(context.Context, *contextUseOptions) error) *cobra.Command {
	opts := &contextUseOptions{IO: f.IOStreams, Config: f.Config, ConfigPath: f.ConfigPath}
	cmd := &cobra.Command{
		Use:               "use NAME",
		Short:             "Make a context the current one",
		Args:              exactArgs("NAME"),
		Annotations:       map[string]string{annotationNoOutput: "prints a confirmation"},
		ValidArgsFunction: completeContextArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runContextUse(cmd.Context(), opts)
		},
	}
	return cmd
}

func runContextUse(_ context.Context, opts *contextUseOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if err := cfg.Use(opts.Name); err != nil {
		return err
	}
	path, err := opts.ConfigPath()
	if err != nil {
		return err
	}
	if err := cfg.Save(path); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Now using context %s.\n", opts.Name)
	return nil
}

// completeContextArg completes the first argument with context names.
func completeContextArg(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	names := completeContexts(f)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return names(cmd, args, toComplete)
	}
}
