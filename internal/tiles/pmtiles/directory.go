package pmtiles

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// Entry is one directory entry. A RunLength of 0 makes it a pointer to a
// leaf directory whose first tile ID is TileID; otherwise it addresses the
// tiles TileID .. TileID+RunLength-1, which all share one blob.
type Entry struct {
	// TileID is the first tile the entry addresses.
	TileID uint64
	// Offset is relative to the tile data section (tiles) or the leaf
	// directory section (leaf pointers).
	Offset uint64
	// Length is the blob's size in bytes, never 0.
	Length uint32
	// RunLength is the number of consecutive tile IDs sharing the blob, or
	// 0 for a leaf directory pointer.
	RunLength uint32
}

// DecodeDirectory decodes an uncompressed directory: a varint entry count,
// then the columns tile ID deltas, run lengths, lengths and offsets (0 meaning
// "right after the previous entry", otherwise offset+1). Entries must have
// strictly ascending tile IDs and nonzero lengths, as the spec requires.
func DecodeDirectory(b []byte) ([]Entry, error) {
	r := varintReader{b: b}
	n, err := r.next("entry count")
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: no entries", ErrBadDirectory)
	}
	// Every entry takes at least one byte in each of the four columns; a
	// larger count is a lie that must not drive the allocation.
	if n > uint64(len(b))/4 {
		return nil, fmt.Errorf("%w: %d entries cannot fit in %d bytes", ErrBadDirectory, n, len(b))
	}
	entries := make([]Entry, n)
	var id uint64
	for i := range entries {
		delta, err := r.next("tile ID")
		if err != nil {
			return nil, err
		}
		if i > 0 && delta == 0 {
			return nil, fmt.Errorf("%w: entry %d repeats tile ID %d", ErrBadDirectory, i, id)
		}
		if id+delta < id {
			return nil, fmt.Errorf("%w: entry %d tile ID overflows", ErrBadDirectory, i)
		}
		id += delta
		entries[i].TileID = id
	}
	for i := range entries {
		v, err := r.next("run length")
		if err != nil {
			return nil, err
		}
		if v > 1<<32-1 {
			return nil, fmt.Errorf("%w: entry %d run length %d too large", ErrBadDirectory, i, v)
		}
		entries[i].RunLength = uint32(v)
		// A run must not reach past the end of the ID space.
		if v > 0 && entries[i].TileID+v-1 < entries[i].TileID {
			return nil, fmt.Errorf("%w: entry %d run overflows the tile ID space", ErrBadDirectory, i)
		}
	}
	for i := range entries {
		v, err := r.next("length")
		if err != nil {
			return nil, err
		}
		if v == 0 || v > 1<<32-1 {
			return nil, fmt.Errorf("%w: entry %d length %d", ErrBadDirectory, i, v)
		}
		entries[i].Length = uint32(v)
	}
	for i := range entries {
		v, err := r.next("offset")
		if err != nil {
			return nil, err
		}
		switch {
		case v != 0:
			entries[i].Offset = v - 1
		case i == 0:
			return nil, fmt.Errorf("%w: first entry refers to a previous entry", ErrBadDirectory)
		default:
			prev := entries[i-1]
			off := prev.Offset + uint64(prev.Length)
			if off < prev.Offset {
				return nil, fmt.Errorf("%w: entry %d offset overflows", ErrBadDirectory, i)
			}
			entries[i].Offset = off
		}
	}
	// Trailing bytes are ignored, as other readers do, so that a writer's
	// padding does not make an otherwise sound archive unreadable.
	return entries, nil
}

// EncodeDirectory is the inverse of DecodeDirectory. The entries must be
// sorted by ascending tile ID.
func EncodeDirectory(entries []Entry) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(entries)*6)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	var last uint64
	for _, e := range entries {
		b = binary.AppendUvarint(b, e.TileID-last)
		last = e.TileID
	}
	for _, e := range entries {
		b = binary.AppendUvarint(b, uint64(e.RunLength))
	}
	for _, e := range entries {
		b = binary.AppendUvarint(b, uint64(e.Length))
	}
	for i, e := range entries {
		if i > 0 {
			prev := entries[i-1]
			next := prev.Offset + uint64(prev.Length)
			if next >= prev.Offset && e.Offset == next {
				b = append(b, 0)
				continue
			}
		}
		b = binary.AppendUvarint(b, e.Offset+1)
	}
	return b
}

// findEntry returns the entry of dir that covers id: the tile entry whose run
// contains it, or the leaf pointer whose subtree may contain it. ok is false
// when no entry can hold the tile.
func findEntry(dir []Entry, id uint64) (Entry, bool) {
	// The last entry whose TileID is <= id.
	i := sort.Search(len(dir), func(i int) bool { return dir[i].TileID > id }) - 1
	if i < 0 {
		return Entry{}, false
	}
	e := dir[i]
	if e.RunLength == 0 {
		return e, true
	}
	if id-e.TileID < uint64(e.RunLength) {
		return e, true
	}
	return Entry{}, false
}

type varintReader struct {
	b   []byte
	off int
}

func (r *varintReader) next(what string) (uint64, error) {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		if n == 0 {
			return 0, fmt.Errorf("%w: truncated reading %s", ErrBadDirectory, what)
		}
		return 0, fmt.Errorf("%w: malformed varint reading %s", ErrBadDirectory, what)
	}
	r.off += n
	return v, nil
}
