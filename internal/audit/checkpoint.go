package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mapwright/mapwright/internal/secretfile"
	"github.com/mapwright/mapwright/internal/store"
)

// CheckpointKeyFileName is the checkpoint signing key's file name inside
// the data directory.
const CheckpointKeyFileName = "checkpoint.key"

// DefaultCheckpointOrigin is the origin line of the checkpoints
// [LoadOrCreateSigner]'s signer makes.
const DefaultCheckpointOrigin = "mapwright audit log"

// checkpointFormat opens the signed text; a future format changes it.
const checkpointFormat = "mapwright audit checkpoint v1"

// Signer signs checkpoints of the audit log with an ed25519 key. A
// checkpoint kept outside the server proves later that the log still
// extends it: [Verify] with the checkpoint as ExpectHead fails if the log
// was rewritten or truncated since.
//
// # Signed text
//
// The signature covers exactly these five lines, each ended by a line feed:
//
//	mapwright audit checkpoint v1
//	<origin>
//	<size: the head's sequence, decimal>
//	<head hash: 64 lowercase hexadecimal digits; empty for an empty log>
//	<time: RFC 3339 in UTC, whole seconds>
//
// # Key
//
// The key lives in the data directory in the file "checkpoint.key", mode
// 0600, as the 32-byte ed25519 seed written as 64 hexadecimal digits and a
// line feed (the format of the audit key). Operators should pin its public
// key (served with every checkpoint) where they keep checkpoints. Replicas
// sharing a database must share the file.
type Signer struct {
	priv   ed25519.PrivateKey
	origin string
	keyID  string
}

// LoadOrCreateSigner returns the signer whose key is in
// dataDir/checkpoint.key, creating the file with a new random key (mode
// 0600, never overwriting one written concurrently) when it is absent.
// A file that is not a key, or that group or others may access, is an
// error wrapping [ErrKeyInvalid] or [ErrKeyPermissions].
func LoadOrCreateSigner(dataDir string) (*Signer, error) {
	path := filepath.Join(dataDir, CheckpointKeyFileName)
	seed, err := secretfile.Kind{Label: "checkpoint key", Invalid: ErrKeyInvalid, Permissions: ErrKeyPermissions}.
		ReadOrCreate(dataDir, path)
	if err != nil {
		return nil, err
	}
	return NewSigner(seed, DefaultCheckpointOrigin)
}

// NewSigner returns a signer with the ed25519 key of seed (32 bytes) whose
// checkpoints name origin, a single line.
func NewSigner(seed []byte, origin string) (*Signer, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("checkpoint key: %d bytes, want %d: %w", len(seed), ed25519.SeedSize, ErrKeyInvalid)
	}
	if origin == "" || strings.ContainsAny(origin, "\r\n") {
		return nil, fmt.Errorf("checkpoint origin %q: want one non-empty line: %w", origin, ErrInvalidCheckpoint)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return &Signer{priv: priv, origin: origin, keyID: CheckpointKeyID(priv.Public().(ed25519.PublicKey))}, nil
}

// PublicKey returns the signer's public key.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// KeyID returns the signer's key ID (see [CheckpointKeyID]).
func (s *Signer) KeyID() string { return s.keyID }

// Checkpoint is a signed statement that the audit log's head was at Size
// with hash Hash at Time.
type Checkpoint struct {
	// Origin names the log.
	Origin string
	// Size is the head's sequence.
	Size int64
	// Hash is the head event's hash; nil for an empty log.
	Hash []byte
	// Time is when it was signed, whole seconds, UTC.
	Time time.Time
	// KeyID identifies PublicKey.
	KeyID string
	// PublicKey verifies Signature.
	PublicKey ed25519.PublicKey
	// Signature is the ed25519 signature of [CheckpointText].
	Signature []byte
}

// Head returns the checkpoint's head, for [VerifyOptions.ExpectHead].
func (c Checkpoint) Head() store.AuditHead { return store.AuditHead{Seq: c.Size, Hash: c.Hash} }

// CheckpointKeyID returns the key ID of a public key: the first 8 bytes of
// its SHA-256, lowercase hex.
func CheckpointKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// CheckpointText returns the text a checkpoint's signature covers (see
// [Signer]).
func CheckpointText(origin string, size int64, hash []byte, t time.Time) []byte {
	return []byte(checkpointFormat + "\n" + origin + "\n" + strconv.FormatInt(size, 10) + "\n" +
		hex.EncodeToString(hash) + "\n" + t.UTC().Format(time.RFC3339) + "\n")
}

// Sign returns a checkpoint of head signed at time now (truncated to the
// second).
func (s *Signer) Sign(head store.AuditHead, now time.Time) Checkpoint {
	t := now.UTC().Truncate(time.Second)
	c := Checkpoint{
		Origin:    s.origin,
		Size:      head.Seq,
		Hash:      append([]byte(nil), head.Hash...),
		Time:      t,
		KeyID:     s.keyID,
		PublicKey: s.PublicKey(),
	}
	if head.Seq == 0 {
		c.Hash = nil
	}
	c.Signature = ed25519.Sign(s.priv, CheckpointText(c.Origin, c.Size, c.Hash, c.Time))
	return c
}

// Checkpoint reads the head of the log in r and signs it at now.
func (s *Signer) Checkpoint(ctx context.Context, r store.Reader, now time.Time) (Checkpoint, error) {
	head, err := r.AuditHead(ctx)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint audit log: %w", err)
	}
	if head.Seq > 0 && len(head.Hash) != sha256.Size {
		return Checkpoint{}, fmt.Errorf("checkpoint audit log: head %d has a %d-byte hash: %w", head.Seq, len(head.Hash), ErrCorruptHead)
	}
	return s.Sign(head, now), nil
}

// Verify checks the checkpoint's signature with its own public key and
// that its fields are well formed; the caller decides whether it trusts
// that key. Errors wrap [ErrInvalidCheckpoint].
func (c Checkpoint) Verify() error {
	if len(c.PublicKey) != ed25519.PublicKeySize {
		return fmt.Errorf("checkpoint public key is %d bytes: %w", len(c.PublicKey), ErrInvalidCheckpoint)
	}
	if c.KeyID != CheckpointKeyID(c.PublicKey) {
		return fmt.Errorf("checkpoint key ID %q does not match its public key: %w", c.KeyID, ErrInvalidCheckpoint)
	}
	if c.Size < 0 || (c.Size == 0) != (len(c.Hash) == 0) || (c.Size > 0 && len(c.Hash) != sha256.Size) {
		return fmt.Errorf("checkpoint size %d with a %d-byte hash: %w", c.Size, len(c.Hash), ErrInvalidCheckpoint)
	}
	if !ed25519.Verify(c.PublicKey, CheckpointText(c.Origin, c.Size, c.Hash, c.Time), c.Signature) {
		return fmt.Errorf("checkpoint signature does not match: %w", ErrInvalidCheckpoint)
	}
	return nil
}
