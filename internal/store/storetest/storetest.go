// Package storetest is the conformance suite of package store. Every
// backend runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... })
//	}
//
// The suite pins the behaviour callers rely on, so that the embedded and the
// production backend cannot drift apart: exact round trips of every field,
// the normalisation of empty values, error sentinels, every ListKeys filter
// and pagination, and the linear audit chain under concurrent appenders.
//
// Normalisation the suite checks: empty lists and maps (Scopes, Tilesets,
// Origins, Labels, Details) come back nil whether they were stored nil or
// empty; unset optional times come back nil; times come back in UTC at
// microsecond precision.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

// Run runs the conformance suite. open must return a new, empty, migrated
// store for each call; the suite closes it when the subtest ends (Close
// must therefore tolerate being called twice). Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Keys", keyTests},
		{"List", listTests},
		{"Audit", auditTests},
		{"AuditQuery", auditQueryTests},
		{"Store", storeTests},
		{"Sessions", sessionTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := open(t)
					t.Cleanup(func() { s.Close() })
					tc.fn(t, s)
				})
			}
		})
	}
}

// test is one conformance test, run on a fresh store.
type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// t0 is the suite's "now": a fixed time with a non-zero microsecond part, so
// that a backend keeping only milliseconds or seconds fails.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// crockford is the ULID alphabet.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// keyID returns a well-formed key ID that sorts by n.
func keyID(n int) string {
	var b [22]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = crockford[n%32]
		n /= 32
	}
	return "key_01JQ" + string(b[:])
}

// tokenHash stands for the SHA-256 of the token of key n.
func tokenHash(n int) [32]byte {
	return sha256.Sum256([]byte(fmt.Sprintf("mpw_pk_token_%d", n)))
}

func ptr(t time.Time) *time.Time { return &t }

// minimalKey is key n with only the fields every key has.
func minimalKey(n int) store.Key {
	return store.Key{
		ID:        keyID(n),
		Kind:      "public",
		Start:     "mpw_pk_" + keyID(n)[8:12],
		Hash:      tokenHash(n),
		CreatedAt: t0.Add(-time.Duration(n) * time.Second),
	}
}

// fullKey is key n with every field set.
func fullKey(n int) store.Key {
	k := minimalKey(n)
	k.Kind = "secret"
	k.Name = `deploy "bot" ✓`
	k.Scopes = []string{"admin:keys", "admin:audit"}
	k.Tilesets = []string{"osm", "terrain-rgb"}
	k.Origins = []string{"https://maps.example.com", "https://*.example.org"}
	k.Rate = 12.5
	k.Burst = 40
	k.Labels = map[string]string{"team": "maps", "env": "prod", "a.b": `q"x`, "ключ": "значение"}
	k.CreatedBy = "unix:1000(alice)"
	k.NotBefore = ptr(t0.Add(-time.Hour))
	k.ExpiresAt = ptr(t0.Add(90 * 24 * time.Hour))
	k.ExpiredAt = ptr(t0.Add(91 * 24 * time.Hour))
	k.RevokedAt = ptr(t0.Add(30 * time.Minute))
	k.RevokedBy = "key:" + keyID(999)
	k.RevokeReason = "leaked in a public repository"
	k.Replaces = keyID(n + 1000)
	k.ReplacedBy = keyID(n + 2000)
	k.LastUsedAt = ptr(t0.Add(-3 * time.Second))
	return k
}

func insertKeys(t *testing.T, s store.Store, keys ...store.Key) {
	t.Helper()
	err := s.Update(t.Context(), func(tx store.Tx) error {
		for _, k := range keys {
			if err := tx.InsertKey(t.Context(), k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("insert %d keys: %v", len(keys), err)
	}
}

func getKey(t *testing.T, s store.Reader, id string) store.Key {
	t.Helper()
	k, err := s.GetKey(t.Context(), id)
	if err != nil {
		t.Fatalf("GetKey(%s): %v", id, err)
	}
	return k
}

// diffKeys describes how got differs from want, field by field; "" when
// they are deeply equal.
func diffKeys(want, got store.Key) string {
	return diffStructs(reflect.ValueOf(want), reflect.ValueOf(got))
}

func diffEvents(want, got store.AuditEvent) string {
	return diffStructs(reflect.ValueOf(want), reflect.ValueOf(got))
}

func diffStructs(want, got reflect.Value) string {
	var out []string
	for i := 0; i < want.NumField(); i++ {
		w, g := want.Field(i).Interface(), got.Field(i).Interface()
		if !reflect.DeepEqual(w, g) {
			out = append(out, fmt.Sprintf("%s: got %s, want %s", want.Type().Field(i).Name, show(g), show(w)))
		}
	}
	return strings.Join(out, "; ")
}

// show formats a field value, following pointers, marking nil slices and
// maps apart from empty ones and naming time zones.
func show(v any) string {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return "nil"
		}
		return "&" + show(rv.Elem().Interface())
	case reflect.Slice, reflect.Map:
		if rv.IsNil() {
			return "nil"
		}
	}
	if tm, ok := v.(time.Time); ok {
		return tm.Format(time.RFC3339Nano) + " (" + tm.Location().String() + ")"
	}
	return fmt.Sprintf("%#v", v)
}

func ids(keys []store.Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.ID
	}
	return out
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// genesis is the PrevHash of the first audit event.
var genesis = make([]byte, 32)

// chainHash is the suite's stand-in for the audit HMAC: deterministic and
// dependent on the previous hash, so a fork or a gap shows.
func chainHash(prev []byte, seq int64) []byte {
	h := sha256.New()
	h.Write(prev)
	binary.Write(h, binary.BigEndian, seq)
	return h.Sum(nil)
}

// appendEvent appends ev after the locked head, filling in Seq, PrevHash and
// Hash, and returns the event as written.
func appendEvent(ctx context.Context, tx store.Tx, ev store.AuditEvent) (store.AuditEvent, error) {
	head, err := tx.LockAuditHead(ctx)
	if err != nil {
		return ev, err
	}
	ev.Seq = head.Seq + 1
	ev.PrevHash = head.Hash
	if head.Seq == 0 {
		ev.PrevHash = genesis
	}
	ev.Hash = chainHash(ev.PrevHash, ev.Seq)
	return ev, tx.AppendAudit(ctx, ev)
}

// scanAll returns every audit event in order.
func scanAll(t *testing.T, s store.Reader) []store.AuditEvent {
	t.Helper()
	var evs []store.AuditEvent
	if err := s.ScanAudit(t.Context(), 1, 0, func(ev store.AuditEvent) error {
		evs = append(evs, ev)
		return nil
	}); err != nil {
		t.Fatalf("ScanAudit: %v", err)
	}
	return evs
}

// checkChain fails unless evs are seq 1..n, each linked to the one before.
func checkChain(t *testing.T, evs []store.AuditEvent, n int) {
	t.Helper()
	if len(evs) != n {
		t.Fatalf("audit log holds %d events, want %d", len(evs), n)
	}
	prev := genesis
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d, want %d", i, ev.Seq, i+1)
		}
		if !bytes.Equal(ev.PrevHash, prev) {
			t.Fatalf("event %d: prev_hash %x is not the previous event's hash %x (the chain forked)", ev.Seq, ev.PrevHash, prev)
		}
		if want := chainHash(prev, ev.Seq); !bytes.Equal(ev.Hash, want) {
			t.Fatalf("event %d: hash %x, want %x", ev.Seq, ev.Hash, want)
		}
		prev = ev.Hash
	}
}

// errBoom is what test callbacks return to force a rollback.
var errBoom = errors.New("boom")
