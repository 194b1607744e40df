package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

// KeyColumns lists the columns of the keys table in the order of
// [KeyRow.Dest] and [KeyRow.Args]. Both backends select and insert them in
// this order.
const KeyColumns = "id, kind, name, start, hash, scopes, tilesets, origins, rate, burst, labels, " +
	"created_at, created_by, not_before, expires_at, expired_at, " +
	"revoked_at, revoked_by, revoke_reason, replaces, replaced_by, last_used_at"

// KeyColumnCount is the number of columns in KeyColumns.
const KeyColumnCount = 22

// KeyRow is a key as its columns hold it.
type KeyRow struct {
	ID, Kind, Name, Start     string
	Hash                      []byte
	Scopes, Tilesets, Origins string
	Rate                      float64
	Burst                     int64
	Labels                    string
	CreatedAt                 int64
	CreatedBy                 string
	NotBefore                 *int64
	ExpiresAt                 *int64
	ExpiredAt                 *int64
	RevokedAt                 *int64
	RevokedBy                 string
	RevokeReason              string
	Replaces                  string
	ReplacedBy                string
	LastUsedAt                *int64
}

// NewKeyRow encodes k as columns.
func NewKeyRow(k store.Key) (KeyRow, error) {
	scopes, err := EncodeList(k.Scopes)
	if err != nil {
		return KeyRow{}, fmt.Errorf("encode scopes: %w", err)
	}
	tilesets, err := EncodeList(k.Tilesets)
	if err != nil {
		return KeyRow{}, fmt.Errorf("encode tilesets: %w", err)
	}
	origins, err := EncodeList(k.Origins)
	if err != nil {
		return KeyRow{}, fmt.Errorf("encode origins: %w", err)
	}
	labels, err := EncodeMap(k.Labels)
	if err != nil {
		return KeyRow{}, fmt.Errorf("encode labels: %w", err)
	}
	return KeyRow{
		ID:           k.ID,
		Kind:         k.Kind,
		Name:         k.Name,
		Start:        k.Start,
		Hash:         k.Hash[:],
		Scopes:       scopes,
		Tilesets:     tilesets,
		Origins:      origins,
		Rate:         k.Rate,
		Burst:        int64(k.Burst),
		Labels:       labels,
		CreatedAt:    Micros(k.CreatedAt),
		CreatedBy:    k.CreatedBy,
		NotBefore:    OptMicros(k.NotBefore),
		ExpiresAt:    OptMicros(k.ExpiresAt),
		ExpiredAt:    OptMicros(k.ExpiredAt),
		RevokedAt:    OptMicros(k.RevokedAt),
		RevokedBy:    k.RevokedBy,
		RevokeReason: k.RevokeReason,
		Replaces:     k.Replaces,
		ReplacedBy:   k.ReplacedBy,
		LastUsedAt:   OptMicros(k.LastUsedAt),
	}, nil
}

// Dest returns scan destinations in KeyColumns order.
func (r *KeyRow) Dest() []any {
	return []any{
		&r.ID, &r.Kind, &r.Name, &r.Start, &r.Hash, &r.Scopes, &r.Tilesets, &r.Origins,
		&r.Rate, &r.Burst, &r.Labels, &r.CreatedAt, &r.CreatedBy, &r.NotBefore,
		&r.ExpiresAt, &r.ExpiredAt, &r.RevokedAt, &r.RevokedBy, &r.RevokeReason,
		&r.Replaces, &r.ReplacedBy, &r.LastUsedAt,
	}
}

// Args returns the column values in KeyColumns order.
func (r *KeyRow) Args() []any {
	return []any{
		r.ID, r.Kind, r.Name, r.Start, r.Hash, r.Scopes, r.Tilesets, r.Origins,
		r.Rate, r.Burst, r.Labels, r.CreatedAt, r.CreatedBy, r.NotBefore,
		r.ExpiresAt, r.ExpiredAt, r.RevokedAt, r.RevokedBy, r.RevokeReason,
		r.Replaces, r.ReplacedBy, r.LastUsedAt,
	}
}

