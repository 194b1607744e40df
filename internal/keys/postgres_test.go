package keys

import (
	"context"
	"testing"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/postgres"
	"github.com/mapwright/mapwright/internal/testutil/pgtest"
)

// extraStores adds PostgreSQL to the tests that loop over stores(): issue,
// rotate, revoke, fail-closed and sweep. Each gets a fresh database, or is
// skipped without a server.
var extraStores = []opener{{"postgres", openPostgres, openPostgresPair}}

func openPostgres(t testing.TB) store.Store {
	t.Helper()
	return openPostgresURL(t, pgtest.URL(t))
}

func openPostgresURL(t testing.TB, url string) store.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openPostgresPair(t testing.TB) (store.Store, store.Store) {
	url := pgtest.URL(t)
	return openPostgresURL(t, url), openPostgresURL(t, url)
}
