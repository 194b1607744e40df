package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/internal/sqlstore"
)

// GetSession returns the session whose identifier hashes to hash. See
// store.SessionReader.
func (r reader) GetSession(ctx context.Context, hash [32]byte) (store.Session, error) {
	var row sqlstore.SessionRow
	err := r.q.QueryRow(ctx, sqlstore.SelectSessionQuery(dialect{}), hash[:]).Scan(row.Dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Session{}, fmt.Errorf("get session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("get session: %w", mapErr(err))
	}
	return row.Session()
}

// GetTOTP returns the TOTP secret of key keyID, locking its row inside a
// transaction. See store.SessionReader.
func (r reader) GetTOTP(ctx context.Context, keyID string) (store.TOTPSecret, error) {
	query := sqlstore.SelectTOTPQuery(dialect{})
	if r.inTx {
		query += " FOR UPDATE"
	}
	var row sqlstore.TOTPRow
	err := r.q.QueryRow(ctx, query, keyID).Scan(row.Dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.TOTPSecret{}, fmt.Errorf("get TOTP secret of key %s: %w", keyID, store.ErrNotFound)
	}
	if err != nil {
		return store.TOTPSecret{}, fmt.Errorf("get TOTP secret of key %s: %w", keyID, mapErr(err))
	}
	return row.TOTP(), nil
}

// TOTPEnrolled reports which of keyIDs have a TOTP secret. See
// store.SessionReader.
func (r reader) TOTPEnrolled(ctx context.Context, keyIDs []string) (map[string]bool, error) {
	query, args, err := sqlstore.TOTPEnrolledQuery(dialect{}, keyIDs)
	if err != nil {
		return nil, fmt.Errorf("TOTP enrolment: %w", err)
	}
	out := make(map[string]bool)
	if len(keyIDs) == 0 {
		return out, nil
	}
	rows, err := r.q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("TOTP enrolment: %w", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("TOTP enrolment: %w", mapErr(err))
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("TOTP enrolment: %w", mapErr(err))
	}
	return out, nil
}

// CountTOTP returns the number of enrolled TOTP secrets.
func (r reader) CountTOTP(ctx context.Context) (int, error) {
	var n int
	if err := r.q.QueryRow(ctx, sqlstore.CountTOTPQuery).Scan(&n); err != nil {
		return 0, fmt.Errorf("count TOTP secrets: %w", mapErr(err))
	}
	return n, nil
}

// GetKeysByHashes returns the keys whose token hashes are among hashes,
// without locking them. See store.Reader.
func (r reader) GetKeysByHashes(ctx context.Context, hashes [][32]byte) ([]store.Key, error) {
	query, args, err := sqlstore.KeysByHashesQuery(dialect{}, hashes)
	if err != nil {
		return nil, fmt.Errorf("get keys by hashes: %w", err)
	}
	if len(hashes) == 0 {
		return nil, nil
	}
	keys, err := r.queryKeys(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("get keys by hashes: %w", err)
	}
	return keys, nil
}

// InsertSession adds s. See store.SessionTx.
func (t *tx) InsertSession(ctx context.Context, s store.Session) error {
	if err := sqlstore.CheckNewSession(s); err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	row := sqlstore.NewSessionRow(s)
	if _, err := t.q.Exec(ctx, sqlstore.InsertSessionQuery(dialect{}), row.Args()...); err != nil {
		return fmt.Errorf("insert session of key %s: %w", s.KeyID, mapRefErr(err, "key "+s.KeyID))
	}
	return nil
}

// DeleteSession removes the session whose identifier hashes to hash. See
// store.SessionTx.
func (t *tx) DeleteSession(ctx context.Context, hash [32]byte) error {
	tag, err := t.q.Exec(ctx, sqlstore.DeleteSessionQuery(dialect{}), hash[:])
	if err != nil {
		return fmt.Errorf("delete session: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete session: %w", store.ErrNotFound)
	}
	return nil
}

// PutTOTP enrols or replaces the TOTP secret of key s.KeyID. See
// store.SessionTx.
func (t *tx) PutTOTP(ctx context.Context, s store.TOTPSecret) error {
	if err := sqlstore.CheckTOTP(s); err != nil {
		return fmt.Errorf("store TOTP secret: %w", err)
	}
	row := sqlstore.NewTOTPRow(s)
	if _, err := t.q.Exec(ctx, sqlstore.UpsertTOTPQuery(dialect{}), row.Args()...); err != nil {
		return fmt.Errorf("store TOTP secret of key %s: %w", s.KeyID, mapRefErr(err, "key "+s.KeyID))
	}
	return nil
}

// AdvanceTOTPStep records an accepted code's time step; the conditional
// update is atomic, so of two replicas accepting the same code only one
// succeeds. See store.SessionTx.
func (t *tx) AdvanceTOTPStep(ctx context.Context, keyID string, step int64) error {
	tag, err := t.q.Exec(ctx, sqlstore.AdvanceTOTPStepQuery(dialect{}), keyID, step)
	if err != nil {
		return fmt.Errorf("advance TOTP step of key %s: %w", keyID, mapErr(err))
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	var exists int
	if err := t.q.QueryRow(ctx, sqlstore.TOTPExistsQuery(dialect{}), keyID).Scan(&exists); err != nil {
		return fmt.Errorf("advance TOTP step of key %s: %w", keyID, mapErr(err))
	}
	if exists == 0 {
		return fmt.Errorf("advance TOTP step of key %s: %w", keyID, store.ErrNotFound)
	}
	return fmt.Errorf("advance TOTP step of key %s: step %d already used: %w", keyID, step, store.ErrConflict)
}

// TouchSession moves a session's last-seen time and idle expiry forward.
// See store.SessionStore.
func (s *Store) TouchSession(ctx context.Context, hash [32]byte, lastSeen, idleExpiresAt time.Time) error {
	tag, err := s.pool.Exec(ctx, sqlstore.TouchSessionQuery(dialect{}, "GREATEST"),
		hash[:], sqlstore.Micros(lastSeen), sqlstore.Micros(idleExpiresAt))
	if err != nil {
		return fmt.Errorf("touch session: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("touch session: %w", store.ErrNotFound)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions ended at now. See
// store.SessionStore.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, sqlstore.DeleteExpiredSessionsQuery(dialect{}), sqlstore.Micros(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}

// mapRefErr is mapErr that also reports a broken reference (a row naming a
// key that does not exist) as store.ErrNotFound.
func mapRefErr(err error, ref string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation
		return fmt.Errorf("%s: %w: %w", ref, store.ErrNotFound, err)
	}
	return mapErr(err)
}
