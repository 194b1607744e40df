package apikey_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// Known-answer vectors. The checksums were derived with the rule of the design
// document and are checked again against refChecksum below.
const (
	katBody     = "mpw_pk_0123456789ABCDEFGHIJabcdefghij"
	katCRC      = 0x806c7043 // CRC-32 IEEE of katBody
	katChecksum = "2LoRM3"
	// A body whose checksum needs a leading '0' of padding.
	katPadBody     = "mpw_pk_000000000000000000000000000000"
	katPadCRC      = 0x02155c6f
	katPadChecksum = "02MfDr"
)

func TestKnownAnswer(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		crc      uint32
		checksum string
	}{
		{name: "mixed alphabet", body: katBody, crc: katCRC, checksum: katChecksum},
		{name: "leading zero padding", body: katPadBody, crc: katPadCRC, checksum: katPadChecksum},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Spell the base62 conversion out digit by digit.
			v := uint64(tc.crc)
			var digits [6]byte
			for i := 5; i >= 0; i-- {
				digits[i] = refAlphabet[v%62]
				v /= 62
			}
			if got := string(digits[:]); got != tc.checksum {
				t.Fatalf("hand conversion of %#x = %q, vector says %q", tc.crc, got, tc.checksum)
			}
			if got := refChecksum(tc.body); got != tc.checksum {
				t.Fatalf("refChecksum = %q, want %q", got, tc.checksum)
			}
			if got := apikey.Checksum(tc.body); got != tc.checksum {
				t.Errorf("Checksum(%q) = %q, want %q", tc.body, got, tc.checksum)
			}
			tok := tc.body + tc.checksum
			k, err := apikey.Parse(tok)
			if err != nil || k != apikey.Public {
				t.Errorf("Parse(%q) = %v, %v; want public, nil", tok, k, err)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	tests := []struct {
		name   string
		kind   apikey.Kind
		prefix string
	}{
		{name: "public", kind: apikey.Public, prefix: "mpw_pk_"},
		{name: "secret", kind: apikey.Secret, prefix: "mpw_sk_"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 200 {
				tok, err := apikey.Generate(tc.kind)
				if err != nil {
					t.Fatalf("Generate: %v", err)
				}
				if !refWhole.MatchString(tok) || !strings.HasPrefix(tok, tc.prefix) || len(tok) != apikey.TokenLen {
					t.Fatalf("Generate = %q, not a %s token", tok, tc.prefix)
				}
				if want := refChecksum(tok[:37]); tok[37:] != want {
					t.Fatalf("checksum of %q is %q, want %q", tok, tok[37:], want)
				}
				if k, err := apikey.Parse(tok); err != nil || k != tc.kind {
					t.Fatalf("Parse(generated) = %v, %v", k, err)
				}
				if seen[tok] {
					t.Fatalf("Generate repeated %q", tok)
				}
				seen[tok] = true
			}
		})
	}
}

func TestGenerateUsesWholeAlphabet(t *testing.T) {
	// 300 keys give 9000 random characters: each of the 62 is expected about
	// 145 times, so a missing or grossly rare character means a broken mapping.
	counts := map[byte]int{}
	for range 300 {
		tok, err := apikey.Generate(apikey.Public)
		if err != nil {
			t.Fatal(err)
		}
		for i := apikey.PrefixLen; i < apikey.PrefixLen+apikey.RandomLen; i++ {
			counts[tok[i]]++
		}
	}
	for i := 0; i < len(refAlphabet); i++ {
		if n := counts[refAlphabet[i]]; n < 60 {
			t.Errorf("character %q drawn %d times in 9000, expected about 145", refAlphabet[i], n)
		}
	}
}

func TestGenerateInvalidKind(t *testing.T) {
	for _, k := range []apikey.Kind{0, 3, 255} {
		t.Run(k.String(), func(t *testing.T) {
			tok, err := apikey.Generate(k)
			if !errors.Is(err, apikey.ErrKind) || tok != "" {
				t.Errorf("Generate(%d) = %q, %v; want ErrKind", k, tok, err)
			}
		})
	}
}

