package tui

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/tui/pages"
	"github.com/mapwright/mapwright/pkg/client"
)

var openAudit = keys("5 events · action any · actor any", "3")

// TestAuditPage checks the list, the live stream, the filters, the detail
// of one event and the verification of the chain.
func TestAuditPage(t *testing.T) {
	cases := []struct {
		name   string
		verify client.AuditVerifyResult
		// between runs after the page is open, before the other steps.
		between func(h *harness)
		steps   func(h *harness) []step
		want    []string
		not     []string
		check   func(t *testing.T, h *harness, m *Model)
	}{
		{
			name:  "newest first",
			steps: func(*harness) []step { return []step{openAudit} },
			want:  []string{"›      5", "key.revoke", "reason=found in a public repository", "live"},
			check: func(t *testing.T, h *harness, m *Model) {
				// The stream starts after the newest event listed.
				h.api.audit.mu.Lock()
				defer h.api.audit.mu.Unlock()
				if len(h.api.audit.follows) != 1 || h.api.audit.follows[0] != 5 {
					t.Errorf("streams opened from %v, want [5]", h.api.audit.follows)
				}
			},
		},
		{
			name: "live event arrives",
			between: func(h *harness) {
				h.api.audit.Append("system", "tileset.reload", "", "success", map[string]string{"loaded": "3", "failed": "0"})
			},
			steps: func(h *harness) []step {
				return []step{openAudit, {wait: "6 events"}}
			},
			want: []string{"tileset.reload", "loaded=3"},
		},
		{
			name: "filter by action prefix",
			steps: func(*harness) []step {
				return []step{openAudit,
					keys("Action prefix", "a"),
					keys("3 events · action key.*", "ctrl+u", "type:key.", "enter"),
				}
			},
			want: []string{"key.create", "key.rotate", "key.revoke"},
			not:  []string{"server.start", "auth.failure"},
		},
		{
			name: "filter by actor from the selected event",
			steps: func(*harness) []step {
				return []step{openAudit,
					keys("Actor (exact", "u"),
					keys("1 event · action any · actor unix:1000(bob)", "enter"),
				}
			},
			want: []string{"key.revoke"},
			not:  []string{"key.create"},
		},
		{
			name: "filters cleared",
			steps: func(*harness) []step {
				return []step{openAudit,
					keys("Action prefix", "a"),
					keys("1 event · action auth.*", "ctrl+u", "type:auth.", "enter"),
					keys("5 events · action any", "esc"),
				}
			},
			want: []string{"server.start", "key.revoke"},
		},
		{
			name: "detail of one event",
			steps: func(*harness) []step {
				return []step{openAudit, keys("Event #4", "down", "enter")}
			},
			want: []string{"auth.failure", "count", "17", "Prev hash", "failure"},
		},
		{
			name:   "chain verifies",
			verify: client.AuditVerifyResult{OK: true, Checked: 5, Start: 1, Anchor: "genesis", Head: client.AuditHead{Seq: 5, Hash: strings.Repeat("5", 64)}},
			steps: func(*harness) []step {
				return []step{openAudit, keys("The audit chain verifies", "v")}
			},
			want: []string{"5 events checked, from #1 (anchored to genesis) to the head #5."},
		},
		{
			name:   "chain broken",
			verify: client.AuditVerifyResult{OK: false, Checked: 2, Start: 1, Anchor: "genesis", FirstBad: 3, Reason: "event 3: the hash does not match its content"},
			steps: func(*harness) []step {
				return []step{openAudit, keys("BROKEN", "v")}
			},
			want: []string{"BROKEN at event #3", "the hash does not match its content", "2 events verified before it"},
			check: func(t *testing.T, h *harness, m *Model) {
				if m.Audit().State() != pages.AuditVerified {
					t.Errorf("state %v", m.Audit().State())
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			seedAudit(h.api.audit)
			h.api.audit.verify = tc.verify
			h.start(80, 24)
			steps := tc.steps(h)
			h.do(steps[0])
			if tc.between != nil {
				tc.between(h)
			}
			h.do(steps[1:]...)
			m := h.final()
			view := h.golden(m)
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
			if tc.check != nil {
				tc.check(t, h, m)
			}
		})
	}
}

// TestAuditShowsRevoke: a key revoked on the Keys page appears on the
// Audit page through the stream, without a reload.
func TestAuditShowsRevoke(t *testing.T) {
	h := newHarness(t)
	seedKeys(h.fake)
	seedAudit(h.api.audit)
	h.start(80, 24)
	h.do(openKeys,
		keys(`── "web" (key_0101)`, "G"),
		keys("[y/N]", "x", "type:rotated out", "enter"),
		keys(`Revoked key "web"`, "y"),
		keys("6 events", "3"),
	)
	m := h.final()
	view := h.golden(m)
	if !strings.Contains(view, "key.revoke         key_0101") || !strings.Contains(view, "reason=rotated out") {
		t.Errorf("the revocation is not on the Audit page:\n%s", view)
	}
	if n := len(m.Audit().Events()); n != 6 {
		t.Errorf("%d events held, want 6 (each once)", n)
	}
}

// TestAuditStreamLost: a lost stream shows in the header until the retry
// is due and the server answers again.
func TestAuditStreamLost(t *testing.T) {
	h := newHarness(t)
	seedAudit(h.api.audit)
	h.start(80, 24)
	h.do(openAudit)
	h.api.audit.Drop(errors.New("connection reset by peer"), 4*time.Second)
	h.waitFor("stream lost, reconnecting at 12:00:04: connection reset by peer")
	lost := h.view()
	h.clock.Advance(6 * time.Second)
	h.send(PollMsg{})
	h.waitTicks(2)
	h.do(step{wait: "Audit live · 5 events"})
	m := h.final()
	h.golden(m)
	if !strings.Contains(lost, "Audit stream lost") {
		t.Errorf("header while lost:\n%s", lost)
	}
}
