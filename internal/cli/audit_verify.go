package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// maxCheckpointFile bounds what is read from a checkpoint file.
const maxCheckpointFile = 64 << 10

// auditVerifyOptions are the inputs of `mwctl audit verify`.
type auditVerifyOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Format output.Format

	From       int64
	To         int64
	Checkpoint string
	PublicKey  string
}

// auditVerifyReport is the -o json document of `mwctl audit verify`.
type auditVerifyReport struct {
	client.AuditVerifyResult `yaml:",inline"`
	// Checkpoint is the saved checkpoint checked, when one was given.
	Checkpoint *client.Checkpoint `json:"checkpoint,omitempty" yaml:"checkpoint,omitempty"`
}

func newCmdAuditVerify(f *Factory, runF func(context.Context, *auditVerifyOptions) error) *cobra.Command {
	opts := &auditVerifyOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "verify [--checkpoint FILE [--public-key KEY]] [--from N] [--to N]",
		Short: "Prove the audit log was not edited, and still extends a saved checkpoint",
		Long: `Ask the server to verify the audit log's hash chain: every event's hash
must recompute with the server's audit key and chain to the event before,
with no sequence missing, and the chain's stored head must match its last
event. An edited, inserted, reordered or deleted event fails the check,
which names the first bad sequence. A log pruned by retention starts at
the event after the cut, which must chain to the hash the last
audit.prune event recorded: old events deleted any other way fail.

The chain alone cannot tell a log whose newest events were deleted from a
shorter log. --checkpoint FILE (saved by mwctl audit checkpoint) closes
that gap: the checkpoint's signature is checked here, and the log must
still hold the event it names with the same hash, so a rewrite or a
truncation since then fails. Pin the server's checkpoint key with
--public-key (the public_key of an earlier checkpoint) so that a forged
checkpoint file is refused too. A checkpoint older than the retained log
can only be compared with the prune's cut; the result says so.

Exit status 0 when the log verifies, 1 when it does not (or on any other
failure). With -o json the output is the server's result: ok, checked,
start, anchor, first_bad, reason, note, head {seq, hash}, and the
checkpoint checked.`,
		Example: `  # Nightly: verify against yesterday's checkpoint, then save today's
  mwctl audit verify --checkpoint /srv/audit/last.json --public-key "$(cat /srv/audit/pubkey)"
  mwctl audit checkpoint -o /srv/audit/last.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAuditVerify(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Checkpoint, "checkpoint", "", "a checkpoint saved by mwctl audit checkpoint: the log must still extend it")
	fl.StringVar(&opts.PublicKey, "public-key", "", "with --checkpoint: the checkpoint must be signed by this key (base64, as in public_key)")
	fl.Int64Var(&opts.From, "from", 0, "first sequence to check (0: the whole retained log)")
	fl.Int64Var(&opts.To, "to", 0, "last sequence to check (0: up to the head)")
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML)
	_ = cmd.MarkFlagFilename("checkpoint")
	return cmd
}

// readCheckpoint reads and checks a saved checkpoint.
func readCheckpoint(path, publicKey string) (client.Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return client.Checkpoint{}, fmt.Errorf("read checkpoint: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCheckpointFile+1))
	if err != nil {
		return client.Checkpoint{}, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	if len(b) > maxCheckpointFile {
		return client.Checkpoint{}, usageErrorf("--checkpoint %s is not a checkpoint: larger than %d bytes", path, maxCheckpointFile)
	}
	var cp client.Checkpoint
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cp); err != nil {
		return client.Checkpoint{}, usageErrorf("--checkpoint %s is not a checkpoint: %v", path, err)
	}
	if err := cp.Verify(publicKey); err != nil {
		return client.Checkpoint{}, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return cp, nil
}

func runAuditVerify(ctx context.Context, opts *auditVerifyOptions) error {
	if opts.From < 0 || opts.To < 0 || (opts.To > 0 && opts.To < opts.From) {
		return usageErrorf("--from %d --to %d: want 0 or more, and to not before from", opts.From, opts.To)
	}
	if opts.PublicKey != "" && opts.Checkpoint == "" {
		return usageErrorf("--public-key goes with --checkpoint")
	}
	req := client.AuditVerifyRequest{From: opts.From, To: opts.To}
	var report auditVerifyReport
	if opts.Checkpoint != "" {
		cp, err := readCheckpoint(opts.Checkpoint, opts.PublicKey)
		if err != nil {
			return err
		}
		report.Checkpoint = &cp
		if cp.Size > 0 {
			req.ExpectHead = &client.AuditHead{Seq: cp.Size, Hash: cp.Hash}
		}
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.AuditVerify(ctx, req)
	if err != nil {
		return err
	}
	report.AuditVerifyResult = res
	p := output.New(opts.IO, opts.Format)
	if err := p.Print(report, nil, func() output.Human { return auditVerifyDetail(p, report) }); err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("%w: first bad event %d: %s", errVerifyFailed, res.FirstBad, res.Reason)
	}
	if res.Note != "" && p.IsTable() {
		fmt.Fprintf(opts.IO.ErrOut, "Note: %s.\n", res.Note)
	}
	return nil
}

// auditVerifyDetail is the table view of a verification.
func auditVerifyDetail(p *output.Printer, r auditVerifyReport) *output.Detail {
	// The plain form carries the JSON value; a terminal says it in words.
	result := strconv.FormatBool(r.OK)
	if p.TTY() {
		result = "ok"
		if !r.OK {
			result = "FAILED"
		}
	}
	d := output.NewDetail().
		AddColored("ok", "Result", result, func(cs iostreams.ColorScheme, v string) string {
			if v == "ok" {
				return cs.Green(v)
			}
			return cs.Red(v)
		}).
		Add("checked", "Events checked", strconv.FormatInt(r.Checked, 10)).
		Add("start", "From event", strconv.FormatInt(r.Start, 10)).
		Add("anchor", "Anchored on", r.Anchor)
	if !r.OK {
		d.Add("first_bad", "First bad event", strconv.FormatInt(r.FirstBad, 10)).
			Add("reason", "Reason", r.Reason)
	}
	d.Add("head.seq", "Head", strconv.FormatInt(r.Head.Seq, 10)).
		Add("head.hash", "Head hash", r.Head.Hash)
	if r.Checkpoint != nil {
		d.Add("checkpoint.size", "Checkpoint", fmt.Sprintf("event %d of %s", r.Checkpoint.Size, r.Checkpoint.Time.UTC().Format("2006-01-02T15:04:05Z"))).
			Add("checkpoint.key_id", "Checkpoint key", r.Checkpoint.KeyID)
	}
	return d
}
