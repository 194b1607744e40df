package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/internal/tiles/pmtiles"
)

const square = `{"type":"Topology","arcs":[[[-10,-10],[10,-10],[10,10],[-10,10],[-10,-10]]],
"objects":{"countries":{"type":"GeometryCollection","geometries":[{"type":"Polygon","properties":{"name":"Square"},"arcs":[[0]]}]}}}`

func TestRun(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "square.json")
	if err := os.WriteFile(src, []byte(square), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "square.pmtiles")
	tests := []struct {
		name    string
		args    []string
		code    int
		stdout  string
		stderr  string
		written bool
	}{
		{"no flags", nil, 2, "", "usage: gen", false},
		{"unknown flag", []string{"-bogus"}, 2, "", "flag provided but not defined", false},
		{"missing source", []string{"-src", filepath.Join(dir, "nope.json"), "-out", out}, 1, "", "read source", false},
		{"bad zoom range", []string{"-src", src, "-out", out, "-maxzoom", "20"}, 1, "", "invalid build options", false},
		{"builds", []string{"-src", src, "-out", out, "-maxzoom", "2"}, 0, "z2: 4 tiles", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stdout %q, stderr %q; want them to contain %q and %q", stdout.String(), stderr.String(), tt.stdout, tt.stderr)
			}
			st, err := os.Stat(out)
			if (err == nil) != tt.written {
				t.Fatalf("output exists: %v, want %v", err == nil, tt.written)
			}
			if !tt.written {
				return
			}
			if st.Mode().Perm() != 0o644 {
				t.Errorf("output mode %v, want 0644", st.Mode().Perm())
			}
			r, err := pmtiles.Open(out)
			if err != nil {
				t.Fatalf("open output: %v", err)
			}
			defer r.Close()
			if md := r.Metadata(); md.Name != "countries" || md.MaxZoom != 2 {
				t.Errorf("metadata name %q maxzoom %d", md.Name, md.MaxZoom)
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".gen-*"))
			if len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}
