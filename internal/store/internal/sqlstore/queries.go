package sqlstore

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mapwright/mapwright/internal/store"
)

// placeholders returns "p1, p2, ..., pn" for d.
func placeholders(d Dialect, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = d.Param(i + 1)
	}
	return strings.Join(ps, ", ")
}

// InsertKeyQuery inserts one key; its arguments are [KeyRow.Args].
func InsertKeyQuery(d Dialect) string {
	return "INSERT INTO keys (" + KeyColumns + ") VALUES (" + placeholders(d, KeyColumnCount) + ")"
}

// updatableKeyColumns are the mutable columns of the keys table, in the
// order of [KeyRow.UpdateArgs]. LastUsedAt is not among them: only
// TouchKeys moves it, so a read-modify-write can never set it back.
var updatableKeyColumns = []string{
	"name", "scopes", "tilesets", "origins", "rate", "burst", "labels",
	"not_before", "expires_at", "expired_at", "revoked_at", "revoked_by",
	"revoke_reason", "replaced_by",
}

// UpdateKeyQuery overwrites the mutable columns of one key; its arguments
// are [KeyRow.UpdateArgs].
func UpdateKeyQuery(d Dialect) string {
	sets := make([]string, len(updatableKeyColumns))
	for i, c := range updatableKeyColumns {
		sets[i] = c + " = " + d.Param(i+1)
	}
	return "UPDATE keys SET " + strings.Join(sets, ", ") + " WHERE id = " + d.Param(len(sets)+1)
}

// UpdateArgs returns the arguments of UpdateKeyQuery.
func (r *KeyRow) UpdateArgs() []any {
	return []any{
		r.Name, r.Scopes, r.Tilesets, r.Origins, r.Rate, r.Burst, r.Labels,
		r.NotBefore, r.ExpiresAt, r.ExpiredAt, r.RevokedAt, r.RevokedBy,
		r.RevokeReason, r.ReplacedBy, r.ID,
	}
}

// SelectKeyQuery selects one key by the column where (id or hash) bound at
// the single argument.
func SelectKeyQuery(d Dialect, where string) string {
	return "SELECT " + KeyColumns + " FROM keys WHERE " + where + " = " + d.Param(1)
}

// InsertAuditQuery inserts one audit event; its arguments are
// [AuditRow.Args].
func InsertAuditQuery(d Dialect) string {
	return "INSERT INTO audit_events (" + AuditColumns + ") VALUES (" + placeholders(d, AuditColumnCount) + ")"
}

// AdvanceHeadQuery moves the audit head to (seq, hash) = (arg 1, arg 2)
// only when it stands at seq-1 with hash arg 3 (any hash while the log is
// empty). Zero rows affected means the append is out of order.
func AdvanceHeadQuery(d Dialect) string {
	seq, hash, prev := d.Param(1), d.Param(2), d.Param(3)
	return "UPDATE audit_head SET seq = " + seq + ", hash = " + hash +
		" WHERE id = 1 AND seq = " + seq + " - 1 AND (seq = 0 OR hash = " + prev + ")"
}

// AuditHeadQuery reads the audit head.
const AuditHeadQuery = "SELECT seq, hash FROM audit_head WHERE id = 1"

// AuditBatch is how many events ScanAudit reads per query. Reading in
// batches keeps memory bounded without holding a query open while the
// callback runs, so the callback may use the store (or the transaction)
// and a stopped scan costs nothing.
const AuditBatch = 500

// ScanAuditQuery selects at most arg 2 events from seq arg 1 on, up to seq
// arg 3 when bounded, in sequence order.
func ScanAuditQuery(d Dialect, bounded bool) string {
	q := "SELECT " + AuditColumns + " FROM audit_events WHERE seq >= " + d.Param(1)
	if bounded {
		q += " AND seq <= " + d.Param(3)
	}
	return q + " ORDER BY seq LIMIT " + d.Param(2)
}

