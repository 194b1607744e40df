package cli

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"rsc.io/qr"
)

// TestQRDrawsTheCode reads the modules back from the half-block drawing and
// compares them with the encoder's, with and without colour.
func TestQRDrawsTheCode(t *testing.T) {
	const uri = "otpauth://totp/Mapwright:key_0003?secret=JBSWY3DPEHPK3PXP&issuer=Mapwright"
	code, err := qr.Encode(uri, qr.M)
	if err != nil {
		t.Fatal(err)
	}
	ansi := regexp.MustCompile(`\x1b\[[0-9;]*m`)
	for _, color := range []bool{true, false} {
		var buf bytes.Buffer
		if err := writeQR(&buf, uri, color); err != nil {
			t.Fatal(err)
		}
		text := ansi.ReplaceAllString(buf.String(), "")
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		n := code.Size + 2*qrQuiet
		if len(lines) != (n+1)/2 {
			t.Fatalf("color=%v: %d lines, want %d", color, len(lines), (n+1)/2)
		}
		for ly, line := range lines {
			cells := []rune(line)
			if len(cells) != n {
				t.Fatalf("color=%v: line %d has %d cells, want %d", color, ly, len(cells), n)
			}
			for x, r := range cells {
				top := r == '█' || r == '▀'
				bottom := r == '█' || r == '▄'
				if !color {
					top, bottom = !top, !bottom
				}
				y := 2 * ly
				if top != code.Black(x-qrQuiet, y-qrQuiet) {
					t.Fatalf("color=%v: module (%d,%d) drawn wrong", color, x, y)
				}
				if y+1 < n && bottom != code.Black(x-qrQuiet, y+1-qrQuiet) {
					t.Fatalf("color=%v: module (%d,%d) drawn wrong", color, x, y+1)
				}
			}
		}
		if color && !strings.Contains(buf.String(), "\x1b[30;107m") {
			t.Error("colour drawing does not set black on white")
		}
	}
}
