package daemon

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mapwright/mapwright/internal/logging"
)

// withSignals returns a context cancelled by the first SIGINT or SIGTERM
// (drain and stop); a second one exits at once. Each SIGHUP sends on reload.
//
// A copy of the first signal that arrives within doubleSignalWindow is not
// taken as the second: supervisors and wrappers often deliver one stop both
// to the process and to its process group.
const doubleSignalWindow = 250 * time.Millisecond

func withSignals(ctx context.Context, log *slog.Logger) (context.Context, <-chan struct{}, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stopSig := make(chan os.Signal, 2)
	hupSig := make(chan os.Signal, 1)
	reload := make(chan struct{}, 1)
	signal.Notify(stopSig, syscall.SIGINT, syscall.SIGTERM)
	signal.Notify(hupSig, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		var stoppedAt time.Time
		for {
			select {
			case sig := <-stopSig:
				if !stoppedAt.IsZero() {
					if time.Since(stoppedAt) < doubleSignalWindow {
						continue
					}
					log.Error("second signal: exiting without draining", logging.KeySignal, sig.String())
					os.Exit(exitFailure)
				}
				stoppedAt = time.Now()
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
