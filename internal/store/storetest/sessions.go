package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

var sessionTests = []test{
	{"SessionRoundTrip", testSessionRoundTrip},
	{"SessionConflictAndUnknownKey", testSessionConflictAndUnknownKey},
	{"SessionDelete", testSessionDelete},
	{"SessionTouchMovesForwardOnly", testSessionTouch},
	{"SessionPruneExpired", testSessionPrune},
	{"SessionRollback", testSessionRollback},
	{"TOTPRoundTripAndReplace", testTOTPRoundTrip},
	{"TOTPUnknownKey", testTOTPUnknownKey},
	{"TOTPStepAdvancesOnce", testTOTPStep},
	{"TOTPStepConcurrent", testTOTPStepConcurrent},
	{"TOTPEnrolledBatch", testTOTPEnrolled},
	{"GetKeysByHashes", testGetKeysByHashes},
}

// sessionHash stands for the SHA-256 of the identifier of session n.
func sessionHash(n int) [32]byte {
	return sha256.Sum256([]byte(fmt.Sprintf("session-%d", n)))
}

// session is session n of key keyID(k), opened at t0.
func session(n, k int) store.Session {
	return store.Session{
		Hash:          sessionHash(n),
		KeyID:         keyID(k),
		CreatedAt:     t0,
		LastSeenAt:    t0,
		IdleExpiresAt: t0.Add(30 * time.Minute),
		ExpiresAt:     t0.Add(12 * time.Hour),
	}
}

