// Package postgres is the production backend of package store: PostgreSQL
// through a pgx connection pool, shared by any number of replicas.
//
// Concurrency rests on row locks, not on the isolation level (transactions
// run at READ COMMITTED): GetKey and GetKeyByHash inside a transaction lock
// the key row (SELECT ... FOR UPDATE) and LockAuditHead locks the single
// audit_head row, so read-modify-write of a key and appends to the audit
// chain are serialised across every process.
//
// After a Tx method returns an error the PostgreSQL transaction is aborted:
// the callback given to Update should return that error (further calls
// fail).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/internal/sqlstore"
)

// defaultConnectTimeout applies when the URL sets no connect_timeout, so
// that an unreachable server fails Open instead of hanging it.
const defaultConnectTimeout = 10 * time.Second

// Store is a PostgreSQL database. It implements store.Store.
type Store struct {
	reader
	pool      *pgxpool.Pool
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres:// or postgresql://),
// checks that it answers and migrates it to the schema this binary knows.
// A server that cannot be reached is an error wrapping store.ErrUnavailable;
// a database migrated by a newer Mapwright one wrapping
// store.ErrSchemaTooNew, and it is left untouched. Error messages never
// contain the URL's password.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, fmt.Errorf("open postgres database: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres database: %w", mapErr(err))
	}
	s := &Store{pool: pool}
	s.reader = reader{q: pool}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres database %s: %w", describe(cfg), mapErr(err))
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres database %s: %w", describe(cfg), err)
	}
	return s, nil
}

// describe names the database for messages: user, host and database name,
// never the password.
func describe(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	host := c.Host
	if c.Port != 0 && !strings.HasPrefix(host, "/") {
		host = net.JoinHostPort(host, strconv.Itoa(int(c.Port)))
	}
	return fmt.Sprintf("%q on %s as %q", c.Database, host, c.User)
}

// Pool returns the connection pool, for LISTEN/NOTIFY, backups and tests.
// Writes through it bypass the Store's checks.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Backend returns store.BackendPostgres.
func (s *Store) Backend() string { return store.BackendPostgres }

// Update runs fn in one READ COMMITTED transaction. See store.Store.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	pgTx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", mapErr(err))
	}
	// Rolls back when fn fails or panics; a no-op after Commit. It must
	// run even when ctx is already cancelled.
	defer pgTx.Rollback(context.WithoutCancel(ctx))
	if err := fn(&tx{reader: reader{q: pgTx, inTx: true}}); err != nil {
		return err
	}
	if err := pgTx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}

// TouchKeys records last-used times in one statement, never moving a time
// backwards. Rows are locked in ID order so that replicas touching
// overlapping keys at once cannot deadlock. See store.Store.
func (s *Store) TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	ids := make([]string, 0, len(lastUsed))
	times := make([]int64, 0, len(lastUsed))
	for id, t := range lastUsed {
		if !t.IsZero() {
			ids = append(ids, id)
			times = append(times, sqlstore.Micros(t))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `
		WITH batch AS (
			SELECT * FROM unnest($1::text[], $2::bigint[]) AS b(id, used)
		), locked AS (
			SELECT k.id FROM keys k JOIN batch b ON b.id = k.id
			WHERE k.last_used_at IS NULL OR k.last_used_at < b.used
			ORDER BY k.id
			FOR UPDATE OF k
		)
		UPDATE keys k SET last_used_at = GREATEST(k.last_used_at, b.used)
		FROM batch b
		WHERE k.id = b.id AND k.id IN (SELECT id FROM locked)`, ids, times)
	if err != nil {
		return fmt.Errorf("touch keys: %w", mapErr(err))
	}
	return nil
}

// SchemaVersion returns the highest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", mapErr(err))
	}
	return v, nil
}

// Ping checks that the server answers a query.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", mapErr(err))
	}
	return nil
}

// Close closes every connection of the pool; a second call does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}

// tx is a store.Tx on a PostgreSQL transaction.
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
	if _, err := t.q.Exec(ctx, sqlstore.InsertKeyQuery(dialect{}), row.Args()...); err != nil {
		return fmt.Errorf("insert key %s: %w", k.ID, mapErr(err))
	}
	// Another replica may remember this hash as unknown.
	return notifyKey(ctx, t.q, k.Hash[:])
}

// UpdateKey overwrites the mutable fields of k. See store.Tx.
func (t *tx) UpdateKey(ctx context.Context, k store.Key) error {
	row, err := sqlstore.NewKeyRow(k)
	if err != nil {
		return fmt.Errorf("update key %s: %w", k.ID, err)
	}
	tag, err := t.q.Exec(ctx, sqlstore.UpdateKeyQuery(dialect{}), row.UpdateArgs()...)
	if err != nil {
		return fmt.Errorf("update key %s: %w", k.ID, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("update key %s: %w", k.ID, store.ErrNotFound)
	}
	return notifyKey(ctx, t.q, k.Hash[:])
}

// LockAuditHead reads the audit head and locks its row until the
// transaction ends; appenders in every process queue on that lock.
func (t *tx) LockAuditHead(ctx context.Context) (store.AuditHead, error) {
	var h store.AuditHead
	if err := t.q.QueryRow(ctx, sqlstore.AuditHeadQuery+" FOR UPDATE").Scan(&h.Seq, &h.Hash); err != nil {
		return store.AuditHead{}, fmt.Errorf("lock audit head: %w", mapErr(err))
	}
	h.Hash = sqlstore.NilIfEmpty(h.Hash)
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
	tag, err := t.q.Exec(ctx, sqlstore.AdvanceHeadQuery(dialect{}), row.Seq, row.Hash, row.PrevHash)
	if err != nil {
		return fmt.Errorf("append audit event %d: %w", ev.Seq, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("append audit event %d: sequence or previous hash does not follow the head: %w", ev.Seq, store.ErrConflict)
	}
	if _, err := t.q.Exec(ctx, sqlstore.InsertAuditQuery(dialect{}), row.Args()...); err != nil {
		return fmt.Errorf("append audit event %d: %w", ev.Seq, mapErr(err))
	}
	return nil
}

// mapErr wraps err with the store sentinel it stands for, keeping the
// original message: unique violations are conflicts; failures to reach the
// server, a server shutting down or refusing connections, and read-only
// transactions (a standby) are unavailability.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505": // unique_violation
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case strings.HasPrefix(pgErr.Code, "08"), // connection_exception
			pgErr.Code == "57P01", // admin_shutdown
			pgErr.Code == "57P02", // crash_shutdown
			pgErr.Code == "57P03", // cannot_connect_now
			pgErr.Code == "53300", // too_many_connections
			pgErr.Code == "25006": // read_only_sql_transaction
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return err
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	// pgxpool does not export its closed-pool error, hence the match on
	// the message.
	if errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || strings.HasSuffix(err.Error(), "closed pool") {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
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
	tag, err := t.q.Exec(ctx, sqlstore.DeleteAuditBeforeQuery(dialect{}), seq)
	if err != nil {
		return 0, fmt.Errorf("delete audit events before %d: %w", seq, mapErr(err))
	}
	return tag.RowsAffected(), nil
}
