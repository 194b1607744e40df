package common

// Attribute keys of the dashboard's logs that package logging does not
// define; the others (logging.KeyErr, logging.KeyKeyID, ...) come from
// there.
const (
	// LogKeyName is a key's name.
	LogKeyName = "name"
	// LogKeyNewKeyID is the id of the key a rotation issued.
	LogKeyNewKeyID = "new_key_id"
	// LogKeyReload marks a tileset list that answered a reload.
	LogKeyReload = "reload"
	// LogKeyRetryIn is the wait before a lost stream is retried.
	LogKeyRetryIn = "retry_in"
)
