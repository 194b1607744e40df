package backup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"time"
)

// FormatVersion is the version of the stream format this package writes,
// and the newest it reads.
const FormatVersion = 1

// FormatName is the "format" field of every header and manifest.
const FormatName = "mapwright-backup"

// streamMagic opens every backup stream.
const streamMagic = "mapwright-backup\n"

// Record kinds of the stream.
const (
	recHeader   = 'H'
	recPart     = 'P'
	recData     = 'D'
	recPartEnd  = 'E'
	recManifest = 'M'
	recAbort    = 'X'
)

// Limits a reader enforces: a JSON record (header, part, manifest) and a
// data record. The writer stays far below both.
const (
	maxMetaRecord = 1 << 20
	maxDataRecord = 1 << 20
	// dataChunk is the size of the data records the writer emits.
	dataChunk = 64 << 10
)

// Part types.
const (
	// PartTable is a table as JSON Lines, one object per row.
	PartTable = "table"
	// PartFile is a file of the data directory (a key file), verbatim.
	PartFile = "file"
)

// Manifest describes a whole backup. The stream's header carries the same
// fields without Parts; its last record carries all of them.
type Manifest struct {
	// Format is always FormatName.
	Format string `json:"format"`
	// FormatVersion is the stream format's version, FormatVersion when
	// written by this package.
	FormatVersion int `json:"format_version"`
	// Backend is the database backend the snapshot was taken from:
	// "sqlite" or "postgres".
	Backend string `json:"backend"`
	// SchemaVersion is the database's schema version at the snapshot.
	SchemaVersion int `json:"schema_version"`
	// Created is when the snapshot was taken (UTC).
	Created time.Time `json:"created"`
	// MapwrightVersion is the version of the program that took it.
	MapwrightVersion string `json:"mapwright_version"`
	// Parts lists every part in stream order; absent in the header.
	Parts []Part `json:"parts,omitempty"`
}

// Part describes one part of a backup.
type Part struct {
	// Name is unique in the backup: "tables/NAME.jsonl" for a table,
	// the file name ("audit.key") for a file.
	Name string `json:"name"`
	// Type is PartTable or PartFile.
	Type string `json:"type"`
	// Table names the table of a table part.
	Table string `json:"table,omitempty"`
	// Columns of a table part, in the order of each row's fields.
	Columns []Column `json:"columns,omitempty"`
	// Rows is the number of rows of a table part (lines); 0 for a file.
	Rows int64 `json:"rows"`
	// Size is the part's length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the part's bytes.
	SHA256 string `json:"sha256"`
}

// Column is a column of a table part.
type Column struct {
	// Name of the column.
	Name string `json:"name"`
	// Type is "int", "float", "text" or "blob".
	Type string `json:"type"`
	// Nullable is true when the column may hold null.
	Nullable bool `json:"nullable"`
}

// Rows sums the rows of every table part.
func (m *Manifest) Rows() int64 {
	var n int64
	for _, p := range m.Parts {
		n += p.Rows
	}
	return n
}

// Part returns the part named name.
func (m *Manifest) Part(name string) (Part, bool) {
	for _, p := range m.Parts {
		if p.Name == name {
			return p, true
		}
	}
	return Part{}, false
}

// header returns the manifest without its parts.
func (m *Manifest) header() Manifest {
	h := *m
	h.Parts = nil
	return h
}

// sameHeader reports whether two headers agree (times to the nanosecond).
func sameHeader(a, b Manifest) bool {
	return a.Format == b.Format && a.FormatVersion == b.FormatVersion && a.Backend == b.Backend &&
		a.SchemaVersion == b.SchemaVersion && a.Created.Equal(b.Created) && a.MapwrightVersion == b.MapwrightVersion
}

