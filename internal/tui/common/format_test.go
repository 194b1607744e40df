package common

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/mapwright/mapwright/pkg/client"
)

func TestDuration(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{45 * time.Second, "45s"},
		{12 * time.Minute, "12m"},
		{3*time.Hour + 20*time.Minute, "3h20m"},
		{5 * time.Hour, "5h"},
		{5*24*time.Hour + 4*time.Hour, "5d4h"},
		{400 * 24 * time.Hour, "400d"},
		{-90 * time.Second, "1m"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			if got := Duration(tc.d); got != tc.want {
				t.Errorf("Duration(%v) = %q", tc.d, got)
			}
		})
	}
}

func TestRelative(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	cases := []struct {
		name        string
		t           *time.Time
		long, short string
	}{
		{"future", at(50 * time.Hour), "in 2d2h", "in 2d"},
		{"past", at(-90 * time.Minute), "1h30m ago", "1h ago"},
		{"now", at(300 * time.Millisecond), "now", "now"},
		{"none", nil, "-", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Relative(tc.t, now); got != tc.long {
				t.Errorf("Relative = %q, want %q", got, tc.long)
			}
			if got := ShortRelative(tc.t, now); got != tc.short {
				t.Errorf("ShortRelative = %q, want %q", got, tc.short)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{
			name: "connect: cause and hint only",
			err: fmt.Errorf("get status: %w", &client.ConnectError{
				Server: "unix:///x.sock", Err: fmt.Errorf("dial unix /x.sock: %w", syscall.ECONNREFUSED), Hint: "is mapwrightd running?",
			}),
			want: "cannot connect: connection refused (is mapwrightd running?)",
		},
		{
			name: "answer: status and detail",
			err:  fmt.Errorf("list keys: %w", &client.APIError{Status: 403, Problem: client.Problem{Title: "Forbidden", Detail: "the key lacks scope keys:read"}}),
			want: "Forbidden: the key lacks scope keys:read",
		},
		{
			name: "control characters neutralised",
			err:  errors.New("bad\x1b[2Jthing\nhere"),
			want: "bad [2Jthing here",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ErrorText(tc.err); got != tc.want {
				t.Errorf("ErrorText = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPadAndTruncate(t *testing.T) {
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"pad", Pad("ab", 4), "ab  "},
		{"cut", Pad("abcdef", 4), "abc…"},
		{"pad left", PadLeft("7", 3), "  7"},
		{"wide runes keep the width", Pad("日本語", 4), "日… "},
		{"rule", Rule("x", 8), "── x ───"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("%q, want %q", tc.got, tc.want)
			}
		})
	}
}
