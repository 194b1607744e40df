package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mapwright/mapwright/internal/tiles"
)

// TileJSONVersion is the TileJSON specification version served.
const TileJSONVersion = "3.0.0"

// tileExts is the extension written into TileJSON tile URLs per format.
var tileExts = map[tiles.Format]string{
	tiles.FormatMVT:  "mvt",
	tiles.FormatPNG:  "png",
	tiles.FormatJPEG: "jpg",
	tiles.FormatWebP: "webp",
	tiles.FormatAVIF: "avif",
}

var (
	jsonContentType   = []string{"application/json"}
	tileJSONPublicCC  = []string{"public, max-age=60"}
	tileJSONPrivateCC = []string{"private, no-cache"}
	errBadHost        = errors.New("invalid host")
)

// tileJSONDoc is a TileJSON 3.0.0 document. Field order follows the
// specification's.
type tileJSONDoc struct {
	TileJSON     string          `json:"tilejson"`
	Tiles        []string        `json:"tiles"`
	VectorLayers json.RawMessage `json:"vector_layers,omitempty"`
	Attribution  string          `json:"attribution,omitempty"`
	Bounds       *[4]float64     `json:"bounds,omitempty"`
	Center       *[3]float64     `json:"center,omitempty"`
	Description  string          `json:"description,omitempty"`
	MaxZoom      int             `json:"maxzoom"`
	MinZoom      int             `json:"minzoom"`
	Name         string          `json:"name,omitempty"`
	Scheme       string          `json:"scheme"`
	Version      string          `json:"version,omitempty"`
}

// BuildTileJSON renders the TileJSON 3.0.0 document of a tileset. baseURL is
// the tileset's own URL on this server without a trailing slash (for
// example "https://tiles.example.com/v1/tiles/roads"); the tile URL template
// is baseURL + "/{z}/{x}/{y}.EXT", with "?key=" and keyQuery appended when
// keyQuery is not empty (the caller's key, when it came as a query
// parameter).
//
// Metadata read from tileset files is untrusted, so it is sanitised rather
// than trusted to be well formed: zoom levels are clamped to 0..30 (and
// swapped if inverted); bounds and center that are not finite or out of
// range are left out; vector_layers (required for vector tilesets, left
// out for raster ones) keeps only layers with a string id and gets an empty
// fields object where one is missing; text is made valid UTF-8. The result
// is always valid JSON.
func BuildTileJSON(meta tiles.Metadata, baseURL, keyQuery string) ([]byte, error) {
	ext, ok := tileExts[meta.Format]
	if !ok {
		ext = "bin"
	}
	tmpl := baseURL + "/{z}/{x}/{y}." + ext
	if keyQuery != "" {
		tmpl += "?key=" + url.QueryEscape(keyQuery)
	}
	minZ, maxZ := clampZoom(meta.MinZoom), clampZoom(meta.MaxZoom)
	if minZ > maxZ {
		minZ, maxZ = maxZ, minZ
	}
	doc := tileJSONDoc{
		TileJSON:    TileJSONVersion,
		Tiles:       []string{tmpl},
		Attribution: meta.Attribution,
		Description: meta.Description,
		MinZoom:     minZ,
		MaxZoom:     maxZ,
		Name:        meta.Name,
		Scheme:      "xyz",
		Version:     meta.Version,
	}
	if b := meta.Bounds; b != nil && validLon(b[0]) && validLat(b[1]) && validLon(b[2]) && validLat(b[3]) && b[1] <= b[3] {
		bounds := *b
		doc.Bounds = &bounds
	}
	if c := meta.Center; c != nil && validLon(c[0]) && validLat(c[1]) && finite(c[2]) {
		center := *c
		center[2] = math.Min(math.Max(center[2], float64(minZ)), float64(maxZ))
		doc.Center = &center
	}
	if meta.Format == tiles.FormatMVT {
		doc.VectorLayers = sanitizeVectorLayers(meta.VectorLayers)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode TileJSON: %w", err)
	}
	return out, nil
}

func clampZoom(z int) int { return min(max(z, 0), MaxZoom) }

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func validLon(f float64) bool { return finite(f) && f >= -180 && f <= 180 }

