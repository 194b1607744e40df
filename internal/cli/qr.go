package cli

import (
	"bytes"
	"fmt"
	"io"

	"rsc.io/qr"
)

// qrQuiet is the margin of light modules around the code, which scanners
// need to find it.
const qrQuiet = 2

// writeQR draws text as a QR code with half-block characters: one text line
// holds two rows of modules, so the code stays square and small. With
// colour, dark modules are black on a bright white background, which scans
// on light and dark terminals alike; without colour, the terminal's
// foreground draws the light modules, which suits the usual dark
// background.
func writeQR(w io.Writer, text string, color bool) error {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return fmt.Errorf("draw QR code: %w", err)
	}
	n := code.Size + 2*qrQuiet
	dark := func(x, y int) bool { return code.Black(x-qrQuiet, y-qrQuiet) }
	var buf bytes.Buffer
	for y := 0; y < n; y += 2 {
		if color {
			buf.WriteString("\x1b[30;107m")
		}
		for x := range n {
			top, bottom := dark(x, y), y+1 < n && dark(x, y+1)
			if !color {
				// Draw the light modules instead of the dark ones.
				top, bottom = !top, y+1 < n && !bottom
			}
			buf.WriteString(halfBlock(top, bottom))
		}
		if color {
			buf.WriteString("\x1b[0m")
		}
		buf.WriteByte('\n')
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// halfBlock returns the character with its upper and lower halves filled as
// asked.
func halfBlock(top, bottom bool) string {
	switch {
	case top && bottom:
		return "█"
	case top:
		return "▀"
	case bottom:
		return "▄"
	}
	return " "
}
