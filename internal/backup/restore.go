package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/store"
)

// RestoreOptions control [Restore].
type RestoreOptions struct {
	// Force restores into a database that holds rows, deleting them.
	Force bool
	// Actor, when set, is recorded as the actor of a backup.restore event
	// appended to the restored audit log (with the backup's audit key) in
	// the restore's own transaction: "unix:1000(alice)".
	Actor string
	// Source names the backup in that event (its file name).
	Source string
	// Now is the clock of the event; time.Now when nil.
	Now func() time.Time
	// BeforeCommit, when set, runs once everything is loaded and checked,
	// just before the database commits, with the backup's key files (name
	// to content). An error aborts the restore and the database stays as
	// it was; use it to stage the key files (see PrepareKeys).
	BeforeCommit func(files map[string][]byte) error
}

// Report says what a restore or a verification found.
type Report struct {
	// Manifest is the backup's checked manifest.
	Manifest *Manifest `json:"manifest"`
	// Tables lists the rows loaded per table, in stream order.
	Tables []TableReport `json:"tables"`
	// Files names the key files the backup holds (never their content).
	Files []string `json:"files"`
	// Audit is the verification of the restored audit chain.
	Audit AuditReport `json:"audit"`
	// Event is the backup.restore event appended, when an actor was
	// given.
	Event *store.AuditEvent `json:"event,omitempty"`
}

// TableReport is one table of a Report.
type TableReport struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// AuditReport is the audit chain part of a Report.
type AuditReport struct {
	// OK is true when every event verified with the backup's audit key.
	OK bool `json:"ok"`
	// From and To are the first and last sequence checked (0 and 0 for
	// an empty log).
	From int64 `json:"from"`
	To   int64 `json:"to"`
	// Events counts the events that verified.
	Events int64 `json:"events"`
	// Reason explains a failure.
	Reason string `json:"reason,omitempty"`
}

