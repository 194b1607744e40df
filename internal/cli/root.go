package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/version"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// annotationNoOutput marks a command that prints no data (only a short
// confirmation, a script, or nothing), and so has no -o flag. The command
// tree test fails for a command with neither -o nor this annotation.
const annotationNoOutput = "mwctl/no-output-format"

const rootLong = `mwctl is the operator's tool for a Mapwright tile server: it issues,
lists, rotates and revokes API keys, reloads tilesets and reports the
server's status, through mapwrightd's admin API.

CONNECTING
  mwctl picks the admin API in this order:
    1. --server, or MWCTL_SERVER: unix:///path/admin.sock or https://host:port
    2. the context named by --context or MWCTL_CONTEXT, else the current
       context (see mwctl context)
    3. the default socket: $XDG_DATA_HOME/mapwright/admin.sock, or
       ~/.local/share/mapwright/admin.sock when XDG_DATA_HOME is unset
  Access to the unix socket is admin access. Over HTTPS, mwctl sends a
  secret key (--token-file, --token, MWCTL_TOKEN or the context's) or the
  session of mwctl login. A context's token, session, CA and fingerprint
  are used only when the context's own server is the target.
  Prefer --token-file or MWCTL_TOKEN to --token, which other users can see
  in the process list.

OUTPUT
  Commands that print data take -o table (default), json or yaml, and
  lists also jsonl (one JSON object per line). JSON and YAML carry the
  admin API's documents with stable field names.
  On a terminal, tables are aligned and coloured. In a pipe the table
  format is plain: a header line of upper-case column names, then one line
  per row, fields separated by one TAB, without padding or colour; an
  empty value prints as "-"; times are RFC 3339 in UTC. A single object
  prints one "field<TAB>value" line per field, named as in JSON.
  Data goes to standard output; messages, warnings and prompts to
  standard error.

ENVIRONMENT
  MWCTL_SERVER        admin API address (--server)
  MWCTL_TOKEN         secret key (--token)
  MWCTL_TOKEN_FILE    file holding the secret key (--token-file)
  MWCTL_CA_CERT       CA certificate file (--ca-cert)
  MWCTL_FINGERPRINT   pinned SHA-256 certificate fingerprint (--fingerprint)
  MWCTL_CONTEXT       context to use (--context)
  MWCTL_CONFIG        contexts file, instead of the default below
  NO_COLOR            when set and not empty, no colour; so does TERM=dumb

FILES
  $XDG_CONFIG_HOME/mwctl/config.yaml, or ~/.config/mwctl/config.yaml
      contexts, written with mode 0600 (it may hold a secret key and a
      session cookie)

EXIT STATUS
  0    success
  1    failure: the server could not be reached, or an operation failed
  2    usage error: an unknown command or flag, a bad argument, or a
       request the server refused as invalid (HTTP 400 or 422)
  3    not found: the key, tileset or context does not exist (HTTP 404)
  4    not allowed: missing, bad or expired credentials (HTTP 401), or
       a key without the needed scope (HTTP 403)
  5    conflict: the operation clashes with the current state (HTTP 409),
       such as rotating a revoked key, or restoring a backup into a
       database that holds rows (without --force)
  130  interrupted (SIGINT or SIGTERM)`

// NewRootCmd builds the mwctl command tree on f.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:           "mwctl",
		Short:         "Manage a Mapwright tile server: keys, tilesets, sessions",
		Long:          rootLong,
		Version:       version.String(),
		Args:          groupArgs,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{annotationNoOutput: "prints help"},
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			g, err := loadGlobals(cmd.Root().PersistentFlags())
			if err != nil {
				return err
			}
			f.globals = g
			if g.NoColor {
				f.IOStreams.ColorEnabled = false
			}
			return nil
		},
	}
	root.SetVersionTemplate("mwctl {{.Version}}\n")
	root.SetIn(f.IOStreams.In)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageErrorf("%v", err)
	})

	pf := root.PersistentFlags()
	pf.String("server", "", "admin API address: unix:///path/admin.sock or https://host:port (env MWCTL_SERVER; default: the current context, else the default data directory's socket)")
	pf.String("token", "", "secret key to authenticate with (env MWCTL_TOKEN); prefer --token-file, as other users can see arguments")
	pf.String("token-file", "", "file holding the secret key (env MWCTL_TOKEN_FILE)")
	pf.String("ca-cert", "", "PEM file of the CA that signs the server's certificate (env MWCTL_CA_CERT)")
	pf.String("fingerprint", "", "pin the server's CA or leaf certificate by SHA-256, hex (env MWCTL_FINGERPRINT)")
	pf.String("context", "", "context to use instead of the current one (env MWCTL_CONTEXT)")
	pf.Bool("no-color", false, "no colour in output (also NO_COLOR=1 or TERM=dumb)")
	_ = root.RegisterFlagCompletionFunc("context", completeContexts(f))
	for _, name := range []string{"token-file", "ca-cert"} {
		_ = root.MarkPersistentFlagFilename(name)
	}

	root.AddCommand(
		newCmdKeys(f),
		newCmdAudit(f),
		newCmdBackup(f),
		newCmdTilesets(f),
		newCmdScan(f, nil),
		newCmdContext(f),
		newCmdLogin(f, nil),
		newCmdLogout(f, nil),
		newCmdStatus(f, nil),
		newCmdDash(f, nil),
		newCmdVersion(f, nil),
		newCmdCompletion(f, nil),
	)
	return root
}

// newGroup returns a command that only holds subcommands: alone it prints
// its help, and with an unknown subcommand it is a usage error.
func newGroup(use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use:         use,
		Short:       short,
		Long:        long,
		Args:        groupArgs,
		RunE:        func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		Annotations: map[string]string{annotationNoOutput: "prints help"},
	}
}

// groupArgs refuses arguments to a command group: they name an unknown
// subcommand.
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %s for %q", quoteArgs(args[:1]), cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageErrorf("%s", msg)
}

// exactArgs requires one argument per name ("ID", "NAME").
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usageErrorf("%s needs %s", subPath(cmd), strings.Join(names[len(args):], " "))
		case len(args) > len(names):
			return usageErrorf("%s takes %d argument(s), got %d: %s", subPath(cmd), len(names), len(args), quoteArgs(args[len(names):]))
		}
		return nil
	}
}

// noArgs refuses any argument.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %s", subPath(cmd), quoteArgs(args))
	}
	return nil
}

// subPath is the command's path without the program name, for messages
// that Main already prefixes with "mwctl: ".
func subPath(cmd *cobra.Command) string {
	if !cmd.HasParent() {
		return cmd.Name()
	}
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// quoteArgs quotes arguments for an error message, redacting any that
// contains a key: a key pasted in the wrong place must not be echoed.
func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.Contains(a, "mpw_") {
			a = apikey.Redact(a[strings.Index(a, "mpw_"):])
		}
		q[i] = fmt.Sprintf("%q", a)
	}
	return strings.Join(q, " ")
}

// completeContexts completes context names from the contexts file.
func completeContexts(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		cfg, err := f.Config()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		names := make([]string, 0, len(cfg.Contexts))
		for _, c := range cfg.Contexts {
			names = append(names, c.Name+"\t"+c.Server)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
