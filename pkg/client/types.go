package client

import "time"

// This file is the wire contract of the admin API (/admin/v1/...). Field
// names are stable: scripts depend on them through `mwctl -o json`. Add
// fields; never rename or remove one.

// Key is an API key as the admin API shows it. It never carries the token,
// except in CreatedKey and RotatedKey, once.
type Key struct {
	ID           string            `json:"id" yaml:"id"`
	Name         string            `json:"name" yaml:"name"`
	Kind         string            `json:"kind" yaml:"kind"`   // "public" or "secret"
	Start        string            `json:"start" yaml:"start"` // display start, e.g. "mpw_pk_AbCd"
	State        string            `json:"state" yaml:"state"` // active, pending, expired, revoked
	Scopes       []string          `json:"scopes" yaml:"scopes"`
	Tilesets     []string          `json:"tilesets" yaml:"tilesets"` // empty: every tileset
	Origins      []string          `json:"origins" yaml:"origins"`   // empty: no browser use
	Rate         float64           `json:"rate" yaml:"rate"`         // requests/s; 0: server default
	Burst        int               `json:"burst" yaml:"burst"`       // 0: server default
	Labels       map[string]string `json:"labels" yaml:"labels"`
	TOTP         bool              `json:"totp" yaml:"totp"` // TOTP enrolled (secret keys)
	CreatedAt    time.Time         `json:"created_at" yaml:"created_at"`
	CreatedBy    string            `json:"created_by" yaml:"created_by"`
	NotBefore    *time.Time        `json:"not_before,omitempty" yaml:"not_before,omitempty"`
	ExpiresAt    *time.Time        `json:"expires_at,omitempty" yaml:"expires_at,omitempty"`
	RevokedAt    *time.Time        `json:"revoked_at,omitempty" yaml:"revoked_at,omitempty"`
	RevokedBy    string            `json:"revoked_by,omitempty" yaml:"revoked_by,omitempty"`
	RevokeReason string            `json:"revoke_reason,omitempty" yaml:"revoke_reason,omitempty"`
	Replaces     string            `json:"replaces,omitempty" yaml:"replaces,omitempty"`
	ReplacedBy   string            `json:"replaced_by,omitempty" yaml:"replaced_by,omitempty"`
	LastUsedAt   *time.Time        `json:"last_used_at,omitempty" yaml:"last_used_at,omitempty"`
}

// KeyList is one page of GET /admin/v1/keys.
type KeyList struct {
	Keys []Key  `json:"keys" yaml:"keys"`
	Next string `json:"next,omitempty" yaml:"next,omitempty"` // cursor of the next page; empty at the end
}

// ListKeysOptions are the query parameters of GET /admin/v1/keys:
// kind, state, expiring_within (Go duration), tileset, label (k=v,
// repeatable), cursor, limit.
type ListKeysOptions struct {
	Kind           string
	State          string
	ExpiringWithin time.Duration
	Tileset        string
	Labels         map[string]string
	Cursor         string
	Limit          int
}

// CreateKeyRequest is the body of POST /admin/v1/keys.
type CreateKeyRequest struct {
	Name      string            `json:"name"`
	Kind      string            `json:"kind"` // "public" (default) or "secret"
	Scopes    []string          `json:"scopes,omitempty"`
	Tilesets  []string          `json:"tilesets,omitempty"`
	Origins   []string          `json:"origins,omitempty"`
	Rate      float64           `json:"rate,omitempty"`
	Burst     int               `json:"burst,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	NotBefore *time.Time        `json:"not_before,omitempty"`
	ExpiresAt *time.Time        `json:"expires_at,omitempty"`
}

// CreatedKey answers POST /admin/v1/keys (201): the key and, once, its
// token.
type CreatedKey struct {
	Key
	Token string `json:"key" yaml:"key"`
}

// RotateKeyRequest is the body of POST /admin/v1/keys/{id}/rotate. Grace is
// a Go duration ("24h"); "0s" or empty ends the old key at once.
type RotateKeyRequest struct {
	Grace string `json:"grace"`
}

// RotatedKey answers POST /admin/v1/keys/{id}/rotate (201): the new key, its
// token once, and the old key's new expiry.
type RotatedKey struct {
	Key
	Token        string     `json:"key" yaml:"key"`
	OldExpiresAt *time.Time `json:"old_expires_at,omitempty" yaml:"old_expires_at,omitempty"`
}

// RevokeKeyRequest is the body of POST /admin/v1/keys/{id}/revoke.
type RevokeKeyRequest struct {
	Reason string `json:"reason"`
	// Leaked marks a key found exposed: the server records the
	// revocation as key.leak_revoked with Location, and the reason
	// becomes "leaked: LOCATION" (Reason is then ignored).
	Leaked bool `json:"leaked,omitempty"`
	// Location is where the key was found, e.g. "config.js:12:7"; needed
	// with Leaked.
	Location string `json:"location,omitempty"`
}

// RevokeResult answers POST /admin/v1/keys/{id}/revoke (200).
// AlreadyRevoked is true when the key was revoked before this call, in
// which case nothing changed.
type RevokeResult struct {
	Key            Key  `json:"key" yaml:"key"`
	AlreadyRevoked bool `json:"already_revoked" yaml:"already_revoked"`
}

// LookupRequest is the body of POST /admin/v1/keys/lookup: SHA-256 hashes of
// tokens, lowercase hex, at most 1000. Tokens themselves never travel.
type LookupRequest struct {
	Hashes []string `json:"hashes"`
}

// LookupResult is the state of one hash: State is "unknown" (with empty ID
// and Name) when no key of this server has that hash.
type LookupResult struct {
	Hash  string `json:"hash" yaml:"hash"`
	State string `json:"state" yaml:"state"`
	ID    string `json:"id,omitempty" yaml:"id,omitempty"`
	Name  string `json:"name,omitempty" yaml:"name,omitempty"`
	Kind  string `json:"kind,omitempty" yaml:"kind,omitempty"`
}

// LookupResponse answers POST /admin/v1/keys/lookup, one result per hash in
// request order.
type LookupResponse struct {
	Results []LookupResult `json:"results" yaml:"results"`
}

// TOTPEnrollment answers POST /admin/v1/keys/{id}/totp: the otpauth:// URI
// to load into an authenticator. Shown once.
type TOTPEnrollment struct {
	URI string `json:"uri" yaml:"uri"`
}

// LoginRequest is the body of POST /admin/v1/sessions.
type LoginRequest struct {
	Key  string `json:"key"`
	TOTP string `json:"totp,omitempty"`
}

// Session answers POST /admin/v1/sessions (201); the session itself travels
// in the Set-Cookie header.
type Session struct {
	ExpiresAt     time.Time `json:"expires_at" yaml:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at" yaml:"idle_expires_at"`
	KeyID         string    `json:"key_id" yaml:"key_id"`
}

