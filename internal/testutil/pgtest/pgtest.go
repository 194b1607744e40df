// Package pgtest gives tests a PostgreSQL database of their own.
//
// The server comes from the environment variable MAPWRIGHT_TEST_POSTGRES, an
// admin URL such as
//
//	postgres://postgres@/postgres?host=/path/to/socket&sslmode=disable
//
// When it is unset the test is skipped, except under CI=true, where it
// fails: CI must never pass by skipping the PostgreSQL half of the suite.
// When it is set but the server cannot be reached the test fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the environment variable holding the admin URL.
const EnvVar = "MAPWRIGHT_TEST_POSTGRES"

// connectTimeout bounds each admin connection, so that a wrong URL fails
// the test quickly instead of hanging it.
const connectTimeout = 10 * time.Second

// AdminURL returns the admin URL of the test server after checking that the
// server answers. It skips the test when the variable is unset (fails under
// CI=true) and fails it when the server does not answer.
func AdminURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvVar)
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PostgreSQL required in CI: " + EnvVar + " is not set")
		}
		t.Skip(EnvVar + " is not set; start one with: eval \"$(.ci/postgres.sh start)\"")
	}
	if _, err := withDatabase(admin, "postgres"); err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	conn := connect(t, admin)
	conn.Close(context.Background())
	return admin
}

// URL creates an empty database named mwtest_<random hex> on the test
// server and returns its URL. The database is dropped, even with sessions
// still open, when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)
	var b [8]byte
	rand.Read(b[:])
	name := "mwtest_" + hex.EncodeToString(b[:])
	dbURL, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}

	conn := connect(t, admin)
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	create := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	// From PostgreSQL 15 on, the default strategy copies the template
	// through the WAL, which is several times slower for the tiny
	// template a test starts from.
	if v, err := serverVersion(ctx, conn); err == nil && v >= 150000 {
		create += " STRATEGY = FILE_COPY"
	}
	if _, err := conn.Exec(ctx, create); err != nil {
		t.Fatalf("create test database %s: %v", name, err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), withTimeout(admin))
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return dbURL
}

func serverVersion(ctx context.Context, conn *pgx.Conn) (int, error) {
	var v int
	err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&v)
	return v, err
}

func connect(t testing.TB, admin string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, withTimeout(admin))
	if err != nil {
		t.Fatalf("connect to the PostgreSQL server in %s: %v", EnvVar, err)
	}
	return conn
}

// withTimeout adds connect_timeout to a URL that has none.
func withTimeout(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	if q.Get("connect_timeout") == "" {
		q.Set("connect_timeout", fmt.Sprint(int(connectTimeout.Seconds())))
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// withDatabase returns the admin URL pointing at database name instead.
func withDatabase(admin, name string) (string, error) {
	if !strings.HasPrefix(admin, "postgres://") && !strings.HasPrefix(admin, "postgresql://") {
		return "", errors.New("want a postgres:// URL")
	}
	u, err := url.Parse(admin)
	if err != nil {
		// url's error quotes the URL, password included.
		return "", errors.New("not a valid URL")
	}
	q := u.Query()
	q.Del("dbname")
	u.RawQuery = q.Encode()
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}
