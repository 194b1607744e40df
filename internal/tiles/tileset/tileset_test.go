package tileset

import (
	"bytes"
	"compress/gzip"
	"errors"
	"testing"
)

func TestValidTile(t *testing.T) {
	tests := []struct {
		name    string
		z, x, y int
		want    bool
	}{
		{"world tile", 0, 0, 0, true},
		{"x beyond level 0", 0, 1, 0, false},
		{"last tile of z3", 3, 7, 7, true},
		{"x off the grid", 3, 8, 0, false},
		{"y off the grid", 3, 0, 8, false},
		{"negative zoom", -1, 0, 0, false},
		{"negative x", 2, -1, 0, false},
		{"negative y", 2, 0, -1, false},
		{"deepest zoom", MaxZoom, 1<<MaxZoom - 1, 0, true},
		{"beyond deepest zoom", MaxZoom + 1, 0, 0, false},
		{"huge zoom would overflow", 64, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidTile(tt.z, tt.x, tt.y); got != tt.want {
				t.Errorf("ValidTile(%d, %d, %d) = %v, want %v", tt.z, tt.x, tt.y, got, tt.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name        string
		f           Format
		contentType string
		exts        []string
	}{
		{"vector", FormatMVT, "application/vnd.mapbox-vector-tile", []string{"mvt", "pbf"}},
		{"png", FormatPNG, "image/png", []string{"png"}},
		{"jpeg", FormatJPEG, "image/jpeg", []string{"jpg", "jpeg"}},
		{"webp", FormatWebP, "image/webp", []string{"webp"}},
		{"avif", FormatAVIF, "image/avif", []string{"avif"}},
		{"unknown", Format("tiff"), "application/octet-stream", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.ContentType(); got != tt.contentType {
				t.Errorf("ContentType() = %q, want %q", got, tt.contentType)
			}
			got := tt.f.Extensions()
			if len(got) != len(tt.exts) {
				t.Fatalf("Extensions() = %v, want %v", got, tt.exts)
			}
			for i := range got {
				if got[i] != tt.exts[i] {
					t.Errorf("Extensions() = %v, want %v", got, tt.exts)
				}
				if !tt.f.HasExtension(got[i]) {
					t.Errorf("HasExtension(%q) = false", got[i])
				}
			}
			if tt.f.HasExtension("gif") {
				t.Error(`HasExtension("gif") = true`)
			}
			if tt.f.Valid() != (tt.exts != nil) {
				t.Errorf("Valid() = %v", tt.f.Valid())
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
	}{
		{"pbf", FormatMVT},
		{"MVT", FormatMVT},
		{" png ", FormatPNG},
		{"jpg", FormatJPEG},
		{"jpeg", FormatJPEG},
		{"image/jpeg", FormatJPEG},
		{"webp", FormatWebP},
		{"avif", FormatAVIF},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFormat(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseFormat(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "gif", "geojson"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			if _, err := ParseFormat(bad); !errors.Is(err, ErrUnknownFormat) {
				t.Errorf("ParseFormat(%q) error = %v, want ErrUnknownFormat", bad, err)
			}
		})
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func TestSniff(t *testing.T) {
	avif := append([]byte{0, 0, 0, 0x1c}, []byte("ftypavif\x00\x00\x00\x00avifmif1miaf")...)
	avifCompat := append([]byte{0, 0, 0, 0x18}, []byte("ftypmif1\x00\x00\x00\x00mif1avif")...)
	heic := append([]byte{0, 0, 0, 0x18}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...)
	mvt := []byte{0x1a, 0x05, 0x78, 0x02, 0x0a, 0x01, 0x61}
	tests := []struct {
		name   string
		in     []byte
		format Format
		enc    Encoding
		ok     bool
	}{
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), FormatPNG, EncodingIdentity, true},
		{"jpeg", []byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F'}, FormatJPEG, EncodingIdentity, true},
		{"webp", []byte("RIFF\x24\x00\x00\x00WEBPVP8 "), FormatWebP, EncodingIdentity, true},
		{"avif major brand", avif, FormatAVIF, EncodingIdentity, true},
		{"avif compatible brand", avifCompat, FormatAVIF, EncodingIdentity, true},
		{"heic is not avif", heic, "", EncodingIdentity, false},
		{"gzip vector tile", gz(mvt), FormatMVT, EncodingGzip, true},
		{"raw vector tile", mvt, FormatMVT, EncodingIdentity, true},
		{"riff but not webp", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), "", EncodingIdentity, false},
		{"text", []byte("hello world"), "", EncodingIdentity, false},
		{"empty", nil, "", EncodingIdentity, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, enc, ok := Sniff(tt.in)
			if f != tt.format || enc != tt.enc || ok != tt.ok {
				t.Errorf("Sniff() = %q, %q, %v; want %q, %q, %v", f, enc, ok, tt.format, tt.enc, tt.ok)
			}
		})
	}
}