// flip replaces the byte at i.
func flip(tok string, i int, c byte) string {
	b := []byte(tok)
	b[i] = c
	return string(b)
}

func TestParseRejectsEverySingleCharacterChange(t *testing.T) {
	replacements := []byte{'0', '9', 'A', 'Z', 'a', 'z', 'p', 's', 'k', 'm', '_', '-', ' ', 0, 0xff}
	for _, kind := range []apikey.Kind{apikey.Public, apikey.Secret} {
		t.Run(kind.String(), func(t *testing.T) {
			for range 10 {
				tok, err := apikey.Generate(kind)
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < len(tok); i++ {
					// The neighbours in the alphabet are the likeliest typos.
					cands := append([]byte(nil), replacements...)
					if p := strings.IndexByte(refAlphabet, tok[i]); p >= 0 {
						cands = append(cands, refAlphabet[(p+1)%62], refAlphabet[(p+61)%62])
					}
					for _, c := range cands {
						if c == tok[i] {
							continue
						}
						bad := flip(tok, i, c)
						want := apikey.ErrChecksum
						switch {
						case bad[:7] != "mpw_pk_" && bad[:7] != "mpw_sk_":
							want = apikey.ErrPrefix
						case i >= 7 && strings.IndexByte(refAlphabet, c) < 0:
							want = apikey.ErrAlphabet
						}
						if _, err := apikey.Parse(bad); err != want {
							t.Fatalf("Parse(key with byte %d set to %q) = %v, want %v", i, c, err, want)
						}
					}
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good := refKey("mpw_pk_", "abcdefghijABCDEFGHIJ0123456789")
	goodCRC := uint64(crc32.ChecksumIEEE([]byte(good[:37])))
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{name: "empty", token: "", want: apikey.ErrPrefix},
		{name: "other vendor", token: "ghp_abcdefghijABCDEFGHIJ0123456789abcdefghi", want: apikey.ErrPrefix},
		{name: "unknown kind", token: "mpw_xk_" + good[7:], want: apikey.ErrPrefix},
		{name: "upper case prefix", token: "MPW_PK_" + good[7:], want: apikey.ErrPrefix},
		{name: "truncated prefix", token: "mpw_pk", want: apikey.ErrPrefix},
		{name: "leading space", token: " " + good, want: apikey.ErrPrefix},
		{name: "prefix only", token: "mpw_pk_", want: apikey.ErrLength},
		{name: "one short", token: good[:42], want: apikey.ErrLength},
		{name: "one long", token: good + "0", want: apikey.ErrLength},
		{name: "trailing newline", token: good + "\n", want: apikey.ErrLength},
		{name: "dash in random part", token: flip(good, 10, '-'), want: apikey.ErrAlphabet},
		{name: "underscore in checksum", token: flip(good, 40, '_'), want: apikey.ErrAlphabet},
		{name: "non-ASCII letter", token: good[:20] + "é" + good[22:], want: apikey.ErrAlphabet},
		{name: "NUL byte", token: flip(good, 42, 0), want: apikey.ErrAlphabet},
		{name: "wrong checksum", token: good[:37] + "000000", want: apikey.ErrChecksum},
		{name: "kind swapped", token: "mpw_sk_" + good[7:], want: apikey.ErrChecksum},
		{name: "checksum plus 2^32", token: good[:37] + refBase62(goodCRC+1<<32, 6), want: apikey.ErrChecksum},
		{name: "largest checksum digits", token: good[:37] + "zzzzzz", want: apikey.ErrChecksum},
	}
	if _, err := apikey.Parse(good); err != nil {
		t.Fatalf("Parse(good) = %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := apikey.Parse(tc.token)
			// Identity, not errors.Is: the error must be the bare sentinel,
			// with nothing of the token added.
			if err != tc.want || k != 0 {
				t.Fatalf("Parse = %v, %v; want 0, %v", k, err, tc.want)
			}
			if apikey.Valid(tc.token) {
				t.Errorf("Valid = true")
			}
			if len(tc.token) > 11 && strings.Contains(err.Error(), tc.token[7:11]) {
				t.Errorf("error %q reveals part of the token", err)
			}
		})
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	good := refKey("mpw_sk_", "ZYXWVUTSRQzyxwvutsrq9876543210")
	tests := []struct {
		name  string
		token string
	}{
		{name: "valid", token: good},
		{name: "bad prefix", token: "xyz"},
		{name: "bad length", token: good[:40]},
		{name: "bad alphabet", token: flip(good, 9, '+')},
		{name: "bad checksum", token: flip(good, 42, '0')},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() { _, _ = apikey.Parse(tc.token) }); n != 0 {
				t.Errorf("Parse allocates %v times per call", n)
			}
		})
	}
}

func TestHash(t *testing.T) {
	tok := refKey("mpw_pk_", "abcdefghijABCDEFGHIJ0123456789")
	tests := []struct {
		name string
		in   string
	}{
		{name: "token", in: tok},
		{name: "empty", in: ""},
		{name: "64 bytes", in: strings.Repeat("x", 64)},
		{name: "65 bytes", in: strings.Repeat("y", 65)},
		{name: "long", in: strings.Repeat("mpw_", 1000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := sha256.Sum256([]byte(tc.in))
			if got := apikey.Hash(tc.in); got != want {
				t.Errorf("Hash = %x, want %x", got, want)
			}
			if got, want := apikey.HashHex(tc.in), hex.EncodeToString(want[:]); got != want {
				t.Errorf("HashHex = %q, want %q", got, want)
			}
		})
	}
	if apikey.Hash(tok) == apikey.Hash(flip(tok, 20, 'Q')) {
		t.Error("different tokens hash alike")
	}
	if n := testing.AllocsPerRun(100, func() { _ = apikey.Hash(tok) }); n != 0 {
		t.Errorf("Hash of a token allocates %v times", n)
	}
}

func TestStartAndRedact(t *testing.T) {
	pub := refKey("mpw_pk_", "AbCdefghijABCDEFGHIJ0123456789")
	sec := refKey("mpw_sk_", "WxYzefghijABCDEFGHIJ0123456789")
	tests := []struct {
		name   string
		in     string
		start  string
		redact string
	}{
		{name: "public key", in: pub, start: "mpw_pk_AbCd", redact: "mpw_pk_AbCd…"},
		{name: "secret key", in: sec, start: "mpw_sk_WxYz", redact: "mpw_sk_WxYz…"},
		{name: "bad checksum still shows start", in: pub[:37] + "000000", start: "mpw_pk_AbCd", redact: "mpw_pk_AbCd…"},
		{name: "key with trailing junk", in: pub + "secret-stuff", start: "mpw_pk_AbCd", redact: "mpw_pk_AbCd…"},
		{name: "empty", in: "", start: "", redact: apikey.Redacted},
		{name: "too short", in: "mpw_pk_Ab", start: "mpw_pk_Ab", redact: apikey.Redacted},
		{name: "three random characters", in: "mpw_sk_Abc", start: "mpw_sk_Abc", redact: apikey.Redacted},
		{name: "exactly the start", in: "mpw_sk_Abcd", start: "mpw_sk_Abcd", redact: "mpw_sk_Abcd…"},
		{name: "prefix only", in: "mpw_sk_", start: "mpw_sk_", redact: apikey.Redacted},
		{name: "not a key", in: "password=hunter2-and-more", start: "", redact: apikey.Redacted},
		{name: "other vendor", in: "ghp_0123456789abcdefghijklmnopqrstuvwxyz", start: "", redact: apikey.Redacted},
		{name: "unknown kind", in: "mpw_xk_abcdefghijklmnop", start: "mpw_", redact: apikey.Redacted},
		{name: "symbol in start", in: "mpw_pk_Ab-defghijklmnop", start: "mpw_pk_Ab", redact: apikey.Redacted},
		{name: "multibyte rune in start", in: "mpw_pk_Aé0123456789012345", start: "mpw_pk_A", redact: apikey.Redacted},
		{name: "terminal escape", in: "mpw_pk_\x1b[2Jabcdefghijkl", start: "mpw_pk_", redact: apikey.Redacted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, redact := apikey.Start(tc.in), apikey.Redact(tc.in)
			if start != tc.start {
				t.Errorf("Start = %q, want %q", start, tc.start)
			}
			if redact != tc.redact {
				t.Errorf("Redact = %q, want %q", redact, tc.redact)
			}
			checkRedaction(t, tc.in)
		})
	}
}