func insertSessions(t *testing.T, s store.Store, sessions ...store.Session) {
	t.Helper()
	err := s.Update(t.Context(), func(tx store.Tx) error {
		for _, se := range sessions {
			if err := tx.InsertSession(t.Context(), se); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("insert %d sessions: %v", len(sessions), err)
	}
}

func getSession(t *testing.T, s store.Reader, hash [32]byte) store.Session {
	t.Helper()
	se, err := s.GetSession(t.Context(), hash)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	return se
}

func diffSessions(want, got store.Session) string {
	return diffStructs(reflect.ValueOf(want), reflect.ValueOf(got))
}

func testSessionRoundTrip(t *testing.T, s store.Store) {
	insertKeys(t, s, minimalKey(1))
	paris := time.FixedZone("CET", 3600)
	in := session(1, 1)
	in.CreatedAt = t0.In(paris)
	insertSessions(t, s, in)
	want := session(1, 1)
	if d := diffSessions(want, getSession(t, s, sessionHash(1))); d != "" {
		t.Errorf("session round trip: %s", d)
	}
	// Inside a transaction the same row is visible.
	err := s.Update(t.Context(), func(tx store.Tx) error {
		got, err := tx.GetSession(t.Context(), sessionHash(1))
		if err != nil {
			return err
		}
		if d := diffSessions(want, got); d != "" {
			t.Errorf("session read in a transaction: %s", d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(t.Context(), sessionHash(2)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession of an unknown hash: got %v, want ErrNotFound", err)
	}
	if se := getSession(t, s, sessionHash(1)); se.Expired(t0.Add(29*time.Minute)) || !se.Expired(t0.Add(30*time.Minute)) {
		t.Errorf("Expired: a session idle until %v must end exactly then", se.IdleExpiresAt)
	}
}

func testSessionConflictAndUnknownKey(t *testing.T, s store.Store) {
	insertKeys(t, s, minimalKey(1))
	insertSessions(t, s, session(1, 1))
	ctx := t.Context()
	cases := []struct {
		name string
		in   store.Session
		want error
	}{
		{"same hash again", session(1, 1), store.ErrConflict},
		{"key that does not exist", session(2, 2), store.ErrNotFound},
		{"malformed key ID", func() store.Session { se := session(3, 1); se.KeyID = "nope"; return se }(), store.ErrInvalid},
		{"idle expiry after absolute expiry", func() store.Session {
			se := session(4, 1)
			se.IdleExpiresAt = se.ExpiresAt.Add(time.Second)
			return se
		}(), store.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertSession(ctx, tc.in) })
			if !errors.Is(err, tc.want) {
				t.Fatalf("InsertSession: got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := s.GetSession(ctx, sessionHash(2)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused session was stored: %v", err)
	}
}

func testSessionDelete(t *testing.T, s store.Store) {
	insertKeys(t, s, minimalKey(1))
	insertSessions(t, s, session(1, 1), session(2, 1))
	ctx := t.Context()
	del := func(n int) error {
		return s.Update(ctx, func(tx store.Tx) error { return tx.DeleteSession(ctx, sessionHash(n)) })
	}
	if err := del(1); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	if _, err := s.GetSession(ctx, sessionHash(1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted session still readable: %v", err)
	}
	if err := del(1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteSession: got %v, want ErrNotFound", err)
	}
	getSession(t, s, sessionHash(2))
}

func testSessionTouch(t *testing.T, s store.Store) {
	insertKeys(t, s, minimalKey(1))
	short := session(2, 1)
	short.ExpiresAt = t0.Add(40 * time.Minute)
	insertSessions(t, s, session(1, 1), short)
	ctx := t.Context()

	later := t0.Add(10 * time.Minute)
	if err := s.TouchSession(ctx, sessionHash(1), later, later.Add(30*time.Minute)); err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	want := session(1, 1)
	want.LastSeenAt, want.IdleExpiresAt = later, later.Add(30*time.Minute)
	if d := diffSessions(want, getSession(t, s, sessionHash(1))); d != "" {
		t.Errorf("after touch: %s", d)
	}

	// An older touch (a slower replica) never moves times back.
	if err := s.TouchSession(ctx, sessionHash(1), t0.Add(time.Minute), t0.Add(31*time.Minute)); err != nil {
		t.Fatalf("older TouchSession: %v", err)
	}
	if d := diffSessions(want, getSession(t, s, sessionHash(1))); d != "" {
		t.Errorf("an older touch moved times back: %s", d)
	}

	// The idle expiry never passes the absolute one.
	if err := s.TouchSession(ctx, sessionHash(2), later, later.Add(30*time.Minute)); err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	if got := getSession(t, s, sessionHash(2)); !got.IdleExpiresAt.Equal(short.ExpiresAt) {
		t.Errorf("idle expiry %v passed the absolute expiry %v", got.IdleExpiresAt, short.ExpiresAt)
	}

	if err := s.TouchSession(ctx, sessionHash(3), later, later); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession of an unknown session: got %v, want ErrNotFound", err)
	}
}

func testSessionPrune(t *testing.T, s store.Store) {
	insertKeys(t, s, minimalKey(1))
	idle := session(1, 1) // idle from t0+30m
	absolute := session(2, 1)
	absolute.IdleExpiresAt = t0.Add(2 * time.Hour)
	absolute.ExpiresAt = t0.Add(2 * time.Hour)
	alive := session(3, 1)
	alive.IdleExpiresAt = t0.Add(3 * time.Hour)
	insertSessions(t, s, idle, absolute, alive)
	ctx := t.Context()

	n, err := s.DeleteExpiredSessions(ctx, t0.Add(29*time.Minute))
	if err != nil || n != 0 {
		t.Fatalf("DeleteExpiredSessions before any expiry = %d, %v; want 0", n, err)
	}
	n, err = s.DeleteExpiredSessions(ctx, t0.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 2 (one idle, one at its absolute expiry)", n, err)
	}
	for _, h := range [][32]byte{sessionHash(1), sessionHash(2)} {
		if _, err := s.GetSession(ctx, h); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired session survived the prune: %v", err)
		}
	}
	getSession(t, s, sessionHash(3))
}

func testSessionRollback(t *testing.T, s store.Store) {
	insertKeys(t, s, minimalKey(1))
	ctx := t.Context()
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertSession(ctx, session(1, 1)); err != nil {
			return err
		}
		if err := tx.PutTOTP(ctx, store.TOTPSecret{KeyID: keyID(1), Sealed: []byte{1}, CreatedAt: t0}); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update: got %v, want the callback's error", err)
	}
	if _, err := s.GetSession(ctx, sessionHash(1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session of a rolled-back transaction is visible: %v", err)
	}
	if _, err := s.GetTOTP(ctx, keyID(1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TOTP secret of a rolled-back transaction is visible: %v", err)
	}
}

func putTOTP(t *testing.T, s store.Store, sec store.TOTPSecret) {
	t.Helper()
	if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.PutTOTP(t.Context(), sec) }); err != nil {
		t.Fatalf("PutTOTP: %v", err)
	}
}

func testTOTPRoundTrip(t *testing.T, s store.Store) {
	insertKeys(t, s, minimalKey(1))
	ctx := t.Context()
	if _, err := s.GetTOTP(ctx, keyID(1)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetTOTP before enrolment: got %v, want ErrNotFound", err)
	}
	first := store.TOTPSecret{KeyID: keyID(1), Sealed: []byte{0, 1, 2, 255}, CreatedAt: t0}
	putTOTP(t, s, first)
	got, err := s.GetTOTP(ctx, keyID(1))
	if err != nil {
		t.Fatal(err)
	}
	if d := diffStructs(reflect.ValueOf(first), reflect.ValueOf(got)); d != "" {
		t.Errorf("TOTP round trip: %s", d)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.AdvanceTOTPStep(ctx, keyID(1), 100) }); err != nil {
		t.Fatal(err)
	}

	// Enrolling again replaces the secret and forgets the last step.
	second := store.TOTPSecret{KeyID: keyID(1), Sealed: []byte("another sealed secret"), CreatedAt: t0.Add(time.Hour)}
	putTOTP(t, s, second)
	got, err = s.GetTOTP(ctx, keyID(1))
	if err != nil {
		t.Fatal(err)
	}
	if d := diffStructs(reflect.ValueOf(second), reflect.ValueOf(got)); d != "" {
		t.Errorf("after re-enrolment: %s", d)
	}
	if n, err := s.CountTOTP(ctx); err != nil || n != 1 {
		t.Errorf("CountTOTP = %d, %v; want 1", n, err)
	}
}

func testTOTPUnknownKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	cases := []struct {
		name string
		in   store.TOTPSecret
		want error
	}{
		{"key that does not exist", store.TOTPSecret{KeyID: keyID(9), Sealed: []byte{1}, CreatedAt: t0}, store.ErrNotFound},
		{"empty secret", store.TOTPSecret{KeyID: keyID(9), CreatedAt: t0}, store.ErrInvalid},
		{"malformed key ID", store.TOTPSecret{KeyID: "key_x", Sealed: []byte{1}, CreatedAt: t0}, store.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx store.Tx) error { return tx.PutTOTP(ctx, tc.in) })
			if !errors.Is(err, tc.want) {
				t.Fatalf("PutTOTP: got %v, want %v", err, tc.want)
			}
		})
	}
	err := s.Update(ctx, func(tx store.Tx) error { return tx.AdvanceTOTPStep(ctx, keyID(9), 1) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AdvanceTOTPStep without enrolment: got %v, want ErrNotFound", err)
	}
	if n, err := s.CountTOTP(ctx); err != nil || n != 0 {
		t.Errorf("CountTOTP = %d, %v; want 0", n, err)
	}
}

