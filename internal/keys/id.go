package keys

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// IDPrefix starts every key ID.
const IDPrefix = "key_"

// idLen is the length of a key ID: the prefix and a 26-character ULID.
const idLen = len(IDPrefix) + 26

// crockford is Crockford's base32 alphabet, as used by ULIDs.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newID returns "key_" followed by a ULID: a 48-bit millisecond Unix time
// and 80 random bits, written as 26 Crockford base32 digits, so IDs sort by
// creation time (to the millisecond; IDs made in the same millisecond sort
// randomly among themselves).
func newID(now time.Time, random io.Reader) (string, error) {
	ms := now.UnixMilli()
	if ms < 0 || ms >= 1<<48 {
		return "", fmt.Errorf("new key ID: time %v outside the ULID range", now)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(ms)<<16)
	if _, err := io.ReadFull(random, b[6:16]); err != nil {
		return "", fmt.Errorf("new key ID: read random bytes: %w", err)
	}
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	var out [idLen]byte
	copy(out[:], IDPrefix)
	// 26 digits of 5 bits cover 130 bits; the top two are always zero.
	for i := idLen - 1; i >= len(IDPrefix); i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:]), nil
}

func newRandomID(now time.Time) (string, error) { return newID(now, rand.Reader) }

// ValidID reports whether s has the form of a key ID: "key_" and 26
// upper-case Crockford base32 digits, the first at most 7.
func ValidID(s string) bool {
	if len(s) != idLen || s[:len(IDPrefix)] != IDPrefix {
		return false
	}
	if s[len(IDPrefix)] > '7' {
		return false
	}
	for i := len(IDPrefix); i < len(s); i++ {
		if crockfordValue(s[i]) < 0 {
			return false
		}
	}
	return true
}

func crockfordValue(c byte) int {
	for i := 0; i < len(crockford); i++ {
		if crockford[i] == c {
			return i
		}
	}
	return -1
}

// idTime returns the creation time encoded in a valid key ID.
func idTime(id string) (time.Time, error) {
	if !ValidID(id) {
		return time.Time{}, fmt.Errorf("%q is not a key ID: %w", id, ErrInvalidRequest)
	}
	var ms int64
	// The first 10 digits hold 50 bits, of which the top two are zero.
	for i := len(IDPrefix); i < len(IDPrefix)+10; i++ {
		ms = ms<<5 | int64(crockfordValue(id[i]))
	}
	return time.UnixMilli(ms).UTC(), nil
}
