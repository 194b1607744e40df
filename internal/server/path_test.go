package server

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParseTilePath(t *testing.T) {
	tests := []struct {
		name string
		path string
		want TileRequest
		ok   bool
	}{
		{"plain", "/v1/tiles/roads/3/4/2.mvt", TileRequest{"roads", 3, 4, 2, "mvt"}, true},
		{"zoom 0", "/v1/tiles/a/0/0/0.png", TileRequest{"a", 0, 0, 0, "png"}, true},
		{"zoom 30 corner", "/v1/tiles/a/30/1073741823/1073741823.webp", TileRequest{"a", 30, 1073741823, 1073741823, "webp"}, true},
		{"name with dots and dashes", "/v1/tiles/a.b_c-d/1/1/1.pbf", TileRequest{"a.b_c-d", 1, 1, 1, "pbf"}, true},
		{"name ending in .json", "/v1/tiles/x.json/0/0/0.jpg", TileRequest{"x.json", 0, 0, 0, "jpg"}, true},
		{"jpeg", "/v1/tiles/a/0/0/0.jpeg", TileRequest{"a", 0, 0, 0, "jpeg"}, true},
		{"avif", "/v1/tiles/a/0/0/0.avif", TileRequest{"a", 0, 0, 0, "avif"}, true},
		{"128-char name", "/v1/tiles/" + strings.Repeat("n", 128) + "/0/0/0.mvt", TileRequest{strings.Repeat("n", 128), 0, 0, 0, "mvt"}, true},
		{"129-char name", "/v1/tiles/" + strings.Repeat("n", 129) + "/0/0/0.mvt", TileRequest{}, false},
		{"dot name", "/v1/tiles/./0/0/0.mvt", TileRequest{}, false},
		{"dotdot name", "/v1/tiles/../0/0/0.mvt", TileRequest{}, false},
		{"encoded dotdot", "/v1/tiles/%2e%2e/0/0/0.mvt", TileRequest{}, false},
		{"encoded slash in name", "/v1/tiles/a%2fb/0/0/0.mvt", TileRequest{}, false},
		{"space in name", "/v1/tiles/a b/0/0/0.mvt", TileRequest{}, false},
		{"empty name", "/v1/tiles//0/0/0.mvt", TileRequest{}, false},
		{"zoom 31", "/v1/tiles/a/31/0/0.mvt", TileRequest{}, false},
		{"x at 2^z", "/v1/tiles/a/2/4/0.mvt", TileRequest{}, false},
		{"y at 2^z", "/v1/tiles/a/2/0/4.mvt", TileRequest{}, false},
		{"negative", "/v1/tiles/a/2/-1/0.mvt", TileRequest{}, false},
		{"plus sign", "/v1/tiles/a/2/+1/0.mvt", TileRequest{}, false},
		{"leading zero x", "/v1/tiles/a/2/01/0.mvt", TileRequest{}, false},
		{"leading zero zoom", "/v1/tiles/a/00/0/0.mvt", TileRequest{}, false},
		{"hex", "/v1/tiles/a/2/0x1/0.mvt", TileRequest{}, false},
		{"too many digits", "/v1/tiles/a/30/00000000001/0.mvt", TileRequest{}, false},
		{"overflowing digits", "/v1/tiles/a/30/99999999999999999999/0.mvt", TileRequest{}, false},
		{"unicode digit", "/v1/tiles/a/1/\u0661/0.mvt", TileRequest{}, false},
		{"unknown ext", "/v1/tiles/a/0/0/0.gif", TileRequest{}, false},
		{"upper-case ext", "/v1/tiles/a/0/0/0.MVT", TileRequest{}, false},
		{"double ext", "/v1/tiles/a/0/0/0.mvt.gz", TileRequest{}, false},
		{"no ext", "/v1/tiles/a/0/0/0", TileRequest{}, false},
		{"empty y", "/v1/tiles/a/0/0/.mvt", TileRequest{}, false},
		{"extra segment", "/v1/tiles/a/0/0/0/0.mvt", TileRequest{}, false},
		{"missing segment", "/v1/tiles/a/0/0.mvt", TileRequest{}, false},
		{"trailing slash", "/v1/tiles/a/0/0/0.mvt/", TileRequest{}, false},
		{"other prefix", "/v2/tiles/a/0/0/0.mvt", TileRequest{}, false},
		{"encoded digit", "/v1/tiles/a/%31/0/0.mvt", TileRequest{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTilePath(tt.path)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			if !errors.Is(err, ErrBadTilePath) {
				t.Errorf("error %v does not wrap ErrBadTilePath", err)
			}
		})
	}
}

