package cli

import (
	"github.com/spf13/cobra"
)

// newCmdContext is the `mwctl context` group.
func newCmdContext(f *Factory) *cobra.Command {
	cmd := newGroup("context", "Manage named servers and their credentials",
		`A context names an admin API address with the credentials to use there:
a secret key (stored, or read from a file at each use), a CA certificate
or pinned fingerprint, and the session of mwctl login. The current context
is used when neither --server nor --context is given.

Contexts live in $XDG_CONFIG_HOME/mwctl/config.yaml (or
~/.config/mwctl/config.yaml, or $MWCTL_CONFIG), written with mode 0600.
Listing never shows a stored key or session.`)
	cmd.AddCommand(
		newCmdContextAdd(f, nil),
		newCmdContextUse(f, nil),
		newCmdContextList(f, nil),
		newCmdContextRemove(f, nil),
	)
	return cmd
}
