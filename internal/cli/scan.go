package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/internal/scan"
	"github.com/mapwright/mapwright/internal/version"
	"github.com/mapwright/mapwright/pkg/client"
)

// Output formats of mwctl scan.
const (
	scanFormatText  = "text"
	scanFormatJSON  = "json"
	scanFormatSARIF = "sarif"
)

var scanFormats = []string{scanFormatText, scanFormatJSON, scanFormatSARIF}

// maxShownWarnings bounds the warnings printed on standard error.
const maxShownWarnings = 20

// scanOptions are the inputs of `mwctl scan`.
type scanOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	Paths           []string
	Git             bool
	Staged          bool
	Offline         bool
	Revoke          bool
	Yes             bool
	IncludeInvalid  bool
	Baseline        string
	WriteBaseline   string
	MaxArchiveDepth int
	FollowSymlinks  bool
	FailOn          string
	Format          string
}

// scanFormatValue is the -o flag of scan: text, json or sarif.
type scanFormatValue struct{ p *string }

func (v scanFormatValue) String() string { return *v.p }
func (v scanFormatValue) Type() string   { return "format" }
func (v scanFormatValue) Set(s string) error {
	s = strings.ToLower(strings.TrimSpace(s))
	if !slices.Contains(scanFormats, s) {
		return fmt.Errorf("%w %q: want text, json or sarif", output.ErrFormat, s)
	}
	*v.p = s
	return nil
}

func newCmdScan(f *Factory, runF func(context.Context, *scanOptions) error) *cobra.Command {
	opts := &scanOptions{IO: f.IOStreams, Client: f.Client, Format: scanFormatText}
	cmd := &cobra.Command{
		Use:   "scan [PATH...] [flags]",
		Short: "Find leaked API keys in files, archives or git history",
		Long: `Scan files for Mapwright API keys (mpw_pk_..., mpw_sk_...), tell live keys
from dead ones through the admin API, and optionally revoke the live ones.

WHAT IS SCANNED
  PATH is a file or directory (default: the current directory), or - for
  standard input. Every file is read, ignored files included, except the
  insides of .git directories; binary files are scanned as bytes. Symbolic
  links met while walking are skipped unless --follow-symlinks.
  Archives (.zip, .jar, .war, .whl, .tar, .tar.gz, .tgz, .gz) are opened,
  to --max-archive-depth levels; a member is shown as ARCHIVE!MEMBER. An
  archive that expands past 1 GiB beyond its size, or more than 200 times
  its size, is cut short with a warning.
  --git [REPO] scans every blob reachable from every ref of the repository
  instead, deleted files included; each finding names the oldest commit
  that introduced it, its path there and the author date. --staged scans
  what is staged for the next commit (for a pre-commit hook).

FINDINGS
  A token whose checksum fails is a look-alike, not a key: it is counted
  and shown only with --include-invalid. Unless --offline, the SHA-256
  hashes of the keys found (never the keys) go to the admin API, which
  tells for each whether it is active, pending, expired, revoked or unknown
  (not this server's). Keys are only ever shown redacted (mpw_pk_AbCd…).
  A finding is suppressed by the marker mwctl:allow on its line (within
  4 KiB of the key), or by a baseline: --write-baseline FILE records the
  fingerprints of every finding, --baseline FILE suppresses them later. A
  fingerprint depends on the key and the file path, not the line, so it
  survives edits; scan from the same directory to keep paths the same.

REVOKING
  --revoke revokes every active or pending key found (not suppressed), with
  the reason "leaked: LOCATION", which the audit log keeps. On a terminal
  mwctl lists the keys and asks first; elsewhere it needs --yes. It needs a
  credential with the keys:write scope.

OUTPUT
  -o text (default): one line per finding, path:line:col: kind key
  mpw_pk_AbCd… status; coloured on a terminal. -o json: one document whose
  fields are stable (keys[].hash, key, kind, valid, status, id, name,
  locations[].path, commit, author_date, line, column, offset, fingerprint,
  suppressed; invalid_count, suppressed_count, warnings, stats). -o sarif:
  SARIF 2.1.0 for code-scanning services. A summary line and warnings go to
  standard error.

EXIT STATUS
  0  no finding that counts: no key, or only suppressed, revoked or
     expired ones
  1  a key that is not suppressed and is active, pending or unknown (or,
     with --offline, any valid key); with --fail-on revoked, any key that
     is not suppressed. A run that revokes keys still exits 1.
  2  error: a bad flag, a path that does not exist, git failing, the admin
     API unreachable (use --offline to scan without it)`,
		Example: `  # Scan the work tree, check statuses on the server
  mwctl scan

  # Pre-commit hook: scan what is staged, without a server
  mwctl scan --staged --offline

  # CI: scan the whole history and upload SARIF
  mwctl scan --git --offline -o sarif > mwctl.sarif

  # Revoke every live key found in a leaked bundle, without asking
  mwctl scan leaked-bundle.tar.gz --revoke --yes

  # Pre-commit hook: save as .git/hooks/pre-commit and make it executable;
  # a staged key stops the commit
  #!/bin/sh
  exec mwctl scan --staged --offline

  # CI job: scan the whole history, keep the SARIF for the code-scanning
  # upload step, fail the build on a finding
  mwctl scan --git --offline -o sarif > mwctl.sarif; status=$?
  # ... upload mwctl.sarif here, even when status is 1 ...
  exit $status`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runScan(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Git, "git", false, "scan every blob of the git history of REPO (the argument; default .) instead of files")
	fl.BoolVar(&opts.Staged, "staged", false, "scan the changes staged in the git index of REPO (default .)")
	fl.BoolVar(&opts.Offline, "offline", false, "do not ask the admin API for the keys' status")
	fl.BoolVar(&opts.Revoke, "revoke", false, "revoke every active key found (asks on a terminal unless --yes)")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "with --revoke: revoke without asking")
	fl.BoolVar(&opts.IncludeInvalid, "include-invalid", false, "also show look-alikes whose checksum fails")
	fl.StringVar(&opts.Baseline, "baseline", "", "suppress the findings recorded in this baseline file")
	fl.StringVar(&opts.WriteBaseline, "write-baseline", "", "record every finding's fingerprint in this file")
	fl.IntVar(&opts.MaxArchiveDepth, "max-archive-depth", scan.DefaultMaxArchiveDepth, "open archives this many levels deep (0: none)")
	fl.BoolVar(&opts.FollowSymlinks, "follow-symlinks", false, "follow symbolic links met while walking directories")
	fl.StringVar(&opts.FailOn, "fail-on", string(scan.FailOnLive), "exit 1 on live keys (active) or on any key (revoked)")
	fl.VarP(scanFormatValue{&opts.Format}, output.FlagName, "o", "output format: text, json or sarif")
	_ = cmd.RegisterFlagCompletionFunc(output.FlagName, fixedScanCompletion(scanFormats...))
	_ = cmd.RegisterFlagCompletionFunc("fail-on", fixedScanCompletion(string(scan.FailOnLive), string(scan.FailOnAny)))
	for _, name := range []string{"baseline", "write-baseline"} {
		_ = cmd.MarkFlagFilename(name, "json")
	}
	return cmd
}

func fixedScanCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// exitStatusError carries an exit status of mwctl scan's own: 1 for
// findings, 2 for any other failure.
type exitStatusError struct {
	code int
	err  error
}

func (e *exitStatusError) Error() string { return e.err.Error() }
func (e *exitStatusError) Unwrap() error { return e.err }

// exitStatusOf returns the exit status err carries, if it carries one.
func exitStatusOf(err error) (int, bool) {
	var e *exitStatusError
	if errors.As(err, &e) {
		return e.code, true
	}
	return 0, false
}

// errLeaked marks a scan that found keys that count (exit status 1).
var errLeaked = errors.New("leaked keys found")

func runScan(ctx context.Context, opts *scanOptions) error {
	err := scanCommand(ctx, opts)
	switch {
	case err == nil, errors.Is(err, errUsage), ctx.Err() != nil && errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, errLeaked):
		return &exitStatusError{code: exitFailure, err: err}
	}
	return &exitStatusError{code: exitUsage, err: err}
}

func scanCommand(ctx context.Context, opts *scanOptions) error {
	policy := scan.FailOn(opts.FailOn)
	switch {
	case policy != scan.FailOnLive && policy != scan.FailOnAny:
		return usageErrorf("--fail-on %q: want active or revoked", opts.FailOn)
	case opts.Git && opts.Staged:
		return usageErrorf("--git and --staged exclude each other")
	case (opts.Git || opts.Staged) && len(opts.Paths) > 1:
		return usageErrorf("--git and --staged take one repository, got %d paths", len(opts.Paths))
	case opts.Revoke && opts.Offline:
		return usageErrorf("--revoke needs the admin API; it cannot be used with --offline")
	case opts.Revoke && !opts.Yes && !opts.IO.CanPrompt():
		return usageErrorf("--revoke needs confirmation and there is no terminal to ask on: pass --yes")
	case opts.MaxArchiveDepth < 0:
		return usageErrorf("--max-archive-depth %d: want 0 or more", opts.MaxArchiveDepth)
	case slices.Contains(opts.Paths, "-") && (opts.Git || opts.Staged):
		return usageErrorf("standard input cannot be scanned in git modes")
	}
	so := scan.Options{
		Paths:           opts.Paths,
		Stdin:           opts.IO.In,
		Git:             opts.Git,
		Staged:          opts.Staged,
		FollowSymlinks:  opts.FollowSymlinks,
		MaxArchiveDepth: opts.MaxArchiveDepth,
		IncludeInvalid:  opts.IncludeInvalid,
	}
	if opts.Baseline != "" {
		b, err := scan.LoadBaseline(opts.Baseline)
		if err != nil {
			return err
		}
		so.Baseline = b
	}
	res, err := scan.Scan(ctx, so)
	if err != nil {
		return err
	}
	var api *client.Client
	if !opts.Offline && hasValid(res) {
		if api, err = opts.Client(); err != nil {
			return err
		}
		if err := res.Lookup(ctx, api); err != nil {
			return fmt.Errorf("%w (scan with --offline to skip the status check)", err)
		}
	}
	// The exit status reflects what the scan found, before any revocation:
	// a key that leaked still has to be removed from where it leaked.
	failing := res.Failing(policy)

	var revokeErr error
	if opts.Revoke {
		revokeErr = revokeFound(ctx, opts, api, res)
	}
	if opts.WriteBaseline != "" {
		if err := writeBaselineFile(opts.WriteBaseline, res); err != nil {
			return err
		}
	}
	if err := writeScanReport(opts, res); err != nil {
		return err
	}
	if revokeErr != nil {
		return revokeErr
	}
	if len(failing) > 0 {
		return fmt.Errorf("%w: %s", errLeaked, describeFailing(failing))
	}
	return nil
}

