package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"

	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/store"
)

// TilesetInfo is one entry of GET /v1/tilesets. Field names are stable.
type TilesetInfo struct {
	// Name is the tileset name used in tile URLs.
	Name string `json:"name"`
	// Format is the tile format: mvt, png, jpg, webp or avif.
	Format string `json:"format"`
	// MinZoom and MaxZoom bound the zoom levels present.
	MinZoom int `json:"minzoom"`
	MaxZoom int `json:"maxzoom"`
	// Public is true when the tileset needs no key.
	Public bool `json:"public"`
	// TileJSON is the URL of the tileset's TileJSON document, carrying the
	// caller's key when it came as ?key=.
	TileJSON string `json:"tilejson"`
}

// TilesetList is the body of GET /v1/tilesets.
type TilesetList struct {
	// Tilesets are sorted by name.
	Tilesets []TilesetInfo `json:"tilesets"`
}

// listTilesets serves GET /v1/tilesets: the public tilesets, plus those the
// caller's key may read (scope tiles:read and its tileset list). A key, when
// given, must be authentic and allowed from the request's origin.
func (s *server) listTilesets(w http.ResponseWriter, r *http.Request) {
	st := stateOf(w)
	st.route = routeTilesets
	c, bad := credentialOf(r)
	if bad != "" {
		writeProblem(w, r, http.StatusBadRequest, probBadRequest, bad)
		return
	}
	key, d := s.authorize(r.Context(), r, st, c, target{listing: true})
	if d.status != 0 {
		s.deny(w, r, d)
		return
	}
	h := w.Header()
	h["Vary"] = varyOrigin
	setCORS(h, r, key == nil)
	if key != nil && !s.limitKey(w, r, st, key) {
		return
	}
	base, err := s.baseURL(r, st)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, probBadRequest, "the Host header is not a valid host name")
		return
	}
	keyQuery := ""
	if c.fromQuery {
		keyQuery = "?key=" + url.QueryEscape(c.token)
	}
	names := slices.Clone(s.tilesets.Names())
	slices.Sort(names)
	list := TilesetList{Tilesets: []TilesetInfo{}}
	for _, name := range names {
		public := s.public[name]
		if !public && !mayRead(key, name) {
			continue
		}
		src, ok := s.tilesets.Acquire(name)
		if !ok {
			continue // unloaded since Names was read
		}
		meta := src.Metadata()
		_ = src.Close()
		list.Tilesets = append(list.Tilesets, TilesetInfo{
			Name:     name,
			Format:   string(meta.Format),
			MinZoom:  meta.MinZoom,
			MaxZoom:  meta.MaxZoom,
			Public:   public,
			TileJSON: base + tilesPrefix + name + ".json" + keyQuery,
		})
	}
	body, err := json.Marshal(list)
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "encode tileset list", slog.String(attrErr, err.Error()))
		writeProblem(w, r, http.StatusInternalServerError, probInternal, "")
		return
	}
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = tileJSONPrivateCC
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(body, '\n'))
	}
}

// listTilesetsOptions answers OPTIONS /v1/tilesets.
func (s *server) listTilesetsOptions(w http.ResponseWriter, r *http.Request) {
	st := stateOf(w)
	st.route = routeTilesets
	s.preflight(w, r, st, target{listing: true})
}

// mayRead reports whether key grants reading the keyed tileset name.
func mayRead(key *store.Key, name string) bool {
	if key == nil || !keys.HasScope(key.Scopes, keys.ScopeTilesRead) {
		return false
	}
	return len(key.Tilesets) == 0 || slices.Contains(key.Tilesets, name)
}
