// Package components holds the dashboard's widgets: a table that renders
// only its visible rows, sparklines, text fields and forms, and the boxes
// that show a new key once or ask a question.
package components

import (
	"math"
	"strings"
)

// sparkLevels are the bar heights of a sparkline, lowest first.
var sparkLevels = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws the last width values as one line of bars scaled to the
// largest of them. A zero value is the lowest bar, any value above zero at
// least the second, and NaN (no data) a space; with fewer values than
// width, the line is padded on the left so the newest value is always at
// the right edge.
func Sparkline(values []float64, width int) string {
	if width <= 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	peak := 0.0
	for _, v := range values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) && v > peak {
			peak = v
		}
	}
	var b strings.Builder
	b.Grow(width * 3)
	for range width - len(values) {
		b.WriteByte(' ')
	}
	top := len(sparkLevels) - 1
	for _, v := range values {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0) || v < 0:
			b.WriteByte(' ')
		case v == 0 || peak == 0:
			b.WriteRune(sparkLevels[0])
		default:
			lvl := int(math.Ceil(v / peak * float64(top)))
			b.WriteRune(sparkLevels[min(max(lvl, 1), top)])
		}
	}
	return b.String()
}
