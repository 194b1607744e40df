package audit

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"

	// Registers the "pgx" database/sql driver for the raw tampering handle.
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/postgres"
	"github.com/mapwright/mapwright/internal/testutil/pgtest"
)

// extraBackends adds PostgreSQL to every test that loops over backends();
// each test gets a fresh database (or is skipped without a server).
var extraBackends = []backend{{name: "postgres", open: openPostgres}}

func openPostgres(t *testing.T) (store.Store, *sql.DB) {
	t.Helper()
	url := pgtest.URL(t)
	st, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return st, raw
}

// TestAppendFromTwoHandlesFormsOneChain stands in for two replicas: two
// independent store handles on one database append at the same time.
func TestAppendFromTwoHandlesFormsOneChain(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	var handles [2]store.Store
	for i := range handles {
		st, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		handles[i] = st
	}
	const perWorker, workersPerHandle = 20, 4
	var wg sync.WaitGroup
	errs := make(chan error, 2*workersPerHandle*perWorker)
	for h, st := range handles {
		l := New(testKey, nil)
		for w := range workersPerHandle {
			wg.Go(func() {
				for i := range perWorker {
					_, err := l.AppendStandalone(ctx, st, Event{
						Actor: fmt.Sprintf("replica:%d/%d", h, w), Action: ActionAuthFailure,
						Outcome: OutcomeFailure, Details: map[string]string{"i": fmt.Sprint(i)},
					})
					if err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const total = 2 * workersPerHandle * perWorker
	for i, st := range handles {
		res := mustVerify(t, st, testKey, VerifyOptions{})
		if !res.OK || res.Checked != total {
			t.Fatalf("handle %d sees %+v, want one chain of %d", i, res, total)
		}
	}
}
