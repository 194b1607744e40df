package backup

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

// File is a file of the data directory carried in a backup, such as the
// audit key. Its content is a secret: only an encrypted backup protects it.
type File struct {
	// Name is the file's name in the data directory and the part's name.
	Name string
	// Data is the file's content.
	Data []byte
}

// SnapshotOptions complete a snapshot.
type SnapshotOptions struct {
	// Files are written as parts before the tables (the key files, see
	// ReadKeyFiles).
	Files []File
	// MapwrightVersion is recorded in the manifest.
	MapwrightVersion string
	// Now stamps the manifest; time.Now when nil.
	Now func() time.Time
}

// TablePartName is the part name of table t.
func TablePartName(table string) string { return "tables/" + table + ".jsonl" }

// WriteSnapshot takes a consistent snapshot of st and writes it to w as a
// plaintext backup stream: header, the files, one part per table, manifest.
// Rows are streamed: memory use does not grow with the database. When it
// fails after starting the stream it ends the stream with an abort record,
// so that the reader learns why. It returns the manifest written.
func WriteSnapshot(ctx context.Context, st store.Store, w io.Writer, opts SnapshotOptions) (*Manifest, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	var m *Manifest
	err := st.Snapshot(ctx, func(snap store.Snapshot) error {
		bw, err := NewWriter(w, Manifest{
			Backend:          snap.Backend(),
			SchemaVersion:    snap.SchemaVersion(),
			Created:          now().UTC(),
			MapwrightVersion: opts.MapwrightVersion,
		})
		if err != nil {
			return err
		}
		if m, err = writeParts(ctx, bw, snap, opts.Files); err != nil {
			bw.Abort(err)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("write snapshot: %w", err)
	}
	return m, nil
}

func writeParts(ctx context.Context, bw *Writer, snap store.Snapshot, files []File) (*Manifest, error) {
	for _, f := range files {
		pw, err := bw.CreatePart(Part{Name: f.Name, Type: PartFile})
		if err != nil {
			return nil, err
		}
		if _, err := pw.Write(f.Data); err != nil {
			return nil, err
		}
		if _, err := pw.Close(); err != nil {
			return nil, err
		}
	}
	for _, t := range snap.Tables() {
		pw, err := bw.CreatePart(Part{Name: TablePartName(t.Name), Type: PartTable, Table: t.Name, Columns: columnsOf(t.Columns)})
		if err != nil {
			return nil, err
		}
		enc := newRowEncoder(t.Columns)
		var n int64
		err = snap.ScanTable(ctx, t.Name, func(row []any) error {
			n++
			line, err := enc.encode(row)
			if err != nil {
				return fmt.Errorf("table %s, row %d: %w", t.Name, n, err)
			}
			_, err = pw.Write(line)
			return err
		})
		if err != nil {
			return nil, err
		}
		if _, err := pw.Close(); err != nil {
			return nil, err
		}
	}
	return bw.Close()
}