func hasValid(res *scan.Result) bool {
	return slices.ContainsFunc(res.Keys, func(k *scan.Key) bool { return k.Valid })
}

// describeFailing is the message of exit status 1: "2 keys (1 active, 1
// unknown)".
func describeFailing(keys []*scan.Key) string {
	counts := map[scan.Status]int{}
	for _, k := range keys {
		counts[k.Status]++
	}
	var parts []string
	for _, s := range []scan.Status{scan.StatusActive, scan.StatusPending, scan.StatusUnknown, scan.StatusUnchecked, scan.StatusExpired, scan.StatusRevoked} {
		if n := counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
			delete(counts, s)
		}
	}
	for s, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, s))
	}
	noun := "keys"
	if len(keys) == 1 {
		noun = "key"
	}
	return fmt.Sprintf("%d %s (%s)", len(keys), noun, strings.Join(parts, ", "))
}

// revokeFound revokes the active keys of res, after confirmation unless
// --yes, and reports each on standard error.
func revokeFound(ctx context.Context, opts *scanOptions, api *client.Client, res *scan.Result) error {
	keys := res.Revocable()
	errOut := opts.IO.ErrOut
	if len(keys) == 0 {
		fmt.Fprintln(errOut, "No active key to revoke.")
		return nil
	}
	if !opts.Yes {
		fmt.Fprintf(errOut, "These keys are active and were found where they should not be:\n")
		for _, k := range keys {
			fmt.Fprintf(errOut, "  %s %s key %s (%q) at %s\n", k.ID, k.Kind, k.Redacted, k.Name, k.FirstReported())
		}
		ok, err := opts.IO.Confirm(ctx, fmt.Sprintf("Revoke %d key(s)? They stop working at once.", len(keys)))
		if err != nil {
			return fmt.Errorf("revoke leaked keys: %w", err)
		}
		if !ok {
			fmt.Fprintln(errOut, "Nothing revoked.")
			return nil
		}
	}
	out, err := scan.Revoke(ctx, api, keys)
	for _, rv := range out {
		switch {
		case rv.Err != nil:
			fmt.Fprintf(errOut, "Could not revoke %s %s: %v\n", rv.Key.ID, rv.Key.Redacted, rv.Err)
		case rv.AlreadyRevoked:
			fmt.Fprintf(errOut, "Key %s %s was already revoked.\n", rv.Key.ID, rv.Key.Redacted)
		default:
			fmt.Fprintf(errOut, "Revoked key %s %s (%s).\n", rv.Key.ID, rv.Key.Redacted, rv.Reason)
		}
	}
	return err
}

// writeBaselineFile writes the baseline through a temporary file renamed
// into place, so a failed write never leaves half a baseline.
func writeBaselineFile(path string, res *scan.Result) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".baseline-*")
	if err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := scan.WriteBaseline(tmp, res); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write baseline: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	return nil
}

// writeScanReport writes the findings in the chosen format to standard
// output, and the warnings and the summary to standard error.
func writeScanReport(opts *scanOptions, res *scan.Result) error {
	var err error
	switch opts.Format {
	case scanFormatJSON:
		err = scan.WriteJSON(opts.IO.Out, res)
	case scanFormatSARIF:
		err = scan.WriteSARIF(opts.IO.Out, res, version.String())
	default:
		err = scan.WriteText(opts.IO.Out, res, scan.TextOptions{Color: opts.IO.ColorEnabled})
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	errOut := opts.IO.ErrOut
	for i, w := range res.Warnings {
		if i == maxShownWarnings {
			fmt.Fprintf(errOut, "mwctl: warning: %d more warnings (see -o json)\n", len(res.Warnings)-i)
			break
		}
		fmt.Fprintf(errOut, "mwctl: warning: %s\n", w)
	}
	fmt.Fprintln(errOut, scan.Summary(res))
	return nil
}