func testTOTPStep(t *testing.T, s store.Store) {
	insertKeys(t, s, minimalKey(1))
	putTOTP(t, s, store.TOTPSecret{KeyID: keyID(1), Sealed: []byte{1}, CreatedAt: t0})
	ctx := t.Context()
	advance := func(step int64) error {
		return s.Update(ctx, func(tx store.Tx) error { return tx.AdvanceTOTPStep(ctx, keyID(1), step) })
	}
	steps := []struct {
		name string
		step int64
		want error
	}{
		{"first code", 1000, nil},
		{"same step again is a replay", 1000, store.ErrConflict},
		{"an earlier step is a replay", 999, store.ErrConflict},
		{"the next step", 1001, nil},
	}
	for _, st := range steps {
		if err := advance(st.step); !errors.Is(err, st.want) {
			t.Fatalf("%s: AdvanceTOTPStep(%d) = %v, want %v", st.name, st.step, err, st.want)
		}
	}
	got, err := s.GetTOTP(ctx, keyID(1))
	if err != nil || got.LastStep != 1001 {
		t.Errorf("LastStep = %d, %v; want 1001", got.LastStep, err)
	}
}

// testTOTPStepConcurrent presents one code from many goroutines at once:
// exactly one may win, as if two replicas received the same code.
func testTOTPStepConcurrent(t *testing.T, s store.Store) {
	insertKeys(t, s, minimalKey(1))
	putTOTP(t, s, store.TOTPSecret{KeyID: keyID(1), Sealed: []byte{1}, CreatedAt: t0})
	ctx := t.Context()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(ctx, func(tx store.Tx) error { return tx.AdvanceTOTPStep(ctx, keyID(1), 42) })
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("AdvanceTOTPStep: unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent uses of one code succeeded, want exactly 1", ok, n)
	}
}

