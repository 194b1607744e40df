package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// auditCheckpointOptions are the inputs of `mwctl audit checkpoint`.
type auditCheckpointOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	Output    string
	PublicKey string
}

func newCmdAuditCheckpoint(f *Factory, runF func(context.Context, *auditCheckpointOptions) error) *cobra.Command {
	opts := &auditCheckpointOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "checkpoint [-o FILE] [--public-key KEY]",
		Short: "Save a signed checkpoint of the audit log",
		Long: `Fetch a checkpoint of the audit log: the sequence and hash of its newest
event, the time, and an ed25519 signature by the server's checkpoint key
(kept in checkpoint.key in its data directory). mwctl checks the
signature, then writes the checkpoint as JSON to FILE (replacing it, and
only once complete) or to standard output.

Keep checkpoints where the server cannot write: another machine, a
ticket, a log shipper. mwctl audit verify --checkpoint FILE later proves
that the log still extends the checkpoint, catching a rewrite or the
deletion of the newest events, which the hash chain alone cannot. Pin
the public key: pass it with --public-key here and to verify, and a
checkpoint signed by another key is refused.

The signature covers exactly these lines, each ended by a line feed:
  mapwright audit checkpoint v1
  ORIGIN
  SIZE (the newest event's sequence)
  HASH (lowercase hex; empty for an empty log)
  TIME (RFC 3339, UTC, whole seconds)
The JSON fields are origin, size, hash, time, key_id (the first 8 bytes of
the SHA-256 of the public key, hex), public_key and signature (base64).`,
		Example: `  mwctl audit checkpoint -o audit-$(date +%F).json`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAuditCheckpoint(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, output.FlagName, "o", "", "write the checkpoint to this file (default: standard output)")
	cmd.Flags().StringVar(&opts.PublicKey, "public-key", "", "refuse a checkpoint not signed by this key (base64)")
	_ = cmd.MarkFlagFilename(output.FlagName)
	return cmd
}

func runAuditCheckpoint(ctx context.Context, opts *auditCheckpointOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	cp, err := c.AuditCheckpoint(ctx)
	if err != nil {
		return err
	}
	if err := cp.Verify(opts.PublicKey); err != nil {
		return err
	}
	doc, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	doc = append(doc, '\n')
	if opts.Output == "" || opts.Output == "-" {
		_, err := opts.IO.Out.Write(doc)
		return err
	}
	if err := writeFileAtomic(opts.Output, 0o644, func(w io.Writer) error {
		_, err := w.Write(doc)
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Checkpoint of event %s saved to %s (key %s).\n", strconv.FormatInt(cp.Size, 10), opts.Output, cp.KeyID)
	if opts.PublicKey == "" {
		fmt.Fprintf(opts.IO.ErrOut, "Pin the checkpoint key: --public-key %s\n", cp.PublicKey)
	}
	return nil
}
