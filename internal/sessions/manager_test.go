package sessions

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/pkg/apikey"
)

func TestLoginWithoutTOTP(t *testing.T) {
	e := newEnv(t)
	k := e.issue(t, apikey.Secret, "ops", keys.ScopeAdmin)
	op, err := e.m.Login(t.Context(), Credentials{Token: k.Token, ClientIP: "203.0.113.9:4000"})
	if err != nil {
		t.Fatal(err)
	}
	if op.Key.ID != k.Key.ID {
		t.Errorf("session of key %s, want %s", op.Key.ID, k.Key.ID)
	}
	now := e.clock.Now()
	if !op.Session.ExpiresAt.Equal(now.Add(12*time.Hour)) || !op.Session.IdleExpiresAt.Equal(now.Add(30*time.Minute)) {
		t.Errorf("expiries %v / %v, want 12h absolute and 30m idle from %v", op.Session.ExpiresAt, op.Session.IdleExpiresAt, now)
	}
	if strings.Contains(op.Cookie, k.Token) || len(op.Cookie) != cookieLen {
		t.Errorf("cookie %q is not an opaque %d-character value", op.Cookie, cookieLen)
	}
	evs := e.events(t, audit.ActionAdminLogin)
	if len(evs) != 1 || evs[0].Actor != "key:"+k.Key.ID || evs[0].ClientIP != "203.0.113.0" {
		t.Fatalf("admin.login events = %+v, want one by key:%s from 203.0.113.0", evs, k.Key.ID)
	}
	sess, key, err := e.m.Authenticate(t.Context(), op.Cookie)
	if err != nil || key.ID != k.Key.ID || sess.KeyID != k.Key.ID {
		t.Fatalf("Authenticate = %v, %v, %v", sess.KeyID, key.ID, err)
	}
}

func TestLoginRefusals(t *testing.T) {
	e := newEnv(t)
	public := e.issue(t, apikey.Public, "web")
	revoked := e.issue(t, apikey.Secret, "old", keys.ScopeKeysRead)
	if _, _, err := e.keys.Revoke(t.Context(), revoked.Key.ID, "test", alice); err != nil {
		t.Fatal(err)
	}
	unknown, _ := apikey.Generate(apikey.Secret)
	cases := []struct {
		name   string
		token  string
		reason string
		keyID  string
	}{
		{"malformed token", "mpw_sk_nope", ReasonMalformedKey, ""},
		{"unknown key", unknown, ReasonUnknownKey, ""},
		{"public key", public.Token, ReasonPublicKey, public.Key.ID},
		{"revoked key", revoked.Token, ReasonRevoked, revoked.Key.ID},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.m.Login(t.Context(), Credentials{Token: tc.token, ClientIP: "198.51.100.7"})
			var le *LoginError
			if !errors.As(err, &le) || !errors.Is(err, ErrLoginFailed) || le.Reason != tc.reason {
				t.Fatalf("Login: got %v, want a LoginError with reason %s", err, tc.reason)
			}
			if strings.Contains(err.Error(), tc.token) {
				t.Error("the error repeats the token")
			}
			evs := e.events(t, audit.ActionAdminLoginFail)
			if len(evs) != i+1 {
				t.Fatalf("%d admin.login_failure events, want %d", len(evs), i+1)
			}
			ev := evs[i]
			wantActor := ActorAnonymous
			if tc.keyID != "" {
				wantActor = "key:" + tc.keyID
			}
			if ev.Outcome != audit.OutcomeFailure || ev.Details["reason"] != tc.reason || ev.Actor != wantActor ||
				ev.Target != tc.keyID || ev.ClientIP != "198.51.100.0" {
				t.Errorf("failure event = %+v", ev)
			}
		})
	}
	if got := e.events(t, audit.ActionAdminLogin); len(got) != 0 {
		t.Errorf("%d admin.login events after refusals only", len(got))
	}
}

