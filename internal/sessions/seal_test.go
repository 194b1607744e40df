package sessions

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	s, err := newSealer(bytes.Repeat([]byte{1}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	other, err := newSealer(bytes.Repeat([]byte{2}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("twenty bytes secret!")
	const id = "key_01JQ0000000000000000000001"
	sealed, err := s.seal(id, secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed secret contains the plain secret")
	}
	again, _ := s.seal(id, secret)
	if bytes.Equal(sealed, again) {
		t.Error("two seals of one secret are equal: the nonce is not random")
	}
	got, err := s.open(id, sealed)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open = %q, %v; want the secret", got, err)
	}

	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	cases := []struct {
		name   string
		s      *sealer
		id     string
		sealed []byte
	}{
		{"another key's row", s, "key_01JQ0000000000000000000002", sealed},
		{"another session key", other, id, sealed},
		{"a flipped bit", s, id, flipped},
		{"truncated", s, id, sealed[:10]},
		{"unknown version", s, id, append([]byte{9}, sealed[1:]...)},
		{"empty", s, id, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.s.open(tc.id, tc.sealed); !errors.Is(err, ErrSealed) {
				t.Errorf("open: got %v, want ErrSealed", err)
			}
		})
	}
}
