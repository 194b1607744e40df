package admin

import (
	"net/url"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// FuzzParseKeyFilter feeds arbitrary query strings to the key list parser:
// it must never panic, and what it accepts must be a filter the store can
// run.
func FuzzParseKeyFilter(f *testing.F) {
	for _, s := range []string{
		"", "kind=public", "state=expiring&expiring_within=48h", "label=team%3Dmaps&label=env%3Dprod",
		"cursor=key_01JQ0000000000000000000000&limit=5", "limit=-1", "state=%00", "label==", "kind=public&kind=public",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fl, err := parseKeyFilter(q)
		if err != nil {
			return
		}
		if fl.Limit < 0 || fl.Limit > 1000 || fl.ExpiringWithin < 0 {
			t.Fatalf("accepted %q as %+v", raw, fl)
		}
		switch fl.Kind {
		case "", "public", "secret":
		default:
			t.Fatalf("accepted kind %q", fl.Kind)
		}
	})
}

// FuzzScrubKeys checks that no valid key survives scrubbing, whatever
// surrounds it, and that text without "mpw_" is left alone.
func FuzzScrubKeys(f *testing.F) {
	tok, err := apikey.Generate(apikey.Secret)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("prefix ", " suffix")
	f.Add("", "")
	f.Add("mpw_", "_x")
	f.Add("\"", "mpw_pk_")
	f.Fuzz(func(t *testing.T, before, after string) {
		out := scrubKeys(before + tok + after)
		if strings.Contains(out, tok[apikey.StartLen:]) {
			t.Fatalf("scrubKeys(%q + key + %q) = %q keeps the key's secret part", before, after, out)
		}
		if !strings.Contains(before, "mpw_") && scrubKeys(before) != before {
			t.Fatalf("scrubKeys changed %q", before)
		}
	})
}

// FuzzParseAuditFilter feeds arbitrary query strings to the audit list
// parser: it must never panic, and what it accepts must be a filter the
// store runs without ErrInvalid.
func FuzzParseAuditFilter(f *testing.F) {
	for _, s := range []string{
		"", "action=key.&order=desc&limit=5", "since=2025-06-01T00:00:00Z&until=2025-06-02T00:00:00.5%2B02:00",
		"cursor=9223372036854775807", "cursor=-3", "outcome=failure&actor=unix%3A1000", "limit=1001", "since=%00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fl, err := parseAuditFilter(q, auditListParams)
		if err != nil {
			return
		}
		if fl.Limit < 0 || fl.Limit > 1000 || fl.AfterSeq < 0 ||
			(!fl.Since.IsZero() && !fl.Until.IsZero() && fl.Until.Before(fl.Since)) ||
			len(fl.Actor) > maxFilterLen || len(fl.ActionPrefix) > maxFilterLen || len(fl.Target) > maxFilterLen {
			t.Fatalf("accepted %q as %+v", raw, fl)
		}
		switch fl.Outcome {
		case "", "success", "failure":
		default:
			t.Fatalf("accepted outcome %q", fl.Outcome)
		}
	})
}