func TestParseTileJSONPath(t *testing.T) {
	tests := []struct {
		path string
		want string
		ok   bool
	}{
		{"/v1/tiles/roads.json", "roads", true},
		{"/v1/tiles/a.b.json", "a.b", true},
		{"/v1/tiles/.json", "", false},
		{"/v1/tiles/..json", "", false},
		{"/v1/tiles/...json", "", false},
		{"/v1/tiles/roads.JSON", "", false},
		{"/v1/tiles/roads", "", false},
		{"/v1/tiles/r%2eads.json", "", false},
	}
	for _, tt := range tests {
		got, err := parseTileJSONPath(tt.path)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("%s: got %q, %v", tt.path, got, err)
		}
	}
}

func TestIsCleanPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/v1/tiles/a/0/0/0.mvt", true},
		{"/", true},
		{"/a.b/c..d/", true},
		{"", false},
		{"v1", false},
		{"//v1", false},
		{"/v1/./tiles", false},
		{"/v1/../admin", false},
		{"/v1/..", false},
		{"/v1/%2E%2E/admin", false},
		{"/v1/a%2Fb", false},
		{"/v1/a%5cb", false},
		{"/v1/a\\b", false},
		{"/v1/a%00", false},
		{"/v1/a%20b", true},
	}
	for _, tt := range tests {
		if got := isCleanPath(tt.path); got != tt.want {
			t.Errorf("isCleanPath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func FuzzParseTilePath(f *testing.F) {
	for _, s := range []string{
		"/v1/tiles/roads/3/4/2.mvt", "/v1/tiles/a/30/1073741823/0.png", "/v1/tiles/%2e%2e/0/0/0.mvt",
		"/v1/tiles/a/0/0/0.", "/v1/tiles/a/-0/0/0.mvt", "/v1/tiles/a/1/1/1.jpeg", "/v1/tiles/x.json",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		req, err := ParseTilePath(path)
		if err != nil {
			if !errors.Is(err, ErrBadTilePath) {
				t.Fatalf("error %v does not wrap ErrBadTilePath", err)
			}
			return
		}
		// Whatever parses must satisfy every invariant and print back to
		// the same path: the parser accepts exactly one spelling per tile.
		if checkTilesetName(req.Tileset) != nil {
			t.Fatalf("accepted bad name %q", req.Tileset)
		}
		if req.Z < 0 || req.Z > MaxZoom || req.X < 0 || req.Y < 0 || req.X >= 1<<req.Z || req.Y >= 1<<req.Z {
			t.Fatalf("accepted out-of-grid tile %+v", req)
		}
		if _, ok := tileFormats[req.Ext]; !ok {
			t.Fatalf("accepted extension %q", req.Ext)
		}
		back := tilesPrefix + req.Tileset + "/" + strconv.Itoa(req.Z) + "/" + strconv.Itoa(req.X) + "/" + strconv.Itoa(req.Y) + "." + req.Ext
		if back != path {
			t.Fatalf("parsed %q as %+v, which prints as %q", path, req, back)
		}
		if strings.Contains(path, "%") || strings.Contains(path, "/../") || strings.Contains(path, "/./") {
			t.Fatalf("accepted %q", path)
		}
	})
}
