package client

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseServer(t *testing.T) {
	tests := []struct {
		in, want string
		socket   string
		wantErr  string
	}{
		{in: "unix:///var/lib/mapwright/admin.sock", want: "unix:///var/lib/mapwright/admin.sock", socket: "/var/lib/mapwright/admin.sock"},
		{in: "/run/mw//admin.sock", want: "unix:///run/mw/admin.sock", socket: "/run/mw/admin.sock"},
		{in: "  https://tiles.example.com:9443  ", want: "https://tiles.example.com:9443"},
		{in: "https://[::1]:9443/", want: "https://[::1]:9443"},
		{in: "https://localhost", want: "https://localhost"},
		{in: "", wantErr: "empty"},
		{in: "unix://relative.sock", wantErr: "unix:///absolute/path"},
		{in: "unix:///", wantErr: "absolute file path"},
		{in: "http://localhost:9443", wantErr: "always TLS"},
		{in: "ftp://x", wantErr: "want unix:///path/admin.sock or https://host:port"},
		{in: "localhost:9443", wantErr: "want unix:///path/admin.sock or https://host:port"},
		{in: "https://:9443", wantErr: "no host"},
		{in: "https://host:9443/admin", wantErr: "only scheme, host and port"},
		{in: "https://host:9443?x=1", wantErr: "only scheme, host and port"},
		{in: "https://user:mpw_sk_secret@host:9443", wantErr: "carries credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := ParseServer(tt.in)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrServer mentioning %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "mpw_sk_secret") {
					t.Errorf("error echoes a credential: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.String() != tt.want || s.Socket != tt.socket {
				t.Errorf("got %q (socket %q), want %q (socket %q)", s, s.Socket, tt.want, tt.socket)
			}
		})
	}
}

func TestParseFingerprint(t *testing.T) {
	hex := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"lower hex", hex, true},
		{"upper hex", strings.ToUpper(hex), true},
		{"prefixed with colons", "sha256:" + strings.ToUpper(hex[:2]) + ":" + hex[2:], true},
		{"spaces around", "  " + hex + "\n", true},
		{"too short", hex[:62], false},
		{"not hex", "zz" + hex[2:], false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseFingerprint(tt.in)
			if !tt.ok {
				if !errors.Is(err, ErrFingerprint) {
					t.Errorf("err = %v, want ErrFingerprint", err)
				}
				return
			}
			if err != nil || len(b) != 32 || b[0] != 0x9f {
				t.Errorf("got %x, %v", b, err)
			}
		})
	}
}

func TestSessionCookieChoice(t *testing.T) {
	ck := func(name, value string, httpOnly bool, maxAge int) *http.Cookie {
		return &http.Cookie{Name: name, Value: value, HttpOnly: httpOnly, MaxAge: maxAge}
	}
	tests := []struct {
		name    string
		cookies []*http.Cookie
		want    string
	}{
		{"none", nil, ""},
		{"the HttpOnly one wins", []*http.Cookie{ck("lang", "en", false, 0), ck("mpw_session", "s1", true, 0)}, "mpw_session"},
		{"a deleting cookie is skipped", []*http.Cookie{ck("old", "x", true, -1), ck("lang", "en", false, 0)}, "lang"},
		{"an empty value is skipped", []*http.Cookie{ck("a", "", true, 0)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sessionCookie(tt.cookies)
			name := ""
			if got != nil {
				name = got.Name
			}
			if name != tt.want {
				t.Errorf("picked %q, want %q", name, tt.want)
			}
		})
	}
}

func FuzzParseServer(f *testing.F) {
	for _, s := range []string{"unix:///a/b.sock", "/x", "https://h:1", "http://h", "https://u:p@h", "unix://", "https://[::1]:9443/", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		srv, err := ParseServer(s)
		if err != nil {
			if !errors.Is(err, ErrServer) {
				t.Fatalf("error %v does not wrap ErrServer", err)
			}
			return
		}
		// A parsed address is canonical: parsing its string gives itself.
		again, err := ParseServer(srv.String())
		if err != nil || again.String() != srv.String() {
			t.Fatalf("%q -> %q -> %q, %v", s, srv, again, err)
		}
		if srv.URL.User != nil || (srv.Socket == "" && srv.URL.Scheme != "https") {
			t.Fatalf("%q parsed to an unsafe URL %v", s, srv.URL)
		}
	})
}

func FuzzParseFingerprint(f *testing.F) {
	f.Add("sha256:AB:CD")
	f.Add(strings.Repeat("ab", 32))
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseFingerprint(s)
		if err == nil && len(b) != 32 {
			t.Fatalf("%q gave %d bytes", s, len(b))
		}
	})
}

func FuzzParseErrorBody(f *testing.F) {
	f.Add(404, "application/problem+json", []byte(`{"title":"Not Found","detail":"no key"}`))
	f.Add(500, "text/plain", []byte("boom\nsecond line"))
	f.Add(400, "application/json; charset=utf-8", []byte(`{"title":"\u001b[2J","detail":"\xff\xfe"}`))
	f.Add(503, "", []byte(nil))
	f.Fuzz(func(t *testing.T, status int, ct string, body []byte) {
		ae := parseErrorBody(status, ct, body)
		msg := ae.Error()
		if msg == "" {
			t.Fatal("empty message")
		}
		if !utf8.ValidString(msg) {
			t.Fatalf("message %q is not UTF-8", msg)
		}
		for _, r := range msg {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("message %q carries a control character", msg)
			}
		}
		if len([]rune(msg)) > 2*maxDetailLen+40 {
			t.Fatalf("message of %d runes is unbounded", len([]rune(msg)))
		}
		if ae.Status != status || ae.Problem.Status != status {
			t.Fatalf("status %d became %d/%d", status, ae.Status, ae.Problem.Status)
		}
	})
}
