package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mapwright/mapwright/internal/store/sqlite"
)

// VerifyOptions control [Verify].
type VerifyOptions struct {
	// ScratchDir is where the scratch database is created (in a new
	// directory removed afterwards); empty means the system's temporary
	// directory. It needs room for a copy of the database.
	ScratchDir string
}

// Verify checks a plaintext backup stream read from r the only way that
// proves it restorable: it restores it into a scratch SQLite database,
// which checks every part's size, row count and SHA-256, the manifest,
// every row's shape and types, and the audit chain with the backup's own
// audit key. The scratch database is deleted afterwards. The Report says
// what was found; any fault is an error (the Report then holds what was
// checked before it).
//
// Verify records nothing anywhere: it runs offline, on any machine,
// without the server.
func Verify(ctx context.Context, r io.Reader, opts VerifyOptions) (*Report, error) {
	dir, err := os.MkdirTemp(opts.ScratchDir, "mapwright-verify-*")
	if err != nil {
		return nil, fmt.Errorf("verify: scratch directory: %w", err)
	}
	defer os.RemoveAll(dir)
	scratch, err := sqlite.Open(ctx, filepath.Join(dir, "verify.db"))
	if err != nil {
		return nil, fmt.Errorf("verify: scratch database: %w", err)
	}
	defer scratch.Close()
	rep, err := Restore(ctx, r, scratch, RestoreOptions{})
	if err != nil {
		return rep, fmt.Errorf("verify: %w", err)
	}
	return rep, nil
}
