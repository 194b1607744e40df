package pmtiles

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

// ParseMetadata decodes the (decompressed) JSON metadata of an archive. An
// empty input is an empty object; anything but a JSON object is an error.
// It returns the object twice: verbatim per key, for fields that are passed
// on untouched (vector_layers), and decoded, for everything else.
func ParseMetadata(b []byte) (map[string]json.RawMessage, map[string]any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]json.RawMessage{}, map[string]any{}, nil
	}
	var rawFields map[string]json.RawMessage
	if err := json.Unmarshal(b, &rawFields); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadMetadata, err)
	}
	if rawFields == nil {
		return nil, nil, fmt.Errorf("%w: not a JSON object", ErrBadMetadata)
	}
	var decoded map[string]any
	if err := json.Unmarshal(b, &decoded); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadMetadata, err)
	}
	return rawFields, decoded, nil
}

// buildMetadata combines the header (zooms, bounds, center, tile type) and the
// JSON metadata (names, vector layers) into the common description. The
// format is left empty when the tile type is unknown and the metadata names
// none; the caller then sniffs a tile.
func buildMetadata(h Header, fields map[string]json.RawMessage, decoded map[string]any) (tileset.Metadata, []string) {
	var warnings []string
	str := func(key string) string {
		v, ok := decoded[key]
		if !ok || v == nil {
			return ""
		}
		if s, ok := v.(string); ok {
			return s
		}
		warnings = append(warnings, fmt.Sprintf("metadata %q is not a string", key))
		return ""
	}
	md := tileset.Metadata{
		Name:        str("name"),
		Description: str("description"),
		Attribution: str("attribution"),
		Version:     str("version"),
		Type:        str("type"),
		MinZoom:     int(h.MinZoom),
		MaxZoom:     int(h.MaxZoom),
		Raw:         decoded,
	}
	md.Format = formatOfTileType(h.TileType)
	if md.Format == "" {
		if s := str("format"); s != "" {
			if f, err := tileset.ParseFormat(s); err == nil {
				md.Format = f
			} else {
				warnings = append(warnings, fmt.Sprintf("metadata format: %v", err))
			}
		}
	}
	// Writers that know no bounds leave the fields zero; a zero-area box is
	// no extent at all.
	if h.MinLonE7 != h.MaxLonE7 || h.MinLatE7 != h.MaxLatE7 {
		b := [4]float64{e7ToDeg(h.MinLonE7), e7ToDeg(h.MinLatE7), e7ToDeg(h.MaxLonE7), e7ToDeg(h.MaxLatE7)}
		if b[0] < -180 || b[2] > 180 || b[1] < -90 || b[3] > 90 || b[1] > b[3] {
			warnings = append(warnings, fmt.Sprintf("header bounds %v are not a valid extent; ignored", b))
		} else {
			md.Bounds = &b
			c := [3]float64{e7ToDeg(h.CenterLonE7), e7ToDeg(h.CenterLatE7), float64(h.CenterZoom)}
			md.Center = &c
		}
	}
	md.VectorLayers = vectorLayers(fields, &warnings)
	return md, warnings
}

// vectorLayers finds the TileJSON vector_layers array: at the top level, or
// inside a "json" string as archives converted from MBTiles sometimes carry
// it.
func vectorLayers(fields map[string]json.RawMessage, warnings *[]string) json.RawMessage {
	if v, ok := fields["vector_layers"]; ok {
		if t := bytes.TrimSpace(v); len(t) > 0 && t[0] == '[' {
			return v
		}
		*warnings = append(*warnings, "metadata vector_layers is not an array; ignored")
		return nil
	}
	nested, ok := fields["json"]
	if !ok {
		return nil
	}
	var s string
	if err := json.Unmarshal(nested, &s); err != nil {
		return nil
	}
	var inner struct {
		VectorLayers json.RawMessage `json:"vector_layers"`
	}
	if err := json.Unmarshal([]byte(s), &inner); err != nil {
		*warnings = append(*warnings, fmt.Sprintf("metadata json: %v", err))
		return nil
	}
	if t := bytes.TrimSpace(inner.VectorLayers); len(t) > 0 && t[0] == '[' {
		return inner.VectorLayers
	}
	return nil
}

// formatOfTileType maps the header enum to a format, "" for unknown.
func formatOfTileType(t TileType) tileset.Format {
	switch t {
	case TileTypeMVT:
		return tileset.FormatMVT
	case TileTypePNG:
		return tileset.FormatPNG
	case TileTypeJPEG:
		return tileset.FormatJPEG
	case TileTypeWebP:
		return tileset.FormatWebP
	case TileTypeAVIF:
		return tileset.FormatAVIF
	}
	return ""
}

// TileTypeOf maps a format to the header enum.
func TileTypeOf(f tileset.Format) TileType {
	switch f {
	case tileset.FormatMVT:
		return TileTypeMVT
	case tileset.FormatPNG:
		return TileTypePNG
	case tileset.FormatJPEG:
		return TileTypeJPEG
	case tileset.FormatWebP:
		return TileTypeWebP
	case tileset.FormatAVIF:
		return TileTypeAVIF
	}
	return TileTypeUnknown
}