// Key decodes the row.
func (r *KeyRow) Key() (store.Key, error) {
	k := store.Key{
		ID:           r.ID,
		Kind:         r.Kind,
		Name:         r.Name,
		Start:        r.Start,
		Rate:         r.Rate,
		Burst:        int(r.Burst),
		CreatedAt:    FromMicros(r.CreatedAt),
		CreatedBy:    r.CreatedBy,
		NotBefore:    OptTime(r.NotBefore),
		ExpiresAt:    OptTime(r.ExpiresAt),
		ExpiredAt:    OptTime(r.ExpiredAt),
		RevokedAt:    OptTime(r.RevokedAt),
		RevokedBy:    r.RevokedBy,
		RevokeReason: r.RevokeReason,
		Replaces:     r.Replaces,
		ReplacedBy:   r.ReplacedBy,
		LastUsedAt:   OptTime(r.LastUsedAt),
	}
	if len(r.Hash) != len(k.Hash) {
		return store.Key{}, fmt.Errorf("key %s: stored hash has %d bytes, want %d", r.ID, len(r.Hash), len(k.Hash))
	}
	copy(k.Hash[:], r.Hash)
	var err error
	if k.Scopes, err = DecodeList(r.Scopes); err != nil {
		return store.Key{}, fmt.Errorf("key %s: scopes: %w", r.ID, err)
	}
	if k.Tilesets, err = DecodeList(r.Tilesets); err != nil {
		return store.Key{}, fmt.Errorf("key %s: tilesets: %w", r.ID, err)
	}
	if k.Origins, err = DecodeList(r.Origins); err != nil {
		return store.Key{}, fmt.Errorf("key %s: origins: %w", r.ID, err)
	}
	if k.Labels, err = DecodeMap(r.Labels); err != nil {
		return store.Key{}, fmt.Errorf("key %s: labels: %w", r.ID, err)
	}
	return k, nil
}

// AuditColumns lists the columns of the audit_events table in the order of
// [AuditRow.Dest] and [AuditRow.Args].
const AuditColumns = "seq, time, actor, action, target, outcome, details, client_ip, prev_hash, hash"

// AuditColumnCount is the number of columns in AuditColumns.
const AuditColumnCount = 10

// AuditRow is an audit event as its columns hold it.
type AuditRow struct {
	Seq      int64
	Time     int64
	Actor    string
	Action   string
	Target   string
	Outcome  string
	Details  string
	ClientIP string
	PrevHash []byte
	Hash     []byte
}

// NewAuditRow encodes ev as columns. Nil hashes become empty byte strings so
// that NOT NULL columns accept them.
func NewAuditRow(ev store.AuditEvent) (AuditRow, error) {
	details, err := EncodeMap(ev.Details)
	if err != nil {
		return AuditRow{}, fmt.Errorf("encode details: %w", err)
	}
	return AuditRow{
		Seq:      ev.Seq,
		Time:     Micros(ev.Time),
		Actor:    ev.Actor,
		Action:   ev.Action,
		Target:   ev.Target,
		Outcome:  ev.Outcome,
		Details:  details,
		ClientIP: ev.ClientIP,
		PrevHash: NonNil(ev.PrevHash),
		Hash:     NonNil(ev.Hash),
	}, nil
}

// Dest returns scan destinations in AuditColumns order.
func (r *AuditRow) Dest() []any {
	return []any{&r.Seq, &r.Time, &r.Actor, &r.Action, &r.Target, &r.Outcome, &r.Details, &r.ClientIP, &r.PrevHash, &r.Hash}
}

// Args returns the column values in AuditColumns order.
func (r *AuditRow) Args() []any {
	return []any{r.Seq, r.Time, r.Actor, r.Action, r.Target, r.Outcome, r.Details, r.ClientIP, r.PrevHash, r.Hash}
}

// Event decodes the row.
func (r *AuditRow) Event() (store.AuditEvent, error) {
	details, err := DecodeMap(r.Details)
	if err != nil {
		return store.AuditEvent{}, fmt.Errorf("audit event %d: details: %w", r.Seq, err)
	}
	return store.AuditEvent{
		Seq:      r.Seq,
		Time:     FromMicros(r.Time),
		Actor:    r.Actor,
		Action:   r.Action,
		Target:   r.Target,
		Outcome:  r.Outcome,
		Details:  details,
		ClientIP: r.ClientIP,
		PrevHash: NilIfEmpty(r.PrevHash),
		Hash:     NilIfEmpty(r.Hash),
	}, nil
}

// EncodeList returns l as a JSON array; "[]" when l is nil or empty.
func EncodeList(l []string) (string, error) {
	if len(l) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(l)
	return string(b), err
}

// DecodeList parses a JSON array of strings; nil when it is empty.
func DecodeList(s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// EncodeMap returns m as a JSON object with sorted keys; "{}" when m is nil
// or empty.
func EncodeMap(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// DecodeMap parses a JSON object of strings; nil when it is empty.
func DecodeMap(s string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// Micros returns t as microseconds since the Unix epoch.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros is the inverse of Micros, in UTC.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// OptMicros is Micros for an optional time; nil stays nil.
func OptMicros(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	us := Micros(*t)
	return &us
}

// OptTime is FromMicros for an optional column; NULL stays nil.
func OptTime(us *int64) *time.Time {
	if us == nil {
		return nil
	}
	t := FromMicros(*us)
	return &t
}

// NonNil returns b, or an empty non-nil slice when b is nil.
func NonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// NilIfEmpty returns b, or nil when it is empty.
func NilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
