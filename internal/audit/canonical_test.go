package audit

import (
	"bytes"
	"encoding/hex"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

func baseEvent() store.AuditEvent {
	return store.AuditEvent{
		Seq:      7,
		Time:     time.UnixMicro(1_700_000_000_123_456).UTC(),
		Actor:    "unix:1000(alice)",
		Action:   ActionKeyRevoke,
		Target:   "key_01HZX",
		Outcome:  OutcomeSuccess,
		Details:  map[string]string{"reason": "left", "b": "2"},
		ClientIP: "203.0.113.0",
	}
}

// TestCanonicalGolden pins the published byte layout: a change here breaks
// every third-party verifier and every existing chain.
func TestCanonicalGolden(t *testing.T) {
	ev := store.AuditEvent{
		Seq:      1,
		Time:     time.UnixMicro(2),
		Actor:    "a",
		Action:   "x.y",
		Target:   "",
		Outcome:  "success",
		Details:  map[string]string{"k2": "", "k1": "v"},
		ClientIP: "::",
	}
	want := strings.Join([]string{
		hex.EncodeToString([]byte("mwaudit1")),
		"0000000000000001",                                      // seq
		"0000000000000002",                                      // time in microseconds
		"0000000000000001" + "61",                               // actor "a"
		"0000000000000003" + "782e79",                           // action "x.y"
		"0000000000000000",                                      // target ""
		"0000000000000007" + "73756363657373",                   // outcome "success"
		"0000000000000002",                                      // two details
		"0000000000000002" + "6b31" + "0000000000000001" + "76", // k1=v
		"0000000000000002" + "6b32" + "0000000000000000",        // k2=
		"0000000000000002" + "3a3a",                             // client_ip "::"
	}, "")
	if got := hex.EncodeToString(Canonical(ev)); got != want {
		t.Fatalf("canonical encoding changed\n got %s\nwant %s", got, want)
	}
}

func TestCanonicalDistinguishesEveryField(t *testing.T) {
	base := baseEvent()
	cases := []struct {
		name   string
		mutate func(*store.AuditEvent)
	}{
		{"seq", func(e *store.AuditEvent) { e.Seq++ }},
		{"time by one microsecond", func(e *store.AuditEvent) { e.Time = e.Time.Add(time.Microsecond) }},
		{"actor", func(e *store.AuditEvent) { e.Actor = "unix:0(root)" }},
		{"action", func(e *store.AuditEvent) { e.Action = ActionKeyCreate }},
		{"target", func(e *store.AuditEvent) { e.Target = "key_01HZY" }},
		{"outcome", func(e *store.AuditEvent) { e.Outcome = OutcomeFailure }},
		{"client ip", func(e *store.AuditEvent) { e.ClientIP = "" }},
		{"detail value", func(e *store.AuditEvent) { e.Details = map[string]string{"reason": "left!", "b": "2"} }},
		{"detail key", func(e *store.AuditEvent) { e.Details = map[string]string{"reason2": "left", "b": "2"} }},
		{"detail removed", func(e *store.AuditEvent) { e.Details = map[string]string{"reason": "left"} }},
		{"text moved between actor and action", func(e *store.AuditEvent) {
			e.Actor, e.Action = e.Actor+"k", strings.TrimPrefix(e.Action, "k")
		}},
		{"text moved between detail key and value", func(e *store.AuditEvent) {
			e.Details = map[string]string{"reasonl": "eft", "b": "2"}
		}},
		{"text moved from target to client ip", func(e *store.AuditEvent) {
			e.Target, e.ClientIP = "", e.Target+e.ClientIP
		}},
	}
	enc := Canonical(base)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := base
			ev.Details = maps.Clone(base.Details)
			tc.mutate(&ev)
			if bytes.Equal(Canonical(ev), enc) {
				t.Fatalf("events differing in %s encode equally", tc.name)
			}
		})
	}
}

