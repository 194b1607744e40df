package server

// Attribute keys of the request log and of error logs. Values never hold a
// full key (only apikey.Redact output) nor a full client address (only the
// /24 or /48 network).
const (
	attrMethod   = "method"
	attrRoute    = "route"
	attrPath     = "path"
	attrStatus   = "status"
	attrBytes    = "bytes"
	attrDuration = "duration"
	attrClient   = "client"
	attrKey      = "key"
	attrTileset  = "tileset"
	attrErr      = "err"
	attrPanic    = "panic"
	attrStack    = "stack"
)
