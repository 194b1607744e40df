package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// sampleStream writes a stream with a file part, a table part larger than
// one data record and an empty table part.
func sampleStream(t testing.TB) ([]byte, *Manifest) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Manifest{Backend: "sqlite", SchemaVersion: 2, Created: testNow, MapwrightVersion: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	write := func(p Part, data []byte) {
		t.Helper()
		pw, err := w.CreatePart(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write(data); err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write(Part{Name: "audit.key", Type: PartFile}, []byte(strings.Repeat("ab", 32)+"\n"))
	cols := []Column{{Name: "i", Type: "int"}}
	write(Part{Name: "tables/t.jsonl", Type: PartTable, Table: "t", Columns: cols},
		[]byte(strings.Repeat("{\"i\":1}\n", dataChunk/8+500)))
	write(Part{Name: "tables/e.jsonl", Type: PartTable, Table: "e", Columns: cols}, nil)
	m, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), m
}

// drain reads a whole stream, returning the manifest and the bytes of
// every part by name.
func drain(r io.Reader) (*Manifest, map[string][]byte, error) {
	br, err := NewReader(r)
	if err != nil {
		return nil, nil, err
	}
	parts := map[string][]byte{}
	for {
		pr, err := br.Next()
		if errors.Is(err, io.EOF) {
			return br.Manifest(), parts, nil
		}
		if err != nil {
			return nil, nil, err
		}
		b, err := io.ReadAll(pr)
		if err != nil {
			return nil, nil, err
		}
		parts[pr.Part().Name] = b
	}
}

func TestStreamRoundTrip(t *testing.T) {
	data, want := sampleStream(t)
	got, parts, err := drain(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("manifest\n got %+v\nwant %+v", got, want)
	}
	tp, _ := got.Part("tables/t.jsonl")
	sum := sha256.Sum256(parts["tables/t.jsonl"])
	if tp.Rows != dataChunk/8+500 || tp.Size != int64(len(parts["tables/t.jsonl"])) || tp.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("table part %+v", tp)
	}
	if ep, _ := got.Part("tables/e.jsonl"); ep.Rows != 0 || ep.Size != 0 {
		t.Errorf("empty part %+v", ep)
	}
	if got.Format != FormatName || got.FormatVersion != FormatVersion {
		t.Errorf("format %q %d", got.Format, got.FormatVersion)
	}
}

// TestStreamEveryTruncation cuts the stream at every byte: each cut must be
// reported as truncation, never read as a complete backup.
func TestStreamEveryTruncation(t *testing.T) {
	data, _ := sampleStream(t)
	for i := 0; i < len(data); i++ {
		if i > 2048 && i < len(data)-2048 && i%3001 != 0 {
			// The middle is long data records; sample it.
			continue
		}
		_, _, err := drain(bytes.NewReader(data[:i]))
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut at %d of %d: %v, want ErrTruncated", i, len(data), err)
		}
	}
}

// TestStreamEveryFlip changes each byte of the stream's framing and JSON
// records (and samples of its data): none may read as a valid backup.
func TestStreamEveryFlip(t *testing.T) {
	data, _ := sampleStream(t)
	for i := 0; i < len(data); i++ {
		if i > 2048 && i < len(data)-2048 && i%1499 != 0 {
			continue
		}
		_, _, err := drain(bytes.NewReader(flip(data, i)))
		switch {
		case err == nil:
			t.Fatalf("byte %d flipped: read as a valid backup", i)
		case errors.Is(err, ErrCorrupt), errors.Is(err, ErrTruncated), errors.Is(err, ErrNotBackup), errors.Is(err, ErrFormatTooNew):
		default:
			t.Fatalf("byte %d flipped: unclassified error %v", i, err)
		}
	}
}