// partEnd is the record closing a part.
type partEnd struct {
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// abortRecord is written by a producer that fails midway.
type abortRecord struct {
	Error string `json:"error"`
}

// Writer writes a backup stream: the header, then parts one at a time,
// then the manifest. Memory use is bounded by one data record whatever
// the size of the parts.
type Writer struct {
	w     *bufio.Writer
	hdr   Manifest
	parts []Part
	names map[string]bool
	cur   *PartWriter
	err   error
	done  bool
}

// NewWriter starts a stream on w with the header h (Format and
// FormatVersion are filled in).
func NewWriter(w io.Writer, h Manifest) (*Writer, error) {
	h.Format = FormatName
	h.FormatVersion = FormatVersion
	h.Created = h.Created.UTC()
	h.Parts = nil
	bw := &Writer{w: bufio.NewWriterSize(w, 2*dataChunk), hdr: h, names: map[string]bool{}}
	if _, err := bw.w.WriteString(streamMagic); err != nil {
		return nil, fmt.Errorf("write backup header: %w", err)
	}
	if err := bw.writeJSON(recHeader, h); err != nil {
		return nil, fmt.Errorf("write backup header: %w", err)
	}
	return bw, nil
}

func (w *Writer) writeRecord(kind byte, payload []byte) error {
	if w.err != nil {
		return w.err
	}
	var hdr [5]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := w.w.Write(hdr[:]); err != nil {
		w.err = err
		return err
	}
	if _, err := w.w.Write(payload); err != nil {
		w.err = err
		return err
	}
	return nil
}

func (w *Writer) writeJSON(kind byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.writeRecord(kind, b)
}

// CreatePart starts part p (its Name, Type, Table and Columns; the rest is
// computed). The previous part must be closed.
func (w *Writer) CreatePart(p Part) (*PartWriter, error) {
	switch {
	case w.done:
		return nil, errors.New("create part: the stream is closed")
	case w.cur != nil:
		return nil, fmt.Errorf("create part %s: part %s is still open", p.Name, w.cur.part.Name)
	case p.Name == "" || w.names[p.Name]:
		return nil, fmt.Errorf("create part %q: empty or duplicate name", p.Name)
	case p.Type != PartTable && p.Type != PartFile:
		return nil, fmt.Errorf("create part %s: unknown type %q", p.Name, p.Type)
	}
	p.Rows, p.Size, p.SHA256 = 0, 0, ""
	if err := w.writeJSON(recPart, p); err != nil {
		return nil, fmt.Errorf("create part %s: %w", p.Name, err)
	}
	w.names[p.Name] = true
	w.cur = &PartWriter{w: w, part: p, hash: sha256.New(), buf: make([]byte, 0, dataChunk)}
	return w.cur, nil
}

// Close writes the manifest and flushes the stream. It returns the
// manifest written.
func (w *Writer) Close() (*Manifest, error) {
	if w.cur != nil {
		return nil, fmt.Errorf("close backup stream: part %s is still open", w.cur.part.Name)
	}
	if w.done {
		return nil, errors.New("close backup stream: already closed")
	}
	m := w.hdr
	m.Parts = slices.Clone(w.parts)
	if err := w.writeJSON(recManifest, m); err != nil {
		return nil, fmt.Errorf("write manifest: %w", err)
	}
	if err := w.w.Flush(); err != nil {
		return nil, fmt.Errorf("write manifest: %w", err)
	}
	w.done = true
	return &m, nil
}

// Abort ends the stream with a record saying why, so that a reader
// reports cause rather than truncation. It is best effort: the stream may
// be what failed.
func (w *Writer) Abort(cause error) {
	if w.done {
		return
	}
	w.done = true
	w.err = nil
	_ = w.writeJSON(recAbort, abortRecord{Error: cause.Error()})
	_ = w.w.Flush()
}

// PartWriter writes the bytes of one part.
type PartWriter struct {
	w    *Writer
	part Part
	hash hash.Hash
	buf  []byte
	// rows counts line ends: one per row in a table part.
	rows int64
	size int64
}

// Write appends p to the part.
func (pw *PartWriter) Write(p []byte) (int, error) {
	if pw.w.cur != pw {
		return 0, fmt.Errorf("write part %s: closed", pw.part.Name)
	}
	n := len(p)
	pw.hash.Write(p)
	pw.size += int64(n)
	if pw.part.Type == PartTable {
		pw.rows += int64(bytes.Count(p, []byte{'\n'}))
	}
	for len(p) > 0 {
		k := min(len(p), dataChunk-len(pw.buf))
		pw.buf = append(pw.buf, p[:k]...)
		p = p[k:]
		if len(pw.buf) == dataChunk {
			if err := pw.flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

func (pw *PartWriter) flush() error {
	if len(pw.buf) == 0 {
		return nil
	}
	if err := pw.w.writeRecord(recData, pw.buf); err != nil {
		return fmt.Errorf("write part %s: %w", pw.part.Name, err)
	}
	pw.buf = pw.buf[:0]
	return nil
}

// Close ends the part and returns its description.
func (pw *PartWriter) Close() (Part, error) {
	if pw.w.cur != pw {
		return Part{}, fmt.Errorf("close part %s: already closed", pw.part.Name)
	}
	if err := pw.flush(); err != nil {
		return Part{}, err
	}
	p := pw.part
	p.Rows, p.Size, p.SHA256 = pw.rows, pw.size, hex.EncodeToString(pw.hash.Sum(nil))
	if err := pw.w.writeJSON(recPartEnd, partEnd{Name: p.Name, Rows: p.Rows, Size: p.Size, SHA256: p.SHA256}); err != nil {
		return Part{}, fmt.Errorf("close part %s: %w", p.Name, err)
	}
	pw.w.parts = append(pw.w.parts, p)
	pw.w.cur = nil
	return p, nil
}

// Reader reads a backup stream, checking as it goes: the format version
// first, then every part's size, row count and SHA-256 against its closing
// record, and at the end the manifest against the parts read. It never
// holds more than one data record in memory.
type Reader struct {
	r        *bufio.Reader
	scratch  []byte
	hdr      Manifest
	parts    []Part
	cur      *PartReader
	manifest *Manifest
	err      error
}

// NewReader reads the start of a backup stream and checks its format
// version. It fails with ErrNotBackup, ErrFormatTooNew, ErrTruncated or
// ErrCorrupt.
func NewReader(r io.Reader) (*Reader, error) {
	br := &Reader{r: bufio.NewReaderSize(r, 64<<10)}
	magic := make([]byte, len(streamMagic))
	if _, err := io.ReadFull(br.r, magic); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("read backup: %w: it ends before its first record", ErrTruncated)
		}
		return nil, fmt.Errorf("read backup: %w", readErr(err))
	}
	if string(magic) != streamMagic {
		return nil, fmt.Errorf("read backup: %w: no backup stream header", ErrNotBackup)
	}
	kind, payload, err := br.record()
	if err != nil {
		return nil, fmt.Errorf("read backup header: %w", err)
	}
	if kind != recHeader {
		return nil, fmt.Errorf("read backup header: %w: first record is %q, not a header", ErrCorrupt, kind)
	}
	// The version is read before anything else in the header, so that a
	// newer format is reported as such even if the rest has changed.
	var version struct {
		Format        string `json:"format"`
		FormatVersion int    `json:"format_version"`
	}
	if err := json.Unmarshal(payload, &version); err != nil {
		return nil, fmt.Errorf("read backup header: %w: %v", ErrCorrupt, err)
	}
	switch {
	case version.Format != FormatName:
		return nil, fmt.Errorf("read backup header: %w: format %q", ErrNotBackup, version.Format)
	case version.FormatVersion > FormatVersion:
		return nil, fmt.Errorf("read backup header: %w: format version %d, this program reads up to %d; use a newer Mapwright",
			ErrFormatTooNew, version.FormatVersion, FormatVersion)
	case version.FormatVersion < 1:
		return nil, fmt.Errorf("read backup header: %w: format version %d", ErrCorrupt, version.FormatVersion)
	}
	if err := strictJSON(payload, &br.hdr); err != nil {
		return nil, fmt.Errorf("read backup header: %w: %v", ErrCorrupt, err)
	}
	if br.hdr.Parts != nil {
		return nil, fmt.Errorf("read backup header: %w: the header lists parts", ErrCorrupt)
	}
	return br, nil
}

// strictJSON decodes one JSON document, refusing unknown fields and
// trailing data.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON document")
	}
	return nil
}

