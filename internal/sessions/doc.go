// Package sessions manages admin sessions and the TOTP second factor of
// secret keys for Mapwright's admin API.
//
// # Sessions
//
// A session is opened with a secret key (and a current TOTP code when that
// key has one enrolled). Its identifier is 32 random bytes; the client holds
// it in a cookie whose value is
//
//	base64url(id) "." base64url(HMAC-SHA256(session key, id))
//
// (unpadded URL-safe base64), and the server keeps only SHA-256(id), the key
// ID, the creation and last-seen times and the two expiries: 30 minutes idle
// and 12 hours absolute by default. A session acts with its key's scopes and
// stops working as soon as that key is revoked or expires. The MAC lets a
// forged or altered cookie be refused without a database lookup; the record
// makes every session revocable. The last-seen time is written at most once a
// minute, so the idle timeout is exact to about a minute.
//
// # Session key
//
// The session key is 32 random bytes in the file "session.key" in the data
// directory, written like the audit key: 64 lowercase hexadecimal characters
// and a newline, mode 0600, never replaced once created. A file readable or
// writable by group or others is refused. Replicas sharing a database must
// share this file (as they share "audit.key"): a replica with another key
// refuses every cookie the others issued and cannot read the TOTP secrets.
//
// # TOTP
//
// Codes follow RFC 6238 (TOTP over RFC 4226 HOTP) with HMAC-SHA1, 6 digits
// and a 30-second step, which every authenticator app supports. A code of the
// previous, current or next step is accepted, and each step's code only once
// per key (the last accepted step is stored), so an observed code cannot be
// replayed. Failed codes are limited per key, and failed logins per client
// network, in memory on each replica.
//
// TOTP secrets (20 random bytes) are stored sealed with AES-256-GCM under a
// key derived from the session key with HKDF-SHA256 (info "mapwright totp
// v1"), a random nonce per secret, and the key ID as additional data, so a
// sealed secret copied onto another key's row does not open.
package sessions
