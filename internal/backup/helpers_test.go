package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/sessions"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/postgres"
	"github.com/mapwright/mapwright/internal/store/sqlite"
	"github.com/mapwright/mapwright/internal/testutil/pgtest"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// testNow is the clock of every test.
var testNow = time.Date(2030, time.June, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testNow }

// instance is a data directory (with its key files) and a store.
type instance struct {
	dir      string
	st       store.Store
	auditKey []byte
}

// newSQLite returns an instance with an empty SQLite database and fresh
// key files.
func newSQLite(t *testing.T) *instance {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "mapwright.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return withKeys(t, dir, st)
}

// newPostgres returns an instance with an empty PostgreSQL database; it
// skips without a test server.
func newPostgres(t *testing.T) *instance {
	t.Helper()
	st, err := postgres.Open(t.Context(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return withKeys(t, t.TempDir(), st)
}

func withKeys(t *testing.T, dir string, st store.Store) *instance {
	t.Helper()
	key, err := audit.LoadOrCreateKey(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sessions.LoadOrCreateKey(dir, false); err != nil {
		t.Fatal(err)
	}
	return &instance{dir: dir, st: st, auditKey: key}
}

// tokens are the keys populate issues, by role.
type tokens struct {
	live, revoked, rotatedOld, rotatedNew string
}

// populate fills every table through the services that own them: keys
// issued, rotated and revoked (with their audit events), an admin session
// and a TOTP secret.
func (in *instance) populate(t *testing.T) tokens {
	t.Helper()
	ctx := t.Context()
	svc := keys.New(in.st, audit.New(in.auditKey, fixedNow), keys.Options{Now: fixedNow, CacheSize: -1})
	actor := keys.Actor{Name: "unix:1000(alice)", ClientIP: "192.0.2.7"}
	exp := testNow.Add(90 * 24 * time.Hour)
	issue := func(req keys.IssueRequest) keys.Issued {
		t.Helper()
		is, err := svc.Issue(ctx, req, actor)
		if err != nil {
			t.Fatalf("issue %s: %v", req.Name, err)
		}
		return is
	}
	live := issue(keys.IssueRequest{Kind: apikey.Public, Name: `web "maps" ✓`, Tilesets: []string{"osm"},
		Origins: []string{"https://maps.example.com"}, Rate: 12.5, Burst: 40,
		Labels: map[string]string{"team": "maps", "env": "prod"}, ExpiresAt: &exp})
	revoked := issue(keys.IssueRequest{Kind: apikey.Public, Name: "leaked"})
	admin := issue(keys.IssueRequest{Kind: apikey.Secret, Name: "ci", Scopes: []string{keys.ScopeBackupCreate, keys.ScopeKeysRotate}})
	old := issue(keys.IssueRequest{Kind: apikey.Public, Name: "rotating"})
	if _, _, err := svc.Revoke(ctx, revoked.Key.ID, "leaked in a build log", actor); err != nil {
		t.Fatal(err)
	}
	rotated, _, err := svc.Rotate(ctx, old.Key.ID, time.Hour, actor)
	if err != nil {
		t.Fatal(err)
	}
	err = in.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutTOTP(ctx, store.TOTPSecret{KeyID: admin.Key.ID, Sealed: []byte("\x00sealed\xff"), CreatedAt: testNow, LastStep: 3}); err != nil {
			return err
		}
		return tx.InsertSession(ctx, store.Session{
			Hash: sha256.Sum256([]byte("session")), KeyID: admin.Key.ID,
			CreatedAt: testNow, LastSeenAt: testNow, IdleExpiresAt: testNow.Add(time.Hour), ExpiresAt: testNow.Add(12 * time.Hour),
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return tokens{live: live.Token, revoked: revoked.Token, rotatedOld: old.Token, rotatedNew: rotated.Token}
}

// snapshot returns the plaintext stream of a backup of in.
func (in *instance) snapshot(t *testing.T) ([]byte, *Manifest) {
	t.Helper()
	files, err := ReadKeyFiles(in.dir)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := WriteSnapshot(t.Context(), in.st, &buf, SnapshotOptions{Files: files, MapwrightVersion: "test", Now: fixedNow})
	if err != nil {
		t.Fatalf("WriteSnapshot: %v", err)
	}
	return buf.Bytes(), m
}

// tableDump is every table of a store as its backup lines.
type tableDump map[string]string

// dumpTables renders every table of st as the lines a backup holds.
func dumpTables(t *testing.T, st store.Store) tableDump {
	t.Helper()
	d := tableDump{}
	err := st.Snapshot(t.Context(), func(snap store.Snapshot) error {
		for _, tb := range snap.Tables() {
			enc := newRowEncoder(tb.Columns)
			var buf bytes.Buffer
			err := snap.ScanTable(t.Context(), tb.Name, func(row []any) error {
				line, err := enc.encode(row)
				buf.Write(line)
				return err
			})
			if err != nil {
				return err
			}
			d[tb.Name] = buf.String()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("dump tables: %v", err)
	}
	return d
}

func diffDumps(t *testing.T, got, want tableDump) {
	t.Helper()
	for name, w := range want {
		if g := got[name]; g != w {
			t.Errorf("table %s differs:\n got %q\nwant %q", name, g, w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected table %s", name)
		}
	}
}

// encrypt wraps a plaintext stream as a backup file.
func encrypt(t testing.TB, plain []byte, enc Encryption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := enc.Wrap(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// passphrase is a cheap passphrase encryption for tests.
func passphrase(p string) Encryption { return Encryption{Passphrase: p, ScryptWorkFactor: 10} }

func newIdentity(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// restoreFile opens a backup file's bytes with keys and restores it.
func restoreFile(ctx context.Context, file []byte, k Keys, st store.Store, opts RestoreOptions) (*Report, error) {
	r, _, err := Open(bytes.NewReader(file), k)
	if err != nil {
		return nil, err
	}
	return Restore(ctx, r, st, opts)
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// addEvents appends n audit events in one transaction.
func (in *instance) addEvents(t *testing.T, n int) {
	t.Helper()
	log := audit.New(in.auditKey, fixedNow)
	err := in.st.Update(t.Context(), func(tx store.Tx) error {
		for i := range n {
			_, err := log.Append(t.Context(), tx, audit.Event{
				Actor: "system", Action: audit.ActionAuthFailure, Target: fmt.Sprintf("key_%d", i),
				Outcome: audit.OutcomeFailure, Details: map[string]string{"reason": "revoked", "count": fmt.Sprint(i)},
				ClientIP: "198.51.100.23",
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
