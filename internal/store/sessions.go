package store

import (
	"context"
	"time"
)

// Session is the server-side record of an admin session. The session's
// secret identifier travels only in the client's cookie; the store keeps its
// SHA-256, so a copy of the database cannot be turned into a live session.
type Session struct {
	// Hash is the SHA-256 of the session's secret identifier.
	Hash [32]byte
	// KeyID is the secret key that opened the session; the session acts
	// with that key's scopes and ends when the key stops being active.
	KeyID string
	// CreatedAt is when the session was opened.
	CreatedAt time.Time
	// LastSeenAt is when the session was last used (coarse: refreshed at
	// most about once a minute).
	LastSeenAt time.Time
	// IdleExpiresAt is when the session ends unless it is used before:
	// LastSeenAt plus the idle timeout, never after ExpiresAt.
	IdleExpiresAt time.Time
	// ExpiresAt is the absolute end of the session, however busy.
	ExpiresAt time.Time
}

// Expired reports whether the session has ended at now, by idleness or
// by its absolute expiry.
func (s *Session) Expired(now time.Time) bool {
	return !now.Before(s.ExpiresAt) || !now.Before(s.IdleExpiresAt)
}

// TOTPSecret is the TOTP second factor enrolled for a secret key. The
// secret is sealed (encrypted and authenticated) by the caller before it
// reaches the store; the store never sees it in the clear.
type TOTPSecret struct {
	// KeyID is the key the secret belongs to; one secret per key.
	KeyID string
	// Sealed is the encrypted secret, opaque to the store.
	Sealed []byte
	// CreatedAt is when the secret was enrolled.
	CreatedAt time.Time
	// LastStep is the TOTP time step of the last code accepted, 0 when
	// none was; a code of this step or an earlier one is a replay.
	LastStep int64
}

// SessionReader holds the session and TOTP queries, available both on a
// Store and inside a Tx.
type SessionReader interface {
	// GetSession returns the session whose identifier hashes to hash, or
	// an error wrapping ErrNotFound. Expired sessions are returned too
	// until they are pruned; check [Session.Expired].
	GetSession(ctx context.Context, hash [32]byte) (Session, error)
	// GetTOTP returns the TOTP secret of key keyID, or an error wrapping
	// ErrNotFound when none is enrolled. Inside a Tx on PostgreSQL the row
	// is locked until the transaction ends.
	GetTOTP(ctx context.Context, keyID string) (TOTPSecret, error)
	// TOTPEnrolled reports which of keyIDs have a TOTP secret: the map
	// holds true for those that do and nothing for the others. At most
	// 1000 IDs per call (ErrInvalid beyond).
	TOTPEnrolled(ctx context.Context, keyIDs []string) (map[string]bool, error)
	// CountTOTP returns the number of enrolled TOTP secrets.
	CountTOTP(ctx context.Context) (int, error)
}

// SessionTx holds the session and TOTP changes of a Tx.
type SessionTx interface {
	// InsertSession adds a session. A duplicate hash is an error wrapping
	// ErrConflict; an unknown KeyID one wrapping ErrNotFound.
	InsertSession(ctx context.Context, s Session) error
	// DeleteSession removes the session whose identifier hashes to hash,
	// or returns an error wrapping ErrNotFound when there is none.
	DeleteSession(ctx context.Context, hash [32]byte) error
	// PutTOTP enrols t.Sealed for key t.KeyID, replacing any earlier
	// secret of that key (and its LastStep). An unknown KeyID is an error
	// wrapping ErrNotFound.
	PutTOTP(ctx context.Context, t TOTPSecret) error
	// AdvanceTOTPStep records that a code of time step step was accepted
	// for key keyID. It succeeds only when step is greater than the stored
	// LastStep, atomically, so a code is accepted once even when replicas
	// race: otherwise the error wraps ErrConflict. A key without TOTP gives
	// an error wrapping ErrNotFound.
	AdvanceTOTPStep(ctx context.Context, keyID string, step int64) error
}

// SessionStore holds the session maintenance done outside transactions.
type SessionStore interface {
	// TouchSession moves a session's LastSeenAt and IdleExpiresAt forward
	// (never back). An unknown hash is an error wrapping ErrNotFound.
	TouchSession(ctx context.Context, hash [32]byte, lastSeen, idleExpiresAt time.Time) error
	// DeleteExpiredSessions removes every session that has ended at now
	// (idle or absolute expiry) and returns how many it removed.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}

// MaxBatch bounds the number of IDs or hashes one batch query takes
// ([Reader.GetKeysByHashes], [SessionReader.TOTPEnrolled]).
const MaxBatch = 1000