// ScanAudit calls fn for every event from..to (to <= 0: to the end), reading
// them AuditBatch at a time through batch, which returns the events of one
// query: at most limit from seq from on, up to seq to when to > 0.
func ScanAudit(from, to int64, batch func(from, to int64, limit int) ([]AuditRow, error), fn func(store.AuditEvent) error) error {
	if from < 1 {
		from = 1
	}
	for to <= 0 || from <= to {
		rows, err := batch(from, to, AuditBatch)
		if err != nil {
			return err
		}
		for i := range rows {
			ev, err := rows[i].Event()
			if err != nil {
				return err
			}
			if err := fn(ev); err != nil {
				return err
			}
		}
		if len(rows) < AuditBatch {
			return nil
		}
		from = rows[len(rows)-1].Seq + 1
	}
	return nil
}

// QueryAuditQuery builds the query of one QueryAudit page. It selects one
// row more than the page so that the caller knows whether a next page
// exists; limit is the page size.
func QueryAuditQuery(d Dialect, f store.AuditFilter) (query string, args []any, limit int, err error) {
	if f.AfterSeq < 0 {
		return "", nil, 0, fmt.Errorf("negative audit cursor %d: %w", f.AfterSeq, store.ErrInvalid)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return "", nil, 0, fmt.Errorf("audit filter until %s is before since %s: %w",
			f.Until.UTC().Format(time.RFC3339), f.Since.UTC().Format(time.RFC3339), store.ErrInvalid)
	}
	a := NewArgs(d)
	var conds []string
	if !f.Since.IsZero() {
		conds = append(conds, "time >= "+a.Bind(Micros(f.Since)))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "time < "+a.Bind(Micros(f.Until)))
	}
	for _, c := range []struct{ col, val string }{
		{"actor", f.Actor}, {"action", f.Action}, {"target", f.Target}, {"outcome", f.Outcome},
	} {
		if c.val != "" {
			conds = append(conds, c.col+" = "+a.Bind(c.val))
		}
	}
	if f.ActionPrefix != "" {
		// substr counts characters in both backends; LIKE would need
		// escaping of "_" (common in action names) and is case-blind in
		// SQLite.
		n := utf8.RuneCountInString(f.ActionPrefix)
		conds = append(conds, "substr(action, 1, "+strconv.Itoa(n)+") = "+a.Bind(f.ActionPrefix))
	}
	order := "ASC"
	if f.Descending {
		order = "DESC"
		if f.AfterSeq > 0 {
			conds = append(conds, "seq < "+a.Bind(f.AfterSeq))
		}
	} else if f.AfterSeq > 0 {
		conds = append(conds, "seq > "+a.Bind(f.AfterSeq))
	}
	limit = Limit(f.Limit)
	var b strings.Builder
	b.WriteString("SELECT " + AuditColumns + " FROM audit_events")
	if len(conds) > 0 {
		b.WriteString(" WHERE " + strings.Join(conds, " AND "))
	}
	b.WriteString(" ORDER BY seq " + order + " LIMIT " + a.Bind(limit+1))
	return b.String(), a.Values(), limit, nil
}

// AuditPage trims the extra row QueryAuditQuery asked for and returns the
// cursor of the next page: the last sequence of this page, or 0 when no
// row follows.
func AuditPage(rows []AuditRow, limit int) ([]store.AuditEvent, int64, error) {
	var next int64
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[len(rows)-1].Seq
	}
	out := make([]store.AuditEvent, 0, len(rows))
	for i := range rows {
		ev, err := rows[i].Event()
		if err != nil {
			return nil, 0, err
		}
		out = append(out, ev)
	}
	return out, next, nil
}

// DeleteAuditBeforeQuery deletes the events below the sequence bound at
// the single argument.
func DeleteAuditBeforeQuery(d Dialect) string {
	return "DELETE FROM audit_events WHERE seq < " + d.Param(1)
}
