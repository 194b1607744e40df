// Package store defines Mapwright's persistence contract: one Store interface
// with two backends, sqlite (embedded default) and postgres (production and
// replicas). The storetest package holds one conformance suite that every
// backend must pass, so neither has behaviour the other lacks.
//
// Conventions shared by every backend:
//
//   - Times are stored as integer microseconds since the Unix epoch (UTC), so
//     both backends round-trip them identically. Callers pass times already
//     truncated with [Micro]; backends return them in UTC.
//   - Lists and maps (scopes, tilesets, origins, labels, details) are stored
//     as JSON text. Empty ones come back nil, whether they were written nil
//     or empty; unset optional times come back nil.
//   - Key secrets are never stored: only the SHA-256 of the whole token
//     (unique) and a short display start such as "mpw_pk_AbCd".
//   - A read-write transaction ([Store.Update]) is all or nothing. Key changes
//     and their audit events are written in the same transaction, so a failed
//     audit append rolls the key change back (fail closed).
package store

import (
	"context"
	"time"
)

// Backend names, as reported by [Store.Backend].
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
)

// Store is a handle on one database. It is safe for concurrent use.
type Store interface {
	Reader
	SessionStore

	// Update runs fn in one read-write transaction and commits it when fn
	// returns nil; any error from fn (or from the commit) rolls everything
	// back and is returned. Concurrent Updates are serialised where they
	// touch the same rows; audit appends are always serialised (see
	// [Tx.LockAuditHead]).
	Update(ctx context.Context, fn func(Tx) error) error

	// TouchKeys records coarse last-used times (key ID to time) in one
	// batch, off the request path. A time older than the stored one is
	// ignored; unknown IDs are ignored.
	TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error

	// Backend names the backend: BackendSQLite or BackendPostgres.
	Backend() string
	// SchemaVersion is the highest migration applied to the database.
	SchemaVersion(ctx context.Context) (int, error)
	// Ping checks that the database answers (used by /readyz).
	Ping(ctx context.Context) error
	// Close releases the database. The Store must not be used afterwards.
	Close() error

	// Snapshot calls fn with a consistent, read-only view of every table
	// (see [Snapshot]); the view ends when fn returns. Writers are not
	// blocked meanwhile. Before calling fn it checks that the database's
	// tables and columns are exactly those [SchemaTables] lists for its
	// schema version, else it fails with an error wrapping
	// ErrSchemaMismatch: a table missing from the list would otherwise be
	// left out of backups silently.
	Snapshot(ctx context.Context, fn func(Snapshot) error) error
	// Restore runs fn in one read-write transaction that first makes sure
	// the database is empty (only seeded tables may hold rows; otherwise an
	// error wrapping ErrNotEmpty, unless opts.Force, which deletes every
	// row first) and commits when fn returns nil, leaving any counters
	// consistent with the loaded rows. Any error rolls everything back, so
	// a failed restore leaves the database exactly as it was. Writers of
	// other processes are kept out until it ends.
	Restore(ctx context.Context, opts RestoreOptions, fn func(RestoreTx) error) error
}

// KeyWatcher is implemented by a Store that several processes share
// (PostgreSQL): it tells each process about the key changes any of them
// commits, so that verify caches drop what changed at once.
type KeyWatcher interface {
	// WatchKeys reports changes to w until ctx ends, then returns nil. It
	// reconnects by itself after losing its connection, telling w so in
	// both directions; notices sent while it was not watching are lost,
	// which w must assume on every Watching(true).
	WatchKeys(ctx context.Context, w KeyWatch) error
}

// KeyWatch receives what a [KeyWatcher] sees. Its methods are called from
// one goroutine and must not block for long.
type KeyWatch interface {
	// KeyChanged says the key whose token hash is hash was created or
	// changed (rotated, revoked, edited, expired).
	KeyChanged(hash [32]byte)
	// AllKeysChanged says any key may have changed (a restore).
	AllKeysChanged()
	// Watching says whether changes are being received (true) or may be
	// missed (false, with the reason).
	Watching(ok bool, err error)
}