func validLat(f float64) bool { return finite(f) && f >= -90 && f <= 90 }

// sanitizeVectorLayers returns a JSON array of layer objects, each with a
// non-empty string id and an object of fields; anything else is dropped.
func sanitizeVectorLayers(raw json.RawMessage) json.RawMessage {
	empty := json.RawMessage("[]")
	if len(raw) == 0 {
		return empty
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(bytes.ToValidUTF8(raw, []byte("\uFFFD")), &elems); err != nil {
		return empty
	}
	kept := make([]map[string]json.RawMessage, 0, len(elems))
	for _, e := range elems {
		var l map[string]json.RawMessage
		var id string
		if json.Unmarshal(e, &l) != nil || l == nil || json.Unmarshal(l["id"], &id) != nil || id == "" {
			continue
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(l["fields"], &fields) != nil || fields == nil {
			l["fields"] = json.RawMessage("{}")
		}
		kept = append(kept, l)
	}
	out, err := json.Marshal(kept)
	if err != nil {
		return empty
	}
	return out
}

// tileJSON serves GET /v1/tiles/{tileset}.json.
func (s *server) tileJSON(w http.ResponseWriter, r *http.Request, st *reqState, p string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		w.Header()["Allow"] = allowTileMethods
		writeProblem(w, r, http.StatusMethodNotAllowed, probMethod, "allowed methods: GET, HEAD, OPTIONS")
		return
	}
	name, err := parseTileJSONPath(p)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, probBadRequest, err.Error())
		return
	}
	if r.Method == http.MethodOptions {
		s.preflight(w, r, st, target{tileset: name})
		return
	}
	c, bad := credentialOf(r)
	if bad != "" {
		writeProblem(w, r, http.StatusBadRequest, probBadRequest, bad)
		return
	}
	key, d := s.authorize(r.Context(), r, st, c, target{tileset: name})
	if d.status != 0 {
		s.deny(w, r, d)
		return
	}
	public := s.public[name]
	h := w.Header()
	h["Vary"] = varyOrigin
	setCORS(h, r, public)
	if key != nil && !s.limitKey(w, r, st, key) {
		return
	}
	base, err := s.baseURL(r, st)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, probBadRequest, "the Host header is not a valid host name")
		return
	}
	src, ok := s.tilesets.Acquire(name)
	if !ok {
		writeProblem(w, r, http.StatusNotFound, probNotFound, "unknown tileset "+strconv.Quote(name))
		return
	}
	meta := src.Metadata()
	_ = src.Close()
	if meta.Name == "" {
		meta.Name = name
	}
	keyQuery := ""
	if c.fromQuery {
		keyQuery = c.token
	}
	body, err := BuildTileJSON(meta, base+tilesPrefix+name, keyQuery)
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "build TileJSON", slog.String(attrTileset, name), slog.String(attrErr, err.Error()))
		writeProblem(w, r, http.StatusInternalServerError, probInternal, "")
		return
	}
	h["Content-Type"] = jsonContentType
	if public && keyQuery == "" {
		h["Cache-Control"] = tileJSONPublicCC
	} else {
		// The document carries the caller's key in its URLs.
		h["Cache-Control"] = tileJSONPrivateCC
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// baseURL returns "scheme://host" for URLs pointing back at this server:
// Options.PublicBaseURL when set, else the request's scheme and Host (the
// forwarded ones only from a trusted proxy, see resolveClient). The host is
// checked so a forged Host header cannot inject anything into the URL.
func (s *server) baseURL(r *http.Request, st *reqState) (string, error) {
	if s.publicBase != "" {
		return s.publicBase, nil
	}
	scheme := "http"
	if s.isTLS(r, st) {
		scheme = "https"
	}
	host := r.Host
	if st.fwd.proxied {
		if fh := forwardedValue(r.Header[hdrForwardedHost], st.fwd); fh != "" {
			host = fh
		}
	}
	if _, _, ok := splitHostPort(host); !ok {
		return "", errBadHost
	}
	return scheme + "://" + host, nil
}