// Restore reads a plaintext backup stream from r (see Open for files) and
// loads it into st in one transaction: the database must be empty unless
// opts.Force. The stream is checked as it is read (every part's size, row
// count and SHA-256, the manifest, the set of tables of its schema
// version, the audit key), and the restored audit chain must verify with
// the backup's audit key, before anything commits; on any failure st is
// left exactly as it was.
//
// A backup of an older schema version restores into a database of a newer
// one when the migrations since only added tables and columns; a newer one
// is refused with an error wrapping store.ErrSchemaTooNew.
func Restore(ctx context.Context, r io.Reader, st store.Store, opts RestoreOptions) (*Report, error) {
	br, err := NewReader(r)
	if err != nil {
		return nil, err
	}
	hdr := br.Header()
	target, err := st.SchemaVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if hdr.SchemaVersion > target {
		return nil, fmt.Errorf("restore: the backup has schema version %d, the target database %d: use a newer Mapwright: %w",
			hdr.SchemaVersion, target, store.ErrSchemaTooNew)
	}
	srcTables, err := store.SchemaTables(hdr.SchemaVersion)
	if err != nil {
		return nil, fmt.Errorf("restore: the backup's schema: %w", err)
	}
	dstTables, err := store.SchemaTables(target)
	if err != nil {
		return nil, fmt.Errorf("restore: the target's schema: %w", err)
	}
	rep := &Report{Files: []string{}, Tables: []TableReport{}}
	err = st.Restore(ctx, store.RestoreOptions{Force: opts.Force}, func(rt store.RestoreTx) error {
		files, err := loadParts(ctx, br, rt, srcTables, dstTables, rep)
		if err != nil {
			return err
		}
		rep.Manifest = br.Manifest()
		key, err := parseKey(files[AuditKeyFile])
		if err != nil {
			return fmt.Errorf("%w: %s in the backup: %v", ErrCorrupt, AuditKeyFile, err)
		}
		if rep.Audit, err = verifyChain(ctx, rt, key); err != nil {
			return err
		}
		if !rep.Audit.OK {
			return fmt.Errorf("%w: %s", ErrAuditChain, rep.Audit.Reason)
		}
		if opts.Actor != "" {
			ev, err := recordRestore(ctx, rt, key, hdr, rep, opts)
			if err != nil {
				return err
			}
			rep.Event = &ev
		}
		if opts.BeforeCommit != nil {
			return opts.BeforeCommit(files)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	return rep, nil
}

// loadParts reads every part: key files into memory, tables into the
// transaction. It returns the files once the manifest has checked out.
func loadParts(ctx context.Context, br *Reader, rt store.RestoreTx, srcTables, dstTables []store.Table, rep *Report) (map[string][]byte, error) {
	files := map[string][]byte{}
	seen := map[string]bool{}
	for {
		pr, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		p := pr.Part()
		switch p.Type {
		case PartFile:
			if !slices.Contains(keyFileNames, p.Name) {
				return nil, fmt.Errorf("%w: unknown file part %q", ErrCorrupt, sanitize(p.Name))
			}
			data, err := io.ReadAll(io.LimitReader(pr, maxKeyFile+1))
			if err != nil {
				return nil, err
			}
			if len(data) > maxKeyFile {
				return nil, fmt.Errorf("%w: file part %s is larger than a key file", ErrCorrupt, p.Name)
			}
			// Read to the end so that the part's hash is checked.
			if _, err := io.Copy(io.Discard, pr); err != nil {
				return nil, err
			}
			files[p.Name] = data
			rep.Files = append(rep.Files, p.Name)
		case PartTable:
			n, err := loadTable(ctx, pr, rt, srcTables, dstTables, seen)
			if err != nil {
				return nil, err
			}
			rep.Tables = append(rep.Tables, TableReport{Name: p.Table, Rows: n})
		}
	}
	for _, t := range srcTables {
		if !seen[t.Name] {
			return nil, fmt.Errorf("%w: table %s of schema version %d is missing", ErrCorrupt, t.Name, br.Header().SchemaVersion)
		}
	}
	if _, ok := files[AuditKeyFile]; !ok {
		return nil, fmt.Errorf("%w: the backup holds no %s", ErrCorrupt, AuditKeyFile)
	}
	return files, nil
}

// loadTable checks a table part's columns against the backup's schema and
// the target's, then streams its rows into the table.
func loadTable(ctx context.Context, pr *PartReader, rt store.RestoreTx, srcTables, dstTables []store.Table, seen map[string]bool) (int64, error) {
	p := pr.Part()
	src, ok := store.FindTable(srcTables, p.Table)
	if !ok {
		return 0, fmt.Errorf("%w: table %q is not part of the backup's schema", ErrCorrupt, sanitize(p.Table))
	}
	if p.Name != TablePartName(src.Name) {
		return 0, fmt.Errorf("%w: table %s in a part named %q", ErrCorrupt, src.Name, sanitize(p.Name))
	}
	if seen[src.Name] {
		return 0, fmt.Errorf("%w: table %s appears twice", ErrCorrupt, src.Name)
	}
	seen[src.Name] = true
	if !slices.Equal(p.Columns, columnsOf(src.Columns)) {
		return 0, fmt.Errorf("%w: the columns of table %s differ from its schema version's", ErrCorrupt, src.Name)
	}
	dst, ok := store.FindTable(dstTables, src.Name)
	if !ok {
		return 0, fmt.Errorf("restore table %s: the target database has no such table: %w", src.Name, store.ErrSchemaMismatch)
	}
	for _, c := range src.Columns {
		dc, ok := dst.Column(c.Name)
		if !ok || dc.Type != c.Type || (c.Nullable && !dc.Nullable) {
			return 0, fmt.Errorf("restore table %s: column %s (%s) has no counterpart in the target database: %w",
				src.Name, c.Name, c.Type, store.ErrSchemaMismatch)
		}
	}
	dec := newRowDecoder(pr, src.Columns)
	n, err := rt.LoadTable(ctx, src.Name, src.ColumnNames(), dec)
	if err != nil {
		return n, err
	}
	if err := dec.Err(); err != nil {
		return n, err
	}
	// The decoder stops at the part's end, where the part reader has
	// checked size, lines and hash; the rows decoded must be those lines.
	if got := pr.Part(); got.SHA256 == "" || got.Rows != dec.Rows() {
		return n, fmt.Errorf("%w: table %s: %d rows decoded, %d lines in the part", ErrCorrupt, src.Name, dec.Rows(), got.Rows)
	}
	return n, nil
}

// errFirst stops a scan after the first event.
var errFirst = errors.New("first event found")

// verifyChain verifies the restored audit log from its first event (a log
// pruned to a checkpoint starts later than 1).
func verifyChain(ctx context.Context, r store.Reader, key []byte) (AuditReport, error) {
	var first int64
	err := r.ScanAudit(ctx, 1, 0, func(ev store.AuditEvent) error {
		first = ev.Seq
		return errFirst
	})
	if err != nil && !errors.Is(err, errFirst) {
		return AuditReport{}, fmt.Errorf("verify the restored audit log: %w", err)
	}
	res, err := audit.Verify(ctx, r, key, audit.VerifyOptions{From: first})
	if err != nil {
		return AuditReport{}, fmt.Errorf("verify the restored audit log: %w", err)
	}
	return AuditReport{OK: res.OK, From: first, To: res.Head.Seq, Events: res.Checked, Reason: res.Reason}, nil
}

// recordRestore appends the backup.restore event to the restored chain.
func recordRestore(ctx context.Context, tx store.Tx, key []byte, hdr Manifest, rep *Report, opts RestoreOptions) (store.AuditEvent, error) {
	var rows int64
	for _, t := range rep.Tables {
		rows += t.Rows
	}
	ev, err := audit.New(key, opts.Now).Append(ctx, tx, audit.Event{
		Actor:  opts.Actor,
		Action: audit.ActionBackupRestore,
		Target: opts.Source,
		Details: map[string]string{
			"backup_created":   hdr.Created.UTC().Format(time.RFC3339),
			"source_backend":   hdr.Backend,
			"schema_version":   strconv.Itoa(hdr.SchemaVersion),
			"rows":             strconv.FormatInt(rows, 10),
			"forced":           strconv.FormatBool(opts.Force),
			"mapwright_source": hdr.MapwrightVersion,
		},
	})
	if err != nil {
		return store.AuditEvent{}, fmt.Errorf("record the restore in the audit log: %w", err)
	}
	return ev, nil
}
