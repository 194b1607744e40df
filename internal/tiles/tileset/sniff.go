package tileset

import "bytes"

// Warner is implemented by sources that noticed something odd but harmless
// while opening (a malformed bounds value, a format that disagrees with the
// tile bytes). The catalog logs and lists the warnings.
type Warner interface {
	// Warnings returns human-readable notes, or nil.
	Warnings() []string
}

var (
	magicGzip = []byte{0x1f, 0x8b}
	magicPNG  = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}
	magicJPEG = []byte{0xff, 0xd8, 0xff}
)

// IsGzip reports whether b starts with the gzip magic number.
func IsGzip(b []byte) bool {
	return bytes.HasPrefix(b, magicGzip)
}

// Sniff recognises a tile from its first bytes. A gzip stream is taken to be
// a compressed vector tile, the only format stored compressed in practice.
// An uncompressed vector tile is recognised by its first protocol buffer
// field (layers, field 3, length-delimited). ok is false when the bytes match
// nothing known.
func Sniff(b []byte) (f Format, enc Encoding, ok bool) {
	switch {
	case IsGzip(b):
		return FormatMVT, EncodingGzip, true
	case bytes.HasPrefix(b, magicPNG):
		return FormatPNG, EncodingIdentity, true
	case bytes.HasPrefix(b, magicJPEG):
		return FormatJPEG, EncodingIdentity, true
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return FormatWebP, EncodingIdentity, true
	case isAVIF(b):
		return FormatAVIF, EncodingIdentity, true
	case len(b) >= 2 && b[0] == 0x1a:
		return FormatMVT, EncodingIdentity, true
	}
	return "", EncodingIdentity, false
}

// isAVIF looks for an ISO BMFF "ftyp" box whose major or compatible brands
// name AVIF ("avif" still image, "avis" image sequence).
func isAVIF(b []byte) bool {
	if len(b) < 16 || string(b[4:8]) != "ftyp" {
		return false
	}
	size := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if size < 16 || size > len(b) {
		size = len(b)
	}
	isBrand := func(s string) bool { return s == "avif" || s == "avis" }
	if isBrand(string(b[8:12])) {
		return true
	}
	// Bytes 12..16 are the minor version; compatible brands follow.
	for i := 16; i+4 <= size; i += 4 {
		if isBrand(string(b[i : i+4])) {
			return true
		}
	}
	return false
}
