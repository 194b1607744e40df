package pages

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/mapwright/mapwright/internal/tui/common"
	"github.com/mapwright/mapwright/internal/tui/keymap"
	"github.com/mapwright/mapwright/internal/tui/styles"
	"github.com/mapwright/mapwright/pkg/client"
)

var now = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func TestParseWhen(t *testing.T) {
	cases := []struct {
		in      string
		want    *time.Time
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "90d", want: ptr(now.Add(90 * 24 * time.Hour))},
		{in: "36h", want: ptr(now.Add(36 * time.Hour))},
		{in: "2031-01-31", want: ptr(time.Date(2031, 1, 31, 0, 0, 0, 0, time.UTC))},
		{in: "2031-01-31T10:00:00+02:00", want: ptr(time.Date(2031, 1, 31, 8, 0, 0, 0, time.UTC))},
		{in: "2020-01-01", wantErr: true},
		{in: "0s", wantErr: true},
		{in: "-5d", wantErr: true},
		{in: "soon", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseWhen(tc.in, now)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if tc.wantErr {
				return
			}
			if (got == nil) != (tc.want == nil) || (got != nil && !got.Equal(*tc.want)) {
				t.Errorf("ParseWhen(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func ptr(t time.Time) *time.Time { return &t }

// TestSecretRedacted: a key on its way to the screen prints, formats and
// logs only as its redacted start.
func TestSecretRedacted(t *testing.T) {
	tok := "mpw_pk_" + strings.Repeat("Z", 36)
	s := Secret(tok)
	msg := KeyCreatedMsg{Key: client.Key{ID: "key_1"}, Token: s}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("created", "key", s, "msg", msg)
	outputs := map[string]string{
		"%v":  fmt.Sprintf("%v", msg),
		"%+v": fmt.Sprintf("%+v", msg),
		"%#v": fmt.Sprintf("%#v", msg),
		//lint:ignore S1025 the test checks what fmt's %s verb prints, not String.
		"%s":   fmt.Sprintf("%s", s),
		"%q":   fmt.Sprintf("%q", s),
		"slog": logs.String(),
	}
	for verb, out := range outputs {
		if strings.Contains(out, tok) {
			t.Errorf("%s shows the key: %s", verb, out)
		}
	}
	if !strings.Contains(outputs["%s"], "mpw_pk_ZZZZ…") {
		t.Errorf("%%s = %q, want the redacted start", outputs["%s"])
	}
	if s.Reveal() != tok {
		t.Error("Reveal does not give the key")
	}
}

// benchKeys returns n keys of assorted kinds, states and dates.
func benchKeys(n int) []client.Key {
	keys := make([]client.Key, n)
	states := []string{"active", "active", "active", "pending", "expired", "revoked"}
	for i := range keys {
		exp := now.Add(time.Duration(i%400) * 24 * time.Hour)
		used := now.Add(-time.Duration(i%1000) * time.Minute)
		keys[i] = client.Key{
			ID: fmt.Sprintf("key_%06d", i), Name: fmt.Sprintf("customer-%05d-maps", i), Kind: []string{"public", "secret"}[i%5/4],
			Start: fmt.Sprintf("mpw_pk_%04d", i%10000), State: states[i%len(states)],
			Scopes: []string{"tiles:read"}, Tilesets: []string{"osm", "terrain"}[:1+i%2], Origins: []string{"https://a.example.com"},
			Labels: map[string]string{"team": fmt.Sprintf("t%d", i%17)}, CreatedAt: now.Add(-time.Duration(i) * time.Hour),
			ExpiresAt: &exp, LastUsedAt: &used,
		}
	}
	return keys
}

func benchPage(b *testing.B, n int) *Keys {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.TrueColor)
	r.SetHasDarkBackground(true)
	c := common.Common{Styles: styles.New(r), KeyMap: keymap.Default(), Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}
	p := NewKeys(c)
	p.SetSize(80, 21)
	p.Update(KeysLoadedMsg{At: now, Keys: benchKeys(n)})
	if p.Shown() != n {
		b.Fatalf("%d keys shown", p.Shown())
	}
	return p
}

// BenchmarkKeysView renders one frame of the Keys page holding 10,000 keys
// (colour on, 80×24), paging through the list between frames: the cost
// of a frame must not grow with the number of keys.
func BenchmarkKeysView(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			p := benchPage(b, n)
			down := tea.KeyMsg{Type: tea.KeyPgDown}
			home := tea.KeyMsg{Type: tea.KeyHome}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if p.table.Cursor() >= n-1 {
					p.Update(home)
				} else if i > 0 {
					p.Update(down)
				}
				if len(p.View()) == 0 {
					b.Fatal("empty frame")
				}
			}
		})
	}
}

// BenchmarkKeysFilter types one character of a filter over 10,000 keys:
// the list is filtered and sorted again, and a frame drawn.
func BenchmarkKeysFilter(b *testing.B) {
	p := benchPage(b, 10000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p.setFilter([]string{"t3", "customer-0", "terrain", ""}[i%4])
		_ = p.View()
	}
}
