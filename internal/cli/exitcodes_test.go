package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/internal/cli/contexts"
	"github.com/mapwright/mapwright/pkg/apikey"
	"github.com/mapwright/mapwright/pkg/client"
)

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		// setup may change the environment; it returns the arguments.
		setup      func(e *env) []string
		wantCode   int
		wantStderr string
	}{
		{
			name:     "unknown key id is not found",
			setup:    func(*env) []string { return []string{"keys", "get", "key_9999"} },
			wantCode: exitNotFound, wantStderr: `mwctl: get key "key_9999": Not Found: no key with id "key_9999"`,
		},
		{
			name:     "rotating an unknown key is not found",
			setup:    func(*env) []string { return []string{"keys", "rotate", "nope", "-o", "json"} },
			wantCode: exitNotFound, wantStderr: "Not Found",
		},
		{
			name: "a key without the scope is forbidden",
			setup: func(e *env) []string {
				reader := e.fake.AddAdminKey("reader", "keys:read")
				e.useToken(reader.Token)
				return []string{"keys", "create", "--name", "x"}
			},
			wantCode: exitNotAllowed, wantStderr: "Forbidden: the key lacks scope keys:write",
		},
		{
			name: "a reader cannot revoke",
			setup: func(e *env) []string {
				reader := e.fake.AddAdminKey("reader", "keys:read")
				e.useToken(reader.Token)
				return []string{"keys", "revoke", "key_0001", "--yes", "-o", "json"}
			},
			wantCode: exitNotAllowed, wantStderr: "Forbidden",
		},
		{
			name: "no credentials is unauthorized, with a hint",
			setup: func(e *env) []string {
				e.t.Setenv("MWCTL_TOKEN", "")
				return []string{"keys", "list"}
			},
			wantCode: exitNotAllowed, wantStderr: "hint: no credentials were sent",
		},
		{
			name: "an unknown but well-formed key is unauthorized",
			setup: func(e *env) []string {
				e.useToken("mpw_sk_" + strings.Repeat("A", 30) + apikey.Checksum("mpw_sk_"+strings.Repeat("A", 30)))
				return []string{"status", "-o", "json"}
			},
			wantCode: exitNotAllowed, wantStderr: "Unauthorized",
		},
		{
			name: "rotating a revoked key is a conflict",
			setup: func(e *env) []string {
				e.mustRun("keys", "create", "--name", "gone", "-q")
				e.mustRun("keys", "revoke", "key_0002", "--yes")
				return []string{"keys", "rotate", "key_0002"}
			},
			wantCode: exitConflict, wantStderr: "Conflict: key key_0002 is revoked and cannot be rotated",
		},
		{
			name: "a token given with --token is not echoed on failure",
			setup: func(e *env) []string {
				reader := e.fake.AddAdminKey("reader", "keys:read")
				e.secrets = append(e.secrets, reader.Token)
				e.t.Setenv("MWCTL_TOKEN", "")
				return []string{"--token", reader.Token, "keys", "rotate", "key_0001", "-o", "json"}
			},
			wantCode: exitNotAllowed, wantStderr: "Forbidden: the key lacks scope keys:rotate",
		},
		{
			name: "a token file with a bad token is refused without echoing it",
			setup: func(e *env) []string {
				path := filepath.Join(e.t.TempDir(), "tok")
				bad := e.admin.Token[:42] + "!"
				e.secrets = append(e.secrets, bad)
				if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
					e.t.Fatal(err)
				}
				e.t.Setenv("MWCTL_TOKEN", "")
				return []string{"--token-file", path, "status"}
			},
			wantCode: exitUsage, wantStderr: "is not a valid secret key",
		},
		{
			name:     "an unknown flag is a usage error",
			setup:    func(*env) []string { return []string{"keys", "list", "--colour"} },
			wantCode: exitUsage, wantStderr: "mwctl: unknown flag: --colour\nRun 'mwctl keys list --help' for usage.",
		},
		{
			name:     "a bad flag value is a usage error",
			setup:    func(*env) []string { return []string{"keys", "create", "--name", "x", "--rate", "fast"} },
			wantCode: exitUsage, wantStderr: `invalid argument "fast" for "--rate"`,
		},
		{
			name:     "a bad output format is a usage error",
			setup:    func(*env) []string { return []string{"keys", "get", "k", "-o", "jsonl"} },
			wantCode: exitUsage, wantStderr: `unsupported output format "jsonl": want table, json or yaml`,
		},
		{
			name:     "an unknown command is a usage error with a suggestion",
			setup:    func(*env) []string { return []string{"keys", "revok"} },
			wantCode: exitUsage, wantStderr: `unknown command "revok" for "mwctl keys"; did you mean revoke?`,
		},
		{
			name:     "a missing argument is a usage error",
			setup:    func(*env) []string { return []string{"keys", "rotate"} },
			wantCode: exitUsage, wantStderr: "mwctl: keys rotate needs ID",
		},
		{
			name:     "a missing --name is a usage error",
			setup:    func(*env) []string { return []string{"keys", "create"} },
			wantCode: exitUsage, wantStderr: "--name is required",
		},
		{
			name:     "a past expiry is a usage error",
			setup:    func(*env) []string { return []string{"keys", "create", "--name", "x", "--expires", "2001-01-01"} },
			wantCode: exitUsage, wantStderr: `--expires "2001-01-01" is in the past`,
		},
		{
			name:     "a bad label is a usage error",
			setup:    func(*env) []string { return []string{"keys", "list", "--label", "team"} },
			wantCode: exitUsage, wantStderr: `--label "team": want key=value`,
		},
		{
			name:     "a bad state is a usage error",
			setup:    func(*env) []string { return []string{"keys", "list", "--state", "alive"} },
			wantCode: exitUsage, wantStderr: "want one of active, revoked, expired, expiring, pending",
		},
		{
			name:     "an unknown scope refused by the server is a usage error",
			setup:    func(*env) []string { return []string{"keys", "create", "--name", "x", "--scope", "everything"} },
			wantCode: exitUsage, wantStderr: `Unprocessable Entity: unknown scope "everything"`,
		},
		{
			name:     "revoke without a terminal and without --yes is a usage error",
			setup:    func(*env) []string { return []string{"keys", "revoke", "key_0001"} },
			wantCode: exitUsage, wantStderr: "needs confirmation and there is no terminal to ask on: pass --yes",
		},
		{
			name: "a malformed token is refused before sending",
			setup: func(e *env) []string {
				e.useToken("mpw_sk_tooshort")
				return []string{"status"}
			},
			wantCode: exitUsage, wantStderr: "is not a valid secret key",
		},
		{
			name: "a public key is refused as admin credential",
			setup: func(e *env) []string {
				e.useToken("mpw_pk_" + strings.Repeat("b", 30) + apikey.Checksum("mpw_pk_"+strings.Repeat("b", 30)))
				return []string{"status"}
			},
			wantCode: exitUsage, wantStderr: "is a public key; the admin API needs a secret key",
		},
		{
			name: "a key given as an id is refused and not echoed",
			setup: func(e *env) []string {
				return []string{"keys", "get", e.admin.Token}
			},
			wantCode: exitUsage, wantStderr: "looks like a key, not a key id",
		},
		{
			name: "an unknown context is not found",
			setup: func(e *env) []string {
				return []string{"--context", "prod", "status"}
			},
			wantCode: exitNotFound, wantStderr: `context "prod": no such context`,
		},
		{
			name:     "using an unknown context is not found",
			setup:    func(*env) []string { return []string{"context", "use", "prod"} },
			wantCode: exitNotFound, wantStderr: `no such context: "prod"`,
		},
		{
			name: "adding an existing context is a conflict",
			setup: func(e *env) []string {
				e.mustRun("context", "add", "prod", "--server", "https://tiles.example.com:9443")
				return []string{"context", "add", "prod", "--server", "https://other.example.com"}
			},
			wantCode: exitConflict, wantStderr: "context exists",
		},
		{
			name: "a server that is not running is a failure with a hint",
			setup: func(e *env) []string {
				e.t.Setenv("MWCTL_SERVER", "")
				return []string{"status"}
			},
			wantCode: exitFailure, wantStderr: "is mapwrightd running?\nmwctl: hint: no --server, MWCTL_SERVER or context is set",
		},
		{
			name: "plain http is a usage error",
			setup: func(e *env) []string {
				return []string{"--server", "http://127.0.0.1:9443", "status"}
			},
			wantCode: exitUsage, wantStderr: "always TLS",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			args := tt.setup(e)
			r := e.run(args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.wantStderr)
			}
			if !strings.HasPrefix(r.stderr, "mwctl: ") {
				t.Errorf("stderr does not start with \"mwctl: \": %q", r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout on failure: %q", r.stdout)
			}
		})
	}
}

