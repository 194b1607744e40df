package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// keysTOTPEnrollOptions are the inputs of `mwctl keys totp enroll`.
type keysTOTPEnrollOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Format output.Format

	ID string
}

func newCmdKeysTOTPEnroll(f *Factory, runF func(context.Context, *keysTOTPEnrollOptions) error) *cobra.Command {
	opts := &keysTOTPEnrollOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "enroll ID",
		Short: "Enrol a TOTP second factor for a secret key",
		Long: `Enrol a TOTP second factor for a secret key and print its otpauth:// URI
once. On a terminal a QR code is drawn below it, to scan with an
authenticator app. From then on, mwctl login with this key needs
--totp CODE.

The URI holds the TOTP secret: do not keep it anywhere else.
With -o json the output is {"uri": "otpauth://..."}.`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runKeysTOTPEnroll(cmd.Context(), opts)
		},
	}
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML)
	return cmd
}

func runKeysTOTPEnroll(ctx context.Context, opts *keysTOTPEnrollOptions) error {
	if err := checkKeyID(opts.ID); err != nil {
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	enr, err := c.EnrollTOTP(ctx, opts.ID)
	if err != nil {
		return err
	}
	p := output.New(opts.IO, opts.Format)
	err = p.Print(enr, nil, func() output.Human { return totpView{uri: enr.URI, qr: opts.IO.IsStdoutTTY} })
	if err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.ErrOut, "Scan the code or enter the URI in an authenticator app; it will not be shown again.")
	return nil
}

// totpView prints the URI and, on a terminal, its QR code.
type totpView struct {
	uri string
	qr  bool
}

// Render implements output.Human.
func (v totpView) Render(w io.Writer, _ bool, cs iostreams.ColorScheme) error {
	if _, err := fmt.Fprintln(w, v.uri); err != nil {
		return err
	}
	if !v.qr {
		return nil
	}
	fmt.Fprintln(w)
	return writeQR(w, v.uri, cs.Enabled)
}
