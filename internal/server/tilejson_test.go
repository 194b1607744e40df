package server

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/mapwright/mapwright/internal/tiles"
)

func TestTileJSONDocument(t *testing.T) {
	f := newFixture(t, nil)
	w := f.do(req{path: "/v1/tiles/roads.json", key: roleGood})
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "private, no-cache" {
		t.Errorf("Cache-Control %q for a document carrying a key", cc)
	}
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"tilejson":      "3.0.0",
		"tiles":         []any{"http://tiles.test/v1/tiles/roads/{z}/{x}/{y}.mvt?key=" + f.tok[roleGood]},
		"name":          "Roads",
		"description":   "road network",
		"attribution":   "© contributors",
		"version":       "1.2.0",
		"minzoom":       0.0,
		"maxzoom":       14.0,
		"bounds":        []any{-10.0, 40.0, 10.0, 60.0},
		"center":        []any{0.0, 50.0, 4.0},
		"scheme":        "xyz",
		"vector_layers": []any{map[string]any{"id": "water", "fields": map[string]any{"name": "String"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TileJSON\n got %v\nwant %v", got, want)
	}
}

func TestTileJSONURLs(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Options)
		target  string
		bearer  bool
		headers map[string]string
		want    string
		status  int
	}{
		{name: "key by query is carried", target: "http://tiles.test/v1/tiles/roads.json", want: "http://tiles.test/v1/tiles/roads/{z}/{x}/{y}.mvt?key=KEY"},
		{name: "key by header is not", target: "http://tiles.test/v1/tiles/roads.json", bearer: true, want: "http://tiles.test/v1/tiles/roads/{z}/{x}/{y}.mvt"},
		{name: "tls gives https", target: "https://tiles.test:8443/v1/tiles/roads.json", bearer: true, want: "https://tiles.test:8443/v1/tiles/roads/{z}/{x}/{y}.mvt"},
		{name: "forwarded headers ignored by default", target: "http://tiles.test/v1/tiles/roads.json", bearer: true,
			headers: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.test"}, want: "http://tiles.test/v1/tiles/roads/{z}/{x}/{y}.mvt"},
		{name: "forwarded headers from a trusted proxy", mod: trustTestPeer, target: "http://10.0.0.5/v1/tiles/roads.json", bearer: true,
			headers: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "maps.example.com"}, want: "https://maps.example.com/v1/tiles/roads/{z}/{x}/{y}.mvt"},
		{name: "forwarded headers of two appending proxies", mod: trustTestPeer, target: "http://10.0.0.5/v1/tiles/roads.json", bearer: true,
			headers: map[string]string{"X-Forwarded-For": "203.0.113.9, 192.0.2.77", "X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "maps.example.com, proxy.internal"},
			want:    "https://maps.example.com/v1/tiles/roads/{z}/{x}/{y}.mvt"},
		{name: "a client's own forwarded host is not believed", mod: trustTestPeer, target: "http://10.0.0.5/v1/tiles/roads.json", bearer: true,
			headers: map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.test, maps.example.com"},
			want:    "https://maps.example.com/v1/tiles/roads/{z}/{x}/{y}.mvt"},
		{name: "public base URL wins", mod: func(o *Options) { o.PublicBaseURL = "https://cdn.example.com/" }, target: "http://tiles.test/v1/tiles/roads.json", bearer: true,
			want: "https://cdn.example.com/v1/tiles/roads/{z}/{x}/{y}.mvt"},
		{name: "public base URL wins over a trusted proxy's headers", mod: func(o *Options) { trustTestPeer(o); o.PublicBaseURL = "https://tiles.example.com" },
			target: "http://10.0.0.5:8080/v1/tiles/roads.json", headers: map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-Host": "internal.test"},
			want: "https://tiles.example.com/v1/tiles/roads/{z}/{x}/{y}.mvt?key=KEY"},
		{name: "public base URL with a path prefix", mod: func(o *Options) { o.PublicBaseURL = "https://example.com/maps/" }, target: "http://10.0.0.5:8080/v1/tiles/roads.json",
			want: "https://example.com/maps/v1/tiles/roads/{z}/{x}/{y}.mvt?key=KEY"},
		{name: "forged host refused", target: "http://tiles.test/v1/tiles/roads.json", bearer: true, headers: map[string]string{"Host": `evil"}.test`}, status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.mod)
			tok := f.tok[roleGood]
			target := tt.target
			if !tt.bearer {
				target += "?key=" + tok
			}
			r := newRequest("GET", target)
			if tt.bearer {
				r.Header.Set("Authorization", "Bearer "+tok)
			}
			for k, v := range tt.headers {
				if k == "Host" {
					r.Host = v
					continue
				}
				r.Header.Set(k, v)
			}
			w := serve(f.h, r)
			want := tt.status
			if want == 0 {
				want = 200
			}
			if w.Code != want {
				t.Fatalf("status %d, want %d: %s", w.Code, want, w.Body.String())
			}
			if want != 200 {
				return
			}
			var doc struct{ Tiles []string }
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			wantURL := tt.want
			if !tt.bearer {
				wantURL = wantURL[:len(wantURL)-len("KEY")] + tok
			}
			if len(doc.Tiles) != 1 || doc.Tiles[0] != wantURL {
				t.Errorf("tiles %v, want %q", doc.Tiles, wantURL)
			}
		})
	}
}