func TestExitCodeMapping(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"plain error", context.Background(), errors.New("boom"), exitFailure},
		{"usage", context.Background(), usageErrorf("bad"), exitUsage},
		{"wrapped 404", context.Background(), fmt.Errorf("x: %w", &client.APIError{Status: 404}), exitNotFound},
		{"401", context.Background(), &client.APIError{Status: 401}, exitNotAllowed},
		{"403", context.Background(), &client.APIError{Status: 403}, exitNotAllowed},
		{"409", context.Background(), &client.APIError{Status: 409}, exitConflict},
		{"422", context.Background(), &client.APIError{Status: 422}, exitUsage},
		{"500", context.Background(), &client.APIError{Status: 500}, exitFailure},
		{"context missing", context.Background(), contexts.ErrNotFound, exitNotFound},
		{"cancelled prompt", context.Background(), errCancelled, exitFailure},
		{"interrupted", cancelled, fmt.Errorf("get status: %w", context.Canceled), exitInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.ctx, tt.err); got != tt.want {
				t.Errorf("exitCode = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestExitStatusIsDocumented(t *testing.T) {
	for _, code := range []int{exitOK, exitFailure, exitUsage, exitNotFound, exitNotAllowed, exitConflict, exitInterrupted} {
		if !strings.Contains(rootLong, fmt.Sprintf("\n  %-3d  ", code)) {
			t.Errorf("exit code %d is not listed under EXIT STATUS", code)
		}
	}
}
