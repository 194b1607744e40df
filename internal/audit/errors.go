package audit

import "errors"

// Sentinel errors. Test with errors.Is.
var (
	// ErrKeyMissing: the audit key file is absent although the database
	// already holds audit events or keys, so it must be restored.
	ErrKeyMissing = errors.New("audit key is missing")
	// ErrKeyInvalid: the audit key file exists but is not a valid key.
	ErrKeyInvalid = errors.New("audit key file is invalid")
	// ErrKeyPermissions: the audit key file is accessible by group or others.
	ErrKeyPermissions = errors.New("audit key file permissions are too open")
	// ErrKeyMismatch: the audit key file does not sign the database's audit
	// chain (another installation's key, or a replica given a key of its
	// own).
	ErrKeyMismatch = errors.New("audit key does not match the audit chain")
	// ErrKeySize: a key of the wrong length was handed to [New] or [Verify].
	ErrKeySize = errors.New("audit key must be 32 bytes")
	// ErrInvalidEvent: an event lacks a valid action or outcome.
	ErrInvalidEvent = errors.New("invalid audit event")
	// ErrInvalidOptions: [VerifyOptions] that contradict each other.
	ErrInvalidOptions = errors.New("invalid verify options")
	// ErrCorruptHead: the stored audit head is malformed (a hash that is not
	// 32 bytes), so no event can be chained onto it.
	ErrCorruptHead = errors.New("audit head is corrupt")
	// ErrInvalidCheckpoint: a checkpoint whose signature or fields do not
	// hold together.
	ErrInvalidCheckpoint = errors.New("invalid audit checkpoint")
	// ErrPruneRefused: pruning stopped because the part of the log it
	// would delete does not verify; deleting it would destroy the
	// evidence. Nothing was deleted.
	ErrPruneRefused = errors.New("audit log does not verify; not pruning")
)
