package pmtiles

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"testing"
)

// FuzzMetadata feeds arbitrary bytes as an archive's JSON metadata, beside a
// header whose tile type and extent are arbitrary too: parsing never panics,
// what parses is one JSON object seen alike verbatim and decoded, and the
// description built from both is within range and serialises as TileJSON
// and the admin API do.
func FuzzMetadata(f *testing.F) {
	f.Add([]byte(`{"name":"roads","format":"pbf","vector_layers":[{"id":"roads","fields":{}}]}`),
		uint8(TileTypeMVT), int32(-1800000000), int32(-850511287), int32(1800000000), int32(850511287))
	f.Add([]byte(`{"json":"{\"vector_layers\":[{\"id\":\"a\"}]}","format":"webp"}`), uint8(TileTypeUnknown), int32(0), int32(0), int32(0), int32(0))
	f.Add([]byte(`{"vector_layers":{},"name":5,"format":"tiff"}`), uint8(9), int32(1), int32(2), int32(-1), int32(-2))
	f.Add([]byte(` `), uint8(TileTypePNG), int32(math.MaxInt32), int32(math.MinInt32), int32(math.MinInt32), int32(math.MaxInt32))
	f.Add([]byte(`[1]`), uint8(TileTypePNG), int32(0), int32(0), int32(0), int32(0))
	f.Fuzz(func(t *testing.T, b []byte, tileType uint8, minLon, minLat, maxLon, maxLat int32) {
		fields, decoded, err := ParseMetadata(b)
		if err != nil {
			if !errors.Is(err, ErrBadMetadata) {
				t.Fatalf("error %v does not wrap ErrBadMetadata", err)
			}
			return
		}
		if len(fields) != len(decoded) {
			t.Fatalf("%d verbatim fields, %d decoded", len(fields), len(decoded))
		}
		for k, raw := range fields {
			if _, ok := decoded[k]; !ok {
				t.Fatalf("field %q verbatim only", k)
			}
			if !json.Valid(raw) {
				t.Fatalf("field %q kept as %q, not JSON", k, raw)
			}
		}
		h := Header{
			TileType: TileType(tileType), MinZoom: 0, MaxZoom: 14,
			MinLonE7: minLon, MinLatE7: minLat, MaxLonE7: maxLon, MaxLatE7: maxLat,
			CenterLonE7: minLon/2 + maxLon/2, CenterLatE7: minLat/2 + maxLat/2, CenterZoom: 3,
		}
		md, _ := buildMetadata(h, fields, decoded)
		if md.Format != "" && !md.Format.Valid() {
			t.Fatalf("format %q", md.Format)
		}
		if bb := md.Bounds; bb != nil {
			if bb[0] < -180 || bb[2] > 180 || bb[1] < -90 || bb[3] > 90 || bb[1] > bb[3] {
				t.Fatalf("bounds %v", bb)
			}
		}
		if vl := md.VectorLayers; vl != nil {
			if trimmed := bytes.TrimSpace(vl); !json.Valid(vl) || trimmed[0] != '[' {
				t.Fatalf("vector_layers %q is not a JSON array", vl)
			}
		}
		if _, err := json.Marshal(md); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	})
}
