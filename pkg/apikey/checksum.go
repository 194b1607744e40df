package apikey

// This file holds the lookup tables and the CRC-32 used by the checksum.
// The CRC is computed here rather than with hash/crc32 because the standard
// package dispatches through a function value, which makes every argument
// escape: checking a token with it would allocate.

// alphabet is the base62 digit set in value order.
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// noDigit marks a byte outside the base62 alphabet in digitValue.
const noDigit = 0xff

// digitValue maps a byte to its base62 value, or noDigit.
var digitValue = func() (t [256]byte) {
	for i := range t {
		t[i] = noDigit
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// wordByte reports the bytes that \b treats as word characters: [0-9A-Za-z_].
var wordByte = func() (t [256]bool) {
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = true
	}
	t['_'] = true
	return t
}()

// crcTables are the slicing-by-8 tables of the reflected IEEE polynomial.
var crcTables = func() (t [8][256]uint32) {
	const poly = 0xedb88320
	for i := range 256 {
		c := uint32(i)
		for range 8 {
			if c&1 == 1 {
				c = c>>1 ^ poly
			} else {
				c >>= 1
			}
		}
		t[0][i] = c
	}
	for i := range 256 {
		c := t[0][i]
		for j := 1; j < 8; j++ {
			c = t[0][c&0xff] ^ c>>8
			t[j][i] = c
		}
	}
	return t
}()

// crcUpdate returns the CRC-32 (IEEE) of the data whose CRC is crc followed by
// p, with the same convention as hash/crc32.Update: crcUpdate(0, p) is
// crc32.ChecksumIEEE(p).
func crcUpdate[T ~string | ~[]byte](crc uint32, p T) uint32 {
	t := &crcTables
	crc = ^crc
	for len(p) >= 8 {
		crc ^= uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24
		crc = t[0][p[7]] ^ t[1][p[6]] ^ t[2][p[5]] ^ t[3][p[4]] ^
			t[4][crc>>24] ^ t[5][crc>>16&0xff] ^ t[6][crc>>8&0xff] ^ t[7][crc&0xff]
		p = p[8:]
	}
	for i := 0; i < len(p); i++ {
		crc = t[0][byte(crc)^p[i]] ^ crc>>8
	}
	return ^crc
}

// prefixCRC holds the CRC of each prefix, so checking a token only hashes the
// 30 random characters.
var prefixCRC = [3]uint32{
	Public: crcUpdate(0, prefixPublic),
	Secret: crcUpdate(0, prefixSecret),
}

// encodeChecksum writes crc as ChecksumLen base62 digits, most significant
// first, into dst.
func encodeChecksum(dst *[ChecksumLen]byte, crc uint32) {
	v := crc
	for i := ChecksumLen - 1; i >= 0; i-- {
		dst[i] = alphabet[v%62]
		v /= 62
	}
}

// allBase62 reports whether every byte of s is in the base62 alphabet.
func allBase62[T ~string | ~[]byte](s T) bool {
	bad := byte(0)
	for i := 0; i < len(s); i++ {
		// OR-ing the lookups keeps the loop free of early branches; noDigit
		// is the only value with the top bit set.
		bad |= digitValue[s[i]]
	}
	return bad&0x80 == 0
}

// checksumHolds reports whether the last ChecksumLen characters of tok, a
// TokenLen token of kind k whose characters after the prefix are all base62,
// are the checksum of the rest.
func checksumHolds[T ~string | ~[]byte](k Kind, tok T) bool {
	crc := crcUpdate(prefixCRC[k], tok[PrefixLen:PrefixLen+RandomLen])
	var v uint64
	for i := PrefixLen + RandomLen; i < TokenLen; i++ {
		v = v*62 + uint64(digitValue[tok[i]])
	}
	// Six base62 digits hold values up to 62^6-1, above 2^32: comparing in
	// 64 bits keeps non-canonical encodings of larger numbers rejected.
	return v == uint64(crc)
}
