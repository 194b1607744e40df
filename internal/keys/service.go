package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// Defaults of [Options].
const (
	DefaultCacheSize     = 10000
	DefaultCacheTTL      = 30 * time.Second
	DefaultFlushInterval = time.Minute
	DefaultUnwatchedTTL  = time.Second
	DefaultLookupTimeout = 2 * time.Second
	// storeRetryDelay is how long lookups fail at once after the store
	// failed one, so an outage costs requests no wait and the store,
	// coming back, no stampede.
	storeRetryDelay = 500 * time.Millisecond
)

// ActorSystem is the actor of changes Mapwright makes on its own, such as
// recording expiries.
const ActorSystem = "system"

// Options tune a [Service]. The zero value is usable.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// CacheSize bounds the number of verified keys held in memory; 0 means
	// DefaultCacheSize and a negative value disables the cache.
	CacheSize int
	// NegativeCacheSize bounds the number of unknown token hashes
	// remembered, so a client repeating an unknown key does not reach the
	// database each time; 0 means CacheSize, negative disables it. It is
	// separate from the positive cache so that a flood of random tokens
	// cannot evict real keys.
	NegativeCacheSize int
	// CacheTTL bounds how long a cached answer (a key, or "unknown") is used
	// without rereading the database. Changes made through this Service are
	// seen at once; a change made elsewhere (another replica, another
	// process) is seen when its notification calls Invalidate, and within
	// CacheTTL even if that notification is lost. 0 means DefaultCacheTTL.
	CacheTTL time.Duration
	// UnwatchedTTL bounds the age of a cached answer while change notices
	// from other processes may be missed (see [Service.Watching]): a short
	// TTL, so a missed revocation cannot keep a key alive for long. 0 means
	// DefaultUnwatchedTTL.
	UnwatchedTTL time.Duration
	// OutageGrace is how long after the store last vouched for a key that
	// key keeps being accepted while the store cannot answer: an outage of
	// the database does not stop traffic from keys already verified. Keys
	// the cache does not hold fail with [ErrStoreUnavailable]. 0 fails
	// closed at once.
	OutageGrace time.Duration
	// LookupTimeout bounds one lookup in the store; 0 means
	// DefaultLookupTimeout.
	LookupTimeout time.Duration
	// FlushInterval is how often [Service.Run] writes last-used times and
	// records expiries; 0 means DefaultFlushInterval.
	FlushInterval time.Duration
	// Logger receives background errors; nothing is logged when nil.
	Logger *slog.Logger
	// CacheRecorder, when not nil, is told the outcome of every cache
	// lookup of a verification: a hit when the positive or negative cache
	// answered, a miss when the store had to be asked (including while the
	// cache is disabled). It is called on the request path, so it must be
	// cheap and must not allocate; nil records nothing.
	CacheRecorder CacheRecorder
}

// CacheRecorder counts the lookups of the verify cache (see
// Options.CacheRecorder). The daemon passes the counters of its
// cache_lookups_total metric.
type CacheRecorder interface {
	// Hit records a verification answered from the cache.
	Hit()
	// Miss records a verification that had to read the store.
	Miss()
}

// Actor is who asks for a change, recorded in the audit log.
type Actor struct {
	// Name: "unix:1000(alice)", "key:key_...", or ActorSystem.
	Name string
	// ClientIP is the client's address (bare or host:port), if any; the
	// audit log truncates it before storing.
	ClientIP string
}

// Service manages keys in one store. It is safe for concurrent use.
type Service struct {
	st            store.Store
	log           *audit.Log
	now           func() time.Time
	ttl           int64
	unwatchedTTL  int64
	grace         int64
	lookupTimeout time.Duration
	interval      time.Duration
	logger        *slog.Logger
	cacheRec      CacheRecorder

	// unwatched is set while change notices may be missed.
	unwatched atomic.Bool
	// trustFrom (Unix nanoseconds): cached answers loaded before it are
	// rechecked before use, and kept only as the outage fallback.
	trustFrom atomic.Int64
	// downUntil (Unix nanoseconds) is when lookups may try the store again
	// after it failed one.
	downUntil atomic.Int64
	// staleServed counts verifications answered from the cache during an
	// outage, beyond the cache TTL.
	staleServed atomic.Uint64

	pos   *cache[*entry]
	neg   *cache[struct{}]
	loads singleflight.Group
	used  lastUsed
}

// entry is a cached key. key is never modified after the entry is built,
// which is why Verify may hand out a pointer to it.
type entry struct {
	key store.Key
	// minute is the last Unix minute this entry's use was noted, a lock-free
	// filter in front of lastUsed.
	minute atomic.Int64
}