func TestCanonicalIgnoresMapOrderAndHashes(t *testing.T) {
	a := baseEvent()
	b := baseEvent()
	b.Details = map[string]string{}
	b.Details["b"] = "2"
	b.Details["reason"] = "left"
	b.PrevHash = bytes.Repeat([]byte{1}, 32)
	b.Hash = bytes.Repeat([]byte{2}, 32)
	b.Time = a.Time.In(time.FixedZone("elsewhere", 3600))
	if !bytes.Equal(Canonical(a), Canonical(b)) {
		t.Fatal("the same event encodes differently with other map order, hashes or time zone")
	}
	empty, absent := baseEvent(), baseEvent()
	empty.Details, absent.Details = map[string]string{}, nil
	if !bytes.Equal(Canonical(empty), Canonical(absent)) {
		t.Fatal("empty and absent details encode differently; a store may return either")
	}
}

func TestAppendCanonicalExtends(t *testing.T) {
	ev := baseEvent()
	prefix := []byte("prefix")
	got := AppendCanonical(prefix, ev)
	if !bytes.Equal(got, append([]byte("prefix"), Canonical(ev)...)) {
		t.Fatal("AppendCanonical does not append the canonical encoding")
	}
}

func fuzzEvent(seq, micros int64, actor, action, target, outcome, k1, v1, k2, v2, ip string) store.AuditEvent {
	ev := store.AuditEvent{
		Seq: seq, Time: time.UnixMicro(micros), Actor: actor, Action: action,
		Target: target, Outcome: outcome, ClientIP: ip, Details: map[string]string{},
	}
	if k1 != "" || v1 != "" {
		ev.Details[k1] = v1
	}
	if k2 != "" || v2 != "" {
		ev.Details[k2] = v2
	}
	return ev
}

func sameEvent(a, b store.AuditEvent) bool {
	return a.Seq == b.Seq && a.Time.UnixMicro() == b.Time.UnixMicro() && a.Actor == b.Actor &&
		a.Action == b.Action && a.Target == b.Target && a.Outcome == b.Outcome &&
		a.ClientIP == b.ClientIP && maps.Equal(a.Details, b.Details)
}

// FuzzCanonical checks that the encoding never panics and is injective:
// two events encode equally exactly when every covered field is equal.
func FuzzCanonical(f *testing.F) {
	f.Add(int64(1), int64(0), "system", "server.start", "", "success", "", "", "", "", "",
		int64(1), int64(0), "system", "server.start", "", "success", "", "", "", "", "")
	f.Add(int64(2), int64(5), "ab", "c", "", "success", "k", "v", "", "", "10.0.0.0",
		int64(2), int64(5), "a", "bc", "", "success", "k", "v", "", "", "10.0.0.0")
	f.Add(int64(3), int64(-1), "x", "y", "t", "failure", "k", "", "", "v", "",
		int64(3), int64(-1), "x", "y", "t", "failure", "k", "v", "", "", "")
	f.Add(int64(-9), int64(1<<40), "\x00", "\xff", "\x00\x00", "", "a", "b", "a", "c", "::",
		int64(-9), int64(1<<40), "\x00", "\xff", "\x00\x00", "", "a", "c", "", "", "::")
	f.Fuzz(func(t *testing.T,
		seqA, microsA int64, actorA, actionA, targetA, outcomeA, k1A, v1A, k2A, v2A, ipA string,
		seqB, microsB int64, actorB, actionB, targetB, outcomeB, k1B, v1B, k2B, v2B, ipB string,
	) {
		a := fuzzEvent(seqA, microsA, actorA, actionA, targetA, outcomeA, k1A, v1A, k2A, v2A, ipA)
		b := fuzzEvent(seqB, microsB, actorB, actionB, targetB, outcomeB, k1B, v1B, k2B, v2B, ipB)
		encA, encB := Canonical(a), Canonical(b)
		if len(encA) != canonicalSize(&a) {
			t.Fatalf("size estimate %d, encoding %d bytes", canonicalSize(&a), len(encA))
		}
		if equal := bytes.Equal(encA, encB); equal != sameEvent(a, b) {
			t.Fatalf("encodings equal=%v but events equal=%v\na=%+v\nb=%+v", equal, !equal, a, b)
		}
	})
}
