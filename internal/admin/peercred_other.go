//go:build !linux && !darwin && !freebsd

package admin

import (
	"errors"
	"net"
)

// peerUID is unsupported here: without the peer's identity the socket
// cannot name an actor, so every request on it is refused.
func peerUID(*net.UnixConn) (uint32, error) {
	return 0, errors.New("peer credentials are not supported on this system")
}
