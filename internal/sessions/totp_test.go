package sessions

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// rfcSecret is the SHA-1 seed of the RFC 6238 appendix B test vectors.
var rfcSecret = []byte("12345678901234567890")

func TestHOTPMatchesRFC6238Vectors(t *testing.T) {
	cases := []struct {
		name string
		unix int64
		want string // 8 digits, as printed in the RFC
	}{
		{"59", 59, "94287082"},
		{"1111111109", 1111111109, "07081804"},
		{"1111111111", 1111111111, "14050471"},
		{"1234567890", 1234567890, "89005924"},
		{"2000000000", 2000000000, "69279037"},
		{"20000000000", 20000000000, "65353130"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			step := totpStep(time.Unix(tc.unix, 0))
			if got := hotp(rfcSecret, step, 8); got != tc.want {
				t.Errorf("8-digit code = %s, want %s", got, tc.want)
			}
			// Six digits are the low six of the same number.
			if got, want := totpCode(rfcSecret, step), tc.want[2:]; got != want {
				t.Errorf("6-digit code = %s, want %s", got, want)
			}
		})
	}
}

func TestHOTPMatchesRFC4226Vectors(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for counter, w := range want {
		if got := hotp(rfcSecret, int64(counter), 6); got != w {
			t.Errorf("HOTP(%d) = %s, want %s", counter, got, w)
		}
	}
}

func TestMatchTOTPWindow(t *testing.T) {
	now := time.Unix(1_700_000_015, 0)
	cur := totpStep(now)
	cases := []struct {
		name     string
		code     string
		wantStep int64
		wantOK   bool
	}{
		{"current step", totpCode(rfcSecret, cur), cur, true},
		{"previous step (slow clock)", totpCode(rfcSecret, cur-1), cur - 1, true},
		{"next step (fast clock)", totpCode(rfcSecret, cur+1), cur + 1, true},
		{"two steps old", totpCode(rfcSecret, cur-2), 0, false},
		{"two steps ahead", totpCode(rfcSecret, cur+2), 0, false},
		{"with a space as apps show it", totpCode(rfcSecret, cur)[:3] + " " + totpCode(rfcSecret, cur)[3:], cur, true},
		{"letters", "12a456", 0, false},
		{"too short", totpCode(rfcSecret, cur)[:5], 0, false},
		{"too long", totpCode(rfcSecret, cur) + "0", 0, false},
		{"empty", "", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			step, ok := matchTOTP(rfcSecret, tc.code, now)
			if ok != tc.wantOK || (ok && step != tc.wantStep) {
				t.Errorf("matchTOTP(%q) = %d, %v; want %d, %v", tc.code, step, ok, tc.wantStep, tc.wantOK)
			}
		})
	}
}

func TestTOTPURI(t *testing.T) {
	secret := []byte("12345678901234567890")
	cases := []struct {
		name, key, want string
	}{
		{"plain name", "ci-bot", "otpauth://totp/Mapwright:ci-bot?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Mapwright"},
		{"spaces and a colon are escaped", "ops: alice", "otpauth://totp/Mapwright:ops%3A%20alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Mapwright"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := totpURI(tc.key, secret)
			if got != tc.want {
				t.Fatalf("totpURI = %s\nwant          %s", got, tc.want)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			label, err := url.PathUnescape(strings.TrimPrefix(u.EscapedPath(), "/"))
			if err != nil || label != "Mapwright:"+tc.key {
				t.Errorf("label = %q, %v; want %q", label, err, "Mapwright:"+tc.key)
			}
			sec, err := b32.DecodeString(u.Query().Get("secret"))
			if err != nil || string(sec) != string(secret) {
				t.Errorf("secret decodes to %q, %v", sec, err)
			}
		})
	}
}
