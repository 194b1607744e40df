package sessions

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// totpKeyInfo is the HKDF info string that derives the TOTP sealing key from
// the session key. Changing it makes every stored secret unreadable.
const totpKeyInfo = "mapwright totp v1"

// sealVersion starts every sealed secret, so the format can change later
// without guessing.
const sealVersion = 1

// sealer encrypts TOTP secrets with AES-256-GCM.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(sessionKey []byte) (*sealer, error) {
	k, err := hkdf.Key(sha256.New, sessionKey, nil, totpKeyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive TOTP key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("derive TOTP key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("derive TOTP key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// seal returns version || nonce || ciphertext of secret, bound to keyID.
func (s *sealer) seal(keyID string, secret []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(secret)+s.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal TOTP secret: %w", err)
	}
	return s.aead.Seal(out, out[1:], secret, []byte(keyID)), nil
}

// open reverses seal; a secret sealed for another key ID, under another
// session key, or altered in any byte gives ErrSealed.
func (s *sealer) open(keyID string, sealed []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+ns+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, fmt.Errorf("TOTP secret of key %s: %w", keyID, ErrSealed)
	}
	secret, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], []byte(keyID))
	if err != nil {
		return nil, fmt.Errorf("TOTP secret of key %s: %w", keyID, ErrSealed)
	}
	return secret, nil
}