// Tileset is one entry of GET /admin/v1/tilesets.
type Tileset struct {
	Name    string `json:"name" yaml:"name"`
	Path    string `json:"path" yaml:"path"`
	Format  string `json:"format,omitempty" yaml:"format,omitempty"`
	MinZoom int    `json:"minzoom" yaml:"minzoom"`
	MaxZoom int    `json:"maxzoom" yaml:"maxzoom"`
	Public  bool   `json:"public" yaml:"public"`
	Status  string `json:"status" yaml:"status"` // "ok" or "failed"
	Error   string `json:"error,omitempty" yaml:"error,omitempty"`
}

// TilesetList answers GET /admin/v1/tilesets and POST
// /admin/v1/tilesets/reload.
type TilesetList struct {
	Tilesets []Tileset `json:"tilesets" yaml:"tilesets"`
	Loaded   int       `json:"loaded" yaml:"loaded"`
	Failed   int       `json:"failed" yaml:"failed"`
}

// Status answers GET /admin/v1/status.
type Status struct {
	Version       string         `json:"version" yaml:"version"`
	StartedAt     time.Time      `json:"started_at" yaml:"started_at"`
	UptimeSeconds float64        `json:"uptime_seconds" yaml:"uptime_seconds"`
	Backend       string         `json:"backend" yaml:"backend"`
	SchemaVersion int            `json:"schema_version" yaml:"schema_version"`
	Ready         bool           `json:"ready" yaml:"ready"`
	Tilesets      TilesetCounts  `json:"tilesets" yaml:"tilesets"`
	Keys          map[string]int `json:"keys" yaml:"keys"` // by state
}

// TilesetCounts counts loaded and failed tilesets.
type TilesetCounts struct {
	Loaded int `json:"loaded" yaml:"loaded"`
	Failed int `json:"failed" yaml:"failed"`
}

