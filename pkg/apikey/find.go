package apikey

import "bytes"

// Match is a candidate token found in bytes: a run that matches Pattern,
// including its word boundaries.
type Match struct {
	// Offset is the position of the token's leading 'm'. The token is
	// b[Offset:Offset+TokenLen] in the buffer given to AppendMatches; for a
	// Finder it is counted from the start of the stream.
	Offset int
	// Kind is Public for "mpw_pk_" and Secret for "mpw_sk_".
	Kind Kind
	// Valid reports whether the checksum holds, that is whether Parse
	// accepts the token. A false value marks a look-alike: a placeholder, an
	// example or a mistyped key.
	Valid bool
}

// AppendMatches appends to dst every candidate token in b, in offset order,
// and returns the extended slice. A candidate is exactly what Pattern matches:
// "mpw_pk_" or "mpw_sk_" followed by 36 base62 characters, with no word
// character ([0-9A-Za-z_]) directly before or after it. Each match says
// whether its checksum holds. b is treated as a whole: its start and end are
// word boundaries. To scan a stream piece by piece, use a Finder.
//
// AppendMatches allocates only to grow dst. It finds "mpw_" with vectorised
// byte search and checks the few hits, so it runs at gigabytes per second on
// ordinary text.
func AppendMatches(dst []Match, b []byte) []Match {
	for from := 0; ; {
		j, m, ok := nextMatch(b, from, len(b), false, true)
		if !ok {
			return dst
		}
		m.Offset = j
		dst = append(dst, m)
		from = j + TokenLen
	}
}

// needle starts every token; it occurs at most once per token.
var needle = []byte("mpw_")

// indexNeedle returns the index of the first needle in b, or -1.
//
// It looks for the needle's underscore with the vectorised bytes.IndexByte:
// in code, JSON and prose '_' is rarer than 'm', the byte bytes.Index would
// look for, and every false start costs a call. Where underscores are dense
// it hands over to bytes.Index, as bytes.Index itself does when its first
// byte is dense.
func indexNeedle(b []byte) int {
	const anchor = 3 // position of '_' in the needle
	fails := 0
	for i := anchor; i < len(b); {
		r := bytes.IndexByte(b[i:], '_')
		if r < 0 {
			return -1
		}
		u := i + r
		if b[u-3] == 'm' && b[u-2] == 'p' && b[u-1] == 'w' {
			return u - anchor
		}
		i = u + 1
		fails++
		// More than one false start per 16 bytes: let bytes.Index take the rest.
		if fails > 4+u>>4 {
			if r := bytes.Index(b[i-anchor:], needle); r >= 0 {
				return i - anchor + r
			}
			return -1
		}
	}
	return -1
}

// nextMatch returns the first candidate token of b that starts at an index in
// [from, to), with its kind and checksum verdict (Offset is left unset), and
// ok = false when there is none. prevWord tells whether the byte before b[0]
// is a word character (false at the start of a stream). atEOF tells whether b
// ends the stream; if not, the search stops at the first start that needs
// bytes past the end of b to decide, and every later start needs them too.
func nextMatch(b []byte, from, to int, prevWord, atEOF bool) (j int, m Match, ok bool) {
	// Occurrences of the needle cannot overlap, so the search window can
	// end three bytes past the last allowed start.
	end := min(len(b), to+len(needle)-1)
	for from < to {
		i := indexNeedle(b[from:end])
		if i < 0 {
			return 0, Match{}, false
		}
		j = from + i
		from = j + len(needle)
		if j+TokenLen > len(b) {
			// Undecidable before more bytes arrive, or at the end of the
			// stream too short; later starts are shorter still.
			return 0, Match{}, false
		}
		if j > 0 && wordByte[b[j-1]] || j == 0 && prevWord {
			continue
		}
		var k Kind
		switch b[j+4] {
		case 'p':
			k = Public
		case 's':
			k = Secret
		default:
			continue
		}
		if b[j+5] != 'k' || b[j+6] != '_' || !allBase62(b[j+PrefixLen:j+TokenLen]) {
			continue
		}
		if j+TokenLen < len(b) {
			if wordByte[b[j+TokenLen]] {
				continue
			}
		} else if !atEOF {
			return 0, Match{}, false
		}
		return j, Match{Kind: k, Valid: checksumHolds(k, b[j:j+TokenLen])}, true
	}
	return 0, Match{}, false
}

