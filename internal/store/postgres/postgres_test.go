package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/postgres"
	"github.com/mapwright/mapwright/internal/store/storetest"
	"github.com/mapwright/mapwright/internal/testutil/pgtest"
)

func openFresh(t *testing.T) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), pgtest.URL(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	// Skip once here rather than in each of the suite's subtests.
	pgtest.AdminURL(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
}

// TestTwoHandlesOneChain appends from two stores on the same database, as
// two replicas would: the audit log must still be one chain.
func TestTwoHandlesOneChain(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	a := openURL(t, url)
	b := openURL(t, url)
	const workersPerStore, perWorker = 4, 40
	var g errgroup.Group
	for i, s := range []*postgres.Store{a, b, a, b, a, b, a, b} {
		g.Go(func() error {
			for j := range perWorker {
				err := s.Update(t.Context(), func(tx store.Tx) error {
					head, err := tx.LockAuditHead(t.Context())
					if err != nil {
						return err
					}
					prev := head.Hash
					if head.Seq == 0 {
						prev = make([]byte, 32)
					}
					return tx.AppendAudit(t.Context(), store.AuditEvent{
						Seq: head.Seq + 1, Time: time.Unix(int64(j), 0).UTC(),
						Actor: fmt.Sprintf("replica-%d", i%2), Action: "test.append",
						PrevHash: prev, Hash: link(prev, head.Seq+1),
					})
				})
				if err != nil {
					return fmt.Errorf("worker %d: %w", i, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	const total = 2 * workersPerStore * perWorker
	prev := make([]byte, 32)
	n := int64(0)
	perReplica := map[string]int{}
	err := a.ScanAudit(t.Context(), 1, 0, func(ev store.AuditEvent) error {
		n++
		if ev.Seq != n {
			return fmt.Errorf("event %d has seq %d", n, ev.Seq)
		}
		if !bytes.Equal(ev.PrevHash, prev) || !bytes.Equal(ev.Hash, link(prev, ev.Seq)) {
			return fmt.Errorf("event %d does not link to event %d: the chain forked", ev.Seq, ev.Seq-1)
		}
		prev = ev.Hash
		perReplica[ev.Actor]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != total {
		t.Fatalf("%d events, want %d", n, total)
	}
	if perReplica["replica-0"] != total/2 || perReplica["replica-1"] != total/2 {
		t.Errorf("events per replica: %v", perReplica)
	}
}

func link(prev []byte, seq int64) []byte {
	h := sha256.New()
	h.Write(prev)
	binary.Write(h, binary.BigEndian, seq)
	return h.Sum(nil)
}

func openURL(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := openURL(t, url)
	if _, err := s.Pool().Exec(t.Context(), "INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)"); err != nil {
		t.Fatal(err)
	}
	before := schemaSnapshot(t, s)
	s2, err := postgres.Open(t.Context(), url)
	if err == nil {
		s2.Close()
		t.Fatal("Open succeeded on a database of schema version 999")
	}
	if !errors.Is(err, store.ErrSchemaTooNew) || !strings.Contains(err.Error(), "999") {
		t.Errorf("Open: %v; want ErrSchemaTooNew naming version 999", err)
	}
	if after := schemaSnapshot(t, s); after != before {
		t.Errorf("Open changed the database:\nbefore %s\nafter  %s", before, after)
	}
}

// schemaSnapshot describes the tables, columns and migration rows.
func schemaSnapshot(t *testing.T, s *postgres.Store) string {
	t.Helper()
	var snap string
	err := s.Pool().QueryRow(t.Context(), `SELECT
		(SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY table_name, column_name)
		   FROM information_schema.columns WHERE table_schema = current_schema()) || ' | ' ||
		(SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations)`).Scan(&snap)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestConcurrentOpens opens one new database from several pools at once,
// as replicas starting together would: every Open succeeds and each
// migration runs once.
func TestConcurrentOpens(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	var g errgroup.Group
	for range 6 {
		g.Go(func() error {
			s, err := postgres.Open(t.Context(), url)
			if err != nil {
				return err
			}
			return s.Close()
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("concurrent Open: %v", err)
	}
	s := openURL(t, url)
	var rows int
	if err := s.Pool().QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != postgres.LatestSchemaVersion() {
		t.Errorf("schema_migrations has %d rows, want %d", rows, postgres.LatestSchemaVersion())
	}
	if v, err := s.SchemaVersion(t.Context()); err != nil || v != postgres.LatestSchemaVersion() {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, postgres.LatestSchemaVersion())
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		url  string
	}{
		{"refused TCP port", "postgres://mapwright:s3cretpw@127.0.0.1:1/mapwright?sslmode=disable&connect_timeout=2"},
		{"missing unix socket", "postgres://mapwright:s3cretpw@/mapwright?host=" + t.TempDir() + "&connect_timeout=2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			s, err := postgres.Open(ctx, tc.url)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Open: %v; want ErrUnavailable", err)
			}
			if strings.Contains(err.Error(), "s3cretpw") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestBadURL(t *testing.T) {
	t.Parallel()
	s, err := postgres.Open(t.Context(), "postgres://mapwright:s3cretpw@localhost:notaport/db")
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded")
	}
	if strings.Contains(err.Error(), "s3cretpw") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestReadOnlyIsUnavailable connects as to a standby would (every
// transaction read-only): reads work, writes fail with ErrUnavailable.
func TestReadOnlyIsUnavailable(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	openURL(t, url).Close()
	ro := openURL(t, url+"&default_transaction_read_only=on")
	if _, err := ro.CountKeys(t.Context(), time.Now()); err != nil {
		t.Fatalf("CountKeys on a read-only connection: %v", err)
	}
	err := ro.Update(t.Context(), func(tx store.Tx) error {
		return tx.InsertKey(t.Context(), store.Key{ID: "key_01JQ0000000000000000000001", Kind: "public"})
	})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Update on a read-only connection: %v; want ErrUnavailable", err)
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		s, err := postgres.Open(context.Background(), pgtest.URL(b))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
