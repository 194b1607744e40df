package sessions

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseCookie feeds arbitrary cookie values to the parser, which reads
// what any client sends: only a value minted with the key may pass.
func FuzzParseCookie(f *testing.F) {
	m := &Manager{key: bytes.Repeat([]byte{3}, KeySize)}
	// A fixed identifier, so that every fuzzing process agrees on the one
	// value that was "minted".
	id := bytes.Repeat([]byte{5}, idSize)
	good := b64.EncodeToString(id) + "." + b64.EncodeToString(m.mac(id))
	f.Add(good)
	f.Add("")
	f.Add(".")
	f.Add(good[:len(good)-1] + "A")
	f.Add(good + "=")
	f.Fuzz(func(t *testing.T, v string) {
		_, err := m.parseCookie(v)
		if v == good && err != nil {
			t.Fatalf("parseCookie refused the minted value: %v", err)
		}
		if err == nil && v != good {
			t.Fatalf("parseCookie accepted %q, which was never minted", v)
		}
		if err != nil && !errors.Is(err, ErrInvalidSession) {
			t.Fatalf("parseCookie(%q) = %v, want ErrInvalidSession", v, err)
		}
	})
}
