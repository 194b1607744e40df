package backup

import "errors"

// Sentinel errors. Test with errors.Is; messages add what was found.
var (
	// ErrNotBackup: the input does not start like a backup (neither an
	// age file nor a Mapwright backup stream).
	ErrNotBackup = errors.New("not a Mapwright backup")
	// ErrFormatTooNew: the backup was written in a newer format version
	// than this program reads; a newer Mapwright reads it.
	ErrFormatTooNew = errors.New("backup format is newer than this program supports")
	// ErrTruncated: the backup ends before its manifest; it was cut short
	// (an interrupted copy, a full disk).
	ErrTruncated = errors.New("backup is truncated")
	// ErrCorrupt: the backup's content does not match its own records: a
	// hash, size or row count differs, a record is malformed, or the
	// encrypted payload fails authentication (a changed byte).
	ErrCorrupt = errors.New("backup is corrupt")
	// ErrAborted: the producer of the backup stream (the server) failed
	// midway and said so in the stream.
	ErrAborted = errors.New("backup was aborted while it was written")
	// ErrEncrypted: the backup is encrypted and no identity or passphrase
	// was given to open it.
	ErrEncrypted = errors.New("backup is encrypted")
	// ErrWrongKey: none of the identities or the passphrase given opens
	// the backup.
	ErrWrongKey = errors.New("wrong passphrase or identity for this backup")
	// ErrAuditChain: the audit log inside the backup does not verify with
	// the audit key inside the backup.
	ErrAuditChain = errors.New("audit chain in the backup does not verify")
	// ErrKeyConflict: the data directory already holds a different key
	// file than the backup's, and replacing it was not forced.
	ErrKeyConflict = errors.New("data directory holds a different key file")
	// ErrBusy: a backup is already being taken by this server.
	ErrBusy = errors.New("a backup is already running")
	// ErrNoKeepRule: a prune was asked for without any keep rule, which
	// would delete every backup.
	ErrNoKeepRule = errors.New("no keep rule given")
	// ErrEncryption: the encryption settings contradict each other or are
	// missing (say, recipients and a passphrase at once, or neither
	// without the explicit choice of no encryption).
	ErrEncryption = errors.New("invalid encryption settings")
)
