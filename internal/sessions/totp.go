package sessions

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// TOTP parameters: those every authenticator app assumes when an otpauth://
// URI names none.
const (
	// TOTPDigits is the length of a code.
	TOTPDigits = 6
	// TOTPPeriod is the time step.
	TOTPPeriod = 30 * time.Second
	// TOTPSkew is how many steps before and after the current one are
	// accepted, for clocks that drift.
	TOTPSkew = 1
	// totpSecretSize is the secret length RFC 4226 recommends (160 bits).
	totpSecretSize = 20
	// Issuer names the service in authenticator apps.
	Issuer = "Mapwright"
)

// b32 is the RFC 4648 base32 alphabet without padding, the form otpauth://
// URIs carry.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// newTOTPSecret returns a random secret.
func newTOTPSecret() ([]byte, error) {
	s := make([]byte, totpSecretSize)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("generate TOTP secret: %w", err)
	}
	return s, nil
}

// totpStep is the RFC 6238 time step counter of t.
func totpStep(t time.Time) int64 {
	return t.Unix() / int64(TOTPPeriod/time.Second)
}

// hotp is the RFC 4226 one-time password of counter under secret, with
// digits decimal digits (at most 9).
func hotp(secret []byte, counter int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	// Dynamic truncation (RFC 4226 section 5.3).
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// totpCode is the code of time step step.
func totpCode(secret []byte, step int64) string {
	return hotp(secret, step, TOTPDigits)
}

// matchTOTP returns the step of the code among the accepted window around
// now, or false. Every candidate is compared in constant time and the loop
// never stops early, so timing does not tell which step matched.
func matchTOTP(secret []byte, code string, now time.Time) (int64, bool) {
	code = normalizeCode(code)
	if len(code) != TOTPDigits {
		return 0, false
	}
	cur := totpStep(now)
	var found int64
	ok := false
	for s := cur - TOTPSkew; s <= cur+TOTPSkew; s++ {
		if hmac.Equal([]byte(totpCode(secret, s)), []byte(code)) && !ok {
			found, ok = s, true
		}
	}
	return found, ok
}

// normalizeCode drops the spaces some apps display in the middle of a code;
// anything but digits makes the code invalid.
func normalizeCode(code string) string {
	code = strings.ReplaceAll(code, " ", "")
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return ""
		}
	}
	return code
}

// totpURI is the otpauth:// URI of a secret for the key called name, as
// defined by the Key URI Format that authenticator apps read:
// otpauth://totp/Mapwright:NAME?secret=BASE32&issuer=Mapwright.
func totpURI(name string, secret []byte) string {
	// The label's colon separates issuer from account, so one inside the
	// name must be escaped; PathEscape leaves colons alone.
	account := strings.ReplaceAll(url.PathEscape(name), ":", "%3A")
	return "otpauth://totp/" + Issuer + ":" + account +
		"?secret=" + b32.EncodeToString(secret) + "&issuer=" + Issuer
}
