package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// stateColor colours a key state: active green, pending cyan, expired
// yellow, revoked red.
func stateColor(cs iostreams.ColorScheme, s string) string {
	switch s {
	case "active", "ok":
		return cs.Green(s)
	case "pending":
		return cs.Cyan(s)
	case "expired", "expiring":
		return cs.Yellow(s)
	case "revoked", "failed":
		return cs.Red(s)
	}
	return s
}

// keyTable is the table of keys used by `keys list`.
func keyTable(p *output.Printer, keys []client.Key, now time.Time) *output.Table {
	t := output.NewTable("ID", "NAME", "KIND", "STATE", "START", "EXPIRES", "LAST USED")
	t.Color(3, stateColor)
	for _, k := range keys {
		t.AddRow(k.ID, k.Name, k.Kind, k.State, k.Start, p.Time(k.ExpiresAt, now), p.Time(k.LastUsedAt, now))
	}
	return t
}

// list joins a list for a detail view; on a terminal an empty list is
// described by none.
func list(p *output.Printer, items []string, none string) string {
	if len(items) == 0 && p.TTY() {
		return none
	}
	return strings.Join(items, ",")
}

// labels formats labels as sorted k=v pairs.
func labels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, ",")
}

// keyDetail is the detail view of a key. token, when set, comes first: it
// is shown once, at creation or rotation.
func keyDetail(p *output.Printer, k client.Key, token string, now time.Time) *output.Detail {
	d := output.NewDetail()
	if token != "" {
		d.Add("key", "Key", token)
	}
	d.Add("id", "ID", k.ID).
		Add("name", "Name", k.Name).
		Add("kind", "Kind", k.Kind).
		AddColored("state", "State", k.State, stateColor).
		Add("start", "Start", k.Start).
		Add("scopes", "Scopes", strings.Join(k.Scopes, ",")).
		Add("tilesets", "Tilesets", list(p, k.Tilesets, "all")).
		Add("origins", "Origins", list(p, k.Origins, "none (no browser use)"))
	rate, burst := strconv.FormatFloat(k.Rate, 'f', -1, 64), strconv.Itoa(k.Burst)
	if p.TTY() {
		rate, burst = rate+" req/s", burst+" requests"
		if k.Rate == 0 {
			rate = "server default"
		}
		if k.Burst == 0 {
			burst = "server default"
		}
	}
	d.Add("rate", "Rate", rate).
		Add("burst", "Burst", burst).
		Add("labels", "Labels", labels(k.Labels))
	if k.Kind == "secret" {
		d.Add("totp", "TOTP", yesNo(k.TOTP))
	}
	d.Add("created_at", "Created", p.Time(&k.CreatedAt, now)).
		Add("created_by", "Created by", k.CreatedBy)
	if k.NotBefore != nil {
		d.Add("not_before", "Not before", p.Time(k.NotBefore, now))
	}
	d.Add("expires_at", "Expires", p.Time(k.ExpiresAt, now)).
		Add("last_used_at", "Last used", p.Time(k.LastUsedAt, now))
	if k.RevokedAt != nil {
		d.Add("revoked_at", "Revoked", p.Time(k.RevokedAt, now)).
			Add("revoked_by", "Revoked by", k.RevokedBy).
			Add("revoke_reason", "Reason", k.RevokeReason)
	}
	if k.Replaces != "" {
		d.Add("replaces", "Replaces", k.Replaces)
	}
	if k.ReplacedBy != "" {
		d.Add("replaced_by", "Replaced by", k.ReplacedBy)
	}
	return d
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// keyName describes a key in a message: `key_01 ("web")`.
func keyName(k client.Key) string {
	if k.Name == "" {
		return k.ID
	}
	return fmt.Sprintf("%s (%q)", k.ID, k.Name)
}

// shownOnce is the warning printed with a new secret.
const shownOnce = "This key will not be shown again. Store it now."
