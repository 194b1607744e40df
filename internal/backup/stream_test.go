package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/mapwright/mapwright/internal/store"
)

// lazyStore is a store whose snapshot holds one table of rows generated
// on demand, each encoding to exactly lineLen bytes: nothing of the table
// exists in memory at once unless the code under test keeps it.
type lazyStore struct {
	store.Store
	rows int
	// onRow is called before row i is handed over.
	onRow func(i int)
}

// lazyCols are the columns of the lazy table.
var lazyCols = []store.Column{{Name: "id", Type: store.TypeInt}, {Name: "payload", Type: store.TypeText}}

// lineLen is the encoded length of every lazy row: the id is padded to
// a fixed width by starting at 1e9.
const lineLen = len(`{"id":1000000000,"payload":""}`+"\n") + 100

func (l *lazyStore) Snapshot(ctx context.Context, fn func(store.Snapshot) error) error {
	return fn(lazySnapshot{l})
}

type lazySnapshot struct{ l *lazyStore }

func (lazySnapshot) Backend() string    { return "sqlite" }
func (lazySnapshot) SchemaVersion() int { return 1 }
func (lazySnapshot) Tables() []store.Table {
	return []store.Table{{Name: "big", Columns: lazyCols, Key: []string{"id"}}}
}

func (s lazySnapshot) ScanTable(_ context.Context, _ string, fn func([]any) error) error {
	payload := string(bytes.Repeat([]byte("p"), 100))
	row := make([]any, 2)
	for i := range s.l.rows {
		if s.l.onRow != nil {
			s.l.onRow(i)
		}
		row[0], row[1] = int64(1_000_000_000+i), payload
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}

// sinkCounter counts what reaches it and discards it.
type sinkCounter struct{ n int64 }

func (s *sinkCounter) Write(p []byte) (int, error) { s.n += int64(len(p)); return len(p), nil }

// streamBound is the most the writer or the reader may hold back: a few
// buffers of one data record each, whatever the size of the table.
const streamBound = 512 << 10

// TestSnapshotStreams checks that WriteSnapshot hands rows on as it reads
// them: at every row, what the table has produced so far minus what has
// reached the output stays under a fixed bound, for a table forty times
// that size.
func TestSnapshotStreams(t *testing.T) {
	sink := &sinkCounter{}
	const rows = 40 * streamBound / lineLen
	worst := int64(0)
	st := &lazyStore{rows: rows, onRow: func(i int) {
		if lag := int64(i*lineLen) - sink.n; lag > worst {
			worst = lag
		}
	}}
	m, err := WriteSnapshot(t.Context(), st, sink, SnapshotOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := m.Part(TablePartName("big")); p.Rows != int64(rows) || p.Size != int64(rows*lineLen) {
		t.Fatalf("part %+v, want %d rows of %d bytes", p, rows, lineLen)
	}
	if worst > streamBound {
		t.Errorf("the writer held back up to %d bytes of rows; the bound is %d", worst, streamBound)
	}
}

// countingReader counts what is read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestReadStreams checks the other side: decoding rows from a stream
// never reads more than a fixed bound ahead of the rows handed on.
func TestReadStreams(t *testing.T) {
	const rows = 40 * streamBound / lineLen
	var buf bytes.Buffer
	buf.Grow(rows*lineLen + 1<<20)
	if _, err := WriteSnapshot(t.Context(), &lazyStore{rows: rows}, &buf, SnapshotOptions{Now: fixedNow}); err != nil {
		t.Fatal(err)
	}
	src := &countingReader{r: &buf}
	br, err := NewReader(src)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := br.Next()
	if err != nil {
		t.Fatal(err)
	}
	dec := newRowDecoder(pr, lazyCols)
	worst, i := int64(0), 0
	for dec.Next() {
		i++
		if ahead := src.n - int64(i*lineLen); ahead > worst {
			worst = ahead
		}
	}
	if err := dec.Err(); err != nil || i != rows {
		t.Fatalf("decoded %d rows, %v", i, err)
	}
	if _, err := br.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the part: %v", err)
	}
	if worst > streamBound {
		t.Errorf("the reader ran up to %d bytes ahead of the rows; the bound is %d", worst, streamBound)
	}
}

// BenchmarkEncodeRows measures the snapshot side without a database:
// encoding, framing and hashing.
func BenchmarkEncodeRows(b *testing.B) {
	for _, n := range []int{100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n * lineLen))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := WriteSnapshot(b.Context(), &lazyStore{rows: n}, io.Discard, SnapshotOptions{Now: fixedNow}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeRows measures the restore side without a database:
// framing, hashing and row parsing.
func BenchmarkDecodeRows(b *testing.B) {
	const n = 100_000
	var buf bytes.Buffer
	if _, err := WriteSnapshot(b.Context(), &lazyStore{rows: n}, &buf, SnapshotOptions{Now: fixedNow}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		br, err := NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		pr, err := br.Next()
		if err != nil {
			b.Fatal(err)
		}
		dec := newRowDecoder(pr, lazyCols)
		for dec.Next() {
		}
		if dec.Err() != nil {
			b.Fatal(dec.Err())
		}
	}
}