// New returns a Service over st that records audit events with log.
func New(st store.Store, log *audit.Log, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.NegativeCacheSize == 0 {
		opts.NegativeCacheSize = opts.CacheSize
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.UnwatchedTTL <= 0 {
		opts.UnwatchedTTL = DefaultUnwatchedTTL
	}
	if opts.LookupTimeout <= 0 {
		opts.LookupTimeout = DefaultLookupTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		st:            st,
		log:           log,
		now:           opts.Now,
		ttl:           int64(opts.CacheTTL),
		unwatchedTTL:  int64(opts.UnwatchedTTL),
		grace:         int64(max(opts.OutageGrace, 0)),
		lookupTimeout: opts.LookupTimeout,
		interval:      opts.FlushInterval,
		logger:        opts.Logger,
		cacheRec:      opts.CacheRecorder,
		pos:           newCache[*entry](opts.CacheSize),
		neg:           newCache[struct{}](opts.NegativeCacheSize),
		used:          lastUsed{pending: map[string]time.Time{}, marked: map[string]int64{}},
	}
}

// Verify authenticates a token and returns its key.
//
// A token that apikey.Parse rejects yields a [*MalformedError] (matching
// [ErrMalformed]) without any lookup. Otherwise the key is found by the
// token's hash, in the cache or the database: no key gives [ErrUnknownKey];
// a key revoked, expired or not yet valid at the current time gives
// [ErrRevoked], [ErrExpired] or [ErrNotYetValid] together with the key, so
// the caller can attribute the failure; only a nil error means the key may
// be used.
//
// The returned key is shared with the cache and with other callers: it must
// not be modified. A cached answer costs no allocation.
func (s *Service) Verify(ctx context.Context, token string) (*store.Key, error) {
	if _, err := apikey.Parse(token); err != nil {
		return nil, malformed(err)
	}
	return s.VerifyHashAt(ctx, apikey.Hash(token), s.now())
}

// VerifyHashAt is [Service.Verify] for a token the caller has already
// checked with apikey.Parse and hashed with apikey.Hash, judged at now
// rather than at a fresh reading of the clock. The public tile server uses
// it: it checks and hashes tokens itself, so that it can remember them for
// a connection, and passes the request's start time.
func (s *Service) VerifyHashAt(ctx context.Context, h [32]byte, now time.Time) (*store.Key, error) {
	nowNS := now.UnixNano()
	minLoaded := s.trustFrom.Load()
	if s.unwatched.Load() {
		minLoaded = max(minLoaded, nowNS-s.unwatchedTTL)
	}
	if e, ok := s.pos.get(&h, nowNS, minLoaded); ok {
		s.recordHit()
		return s.admit(e, now)
	}
	if _, ok := s.neg.get(&h, nowNS, minLoaded); ok {
		s.recordHit()
		return nil, ErrUnknownKey
	}
	s.recordMiss()
	e, err := s.load(ctx, h, nowNS)
	if err == nil {
		return s.admit(e, s.now())
	}
	if s.grace > 0 && errors.Is(err, ErrStoreUnavailable) {
		// The store cannot answer: the last answer it gave for this key
		// stands for OutageGrace. Only keys it vouched for: an unknown
		// token fails closed.
		if e, ok := s.pos.getStale(&h, nowNS-s.grace); ok {
			s.staleServed.Add(1)
			return s.admit(e, now)
		}
	}
	return nil, err
}

func (s *Service) recordHit() {
	if s.cacheRec != nil {
		s.cacheRec.Hit()
	}
}

func (s *Service) recordMiss() {
	if s.cacheRec != nil {
		s.cacheRec.Miss()
	}
}

// admit checks the key's state and notes its use.
func (s *Service) admit(e *entry, now time.Time) (*store.Key, error) {
	k := &e.key
	switch k.State(now) {
	case store.StateRevoked:
		return k, ErrRevoked
	case store.StateExpired:
		return k, ErrExpired
	case store.StatePending:
		return k, ErrNotYetValid
	}
	minute := now.Unix() / 60
	if e.minute.Load() != minute {
		e.minute.Store(minute)
		s.used.mark(k.ID, minute, now)
	}
	return k, nil
}

// load reads the key for h from the store, once for many concurrent
// callers, and caches the answer. Shortly after the store failed a lookup
// it fails at once (see storeRetryDelay).
func (s *Service) load(ctx context.Context, h [32]byte, nowNS int64) (*entry, error) {
	if nowNS < s.downUntil.Load() {
		return nil, fmt.Errorf("verify key: %w: retrying shortly", ErrStoreUnavailable)
	}
	v, err, _ := s.loads.Do(string(h[:]), func() (any, error) {
		return s.loadNow(ctx, h)
	})
	// The shared load ran under the first caller's context; if that caller
	// gave up, the others should not fail with its cancellation.
	if err != nil && ctx.Err() == nil && errors.Is(err, context.Canceled) {
		return s.loadNow(ctx, h)
	}
	if err != nil {
		return nil, err
	}
	return v.(*entry), nil
}

func (s *Service) loadNow(ctx context.Context, h [32]byte) (*entry, error) {
	posGen, negGen := s.pos.generation(&h), s.neg.generation(&h)
	lookupCtx, cancel := context.WithTimeout(ctx, s.lookupTimeout)
	k, err := s.st.GetKeyByHash(lookupCtx, h)
	cancel()
	now := s.now().UnixNano()
	if errors.Is(err, store.ErrNotFound) {
		s.neg.put(&h, struct{}{}, now, now+s.ttl, negGen)
		return nil, ErrUnknownKey
	}
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up; that says nothing about the store.
			return nil, fmt.Errorf("verify key: look up hash: %w", ctx.Err())
		}
		s.downUntil.Store(now + int64(storeRetryDelay))
		return nil, fmt.Errorf("verify key: %w: look up hash: %w", ErrStoreUnavailable, err)
	}
	e := &entry{key: k}
	e.minute.Store(-1)
	s.pos.put(&h, e, now, now+s.ttl, posGen)
	return e, nil
}

