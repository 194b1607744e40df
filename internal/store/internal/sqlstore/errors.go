package sqlstore

import "errors"

// Sentinel errors of the shared backend helpers. Invalid caller input wraps
// store.ErrInvalid instead, so that callers outside the store can test it.
var (
	// ErrBadMigration: an embedded migration file set that is not numbered
	// 0001, 0002, ... without gaps, or whose files cannot be read.
	ErrBadMigration = errors.New("invalid migration set")
	// ErrAuditNotLocked: AppendAudit called before LockAuditHead in the
	// same transaction.
	ErrAuditNotLocked = errors.New("audit head not locked: call LockAuditHead before AppendAudit")
)