func TestTileJSONRasterAndPublic(t *testing.T) {
	f := newFixture(t, nil)
	w := f.do(req{path: "/v1/tiles/sat.json", key: roleGood})
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["vector_layers"]; ok {
		t.Errorf("raster TileJSON has vector_layers")
	}
	if doc["name"] != "sat" {
		t.Errorf("name %v, want the catalog name when metadata has none", doc["name"])
	}
	if tiles := doc["tiles"].([]any); tiles[0] != "http://tiles.test/v1/tiles/sat/{z}/{x}/{y}.png?key="+f.tok[roleGood] {
		t.Errorf("tiles %v", tiles)
	}
	pub := f.do(req{path: "/v1/tiles/pub.json", header: map[string]string{"Origin": "https://a.test"}})
	if pub.Header().Get("Cache-Control") != "public, max-age=60" || pub.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("public TileJSON headers %v", pub.Header())
	}
}

func TestBuildTileJSONSanitises(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name  string
		meta  tiles.Metadata
		check func(t *testing.T, doc map[string]any)
	}{
		{"bounds not finite dropped", tiles.Metadata{Format: tiles.FormatPNG, Bounds: &[4]float64{nan, 0, 1, 1}}, func(t *testing.T, doc map[string]any) {
			if _, ok := doc["bounds"]; ok {
				t.Error("NaN bounds kept")
			}
		}},
		{"bounds out of range dropped", tiles.Metadata{Format: tiles.FormatPNG, Bounds: &[4]float64{-200, 0, 1, 1}}, func(t *testing.T, doc map[string]any) {
			if _, ok := doc["bounds"]; ok {
				t.Error("bounds beyond 180 kept")
			}
		}},
		{"center zoom clamped", tiles.Metadata{Format: tiles.FormatPNG, MinZoom: 2, MaxZoom: 6, Center: &[3]float64{1, 2, 12}}, func(t *testing.T, doc map[string]any) {
			if c := doc["center"].([]any); c[2] != 6.0 {
				t.Errorf("center %v", c)
			}
		}},
		{"zooms clamped and ordered", tiles.Metadata{Format: tiles.FormatPNG, MinZoom: 40, MaxZoom: -3}, func(t *testing.T, doc map[string]any) {
			if doc["minzoom"] != 0.0 || doc["maxzoom"] != 30.0 {
				t.Errorf("zooms %v %v", doc["minzoom"], doc["maxzoom"])
			}
		}},
		{"vector layers garbage", tiles.Metadata{Format: tiles.FormatMVT, VectorLayers: []byte(`{"not":"an array"}`)}, func(t *testing.T, doc map[string]any) {
			if vl, ok := doc["vector_layers"].([]any); !ok || len(vl) != 0 {
				t.Errorf("vector_layers %v", doc["vector_layers"])
			}
		}},
		{"vector layers filtered", tiles.Metadata{Format: tiles.FormatMVT, VectorLayers: []byte(`[{"id":"a"},{"fields":{}},null,7,{"id":"b","fields":{"x":"Number"},"minzoom":2}]`)}, func(t *testing.T, doc map[string]any) {
			want := []any{
				map[string]any{"id": "a", "fields": map[string]any{}},
				map[string]any{"id": "b", "fields": map[string]any{"x": "Number"}, "minzoom": 2.0},
			}
			if !reflect.DeepEqual(doc["vector_layers"], want) {
				t.Errorf("vector_layers %v", doc["vector_layers"])
			}
		}},
		{"vector layers missing", tiles.Metadata{Format: tiles.FormatMVT}, func(t *testing.T, doc map[string]any) {
			if vl, ok := doc["vector_layers"].([]any); !ok || len(vl) != 0 {
				t.Errorf("vector_layers %v", doc["vector_layers"])
			}
		}},
		{"invalid utf-8 text", tiles.Metadata{Format: tiles.FormatPNG, Attribution: "bad \xff byte", VectorLayers: []byte("[]")}, func(t *testing.T, doc map[string]any) {
			if doc["attribution"] != "bad \uFFFD byte" {
				t.Errorf("attribution %q", doc["attribution"])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := BuildTileJSON(tt.meta, "https://h/v1/tiles/x", "")
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatalf("invalid JSON %s: %v", out, err)
			}
			tt.check(t, doc)
		})
	}
}