// checkRedaction asserts the leak bounds of Start and Redact for any input.
func checkRedaction(t *testing.T, in string) {
	t.Helper()
	start, redact := apikey.Start(in), apikey.Redact(in)
	if len(start) > apikey.StartLen || !strings.HasPrefix(in, start) {
		t.Errorf("Start(%q) = %q: not a prefix of at most 11 bytes", in, start)
	}
	if redact != apikey.Redacted && redact != start+"…" {
		t.Errorf("Redact(%q) = %q: neither %q nor Start+…", in, redact, apikey.Redacted)
	}
	if redact != apikey.Redacted && len(start) != apikey.StartLen {
		t.Errorf("Redact(%q) = %q shows an implausible start", in, redact)
	}
}

func TestKind(t *testing.T) {
	tests := []struct {
		name   string
		kind   apikey.Kind
		str    string
		prefix string
	}{
		{name: "public", kind: apikey.Public, str: "public", prefix: "mpw_pk_"},
		{name: "secret", kind: apikey.Secret, str: "secret", prefix: "mpw_sk_"},
		{name: "zero", kind: 0, str: "Kind(0)", prefix: ""},
		{name: "out of range", kind: 9, str: "Kind(9)", prefix: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.kind.String(); got != tc.str {
				t.Errorf("String = %q, want %q", got, tc.str)
			}
			if got := tc.kind.Prefix(); got != tc.prefix {
				t.Errorf("Prefix = %q, want %q", got, tc.prefix)
			}
			text, err := tc.kind.MarshalText()
			if tc.prefix == "" {
				if !errors.Is(err, apikey.ErrKind) {
					t.Errorf("MarshalText error = %v, want ErrKind", err)
				}
				return
			}
			var back apikey.Kind
			if err != nil || back.UnmarshalText(text) != nil || back != tc.kind {
				t.Errorf("text round trip: %q, %v -> %v", text, err, back)
			}
		})
	}
}

