package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/internal/sqlstore"
)

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// dialect is SQLite's SQL: numbered ?NNN parameters and json_each.
type dialect struct{}

func (dialect) Param(n int) string { return "?" + strconv.Itoa(n) }

func (dialect) TilesetHas(p string) string {
	return "EXISTS (SELECT 1 FROM json_each(keys.tilesets) AS ts WHERE ts.value = " + p + ")"
}

func (dialect) LabelsHave(labels map[string]string, bind func(any) string) (string, error) {
	conds := make([]string, 0, len(labels))
	for _, k := range sqlstore.SortedLabelKeys(labels) {
		conds = append(conds, "EXISTS (SELECT 1 FROM json_each(keys.labels) AS l WHERE l.key = "+
			bind(k)+" AND l.value = "+bind(labels[k])+")")
	}
	return strings.Join(conds, " AND "), nil
}

// reader implements store.Reader on the database or on a transaction.
type reader struct {
	q querier
}

func (r reader) getKey(ctx context.Context, column string, arg any) (store.Key, error) {
	var row sqlstore.KeyRow
	err := r.q.QueryRowContext(ctx, sqlstore.SelectKeyQuery(dialect{}, column), arg).Scan(row.Dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Key{}, store.ErrNotFound
	}
	if err != nil {
		return store.Key{}, mapErr(err)
	}
	return row.Key()
}

// GetKey returns the key with this ID. See store.Reader.
func (r reader) GetKey(ctx context.Context, id string) (store.Key, error) {
	k, err := r.getKey(ctx, "id", id)
	if err != nil {
		return store.Key{}, fmt.Errorf("get key %s: %w", id, err)
	}
	return k, nil
}

// GetKeyByHash returns the key whose token hashes to hash. See store.Reader.
func (r reader) GetKeyByHash(ctx context.Context, hash [32]byte) (store.Key, error) {
	k, err := r.getKey(ctx, "hash", hash[:])
	if err != nil {
		return store.Key{}, fmt.Errorf("get key by hash: %w", err)
	}
	return k, nil
}

func (r reader) queryKeys(ctx context.Context, query string, args ...any) ([]store.Key, error) {
	rows, err := r.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var keys []store.Key
	for rows.Next() {
		var row sqlstore.KeyRow
		if err := rows.Scan(row.Dest()...); err != nil {
			return nil, mapErr(err)
		}
		k, err := row.Key()
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	return keys, nil
}

// ListKeys returns one page of keys matching f. See store.Reader.
func (r reader) ListKeys(ctx context.Context, f store.KeyFilter) ([]store.Key, string, error) {
	query, args, limit, err := sqlstore.ListKeysQuery(dialect{}, f)
	if err != nil {
		return nil, "", fmt.Errorf("list keys: %w", err)
	}
	keys, err := r.queryKeys(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list keys: %w", err)
	}
	keys, next := sqlstore.Page(keys, limit)
	return keys, next, nil
}

// CountKeys returns the number of keys in each state at now. Every state is
// present in the map, zero or not.
func (r reader) CountKeys(ctx context.Context, now time.Time) (map[store.KeyState]int, error) {
	rows, err := r.q.QueryContext(ctx, sqlstore.CountKeysQuery(dialect{}), sqlstore.Micros(now))
	if err != nil {
		return nil, fmt.Errorf("count keys: %w", mapErr(err))
	}
	defer rows.Close()
	counts := sqlstore.EmptyCounts()
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("count keys: %w", mapErr(err))
		}
		counts[store.KeyState(state)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count keys: %w", mapErr(err))
	}
	return counts, nil
}

// KeysDueToExpire lists keys past their expiry whose expiry is not yet
// recorded, oldest expiry first. limit <= 0 means 100; it is capped at 1000.
func (r reader) KeysDueToExpire(ctx context.Context, now time.Time, limit int) ([]store.Key, error) {
	keys, err := r.queryKeys(ctx, sqlstore.DueToExpireQuery(dialect{}), sqlstore.Micros(now), sqlstore.Limit(limit))
	if err != nil {
		return nil, fmt.Errorf("keys due to expire: %w", err)
	}
	return keys, nil
}

// AuditHead returns the head of the audit chain. See store.Reader.
func (r reader) AuditHead(ctx context.Context) (store.AuditHead, error) {
	var h store.AuditHead
	if err := r.q.QueryRowContext(ctx, sqlstore.AuditHeadQuery).Scan(&h.Seq, &h.Hash); err != nil {
		return store.AuditHead{}, fmt.Errorf("read audit head: %w", mapErr(err))
	}
	h.Hash = sqlstore.NilIfEmpty(h.Hash)
	return h, nil
}

// ScanAudit streams events from..to to fn in sequence order. See
// store.Reader.
func (r reader) ScanAudit(ctx context.Context, from, to int64, fn func(store.AuditEvent) error) error {
	if err := r.scanAudit(ctx, from, to, fn); err != nil {
		return fmt.Errorf("scan audit log from %d: %w", from, err)
	}
	return nil
}

func (r reader) scanAudit(ctx context.Context, from, to int64, fn func(store.AuditEvent) error) error {
	return sqlstore.ScanAudit(from, to, func(from, to int64, limit int) ([]sqlstore.AuditRow, error) {
		args := []any{from, limit}
		if to > 0 {
			args = append(args, to)
		}
		rows, err := r.q.QueryContext(ctx, sqlstore.ScanAuditQuery(dialect{}, to > 0), args...)
		if err != nil {
			return nil, mapErr(err)
		}
		defer rows.Close()
		var out []sqlstore.AuditRow
		for rows.Next() {
			var row sqlstore.AuditRow
			if err := rows.Scan(row.Dest()...); err != nil {
				return nil, mapErr(err)
			}
			out = append(out, row)
		}
		return out, mapErr(rows.Err())
	}, fn)
}

// QueryAudit returns one page of events matching f. See store.Reader.
func (r reader) QueryAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, int64, error) {
	query, args, limit, err := sqlstore.QueryAuditQuery(dialect{}, f)
	if err != nil {
		return nil, 0, fmt.Errorf("query audit log: %w", err)
	}
	rows, err := r.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("query audit log: %w", mapErr(err))
	}
	defer rows.Close()
	var out []sqlstore.AuditRow
	for rows.Next() {
		var row sqlstore.AuditRow
		if err := rows.Scan(row.Dest()...); err != nil {
			return nil, 0, fmt.Errorf("query audit log: %w", mapErr(err))
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("query audit log: %w", mapErr(err))
	}
	evs, next, err := sqlstore.AuditPage(out, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("query audit log: %w", err)
	}
	return evs, next, nil
}
