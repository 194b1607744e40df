package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/tui/components"
	"github.com/mapwright/mapwright/internal/tui/pages"
	"github.com/mapwright/mapwright/pkg/client/clienttest"
)

// openKeys is the first step of every Keys test: show the page with the
// seeded keys.
var openKeys = keys("5 keys · sorted by name", "2")

// TestKeysPage checks the table, the filter, the sort and the detail.
func TestKeysPage(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
		want  []string
		not   []string
	}{
		{
			name:  "list",
			steps: []step{openKeys},
			want:  []string{"› ci-rotate", "revoked", "expired", "in 30d", "3h ago", "never", "── \"ci-rotate\" (key_0103)"},
		},
		{
			name: "filter by label",
			steps: []step{openKeys,
				keys("/ ", "/"),
				keys(`1 of 5 keys · filter "env=prod"`, "type:env=prod"),
				keys("↑/k up", "enter"),
			},
			want: []string{"› web", "https://maps.example.com"},
			not:  []string{"mobile", "trial"},
		},
		{
			name: "keys typed faster than read",
			steps: []step{openKeys,
				keys(`1 of 5 keys · filter "env=prod"`, "/env=prod"),
			},
			want: []string{"› web"},
		},
		{
			name: "pasted text is not commands",
			steps: []step{openKeys,
				{keys: []string{"paste:xc/"}},
			},
			want: []string{"5 keys · sorted by name", "↑/k up"},
		},
		{
			name: "filter cleared with esc",
			steps: []step{openKeys,
				keys("↑/k up", "/", "type:secret", "enter"),
				keys("5 keys · sorted", "esc"),
			},
			want: []string{"mobile", "trial", "ci-rotate"},
		},
		{
			name: "sort by expiry then reversed",
			steps: []step{openKeys,
				keys("sorted by expires ▲", "s", "s", "s", "s", "s", "s"),
				keys("sorted by expires ▼", "S"),
			},
			want: []string{"EXPIRE▼"},
		},
		{
			name: "detail of one key",
			steps: []step{openKeys,
				keys("Last used", "down", "down", "down", "down", "enter"),
			},
			want: []string{"key_0101", "env=prod", "https://maps.example.com", "2030-07-01 12:00:00Z (in 30d)", "unix:1000(alice)"},
		},
		{
			name: "revoked key reason in the pane",
			steps: []step{openKeys,
				keys("found in a public repository", "down"),
			},
			want: []string{"unix:1000(bob)"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			seedKeys(h.fake)
			h.start(80, 24)
			h.do(tc.steps...)
			view := h.golden(h.final())
			for _, w := range tc.want {
				if !strings.Contains(view, w) {
					t.Errorf("screen lacks %q", w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(view, w) {
					t.Errorf("screen shows %q", w)
				}
			}
		})
	}
}

// TestKeyCreate fills the create form; the new key is shown once in a box
// and is gone once the box is dismissed; it is never logged.
func TestKeyCreate(t *testing.T) {
	token := clienttest.TokenFor("public", 1)
	fill := []step{openKeys,
		keys("Create a key", "c"),
		keys("tiles-app", "type:tiles-app", "tab"),
		keys("(public)", "tab"),
		keys("tiles:read", "type:tiles:read", "tab"),
		keys("countries", "type:osm, countries", "tab"),
		keys("app.example.com", "type:https://app.example.com", "tab"),
		keys("90d", "type:90d"),
	}
	cases := []struct {
		name  string
		steps []step
		check func(t *testing.T, h *harness, m *Model, view string)
	}{
		{
			name:  "form",
			steps: fill,
			check: func(t *testing.T, h *harness, m *Model, view string) {
				if _, ok := h.fake.Key("key_0001"); ok {
					t.Error("a key was created before the form was submitted")
				}
			},
		},
		{
			name:  "key shown once",
			steps: append(fill, keys(components.NotShownAgain, "enter")),
			check: func(t *testing.T, h *harness, m *Model, view string) {
				if !strings.Contains(view, token) {
					t.Errorf("the box lacks the new key")
				}
				if m.Keys().State() != pages.KeysShowingSecret {
					t.Errorf("state %v", m.Keys().State())
				}
				k, ok := h.fake.Key("key_0001")
				if !ok {
					t.Fatal("no key created on the server")
				}
				if k.Name != "tiles-app" || strings.Join(k.Tilesets, " ") != "osm countries" ||
					strings.Join(k.Origins, " ") != "https://app.example.com" || k.ExpiresAt == nil ||
					!k.ExpiresAt.Equal(testNow.Add(90*day)) {
					t.Errorf("created %+v", k)
				}
			},
		},
		{
			name: "dismissed",
			steps: append(fill, keys(components.NotShownAgain, "enter"),
				keys("NAME▲", "enter")),
			check: func(t *testing.T, h *harness, m *Model, view string) {
				if strings.Contains(view, token) {
					t.Error("the key is still on screen")
				}
				if m.Keys().State() != pages.KeysBrowsing {
					t.Errorf("state %v", m.Keys().State())
				}
				if k, _ := m.Keys().Selected(); k.ID != "key_0001" {
					t.Errorf("selected %s, want the new key", k.ID)
				}
			},
		},
		{
			name: "secret key with default scopes",
			steps: []step{openKeys,
				keys("Create a key", "c"),
				keys("deploy", "type:deploy", "tab"),
				keys("(secret)", "space"),
				keys(components.NotShownAgain, "ctrl+s"),
			},
			check: func(t *testing.T, h *harness, m *Model, view string) {
				if !strings.Contains(view, clienttest.TokenFor("secret", 1)) {
					t.Error("the box lacks the new secret key")
				}
				if k, _ := h.fake.Key("key_0001"); k.Kind != "secret" || strings.Join(k.Scopes, " ") != "admin" {
					t.Errorf("created %+v", k)
				}
			},
		},
		{
			name: "refused by the server",
			steps: []step{openKeys,
				keys("Create a key", "c"),
				keys("web", "type:web"),
				keys(`a key named "web" exists`, "ctrl+s"),
			},
			check: func(t *testing.T, h *harness, m *Model, view string) {
				if m.Keys().State() != pages.KeysCreating {
					t.Errorf("state %v, want the form still open", m.Keys().State())
				}
			},
		},
		{
			name: "bad expiry",
			steps: []step{openKeys,
				keys("Create a key", "c"),
				keys("later", "type:later", "tab", "tab", "tab", "tab", "tab", "type:yesterday"),
				keys(`expiry "yesterday"`, "ctrl+s"),
			},
			check: func(t *testing.T, h *harness, m *Model, view string) {
				if _, ok := h.fake.Key("key_0001"); ok {
					t.Error("a key was created")
				}
			},
		},
		{
			name: "cancelled",
			steps: append(fill[:3:3],
				keys("NAME▲", "esc")),
			check: func(t *testing.T, h *harness, m *Model, view string) {
				if _, ok := h.fake.Key("key_0001"); ok {
					t.Error("a key was created")
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			seedKeys(h.fake)
			h.start(80, 24)
			h.do(tc.steps...)
			m := h.final()
			view := h.golden(m)
			tc.check(t, h, m, view)
			for _, secret := range []string{clienttest.TokenFor("public", 1), clienttest.TokenFor("secret", 1)} {
				if strings.Contains(h.logs.String(), secret) || strings.Contains(h.logs.String(), secret[:20]) {
					t.Errorf("the logs contain the new key:\n%s", h.logs)
				}
			}
		})
	}
}

// TestKeyRevoke: x asks the reason, then confirmation; only y revokes.
func TestKeyRevoke(t *testing.T) {
	// The cursor starts on ci-rotate (sorted by name); web is the last.
	toWeb := keys(`── "web" (key_0101)`, "G")
	cases := []struct {
		name    string
		steps   []step
		revoked bool
		want    string
	}{
		{
			name:  "reason asked",
			steps: []step{openKeys, toWeb, keys(`Reason for revoking "web"`, "x"), keys("shared in a chat", "type:shared in a chat")},
			want:  "Reason for revoking",
		},
		{
			name: "confirmation asked",
			steps: []step{openKeys, toWeb, keys("Reason for revoking", "x"),
				keys("[y/N]", "type:shared in a chat", "enter")},
			want: `Revoke public key "web" (mpw_pk_Web1)? It stops working at once. [y/N]`,
		},
		{
			name: "revoked",
			steps: []step{openKeys, toWeb, keys("Reason for revoking", "x"),
				keys("[y/N]", "type:shared in a chat", "enter"),
				keys(`Revoked key "web" (key_0101).`, "y")},
			revoked: true,
			want:    "revoked",
		},
		{
			name: "declined",
			steps: []step{openKeys, toWeb, keys("Reason for revoking", "x"),
				keys("[y/N]", "type:shared in a chat", "enter"),
				keys("Revocation cancelled; nothing changed.", "n")},
			want: "Revocation cancelled",
		},
		{
			name: "other keys do not confirm",
			steps: []step{openKeys, toWeb, keys("Reason for revoking", "x"),
				keys("[y/N]", "enter"),
				keys("", "enter", "q", "2"),
			},
			want: "[y/N]",
		},
		{
			name:  "already revoked",
			steps: []step{openKeys, keys(`Key "leaked" (key_0104) is already revoked.`, "down", "x")},
			want:  "already revoked",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			seedKeys(h.fake)
			h.start(80, 24)
			h.do(tc.steps...)
			m := h.final()
			view := h.golden(m)
			if !strings.Contains(view, tc.want) {
				t.Errorf("screen lacks %q", tc.want)
			}
			k, _ := h.fake.Key("key_0101")
			if got := k.RevokedAt != nil; got != tc.revoked {
				t.Fatalf("revoked on the server: %v, want %v", got, tc.revoked)
			}
			if tc.revoked && k.RevokeReason != "shared in a chat" {
				t.Errorf("reason %q", k.RevokeReason)
			}
		})
	}
}

// TestKeyRotate: r asks the grace period (24h unless changed), then shows
// the new key once.
func TestKeyRotate(t *testing.T) {
	toWeb := keys(`── "web" (key_0101)`, "G")
	cases := []struct {
		name  string
		steps []step
		grace time.Duration
	}{
		{
			name:  "grace asked",
			steps: []step{openKeys, toWeb, keys("grace period for the old key", "r")},
		},
		{
			name:  "default grace",
			steps: []step{openKeys, toWeb, keys("grace period", "r"), keys(components.NotShownAgain, "enter")},
			grace: 24 * time.Hour,
		},
		{
			name: "two hours",
			steps: []step{openKeys, toWeb, keys("grace period", "r"),
				keys(components.NotShownAgain, "backspace", "backspace", "backspace", "type:2h", "enter")},
			grace: 2 * time.Hour,
		},
		{
			name:  "revoked key refused",
			steps: []step{openKeys, keys("is revoked and cannot be rotated", "down", "r")},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			seedKeys(h.fake)
			h.start(80, 24)
			h.do(tc.steps...)
			m := h.final()
			view := h.golden(m)
			old, _ := h.fake.Key("key_0101")
			if tc.grace == 0 {
				if old.ReplacedBy != "" {
					t.Fatalf("rotated to %s", old.ReplacedBy)
				}
				return
			}
			if old.ReplacedBy != "key_0001" || old.ExpiresAt == nil || !old.ExpiresAt.Equal(testNow.Add(tc.grace)) {
				t.Errorf("old key after rotation: replaced by %q, expires %v", old.ReplacedBy, old.ExpiresAt)
			}
			if !strings.Contains(view, clienttest.TokenFor("public", 1)) {
				t.Error("the box lacks the new key")
			}
		})
	}
}
