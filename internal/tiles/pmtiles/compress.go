package pmtiles

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
)

// maxInternalBytes caps the decompressed size of a directory or of the
// metadata. Real leaf directories are well under a megabyte; the cap stops a
// crafted archive from inflating a few kilobytes into gigabytes.
const maxInternalBytes = 64 << 20

// decompress undoes the internal compression c of b. An unknown compression
// is taken as gzip when the bytes carry the gzip magic number, as none
// otherwise. Decoding faults wrap class.
func decompress(b []byte, c Compression, what string, class error) ([]byte, error) {
	switch c {
	case CompressionNone:
		return b, nil
	case CompressionUnknown:
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			return b, nil
		}
	case CompressionGzip:
	default:
		return nil, fmt.Errorf("%w: %s uses %s", ErrUnsupportedCompression, what, c)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", class, what, err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxInternalBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", class, what, err)
	}
	if len(out) > maxInternalBytes {
		return nil, fmt.Errorf("%w: %s inflates beyond %d bytes", class, what, maxInternalBytes)
	}
	return out, nil
}

// compressGzip gzips b at the best compression, as directories are written
// once and read many times.
func compressGzip(b []byte) []byte {
	var z gzipper
	return z.compress(b)
}

// gzipper compresses many buffers with one reusable compressor, whose state
// is far larger than a typical directory.
type gzipper struct {
	zw *gzip.Writer
}

func (z *gzipper) compress(b []byte) []byte {
	var buf bytes.Buffer
	if z.zw == nil {
		z.zw, _ = gzip.NewWriterLevel(&buf, gzip.BestCompression)
	} else {
		z.zw.Reset(&buf)
	}
	// Writes to a bytes.Buffer cannot fail.
	_, _ = z.zw.Write(b)
	_ = z.zw.Close()
	return buf.Bytes()
}
