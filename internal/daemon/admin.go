package daemon

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mapwright/mapwright/internal/admin"
	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/backup"
	"github.com/mapwright/mapwright/internal/config"
	"github.com/mapwright/mapwright/internal/logging"
	"github.com/mapwright/mapwright/internal/metrics"
	"github.com/mapwright/mapwright/internal/tiles"
	"github.com/mapwright/mapwright/internal/version"
)

// addAdmin binds the admin API: always the unix socket in the data
// directory (socket access is admin access), and TCP only when
// admin.addr is set, with TLS, the Host and client allowlists and, when
// admin.client_ca is set, client certificates.
func (a *app) addAdmin(srv *Server, catalog *tiles.Catalog, reg *prometheus.Registry, m *metrics.Metrics, cert tls.Certificate, info *daemonInfo) error {
	cidrs, err := parsePrefixes(a.cfg.Admin.AllowedCIDRs)
	if err != nil {
		return err
	}
	signer, err := audit.LoadOrCreateSigner(a.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnsafeDataDir, err)
	}
	opts := admin.Options{
		Keys:           a.keys,
		Audit:          a.audit,
		Store:          a.store,
		Catalog:        catalog,
		PublicTilesets: a.cfg.Tiles.Public,
		Gatherer:       reg,
		Metrics:        m,
		Sessions:       a.sessions,
		Logger:         logging.Sub(a.log, "admin"),
		Version:        version.String(),
		Backend:        a.store.Backend(),
		StartedAt:      a.started,
		AllowedHosts:   a.cfg.Admin.AllowedHosts,
		AllowedCIDRs:   cidrs,
		Checkpoints:    signer,
		Backups: backup.NewHandler(backup.HandlerOptions{
			Store:            a.store,
			DataDir:          a.cfg.DataDir,
			MapwrightVersion: version.String(),
			OnSnapshot:       backup.AuditHook(a.audit, a.store, logging.Sub(a.log, "backup")),
			Logger:           logging.Sub(a.log, "backup"),
		}),
	}

	var tcp net.Listener
	if a.cfg.Admin.Addr != "" {
		tcp, err = net.Listen("tcp", a.cfg.Admin.Addr)
		if err != nil {
			return fmt.Errorf("admin TCP listener: %w", err)
		}
		if len(opts.AllowedHosts) == 0 {
			// Port 0 was asked for: the allowlist follows the port bound.
			opts.AllowedHosts = config.LoopbackHosts(portOf(tcp.Addr().String()))
		}
		if admin.BeyondLoopback(tcp.Addr()) {
			a.log.Warn("admin API listening beyond loopback: keep admin.allowed_cidrs and admin.allowed_hosts tight, and prefer admin.client_ca",
				logging.KeyAddr, tcp.Addr().String())
		}
		info.AdminAddr = tcp.Addr().String()
	}
	api := admin.New(opts)

	sock, err := admin.ListenUnix(a.cfg.Admin.Socket)
	if err != nil {
		if tcp != nil {
			tcp.Close()
		}
		return fmt.Errorf("admin socket: %w", err)
	}
	// Audit streams never go idle: end them when the listeners drain.
	unixSrv := srv.Add("admin-socket", sock, api.UnixHandler(), nil)
	unixSrv.ConnContext = admin.ConnContext
	unixSrv.RegisterOnShutdown(api.CloseStreams)
	info.AdminSocket = a.cfg.Admin.Socket

	if tcp != nil {
		tlsConf, err := admin.TLSConfig(cert, a.cfg.Admin.ClientCA)
		if err != nil {
			tcp.Close()
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		srv.Add("admin", tcp, api.TCPHandler(), tlsConf).RegisterOnShutdown(api.CloseStreams)
	}
	return nil
}

func parsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%w: admin.allowed_cidrs: %w", errUsage, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
