package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// Values accepted by --outcome and --order.
var (
	auditOutcomes = []string{"success", "failure"}
	auditOrders   = []string{"newest", "oldest"}
)

// errVerifyFailed marks an audit log that does not verify (exit status 1).
var errVerifyFailed = errors.New("the audit log does not verify")

// newCmdAudit is the `mwctl audit` group.
func newCmdAudit(f *Factory) *cobra.Command {
	cmd := newGroup("audit", "Review, follow, verify and export the audit log",
		`Review the server's audit log: who did what to which key, and when.

Every security event is recorded with its time, actor ("unix:1000(alice)"
over the socket, "key:ID" over the network, "system", or "anonymous" for
refused requests), action (key.create, key.revoke, auth.failure, ...),
target (usually a key ID), outcome (success or failure), details and the
client's network (/24 or /48, never the full address). Refused requests
are aggregated: one auth.failure event per key or network, reason and
minute, with a count.

The events form a hash chain keyed with a secret the server keeps beside
its database, so an edited, inserted, reordered or deleted event is found
by mwctl audit verify. A signed checkpoint saved elsewhere (mwctl audit
checkpoint) also catches deletion of the newest events. Events older than
the retention period (audit.retention, 90 days by default) are pruned; the
prune leaves an audit.prune event that keeps the rest verifiable.

All commands need the scope audit:read (prune needs admin).`)
	cmd.AddCommand(
		newCmdAuditList(f, nil),
		newCmdAuditTail(f, nil),
		newCmdAuditVerify(f, nil),
		newCmdAuditCheckpoint(f, nil),
		newCmdAuditExport(f, nil),
		newCmdAuditPrune(f, nil),
	)
	return cmd
}

// parseAuditTime parses --since and --until: a duration back from now
// ("24h", "7d"), an RFC 3339 time, or a date (midnight UTC). Empty gives
// the zero time.
func parseAuditTime(flag, s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := parseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, usageErrorf("--%s %q: want a duration back from now (24h, 7d), an RFC 3339 time (2030-01-31T12:00:00Z) or a date (2030-01-31)", flag, s)
}

// auditFilterFlags are the filter flags list and tail share.
type auditFilterFlags struct {
	Actor   string
	Action  string
	Key     string
	Outcome string
}

func (a *auditFilterFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&a.Actor, "actor", "", `only events by this actor, exactly: "unix:1000(alice)", "key:ID", "system", "anonymous"`)
	fl.StringVar(&a.Action, "action", "", `only events whose action starts with this: "key." for every key event, "auth.failure"`)
	fl.StringVar(&a.Key, "key", "", "only events about this key (by id)")
	fl.StringVar(&a.Outcome, "outcome", "", "only events with this outcome: success or failure")
	_ = cmd.RegisterFlagCompletionFunc("outcome", fixedCompletion(auditOutcomes...))
	_ = cmd.RegisterFlagCompletionFunc("action", fixedCompletion(auditActions...))
}

func (a *auditFilterFlags) check() error {
	if err := checkChoice("outcome", a.Outcome, auditOutcomes); err != nil {
		return err
	}
	if a.Key != "" {
		if err := checkKeyID(a.Key); err != nil {
			return err
		}
	}
	return nil
}

// match applies the filter to an event, for streams filtered here.
func (a *auditFilterFlags) match(ev client.AuditEvent) bool {
	return (a.Actor == "" || ev.Actor == a.Actor) &&
		strings.HasPrefix(ev.Action, a.Action) &&
		(a.Key == "" || ev.Target == a.Key) &&
		(a.Outcome == "" || ev.Outcome == a.Outcome)
}

// auditActions are the action names, for completion.
var auditActions = []string{
	"key.", "key.create", "key.rotate", "key.revoke", "key.expire", "key.leak_revoked", "key.misuse",
	"auth.failure", "admin.", "admin.login", "admin.login_failure", "session.end",
	"backup.", "backup.create", "backup.restore", "backup.verify", "audit.", "audit.export", "audit.prune",
	"config.reload", "tileset.reload", "server.", "server.start", "server.stop",
}

// auditHeaders are the table columns of events.
var auditHeaders = []string{"SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME", "CLIENT", "DETAILS"}

// auditCells is an event as table cells.
func auditCells(p *output.Printer, ev client.AuditEvent, now time.Time) []string {
	t := ev.Time
	when := p.Time(&t, now)
	if !p.TTY() {
		// The plain form keeps the full precision: events a second apart
		// are common.
		when = ev.Time.UTC().Format(time.RFC3339Nano)
	}
	return []string{strconv.FormatInt(ev.Seq, 10), when, ev.Actor, ev.Action, ev.Target, ev.Outcome, ev.ClientIP, auditDetails(ev.Details)}
}

// outcomeColor colours an outcome: failure red.
func outcomeColor(cs iostreams.ColorScheme, s string) string {
	if s == "failure" {
		return cs.Red(s)
	}
	return s
}

// auditDetails prints details as "k=v" pairs in key order, quoting
// values with spaces.
func auditDetails(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := d[k]
		if v == "" || strings.ContainsAny(v, " \t\"=") {
			v = strconv.Quote(v)
		}
		parts[i] = k + "=" + v
	}
	return strings.Join(parts, " ")
}

// writeFileAtomic writes a file that appears only complete: a temporary
// file beside it, synced, then renamed over path.
func writeFileAtomic(path string, mode os.FileMode, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
