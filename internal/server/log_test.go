package server

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// TestLogsNeverHoldSecrets sends keys every way a client can and checks
// that the request log shows only redacted keys and truncated addresses.
func TestLogsNeverHoldSecrets(t *testing.T) {
	f := newFixture(t, nil)
	good, secret := f.tok[roleGood], f.tok[roleSecret]
	remote := "203.0.113.77:40000"
	requests := []req{
		{path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood, remote: remote},
		{path: "/v1/tiles/roads/0/0/0.mvt", bearer: roleGood, remote: remote},
		{path: "/v1/tiles/roads/0/0/0.mvt", bearer: roleSecret, remote: remote},
		{path: "/v1/tiles/roads.json?other=" + url.QueryEscape(good), key: roleGood, remote: remote},
		{path: "/v1/tiles/roads/0/0/0.mvt?key=" + strings.ReplaceAll(secret, "_", "%5F"), remote: remote},
		{path: "/v1/tiles/" + good + "/0/0/0.mvt", remote: remote},
		{path: "/nowhere/" + strings.ReplaceAll(good, "_", "%5F"), remote: remote},
		{path: "/v1/tiles/roads/0/0/0.mvt", key: roleRevoked, remote: "[2001:db8:abcd:1234::77]:443"},
	}
	for _, r := range requests {
		f.do(r)
	}
	logs := f.logs.String()
	for role, tok := range f.tok {
		if strings.Contains(logs, tok) || strings.Contains(logs, tok[7:]) {
			t.Errorf("log holds the %s key", role)
		}
	}
	for _, full := range []string{"203.0.113.77", "2001:db8:abcd:1234"} {
		if strings.Contains(logs, full) {
			t.Errorf("log holds the full address %s", full)
		}
	}
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	var requestLines int
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] != "request" {
			continue
		}
		requestLines++
		if c := rec[attrClient]; c != "203.0.113.0/24" && c != "2001:db8:abcd::/48" {
			t.Errorf("client %v", c)
		}
		if rt, _ := rec[attrRoute].(string); strings.Contains(rt, "roads") {
			t.Errorf("route label holds the raw path: %v", rt)
		}
	}
	if requestLines != len(requests) {
		t.Errorf("%d request lines for %d requests", requestLines, len(requests))
	}
	if !strings.Contains(logs, `"key":"`+good[:11]+`…"`) {
		t.Errorf("authenticated request lines lack the redacted key")
	}
	// A key sent as the only query parameter shows in the key attribute;
	// one among other parameters shows redacted in the path.
	if !strings.Contains(logs, `"path":"/v1/tiles/roads/0/0/0.mvt","status":200,"bytes":25,"duration":1,"client":"203.0.113.0/24","key":"`+good[:11]+`…"`) {
		t.Errorf("keyed request line lacks path or redacted key:\n%s", logs)
	}
	if !strings.Contains(logs, `"path":"/v1/tiles/roads.json?other=`+good[:11]+`…&key=`+good[:11]+`…"`) {
		t.Errorf("path lacks the redacted parameters:\n%s", logs)
	}
	if !strings.Contains(logs, "secret key presented on the public listener") {
		t.Errorf("misuse not logged")
	}
}

func TestRedactTarget(t *testing.T) {
	key := "mpw_pk_AbCd" + strings.Repeat("x", 32)
	tests := []struct{ name, path, query, want string }{
		{"no query", "/v1/tiles/a/0/0/0.mvt", "", "/v1/tiles/a/0/0/0.mvt"},
		{"key param", "/p", "key=" + key, "/p?key=mpw_pk_AbCd…"},
		{"key param not a key", "/p", "key=hunter2", "/p?key=[redacted]"},
		{"encoded key param", "/p", "k%65y=" + strings.ReplaceAll(key, "_", "%5F"), "/p?key=mpw_pk_AbCd…"},
		{"key in another param", "/p", "a=1&token=" + key + "&b=2", "/p?a=1&token=mpw_pk_AbCd…&b=2"},
		{"key in path", "/v1/tiles/" + key + "/0", "", "/v1/tiles/mpw_pk_AbCd…/0"},
		{"encoded key in path", "/x/" + strings.ReplaceAll(key, "_", "%5f"), "", "/x/mpw_pk_AbCd…"},
		{"two keys", "/p", "a=" + key + "&b=" + strings.Replace(key, "pk", "sk", 1), "/p?a=mpw_pk_AbCd…&b=mpw_sk_AbCd…"},
		{"prefix alone", "/mpw_", "", "/mpw_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactTarget(tt.path, tt.query); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	long := redactTarget("/"+strings.Repeat("a", 2000), "")
	if len(long) > maxLoggedTarget+len("…") {
		t.Errorf("long target not capped: %d bytes", len(long))
	}
}
