package backup

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func TestEncryptionCheck(t *testing.T) {
	id := newIdentity(t)
	cases := []struct {
		name string
		enc  Encryption
		ok   bool
	}{
		{"nothing", Encryption{}, false},
		{"recipient", Encryption{Recipients: []age.Recipient{id.Recipient()}}, true},
		{"passphrase", Encryption{Passphrase: "p"}, true},
		{"none", Encryption{None: true}, true},
		{"recipient and passphrase", Encryption{Recipients: []age.Recipient{id.Recipient()}, Passphrase: "p"}, false},
		{"passphrase and none", Encryption{Passphrase: "p", None: true}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.enc.Check()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrEncryption)) {
				t.Errorf("Check() = %v, want ok=%t", err, tc.ok)
			}
		})
	}
}

func TestOpenAndInspect(t *testing.T) {
	plain, _ := sampleStream(t)
	a, b := newIdentity(t), newIdentity(t)
	cases := []struct {
		name     string
		file     []byte
		keys     Keys
		describe string
	}{
		{"two recipients, second identity", encrypt(t, plain, Encryption{Recipients: []age.Recipient{a.Recipient(), b.Recipient()}}),
			Keys{Identities: []age.Identity{b}}, "age (2 X25519 recipients)"},
		{"passphrase", encrypt(t, plain, passphrase("pw")), Keys{Passphrase: "pw"}, "age (passphrase)"},
		{"identity and passphrase both given", encrypt(t, plain, passphrase("pw")), Keys{Identities: []age.Identity{a}, Passphrase: "pw"}, "age (passphrase)"},
		{"unencrypted", encrypt(t, plain, Encryption{None: true}), Keys{}, "none"},
		{"unencrypted, compressed", encrypt(t, plain, Encryption{None: true, Compress: true}), Keys{}, "none"},
		{"identity, compressed", encrypt(t, plain, Encryption{Recipients: []age.Recipient{a.Recipient()}, Compress: true}),
			Keys{Identities: []age.Identity{a}}, "age (1 X25519 recipient)"},
		{"bare stream", plain, Keys{}, "none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prot, err := Inspect(bytes.NewReader(tc.file))
			if err != nil || prot.String() != tc.describe {
				t.Errorf("Inspect = %q, %v; want %q", prot, err, tc.describe)
			}
			r, prot2, err := Open(bytes.NewReader(tc.file), tc.keys)
			if err != nil {
				t.Fatal(err)
			}
			if prot2.String() != tc.describe || prot2.Compressed != strings.Contains(tc.name, "compressed") {
				t.Errorf("Open protection %q, compressed %t", prot2, prot2.Compressed)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("plaintext differs (%d bytes, want %d): %v", len(got), len(plain), err)
			}
		})
	}
	if !strings.HasPrefix(string(encrypt(t, plain, Encryption{None: true})), "mapwright-backup-unencrypted\n") {
		t.Error("an unencrypted file does not say so on its first line")
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	id := newIdentity(t)
	idFile := filepath.Join(dir, "id.txt")
	recFile := filepath.Join(dir, "recipients.txt")
	os.WriteFile(idFile, []byte("# created: today\n"+id.String()+"\n"), 0o600)
	os.WriteFile(recFile, []byte("# ops team\n\n"+id.Recipient().String()+"\n"), 0o600)
	ids, err := ReadIdentityFile(idFile)
	if err != nil || len(ids) != 1 {
		t.Fatalf("ReadIdentityFile = %v, %v", ids, err)
	}
	rs, err := ReadRecipientsFile(recFile)
	if err != nil || len(rs) != 1 {
		t.Fatalf("ReadRecipientsFile = %v, %v", rs, err)
	}
	os.WriteFile(idFile, []byte("AGE-SECRET-KEY-1NOTAKEY\n"), 0o600)
	_, err = ReadIdentityFile(idFile)
	if !errors.Is(err, ErrEncryption) || strings.Contains(err.Error(), "NOTAKEY") {
		t.Errorf("bad identity file: %v (must not echo the content)", err)
	}
	if _, err := ParseRecipients([]string{"age1notarecipient"}); !errors.Is(err, ErrEncryption) {
		t.Errorf("bad recipient: %v", err)
	}
	if rs, err := ParseRecipients([]string{" " + id.Recipient().String() + "\n"}); err != nil || len(rs) != 1 {
		t.Errorf("recipient with spaces: %v, %v", rs, err)
	}
}

// FuzzParseAgeHeader reads arbitrary bytes as an age header: no panic,
// every error classified, and an accepted header is a prefix of the input
// that ends with its MAC line.
func FuzzParseAgeHeader(f *testing.F) {
	plain := []byte(streamMagic)
	id := newIdentity(f)
	f.Add(encrypt(f, plain, Encryption{Recipients: []age.Recipient{id.Recipient(), newIdentity(f).Recipient()}}))
	f.Add(encrypt(f, plain, passphrase("x")))
	f.Add([]byte("age-encryption.org/v1\n-> X25519\n\n--- abc\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		stanzas, raw, err := ParseAgeHeader(bufioReader(b))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrNotBackup) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if len(stanzas) == 0 || !bytes.HasPrefix(b, raw) || !bytes.Contains(raw, []byte("\n--- ")) {
			t.Fatalf("accepted %q as a header of %v", raw, stanzas)
		}
	})
}
