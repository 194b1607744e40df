package tiles

// Attribute keys of the catalog's log records.
const (
	logKeyTileset  = "tileset"
	logKeyPath     = "path"
	logKeyError    = "error"
	logKeyWarning  = "warning"
	logKeyLoaded   = "loaded"
	logKeyFailed   = "failed"
	logKeyReused   = "reused"
	logKeyDir      = "dir"
	logKeyDuration = "duration"
)
