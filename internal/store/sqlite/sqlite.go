// Package sqlite is the embedded backend of package store: one SQLite file
// in write-ahead-log mode, through a pure-Go driver, so that a fresh machine
// needs nothing else.
//
// Write transactions begin IMMEDIATE, taking the write lock up front, so two
// writers never deadlock upgrading a read lock; within one process they also
// queue on a channel that honours the caller's context. Readers run side by
// side with each other and with the writer. Another process waits for the
// lock up to five seconds before its write fails with store.ErrUnavailable.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/internal/sqlstore"
)

// Store is a SQLite database. It implements store.Store.
type Store struct {
	reader
	db   *sql.DB
	path string
	// writer holds one token while an Update or TouchKeys runs, so that
	// writers of this process queue here, cancellable, instead of spinning
	// on SQLite's busy handler.
	writer chan struct{}
}

var _ store.Store = (*Store)(nil)

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Backend returns store.BackendSQLite.
func (s *Store) Backend() string { return store.BackendSQLite }

// DB returns the underlying handle, for backups and tests. Writes through it
// bypass the Store's checks.
func (s *Store) DB() *sql.DB { return s.db }

func (s *Store) lockWriter(ctx context.Context) error {
	select {
	case s.writer <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the database write lock: %w", ctx.Err())
	}
}

func (s *Store) unlockWriter() { <-s.writer }

// Update runs fn in one immediate transaction. See store.Store. Nesting an
// Update inside fn deadlocks until ctx ends.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := s.lockWriter(ctx); err != nil {
		return err
	}
	defer s.unlockWriter()
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", mapErr(err))
	}
	// Rolls back when fn fails or panics; a no-op after Commit.
	defer sqlTx.Rollback()
	t := &tx{reader: reader{q: sqlTx}}
	if err := fn(t); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}

// TouchKeys records last-used times in one statement, never moving a time
// backwards. See store.Store.
func (s *Store) TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	times := make(map[string]int64, len(lastUsed))
	for id, t := range lastUsed {
		if !t.IsZero() {
			times[id] = sqlstore.Micros(t)
		}
	}
	if len(times) == 0 {
		return nil
	}
	batch, err := json.Marshal(times)
	if err != nil {
		return fmt.Errorf("touch keys: %w", err)
	}
	if err := s.lockWriter(ctx); err != nil {
		return fmt.Errorf("touch keys: %w", err)
	}
	defer s.unlockWriter()
	_, err = s.db.ExecContext(ctx, `UPDATE keys SET last_used_at = t.used
		FROM (SELECT key AS id, value AS used FROM json_each(?1)) AS t
		WHERE keys.id = t.id AND (keys.last_used_at IS NULL OR keys.last_used_at < t.used)`, string(batch))
	if err != nil {
		return fmt.Errorf("touch keys: %w", mapErr(err))
	}
	return nil
}

// SchemaVersion returns the highest migration applied to the file.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.db.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", mapErr(err))
	}
	return v, nil
}

// Ping runs a trivial query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping database: %w", mapErr(err))
	}
	return nil
}

// Close closes every connection. SQLite checkpoints the write-ahead log
// into the main file when the last one closes.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close database %s: %w", s.path, err)
	}
	return nil
}

// tx is a store.Tx on an immediate SQLite transaction.
type tx struct {
	reader
	headLocked bool
}

// InsertKey adds k. See store.Tx.
func (t *tx) InsertKey(ctx context.Context, k store.Key) error {
	if err := sqlstore.CheckNewKey(k); err != nil {
		return fmt.Errorf("insert key %s: %w", k.ID, err)
	}
	row, err := sqlstore.NewKeyRow(k)
	if err != nil {
		return fmt.Errorf("insert key %s: %w", k.ID, err)
	}
	if _, err := t.q.ExecContext(ctx, sqlstore.InsertKeyQuery(dialect{}), row.Args()...); err != nil {
		return fmt.Errorf("insert key %s: %w", k.ID, mapErr(err))
	}
	return nil
}

// UpdateKey overwrites the mutable fields of k. See store.Tx.
func (t *tx) UpdateKey(ctx context.Context, k store.Key) error {
	row, err := sqlstore.NewKeyRow(k)
	if err != nil {
		return fmt.Errorf("update key %s: %w", k.ID, err)
	}
	res, err := t.q.ExecContext(ctx, sqlstore.UpdateKeyQuery(dialect{}), row.UpdateArgs()...)
	if err != nil {
		return fmt.Errorf("update key %s: %w", k.ID, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update key %s: %w", k.ID, mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("update key %s: %w", k.ID, store.ErrNotFound)
	}
	return nil
}

// LockAuditHead reads the audit head. The immediate transaction already
// holds the database's write lock, which serialises appenders of every
// process.
func (t *tx) LockAuditHead(ctx context.Context) (store.AuditHead, error) {
	h, err := t.AuditHead(ctx)
	if err != nil {
		return store.AuditHead{}, fmt.Errorf("lock audit head: %w", err)
	}
	t.headLocked = true
	return h, nil
}

// AppendAudit appends ev and moves the head to it. See store.Tx.
func (t *tx) AppendAudit(ctx context.Context, ev store.AuditEvent) error {
	if !t.headLocked {
		return fmt.Errorf("append audit event %d: %w", ev.Seq, sqlstore.ErrAuditNotLocked)
	}
	row, err := sqlstore.NewAuditRow(ev)
	if err != nil {
		return fmt.Errorf("append audit event %d: %w", ev.Seq, err)
	}
	res, err := t.q.ExecContext(ctx, sqlstore.AdvanceHeadQuery(dialect{}), row.Seq, row.Hash, row.PrevHash)
	if err != nil {
		return fmt.Errorf("append audit event %d: %w", ev.Seq, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("append audit event %d: %w", ev.Seq, mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("append audit event %d: sequence or previous hash does not follow the head: %w", ev.Seq, store.ErrConflict)
	}
	if _, err := t.q.ExecContext(ctx, sqlstore.InsertAuditQuery(dialect{}), row.Args()...); err != nil {
		return fmt.Errorf("append audit event %d: %w", ev.Seq, mapErr(err))
	}
	return nil
}

// Result codes the backend maps; the low byte of an extended code is its
// primary code.
const (
	codeNotADB  = sqlite3.SQLITE_NOTADB
	codeCorrupt = sqlite3.SQLITE_CORRUPT
)

// sqliteCode returns the extended result code carried by err, 0 if none.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// mapErr wraps err with the store sentinel its SQLite result code stands
// for, keeping SQLite's message.
func mapErr(err error) error {
	code := sqliteCode(err)
	switch {
	case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	case code == 0:
		return err
	}
	switch code & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR:
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	case codeCorrupt, codeNotADB:
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// DeleteAuditBefore deletes the events below seq. See store.Tx.
func (t *tx) DeleteAuditBefore(ctx context.Context, seq int64) (int64, error) {
	head, err := t.AuditHead(ctx)
	if err != nil {
		return 0, fmt.Errorf("delete audit events before %d: %w", seq, err)
	}
	if seq > head.Seq {
		return 0, fmt.Errorf("delete audit events before %d: the head is %d and must stay: %w", seq, head.Seq, store.ErrInvalid)
	}
	res, err := t.q.ExecContext(ctx, sqlstore.DeleteAuditBeforeQuery(dialect{}), seq)
	if err != nil {
		return 0, fmt.Errorf("delete audit events before %d: %w", seq, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete audit events before %d: %w", seq, mapErr(err))
	}
	return n, nil
}
