// Package backup takes, encrypts, verifies, restores and prunes
// Mapwright backups.
//
// A backup is one file holding a consistent snapshot of every table of the
// database (see store.Store.Snapshot), the key files of the data directory
// (the audit key, and the session key when there is one) and a manifest,
// in a portable format that restores into either backend: a backup also
// moves a SQLite installation to PostgreSQL and back.
//
// # File
//
// A backup file is one of:
//
//   - an age file (age-encryption.org/v1) whose plaintext is the stream
//     below: encrypted to X25519 recipients, or with a passphrase
//     (scrypt). This is the normal case.
//   - the line "mapwright-backup-unencrypted\n" followed by the stream:
//     written only when no encryption was asked for explicitly. The key
//     files inside are then readable by anyone who can read the file.
//
// Backup directories name files mapwright-YYYYMMDDTHHMMSSZ.mwbak (UTC);
// files being written are hidden (".mapwright-...tmp") and appear under
// their final name only complete, synced, and atomically (see
// AtomicFile).
//
// # Stream, format version 1
//
// The plaintext stream is the 17 bytes "mapwright-backup\n" followed by
// records. A record is one byte of kind, its payload's length as a 32-bit
// big-endian unsigned integer, and the payload:
//
//	'H' header    JSON: {"format":"mapwright-backup","format_version":1,
//	              "backend":"sqlite"|"postgres","schema_version":N,
//	              "created":RFC 3339 time,"mapwright_version":"..."}
//	'P' part      JSON: {"name":..,"type":"table"|"file","table":..,
//	              "columns":[{"name":..,"type":"int"|"float"|"text"|"blob",
//	              "nullable":bool},...],"rows":0,"size":0,"sha256":""}
//	'D' data      the next bytes of the current part (at most 1 MiB)
//	'E' part end  JSON: {"name":..,"rows":N,"size":N,"sha256":hex}
//	'M' manifest  JSON: the header's fields plus "parts": every part's
//	              record with its rows, size and sha256, in stream order
//	'X' abort     JSON: {"error":".."}: the producer failed midway
//
// The header comes first and the manifest last; nothing follows the
// manifest. In between, each part is a 'P', any number of 'D', and an 'E'.
// The record framing and the header's "format" and "format_version" fields
// are fixed for every future version, so that a reader always recognises
// a newer format and says so. JSON records are at most 1 MiB.
//
// Parts, in this order: the key files as type "file", named as in the
// data directory ("audit.key" always, "session.key" when present), their
// bytes verbatim; then one part of type "table" per table of the schema
// version, in dependency order (store.SchemaTables), named
// "tables/NAME.jsonl". A part's size and SHA-256 cover its bytes; its rows
// are its lines.
//
// A table part is JSON Lines: one object per row, in primary key order,
// ending with a line feed, whose fields are the columns in order, named
// by column. Values: "int" a JSON integer (64-bit), "float" a JSON number
// or one of the strings "NaN", "Infinity", "-Infinity", "text" a JSON
// string (valid UTF-8), "blob" a JSON string of standard base64 with
// padding, and null for NULL. Times are integers of microseconds since the
// Unix epoch, as the store keeps them. The same database gives the same
// table parts, byte for byte, whichever backend holds it.
//
// # Checks
//
// A Reader checks the format version before anything else
// (ErrFormatTooNew), every part against its end record and the manifest
// against the parts (ErrCorrupt), and that the stream ends with its
// manifest (ErrTruncated). age authenticates every 64 KiB of the
// encrypted payload, so a changed byte is ErrCorrupt and a cut-off file
// ErrTruncated. Restore additionally checks every row's fields and types,
// the set of tables, and the restored audit chain with the backup's audit
// key, all before its transaction commits.
//
// # Audit events
//
// A backup taken through the admin API is recorded by the server
// (HandlerOptions.OnSnapshot, AuditHook) as backup.create, and so is each
// scheduled backup. A restore records backup.restore in the restored
// database itself, chained with the backup's audit key, as the last event
// of the restore's transaction. Verify records nothing: it runs offline,
// possibly far from the server, and its report is its record.
package backup
