package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mapwright/mapwright/internal/store"
)

func TestMapErr(t *testing.T) {
	pgErr := func(code string) error {
		return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code, Message: "server says " + code})
	}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"unique violation", pgErr("23505"), store.ErrConflict},
		{"connection failure", pgErr("08006"), store.ErrUnavailable},
		{"server shutting down", pgErr("57P01"), store.ErrUnavailable},
		{"server starting up", pgErr("57P03"), store.ErrUnavailable},
		{"too many connections", pgErr("53300"), store.ErrUnavailable},
		{"read-only standby", pgErr("25006"), store.ErrUnavailable},
		{"network error", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, store.ErrUnavailable},
		{"connection dropped", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), store.ErrUnavailable},
		{"syntax error", pgErr("42601"), nil},
		{"check violation", pgErr("23514"), nil},
		{"cancelled", context.Canceled, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mapErr(tc.err)
			if !errors.Is(got, tc.err) {
				t.Errorf("mapErr lost the original error: %v", got)
			}
			if !strings.Contains(got.Error(), tc.err.Error()) {
				t.Errorf("mapErr lost the original message: %v", got)
			}
			for _, sentinel := range []error{store.ErrConflict, store.ErrUnavailable} {
				if errors.Is(got, sentinel) != (sentinel == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", got, sentinel, errors.Is(got, sentinel))
				}
			}
		})
	}
	if mapErr(nil) != nil {
		t.Error("mapErr(nil) != nil")
	}
}