func TestParseKind(t *testing.T) {
	tests := []struct {
		in   string
		want apikey.Kind
		err  error
	}{
		{in: "public", want: apikey.Public},
		{in: "pk", want: apikey.Public},
		{in: "Public", want: apikey.Public},
		{in: "secret", want: apikey.Secret},
		{in: "sk", want: apikey.Secret},
		{in: "SECRET", want: apikey.Secret},
		{in: "", err: apikey.ErrKind},
		{in: "private", err: apikey.ErrKind},
		{in: "mpw_pk_", err: apikey.ErrKind},
		{in: " public", err: apikey.ErrKind},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := apikey.ParseKind(tc.in)
			if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("ParseKind(%q) = %v, %v; want %v, %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
	// A key pasted where a kind belongs must not be echoed.
	tok := refKey("mpw_sk_", "ZYXWVUTSRQzyxwvutsrq9876543210")
	if _, err := apikey.ParseKind(tok); err == nil || strings.Contains(err.Error(), tok[7:15]) {
		t.Errorf("ParseKind(key) error %v reveals the key", err)
	}
}

func TestPatternIsPublished(t *testing.T) {
	if apikey.Pattern != refPattern {
		t.Errorf("Pattern = %q, want the design's %q", apikey.Pattern, refPattern)
	}
	if apikey.TokenLen != 43 || apikey.StartLen != 11 {
		t.Errorf("TokenLen, StartLen = %d, %d; want 43, 11", apikey.TokenLen, apikey.StartLen)
	}
}
