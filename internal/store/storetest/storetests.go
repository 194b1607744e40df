package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

var storeTests = []test{
	{"BackendSchemaPing", testBackendSchemaPing},
	{"CancelledContext", testCancelledContext},
	{"Close", testClose},
}

func testBackendSchemaPing(t *testing.T, s store.Store) {
	ctx := t.Context()
	if b := s.Backend(); b != store.BackendSQLite && b != store.BackendPostgres {
		t.Errorf("Backend() = %q, want %q or %q", b, store.BackendSQLite, store.BackendPostgres)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v < 1 {
		t.Errorf("SchemaVersion = %d, want at least 1 after Open", v)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func testCancelledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	k := minimalKey(1)
	err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertKey(ctx, k) })
	if err == nil {
		t.Fatal("Update with a cancelled context succeeded")
	}
	if _, err := s.GetKey(t.Context(), k.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetKey: got %v, want ErrNotFound", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping with a cancelled context succeeded")
	}
}

func testClose(t *testing.T, s store.Store) {
	insertKeys(t, s, minimalKey(1))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after Close succeeded")
	}
	if _, err := s.GetKey(ctx, keyID(1)); err == nil {
		t.Error("GetKey after Close succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
