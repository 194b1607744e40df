// Command seed fills an empty Mapwright store with many keys and a long,
// correctly chained audit log, to measure backups at scale:
//
//	go run ./internal/backup/seed --data-dir DIR [--database-url URL] --keys 1000000 --events 5000000
//
// The rows go in through the store's restore path in one transaction:
// COPY on PostgreSQL, one prepared statement on SQLite. The audit events
// are chained with the data directory's audit key (created when missing),
// so the result verifies like a real log. The keys' tokens are generated
// and thrown away: nobody can use a seeded key. The store must be empty.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/sessions"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/open"
	"github.com/mapwright/mapwright/pkg/apikey"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fl := flag.NewFlagSet("seed", flag.ContinueOnError)
	dataDir := fl.String("data-dir", "", "data directory: its SQLite database (unless --database-url) and its audit key (required)")
	dbURL := fl.String("database-url", "", "seed this PostgreSQL database instead of the data directory's SQLite")
	nKeys := fl.Int("keys", 1000, "number of keys")
	nEvents := fl.Int("events", 5000, "number of audit events (at least one per key: key.create)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *dataDir == "" || *nKeys < 0 || *nEvents < *nKeys {
		fmt.Fprintln(os.Stderr, "seed: --data-dir is required, and --events must be at least --keys")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	if err := seedDir(ctx, *dataDir, *dbURL, Plan{Keys: *nKeys, Events: *nEvents, Now: time.Now()}); err != nil {
		fmt.Fprintf(os.Stderr, "seed: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "seed: %d keys and %d audit events in %s\n", *nKeys, *nEvents, time.Since(start).Round(time.Millisecond))
	return 0
}

// seedDir opens the store of a data directory, with its key files, and
// seeds it.
func seedDir(ctx context.Context, dataDir, dbURL string, p Plan) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	key, err := audit.LoadOrCreateKey(dataDir, false)
	if err != nil {
		return err
	}
	if _, err := sessions.LoadOrCreateKey(dataDir, false); err != nil {
		return err
	}
	st, err := open.Open(ctx, dataDir, dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	return Seed(ctx, st, key, p)
}

// Plan says what to seed.
type Plan struct {
	// Keys and Events are the numbers of rows; Events >= Keys.
	Keys, Events int
	// Now is the time of the newest event; keys and events spread over
	// the year before it.
	Now time.Time
}

// Seed loads p's keys and events into the empty store st in one
// transaction, chaining the events with the audit key.
func Seed(ctx context.Context, st store.Store, auditKey []byte, p Plan) error {
	if p.Events < p.Keys {
		return errors.New("fewer events than keys: every key needs its key.create event")
	}
	return st.Restore(ctx, store.RestoreOptions{}, func(rt store.RestoreTx) error {
		version, err := st.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		tables, err := store.SchemaTables(version)
		if err != nil {
			return err
		}
		g := newGenerator(p, auditKey)
		keysT, _ := store.FindTable(tables, "keys")
		if _, err := rt.LoadTable(ctx, "keys", keysT.ColumnNames(), &rows{n: p.Keys, cols: keysT.ColumnNames(), gen: g.key}); err != nil {
			return fmt.Errorf("seed keys: %w", err)
		}
		evT, _ := store.FindTable(tables, "audit_events")
		if _, err := rt.LoadTable(ctx, "audit_events", evT.ColumnNames(), &rows{n: p.Events, cols: evT.ColumnNames(), gen: g.event}); err != nil {
			return fmt.Errorf("seed audit events: %w", err)
		}
		headT, _ := store.FindTable(tables, "audit_head")
		head := &rows{n: 1, cols: headT.ColumnNames(), gen: func(int) (map[string]any, error) {
			return map[string]any{"id": int64(1), "seq": int64(p.Events), "hash": g.prev}, nil
		}}
		if p.Events == 0 {
			head.gen = func(int) (map[string]any, error) {
				return map[string]any{"id": int64(1), "seq": int64(0), "hash": []byte{}}, nil
			}
		}
		if _, err := rt.LoadTable(ctx, "audit_head", headT.ColumnNames(), head); err != nil {
			return fmt.Errorf("seed audit head: %w", err)
		}
		return nil
	})
}

// rows is a store.RowSource of n generated rows, each built as a map by
// column name and handed on in column order.
type rows struct {
	n, i int
	cols []string
	gen  func(i int) (map[string]any, error)
	row  []any
	err  error
}

func (r *rows) Next() bool {
	if r.err != nil || r.i >= r.n {
		return false
	}
	m, err := r.gen(r.i)
	if err != nil {
		r.err = err
		return false
	}
	r.i++
	if r.row == nil {
		r.row = make([]any, len(r.cols))
	}
	for i, c := range r.cols {
		v, ok := m[c]
		if !ok {
			r.err = fmt.Errorf("generator has no value for column %s", c)
			return false
		}
		r.row[i] = v
	}
	return true
}

func (r *rows) Values() ([]any, error) { return r.row, nil }
func (r *rows) Err() error             { return r.err }

// generator makes the seeded rows: keys, then events chained as the audit
// log chains them.
type generator struct {
	p     Plan
	rnd   *rand.Rand
	mac   []byte
	prev  []byte
	buf   []byte
	ids   []string
	start time.Time
	step  time.Duration
}

func newGenerator(p Plan, key []byte) *generator {
	year := 365 * 24 * time.Hour
	g := &generator{p: p, rnd: rand.New(rand.NewPCG(1, 2)), mac: key, prev: make([]byte, sha256.Size), start: p.Now.Add(-year)}
	if p.Events > 0 {
		g.step = year / time.Duration(p.Events)
	}
	g.ids = make([]string, 0, p.Keys)
	return g
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// id returns a ULID key ID for a key created at t.
func (g *generator) id(t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(t.UnixMilli())<<16)
	binary.BigEndian.PutUint64(b[8:16], g.rnd.Uint64())
	binary.BigEndian.PutUint16(b[6:8], uint16(g.rnd.Uint32()))
	hi, lo := binary.BigEndian.Uint64(b[0:8]), binary.BigEndian.Uint64(b[8:16])
	out := []byte("key_00000000000000000000000000")
	for i := len(out) - 1; i >= 4; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out)
}

// eventTime is the time of event i (0-based): spread evenly over the year.
func (g *generator) eventTime(i int) time.Time {
	return store.Micro(g.start.Add(time.Duration(i) * g.step))
}

func (g *generator) key(i int) (map[string]any, error) {
	// Key i is created with event i, so its creation time and ID order
	// follow the log.
	created := g.eventTime(i)
	kind := apikey.Public
	scopes := `["tiles:read"]`
	if i%50 == 0 {
		kind, scopes = apikey.Secret, `["keys:read","keys:write"]`
	}
	tok, err := apikey.Generate(kind)
	if err != nil {
		return nil, err
	}
	h := apikey.Hash(tok)
	id := g.id(created)
	g.ids = append(g.ids, id)
	row := map[string]any{
		"id": id, "kind": kind.String(), "name": fmt.Sprintf("seeded key %d", i), "start": apikey.Start(tok),
		"hash": h[:], "scopes": scopes, "tilesets": `[]`, "origins": `[]`, "rate": 0.0, "burst": int64(0),
		"labels": `{}`, "created_at": created.UnixMicro(), "created_by": "unix:0(seed)",
		"not_before": nil, "expires_at": nil, "expired_at": nil, "revoked_at": nil,
		"revoked_by": "", "revoke_reason": "", "replaces": "", "replaced_by": "", "last_used_at": nil,
	}
	if i%3 == 0 {
		row["tilesets"], row["origins"] = `["osm","terrain"]`, `["https://maps.example.com"]`
		row["labels"] = `{"env":"prod","team":"maps"}`
		row["rate"], row["burst"] = 25.0, int64(100)
	}
	if i%20 == 0 {
		revoked := created.Add(24 * time.Hour).UnixMicro()
		row["revoked_at"], row["revoked_by"], row["revoke_reason"] = revoked, "unix:0(seed)", "rotated out"
	}
	if i%7 == 0 {
		row["last_used_at"] = created.Add(time.Hour).UnixMicro()
	}
	return row, nil
}

func (g *generator) event(i int) (map[string]any, error) {
	ev := store.AuditEvent{Seq: int64(i + 1), Time: g.eventTime(i), Outcome: audit.OutcomeSuccess}
	if i < len(g.ids) {
		ev.Actor, ev.Action, ev.Target = "unix:0(seed)", audit.ActionKeyCreate, g.ids[i]
		ev.Details = map[string]string{"kind": "public", "name": fmt.Sprintf("seeded key %d", i), "scopes": "tiles:read"}
	} else {
		target := ""
		if len(g.ids) > 0 {
			target = g.ids[g.rnd.IntN(len(g.ids))]
		}
		ev.Actor, ev.Action, ev.Target, ev.Outcome = "system", audit.ActionAuthFailure, target, audit.OutcomeFailure
		ev.Details = map[string]string{"reason": "origin", "count": fmt.Sprint(1 + g.rnd.IntN(40))}
		ev.ClientIP = fmt.Sprintf("198.51.%d.0", g.rnd.IntN(256))
	}
	ev.PrevHash = g.prev
	g.buf = audit.AppendCanonical(g.buf[:0], ev)
	m := hmac.New(sha256.New, g.mac)
	m.Write(ev.PrevHash)
	m.Write(g.buf)
	ev.Hash = m.Sum(nil)
	details, err := json.Marshal(ev.Details)
	if err != nil {
		return nil, err
	}
	row := map[string]any{
		"seq": ev.Seq, "time": ev.Time.UnixMicro(), "actor": ev.Actor, "action": ev.Action, "target": ev.Target,
		"outcome": ev.Outcome, "details": string(details), "client_ip": ev.ClientIP,
		"prev_hash": ev.PrevHash, "hash": ev.Hash,
	}
	g.prev = ev.Hash
	return row, nil
}
