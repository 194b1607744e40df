// Package apikey implements the Mapwright API key format: it generates keys,
// validates them offline, derives the values a server stores and shows, and
// finds keys in arbitrary bytes so that leaked keys can be detected.
//
// # Format
//
// A key is 43 ASCII characters:
//
//	mpw_pk_<30 random><6 checksum>    public key: tiles, may be used in browsers
//	mpw_sk_<30 random><6 checksum>    secret key: admin API and CI, never in a browser
//
// The random part and the checksum use the base62 alphabet 0-9A-Za-z. The 30
// random characters come from crypto/rand without modulo bias, about 178 bits.
//
// The checksum is the CRC-32 (IEEE polynomial, as hash/crc32.ChecksumIEEE) of
// the 37 characters before it (the prefix and the random part), written in
// base62 with the same alphabet ('0'=0 … '9'=9, 'A'=10 … 'Z'=35, 'a'=36 …
// 'z'=61), most significant digit first, left-padded with '0' to 6
// characters. It lets anyone tell a real key from a look-alike without asking
// a server: a single changed character always breaks it.
//
// A scanner can use [Pattern], which matches every candidate token:
//
//	\bmpw_(pk|sk)_[0-9A-Za-z]{36}\b
//
// Here \b is an ASCII word boundary: a candidate preceded or followed directly
// by a letter, digit or underscore is part of a longer word and is not a key.
//
// # Storing and showing keys
//
// A server never stores a key. It stores [Hash] (SHA-256 of the whole token)
// to look keys up, and [Start] (the prefix and the first four random
// characters, such as "mpw_pk_AbCd") to show them. Logs and error messages
// carry a key only through [Redact]. Errors returned by this package never
// contain any part of a token.
//
// # Scanning
//
// [AppendMatches] reports every candidate in a buffer with its offset, kind and
// whether its checksum holds. A [Finder] does the same over a stream fed in
// chunks of any size, with the same results as [AppendMatches] over the whole
// stream, so a scanner can read files of any size in fixed-size pieces.
package apikey