func FuzzTileJSON(f *testing.F) {
	f.Add("name", "desc", "<b>attr</b>", "1.0.0", "mvt", 0, 14, -180.0, -85.0, 180.0, 85.0, 0.0, 0.0, 2.0, []byte(`[{"id":"water","fields":{}}]`), "mpw_pk_x")
	f.Add("", "", "", "", "png", 5, 3, math.NaN(), 0.0, math.Inf(1), 0.0, 1e308, -1e308, math.NaN(), []byte(`{"id":1}`), "")
	f.Add("\xff\xfe", "\"quote\"\n", "&amp;", "\x00", "zzz", -5, 99, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, []byte("[\"\xff\"]"), "a b&c")
	f.Fuzz(func(t *testing.T, name, desc, attr, version, format string, minZ, maxZ int, b0, b1, b2, b3, c0, c1, c2 float64, layers []byte, key string) {
		meta := tiles.Metadata{
			Name: name, Description: desc, Attribution: attr, Version: version,
			Format: tiles.Format(format), MinZoom: minZ, MaxZoom: maxZ,
			Bounds: &[4]float64{b0, b1, b2, b3}, Center: &[3]float64{c0, c1, c2},
			VectorLayers: layers,
		}
		out, err := BuildTileJSON(meta, "https://tiles.example.com/v1/tiles/x", key)
		if err != nil {
			t.Fatalf("BuildTileJSON: %v", err)
		}
		if !json.Valid(out) || !utf8.Valid(out) {
			t.Fatalf("invalid JSON: %q", out)
		}
		var doc struct {
			TileJSON     string          `json:"tilejson"`
			Tiles        []string        `json:"tiles"`
			MinZoom      int             `json:"minzoom"`
			MaxZoom      int             `json:"maxzoom"`
			VectorLayers json.RawMessage `json:"vector_layers"`
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.TileJSON != "3.0.0" || len(doc.Tiles) != 1 {
			t.Fatalf("doc %s", out)
		}
		if doc.MinZoom < 0 || doc.MaxZoom > 30 || doc.MinZoom > doc.MaxZoom {
			t.Fatalf("zooms %d..%d", doc.MinZoom, doc.MaxZoom)
		}
		if tiles.Format(format) == tiles.FormatMVT {
			var arr []json.RawMessage
			if err := json.Unmarshal(doc.VectorLayers, &arr); err != nil {
				t.Fatalf("vector_layers is not an array: %s", doc.VectorLayers)
			}
		}
	})
}
