package certs

import "errors"

// Sentinel errors. EnsureLocalCA and ClientCAPool wrap them with the file
// concerned; test with errors.Is.
var (
	// ErrInsecure: a private key file, or the directory holding the
	// material, can be read or changed by other users.
	ErrInsecure = errors.New("insecure permissions")
	// ErrCorrupt: a file exists but does not hold what it should (not PEM,
	// wrong block type, unparseable certificate or key).
	ErrCorrupt = errors.New("corrupt file")
	// ErrMismatch: files that belong together disagree: a key does not
	// match its certificate, or ca.fingerprint does not match ca.pem.
	ErrMismatch = errors.New("files do not match")
	// ErrIncomplete: some of the material is missing while the rest exists,
	// so creating the missing part would silently replace an identity.
	ErrIncomplete = errors.New("incomplete material")
	// ErrExpired: the local CA certificate has expired. It is never
	// replaced automatically, since clients pin it.
	ErrExpired = errors.New("certificate expired")
	// ErrInvalidHost: a requested host is neither an IP address nor a DNS
	// name.
	ErrInvalidHost = errors.New("invalid host name")
)
