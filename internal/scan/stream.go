package scan

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// source describes the stream being scanned, for the locations found in it.
type source struct {
	path   string
	commit string
	date   *time.Time
	staged bool
	seq    int64
}

// hit is a match found in a stream, waiting for its suppression verdict:
// the rest of its line may not have been read yet.
type hit struct {
	off      int64
	line     int64
	col      int64
	kind     apikey.Kind
	valid    bool
	hash     [32]byte
	redacted string
}

// carryLen is how many bytes of the previous chunk stay in front of the next
// one: enough to look MarkerWindow bytes back from any undecided hit, whose
// start lies within TokenLen+MarkerWindow bytes of the end of the data.
const carryLen = 2*MarkerWindow + apikey.TokenLen + len(AllowMarker) + 64

var (
	newline = []byte{'\n'}
	marker  = []byte(AllowMarker)
)

// streamer scans streams in fixed-size chunks with an apikey.Finder, which
// finds tokens across chunk edges, and tracks lines incrementally. Each
// worker owns one, so its buffer is allocated once and reused for every
// file. It is not safe for concurrent use.
type streamer struct {
	// buf holds up to carryLen bytes of earlier data followed by the
	// current chunk.
	buf            []byte
	chunk          int
	finder         apikey.Finder
	includeInvalid bool
	emit           func(src *source, h hit, inline bool)

	// State of the stream being scanned.
	src     *source
	n       int   // valid bytes in buf
	base    int64 // stream offset of buf[0]
	cur     int64 // stream offset up to which newlines are counted
	lines   int64 // '\n' bytes before cur
	lastNL  int64 // stream offset of the last '\n' before cur, or -1
	invalid int64 // look-alikes counted, not reported
	pending []hit
	onMatch func(apikey.Match, []byte)
}

func newStreamer(chunk int, includeInvalid bool, emit func(*source, hit, bool)) *streamer {
	s := &streamer{
		buf:            make([]byte, carryLen+chunk),
		chunk:          chunk,
		includeInvalid: includeInvalid,
		emit:           emit,
	}
	// A method value allocates; bind it once rather than once per chunk.
	s.onMatch = s.match
	return s
}

// scan reads r to its end and reports every token through emit. It returns
// the number of bytes read and the number of look-alikes counted but not
// reported. A read error ends the scan; the hits decided before it are
// reported.
func (s *streamer) scan(ctx context.Context, r io.Reader, src *source) (read, invalid int64, err error) {
	s.src = src
	s.n, s.base, s.cur, s.lines, s.lastNL, s.invalid = 0, 0, 0, 0, -1, 0
	s.pending = s.pending[:0]
	s.finder.Reset()
	for {
		if err := ctx.Err(); err != nil {
			s.finder.Reset()
			return read, s.invalid, err
		}
		if len(s.buf)-s.n < s.chunk {
			// Keep the end of the data in front of the next chunk. With
			// small chunks this happens once per carryLen bytes, not once
			// per read.
			keep := min(s.n, carryLen)
			copy(s.buf, s.buf[s.n-keep:s.n])
			s.base += int64(s.n - keep)
			s.n = keep
		}
		m, rerr := io.ReadFull(r, s.buf[s.n:s.n+s.chunk])
		if m > 0 {
			start := s.n
			s.n += m
			read += int64(m)
			s.finder.Write(s.buf[start:s.n], s.onMatch)
			s.countLines(s.base + int64(s.n))
			s.resolve(false)
		}
		switch {
		case rerr == nil:
			continue
		case errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF):
			s.finder.Flush(s.onMatch)
			s.resolve(true)
			return read, s.invalid, nil
		default:
			s.finder.Reset()
			s.resolve(true)
			return read, s.invalid, rerr
		}
	}
}

// countLines advances the line count to stream offset to, which must lie in
// buf at or after cur.
func (s *streamer) countLines(to int64) {
	seg := s.buf[s.cur-s.base : to-s.base]
	if c := bytes.Count(seg, newline); c > 0 {
		s.lines += int64(c)
		s.lastNL = s.cur + int64(bytes.LastIndexByte(seg, '\n'))
	}
	s.cur = to
}

// match is the Finder's callback.
func (s *streamer) match(m apikey.Match, token []byte) {
	if !m.Valid && !s.includeInvalid {
		s.invalid++
		return
	}
	off := int64(m.Offset)
	// A token reported after its chunk was counted (one across a chunk
	// edge, or ending the stream) lies entirely between cur's last
	// newline and cur, since tokens hold no newline: the counts at cur are
	// its counts.
	if off >= s.cur {
		s.countLines(off)
	}
	tok := string(token)
	s.pending = append(s.pending, hit{
		off:      off,
		line:     s.lines + 1,
		col:      off - s.lastNL,
		kind:     m.Kind,
		valid:    m.Valid,
		hash:     apikey.Hash(tok),
		redacted: apikey.Redact(tok),
	})
}

// resolve decides the pending hits whose line is known far enough: up to a
// newline or MarkerWindow bytes after the token, or the end of the stream
// when final. Hits are decided in order; a hit whose window is still open
// keeps the later ones waiting too (their windows end later).
func (s *streamer) resolve(final bool) {
	i := 0
	for ; i < len(s.pending); i++ {
		h := &s.pending[i]
		at := int(h.off - s.base)
		end := at + apikey.TokenLen
		after := s.buf[end:min(s.n, end+MarkerWindow)]
		if j := bytes.IndexByte(after, '\n'); j >= 0 {
			after = after[:j]
		} else if end+MarkerWindow > s.n && !final {
			break
		}
		before := s.buf[max(0, at-MarkerWindow):at]
		if j := bytes.LastIndexByte(before, '\n'); j >= 0 {
			before = before[j+1:]
		}
		inline := bytes.Contains(before, marker) || bytes.Contains(after, marker)
		s.emit(s.src, *h, inline)
	}
	s.pending = s.pending[:copy(s.pending, s.pending[i:])]
}
