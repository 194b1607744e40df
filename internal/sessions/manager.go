package sessions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// Default session lifetimes.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
)

// touchEvery is how stale a session's last-seen time may get before a
// request writes it again: a busy session costs one write a minute, not one
// per request.
const touchEvery = time.Minute

// pruneEvery is how often a login also deletes ended sessions.
const pruneEvery = 10 * time.Minute

// ActionTOTPEnroll is the audit action of a TOTP enrolment. Its target is
// the key; its details name the key, never the secret.
const ActionTOTPEnroll = "key.totp_enroll"

// ActorAnonymous is the audit actor of a failed login whose token named no
// key.
const ActorAnonymous = "anonymous"

// Options configure a [Manager].
type Options struct {
	// Key is the session key, KeySize bytes (see LoadOrCreateKey). It signs
	// cookies and, through HKDF, seals TOTP secrets.
	Key []byte
	// Store holds sessions and TOTP secrets.
	Store store.Store
	// Keys verifies the secret keys that log in and reports the state of
	// a session's key.
	Keys *keys.Service
	// Audit records logins, failures, logouts and enrolments.
	Audit *audit.Log
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// IdleTimeout ends a session unused for this long; 0 means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends every session this long after login; 0 means
	// DefaultAbsoluteTimeout.
	AbsoluteTimeout time.Duration
	// Logger receives background errors; nothing is logged when nil.
	Logger *slog.Logger
}

// Manager opens, checks and ends admin sessions and enrols TOTP secrets. It
// is safe for concurrent use.
type Manager struct {
	key      []byte
	st       store.Store
	keys     *keys.Service
	audit    *audit.Log
	now      func() time.Time
	idle     time.Duration
	absolute time.Duration
	logger   *slog.Logger
	sealer   *sealer

	netFails *failureLimiter
	keyFails *failureLimiter

	pruneMu   sync.Mutex
	lastPrune time.Time
}

