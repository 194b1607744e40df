package server

import (
	"hash/maphash"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// Rate-limit headers follow draft-ietf-httpapi-ratelimit-headers (revision
// 11, the current one when this was written), which replaced the older
// RateLimit-Limit / -Remaining / -Reset trio by two structured-field Lists:
//
//	RateLimit-Policy: "default";q=400;w=4
//	RateLimit: "default";r=123;t=1
//
// Our reading for a token bucket of rate R per second and size B:
//
//   - RateLimit-Policy names one policy, "default" (the per-key bucket),
//     with quota q = B requests ("requests" is the default unit, so qu is
//     left out) and window w = ceil(B/R) seconds, the time a drained bucket
//     takes to fill again; q/w is then the sustained rate R. The partition
//     key pk is left out: it would carry the key's identity, which the draft
//     warns against exposing.
//   - RateLimit carries r, the whole tokens left after this request, and t,
//     the seconds until the bucket is full again (ceil((B-tokens)/R)). On a
//     429 r is 0 and t equals Retry-After, the seconds until one token is
//     back, so Retry-After never points earlier than the end of the
//     effective window (section 6 of the draft).
//   - Allowed responses carry RateLimit and RateLimit-Policy too; requests
//     that no key authenticates (public tilesets without a key) carry
//     neither, since no per-key bucket applies to them.
const ratePolicyName = `"default"`

// bucket is a token bucket of rate R and size B, kept as the generic cell
// rate algorithm: a "theoretical arrival time" tat. Each request moves tat
// one emission interval (1/R) later, starting from now when tat is in the
// past; a request that would push tat more than B intervals past now is
// refused. That is exactly a token bucket (tokens = B - (tat-now)/interval)
// in two integers and a short critical section, with no floating point.
//
// Callers pass the time their request started. A goroutine descheduled for
// a while carries that time stale, so the bucket decides with the latest
// time any request has brought (last); otherwise a slow request would be
// refused for tokens spent after it started.
//
// Configuration fields never change after creation: a key whose rate or
// burst changed gets a new bucket.
type bucket struct {
	mu   sync.Mutex
	tat  int64 // Unix nanoseconds
	last int64 // latest "now" seen, Unix nanoseconds

	interval int64 // nanoseconds per token, at least 1
	tau      int64 // burst * interval: the bucket's depth in time
	rate     float64
	burst    int
	policy   []string // precomputed RateLimit-Policy value
	// redacted caches the redacted form of the bucket's key for the log,
	// built from its stored display start (never from the token, which is
	// not kept).
	redacted atomic.Pointer[string]
}

func newBucket(r float64, b int) *bucket {
	interval := int64(float64(time.Second) / r)
	if interval < 1 {
		interval = 1
	}
	w := math.Ceil(float64(b) / r)
	if w < 1 || math.IsNaN(w) {
		w = 1
	}
	policy := ratePolicyName + ";q=" + strconv.Itoa(b) + ";w=" + strconv.FormatFloat(w, 'f', 0, 64)
	tau := interval * int64(b)
	if tau/int64(b) != interval { // overflow: an absurdly large burst
		tau = math.MaxInt64 / 2
	}
	return &bucket{interval: interval, tau: tau, rate: r, burst: b, policy: []string{policy}}
}

// take spends one token at now (Unix nanoseconds). It returns the whole
// tokens left and the seconds t for the RateLimit field: the time until the
// bucket is full again, or, when the request is refused, the Retry-After
// delay until one token is back.
func (bk *bucket) take(now int64) (allowed bool, remaining int, t int) {
	bk.mu.Lock()
	now = bk.advance(now)
	next := max(bk.tat, now) + bk.interval
	ahead := next - now // how far tat would run ahead of now
	if ahead > bk.tau {
		bk.mu.Unlock()
		return false, 0, ceilSeconds(ahead - bk.tau)
	}
	bk.tat = next
	bk.mu.Unlock()
	return true, int((bk.tau - ahead) / bk.interval), ceilSeconds(ahead)
}

// advance returns the later of now and the latest time seen, recording it.
// The caller holds mu.
func (bk *bucket) advance(now int64) int64 {
	if now < bk.last {
		return bk.last
	}
	bk.last = now
	return now
}

// charge spends one token if there is one, for counting failures, and
// returns the time (Unix nanoseconds) until which the bucket then has no
// whole token left; at or before now, it still has one.
func (bk *bucket) charge(now int64) (emptyUntil int64) {
	bk.take(now)
	bk.mu.Lock()
	defer bk.mu.Unlock()
	return bk.tat + bk.interval - bk.tau
}

// full reports whether the bucket has refilled completely at now, so that
// dropping it and starting a new one later changes nothing for its owner.
func (bk *bucket) full(now int64) bool {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	return bk.tat <= now
}

// ceilSeconds rounds nanoseconds up to whole seconds, at least 1 and at most
// a day.
func ceilSeconds(ns int64) int {
	s := (ns + int64(time.Second) - 1) / int64(time.Second)
	return int(min(max(s, 1), 86400))
}

// display returns the redacted form of the key whose display start is
// start ("mpw_pk_AbCd" gives "mpw_pk_AbCd…"), cached on the bucket.
func (bk *bucket) display(start string) string {
	if p := bk.redacted.Load(); p != nil {
		return *p
	}
	v := apikey.Redact(start)
	bk.redacted.Store(&v)
	return v
}

// rateLimitValues caches RateLimit field values for small r and t, so the
// hot path formats nothing for the usual buckets (the default burst is
// 400).
var rateLimitValues [8][512]atomic.Pointer[string]

// rateLimitValue returns `"default";r=R;t=T`.
func rateLimitValue(r, t int) string {
	if t >= 0 && t < len(rateLimitValues) && r >= 0 && r < len(rateLimitValues[0]) {
		slot := &rateLimitValues[t][r]
		if p := slot.Load(); p != nil {
			return *p
		}
		v := formatRateLimit(r, t)
		slot.Store(&v)
		return v
	}
	return formatRateLimit(r, t)
}

func formatRateLimit(r, t int) string {
	var buf [64]byte
	b := append(buf[:0], ratePolicyName...)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, int64(r), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, int64(t), 10)
	return string(b)
}

