package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// completionOptions are the inputs of `mwctl completion`.
type completionOptions struct {
	Out   io.Writer
	Root  *cobra.Command
	Shell string
}

func newCmdCompletion(f *Factory, runF func(context.Context, *completionOptions) error) *cobra.Command {
	opts := &completionOptions{Out: f.IOStreams.Out}
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print the completion script of a shell on standard output. Completion
covers commands, flags, fixed flag values and context names.

The same scripts are shipped in the release's completions directory.`,
		Example: `  # bash, for the current user
  mwctl completion bash > ~/.local/share/bash-completion/completions/mwctl
  # zsh, in a directory of $fpath
  mwctl completion zsh > "${fpath[1]}/_mwctl"
  # fish
  mwctl completion fish > ~/.config/fish/completions/mwctl.fish
  # PowerShell, in the profile
  mwctl completion powershell | Out-String | Invoke-Expression`,
		ValidArgs:   []string{"bash", "zsh", "fish", "powershell"},
		Args:        exactArgs("SHELL"),
		Annotations: map[string]string{annotationNoOutput: "prints a shell script"},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Shell = args[0]
			opts.Root = cmd.Root()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runCompletion(cmd.Context(), opts)
		},
	}
	return cmd
}

func runCompletion(_ context.Context, opts *completionOptions) error {
	if err := writeCompletion(opts.Root, opts.Shell, opts.Out); err != nil {
		return err
	}
	return nil
}

// writeCompletion writes root's completion script for shell.
func writeCompletion(root *cobra.Command, shell string, w io.Writer) error {
	var err error
	switch shell {
	case "bash":
		err = root.GenBashCompletionV2(w, true)
	case "zsh":
		err = root.GenZshCompletion(w)
	case "fish":
		err = root.GenFishCompletion(w, true)
	case "powershell":
		err = root.GenPowerShellCompletionWithDesc(w)
	default:
		return usageErrorf("unknown shell %q: want bash, zsh, fish or powershell", shell)
	}
	if err != nil {
		return fmt.Errorf("write %s completion: %w", shell, err)
	}
	return nil
}
