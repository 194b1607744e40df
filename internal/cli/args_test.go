package cli

import (
	"strings"
	"testing"
	"time"
)

func TestDurationValue(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		str  string
		bad  bool
	}{
		{in: "24h", want: 24 * time.Hour, str: "24h"},
		{in: "7d", want: 7 * 24 * time.Hour, str: "7d"},
		{in: "1d", want: 24 * time.Hour, str: "24h"},
		{in: "90m", want: 90 * time.Minute, str: "1h30m"},
		{in: "45s", want: 45 * time.Second, str: "45s"},
		{in: "0", want: 0, str: "0"},
		{in: "-1h", bad: true},
		{in: "-2d", bad: true},
		{in: "soon", bad: true},
		{in: "1.5d", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d time.Duration
			v := durationValue{&d}
			err := v.Set(tt.in)
			if tt.bad {
				if err == nil {
					t.Errorf("%q accepted as %v", tt.in, d)
				}
				return
			}
			if err != nil || d != tt.want || v.String() != tt.str {
				t.Errorf("got %v (%q), %v; want %v (%q)", d, v.String(), err, tt.want, tt.str)
			}
		})
	}
}

func TestParseWhen(t *testing.T) {
	tests := []struct {
		in   string
		want string
		bad  string
	}{
		{in: "", want: ""},
		{in: "720h", want: "2030-07-01T12:00:00Z"},
		{in: "30d", want: "2030-07-01T12:00:00Z"},
		{in: "2031-01-02T03:04:05+02:00", want: "2031-01-02T01:04:05Z"},
		{in: "2031-01-02", want: "2031-01-02T00:00:00Z"},
		{in: "0s", bad: "positive duration"},
		{in: "2020-01-01", bad: "in the past"},
		{in: "next week", bad: "want a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseWhen("expires", tt.in, testNow)
			if tt.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tt.bad) {
					t.Errorf("err = %v, want one mentioning %q", err, tt.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := ""
			if got != nil {
				s = got.Format(time.RFC3339)
			}
			if s != tt.want {
				t.Errorf("got %q, want %q", s, tt.want)
			}
		})
	}
}

func TestParseLabels(t *testing.T) {
	m, err := parseLabels("label", []string{"team=maps", "note=a=b", "empty="})
	if err != nil || m["team"] != "maps" || m["note"] != "a=b" || m["empty"] != "" || len(m) != 3 {
		t.Errorf("got %v, %v", m, err)
	}
	for _, bad := range [][]string{{"novalue"}, {"=x"}, {"a=1", "a=2"}} {
		if _, err := parseLabels("label", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
