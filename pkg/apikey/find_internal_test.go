package apikey

import (
	"bytes"
	"strings"
	"testing"
)

func TestIndexNeedle(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{name: "empty", in: ""},
		{name: "needle alone", in: "mpw_"},
		{name: "too short", in: "mpw"},
		{name: "underscore first", in: "_mpw_"},
		{name: "needle after prose", in: "the map was drawn with mpw_ keys"},
		{name: "no needle", in: strings.Repeat("max_zoom min_zoom ", 50)},
		{name: "dense underscores then needle", in: strings.Repeat("_", 5000) + "mpw_"},
		{name: "dense underscores, needle inside", in: strings.Repeat("a_", 300) + "mpw_" + strings.Repeat("_b", 300)},
		{name: "dense underscores without needle", in: strings.Repeat("pw_", 3000)},
		{name: "needle right after the hand-over", in: "_____" + "mpw_"},
		{name: "near misses", in: "mpx_ mqw_ npw_ mpw mpww_ " + strings.Repeat("m_p_w_", 40) + "mpw_"},
		{name: "dense m", in: strings.Repeat("m", 4000) + "mpw_"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.in)
			// Every suffix exercises a different hand-over point.
			for i := 0; i <= len(b); i++ {
				if got, want := indexNeedle(b[i:]), bytes.Index(b[i:], needle); got != want {
					t.Fatalf("indexNeedle(in[%d:]) = %d, want %d", i, got, want)
				}
			}
		})
	}
}