// Reader holds the queries available both on a Store and inside a Tx.
type Reader interface {
	SessionReader

	// GetKey returns the key with this ID, or an error wrapping ErrNotFound.
	// Inside a Tx on PostgreSQL the row is locked (SELECT ... FOR UPDATE)
	// until the transaction ends, so read-modify-write is safe.
	GetKey(ctx context.Context, id string) (Key, error)
	// GetKeyByHash returns the key whose token hashes to hash, or an error
	// wrapping ErrNotFound.
	GetKeyByHash(ctx context.Context, hash [32]byte) (Key, error)
	// GetKeysByHashes returns the keys whose token hashes are among
	// hashes, in no particular order; hashes matching no key are simply
	// absent. At most MaxBatch hashes per call (ErrInvalid beyond). It
	// never locks rows.
	GetKeysByHashes(ctx context.Context, hashes [][32]byte) ([]Key, error)
	// ListKeys returns up to f.Limit keys matching f in ascending ID order
	// (IDs sort by creation time) and the cursor of the next page, "" at
	// the end.
	ListKeys(ctx context.Context, f KeyFilter) (keys []Key, next string, err error)
	// CountKeys returns the number of keys in each state at time now.
	CountKeys(ctx context.Context, now time.Time) (map[KeyState]int, error)
	// KeysDueToExpire lists keys whose ExpiresAt is at or before now and
	// that are neither revoked nor yet marked expired, at most limit.
	KeysDueToExpire(ctx context.Context, now time.Time, limit int) ([]Key, error)

	// AuditHead returns the last appended event's sequence and hash; a
	// zero AuditHead when the log is empty.
	AuditHead(ctx context.Context) (AuditHead, error)
	// ScanAudit calls fn for every event with from <= Seq <= to in
	// ascending sequence order (to <= 0 means to the end), streaming rows
	// rather than loading them all. An error from fn stops the scan and is
	// returned.
	ScanAudit(ctx context.Context, from, to int64, fn func(AuditEvent) error) error
	// QueryAudit returns up to f.Limit events matching f in sequence order
	// (descending with f.Descending) and the cursor of the next page: the
	// last sequence of this page when more events match, else 0. A filter
	// the store cannot act on (Until before Since, a negative cursor) is
	// an error wrapping ErrInvalid.
	QueryAudit(ctx context.Context, f AuditFilter) (events []AuditEvent, next int64, err error)
}

// Tx is a read-write transaction, valid only inside the fn given to
// [Store.Update].
type Tx interface {
	Reader
	SessionTx

	// InsertKey adds a new key. A duplicate ID or hash is an error wrapping
	// ErrConflict.
	InsertKey(ctx context.Context, k Key) error
	// UpdateKey overwrites the mutable fields of an existing key (Name,
	// Scopes, Tilesets, Origins, Rate, Burst, Labels, NotBefore, ExpiresAt,
	// ExpiredAt, RevokedAt, RevokedBy, RevokeReason, ReplacedBy). Identity
	// fields (ID, Kind, Hash, Start, CreatedAt, CreatedBy, Replaces) never
	// change. An unknown ID is an error wrapping ErrNotFound.
	UpdateKey(ctx context.Context, k Key) error

	// LockAuditHead returns the current head of the audit chain and holds a
	// lock on it until the transaction ends, so that appends from many
	// goroutines and many processes form one linear chain. It must be
	// called before AppendAudit in the same transaction.
	LockAuditHead(ctx context.Context) (AuditHead, error)
	// AppendAudit inserts ev (its Seq must be head.Seq+1 and its PrevHash
	// the head's hash) and moves the head to it. A Seq that does not follow
	// the head is an error wrapping ErrConflict.
	AppendAudit(ctx context.Context, ev AuditEvent) error
	// DeleteAuditBefore deletes every audit event whose Seq is below seq
	// and returns how many it deleted; retention pruning uses it, after
	// LockAuditHead in the same transaction. The head event can never be
	// deleted: a seq above the head's is an error wrapping ErrInvalid.
	DeleteAuditBefore(ctx context.Context, seq int64) (int64, error)
}

// KeyState is the lifecycle state of a key at a given time.
type KeyState string

// Key states. Pending keys have a NotBefore in the future.
const (
	StateActive  KeyState = "active"
	StatePending KeyState = "pending"
	StateExpired KeyState = "expired"
	StateRevoked KeyState = "revoked"
)

