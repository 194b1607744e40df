package sessions

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failure limits. A client network may fail netFailBurst logins at once and
// then one per netFailEvery; a key may fail keyFailBurst TOTP codes and then
// one per keyFailEvery, which keeps guessing a 6-digit code far slower than
// the codes change.
const (
	netFailBurst = 10
	netFailEvery = 6 * time.Second
	keyFailBurst = 5
	keyFailEvery = time.Minute
	// maxTracked bounds the memory the limiters use. Past it, entries that
	// have refilled are dropped, and if none has, all are.
	maxTracked = 10000
)

// failureLimiter counts failures per name with a token bucket: a failure
// takes a token, and while the bucket is empty attempts are refused before
// they are checked. Successes cost nothing.
type failureLimiter struct {
	mu      sync.Mutex
	limit   rate.Limit
	burst   int
	buckets map[string]*rate.Limiter
}

func newFailureLimiter(every time.Duration, burst int) *failureLimiter {
	return &failureLimiter{limit: rate.Every(every), burst: burst, buckets: make(map[string]*rate.Limiter)}
}

// wait returns how long name must wait before its next attempt is checked;
// zero when it may go ahead.
func (l *failureLimiter) wait(name string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[name]
	if !ok {
		return 0
	}
	tokens := b.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	secs := (1 - tokens) / float64(l.limit)
	return time.Duration(math.Ceil(secs * float64(time.Second)))
}

// fail records a failure of name.
func (l *failureLimiter) fail(name string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[name]
	if !ok {
		if len(l.buckets) >= maxTracked {
			l.evict(now)
		}
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[name] = b
	}
	b.AllowN(now, 1)
}

// forget drops name's failures, after it proved itself.
func (l *failureLimiter) forget(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.buckets, name)
}

func (l *failureLimiter) evict(now time.Time) {
	for name, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, name)
		}
	}
	if len(l.buckets) >= maxTracked {
		clear(l.buckets)
	}
}
