package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/contexts"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/pkg/client"
)

// contextAddOptions are the inputs of `mwctl context add`.
type contextAddOptions struct {
	IO         *iostreams.IOStreams
	Config     func() (*contexts.File, error)
	ConfigPath func() (string, error)

	Name        string
	Server      string
	TokenFile   string
	TokenStdin  bool
	CACert      string
	Fingerprint string
	Use         bool
}

func newCmdContextAdd(f *Factory, runF func(context.Context, *contextAddOptions) error) *cobra.Command {
	opts := &contextAddOptions{IO: f.IOStreams, Config: f.Config, ConfigPath: f.ConfigPath}
	cmd := &cobra.Command{
		Use:   "add NAME --server ADDRESS [flags]",
		Short: "Add a named server and its credentials",
		Long: `Add a context: a server address and the credentials to use there.

--token-file stores the file's path, and the key is read from it at each
use, so replacing the file rotates the key. --token-stdin reads a key from
standard input and stores it in the contexts file itself (mode 0600).
--ca-cert stores the CA file's absolute path; --fingerprint pins the
server's CA or leaf certificate by its SHA-256, as mapwrightd prints it.

The first context added becomes the current one; --use makes any new
context current.`,
		Example: `  mwctl context add prod --server https://tiles.example.com:9443 \
    --fingerprint 3a7b...e1 --token-file ~/.config/mwctl/prod.key --use
  mwctl context add local --server unix:///var/lib/mapwright/admin.sock`,
		Args:        exactArgs("NAME"),
		Annotations: map[string]string{annotationNoOutput: "prints a confirmation"},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runContextAdd(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	// The global --server, --token-file, --ca-cert and --fingerprint
	// choose where this command runs; these local flags of the same names
	// describe the context being added, and shadow them.
	fl.StringVar(&opts.Server, "server", "", "admin API address: unix:///path/admin.sock or https://host:port (required)")
	fl.StringVar(&opts.TokenFile, "token-file", "", "file holding the secret key, read at each use")
	fl.BoolVar(&opts.TokenStdin, "token-stdin", false, "read a secret key from standard input and store it in the contexts file")
	fl.StringVar(&opts.CACert, "ca-cert", "", "PEM file of the CA that signs the server's certificate")
	fl.StringVar(&opts.Fingerprint, "fingerprint", "", "SHA-256 of the server's CA or leaf certificate, hex")
	fl.BoolVar(&opts.Use, "use", false, "make the new context the current one")
	_ = cmd.MarkFlagFilename("token-file")
	_ = cmd.MarkFlagFilename("ca-cert")
	return cmd
}

func runContextAdd(_ context.Context, opts *contextAddOptions) error {
	if err := contexts.ValidateName(opts.Name); err != nil {
		return usageErrorf("%v", err)
	}
	if opts.Server == "" {
		return usageErrorf("--server is required")
	}
	srv, err := client.ParseServer(opts.Server)
	if err != nil {
		return usageErrorf("--server: %v", err)
	}
	if opts.TokenFile != "" && opts.TokenStdin {
		return usageErrorf("give --token-file or --token-stdin, not both")
	}
	c := contexts.Context{Name: opts.Name, Server: srv.String()}
	if opts.TokenFile != "" {
		abs, err := filepath.Abs(opts.TokenFile)
		if err != nil {
			return fmt.Errorf("token file: %w", err)
		}
		if _, err := readTokenFile(abs); err != nil {
			return err
		}
		c.TokenFile = abs
	}
	if opts.TokenStdin {
		if opts.IO.CanPrompt() {
			fmt.Fprint(opts.IO.ErrOut, "Secret key: ")
		}
		line, err := opts.IO.ReadLine()
		if err != nil {
			return fmt.Errorf("read the key from standard input: %w", err)
		}
		tok := strings.TrimSpace(line)
		if err := checkToken(tok, "standard input"); err != nil {
			return err
		}
		c.Token = tok
	}
	if opts.CACert != "" {
		abs, err := filepath.Abs(opts.CACert)
		if err != nil {
			return fmt.Errorf("CA certificate: %w", err)
		}
		if err := checkCAFile(abs); err != nil {
			return err
		}
		c.CACert = abs
	}
	if opts.Fingerprint != "" {
		fp, err := client.ParseFingerprint(opts.Fingerprint)
		if err != nil {
			return usageErrorf("--fingerprint: %v", err)
		}
		c.Fingerprint = fmt.Sprintf("%x", fp)
	}
	if srv.Socket != "" && (c.CACert != "" || c.Fingerprint != "") {
		return usageErrorf("--ca-cert and --fingerprint apply to https:// servers, not to a unix socket")
	}
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if err := cfg.Add(c); err != nil {
		if errors.Is(err, contexts.ErrExists) {
			return fmt.Errorf("%w (remove it first with `mwctl context remove %s`)", err, opts.Name)
		}
		return err
	}
	current := opts.Use || cfg.CurrentContext == ""
	if current {
		cfg.CurrentContext = opts.Name
	}
	path, err := opts.ConfigPath()
	if err != nil {
		return err
	}
	if err := cfg.Save(path); err != nil {
		return err
	}
	msg := fmt.Sprintf("Added context %s (%s)", opts.Name, c.Server)
	if current {
		msg += "; it is the current context"
	}
	fmt.Fprintln(opts.IO.ErrOut, msg+".")
	return nil
}

// checkCAFile makes sure path holds at least one PEM certificate.
func checkCAFile(path string) error {
	pem, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read CA certificate: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		return usageErrorf("--ca-cert %s holds no PEM certificate", path)
	}
	return nil
}
