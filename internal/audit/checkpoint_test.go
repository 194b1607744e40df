package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/mapwright/mapwright/pkg/client"
)

func TestLoadOrCreateSignerKeepsOneKey(t *testing.T) {
	dir := t.TempDir()
	s1, err := LoadOrCreateSigner(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, CheckpointKeyFileName)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("checkpoint key mode %04o, want 0600", info.Mode().Perm())
	}
	s2, err := LoadOrCreateSigner(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !s1.PublicKey().Equal(s2.PublicKey()) || s1.KeyID() != s2.KeyID() {
		t.Fatal("reloading the checkpoint key gave another key")
	}
	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateSigner(dir); !errors.Is(err, ErrKeyPermissions) {
			t.Errorf("world-readable checkpoint key: %v, want ErrKeyPermissions", err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSigner(dir); !errors.Is(err, ErrKeyInvalid) {
		t.Errorf("garbage checkpoint key: %v, want ErrKeyInvalid", err)
	}
}

func testSigner(t *testing.T) *Signer {
	t.Helper()
	s, err := NewSigner(bytes.Repeat([]byte{7}, ed25519.SeedSize), DefaultCheckpointOrigin)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheckpointSignsTheHead(t *testing.T) {
	st, _ := openSQLite(t)
	appendN(t, New(testKey, newClock().Now), st, 4)
	head, err := st.AuditHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := testSigner(t)
	now := time.Date(2025, 6, 1, 10, 20, 30, 999_000_000, time.FixedZone("x", 3600))
	cp, err := s.Checkpoint(context.Background(), st, now)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 4 || !bytes.Equal(cp.Hash, head.Hash) || !cp.Time.Equal(time.Date(2025, 6, 1, 9, 20, 30, 0, time.UTC)) {
		t.Fatalf("checkpoint %+v does not name the head at whole seconds UTC", cp)
	}
	want := "mapwright audit checkpoint v1\nmapwright audit log\n4\n" + hex.EncodeToString(head.Hash) + "\n2025-06-01T09:20:30Z\n"
	if got := string(CheckpointText(cp.Origin, cp.Size, cp.Hash, cp.Time)); got != want {
		t.Fatalf("signed text\n%q\nwant\n%q", got, want)
	}
	if err := cp.Verify(); err != nil {
		t.Fatal(err)
	}

	// The public client checks the same text and signature.
	wire := client.Checkpoint{
		Origin: cp.Origin, Size: cp.Size, Hash: hex.EncodeToString(cp.Hash), Time: cp.Time, KeyID: cp.KeyID,
		PublicKey: base64.StdEncoding.EncodeToString(cp.PublicKey), Signature: base64.StdEncoding.EncodeToString(cp.Signature),
	}
	if string(wire.SignedText()) != want {
		t.Fatalf("the client's signed text differs:\n%q", wire.SignedText())
	}
	if err := wire.Verify(wire.PublicKey); err != nil {
		t.Fatalf("client verification: %v", err)
	}

	tampered := []struct {
		name string
		edit func(*Checkpoint)
	}{
		{"size", func(c *Checkpoint) { c.Size++ }},
		{"hash", func(c *Checkpoint) { c.Hash = bytes.Repeat([]byte{1}, 32) }},
		{"time", func(c *Checkpoint) { c.Time = c.Time.Add(time.Second) }},
		{"origin", func(c *Checkpoint) { c.Origin = "another log" }},
		{"signature", func(c *Checkpoint) { c.Signature = append([]byte{c.Signature[0] ^ 1}, c.Signature[1:]...) }},
		{"other key", func(c *Checkpoint) {
			other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32)).Public().(ed25519.PublicKey)
			c.PublicKey, c.KeyID = other, CheckpointKeyID(other)
		}},
		{"key ID", func(c *Checkpoint) { c.KeyID = "0000000000000000" }},
	}
	for _, tc := range tampered {
		t.Run(tc.name, func(t *testing.T) {
			c := cp
			c.Hash = append([]byte(nil), cp.Hash...)
			tc.edit(&c)
			if err := c.Verify(); !errors.Is(err, ErrInvalidCheckpoint) {
				t.Fatalf("tampered %s: %v, want ErrInvalidCheckpoint", tc.name, err)
			}
		})
	}
}

func TestCheckpointOfEmptyLog(t *testing.T) {
	st, _ := openSQLite(t)
	cp, err := testSigner(t).Checkpoint(context.Background(), st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 0 || cp.Hash != nil {
		t.Fatalf("empty log checkpoint: %+v", cp)
	}
	if err := cp.Verify(); err != nil {
		t.Fatal(err)
	}
	res := mustVerify(t, st, testKey, VerifyOptions{ExpectHead: cp.Head()})
	if !res.OK {
		t.Fatalf("verify against an empty checkpoint: %+v", res)
	}
}

// TestCheckpointCatchesTruncation is the reason checkpoints exist: the
// chain alone cannot tell a log whose newest events were deleted (and the
// head moved back) from a shorter log.
func TestCheckpointCatchesTruncation(t *testing.T) {
	st, raw := openSQLite(t)
	appendN(t, New(testKey, newClock().Now), st, 8)
	cp, err := testSigner(t).Checkpoint(context.Background(), st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	exec(t, raw,
		"DELETE FROM audit_events WHERE seq > 5",
		"UPDATE audit_head SET seq = 5, hash = (SELECT hash FROM audit_events WHERE seq = 5)")
	if res := mustVerify(t, st, testKey, VerifyOptions{}); !res.OK {
		t.Fatalf("without the checkpoint the truncation should pass unnoticed; got %+v", res)
	}
	res := mustVerify(t, st, testKey, VerifyOptions{ExpectHead: cp.Head()})
	if res.OK || res.FirstBad != 8 {
		t.Fatalf("with the checkpoint: %+v, want first bad 8", res)
	}
}

func TestNewSignerRejectsBadInput(t *testing.T) {
	cases := []struct {
		name   string
		seed   []byte
		origin string
		want   error
	}{
		{"short seed", []byte{1, 2}, "o", ErrKeyInvalid},
		{"empty origin", bytes.Repeat([]byte{1}, 32), "", ErrInvalidCheckpoint},
		{"origin with a line break", bytes.Repeat([]byte{1}, 32), "a\nb", ErrInvalidCheckpoint},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewSigner(tc.seed, tc.origin); !errors.Is(err, tc.want) {
				t.Fatalf("NewSigner: %v, want %v", err, tc.want)
			}
		})
	}
}
