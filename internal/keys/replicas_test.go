package keys

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
)

// TestTwoReplicasRaceOnOneKey runs two services on separate handles of one
// database, as two replicas would, and races them on the same key: exactly
// one rotation wins, a key is recorded expired once, and the audit chain
// stays linear.
func TestTwoReplicasRaceOnOneKey(t *testing.T) {
	for _, o := range stores() {
		t.Run(o.name, func(t *testing.T) {
			h1, h2 := o.pair(t)
			a := newEnv(t, h1, Options{})
			b := newEnvClock(t, h2, Options{}, a.clock)
			ctx := context.Background()

			const rounds = 5
			for range rounds {
				iss := a.issue(t, IssueRequest{})
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i, e := range []*env{a, b} {
					wg.Go(func() { _, _, errs[i] = e.svc.Rotate(ctx, iss.Key.ID, time.Minute, alice) })
				}
				wg.Wait()
				won, lost := 0, 0
				for _, err := range errs {
					switch {
					case err == nil:
						won++
					case errors.Is(err, ErrAlreadyRotated):
						lost++
					default:
						t.Fatalf("rotate: %v", err)
					}
				}
				if won != 1 || lost != 1 {
					t.Fatalf("%d rotations won and %d lost, want exactly one each", won, lost)
				}
			}

			a.clock.Advance(time.Hour)
			var wg sync.WaitGroup
			counts := make([]int, 2)
			for i, e := range []*env{a, b} {
				wg.Go(func() {
					n, err := e.svc.SweepExpired(ctx)
					if err != nil {
						t.Error(err)
					}
					counts[i] = n
				})
			}
			wg.Wait()
			if counts[0]+counts[1] != rounds {
				t.Fatalf("sweeps recorded %v expiries, want %d in total", counts, rounds)
			}
			expires := 0
			for _, ev := range a.events(t) {
				if ev.Action == audit.ActionKeyExpire {
					expires++
				}
			}
			if expires != rounds {
				t.Fatalf("%d key.expire events, want %d", expires, rounds)
			}
			a.verifyChain(t)
		})
	}
}