func testTOTPEnrolled(t *testing.T, s store.Store) {
	insertKeys(t, s, minimalKey(1), minimalKey(2), minimalKey(3))
	putTOTP(t, s, store.TOTPSecret{KeyID: keyID(1), Sealed: []byte{1}, CreatedAt: t0})
	putTOTP(t, s, store.TOTPSecret{KeyID: keyID(3), Sealed: []byte{3}, CreatedAt: t0})
	ctx := t.Context()
	got, err := s.TOTPEnrolled(ctx, []string{keyID(1), keyID(2), keyID(3), keyID(4)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{keyID(1): true, keyID(3): true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TOTPEnrolled = %v, want %v", got, want)
	}
	if got, err := s.TOTPEnrolled(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("TOTPEnrolled(nil) = %v, %v; want an empty map", got, err)
	}
	tooMany := make([]string, store.MaxBatch+1)
	for i := range tooMany {
		tooMany[i] = keyID(i)
	}
	if _, err := s.TOTPEnrolled(ctx, tooMany); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("TOTPEnrolled of %d IDs: got %v, want ErrInvalid", len(tooMany), err)
	}
	if n, err := s.CountTOTP(ctx); err != nil || n != 2 {
		t.Errorf("CountTOTP = %d, %v; want 2", n, err)
	}
}

func testGetKeysByHashes(t *testing.T, s store.Store) {
	insertKeys(t, s, fullKey(1), minimalKey(2), minimalKey(3))
	ctx := t.Context()
	got, err := s.GetKeysByHashes(ctx, [][32]byte{tokenHash(3), tokenHash(9), tokenHash(1), tokenHash(3)})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
	if len(got) != 2 {
		t.Fatalf("GetKeysByHashes returned %v, want keys 1 and 3", ids(got))
	}
	if d := diffKeys(fullKey(1), got[0]); d != "" {
		t.Errorf("key 1: %s", d)
	}
	if d := diffKeys(minimalKey(3), got[1]); d != "" {
		t.Errorf("key 3: %s", d)
	}
	if got, err := s.GetKeysByHashes(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("GetKeysByHashes(nil) = %v, %v; want nothing", ids(got), err)
	}
	tooMany := make([][32]byte, store.MaxBatch+1)
	if _, err := s.GetKeysByHashes(ctx, tooMany); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("GetKeysByHashes of %d hashes: got %v, want ErrInvalid", len(tooMany), err)
	}
	// Inside a transaction too.
	err = s.Update(ctx, func(tx store.Tx) error {
		got, err := tx.GetKeysByHashes(ctx, [][32]byte{tokenHash(2)})
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].ID != keyID(2) {
			t.Errorf("GetKeysByHashes in a transaction = %v, want key 2", ids(got))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
