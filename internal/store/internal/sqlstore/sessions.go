package sqlstore

import (
	"fmt"
	"strings"

	"github.com/mapwright/mapwright/internal/store"
)

// SessionColumns lists the columns of the admin_sessions table in the order
// of [SessionRow.Dest] and [SessionRow.Args].
const SessionColumns = "hash, key_id, created_at, last_seen_at, idle_expires_at, expires_at"

// SessionRow is a session as its columns hold it.
type SessionRow struct {
	Hash          []byte // 32 bytes
	KeyID         string // references keys.id
	CreatedAt     int64  // microseconds, like every time below
	LastSeenAt    int64  // moved forward by TouchSession
	IdleExpiresAt int64  // never after ExpiresAt
	ExpiresAt     int64  // absolute end
}

// NewSessionRow encodes s as columns.
func NewSessionRow(s store.Session) SessionRow {
	return SessionRow{
		Hash:          s.Hash[:],
		KeyID:         s.KeyID,
		CreatedAt:     Micros(s.CreatedAt),
		LastSeenAt:    Micros(s.LastSeenAt),
		IdleExpiresAt: Micros(s.IdleExpiresAt),
		ExpiresAt:     Micros(s.ExpiresAt),
	}
}

// Dest returns scan destinations in SessionColumns order.
func (r *SessionRow) Dest() []any {
	return []any{&r.Hash, &r.KeyID, &r.CreatedAt, &r.LastSeenAt, &r.IdleExpiresAt, &r.ExpiresAt}
}

// Args returns the column values in SessionColumns order.
func (r *SessionRow) Args() []any {
	return []any{r.Hash, r.KeyID, r.CreatedAt, r.LastSeenAt, r.IdleExpiresAt, r.ExpiresAt}
}

// Session decodes the row.
func (r *SessionRow) Session() (store.Session, error) {
	s := store.Session{
		KeyID:         r.KeyID,
		CreatedAt:     FromMicros(r.CreatedAt),
		LastSeenAt:    FromMicros(r.LastSeenAt),
		IdleExpiresAt: FromMicros(r.IdleExpiresAt),
		ExpiresAt:     FromMicros(r.ExpiresAt),
	}
	if len(r.Hash) != len(s.Hash) {
		return store.Session{}, fmt.Errorf("session of key %s: stored hash has %d bytes, want %d", r.KeyID, len(r.Hash), len(s.Hash))
	}
	copy(s.Hash[:], r.Hash)
	return s, nil
}

// CheckNewSession validates a session before it is inserted.
func CheckNewSession(s store.Session) error {
	if err := CheckKeyID(s.KeyID); err != nil {
		return err
	}
	if s.CreatedAt.IsZero() || s.ExpiresAt.IsZero() || s.IdleExpiresAt.IsZero() {
		return fmt.Errorf("session without creation or expiry time: %w", store.ErrInvalid)
	}
	if s.IdleExpiresAt.After(s.ExpiresAt) {
		return fmt.Errorf("session idle expiry after its absolute expiry: %w", store.ErrInvalid)
	}
	return nil
}

// InsertSessionQuery inserts one session; its arguments are
// [SessionRow.Args].
func InsertSessionQuery(d Dialect) string {
	return "INSERT INTO admin_sessions (" + SessionColumns + ") VALUES (" + placeholders(d, 6) + ")"
}

// SelectSessionQuery selects the session whose hash is arg 1.
func SelectSessionQuery(d Dialect) string {
	return "SELECT " + SessionColumns + " FROM admin_sessions WHERE hash = " + d.Param(1)
}

// DeleteSessionQuery deletes the session whose hash is arg 1.
func DeleteSessionQuery(d Dialect) string {
	return "DELETE FROM admin_sessions WHERE hash = " + d.Param(1)
}

// TouchSessionQuery moves the last-seen time (arg 2) and idle expiry (arg
// 3) of the session whose hash is arg 1 forward, never back and never past
// the absolute expiry. It matches the row even when nothing moves, so zero
// rows affected means the session is gone.
func TouchSessionQuery(d Dialect, greatest string) string {
	h, seen, idle := d.Param(1), d.Param(2), d.Param(3)
	return "UPDATE admin_sessions SET last_seen_at = " + greatest + "(last_seen_at, " + seen + ")," +
		" idle_expires_at = " + greatest + "(idle_expires_at, CASE WHEN " + idle + " > expires_at THEN expires_at ELSE " + idle + " END)" +
		" WHERE hash = " + h
}

// DeleteExpiredSessionsQuery deletes every session ended at arg 1.
func DeleteExpiredSessionsQuery(d Dialect) string {
	now := d.Param(1)
	return "DELETE FROM admin_sessions WHERE expires_at <= " + now + " OR idle_expires_at <= " + now
}

// TOTPColumns lists the columns of the key_totp table in the order of
// [TOTPRow.Dest] and [TOTPRow.Args].
const TOTPColumns = "key_id, sealed, created_at, last_step"

