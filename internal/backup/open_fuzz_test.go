package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
)

// FuzzOpen reads arbitrary bytes as a backup file the way verify and
// restore read one, here without a key: no panic, every error classified,
// an encrypted file never opens without its key, and an uncompressed
// stream, bare or behind the unencrypted marker, reads exactly as the
// stream reader alone reads it.
func FuzzOpen(f *testing.F) {
	var small bytes.Buffer
	w, _ := NewWriter(&small, Manifest{Backend: "sqlite", SchemaVersion: 3, Created: testNow})
	pw, _ := w.CreatePart(Part{Name: "audit.key", Type: PartFile})
	pw.Write([]byte("ab\n"))
	pw.Close()
	pw, _ = w.CreatePart(Part{Name: "tables/x.jsonl", Type: PartTable, Table: "x", Columns: []Column{{Name: "i", Type: "int"}}})
	pw.Write([]byte("{\"i\":1}\n{\"i\":2}\n"))
	pw.Close()
	w.Close()
	f.Add(small.Bytes())
	f.Add(encrypt(f, small.Bytes(), Encryption{None: true}))
	f.Add(encrypt(f, small.Bytes(), Encryption{None: true, Compress: true}))
	f.Add(encrypt(f, small.Bytes(), passphrase("x")))
	f.Add([]byte(unencryptedMagic + gzipMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, prot, err := Open(bytes.NewReader(b), Keys{})
		if err != nil {
			if !isOneOf(err, ErrNotBackup, ErrTruncated, ErrCorrupt, ErrEncrypted) {
				t.Fatalf("Open: unclassified error: %v", err)
			}
			return
		}
		if prot.Encrypted {
			t.Fatalf("opened an encrypted backup (%s) without a key", prot)
		}
		m, parts, err := drain(r)
		if ref, ok := plainStream(b); ok {
			m2, parts2, err2 := drain(bytes.NewReader(ref))
			for _, s := range streamErrors {
				if errors.Is(err, s) != errors.Is(err2, s) {
					t.Fatalf("through Open: %v; the stream alone: %v", err, err2)
				}
			}
			if !reflect.DeepEqual(m, m2) || !reflect.DeepEqual(parts, parts2) {
				t.Fatalf("through Open: %+v; the stream alone: %+v", m, m2)
			}
		}
		if err != nil {
			if !isOneOf(err, streamErrors...) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		for _, p := range m.Parts {
			sum := sha256.Sum256(parts[p.Name])
			if p.SHA256 != hex.EncodeToString(sum[:]) || p.Size != int64(len(parts[p.Name])) {
				t.Fatalf("part %s accepted with wrong totals", p.Name)
			}
		}
	})
}

// streamErrors are the errors a backup stream reader may end with.
var streamErrors = []error{ErrCorrupt, ErrTruncated, ErrNotBackup, ErrFormatTooNew, ErrAborted}

func isOneOf(err error, sentinels ...error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// plainStream returns the uncompressed backup stream inside b, when b is
// one bare or behind the unencrypted marker.
func plainStream(b []byte) ([]byte, bool) {
	if bytes.HasPrefix(b, []byte(streamMagic)) {
		return b, true
	}
	rest, ok := bytes.CutPrefix(b, []byte(unencryptedMagic))
	if ok && !bytes.HasPrefix(rest, []byte(gzipMagic)) {
		return rest, true
	}
	return nil, false
}
