package admin

import "errors"

// Sentinel errors. Test with errors.Is.
var (
	// ErrSocketInUse: ListenUnix found a live server answering on the
	// socket path; two daemons must not share a data directory.
	ErrSocketInUse = errors.New("admin socket is in use by a running server")
	// ErrNotSocket: the socket path exists and is not a socket; ListenUnix
	// never removes such a file.
	ErrNotSocket = errors.New("admin socket path exists and is not a socket")
	// ErrPeerCredentials: the kernel could not tell who is connected to
	// the unix socket, so the request is refused.
	ErrPeerCredentials = errors.New("cannot read the peer credentials of the admin socket connection")
)
