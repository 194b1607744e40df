package iostreams

import (
	"context"
	"errors"
	"io"
	"testing"
)

func TestColorAllowed(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"nothing set", nil, true},
		{"NO_COLOR=1", map[string]string{"NO_COLOR": "1"}, false},
		{"NO_COLOR empty is ignored", map[string]string{"NO_COLOR": ""}, true},
		{"TERM=dumb", map[string]string{"TERM": "dumb"}, false},
		{"TERM=xterm", map[string]string{"TERM": "xterm-256color"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ColorAllowed(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if got != tt.want {
				t.Errorf("ColorAllowed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConfirm(t *testing.T) {
	tests := []struct {
		in      string
		want    bool
		wantErr error
	}{
		{"y\n", true, nil},
		{"Yes\r\n", true, nil},
		{"  y  \n", true, nil},
		{"n\n", false, nil},
		{"yep\n", false, nil},
		{"\n", false, nil},
		{"y", true, nil},
		{"", false, ErrNoAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, in, _, errOut := Test()
			in.WriteString(tt.in)
			got, err := s.Confirm(context.Background(), "Revoke?")
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("Confirm = %v, %v; want %v, %v", got, err, tt.want, tt.wantErr)
			}
			if errOut.String()[:14] != "Revoke? [y/N] " {
				t.Errorf("prompt = %q", errOut)
			}
		})
	}
}

func TestConfirmInterrupted(t *testing.T) {
	s, _, _, _ := Test()
	r, w := io.Pipe()
	defer w.Close()
	s.In = r
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Confirm(ctx, "Revoke?"); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestReadLineKeepsTheRest(t *testing.T) {
	s, in, _, _ := Test()
	in.WriteString("first\nsecond\n")
	a, _ := s.ReadLine()
	b, _ := s.ReadLine()
	if a != "first" || b != "second" {
		t.Errorf("lines %q, %q", a, b)
	}
}

func TestColorScheme(t *testing.T) {
	on, off := ColorScheme{Enabled: true}, ColorScheme{}
	if on.Red("x") != "\x1b[31mx\x1b[0m" || off.Red("x") != "x" || on.Bold("") != "" {
		t.Errorf("colours: %q %q", on.Red("x"), off.Red("x"))
	}
	s, _, _, _ := Test()
	if s.CanPrompt() || s.ColorScheme().Enabled {
		t.Error("test streams claim a terminal")
	}
}