// readErr classifies an error of the underlying reader: a cut-off stream
// is truncation; anything else (a decryption failure included) is passed
// on as it is.
func readErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	return err
}

// record reads one record. The payload is valid until the next call.
func (br *Reader) record() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(br.r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("%w: the stream ends before its manifest", ErrTruncated)
		}
		return 0, nil, readErr(err)
	}
	kind, n := hdr[0], binary.BigEndian.Uint32(hdr[1:])
	limit := uint32(maxMetaRecord)
	switch kind {
	case recData:
		limit = maxDataRecord
	case recHeader, recPart, recPartEnd, recManifest, recAbort:
	default:
		return 0, nil, fmt.Errorf("%w: unknown record kind 0x%02x", ErrCorrupt, kind)
	}
	if n > limit {
		return 0, nil, fmt.Errorf("%w: record of %d bytes exceeds the limit of %d", ErrCorrupt, n, limit)
	}
	if uint32(cap(br.scratch)) < n {
		br.scratch = make([]byte, n)
	}
	payload := br.scratch[:n]
	if _, err := io.ReadFull(br.r, payload); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("%w: the stream ends inside a record", ErrTruncated)
		}
		return 0, nil, readErr(err)
	}
	return kind, payload, nil
}

// Header returns the stream's header (a manifest without parts).
func (br *Reader) Header() Manifest { return br.hdr }