// Problem is an RFC 9457 problem details body, the shape of every admin API
// error (Content-Type application/problem+json).
type Problem struct {
	Type   string `json:"type,omitempty"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// AuditEvent is one event of the audit log, as GET /admin/v1/audit, the
// audit stream and the JSON Lines export show it. Hash and PrevHash are
// lowercase hex; Details is never null.
type AuditEvent struct {
	Seq      int64             `json:"seq" yaml:"seq"`
	Time     time.Time         `json:"time" yaml:"time"`
	Actor    string            `json:"actor" yaml:"actor"`
	Action   string            `json:"action" yaml:"action"`
	Target   string            `json:"target" yaml:"target"`
	Outcome  string            `json:"outcome" yaml:"outcome"` // "success" or "failure"
	Details  map[string]string `json:"details" yaml:"details"`
	ClientIP string            `json:"client_ip" yaml:"client_ip"` // truncated to /24 or /48; may be empty
	Hash     string            `json:"hash" yaml:"hash"`
	PrevHash string            `json:"prev_hash" yaml:"prev_hash"`
}

// AuditQuery are the query parameters of GET /admin/v1/audit. Zero fields
// do not filter.
type AuditQuery struct {
	// Since and Until bound the event time: Since <= time < Until.
	Since, Until time.Time
	// Actor matches exactly, e.g. "key:key_01J..." or "unix:1000(alice)".
	Actor string
	// Action is a prefix: "key." matches every key event, "key.revoke"
	// that action.
	Action string
	// Target matches exactly, e.g. a key ID.
	Target string
	// Outcome is "success" or "failure".
	Outcome string
	// Order is "asc" (oldest first, the default) or "desc" (newest
	// first).
	Order string
	// Cursor is AuditPage.Next of the previous page.
	Cursor string
	// Limit is the page size, 1 to 1000; 0: the server's default (100).
	Limit int
}

// AuditPage answers GET /admin/v1/audit: one page of events in the
// requested order.
type AuditPage struct {
	Events []AuditEvent `json:"events" yaml:"events"`
	Next   string       `json:"next,omitempty" yaml:"next,omitempty"` // cursor of the next page; empty at the end
}

// AuditHead names one event of the chain by sequence and hash (lowercase
// hex): the head of a log, or a head remembered earlier.
type AuditHead struct {
	Seq  int64  `json:"seq" yaml:"seq"`
	Hash string `json:"hash" yaml:"hash"`
}

// AuditVerifyRequest is the body of POST /admin/v1/audit/verify. Every
// field is optional: the empty request verifies the whole retained log.
type AuditVerifyRequest struct {
	// From and To bound the sequences checked; 0: the first retained
	// event and the head.
	From int64 `json:"from,omitempty"`
	To   int64 `json:"to,omitempty"`
	// ExpectHead, when set, is an event remembered earlier (from a
	// checkpoint): the log must still hold it with that hash, which
	// catches a rewrite or a truncation since then.
	ExpectHead *AuditHead `json:"expect_head,omitempty"`
}

// AuditVerifyResult answers POST /admin/v1/audit/verify. A broken chain is
// a 200 answer with OK false, not an HTTP error.
type AuditVerifyResult struct {
	OK bool `json:"ok" yaml:"ok"`
	// Checked counts the events that verified before the first failure.
	Checked int64 `json:"checked" yaml:"checked"`
	// Start is the first sequence checked.
	Start int64 `json:"start" yaml:"start"`
	// Anchor says what the first event checked was chained to: "genesis"
	// (event 1), "prune" (the hash recorded by the last audit.prune
	// event) or "stored" (the event's own previous hash, for a check
	// starting at a given sequence).
	Anchor string `json:"anchor" yaml:"anchor"`
	// FirstBad is the sequence of the first event found edited, missing
	// or out of place; 0 when OK.
	FirstBad int64 `json:"first_bad,omitempty" yaml:"first_bad,omitempty"`
	// Reason explains the first failure; empty when OK.
	Reason string `json:"reason,omitempty" yaml:"reason,omitempty"`
	// Note tells what could not be checked although nothing failed, such
	// as a remembered head older than the retained log.
	Note string `json:"note,omitempty" yaml:"note,omitempty"`
	// Head is the last event that verified.
	Head AuditHead `json:"head" yaml:"head"`
}

// Checkpoint answers GET /admin/v1/audit/checkpoint: the head of the audit
// log signed with the server's ed25519 checkpoint key. Its signature
// covers exactly the text [Checkpoint.SignedText] returns. Keep
// checkpoints somewhere the server cannot write, and pin PublicKey: a
// later `verify` against a saved checkpoint proves the log still extends
// it.
type Checkpoint struct {
	// Origin names the log.
	Origin string `json:"origin" yaml:"origin"`
	// Size is the head's sequence: the number of events ever appended.
	Size int64 `json:"size" yaml:"size"`
	// Hash is the head event's hash, lowercase hex (64 digits), or empty
	// for an empty log.
	Hash string `json:"hash" yaml:"hash"`
	// Time is when the checkpoint was signed, whole seconds, UTC.
	Time time.Time `json:"time" yaml:"time"`
	// KeyID is the first 8 bytes of the SHA-256 of PublicKey, hex.
	KeyID string `json:"key_id" yaml:"key_id"`
	// PublicKey is the ed25519 public key, standard base64.
	PublicKey string `json:"public_key" yaml:"public_key"`
	// Signature is the ed25519 signature of SignedText, standard base64.
	Signature string `json:"signature" yaml:"signature"`
}

// AuditPruneRequest is the body of POST /admin/v1/audit/prune (scope
// admin): delete the events older than OlderThan (a Go duration, "720h").
type AuditPruneRequest struct {
	OlderThan string `json:"older_than"`
}

// AuditPruneResult answers POST /admin/v1/audit/prune. When nothing was
// old enough, Deleted is 0 and no audit.prune event was written.
type AuditPruneResult struct {
	// Deleted counts the events removed.
	Deleted int64 `json:"deleted" yaml:"deleted"`
	// CutSeq and CutHash name the last event removed: the first event kept
	// chains to CutHash.
	CutSeq  int64  `json:"cut_seq,omitempty" yaml:"cut_seq,omitempty"`
	CutHash string `json:"cut_hash,omitempty" yaml:"cut_hash,omitempty"`
	// Event is the sequence of the audit.prune event that records the cut.
	Event int64 `json:"event,omitempty" yaml:"event,omitempty"`
}