// Key is one API key as stored. It never holds the token itself.
type Key struct {
	// ID is the key's identifier, "key_" followed by a 26-character
	// time-ordered ULID in Crockford base32; IDs sort by creation time.
	ID string
	// Kind is "public" (mpw_pk_, tiles in browsers) or "secret" (mpw_sk_,
	// admin API).
	Kind string
	// Name is a human label, unique or not.
	Name string
	// Start is the token's display start, e.g. "mpw_pk_AbCd".
	Start string
	// Hash is the SHA-256 of the whole token.
	Hash [32]byte
	// Scopes granted to the key (see package keys).
	Scopes []string
	// Tilesets the key may read; empty means every tileset.
	Tilesets []string
	// Origins the key may be used from in a browser: exact origins or
	// "https://*.example.com" patterns. Empty: no browser use.
	Origins []string
	// Rate is the key's own rate limit in requests per second, and Burst its
	// bucket size; 0 means the server default.
	Rate  float64
	Burst int
	// Labels are free key=value tags for operators.
	Labels map[string]string

	CreatedAt time.Time
	CreatedBy string
	// NotBefore, when set, is the time from which the key is valid.
	NotBefore *time.Time
	// ExpiresAt, when set, is the time from which the key is refused.
	ExpiresAt *time.Time
	// ExpiredAt is when the expiry sweep recorded the expiry (and audited
	// it); nil until then. The state is expired from ExpiresAt regardless.
	ExpiredAt *time.Time

	RevokedAt    *time.Time
	RevokedBy    string
	RevokeReason string

	// Replaces is the ID of the key this one rotated from; ReplacedBy the
	// ID of the key that replaced this one.
	Replaces   string
	ReplacedBy string

	// LastUsedAt is coarse: written at most about once a minute per key.
	LastUsedAt *time.Time
}

// State returns the key's state at time now. Revocation wins over expiry,
// expiry over pending.
func (k *Key) State(now time.Time) KeyState {
	switch {
	case k.RevokedAt != nil && !now.Before(*k.RevokedAt):
		return StateRevoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return StateExpired
	case k.NotBefore != nil && now.Before(*k.NotBefore):
		return StatePending
	default:
		return StateActive
	}
}

// KeyFilter selects keys in [Reader.ListKeys]. Zero fields do not filter.
type KeyFilter struct {
	// Kind: "public" or "secret".
	Kind string
	// State: active, revoked, expired or pending, evaluated at Now.
	State KeyState
	// ExpiringWithin selects keys active at Now whose ExpiresAt falls
	// within this duration of Now.
	ExpiringWithin time.Duration
	// Tileset selects keys that list this tileset explicitly.
	Tileset string
	// Labels selects keys carrying every one of these key=value labels.
	Labels map[string]string
	// Now is the time states are evaluated at; required when State or
	// ExpiringWithin is set.
	Now time.Time
	// Cursor is the value returned as next by the previous page.
	Cursor string
	// Limit caps the page; 0 means 100, and it is capped at 1000.
	Limit int
}

// AuditHead is the position of the last event in the audit chain.
type AuditHead struct {
	Seq  int64
	Hash []byte
}

// AuditEvent is one row of the append-only audit log.
type AuditEvent struct {
	// Seq is the event's position, 1 for the first event ever written.
	Seq  int64
	Time time.Time
	// Actor who did it: "unix:1000(alice)", "key:key_...", "system".
	Actor string
	// Action is a stable dotted name such as "key.create".
	Action string
	// Target is what it was done to, such as a key ID; may be empty.
	Target string
	// Outcome is "success" or "failure".
	Outcome string
	// Details are extra facts as strings; never a secret.
	Details map[string]string
	// ClientIP is already truncated (/24 for IPv4, /48 for IPv6); may be
	// empty.
	ClientIP string
	// PrevHash is the Hash of event Seq-1 (32 zero bytes for the first).
	PrevHash []byte
	// Hash is HMAC-SHA256(audit key, PrevHash || canonical encoding).
	Hash []byte
}

// Micro truncates t to the microsecond in UTC, the precision both backends
// keep. Use it on every time handed to a Store.
func Micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// AuditFilter selects events in [Reader.QueryAudit]. Zero fields do not
// filter; every condition must hold.
type AuditFilter struct {
	// Since and Until bound the event time: Since <= Time < Until.
	Since, Until time.Time
	// Actor, Action, Target and Outcome match exactly.
	Actor, Action, Target, Outcome string
	// ActionPrefix matches actions that start with it byte for byte,
	// such as "key." for every key event.
	ActionPrefix string
	// AfterSeq is the cursor: the next value returned by the previous
	// page. Ascending, events with Seq > AfterSeq; descending, events
	// with Seq < AfterSeq (when AfterSeq > 0).
	AfterSeq int64
	// Descending returns the newest events first.
	Descending bool
	// Limit caps the page; 0 means 100, and it is capped at 1000.
	Limit int
}