func TestLoginWithTOTP(t *testing.T) {
	e := newEnv(t)
	k := e.issue(t, apikey.Secret, "ops", keys.ScopeAdmin)
	sec := e.enroll(t, k.Key.ID)
	ctx := t.Context()

	refused := func(code, reason string) {
		t.Helper()
		_, err := e.m.Login(ctx, Credentials{Token: k.Token, Code: code})
		var le *LoginError
		if !errors.As(err, &le) || le.Reason != reason {
			t.Fatalf("Login with code %q: got %v, want reason %s", code, err, reason)
		}
	}
	refused("", ReasonTOTPRequired)
	wrong := e.code(sec, 0)
	wrong = string(rune('0'+(wrong[0]-'0'+1)%10)) + wrong[1:]
	refused(wrong, ReasonTOTPInvalid)
	refused(e.code(sec, -2), ReasonTOTPInvalid)

	good := e.code(sec, 0)
	if _, err := e.m.Login(ctx, Credentials{Token: k.Token, Code: good}); err != nil {
		t.Fatalf("Login with a current code: %v", err)
	}
	refused(good, ReasonTOTPReplayed)
	// The previous step's code is older than the one used: also refused.
	refused(e.code(sec, -1), ReasonTOTPReplayed)

	e.clock.Advance(TOTPPeriod)
	if _, err := e.m.Login(ctx, Credentials{Token: k.Token, Code: e.code(sec, 0)}); err != nil {
		t.Fatalf("Login with the next step's code: %v", err)
	}
	var reasons []string
	for _, ev := range e.events(t, audit.ActionAdminLoginFail) {
		reasons = append(reasons, ev.Details["reason"])
	}
	want := []string{ReasonTOTPRequired, ReasonTOTPInvalid, ReasonTOTPInvalid, ReasonTOTPReplayed, ReasonTOTPReplayed}
	if strings.Join(reasons, ",") != strings.Join(want, ",") {
		t.Errorf("failure reasons %v, want %v", reasons, want)
	}
	if n := len(e.events(t, audit.ActionAdminLogin)); n != 2 {
		t.Errorf("%d admin.login events, want 2", n)
	}
}

func TestTOTPGuessesAreThrottled(t *testing.T) {
	e := newEnv(t)
	k := e.issue(t, apikey.Secret, "ops", keys.ScopeAdmin)
	sec := e.enroll(t, k.Key.ID)
	bad := "000000"
	for _, off := range []int64{-1, 0, 1} {
		if e.code(sec, off) == bad {
			bad = "999999"
		}
	}
	for i := range keyFailBurst {
		_, err := e.m.Login(t.Context(), Credentials{Token: k.Token, Code: bad, ClientIP: "192.0.2.1:1"})
		if !errors.Is(err, ErrLoginFailed) {
			t.Fatalf("attempt %d: got %v, want a refused login", i+1, err)
		}
	}
	_, err := e.m.Login(t.Context(), Credentials{Token: k.Token, Code: e.code(sec, 0)})
	var te *ThrottledError
	if !errors.As(err, &te) || te.RetryAfter <= 0 {
		t.Fatalf("after %d wrong codes even a right one must wait: got %v", keyFailBurst, err)
	}
	e.clock.Advance(keyFailEvery)
	if _, err := e.m.Login(t.Context(), Credentials{Token: k.Token, Code: e.code(sec, 0)}); err != nil {
		t.Fatalf("after waiting: %v", err)
	}
}