// Next returns the next part. What is left unread of the previous part is
// read and checked first. At the end of the stream, once the manifest has
// been checked, it returns io.EOF; any other error is final.
func (br *Reader) Next() (*PartReader, error) {
	if br.err != nil {
		return nil, br.err
	}
	if br.cur != nil {
		if _, err := io.Copy(io.Discard, br.cur); err != nil {
			br.err = err
			return nil, err
		}
		br.cur = nil
	}
	if br.manifest != nil {
		return nil, io.EOF
	}
	pr, err := br.next()
	if err != nil {
		br.err = err
		return nil, err
	}
	if pr == nil {
		// The manifest was read and checked: the end.
		return nil, io.EOF
	}
	return pr, nil
}

func (br *Reader) next() (*PartReader, error) {
	kind, payload, err := br.record()
	if err != nil {
		return nil, err
	}
	switch kind {
	case recPart:
		var p Part
		if err := strictJSON(payload, &p); err != nil {
			return nil, fmt.Errorf("%w: part record: %v", ErrCorrupt, err)
		}
		if err := br.checkNewPart(p); err != nil {
			return nil, err
		}
		br.cur = &PartReader{br: br, part: p, hash: sha256.New()}
		return br.cur, nil
	case recManifest:
		return nil, br.finish(payload)
	case recAbort:
		var a abortRecord
		_ = json.Unmarshal(payload, &a)
		return nil, fmt.Errorf("%w: the server reported: %s", ErrAborted, sanitize(a.Error))
	default:
		return nil, fmt.Errorf("%w: record kind %q where a part or the manifest belongs", ErrCorrupt, kind)
	}
}

func (br *Reader) checkNewPart(p Part) error {
	if p.Name == "" {
		return fmt.Errorf("%w: a part without a name", ErrCorrupt)
	}
	for _, q := range br.parts {
		if q.Name == p.Name {
			return fmt.Errorf("%w: part %s appears twice", ErrCorrupt, p.Name)
		}
	}
	switch p.Type {
	case PartTable:
		if p.Table == "" || len(p.Columns) == 0 {
			return fmt.Errorf("%w: table part %s names no table or columns", ErrCorrupt, p.Name)
		}
	case PartFile:
		if p.Table != "" || len(p.Columns) != 0 {
			return fmt.Errorf("%w: file part %s has table fields", ErrCorrupt, p.Name)
		}
	default:
		return fmt.Errorf("%w: part %s has unknown type %q", ErrCorrupt, p.Name, p.Type)
	}
	if p.Rows != 0 || p.Size != 0 || p.SHA256 != "" {
		return fmt.Errorf("%w: part record %s carries its totals before its data", ErrCorrupt, p.Name)
	}
	return nil
}

// finish checks the manifest against the header and the parts read, and
// that nothing follows it.
func (br *Reader) finish(payload []byte) error {
	var m Manifest
	if err := strictJSON(payload, &m); err != nil {
		return fmt.Errorf("%w: manifest: %v", ErrCorrupt, err)
	}
	if !sameHeader(m.header(), br.hdr) {
		return fmt.Errorf("%w: the manifest's header fields differ from the stream header", ErrCorrupt)
	}
	if len(m.Parts) != len(br.parts) {
		return fmt.Errorf("%w: the manifest lists %d parts, the stream holds %d", ErrCorrupt, len(m.Parts), len(br.parts))
	}
	for i, p := range m.Parts {
		q := br.parts[i]
		if p.Name != q.Name || p.Type != q.Type || p.Table != q.Table || !slices.Equal(p.Columns, q.Columns) ||
			p.Rows != q.Rows || p.Size != q.Size || p.SHA256 != q.SHA256 {
			return fmt.Errorf("%w: the manifest's entry for part %s differs from the part read", ErrCorrupt, q.Name)
		}
	}
	var one [1]byte
	switch n, err := br.r.Read(one[:]); {
	case n > 0:
		return fmt.Errorf("%w: data after the manifest", ErrCorrupt)
	case err != nil && !errors.Is(err, io.EOF):
		return fmt.Errorf("after the manifest: %w", readErr(err))
	}
	m.Parts = slices.Clone(br.parts)
	br.manifest = &m
	return nil
}