const limiterShards = 32

// limiterSet is a bounded map of token buckets, sharded so that concurrent
// lookups of different keys rarely meet on one lock, and read-locked on the
// hot path. Each shard holds at most max/limiterShards buckets; when full,
// buckets that have refilled completely are evicted first (losing nothing),
// then arbitrary ones (their owners get a fresh, full bucket: briefly more
// lenient, never stricter).
type limiterSet[K comparable] struct {
	seed     maphash.Seed
	hash     func(maphash.Seed, K) uint64
	perShard int
	shards   [limiterShards]limiterShard[K]
}

type limiterShard[K comparable] struct {
	mu sync.RWMutex
	m  map[K]*bucket
}

func newLimiterSet[K comparable](max int, hash func(maphash.Seed, K) uint64) *limiterSet[K] {
	per := max / limiterShards
	if per < 1 {
		per = 1
	}
	ls := &limiterSet[K]{seed: maphash.MakeSeed(), hash: hash, perShard: per}
	for i := range ls.shards {
		ls.shards[i].m = make(map[K]*bucket)
	}
	return ls
}

func (ls *limiterSet[K]) shard(k K) *limiterShard[K] {
	return &ls.shards[ls.hash(ls.seed, k)%limiterShards]
}

// get returns the bucket of k configured for rate r and burst b, creating
// or replacing it as needed. now is in Unix nanoseconds.
func (ls *limiterSet[K]) get(k K, r float64, b int, now int64) *bucket {
	sh := ls.shard(k)
	sh.mu.RLock()
	bk := sh.m[k]
	sh.mu.RUnlock()
	if bk != nil && bk.rate == r && bk.burst == b {
		return bk
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if bk = sh.m[k]; bk != nil && bk.rate == r && bk.burst == b {
		return bk
	}
	if bk == nil && len(sh.m) >= ls.perShard {
		sh.evict(now, ls.perShard)
	}
	bk = newBucket(r, b)
	sh.m[k] = bk
	return bk
}

// len returns the number of buckets held.
func (ls *limiterSet[K]) len() int {
	n := 0
	for i := range ls.shards {
		sh := &ls.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// evict makes room in a full shard. The caller holds the write lock.
func (sh *limiterShard[K]) evict(now int64, max int) {
	for k, bk := range sh.m {
		if bk.full(now) {
			delete(sh.m, k)
		}
	}
	if len(sh.m) < max {
		return
	}
	// Still full of busy buckets: drop a quarter at random (map order), so
	// that the next inserts do not each pay for a sweep.
	target := max * 3 / 4
	for k := range sh.m {
		if len(sh.m) <= target {
			break
		}
		delete(sh.m, k)
	}
}

func hashString(seed maphash.Seed, s string) uint64 { return maphash.String(seed, s) }

func hashPrefix(seed maphash.Seed, p netip.Prefix) uint64 {
	a := p.Addr().As16()
	return maphash.Bytes(seed, a[:]) ^ uint64(p.Bits())
}

// blockList holds the client networks whose failure bucket is empty, until
// when. It is what every keyed request checks before any lookup, so its
// common case, nobody blocked, costs one atomic load; entries are swept
// at most once a second once they expire.
type blockList struct {
	count   atomic.Int64
	sweepAt atomic.Int64
	max     int
	mu      sync.RWMutex
	m       map[netip.Prefix]int64
}

func newBlockList(max int) *blockList {
	return &blockList{max: max, m: make(map[netip.Prefix]int64)}
}

// check reports whether p is blocked at now and for how many seconds more.
func (bl *blockList) check(p netip.Prefix, now int64) (bool, int) {
	if bl.count.Load() == 0 {
		return false, 0
	}
	if now >= bl.sweepAt.Load() {
		bl.mu.Lock()
		bl.sweepLocked(now)
		bl.mu.Unlock()
	}
	bl.mu.RLock()
	until, ok := bl.m[p]
	bl.mu.RUnlock()
	if !ok || now >= until {
		return false, 0
	}
	return true, ceilSeconds(until - now)
}

// block marks p as blocked until the given time. When the list is full of
// live entries the network is not tracked: its bucket still counts, and the
// list has room again as soon as entries expire.
func (bl *blockList) block(p netip.Prefix, until, now int64) {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	if _, ok := bl.m[p]; !ok {
		if len(bl.m) >= bl.max {
			bl.sweepLocked(now)
			if len(bl.m) >= bl.max {
				return
			}
		}
		bl.count.Add(1)
	}
	bl.m[p] = until
}

func (bl *blockList) sweepLocked(now int64) {
	bl.sweepAt.Store(now + int64(time.Second))
	for p, until := range bl.m {
		if now >= until {
			delete(bl.m, p)
			bl.count.Add(-1)
		}
	}
}

// len returns the number of networks listed.
func (bl *blockList) len() int { return int(bl.count.Load()) }
