package client

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func readAllSSE(t testing.TB, input string) ([]sseEvent, error) {
	t.Helper()
	r := newSSEReader(strings.NewReader(input))
	var out []sseEvent
	for {
		ev, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, ev)
	}
}

func TestSSEReader(t *testing.T) {
	cases := []struct {
		name  string
		input string
		want  []sseEvent
	}{
		{"one event", "id: 7\nevent: audit\ndata: {\"seq\":7}\n\n",
			[]sseEvent{{Type: "audit", ID: "7", HasID: true, Data: `{"seq":7}`}}},
		{"comments and heartbeats are skipped", ": hello\n\n: ping\n\nevent: audit\ndata: x\n\n",
			[]sseEvent{{Type: "audit", Data: "x"}}},
		{"data lines join with line feeds", "data: a\ndata:b\ndata:  c\n\n",
			[]sseEvent{{Type: "message", Data: "a\nb\n c"}}},
		{"CRLF and CR line endings", "id: 1\r\ndata: a\r\n\r\nid: 2\rdata: b\r\r",
			[]sseEvent{{Type: "message", ID: "1", HasID: true, Data: "a"}, {Type: "message", ID: "2", HasID: true, Data: "b"}}},
		{"id without data", "retry: 2000\nid: 41\n\n",
			[]sseEvent{{Type: "message", ID: "41", HasID: true, Retry: 2000}}},
		{"unknown fields are ignored", "foo: bar\ndata: z\n\n", []sseEvent{{Type: "message", Data: "z"}}},
		{"field without colon", "data\n\n", []sseEvent{{Type: "message", Data: ""}}},
		{"unterminated last event is dropped", "data: a\n\ndata: b\n", []sseEvent{{Type: "message", Data: "a"}}},
		{"id with NUL is ignored", "id: 1\x002\ndata: q\n\n", []sseEvent{{Type: "message", Data: "q"}}},
		{"bad retry is ignored", "retry: soon\ndata: q\n\n", []sseEvent{{Type: "message", Data: "q"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAllSSE(t, tc.input)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestSSEReaderBoundsLines(t *testing.T) {
	long := "data: " + strings.Repeat("x", maxSSELine+10) + "\n\n"
	if _, err := readAllSSE(t, long); !errors.Is(err, errSSETooLong) {
		t.Errorf("a line over the limit: %v, want errSSETooLong", err)
	}
	var b strings.Builder
	for range maxSSEData/1000 + 10 {
		b.WriteString("data: " + strings.Repeat("y", 1000) + "\n")
	}
	if _, err := readAllSSE(t, b.String()+"\n"); !errors.Is(err, errSSETooLong) {
		t.Errorf("an event over the limit: %v, want errSSETooLong", err)
	}
}

// FuzzSSEReader feeds arbitrary bytes: the reader never panics, never
// returns an event larger than its limit, and its output does not depend
// on how the input is split into reads.
func FuzzSSEReader(f *testing.F) {
	f.Add([]byte("id: 7\nevent: audit\ndata: {\"seq\":7}\n\n"), 3)
	f.Add([]byte(": ping\r\n\r\nretry: 10\rdata: a\r\rdata\n\n"), 1)
	f.Add([]byte("data: \xff\xfe\x00\n\nid: \x00\n\n"), 2)
	f.Fuzz(func(t *testing.T, input []byte, chunk int) {
		whole, errWhole := readAllSSE(t, string(input))
		if chunk < 1 {
			chunk = 1
		}
		r := newSSEReader(&chunkReader{b: input, n: chunk})
		var split []sseEvent
		var errSplit error
		for {
			ev, err := r.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					errSplit = err
				}
				break
			}
			if len(ev.Data) > maxSSEData {
				t.Fatalf("event of %d bytes", len(ev.Data))
			}
			split = append(split, ev)
		}
		if (errWhole == nil) != (errSplit == nil) || !reflect.DeepEqual(whole, split) {
			t.Fatalf("whole %v %+v, split %v %+v", errWhole, whole, errSplit, split)
		}
	})
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := min(c.n, len(p), len(c.b))
	copy(p, c.b[:k])
	c.b = c.b[k:]
	return k, nil
}
