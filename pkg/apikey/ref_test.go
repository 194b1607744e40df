package apikey_test

import (
	"hash/crc32"
	"regexp"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// This file restates the key format from the design document independently
// of the package, so tests compare the package with the rule, not with itself.

// refAlphabet is the base62 alphabet: '0'=0 … '9'=9, 'A'=10 … 'Z'=35, 'a'=36 … 'z'=61.
const refAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// refPattern is the published regular expression for candidate tokens.
const refPattern = `\bmpw_(pk|sk)_[0-9A-Za-z]{36}\b`

var (
	refCandidate = regexp.MustCompile(refPattern)
	refWhole     = regexp.MustCompile(`^mpw_(pk|sk)_[0-9A-Za-z]{36}$`)
)

// refBase62 writes v in base62, most significant digit first, left-padded
// with '0' to width digits.
func refBase62(v uint64, width int) string {
	d := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		d[i] = refAlphabet[v%62]
		v /= 62
	}
	return string(d)
}

// refChecksum is the checksum rule: CRC-32 IEEE of the body in six base62 digits.
func refChecksum(body string) string {
	return refBase62(uint64(crc32.ChecksumIEEE([]byte(body))), 6)
}

// refKey completes a prefix and 30 random characters with their checksum.
func refKey(prefix, random string) string {
	return prefix + random + refChecksum(prefix+random)
}

// refValid reports whether tok is a well-formed token with a correct checksum.
func refValid(tok string) bool {
	return refWhole.MatchString(tok) && refChecksum(tok[:37]) == tok[37:]
}

// refMatches finds candidates with the published regular expression.
func refMatches(b []byte) []apikey.Match {
	var out []apikey.Match
	for _, loc := range refCandidate.FindAllIndex(b, -1) {
		k := apikey.Public
		if b[loc[0]+4] == 's' {
			k = apikey.Secret
		}
		out = append(out, apikey.Match{Offset: loc[0], Kind: k, Valid: refValid(string(b[loc[0]:loc[1]]))})
	}
	return out
}