// Invalidate drops any cached answer for the token hash h, so the next
// Verify rereads the database. Call it when another process reports a
// change to that key.
func (s *Service) Invalidate(h [32]byte) {
	s.pos.remove(&h)
	s.neg.remove(&h)
}

// KeyChanged drops the cached answer for the key with token hash h,
// another process having changed it. It implements store.KeyWatch.
func (s *Service) KeyChanged(h [32]byte) { s.Invalidate(h) }

// AllKeysChanged drops every cached answer. It implements store.KeyWatch.
func (s *Service) AllKeysChanged() { s.InvalidateAll() }

// Watching tells the Service whether it receives every change other
// processes make to keys. It implements store.KeyWatch. While it may miss
// some, cached answers are trusted for Options.UnwatchedTTL only; when
// notices resume, every cached answer is rechecked before its next use,
// since those sent in between are lost. A Service starts out watching (a store no other
// process writes to needs no notices); call Watching(false, nil) before
// starting a watcher.
func (s *Service) Watching(ok bool, err error) {
	if ok {
		// Every cached answer is rechecked before its next use, but kept:
		// should the database fail again before that, it is still the
		// last word the database gave (see Options.OutageGrace).
		s.trustFrom.Store(s.now().UnixNano() + 1)
		if s.unwatched.Swap(false) {
			s.logger.Info("receiving key change notices")
		}
		return
	}
	was := s.unwatched.Swap(true)
	switch {
	case err == nil:
	case !was:
		s.logger.Warn("key change notices lost: cached keys are rechecked in the database until they resume",
			slog.Duration("recheck_after", time.Duration(s.unwatchedTTL)), slog.String("err", err.Error()))
	default:
		s.logger.Debug("key change notices still lost", slog.String("err", err.Error()))
	}
}

// StaleServed counts the verifications answered from an expired cache
// entry because the store could not answer (see Options.OutageGrace).
func (s *Service) StaleServed() uint64 { return s.staleServed.Load() }

// ReceivingNotices reports whether the Service believes it receives every
// change other processes make to keys (see [Service.Watching]).
func (s *Service) ReceivingNotices() bool { return !s.unwatched.Load() }

// InvalidateAll empties the caches, for example after a lost connection to
// the change notifications.
func (s *Service) InvalidateAll() {
	s.pos.clear()
	s.neg.clear()
}

// lastUsed collects key uses between flushes: at most one pending time per
// key, and a key is noted at most once per minute.
type lastUsed struct {
	mu      sync.Mutex
	pending map[string]time.Time
	marked  map[string]int64 // key ID to the Unix minute it was last noted
}

func (u *lastUsed) mark(id string, minute int64, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.marked[id] == minute {
		return
	}
	u.marked[id] = minute
	u.pending[id] = store.Micro(now)
}

// FlushLastUsed writes the last-used times noted since the previous flush
// in one batch. Each key is written at most once per minute. On failure the
// times are kept for the next flush.
func (s *Service) FlushLastUsed(ctx context.Context) error {
	minute := s.now().Unix() / 60
	s.used.mu.Lock()
	batch := s.used.pending
	s.used.pending = make(map[string]time.Time, len(batch))
	for id, m := range s.used.marked {
		if m < minute {
			delete(s.used.marked, id)
		}
	}
	s.used.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := s.st.TouchKeys(ctx, batch); err != nil {
		s.used.mu.Lock()
		for id, t := range batch {
			if cur, ok := s.used.pending[id]; !ok || cur.Before(t) {
				s.used.pending[id] = t
			}
		}
		s.used.mu.Unlock()
		return fmt.Errorf("record last use of %d keys: %w", len(batch), err)
	}
	return nil
}

// Run flushes last-used times and records expiries every FlushInterval
// until ctx ends, then flushes once more. Errors are logged and retried on
// the next round; Run never blocks Verify.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	s.background(ctx)
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := s.FlushLastUsed(final); err != nil {
				s.logger.Warn("final flush of key last-used times failed", slog.Any("error", err))
			}
			return nil
		case <-t.C:
			s.background(ctx)
		}
	}
}

func (s *Service) background(ctx context.Context) {
	if err := s.FlushLastUsed(ctx); err != nil && ctx.Err() == nil {
		s.logger.Warn("flush key last-used times failed", slog.Any("error", err))
	}
	if n, err := s.SweepExpired(ctx); err != nil && ctx.Err() == nil {
		s.logger.Warn("record key expiries failed", slog.Int("recorded", n), slog.Any("error", err))
	} else if n > 0 {
		s.logger.Info("recorded key expiries", slog.Int("count", n))
	}
}
