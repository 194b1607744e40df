package apikey

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"testing"
)

func TestGenerateRejectionSampling(t *testing.T) {
	// Values 62 and 63 (in the low six bits) have no character: mapping them
	// anywhere would make two characters likelier than the rest.
	rejected := []byte{62, 63, 62 | 64, 63 | 128, 0xfe, 0xff}
	tests := []struct {
		name   string
		random []byte
		want   string // the 30 random characters
	}{
		{
			name:   "every value in order",
			random: seq(0, 30),
			want:   "0123456789ABCDEFGHIJKLMNOPQRST",
		},
		{
			name:   "high bits are ignored",
			random: bytes.Repeat([]byte{61 | 64, 36 | 128, 10 | 192}, 10),
			want:   "zaAzaAzaAzaAzaAzaAzaAzaAzaAzaA",
		},
		{
			name:   "out of range values are skipped",
			random: interleave(rejected, seq(30, 60)),
			want:   "UVWXYZabcdefghijklmnopqrstuvwx",
		},
		{
			name:   "a whole read of rejects is followed by another read",
			random: append(bytes.Repeat([]byte{0xff}, 40), seq(32, 62)...),
			want:   "WXYZabcdefghijklmnopqrstuvwxyz",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Pad so every read of the generator is satisfied.
			r := bytes.NewReader(append(tc.random, make([]byte, 80)...))
			tok, err := generate(Secret, r)
			if err != nil {
				t.Fatal(err)
			}
			if got := tok[PrefixLen : PrefixLen+RandomLen]; got != tc.want {
				t.Errorf("random part = %q, want %q", got, tc.want)
			}
			if _, err := Parse(tok); err != nil {
				t.Errorf("Parse(%q) = %v", tok, err)
			}
		})
	}
}

func seq(from, to byte) []byte {
	var b []byte
	for c := from; c < to; c++ {
		b = append(b, c)
	}
	return b
}

// interleave puts one byte of bad before each byte of good, cycling bad.
func interleave(bad, good []byte) []byte {
	var b []byte
	for i, c := range good {
		b = append(b, bad[i%len(bad)], c)
	}
	return b
}

func TestGenerateReadError(t *testing.T) {
	tests := []struct {
		name string
		r    io.Reader
		want error
	}{
		{name: "empty source", r: bytes.NewReader(nil), want: io.EOF},
		{name: "source ends early", r: bytes.NewReader(bytes.Repeat([]byte{0xff}, 50)), want: io.ErrUnexpectedEOF},
		{name: "source fails", r: io.MultiReader(bytes.NewReader(seq(0, 10)), errReader{}), want: errBroken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := generate(Public, tc.r)
			if !errors.Is(err, tc.want) || tok != "" {
				t.Errorf("generate = %q, %v; want %v", tok, err, tc.want)
			}
		})
	}
}

var errBroken = errors.New("entropy source broken")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

func TestCRCMatchesStandardLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if got, want := crcUpdate(0, b), crc32.ChecksumIEEE(b); got != want {
			t.Fatalf("crcUpdate(%d bytes) = %#x, want %#x", n, got, want)
		}
		if got, want := crcUpdate(0, string(b)), crc32.ChecksumIEEE(b); got != want {
			t.Fatalf("crcUpdate(string of %d bytes) = %#x, want %#x", n, got, want)
		}
		cut := n / 3
		if got, want := crcUpdate(crcUpdate(0, b[:cut]), b[cut:]), crc32.ChecksumIEEE(b); got != want {
			t.Fatalf("chained crcUpdate(%d bytes) = %#x, want %#x", n, got, want)
		}
	}
}
