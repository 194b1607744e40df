package server

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"

	"github.com/mapwright/mapwright/internal/tiles"
)

// MaxTileBytes bounds a decompressed tile. A stored tile that inflates
// beyond it is treated as corrupt rather than filling memory.
const MaxTileBytes = 32 << 20

// contentTypes maps a tile format to its media type.
var contentTypes = map[tiles.Format][]string{
	tiles.FormatMVT:  {"application/vnd.mapbox-vector-tile"},
	tiles.FormatPNG:  {"image/png"},
	tiles.FormatJPEG: {"image/jpeg"},
	tiles.FormatWebP: {"image/webp"},
	tiles.FormatAVIF: {"image/avif"},
}

var (
	gzipEncoding  = []string{"gzip"}
	octetStream   = []string{"application/octet-stream"}
	reprGzip      = "gzip"
	reprIdentity  = "identity"
	gzipReaders   sync.Pool // *gzip.Reader
	inflateBuffer = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

// tiles serves everything under /v1/tiles/: TileJSON documents
// ("/v1/tiles/{tileset}.json", no further slash) and tiles. p is the
// escaped path.
func (s *server) tiles(w http.ResponseWriter, r *http.Request, p string) {
	st := stateOf(w)
	if strings.IndexByte(p[len(tilesPrefix):], '/') < 0 {
		st.route = routeTileJSON
		s.tileJSON(w, r, st, p)
		return
	}
	st.route = routeTile
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		w.Header()["Allow"] = allowTileMethods
		writeProblem(w, r, http.StatusMethodNotAllowed, probMethod, "allowed methods: GET, HEAD, OPTIONS")
		return
	}
	req, err := ParseTilePath(p)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, probBadRequest, err.Error())
		return
	}
	if r.Method == http.MethodOptions {
		s.preflight(w, r, st, target{tileset: req.Tileset})
		return
	}
	c, bad := credentialOf(r)
	if bad != "" {
		writeProblem(w, r, http.StatusBadRequest, probBadRequest, bad)
		return
	}
	key, d := s.authorize(r.Context(), r, st, c, target{tileset: req.Tileset})
	if d.status != 0 {
		s.deny(w, r, d)
		return
	}
	public := s.public[req.Tileset]
	h := w.Header()
	h["Vary"] = varyTile
	setCORS(h, r, public)
	if key != nil && !s.limitKey(w, r, st, key) {
		return
	}
	src, ok := s.tilesets.Acquire(req.Tileset)
	if !ok {
		writeProblem(w, r, http.StatusNotFound, probNotFound, "unknown tileset "+strconv.Quote(req.Tileset))
		return
	}
	defer src.Close()
	s.serveTile(w, r, st, src, req, public)
}

// serveTile writes one tile. Decisions (documented in the package doc):
// an extension that does not fit the tileset's format is 404 (that
// representation does not exist); a zoom outside the tileset's range and a
// tile absent from the set (or stored empty) are 204 No Content.
func (s *server) serveTile(w http.ResponseWriter, r *http.Request, st *reqState, src tiles.Source, req TileRequest, public bool) {
	meta := src.Metadata()
	if tileFormats[req.Ext] != meta.Format {
		writeProblem(w, r, http.StatusNotFound, probNotFound,
			fmt.Sprintf("tileset %q serves %s tiles, not .%s", req.Tileset, meta.Format, req.Ext))
		return
	}
	h := w.Header()
	if public {
		h["Cache-Control"] = s.cacheControl
	} else {
		h["Cache-Control"] = s.keyedCacheControl
	}
	if req.Z < meta.MinZoom || req.Z > meta.MaxZoom {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	ctx := r.Context()
	data, err := src.Tile(ctx, req.Z, req.X, req.Y)
	if err != nil {
		if !isCanceled(ctx, err) {
			s.log.LogAttrs(ctx, slog.LevelError, "read tile", slog.String(attrTileset, req.Tileset), slog.String(attrErr, err.Error()))
		}
		writeProblem(w, r, http.StatusInternalServerError, probInternal, "the tile could not be read")
		return
	}
	if len(data) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	stored := src.Encoding()
	sendStored := stored != tiles.EncodingGzip || acceptsGzip(r.Header["Accept-Encoding"])
	repr := reprIdentity
	if stored == tiles.EncodingGzip && sendStored {
		repr = reprGzip
	}
	st.etagVal[0] = etagOf(&st.buf, data, repr)
	h["Etag"] = st.etagVal[:]
	if ifNoneMatch(r.Header["If-None-Match"], st.etagVal[0]) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := data
	if !sendStored {
		buf, err := gunzip(data)
		if err != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "decompress tile", slog.String(attrTileset, req.Tileset), slog.String(attrErr, err.Error()))
			delete(h, "Etag")
			writeProblem(w, r, http.StatusInternalServerError, probInternal, "the stored tile is corrupt")
			return
		}
		defer releaseInflateBuffer(buf)
		body = buf.Bytes()
	}
	if ct, ok := contentTypes[meta.Format]; ok {
		h["Content-Type"] = ct
	} else {
		h["Content-Type"] = octetStream
	}
	if repr == reprGzip {
		h["Content-Encoding"] = gzipEncoding
	}
	st.lenVal[0] = strconv.Itoa(len(body))
	h["Content-Length"] = st.lenVal[:]
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// etagOf returns a strong entity tag for a representation: the quoted
// 64-bit xxHash of the stored bytes followed by the representation's
// content coding, so the gzip and the decompressed form of one tile never
// share a tag. buf is scratch space.
func etagOf(buf *[64]byte, data []byte, repr string) string {
	var d xxhash.Digest
	d.Reset()
	_, _ = d.Write(data)
	_, _ = d.WriteString(repr)
	var sum [8]byte
	v := d.Sum64()
	for i := 7; i >= 0; i-- {
		sum[i] = byte(v)
		v >>= 8
	}
	b := buf[:18]
	b[0] = '"'
	hex.Encode(b[1:17], sum[:])
	b[17] = '"'
	return string(b)
}

