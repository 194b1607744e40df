package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// Lengths of the parts of a token, in bytes (all characters are ASCII).
const (
	// PrefixLen is the length of "mpw_pk_" and "mpw_sk_".
	PrefixLen = 7
	// RandomLen is the number of random base62 characters after the prefix.
	RandomLen = 30
	// ChecksumLen is the number of base62 checksum characters at the end.
	ChecksumLen = 6
	// TokenLen is the length of a whole token: PrefixLen + RandomLen +
	// ChecksumLen.
	TokenLen = PrefixLen + RandomLen + ChecksumLen
	// StartLen is the length of the display start returned by Start: the
	// prefix and the first four random characters. Start and Redact never
	// reveal more than StartLen bytes of their input.
	StartLen = PrefixLen + 4
)

// Pattern is a regular expression, valid for the regexp package and the usual
// engines, that matches every candidate token, valid checksum or not. \b is an
// ASCII word boundary. The functions of this package that find keys in bytes
// follow exactly this pattern and add the checksum verdict.
const Pattern = `\bmpw_(pk|sk)_[0-9A-Za-z]{36}\b`

// Redacted is what Redact returns for a string that is not a plausible key.
const Redacted = "[redacted]"

// Generate returns a new random key of kind k. The random characters come
// from crypto/rand with rejection sampling, so each of the 62 characters is
// equally likely. It fails only with ErrKind for an invalid kind, or if the
// system's random source fails.
func Generate(k Kind) (string, error) {
	return generate(k, rand.Reader)
}

// generate builds a key from the bytes of r. Each byte contributes its low six
// bits, a value in [0, 64); the values 62 and 63 are discarded rather than
// folded into the alphabet, which would make some characters likelier.
func generate(k Kind, r io.Reader) (string, error) {
	if k != Public && k != Secret {
		return "", fmt.Errorf("generate %v key: %w", k, ErrKind)
	}
	var tok [TokenLen]byte
	copy(tok[:], k.Prefix())
	n := PrefixLen
	// 40 bytes give 30 accepted characters most of the time (each byte is
	// accepted with probability 62/64).
	var buf [40]byte
	for n < PrefixLen+RandomLen {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("generate %v key: read random bytes: %w", k, err)
		}
		for _, b := range buf {
			v := b & 63
			if v >= 62 {
				continue
			}
			tok[n] = alphabet[v]
			n++
			if n == PrefixLen+RandomLen {
				break
			}
		}
	}
	var sum [ChecksumLen]byte
	encodeChecksum(&sum, crcUpdate(prefixCRC[k], tok[PrefixLen:n]))
	copy(tok[n:], sum[:])
	return string(tok[:]), nil
}

// Parse validates token and returns its kind. The checks run in this order,
// and the first that fails decides the error:
//
//   - ErrPrefix: token does not begin with "mpw_pk_" or "mpw_sk_";
//   - ErrLength: token is not TokenLen bytes long;
//   - ErrAlphabet: a character after the prefix is outside 0-9A-Za-z;
//   - ErrChecksum: the last six characters are not the checksum of the rest.
//
// Parse does not trim: a trailing space or newline gives ErrLength, a leading
// one ErrPrefix.
// It does not allocate, and its errors are the bare sentinel values, which
// contain no part of the token.
func Parse(token string) (Kind, error) {
	if len(token) < PrefixLen {
		return 0, ErrPrefix
	}
	var k Kind
	switch token[:PrefixLen] {
	case prefixPublic:
		k = Public
	case prefixSecret:
		k = Secret
	default:
		return 0, ErrPrefix
	}
	if len(token) != TokenLen {
		return 0, ErrLength
	}
	if !allBase62(token[PrefixLen:]) {
		return 0, ErrAlphabet
	}
	if !checksumHolds(k, token) {
		return 0, ErrChecksum
	}
	return k, nil
}

// Valid reports whether Parse accepts token.
func Valid(token string) bool {
	_, err := Parse(token)
	return err == nil
}

// Checksum returns the ChecksumLen-character base62 checksum of body, the part
// of a token before its checksum: the prefix followed by the RandomLen random
// characters. For any valid token t, Checksum(t[:TokenLen-ChecksumLen]) equals
// t[TokenLen-ChecksumLen:]. Checksum computes the rule for any string and does
// not validate body.
func Checksum(body string) string {
	var sum [ChecksumLen]byte
	encodeChecksum(&sum, crcUpdate(0, body))
	return string(sum[:])
}

// hashStackLen bounds the tokens that Hash copies into a stack buffer.
const hashStackLen = 64

// Hash returns the SHA-256 of the whole token, the value a server stores and
// looks keys up by. It does not allocate for strings of up to 64 bytes, which
// covers every token.
func Hash(token string) [sha256.Size]byte {
	if len(token) <= hashStackLen {
		// Converting the string would allocate; a copy on the stack does not.
		var buf [hashStackLen]byte
		n := copy(buf[:], token)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(token))
}

// HashHex returns Hash(token) as 64 lowercase hexadecimal digits.
func HashHex(token string) string {
	h := Hash(token)
	return hex.EncodeToString(h[:])
}

// Start returns the display start of token: its prefix and first four random
// characters, such as "mpw_pk_AbCd", which identifies a key to people without
// enabling its use. It is what a server stores next to Hash.
//
// Start accepts any string without panicking. It returns the longest leading
// part of token, at most StartLen bytes, that could begin a key; for a string
// that does not begin like a key it returns a shorter cut, possibly "". The
// result never holds more than StartLen bytes of the input, and only ASCII
// characters of the key alphabet.
func Start(token string) string {
	n := min(len(token), StartLen)
	for i := 0; i < n; i++ {
		if !startByteOK(i, token[i]) {
			return token[:i]
		}
	}
	return token[:n]
}

// startByteOK reports whether c may sit at position i of a token, i < StartLen.
func startByteOK(i int, c byte) bool {
	switch {
	case i < 4:
		return c == "mpw_"[i]
	case i == 4:
		return c == 'p' || c == 's'
	case i == 5:
		return c == 'k'
	case i == 6:
		return c == '_'
	}
	return digitValue[c] != noDigit
}

// Redact returns a form of token safe for logs, messages and terminals:
// Start(token) followed by "…", such as "mpw_pk_AbCd…", when token begins like
// a key (a prefix and at least four base62 characters), and the fixed string
// Redacted for anything else. It never reveals more than StartLen bytes of its
// input. A plausible start does not mean the token is valid; use Parse for
// that.
func Redact(token string) string {
	s := Start(token)
	if len(s) < StartLen {
		return Redacted
	}
	return s + "…"
}