// TOTPRow is a TOTP secret as its columns hold it.
type TOTPRow struct {
	KeyID     string // primary key, references keys.id
	Sealed    []byte // opaque to the store
	CreatedAt int64  // microseconds
	LastStep  int64  // last accepted TOTP step, 0 for none
}

// NewTOTPRow encodes t as columns.
func NewTOTPRow(t store.TOTPSecret) TOTPRow {
	return TOTPRow{KeyID: t.KeyID, Sealed: NonNil(t.Sealed), CreatedAt: Micros(t.CreatedAt), LastStep: t.LastStep}
}

// Dest returns scan destinations in TOTPColumns order.
func (r *TOTPRow) Dest() []any { return []any{&r.KeyID, &r.Sealed, &r.CreatedAt, &r.LastStep} }

// Args returns the column values in TOTPColumns order.
func (r *TOTPRow) Args() []any { return []any{r.KeyID, r.Sealed, r.CreatedAt, r.LastStep} }

// TOTP decodes the row.
func (r *TOTPRow) TOTP() store.TOTPSecret {
	return store.TOTPSecret{
		KeyID:     r.KeyID,
		Sealed:    NilIfEmpty(r.Sealed),
		CreatedAt: FromMicros(r.CreatedAt),
		LastStep:  r.LastStep,
	}
}

// CheckTOTP validates a TOTP secret before it is stored.
func CheckTOTP(t store.TOTPSecret) error {
	if err := CheckKeyID(t.KeyID); err != nil {
		return err
	}
	if len(t.Sealed) == 0 {
		return fmt.Errorf("TOTP secret of key %s is empty: %w", t.KeyID, store.ErrInvalid)
	}
	if t.LastStep < 0 {
		return fmt.Errorf("TOTP secret of key %s: negative last step: %w", t.KeyID, store.ErrInvalid)
	}
	return nil
}

// UpsertTOTPQuery inserts or replaces the TOTP secret of one key; its
// arguments are [TOTPRow.Args]. Both backends accept ON CONFLICT.
func UpsertTOTPQuery(d Dialect) string {
	return "INSERT INTO key_totp (" + TOTPColumns + ") VALUES (" + placeholders(d, 4) + ")" +
		" ON CONFLICT (key_id) DO UPDATE SET sealed = excluded.sealed," +
		" created_at = excluded.created_at, last_step = excluded.last_step"
}

// SelectTOTPQuery selects the TOTP secret of key arg 1.
func SelectTOTPQuery(d Dialect) string {
	return "SELECT " + TOTPColumns + " FROM key_totp WHERE key_id = " + d.Param(1)
}

// AdvanceTOTPStepQuery sets the last step of key arg 1 to arg 2 when arg 2
// is greater than it.
func AdvanceTOTPStepQuery(d Dialect) string {
	return "UPDATE key_totp SET last_step = " + d.Param(2) + " WHERE key_id = " + d.Param(1) + " AND last_step < " + d.Param(2)
}

// TOTPExistsQuery tells whether key arg 1 has a TOTP secret.
func TOTPExistsQuery(d Dialect) string {
	return "SELECT count(*) FROM key_totp WHERE key_id = " + d.Param(1)
}

// CountTOTPQuery counts enrolled TOTP secrets.
const CountTOTPQuery = "SELECT count(*) FROM key_totp"

// InList returns "column IN (p1, ..., pn)" binding vals through a, or a
// condition that is never true when vals is empty.
func InList(a *Args, column string, vals []any) string {
	if len(vals) == 0 {
		return "1 = 0"
	}
	ps := make([]string, len(vals))
	for i, v := range vals {
		ps[i] = a.Bind(v)
	}
	return column + " IN (" + strings.Join(ps, ", ") + ")"
}

// TOTPEnrolledQuery selects the IDs among keyIDs that have a TOTP secret.
// More than store.MaxBatch IDs is an error wrapping store.ErrInvalid.
func TOTPEnrolledQuery(d Dialect, keyIDs []string) (string, []any, error) {
	if len(keyIDs) > store.MaxBatch {
		return "", nil, fmt.Errorf("%d key IDs, at most %d per call: %w", len(keyIDs), store.MaxBatch, store.ErrInvalid)
	}
	a := NewArgs(d)
	vals := make([]any, len(keyIDs))
	for i, id := range keyIDs {
		vals[i] = id
	}
	return "SELECT key_id FROM key_totp WHERE " + InList(a, "key_id", vals), a.Values(), nil
}

// KeysByHashesQuery selects the keys whose hash is among hashes. More than
// store.MaxBatch hashes is an error wrapping store.ErrInvalid.
func KeysByHashesQuery(d Dialect, hashes [][32]byte) (string, []any, error) {
	if len(hashes) > store.MaxBatch {
		return "", nil, fmt.Errorf("%d hashes, at most %d per call: %w", len(hashes), store.MaxBatch, store.ErrInvalid)
	}
	a := NewArgs(d)
	vals := make([]any, len(hashes))
	for i := range hashes {
		vals[i] = hashes[i][:]
	}
	return "SELECT " + KeyColumns + " FROM keys WHERE " + InList(a, "hash", vals) + " ORDER BY id", a.Values(), nil
}