// acceptsGzip reports whether the Accept-Encoding field values allow gzip
// (RFC 9110 section 12.5.3): gzip or x-gzip with a non-zero q, else "*"
// with a non-zero q. No Accept-Encoding at all is read as "identity only":
// the RFC allows any coding then, but clients that send nothing (scripts,
// plain HTTP libraries) rarely decode gzip.
func acceptsGzip(values []string) bool {
	gzipQ, anyQ := -1, -1
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			coding, params, _ := strings.Cut(elem, ";")
			coding = strings.TrimSpace(coding)
			q, ok := qValue(params)
			if !ok {
				continue
			}
			switch {
			case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
				gzipQ = max(gzipQ, q)
			case coding == "*":
				anyQ = max(anyQ, q)
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return anyQ > 0
}

// qValue parses the parameters of one Accept-Encoding element and returns
// its weight in thousandths (1000 when absent). ok is false for a malformed
// weight, and the element is then ignored.
func qValue(params string) (int, bool) {
	params = strings.TrimSpace(params)
	if params == "" {
		return 1000, true
	}
	name, val, found := strings.Cut(params, "=")
	if !found || !strings.EqualFold(strings.TrimSpace(name), "q") {
		return 0, false
	}
	val = strings.TrimSpace(val)
	if val == "" || len(val) > 5 || (val[0] != '0' && val[0] != '1') {
		return 0, false
	}
	whole := int(val[0] - '0')
	frac := 0
	if len(val) > 1 {
		if val[1] != '.' {
			return 0, false
		}
		digits := val[2:]
		for i := 0; i < 3; i++ {
			frac *= 10
			if i < len(digits) {
				c := digits[i]
				if c < '0' || c > '9' {
					return 0, false
				}
				frac += int(c - '0')
			}
		}
	}
	q := whole*1000 + frac
	if q > 1000 {
		return 0, false
	}
	return q, true
}

// ifNoneMatch reports whether an If-None-Match field matches etag (RFC 9110
// section 13.1.2): "*" matches any current representation; otherwise the
// weak comparison applies, so W/"x" matches "x". A malformed list stops
// matching at the first error.
func ifNoneMatch(values []string, etag string) bool {
	for _, v := range values {
		for {
			v = strings.TrimLeft(v, " \t,")
			if v == "" {
				break
			}
			if v[0] == '*' {
				return true
			}
			v = strings.TrimPrefix(v, "W/")
			if v == "" || v[0] != '"' {
				break
			}
			end := strings.IndexByte(v[1:], '"')
			if end < 0 {
				break
			}
			if v[:end+2] == etag {
				return true
			}
			v = v[end+2:]
		}
	}
	return false
}

// gunzip inflates a stored gzip tile into a pooled buffer; the caller
// returns the buffer to inflateBuffer when done.
func gunzip(data []byte) (*bytes.Buffer, error) {
	br := bytes.NewReader(data)
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(br)
	} else {
		err = zr.Reset(br)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorruptTile, err)
	}
	defer gzipReaders.Put(zr)
	buf := inflateBuffer.Get().(*bytes.Buffer)
	buf.Reset()
	n, err := io.Copy(buf, io.LimitReader(zr, MaxTileBytes+1))
	if err == nil {
		err = zr.Close()
	}
	if err != nil || n > MaxTileBytes {
		releaseInflateBuffer(buf)
		if err == nil {
			err = fmt.Errorf("inflates beyond %d bytes", MaxTileBytes)
		}
		return nil, fmt.Errorf("%w: %w", errCorruptTile, err)
	}
	return buf, nil
}

// releaseInflateBuffer returns buf to the pool unless an unusually large
// tile grew it, so one huge tile does not pin its memory for good.
func releaseInflateBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= 4<<20 {
		inflateBuffer.Put(buf)
	}
}