// A Finder finds candidate tokens in a stream written to it in chunks of any
// size, such as a file read 1 MiB at a time. Its results equal those of
// AppendMatches over the concatenation of all chunks: a token split across
// chunks is found once, and the word boundaries before and after a token are
// checked even when the neighbouring byte is in another chunk. Offsets count
// from the start of the stream.
//
// A match is reported once the byte after the token has been seen, or by
// Flush when the stream ends. Use a Finder like this:
//
//	f := apikey.NewFinder()
//	report := func(m apikey.Match, token []byte) { ... }
//	for each chunk {
//		f.Write(chunk, report)
//	}
//	f.Flush(report)
//
// The zero value is ready to use. Flush resets the Finder for a new stream. A
// Finder keeps only the last TokenLen+1 bytes of the stream, a copy so callers
// may reuse their buffers between calls; it is not safe for concurrent use.
type Finder struct {
	// n is the length of the stream written so far.
	n int
	// tail holds the last tailLen bytes of the stream: enough for the
	// undecided starts (the last TokenLen positions) and the byte before
	// the first of them.
	tail    [TokenLen + 1]byte
	tailLen int
	// seam joins tail to the head of the next chunk. It lives in the
	// Finder because tokens handed to the callback point into it.
	seam [2*TokenLen + 1]byte
}

// NewFinder returns a Finder at the start of a stream.
func NewFinder() *Finder {
	return &Finder{}
}

// Offset returns the number of bytes written since the start of the stream.
func (f *Finder) Offset() int {
	return f.n
}

// Write feeds the next chunk p of the stream and calls fn, in offset order,
// for every match it can now decide. token holds the TokenLen bytes of the
// match; it is valid only during the call, since it may point into p or into
// the Finder's own buffer: copy it to keep it. fn must not call methods of f.
// Write does not keep p and does not allocate.
func (f *Finder) Write(p []byte, fn func(m Match, token []byte)) {
	if f.tailLen > 0 {
		f.writeSeam(p, fn)
	}
	prevWord := f.tailLen > 0 && wordByte[f.tail[f.tailLen-1]]
	for from := 0; ; {
		j, m, ok := nextMatch(p, from, len(p), prevWord, false)
		if !ok {
			break
		}
		m.Offset = f.n + j
		fn(m, p[j:j+TokenLen])
		from = j + TokenLen
	}
	f.keep(p)
}

// writeSeam decides the starts left undecided by earlier writes, the last
// TokenLen positions of the stream, now that p follows them.
func (f *Finder) writeSeam(p []byte, fn func(m Match, token []byte)) {
	w := append(f.seam[:0], f.tail[:f.tailLen]...)
	// Every undecided start ends within TokenLen bytes of p.
	w = append(w, p[:min(len(p), TokenLen)]...)
	base := f.n - f.tailLen
	// When base > 0 the tail is full and from is 1, so the byte before a
	// start is always in w; when base is 0, w begins the stream.
	from := max(0, f.n-TokenLen) - base
	for {
		j, m, ok := nextMatch(w, from, f.tailLen, false, false)
		if !ok {
			return
		}
		m.Offset = base + j
		fn(m, w[j:j+TokenLen])
		from = j + TokenLen
	}
}

// keep appends p to the stream and keeps the last bytes in tail.
func (f *Finder) keep(p []byte) {
	f.n += len(p)
	if len(p) >= len(f.tail) {
		f.tailLen = copy(f.tail[:], p[len(p)-len(f.tail):])
		return
	}
	old := min(f.tailLen, len(f.tail)-len(p))
	copy(f.tail[:old], f.tail[f.tailLen-old:f.tailLen])
	f.tailLen = old + copy(f.tail[old:], p)
}

// Flush ends the stream: it calls fn for a match that ends exactly at the end
// of the stream, which Write cannot decide, and then resets f so the next
// Write starts a new stream at offset 0. The token passed to fn is valid only
// during the call.
func (f *Finder) Flush(fn func(m Match, token []byte)) {
	base := f.n - f.tailLen
	w := f.tail[:f.tailLen]
	for from := max(0, f.n-TokenLen) - base; ; {
		j, m, ok := nextMatch(w, from, len(w), false, true)
		if !ok {
			break
		}
		m.Offset = base + j
		fn(m, w[j:j+TokenLen])
		from = j + TokenLen
	}
	f.Reset()
}

// Reset discards the stream written so far without reporting anything more,
// and prepares f for a new stream.
func (f *Finder) Reset() {
	f.n = 0
	f.tailLen = 0
}
