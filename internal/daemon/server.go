package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mapwright/mapwright/internal/config"
	"github.com/mapwright/mapwright/internal/logging"
)

// Server aggregates the daemon's listeners (public TLS, optional plain HTTP,
// admin socket, optional admin TCP) so they start and drain together.
type Server struct {
	log       *slog.Logger
	timeouts  config.ServerTimeouts
	listeners []*listener
}

type listener struct {
	name string
	ln   net.Listener
	srv  *http.Server
}

// NewServer returns a Server whose http.Servers all use these timeouts.
func NewServer(log *slog.Logger, t config.ServerTimeouts) *Server {
	return &Server{log: log, timeouts: t}
}

// Add registers a listener. With tlsConf set the listener serves TLS (and
// HTTP/2 through ALPN). The returned http.Server may be adjusted (for
// example its ConnContext) before Run.
func (s *Server) Add(name string, ln net.Listener, h http.Handler, tlsConf *tls.Config) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.timeouts.ReadHeaderTimeout,
		ReadTimeout:       s.timeouts.ReadTimeout,
		WriteTimeout:      s.timeouts.WriteTimeout,
		IdleTimeout:       s.timeouts.IdleTimeout,
		MaxHeaderBytes:    s.timeouts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(scrubbingHandler{s.log.With(logging.KeySubsystem, "http", "listener", name).Handler()}, slog.LevelWarn),
	}
	if tlsConf != nil {
		srv.TLSConfig = tlsConf
		ln = tls.NewListener(ln, tlsConf)
	}
	s.listeners = append(s.listeners, &listener{name: name, ln: ln, srv: srv})
	return srv
}

// Run serves every listener until ctx is cancelled or one fails, then
// drains them all within the shutdown timeout. A clean shutdown returns nil.
func (s *Server) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, l := range s.listeners {
		s.log.Info("listening", "listener", l.name, logging.KeyAddr, l.ln.Addr().String())
		g.Go(func() error {
			if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("%s listener on %s: %w", l.name, l.ln.Addr(), err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		return s.shutdown()
	})
	return g.Wait()
}

func (s *Server) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeouts.ShutdownTimeout)
	defer cancel()
	var g errgroup.Group
	for _, l := range s.listeners {
		g.Go(func() error {
			if err := l.srv.Shutdown(ctx); err != nil {
				// Draining took too long: cut the remaining connections.
				_ = l.srv.Close()
				return fmt.Errorf("drain %s listener: %w", l.name, err)
			}
			return nil
		})
	}
	start := time.Now()
	err := g.Wait()
	s.log.Info("listeners stopped", logging.KeyDuration, time.Since(start).Round(time.Millisecond))
	return err
}

// closeListeners releases listeners added so far, for a start that fails
// before Run.
func (s *Server) closeListeners() {
	for _, l := range s.listeners {
		l.ln.Close()
	}
}

// portOf returns the port of a host:port address, or the address itself.
func portOf(addr string) string {
	if _, port, err := net.SplitHostPort(addr); err == nil {
		return port
	}
	return addr
}
