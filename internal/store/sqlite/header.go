package sqlite

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// headerSize is the size of the SQLite database header at the start of page
// 1.
const headerSize = 100

// magic starts every SQLite 3 database file.
var magic = []byte("SQLite format 3\x00")

// checkHeader validates the header of an existing, non-empty database file
// of fileSize bytes before SQLite is allowed to open it, so that a file that
// is not a database, or one cut short, is reported and left alone rather
// than rewritten. walPresent says whether a non-empty write-ahead log sits
// beside the file: its pages may legitimately extend the database past the
// main file, so the size checks are skipped then (the integrity check that
// follows still runs).
func checkHeader(hdr []byte, fileSize int64, walPresent bool) error {
	if len(hdr) < headerSize || fileSize < headerSize {
		return fmt.Errorf("%w (only %d bytes long)", ErrNotSQLite, fileSize)
	}
	if !bytes.Equal(hdr[:len(magic)], magic) {
		return fmt.Errorf("%w (bad header)", ErrNotSQLite)
	}
	pageSize := int64(binary.BigEndian.Uint16(hdr[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("%w: header has invalid page size %d", ErrCorrupt, pageSize)
	}
	// Write and read format versions: 1 is a rollback journal, 2 is WAL.
	if v := hdr[18]; v != 1 && v != 2 {
		return fmt.Errorf("%w: header has unknown write format %d", ErrCorrupt, v)
	}
	if v := hdr[19]; v != 1 && v != 2 {
		return fmt.Errorf("%w: header has unknown read format %d", ErrCorrupt, v)
	}
	// The payload fractions are fixed by the file format.
	if hdr[21] != 64 || hdr[22] != 32 || hdr[23] != 32 {
		return fmt.Errorf("%w: header has invalid payload fractions", ErrCorrupt)
	}
	if walPresent {
		return nil
	}
	if fileSize%pageSize != 0 {
		return fmt.Errorf("%w: file size %d is not a whole number of %d-byte pages (truncated?)", ErrCorrupt, fileSize, pageSize)
	}
	// The in-header page count is only trustworthy when the
	// version-valid-for number matches the change counter.
	changeCounter := binary.BigEndian.Uint32(hdr[24:28])
	pages := int64(binary.BigEndian.Uint32(hdr[28:32]))
	validFor := binary.BigEndian.Uint32(hdr[92:96])
	if pages > 0 && validFor == changeCounter && fileSize < pages*pageSize {
		return fmt.Errorf("%w: header records %d pages of %d bytes but the file holds only %d bytes (truncated)",
			ErrCorrupt, pages, pageSize, fileSize)
	}
	return nil
}
