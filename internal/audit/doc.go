// Package audit keeps Mapwright's tamper-evident audit log: an append-only
// sequence of security events chained with HMAC-SHA256, so that editing,
// deleting, inserting, reordering or truncating stored events is detected
// by [Verify] as long as the audit key stays secret.
//
// # Audit key
//
// The HMAC key is 32 random bytes kept in the file "audit.key" in the data
// directory, beside the database and never inside it (see [LoadOrCreateKey]).
// The file holds the key as 64 lowercase hexadecimal characters followed by
// a newline; surrounding white space is ignored when reading. The file must
// not be readable or writable by group or others (mode 0600). Losing the file
// makes the existing chain unverifiable, so it belongs in every backup.
//
// # Chain
//
// Events are numbered from 1 without gaps. For event n:
//
//	hash(n) = HMAC-SHA256(key, prev_hash(n) || canonical(n))
//	prev_hash(n) = hash(n-1), and prev_hash(1) = 32 zero bytes
//
// # Canonical encoding
//
// canonical(n) is the byte string built by [Canonical]; it is published so
// that third parties holding the key can verify an exported log. Integers are
// big-endian. A "string" is its length in bytes as an unsigned 64-bit integer
// followed by its bytes (UTF-8, unmodified). In this order:
//
//  1. the 8 ASCII bytes "mwaudit1" (format tag and version)
//  2. seq: signed 64-bit integer
//  3. time: signed 64-bit integer, microseconds since 1970-01-01T00:00:00Z
//  4. actor: string
//  5. action: string
//  6. target: string
//  7. outcome: string
//  8. details: the number of entries as an unsigned 64-bit integer, then for
//     each entry in ascending byte-wise order of keys: key as a string, value
//     as a string (an absent and an empty details map encode alike)
//  9. client_ip: string (already truncated, see [TruncateIP]; empty if none)
//
// Every variable-length field carries its length and the fields come in a
// fixed order, so two events that differ in any field encode differently.
//
// # Retention
//
// [Log.Prune] (run daily by a [Pruner] with the configured retention, or
// on demand) deletes the oldest events in one transaction and appends an
// audit.prune event whose details record the cut: "cut_seq" and
// "cut_hash" (hex) name the last event deleted, "deleted" counts them and
// "before" is the cut-off time. [Verify] of the whole log then starts at
// the first event kept and checks that it chains to the cut_hash of the
// newest audit.prune event, whose own hash it checks first. Deleting old
// events without the audit key cannot produce such an event, so it is
// reported. Events that do not verify are never pruned.
//
// # Checkpoints
//
// A [Signer] signs the chain's head with an ed25519 key kept in
// "checkpoint.key" in the data directory (see [Signer] for the signed
// text). A checkpoint kept outside the server, passed back as
// [VerifyOptions.ExpectHead], catches what the chain alone cannot: the
// newest events deleted and the stored head moved back.
//
// # Client addresses
//
// Client IP addresses are truncated before they are hashed and stored: IPv4
// to its /24 network, IPv6 to its /48 (an IPv4-mapped IPv6 address counts as
// IPv4), written as the network's first address, e.g. "203.0.113.0" and
// "2001:db8:1::".
package audit
