package keys

import (
	"sync"
	"sync/atomic"
)

// cacheShards splits a cache so that lookups of different keys rarely
// share a lock; the hash is SHA-256, so its first byte spreads evenly.
const cacheShards = 16

// cache is a bounded map from token hash to V whose entries expire. Hits
// take a read lock and set a reference bit; eviction is the CLOCK
// approximation of LRU (a recently hit entry gets a second chance), so the
// hit path never writes shared structure and does not allocate.
type cache[V any] struct {
	shards [cacheShards]cacheShard[V]
}

type cacheShard[V any] struct {
	mu    sync.RWMutex
	index map[[32]byte]int
	slots []cacheSlot[V]
	limit int
	hand  int
	// gen changes on every invalidation, so a load that started before an
	// invalidation does not put back what was just invalidated.
	gen uint64
}

type cacheSlot[V any] struct {
	hash    [32]byte
	val     V
	loaded  int64 // Unix nanoseconds: when val was read from the store
	expires int64 // Unix nanoseconds
	live    bool
	used    atomic.Bool
}

// newCache returns a cache holding about size entries (at least one per
// shard); size <= 0 disables it.
func newCache[V any](size int) *cache[V] {
	c := &cache[V]{}
	per := 0
	if size > 0 {
		per = max(1, (size+cacheShards-1)/cacheShards)
	}
	for i := range c.shards {
		c.shards[i].index = make(map[[32]byte]int)
		c.shards[i].limit = per
	}
	return c
}

func (c *cache[V]) shard(h *[32]byte) *cacheShard[V] { return &c.shards[h[0]%cacheShards] }

// get returns the live value stored under h if it has not expired at now
// and was loaded at or after minLoaded.
func (c *cache[V]) get(h *[32]byte, now, minLoaded int64) (V, bool) {
	s := c.shard(h)
	s.mu.RLock()
	i, ok := s.index[*h]
	if !ok {
		s.mu.RUnlock()
		var zero V
		return zero, false
	}
	slot := &s.slots[i]
	if now >= slot.expires || slot.loaded < minLoaded {
		s.mu.RUnlock()
		var zero V
		return zero, false
	}
	if !slot.used.Load() {
		slot.used.Store(true)
	}
	v := slot.val
	s.mu.RUnlock()
	return v, true
}

// getStale returns the live value stored under h, expired or not, if it
// was loaded at or after minLoaded: the last answer the store gave, for
// when the store cannot answer now.
func (c *cache[V]) getStale(h *[32]byte, minLoaded int64) (V, bool) {
	s := c.shard(h)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if i, ok := s.index[*h]; ok && s.slots[i].loaded >= minLoaded {
		return s.slots[i].val, true
	}
	var zero V
	return zero, false
}

// generation returns the invalidation generation of h's shard, to pass to
// put after loading.
func (c *cache[V]) generation(h *[32]byte) uint64 {
	s := c.shard(h)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gen
}

// put stores v under h, loaded at now, until expires, unless h's shard was
// invalidated since gen was read. It evicts an expired, removed or not recently used
// entry when the shard is full.
func (c *cache[V]) put(h *[32]byte, v V, now, expires int64, gen uint64) {
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen || s.limit == 0 {
		return
	}
	if i, ok := s.index[*h]; ok {
		s.fill(i, h, v, now, expires)
		return
	}
	if len(s.slots) < s.limit {
		s.slots = append(s.slots, cacheSlot[V]{})
		s.fill(len(s.slots)-1, h, v, now, expires)
		return
	}
	// CLOCK: clear reference bits until an entry without one turns up; at
	// most two turns of the hand, since the first turn clears every bit.
	for {
		slot := &s.slots[s.hand]
		victim := s.hand
		s.hand = (s.hand + 1) % len(s.slots)
		if !slot.live || !slot.used.Load() || slot.expires <= now {
			if slot.live {
				delete(s.index, slot.hash)
			}
			s.fill(victim, h, v, now, expires)
			return
		}
		slot.used.Store(false)
	}
}

func (s *cacheShard[V]) fill(i int, h *[32]byte, v V, loaded, expires int64) {
	slot := &s.slots[i]
	slot.hash = *h
	slot.val = v
	slot.loaded = loaded
	slot.expires = expires
	slot.live = true
	slot.used.Store(false)
	s.index[*h] = i
}

// remove drops h and bumps its shard's generation.
func (c *cache[V]) remove(h *[32]byte) {
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	if i, ok := s.index[*h]; ok {
		delete(s.index, *h)
		var zero V
		s.slots[i].val = zero
		s.slots[i].live = false
	}
}

// clear drops every entry.
func (c *cache[V]) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.gen++
		clear(s.index)
		var zero V
		for j := range s.slots {
			s.slots[j].val = zero
			s.slots[j].live = false
		}
		s.mu.Unlock()
	}
}

// len counts live entries, expired or not.
func (c *cache[V]) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.index)
		s.mu.RUnlock()
	}
	return n
}
