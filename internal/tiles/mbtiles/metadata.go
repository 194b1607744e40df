package mbtiles

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

// ParsedMetadata is the result of ParseMetadata.
type ParsedMetadata struct {
	tileset.Metadata
	// HasMinZoom and HasMaxZoom report whether the rows gave a usable zoom
	// range; otherwise the reader takes it from the tiles table.
	HasMinZoom bool
	HasMaxZoom bool
	// Warnings name rows that were present but unusable and were ignored.
	Warnings []string
}

// ParseMetadata interprets the rows of an MBTiles metadata table (name →
// value) as MBTiles 1.3 defines them: name, description, attribution,
// version, type, format, bounds ("w,s,e,n"), center ("lon,lat[,zoom]"),
// minzoom, maxzoom and json (an object whose vector_layers is kept). A
// malformed optional row is ignored with a warning rather than failing the
// tileset; the format is left empty when missing or unknown, for the reader
// to sniff from the tile bytes.
func ParseMetadata(rows map[string]string) ParsedMetadata {
	var p ParsedMetadata
	warn := func(format string, args ...any) { p.Warnings = append(p.Warnings, fmt.Sprintf(format, args...)) }

	raw := make(map[string]any, len(rows))
	for k, v := range rows {
		raw[k] = v
	}
	p.Raw = raw
	p.Name = rows["name"]
	p.Description = rows["description"]
	p.Attribution = rows["attribution"]
	p.Version = rows["version"]
	p.Type = rows["type"]

	if s, ok := rows["format"]; ok && strings.TrimSpace(s) != "" {
		f, err := tileset.ParseFormat(s)
		if err != nil {
			warn("metadata format %q is unknown; recognising the format from the tile bytes", s)
		} else {
			p.Format = f
		}
	}

	if s, ok := rows["bounds"]; ok {
		v, err := parseFloats(s, 4, 4)
		switch {
		case err != nil:
			warn("metadata bounds %q: %v; ignored", s, err)
		case !validLon(v[0]) || !validLon(v[2]) || !validLat(v[1]) || !validLat(v[3]) || v[1] > v[3]:
			warn("metadata bounds %q is not a valid extent; ignored", s)
		default:
			b := [4]float64{v[0], v[1], v[2], v[3]}
			p.Bounds = &b
		}
	}

	minZoom, hasMin := parseZoom(rows, "minzoom", warn)
	maxZoom, hasMax := parseZoom(rows, "maxzoom", warn)
	if hasMin && hasMax && minZoom > maxZoom {
		warn("metadata minzoom %d above maxzoom %d; using the tiles table", minZoom, maxZoom)
		hasMin, hasMax = false, false
	}
	p.MinZoom, p.HasMinZoom = minZoom, hasMin
	p.MaxZoom, p.HasMaxZoom = maxZoom, hasMax

	if s, ok := rows["center"]; ok {
		v, err := parseFloats(s, 2, 3)
		switch {
		case err != nil:
			warn("metadata center %q: %v; ignored", s, err)
		case !validLon(v[0]) || !validLat(v[1]):
			warn("metadata center %q is not a valid position; ignored", s)
		default:
			c := [3]float64{v[0], v[1], float64(minZoom)}
			if len(v) == 3 {
				if z := v[2]; z >= 0 && z <= tileset.MaxZoom {
					c[2] = z
				} else {
					warn("metadata center zoom %v out of range; using minzoom", z)
				}
			}
			p.Center = &c
		}
	}

	if s, ok := rows["json"]; ok && strings.TrimSpace(s) != "" {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &obj); err != nil || obj == nil {
			warn("metadata json is not a JSON object; ignored")
		} else if vl, ok := obj["vector_layers"]; ok {
			if t := bytes.TrimSpace(vl); len(t) > 0 && t[0] == '[' {
				p.VectorLayers = vl
			} else {
				warn("metadata json vector_layers is not an array; ignored")
			}
		}
	}
	return p
}

func parseZoom(rows map[string]string, key string, warn func(string, ...any)) (int, bool) {
	s, ok := rows[key]
	if !ok {
		return 0, false
	}
	// Some writers store zooms as reals ("4.0").
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f != math.Trunc(f) || f < 0 || f > tileset.MaxZoom {
		warn("metadata %s %q is not a zoom level from 0 to %d; ignored", key, s, tileset.MaxZoom)
		return 0, false
	}
	return int(f), true
}

// parseFloats parses a comma-separated list of between lo and hi finite
// numbers.
func parseFloats(s string, lo, hi int) ([]float64, error) {
	parts := strings.Split(s, ",")
	if len(parts) < lo || len(parts) > hi {
		if lo == hi {
			return nil, fmt.Errorf("want %d numbers, got %d", lo, len(parts))
		}
		return nil, fmt.Errorf("want %d to %d numbers, got %d", lo, hi, len(parts))
	}
	out := make([]float64, len(parts))
	for i, part := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("%q is not a number", strings.TrimSpace(part))
		}
		out[i] = f
	}
	return out, nil
}

func validLon(v float64) bool { return v >= -180 && v <= 180 }
func validLat(v float64) bool { return v >= -90 && v <= 90 }