// New returns a Manager. A key of the wrong size is an error wrapping
// [ErrKeyInvalid]; Store, Keys and Audit are required.
func New(opts Options) (*Manager, error) {
	if len(opts.Key) != KeySize {
		return nil, fmt.Errorf("session manager: key of %d bytes, want %d: %w", len(opts.Key), KeySize, ErrKeyInvalid)
	}
	if opts.Store == nil || opts.Keys == nil || opts.Audit == nil {
		return nil, errors.New("session manager: Store, Keys and Audit are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.AbsoluteTimeout <= 0 {
		opts.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	opts.IdleTimeout = min(opts.IdleTimeout, opts.AbsoluteTimeout)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := newSealer(opts.Key)
	if err != nil {
		return nil, fmt.Errorf("session manager: %w", err)
	}
	return &Manager{
		key:      append([]byte(nil), opts.Key...),
		st:       opts.Store,
		keys:     opts.Keys,
		audit:    opts.Audit,
		now:      opts.Now,
		idle:     opts.IdleTimeout,
		absolute: opts.AbsoluteTimeout,
		logger:   opts.Logger,
		sealer:   s,
		netFails: newFailureLimiter(netFailEvery, netFailBurst),
		keyFails: newFailureLimiter(keyFailEvery, keyFailBurst),
	}, nil
}

// IdleTimeout returns how long an unused session lasts.
func (m *Manager) IdleTimeout() time.Duration { return m.idle }

// AbsoluteTimeout returns how long any session lasts.
func (m *Manager) AbsoluteTimeout() time.Duration { return m.absolute }

// Credentials are what a login presents.
type Credentials struct {
	// Token is the secret key.
	Token string
	// Code is the current TOTP code, needed when the key has TOTP
	// enrolled.
	Code string
	// ClientIP is the client's address (bare or host:port), empty over the
	// unix socket; it is truncated before it is recorded.
	ClientIP string
}

// Opened is a new session.
type Opened struct {
	// Cookie is the session cookie's value. It is a credential: it is
	// returned once and never stored.
	Cookie string
	// Session is the stored record.
	Session store.Session
	// Key is the key that logged in.
	Key store.Key
}

// Login checks c and opens a session of its key: the session record and
// an admin.login event are written in one transaction. A refused login is
// an error matching [ErrLoginFailed] (a *LoginError saying why) and is
// recorded as an admin.login_failure event; a login refused because too
// many failed before it is a *ThrottledError, checked against nothing and
// not recorded. Other errors are the store's.
func (m *Manager) Login(ctx context.Context, c Credentials) (Opened, error) {
	now := m.now()
	network := audit.TruncateIP(c.ClientIP)
	if wait := m.netFails.wait(network, now); wait > 0 {
		return Opened{}, &ThrottledError{RetryAfter: wait}
	}
	k, reason, err := m.verifyKey(ctx, c.Token)
	if err != nil {
		return Opened{}, fmt.Errorf("log in: %w", err)
	}
	if reason != "" {
		return Opened{}, m.refuse(ctx, c, k, reason, now)
	}
	if wait := m.keyFails.wait(k.ID, now); wait > 0 {
		return Opened{}, &ThrottledError{RetryAfter: wait}
	}

	cookie, hash, err := m.newSessionID()
	if err != nil {
		return Opened{}, err
	}
	now = store.Micro(now)
	sess := store.Session{
		Hash:          hash,
		KeyID:         k.ID,
		CreatedAt:     now,
		LastSeenAt:    now,
		IdleExpiresAt: now.Add(m.idle),
		ExpiresAt:     now.Add(m.absolute),
	}
	var refusal string
	err = m.st.Update(ctx, func(tx store.Tx) error {
		refusal = ""
		totp, err := tx.GetTOTP(ctx, k.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if refusal, err = m.checkCode(ctx, tx, totp, c.Code, now); err != nil || refusal != "" {
				return err
			}
		}
		if err := tx.InsertSession(ctx, sess); err != nil {
			return err
		}
		details := map[string]string{"expires_at": sess.ExpiresAt.Format(time.RFC3339)}
		if totp.KeyID != "" {
			details["totp"] = "true"
		}
		_, err = m.audit.Append(ctx, tx, audit.Event{
			Actor: actorOf(k.ID), Action: audit.ActionAdminLogin, Target: k.ID,
			Details: details, ClientIP: c.ClientIP,
		})
		return err
	})
	if err != nil {
		return Opened{}, fmt.Errorf("log in with key %s: %w", k.ID, err)
	}
	if refusal != "" {
		if refusal == ReasonTOTPInvalid || refusal == ReasonTOTPReplayed {
			m.keyFails.fail(k.ID, now)
		}
		return Opened{}, m.refuse(ctx, c, k, refusal, now)
	}
	m.keyFails.forget(k.ID)
	m.maybePrune(ctx, now)
	return Opened{Cookie: cookie, Session: sess, Key: *k}, nil
}

// verifyKey authenticates a login token; a non-empty reason refuses it. The
// key is returned whenever the token named one, so a refusal can name it.
// An error means the check itself failed (the store), not the credential.
func (m *Manager) verifyKey(ctx context.Context, token string) (*store.Key, string, error) {
	k, err := m.keys.Verify(ctx, token)
	var kc *store.Key
	if k != nil {
		// Verify's key is shared with its cache and must not escape.
		c := *k
		kc = &c
	}
	switch {
	case err == nil:
	case errors.Is(err, keys.ErrMalformed):
		return nil, ReasonMalformedKey, nil
	case errors.Is(err, keys.ErrUnknownKey):
		return nil, ReasonUnknownKey, nil
	case errors.Is(err, keys.ErrRevoked):
		return kc, ReasonRevoked, nil
	case errors.Is(err, keys.ErrExpired):
		return kc, ReasonExpired, nil
	case errors.Is(err, keys.ErrNotYetValid):
		return kc, ReasonNotYetValid, nil
	default:
		return nil, "", err
	}
	if kc.Kind != apikey.Secret.String() {
		return kc, ReasonPublicKey, nil
	}
	return kc, "", nil
}

// checkCode checks a TOTP code inside the login transaction and records its
// step, so the same code cannot open a second session. A non-empty reason
// refuses the login.
func (m *Manager) checkCode(ctx context.Context, tx store.Tx, t store.TOTPSecret, code string, now time.Time) (string, error) {
	if code == "" {
		return ReasonTOTPRequired, nil
	}
	secret, err := m.sealer.open(t.KeyID, t.Sealed)
	if err != nil {
		return "", err
	}
	step, ok := matchTOTP(secret, code, now)
	clear(secret)
	if !ok {
		return ReasonTOTPInvalid, nil
	}
	if step <= t.LastStep {
		return ReasonTOTPReplayed, nil
	}
	err = tx.AdvanceTOTPStep(ctx, t.KeyID, step)
	if errors.Is(err, store.ErrConflict) {
		return ReasonTOTPReplayed, nil
	}
	return "", err
}

// refuse records a failed login and returns its error.
func (m *Manager) refuse(ctx context.Context, c Credentials, k *store.Key, reason string, now time.Time) error {
	m.netFails.fail(audit.TruncateIP(c.ClientIP), now)
	le := &LoginError{Reason: reason}
	ev := audit.Event{
		Actor: ActorAnonymous, Action: audit.ActionAdminLoginFail, Outcome: audit.OutcomeFailure,
		Details: map[string]string{"reason": reason}, ClientIP: c.ClientIP,
	}
	if k != nil {
		le.KeyID = k.ID
		ev.Actor, ev.Target = actorOf(k.ID), k.ID
	}
	if _, err := m.audit.AppendStandalone(ctx, m.st, ev); err != nil {
		// The refusal stands either way; losing its record is logged.
		m.logger.Error("record failed admin login", slog.String("reason", reason), slog.Any("error", err))
	}
	return le
}

func actorOf(keyID string) string { return "key:" + keyID }

// Authenticate checks a session cookie's value and returns the session and
// its key. A malformed, altered or unknown cookie gives [ErrInvalidSession],
// an ended session [ErrSessionExpired], and a session whose key is no
// longer an active secret key [ErrKeyInactive]. A successful check moves
// the session's idle expiry forward.
func (m *Manager) Authenticate(ctx context.Context, cookie string) (store.Session, store.Key, error) {
	hash, err := m.parseCookie(cookie)
	if err != nil {
		return store.Session{}, store.Key{}, err
	}
	sess, err := m.st.GetSession(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, store.Key{}, ErrInvalidSession
	}
	if err != nil {
		return store.Session{}, store.Key{}, fmt.Errorf("check session: %w", err)
	}
	now := m.now()
	if sess.Expired(now) {
		return store.Session{}, store.Key{}, ErrSessionExpired
	}
	k, err := m.keys.Get(ctx, sess.KeyID)
	if err != nil {
		if errors.Is(err, keys.ErrNotFound) {
			return store.Session{}, store.Key{}, ErrKeyInactive
		}
		return store.Session{}, store.Key{}, fmt.Errorf("check session: %w", err)
	}
	if k.State(now) != store.StateActive || k.Kind != apikey.Secret.String() {
		return store.Session{}, store.Key{}, ErrKeyInactive
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		seen := store.Micro(now)
		idle := seen.Add(m.idle)
		if idle.After(sess.ExpiresAt) {
			idle = sess.ExpiresAt
		}
		if err := m.st.TouchSession(ctx, hash, seen, idle); err != nil {
			// The request may proceed: the session was valid. Its idle
			// expiry just did not move this time.
			m.logger.Warn("refresh admin session", slog.String("key_id", sess.KeyID), slog.Any("error", err))
		} else {
			sess.LastSeenAt, sess.IdleExpiresAt = seen, idle
		}
	}
	return sess, k, nil
}

// Logout ends the session of cookie and records a session.end event by
// actor, in one transaction. A cookie that names no live session gives
// [ErrInvalidSession] and records nothing.
func (m *Manager) Logout(ctx context.Context, cookie, actor, clientIP string) (store.Session, error) {
	hash, err := m.parseCookie(cookie)
	if err != nil {
		return store.Session{}, err
	}
	var sess store.Session
	err = m.st.Update(ctx, func(tx store.Tx) error {
		sess, err = tx.GetSession(ctx, hash)
		if err != nil {
			return err
		}
		if err := tx.DeleteSession(ctx, hash); err != nil {
			return err
		}
		_, err := m.audit.Append(ctx, tx, audit.Event{
			Actor: actor, Action: audit.ActionSessionEnd, Target: sess.KeyID,
			Details: map[string]string{"reason": "logout"}, ClientIP: clientIP,
		})
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, ErrInvalidSession
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("log out: %w", err)
	}
	return sess, nil
}

// EnrollTOTP gives secret key keyID a new TOTP secret, replacing any
// earlier one, and records a key.totp_enroll event, in one transaction. It
// returns the otpauth:// URI to show once. An unknown key gives an error
// matching keys.ErrNotFound, a public key [ErrNotSecretKey], and a key that
// is revoked or expired keys.ErrNotActive.
func (m *Manager) EnrollTOTP(ctx context.Context, keyID string, actor keys.Actor) (string, error) {
	if !keys.ValidID(keyID) {
		return "", fmt.Errorf("enrol TOTP: not a key ID: %w", keys.ErrNotFound)
	}
	secret, err := newTOTPSecret()
	if err != nil {
		return "", err
	}
	defer clear(secret)
	sealed, err := m.sealer.seal(keyID, secret)
	if err != nil {
		return "", err
	}
	var uri string
	err = m.st.Update(ctx, func(tx store.Tx) error {
		k, err := tx.GetKey(ctx, keyID)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("key %s: %w", keyID, keys.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if k.Kind != apikey.Secret.String() {
			return fmt.Errorf("key %s is a %s key: %w", keyID, k.Kind, ErrNotSecretKey)
		}
		now := store.Micro(m.now())
		switch st := k.State(now); st {
		case store.StateRevoked, store.StateExpired:
			return fmt.Errorf("key %s is %s: %w", keyID, st, keys.ErrNotActive)
		}
		_, err = tx.GetTOTP(ctx, keyID)
		replaced := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.PutTOTP(ctx, store.TOTPSecret{KeyID: keyID, Sealed: sealed, CreatedAt: now}); err != nil {
			return err
		}
		details := map[string]string{"name": k.Name, "replaced": fmt.Sprint(replaced)}
		if _, err := m.audit.Append(ctx, tx, audit.Event{
			Actor: actor.Name, Action: ActionTOTPEnroll, Target: keyID, Details: details, ClientIP: actor.ClientIP,
		}); err != nil {
			return err
		}
		uri = totpURI(k.Name, secret)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("enrol TOTP for key %s: %w", keyID, err)
	}
	m.keyFails.forget(keyID)
	return uri, nil
}

// CarryTOTP gives key toID the TOTP secret of key fromID, so that rotating
// a key keeps its second factor: the same authenticator entry keeps
// working, and codes already used stay used. It reports whether fromID had
// a secret to carry; the secret is re-sealed for toID and never leaves the
// process.
func (m *Manager) CarryTOTP(ctx context.Context, fromID, toID string) (bool, error) {
	carried := false
	err := m.st.Update(ctx, func(tx store.Tx) error {
		t, err := tx.GetTOTP(ctx, fromID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		secret, err := m.sealer.open(fromID, t.Sealed)
		if err != nil {
			return err
		}
		defer clear(secret)
		sealed, err := m.sealer.seal(toID, secret)
		if err != nil {
			return err
		}
		if err := tx.PutTOTP(ctx, store.TOTPSecret{KeyID: toID, Sealed: sealed, CreatedAt: t.CreatedAt, LastStep: t.LastStep}); err != nil {
			return err
		}
		carried = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("carry TOTP from key %s to %s: %w", fromID, toID, err)
	}
	return carried, nil
}

// TOTPEnrolled reports which of keyIDs have TOTP enrolled, in batches the
// store accepts.
func (m *Manager) TOTPEnrolled(ctx context.Context, keyIDs []string) (map[string]bool, error) {
	out := make(map[string]bool)
	for len(keyIDs) > 0 {
		n := min(len(keyIDs), store.MaxBatch)
		got, err := m.st.TOTPEnrolled(ctx, keyIDs[:n])
		if err != nil {
			return nil, err
		}
		for id := range got {
			out[id] = true
		}
		keyIDs = keyIDs[n:]
	}
	return out, nil
}

// Prune deletes the sessions that have ended and returns how many.
func (m *Manager) Prune(ctx context.Context) (int, error) {
	n, err := m.st.DeleteExpiredSessions(ctx, store.Micro(m.now()))
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return n, nil
}

// maybePrune prunes at most every pruneEvery, piggybacking on logins: ended
// sessions only accumulate as fast as logins open new ones.
func (m *Manager) maybePrune(ctx context.Context, now time.Time) {
	m.pruneMu.Lock()
	due := now.Sub(m.lastPrune) >= pruneEvery
	if due {
		m.lastPrune = now
	}
	m.pruneMu.Unlock()
	if !due {
		return
	}
	if _, err := m.Prune(ctx); err != nil {
		m.logger.Warn("prune ended admin sessions", slog.Any("error", err))
	}
}
