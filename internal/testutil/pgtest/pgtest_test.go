package pgtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// fakeTB records Skip and Fatal instead of ending the test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

type stopped struct{}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Skip(args ...any)  { f.skipped = fmt.Sprint(args...); panic(stopped{}) }
func (f *fakeTB) Fatal(args ...any) { f.failed = fmt.Sprint(args...); panic(stopped{}) }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	panic(stopped{})
}

func run(f *fakeTB, fn func(testing.TB)) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stopped); !ok {
				panic(r)
			}
		}
	}()
	fn(f)
}

func TestMissingServer(t *testing.T) {
	cases := []struct {
		name, env, ci string
		skip, fail    string
	}{
		{"unset on a laptop", "", "", `eval "$(.ci/postgres.sh start)"`, ""},
		{"unset in CI", "", "true", "", "PostgreSQL required in CI: MAPWRIGHT_TEST_POSTGRES is not set"},
		{"unreachable", "postgres://postgres:pw@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", "", "", "connect to the PostgreSQL server"},
		{"not a postgres URL", "mysql://root@db/x", "", "", "want a postgres:// URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvVar, tc.env)
			t.Setenv("CI", tc.ci)
			for _, fn := range []func(testing.TB){func(tb testing.TB) { AdminURL(tb) }, func(tb testing.TB) { URL(tb) }} {
				f := &fakeTB{TB: t}
				run(f, fn)
				if tc.skip != "" && !strings.Contains(f.skipped, tc.skip) {
					t.Errorf("skip message %q, want one containing %q", f.skipped, tc.skip)
				}
				if tc.fail != "" && !strings.Contains(f.failed, tc.fail) {
					t.Errorf("failure %q, want one containing %q (skipped: %q)", f.failed, tc.fail, f.skipped)
				}
				if strings.Contains(f.failed+f.skipped, ":pw@") {
					t.Errorf("message shows the password: %q", f.failed+f.skipped)
				}
			}
		})
	}
}

func TestWithDatabase(t *testing.T) {
	cases := []struct {
		name, admin, want string
	}{
		{"unix socket", "postgres://postgres@/postgres?host=/run/pg&sslmode=disable", "postgres://postgres@/mwtest_1?host=%2Frun%2Fpg&sslmode=disable"},
		{"tcp with password", "postgresql://u:p@db:5432/admin", "postgresql://u:p@db:5432/mwtest_1"},
		{"dbname parameter", "postgres://u@db/?dbname=admin", "postgres://u@db/mwtest_1"},
		{"no path", "postgres://u@db", "postgres://u@db/mwtest_1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := withDatabase(tc.admin, "mwtest_1")
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestURLDatabaseLifecycle checks that URL hands out a fresh, empty
// database and drops it when the test that asked for it ends.
func TestURLDatabaseLifecycle(t *testing.T) {
	admin := AdminURL(t)
	var name string
	var held *pgx.Conn
	t.Run("inner", func(t *testing.T) {
		url := URL(t)
		// The session stays open past the inner test's end: dropping the
		// database must not wait for it.
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		held = conn
		var tables int
		if err := conn.QueryRow(t.Context(), "SELECT current_database(), (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')").Scan(&name, &tables); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, "mwtest_") || tables != 0 {
			t.Errorf("database %q with %d tables, want an empty mwtest_ database", name, tables)
		}
	})
	if held != nil {
		defer held.Close(context.Background())
	}
	conn, err := pgx.Connect(t.Context(), admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
}
