package daemon

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/mapwright/mapwright/internal/logging"
)

// withSignals returns a context cancelled by the first SIGINT or SIGTERM
// (drain and stop); a second one exits at once. Each SIGHUP sends on reload.
func withSignals(ctx context.Context, log *slog.Logger) (context.Context, <-chan struct{}, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stopSig := make(chan os.Signal, 2)
	hupSig := make(chan os.Signal, 1)
	reload := make(chan struct{}, 1)
	signal.Notify(stopSig, syscall.SIGINT, syscall.SIGTERM)
	signal.Notify(hupSig, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		stopping := false
		for {
			select {
			case sig := <-stopSig:
				if stopping {
					log.Error("second signal: exiting without draining", logging.KeySignal, sig.String())
					os.Exit(exitFailure)
				}
				stopping = true
				log.Info("shutting down: draining requests in flight (send again to force)", logging.KeySignal, sig.String())
				cancel()
			case <-hupSig:
				select {
				case reload <- struct{}{}:
				default: // a reload is already pending
				}
			case <-done:
				return
			}
		}
	}()
	return ctx, reload, func() {
		signal.Stop(stopSig)
		signal.Stop(hupSig)
		close(done)
		cancel()
	}
}