func TestFailedLoginsAreThrottledPerNetwork(t *testing.T) {
	e := newEnv(t)
	k := e.issue(t, apikey.Secret, "ops", keys.ScopeAdmin)
	for i := range netFailBurst {
		if _, err := e.m.Login(t.Context(), Credentials{Token: "mpw_sk_bad", ClientIP: "192.0.2.1:1"}); !errors.Is(err, ErrLoginFailed) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	// Another host of the same /24 is throttled too; another network is not.
	if _, err := e.m.Login(t.Context(), Credentials{Token: k.Token, ClientIP: "192.0.2.200:1"}); !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("same network: got %v, want ErrTooManyAttempts", err)
	}
	if _, err := e.m.Login(t.Context(), Credentials{Token: k.Token, ClientIP: "198.51.100.1:1"}); err != nil {
		t.Fatalf("other network: %v", err)
	}
	if n := len(e.events(t, audit.ActionAdminLoginFail)); n != netFailBurst {
		t.Errorf("%d failure events, want %d: throttled attempts are not recorded", n, netFailBurst)
	}
}

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	k := e.issue(t, apikey.Secret, "ops", keys.ScopeAdmin)
	ctx := t.Context()
	login := func() string {
		t.Helper()
		op, err := e.m.Login(ctx, Credentials{Token: k.Token})
		if err != nil {
			t.Fatal(err)
		}
		return op.Cookie
	}

	t.Run("activity keeps a session alive until its absolute expiry", func(t *testing.T) {
		c := login()
		start := e.clock.Now()
		for e.clock.Now().Sub(start) < 12*time.Hour-20*time.Minute {
			e.clock.Advance(20 * time.Minute)
			if _, _, err := e.m.Authenticate(ctx, c); err != nil {
				t.Fatalf("after %v of activity: %v", e.clock.Now().Sub(start), err)
			}
		}
		e.clock.Advance(12*time.Hour - e.clock.Now().Sub(start))
		if _, _, err := e.m.Authenticate(ctx, c); !errors.Is(err, ErrSessionExpired) {
			t.Fatalf("at the absolute expiry: got %v, want ErrSessionExpired", err)
		}
	})
	t.Run("idle session ends", func(t *testing.T) {
		c := login()
		e.clock.Advance(29 * time.Minute)
		if _, _, err := e.m.Authenticate(ctx, c); err != nil {
			t.Fatalf("after 29 idle minutes: %v", err)
		}
		e.clock.Advance(30 * time.Minute)
		if _, _, err := e.m.Authenticate(ctx, c); !errors.Is(err, ErrSessionExpired) {
			t.Fatalf("after 30 idle minutes: got %v, want ErrSessionExpired", err)
		}
	})
	t.Run("tampered cookies", func(t *testing.T) {
		c := login()
		for i := range len(c) {
			b := []byte(c)
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			if _, _, err := e.m.Authenticate(ctx, string(b)); !errors.Is(err, ErrInvalidSession) {
				t.Fatalf("cookie with byte %d changed: got %v, want ErrInvalidSession", i, err)
			}
		}
		other, err := New(Options{Key: make([]byte, KeySize), Store: e.st, Keys: e.keys, Audit: audit.New(testAuditKey, nil), Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := other.Authenticate(ctx, c); !errors.Is(err, ErrInvalidSession) {
			t.Errorf("a replica with another session key accepted the cookie: %v", err)
		}
	})
	t.Run("revoking the key ends its sessions", func(t *testing.T) {
		k2 := e.issue(t, apikey.Secret, "temp", keys.ScopeKeysRead)
		op, err := e.m.Login(ctx, Credentials{Token: k2.Token})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.keys.Revoke(ctx, k2.Key.ID, "done", alice); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.m.Authenticate(ctx, op.Cookie); !errors.Is(err, ErrKeyInactive) {
			t.Fatalf("got %v, want ErrKeyInactive", err)
		}
	})
	t.Run("logout ends the session once", func(t *testing.T) {
		c := login()
		sess, err := e.m.Logout(ctx, c, "key:"+k.Key.ID, "192.0.2.5")
		if err != nil || sess.KeyID != k.Key.ID {
			t.Fatalf("Logout = %v, %v", sess.KeyID, err)
		}
		if _, _, err := e.m.Authenticate(ctx, c); !errors.Is(err, ErrInvalidSession) {
			t.Fatalf("after logout: got %v, want ErrInvalidSession", err)
		}
		if _, err := e.m.Logout(ctx, c, "key:"+k.Key.ID, ""); !errors.Is(err, ErrInvalidSession) {
			t.Fatalf("second logout: got %v, want ErrInvalidSession", err)
		}
		evs := e.events(t, audit.ActionSessionEnd)
		if len(evs) != 1 || evs[0].Target != k.Key.ID {
			t.Errorf("session.end events = %+v, want one for %s", evs, k.Key.ID)
		}
	})
}

func TestPruneDeletesEndedSessions(t *testing.T) {
	e := newEnv(t)
	k := e.issue(t, apikey.Secret, "ops", keys.ScopeAdmin)
	op, err := e.m.Login(t.Context(), Credentials{Token: k.Token})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.m.Prune(t.Context()); err != nil || n != 0 {
		t.Fatalf("Prune of a live session = %d, %v", n, err)
	}
	e.clock.Advance(time.Hour)
	if n, err := e.m.Prune(t.Context()); err != nil || n != 1 {
		t.Fatalf("Prune after idle expiry = %d, %v; want 1", n, err)
	}
	if _, err := e.st.GetSession(t.Context(), sessionHashOf(t, e.m, op.Cookie)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pruned session still stored: %v", err)
	}
}

func sessionHashOf(t *testing.T, m *Manager, cookie string) [32]byte {
	t.Helper()
	h, err := m.parseCookie(cookie)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestEnrollTOTP(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	secret := e.issue(t, apikey.Secret, "ops: alice", keys.ScopeAdmin)
	public := e.issue(t, apikey.Public, "web")
	revoked := e.issue(t, apikey.Secret, "old", keys.ScopeKeysRead)
	if _, _, err := e.keys.Revoke(ctx, revoked.Key.ID, "test", alice); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		id   string
		want error
	}{
		{"public key", public.Key.ID, ErrNotSecretKey},
		{"revoked key", revoked.Key.ID, keys.ErrNotActive},
		{"unknown key", "key_01JQ0000000000000000000000", keys.ErrNotFound},
		{"not a key ID", "../etc", keys.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.m.EnrollTOTP(ctx, tc.id, alice); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if n := len(e.events(t, ActionTOTPEnroll)); n != 0 {
		t.Fatalf("%d enrolment events after refusals only", n)
	}

	uri, err := e.m.EnrollTOTP(ctx, secret.Key.ID, alice)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(uri, "otpauth://totp/Mapwright:ops%3A%20alice?secret=") || !strings.HasSuffix(uri, "&issuer=Mapwright") {
		t.Errorf("URI %q", uri)
	}
	first := secretOf(t, uri)
	stored, err := e.st.GetTOTP(ctx, secret.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored.Sealed), string(first)) {
		t.Error("the stored secret is not sealed")
	}

	// Re-enrolling replaces the secret: the old one's codes stop working.
	second := e.enroll(t, secret.Key.ID)
	if _, err := e.m.Login(ctx, Credentials{Token: secret.Token, Code: e.code(first, 0)}); !errors.Is(err, ErrLoginFailed) {
		t.Errorf("a code of the replaced secret opened a session: %v", err)
	}
	if _, err := e.m.Login(ctx, Credentials{Token: secret.Token, Code: e.code(second, 0)}); err != nil {
		t.Errorf("a code of the new secret: %v", err)
	}
	evs := e.events(t, ActionTOTPEnroll)
	if len(evs) != 2 || evs[0].Details["replaced"] != "false" || evs[1].Details["replaced"] != "true" || evs[1].Actor != alice.Name {
		t.Errorf("enrolment events = %+v", evs)
	}
	for _, ev := range evs {
		for _, v := range ev.Details {
			if strings.Contains(v, b32.EncodeToString(second)) {
				t.Error("an audit event holds the TOTP secret")
			}
		}
	}
	got, err := e.m.TOTPEnrolled(ctx, []string{secret.Key.ID, public.Key.ID})
	if err != nil || !got[secret.Key.ID] || got[public.Key.ID] {
		t.Errorf("TOTPEnrolled = %v, %v", got, err)
	}
}

func TestOpenKeyRequiresFileWhenSecretsExist(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	if _, err := OpenKey(t.Context(), dir, e.st); err != nil {
		t.Fatalf("OpenKey on a database without TOTP: %v", err)
	}
	k := e.issue(t, apikey.Secret, "ops", keys.ScopeAdmin)
	e.enroll(t, k.Key.ID)
	if _, err := OpenKey(t.Context(), t.TempDir(), e.st); !errors.Is(err, ErrKeyMissing) {
		t.Fatalf("OpenKey without the file while TOTP secrets exist: got %v, want ErrKeyMissing", err)
	}
	if _, err := OpenKey(t.Context(), dir, e.st); err != nil {
		t.Fatalf("OpenKey with the file: %v", err)
	}
}

func TestNewRefusesBadKey(t *testing.T) {
	e := newEnv(t)
	_, err := New(Options{Key: make([]byte, 16), Store: e.st, Keys: e.keys, Audit: audit.New(testAuditKey, nil)})
	if !errors.Is(err, ErrKeyInvalid) {
		t.Fatalf("got %v, want ErrKeyInvalid", err)
	}
}

func TestCarryTOTP(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	k := e.issue(t, apikey.Secret, "ops", keys.ScopeAdmin)
	plain := e.issue(t, apikey.Secret, "plain", keys.ScopeAdmin)
	sec := e.enroll(t, k.Key.ID)
	used := e.code(sec, 0)
	if _, err := e.m.Login(ctx, Credentials{Token: k.Token, Code: used}); err != nil {
		t.Fatal(err)
	}
	next, _, err := e.keys.Rotate(ctx, k.Key.ID, time.Hour, alice)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.m.CarryTOTP(ctx, k.Key.ID, next.Key.ID); err != nil || !ok {
		t.Fatalf("CarryTOTP = %v, %v", ok, err)
	}
	var le *LoginError
	if _, err := e.m.Login(ctx, Credentials{Token: next.Token}); !errors.As(err, &le) || le.Reason != ReasonTOTPRequired {
		t.Fatalf("the rotated key logs in without a code: %v", err)
	}
	if _, err := e.m.Login(ctx, Credentials{Token: next.Token, Code: used}); !errors.As(err, &le) || le.Reason != ReasonTOTPReplayed {
		t.Fatalf("a code used with the old key opened a session of the new one: %v", err)
	}
	e.clock.Advance(TOTPPeriod)
	if _, err := e.m.Login(ctx, Credentials{Token: next.Token, Code: e.code(sec, 0)}); err != nil {
		t.Fatalf("the same authenticator entry fails for the rotated key: %v", err)
	}
	nextPlain, _, err := e.keys.Rotate(ctx, plain.Key.ID, 0, alice)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.m.CarryTOTP(ctx, plain.Key.ID, nextPlain.Key.ID); err != nil || ok {
		t.Errorf("CarryTOTP of a key without TOTP = %v, %v; want false, nil", ok, err)
	}
}
