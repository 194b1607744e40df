package admin

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"

	"github.com/mapwright/mapwright/internal/certs"
)

// TLSConfig returns the TLS settings of the TCP admin listener: those of
// every Mapwright listener (certs.ServerTLSConfig) and, when clientCAFile is
// set, mutual TLS: a client certificate signed by one of the CAs in that PEM
// file is required and verified before any HTTP is read.
func TLSConfig(cert tls.Certificate, clientCAFile string) (*tls.Config, error) {
	conf := certs.ServerTLSConfig(cert)
	if clientCAFile == "" {
		return conf, nil
	}
	pool, err := certs.ClientCAPool(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("admin mutual TLS: %w", err)
	}
	conf.ClientCAs = pool
	conf.ClientAuth = tls.RequireAndVerifyClientCert
	return conf, nil
}

// BeyondLoopback reports whether a listener bound to addr can be reached
// from other machines: any address that is not a loopback one, including
// the unspecified address (all interfaces). The daemon logs a warning when
// the TCP admin listener is.
func BeyondLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return true
	}
	return !ip.Unmap().IsLoopback()
}
