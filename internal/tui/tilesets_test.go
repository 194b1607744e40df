package tui

import (
	"strings"
	"testing"

	"github.com/mapwright/mapwright/pkg/client"
)

// TestTilesetsPage lists tilesets with their format, zoom, status and
// error, and reloads them.
func TestTilesetsPage(t *testing.T) {
	open := keys("2 loaded · 1 failed", "4")
	cases := []struct {
		name  string
		steps []step
		// after changes the server's tilesets after the page opened.
		after  []client.Tileset
		want   []string
		reload bool
	}{
		{
			name:  "list",
			steps: []step{open},
			want:  []string{"osm", "pmtiles", "0-14", "countries", "0-6", "failed", "tiles/osm.pmtiles"},
		},
		{
			name:  "error of the selected tileset",
			steps: []step{open, keys("Error", "G")},
			want:  []string{"file is not a database", "cut short"},
		},
		{
			name:   "reload",
			after:  []client.Tileset{{Name: "osm", Path: "tiles/osm.pmtiles", Format: "pmtiles", MinZoom: 0, MaxZoom: 15, Status: "ok"}},
			steps:  []step{open, keys("Reloaded: 1 loaded, 0 failed.", "R")},
			want:   []string{"0-15", "1 loaded · 0 failed"},
			reload: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			seedTilesets(h.fake)
			h.start(80, 24)
			h.do(tc.steps[0])
			if tc.after != nil {
				h.fake.SetTilesets(tc.after...)
			}
			h.do(tc.steps[1:]...)
			view := h.golden(h.final())
			for _, w := range tc.want {
				if !strings.Contains(view, w) {
					t.Errorf("screen lacks %q", w)
				}
			}
			reloads := 0
			for _, r := range h.fake.Requests() {
				if r.Path == "/admin/v1/tilesets/reload" {
					reloads++
				}
			}
			if (reloads == 1) != tc.reload {
				t.Errorf("%d reloads", reloads)
			}
		})
	}
}