// Manifest returns the checked manifest once Next has returned io.EOF, nil
// before.
func (br *Reader) Manifest() *Manifest { return br.manifest }

// Parts returns the parts read and checked so far.
func (br *Reader) Parts() []Part { return slices.Clone(br.parts) }

// PartReader reads the bytes of one part. At its end it checks them
// against the part's closing record: Read returns io.EOF only when size,
// row count and SHA-256 all match, and an error wrapping ErrCorrupt
// otherwise.
type PartReader struct {
	br   *Reader
	part Part
	hash hash.Hash
	buf  []byte
	rows int64
	size int64
	done bool
	err  error
}

// Part returns the part's description: its totals are filled in once the
// part has been read to io.EOF.
func (pr *PartReader) Part() Part { return pr.part }

// Read reads the part's bytes.
func (pr *PartReader) Read(p []byte) (int, error) {
	for len(pr.buf) == 0 {
		if pr.err != nil {
			return 0, pr.err
		}
		if pr.done {
			return 0, io.EOF
		}
		pr.err = pr.fill()
	}
	n := copy(p, pr.buf)
	pr.buf = pr.buf[n:]
	return n, nil
}

// fill reads the next record of the part: data, or its closing record.
func (pr *PartReader) fill() error {
	kind, payload, err := pr.br.record()
	if err != nil {
		return fmt.Errorf("part %s: %w", pr.part.Name, err)
	}
	switch kind {
	case recData:
		if len(payload) == 0 {
			return fmt.Errorf("%w: part %s: an empty data record", ErrCorrupt, pr.part.Name)
		}
		pr.hash.Write(payload)
		pr.size += int64(len(payload))
		if pr.part.Type == PartTable {
			pr.rows += int64(bytes.Count(payload, []byte{'\n'}))
		}
		pr.buf = payload
		return nil
	case recPartEnd:
		var end partEnd
		if err := strictJSON(payload, &end); err != nil {
			return fmt.Errorf("%w: part %s: closing record: %v", ErrCorrupt, pr.part.Name, err)
		}
		sum := hex.EncodeToString(pr.hash.Sum(nil))
		switch {
		case end.Name != pr.part.Name:
			return fmt.Errorf("%w: part %s is closed as %q", ErrCorrupt, pr.part.Name, end.Name)
		case end.Size != pr.size:
			return fmt.Errorf("%w: part %s: %d bytes read, %d recorded", ErrCorrupt, pr.part.Name, pr.size, end.Size)
		case end.SHA256 != sum:
			return fmt.Errorf("%w: part %s: SHA-256 %s, recorded %s", ErrCorrupt, pr.part.Name, sum, end.SHA256)
		case end.Rows != pr.rows:
			return fmt.Errorf("%w: part %s: %d rows read, %d recorded", ErrCorrupt, pr.part.Name, pr.rows, end.Rows)
		}
		pr.part.Rows, pr.part.Size, pr.part.SHA256 = end.Rows, end.Size, end.SHA256
		pr.br.parts = append(pr.br.parts, pr.part)
		pr.done = true
		return nil
	case recAbort:
		var a abortRecord
		_ = json.Unmarshal(payload, &a)
		return fmt.Errorf("%w: the server reported: %s", ErrAborted, sanitize(a.Error))
	default:
		return fmt.Errorf("%w: part %s: record kind %q inside a part", ErrCorrupt, pr.part.Name, kind)
	}
}

// sanitize bounds a message read from a backup and strips control
// characters, so that printing it cannot drive a terminal.
func sanitize(s string) string {
	const maxLen = 512
	out := make([]rune, 0, min(len(s), maxLen))
	for _, r := range s {
		if len(out) >= maxLen {
			out = append(out, '…')
			break
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}
