package pmtiles

import (
	"container/list"
	"sync"
	"unsafe"
)

// DefaultLeafCacheBytes is the default budget of decoded leaf directories a
// Reader keeps in memory: about 350,000 entries, enough for the hot leaves of
// a planet-scale archive.
const DefaultLeafCacheBytes = 8 << 20

const entrySize = int(unsafe.Sizeof(Entry{}))

// leafCache is a least-recently-used cache of decoded leaf directories keyed
// by their offset in the leaf section, bounded by the memory the entries
// take.
type leafCache struct {
	mu       sync.Mutex
	maxBytes int
	bytes    int
	order    *list.List // front = most recently used; values are *leafItem
	items    map[uint64]*list.Element
}

type leafItem struct {
	off     uint64
	entries []Entry
}

func newLeafCache(maxBytes int) *leafCache {
	return &leafCache{maxBytes: maxBytes, order: list.New(), items: make(map[uint64]*list.Element)}
}

func (c *leafCache) get(off uint64) ([]Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[off]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*leafItem).entries, true
}

func (c *leafCache) put(off uint64, entries []Entry) {
	size := len(entries) * entrySize
	if size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[off]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.items[off] = c.order.PushFront(&leafItem{off: off, entries: entries})
	c.bytes += size
	for c.bytes > c.maxBytes {
		el := c.order.Back()
		it := el.Value.(*leafItem)
		c.order.Remove(el)
		delete(c.items, it.off)
		c.bytes -= len(it.entries) * entrySize
	}
}

// len returns the number of cached directories.
func (c *leafCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
