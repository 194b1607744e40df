package audit

// Action names. They are stable: exported logs, alerts and scripts match on
// them, so an existing name never changes meaning.
const (
	// ActionKeyCreate: a key was issued (target: key ID).
	ActionKeyCreate = "key.create"
	// ActionKeyRotate: a key was replaced by a new one (target: old key ID).
	ActionKeyRotate = "key.rotate"
	// ActionKeyRevoke: a key was revoked (target: key ID).
	ActionKeyRevoke = "key.revoke"
	// ActionKeyExpire: a key's expiry was recorded by the sweep (actor: system).
	ActionKeyExpire = "key.expire"
	// ActionKeyLeakRevoked: a key found exposed was revoked (target: key ID).
	ActionKeyLeakRevoked = "key.leak_revoked"
	// ActionKeyMisuse: a secret key was presented on the public listener,
	// where it never belongs (aggregated like auth.failure).
	ActionKeyMisuse = "key.misuse"
	// ActionAuthFailure: failed authentications, aggregated per key and reason per minute.
	ActionAuthFailure = "auth.failure"
	// ActionAdminLogin: an admin session was opened.
	ActionAdminLogin = "admin.login"
	// ActionAdminLoginFail: an admin login was refused.
	ActionAdminLoginFail = "admin.login_failure"
	// ActionSessionEnd: an admin session ended (logout or expiry).
	ActionSessionEnd = "session.end"
	// ActionBackupCreate: a backup was written.
	ActionBackupCreate = "backup.create"
	// ActionBackupRestore: a backup was restored.
	ActionBackupRestore = "backup.restore"
	// ActionBackupVerify: a backup was verified.
	ActionBackupVerify = "backup.verify"
	// ActionAuditExport: the audit log was exported.
	ActionAuditExport = "audit.export"
	// ActionAuditPrune: old audit events were pruned, leaving a checkpoint.
	ActionAuditPrune = "audit.prune"
	// ActionConfigReload: the configuration was reloaded.
	ActionConfigReload = "config.reload"
	// ActionTilesetReload: the tileset catalogue was reloaded.
	ActionTilesetReload = "tileset.reload"
	// ActionServerStart: the daemon started.
	ActionServerStart = "server.start"
	// ActionServerStop: the daemon stopped.
	ActionServerStop = "server.stop"
)

// Outcomes of an event.
const (
	// OutcomeSuccess: the action happened.
	OutcomeSuccess = "success"
	// OutcomeFailure: the action was attempted and refused or failed.
	OutcomeFailure = "failure"
)

// Actions lists every action name defined by this package, in the order
// above; useful for validation and documentation.
func Actions() []string {
	return []string{
		ActionKeyCreate, ActionKeyRotate, ActionKeyRevoke, ActionKeyExpire,
		ActionKeyLeakRevoked, ActionKeyMisuse, ActionAuthFailure,
		ActionAdminLogin, ActionAdminLoginFail, ActionSessionEnd,
		ActionBackupCreate, ActionBackupRestore, ActionBackupVerify,
		ActionAuditExport, ActionAuditPrune, ActionConfigReload,
		ActionTilesetReload, ActionServerStart, ActionServerStop,
	}
}
