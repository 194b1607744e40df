package sessions

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// CookieName is the name of the session cookie.
const CookieName = "mapwright_session"

// idSize is the length of a session identifier in bytes.
const idSize = 32

// b64 is unpadded URL-safe base64, which needs no quoting in a cookie.
// Strict decoding refuses nonzero padding bits, so one identifier has
// exactly one spelling.
var b64 = base64.RawURLEncoding.Strict()

// cookieLen is the exact length of a well-formed cookie value.
var cookieLen = b64.EncodedLen(idSize) + 1 + b64.EncodedLen(sha256.Size)

// newSessionID returns a random identifier, its cookie value and the hash
// the store keeps.
func (m *Manager) newSessionID() (cookie string, hash [32]byte, err error) {
	id := make([]byte, idSize)
	if _, err := rand.Read(id); err != nil {
		return "", hash, fmt.Errorf("generate session ID: %w", err)
	}
	return b64.EncodeToString(id) + "." + b64.EncodeToString(m.mac(id)), sha256.Sum256(id), nil
}

func (m *Manager) mac(id []byte) []byte {
	h := hmac.New(sha256.New, m.key)
	h.Write(id)
	return h.Sum(nil)
}

// parseCookie checks a cookie value's form and MAC and returns the hash of
// its identifier. Anything else is ErrInvalidSession, without saying which
// check failed.
func (m *Manager) parseCookie(v string) ([32]byte, error) {
	var hash [32]byte
	if len(v) != cookieLen {
		return hash, ErrInvalidSession
	}
	idPart, macPart, ok := strings.Cut(v, ".")
	if !ok {
		return hash, ErrInvalidSession
	}
	id, err := b64.DecodeString(idPart)
	if err != nil || len(id) != idSize {
		return hash, ErrInvalidSession
	}
	mac, err := b64.DecodeString(macPart)
	if err != nil || !hmac.Equal(mac, m.mac(id)) {
		return hash, ErrInvalidSession
	}
	return sha256.Sum256(id), nil
}