func TestStreamRefuses(t *testing.T) {
	data, _ := sampleStream(t)
	header := func(js string) []byte {
		return append([]byte(streamMagic), record(recHeader, []byte(js))...)
	}
	var aborted bytes.Buffer
	w, _ := NewWriter(&aborted, Manifest{Backend: "sqlite", SchemaVersion: 1, Created: testNow})
	pw, _ := w.CreatePart(Part{Name: "audit.key", Type: PartFile})
	pw.Write([]byte("half"))
	w.Abort(errors.New("database went away\x1b[31m"))

	cases := []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"newer format, other fields unknown", header(`{"format":"mapwright-backup","format_version":2,"compression":"zstd"}`), ErrFormatTooNew, "format version 2"},
		{"other format", header(`{"format":"something-else","format_version":1}`), ErrNotBackup, ""},
		{"version zero", header(`{"format":"mapwright-backup","format_version":0}`), ErrCorrupt, ""},
		{"unknown header field", header(`{"format":"mapwright-backup","format_version":1,"x":1}`), ErrCorrupt, ""},
		{"header listing parts", header(`{"format":"mapwright-backup","format_version":1,"parts":[{"name":"x"}]}`), ErrCorrupt, ""},
		{"data after the manifest", append(bytes.Clone(data), 'x'), ErrCorrupt, "after the manifest"},
		{"aborted by the producer", aborted.Bytes(), ErrAborted, "database went away"},
		{"oversized record", append(header(`{"format":"mapwright-backup","format_version":1}`), 'P', 0xff, 0xff, 0xff, 0xff), ErrCorrupt, "exceeds"},
		{"data outside a part", append(header(`{"format":"mapwright-backup","format_version":1}`), record(recData, []byte("x"))...), ErrCorrupt, ""},
		{"no magic", []byte("hello"), ErrTruncated, ""},
		{"wrong magic", []byte("mapwright-backuq\nxxxx"), ErrNotBackup, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := drain(bytes.NewReader(tc.data))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
			if err != nil && strings.ContainsRune(err.Error(), 0x1b) {
				t.Errorf("the message carries a control character: %q", err)
			}
		})
	}
}

func TestWriterMisuse(t *testing.T) {
	w, err := NewWriter(io.Discard, Manifest{})
	if err != nil {
		t.Fatal(err)
	}
	pw, err := w.CreatePart(Part{Name: "a", Type: PartFile})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.CreatePart(Part{Name: "b", Type: PartFile}); err == nil {
		t.Error("a second part opened while the first is open")
	}
	if _, err := w.Close(); err == nil {
		t.Error("the stream closed with a part open")
	}
	if _, err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte("x")); err == nil {
		t.Error("wrote to a closed part")
	}
	for _, p := range []Part{{Name: "a", Type: PartFile}, {Name: "", Type: PartFile}, {Name: "c", Type: "dir"}} {
		if _, err := w.CreatePart(p); err == nil {
			t.Errorf("part %+v accepted", p)
		}
	}
}

// FuzzReader reads arbitrary bytes as a backup stream: no panic, every
// error classified, and whatever reads as valid is consistent.
func FuzzReader(f *testing.F) {
	data, _ := sampleStream(f)
	f.Add(data[:2000])
	var small bytes.Buffer
	w, _ := NewWriter(&small, Manifest{Backend: "postgres", SchemaVersion: 1, Created: testNow})
	pw, _ := w.CreatePart(Part{Name: "tables/x.jsonl", Type: PartTable, Table: "x", Columns: []Column{{Name: "i", Type: "int"}}})
	pw.Write([]byte("{\"i\":1}\n"))
	pw.Close()
	w.Close()
	f.Add(small.Bytes())
	f.Add([]byte(streamMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, parts, err := drain(bytes.NewReader(b))
		if err != nil {
			for _, s := range []error{ErrCorrupt, ErrTruncated, ErrNotBackup, ErrFormatTooNew, ErrAborted} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("unclassified error: %v", err)
		}
		for _, p := range m.Parts {
			sum := sha256.Sum256(parts[p.Name])
			if p.SHA256 != hex.EncodeToString(sum[:]) || p.Size != int64(len(parts[p.Name])) {
				t.Fatalf("part %s accepted with wrong totals", p.Name)
			}
		}
	})
}
