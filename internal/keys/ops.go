package keys

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// sweepBatch is how many expiries one transaction records.
const sweepBatch = 100

// IssueRequest describes a key to create.
type IssueRequest struct {
	// Kind is apikey.Public or apikey.Secret.
	Kind apikey.Kind
	// Name is a human label, 1 to MaxNameLen characters.
	Name string
	// Scopes granted; a public key defaults to (and may only hold)
	// tiles:read, a secret key needs at least one secret scope.
	Scopes []string
	// Tilesets a public key may read; empty means all.
	Tilesets []string
	// Origins a public key may be used from in a browser (see
	// NormalizeOrigin); empty means no browser use.
	Origins []string
	// Rate (requests per second) and Burst of the key's own rate limit; 0
	// means the server default.
	Rate  float64
	Burst int
	// Labels are operator tags (see ValidateLabels).
	Labels map[string]string
	// NotBefore and ExpiresAt bound the key's validity; ExpiresAt must be in
	// the future and after NotBefore.
	NotBefore, ExpiresAt *time.Time
}

// Issued is a newly created key and its token. The token is shown once and
// never stored; only its hash is.
type Issued struct {
	Key   store.Key
	Token string
}

func micro(t time.Time) time.Time { return store.Micro(t) }

// Issue validates req, creates the key and records a key.create event, both
// in one transaction. The audit event names the key, its kind and scopes,
// never the token.
func (s *Service) Issue(ctx context.Context, req IssueRequest, actor Actor) (Issued, error) {
	now := micro(s.now())
	if err := validateActor(actor); err != nil {
		return Issued{}, fmt.Errorf("issue key: %w", err)
	}
	k, err := s.newKey(req, now, actor)
	if err != nil {
		return Issued{}, fmt.Errorf("issue key: %w", err)
	}
	token, err := s.mint(&k, now)
	if err != nil {
		return Issued{}, fmt.Errorf("issue key: %w", err)
	}
	details := map[string]string{
		"name":   k.Name,
		"kind":   k.Kind,
		"scopes": strings.Join(k.Scopes, ","),
		"start":  k.Start,
	}
	if k.ExpiresAt != nil {
		details["expires_at"] = k.ExpiresAt.Format(time.RFC3339Nano)
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertKey(ctx, k); err != nil {
			return fmt.Errorf("insert key: %w", err)
		}
		_, err := s.log.Append(ctx, tx, audit.Event{
			Actor: actor.Name, Action: audit.ActionKeyCreate, Target: k.ID,
			Details: details, ClientIP: actor.ClientIP,
		})
		return err
	})
	if err != nil {
		return Issued{}, fmt.Errorf("issue key %q: %w", k.Name, err)
	}
	s.Invalidate(k.Hash)
	return Issued{Key: k, Token: token}, nil
}

// newKey builds a validated key without its ID, token hash and start.
func (s *Service) newKey(req IssueRequest, now time.Time, actor Actor) (store.Key, error) {
	if req.Kind != apikey.Public && req.Kind != apikey.Secret {
		return store.Key{}, fmt.Errorf("kind %v: want public or secret: %w", req.Kind, ErrInvalidRequest)
	}
	if err := validText("name", req.Name, MaxNameLen, true); err != nil {
		return store.Key{}, err
	}
	scopes, err := normalizeScopes(req.Kind, req.Scopes)
	if err != nil {
		return store.Key{}, err
	}
	tilesets, err := validateTilesets(req.Kind, req.Tilesets)
	if err != nil {
		return store.Key{}, err
	}
	origins, err := validateOrigins(req.Kind, req.Origins)
	if err != nil {
		return store.Key{}, err
	}
	if err := validateLimits(req.Rate, req.Burst); err != nil {
		return store.Key{}, err
	}
	if err := ValidateLabels(req.Labels); err != nil {
		return store.Key{}, err
	}
	nb, exp, err := validateWindow(req.NotBefore, req.ExpiresAt, now)
	if err != nil {
		return store.Key{}, err
	}
	return store.Key{
		Kind:      req.Kind.String(),
		Name:      req.Name,
		Scopes:    scopes,
		Tilesets:  tilesets,
		Origins:   origins,
		Rate:      req.Rate,
		Burst:     req.Burst,
		Labels:    maps.Clone(req.Labels),
		CreatedAt: now,
		CreatedBy: actor.Name,
		NotBefore: nb,
		ExpiresAt: exp,
	}, nil
}

// mint gives k a new ID and token and returns the token.
func (s *Service) mint(k *store.Key, now time.Time) (string, error) {
	kind, err := apikey.ParseKind(k.Kind)
	if err != nil {
		return "", err
	}
	token, err := apikey.Generate(kind)
	if err != nil {
		return "", err
	}
	id, err := newRandomID(now)
	if err != nil {
		return "", err
	}
	k.ID = id
	k.Hash = apikey.Hash(token)
	k.Start = apikey.Start(token)
	return token, nil
}

// Rotate replaces the active key id with a new key of the same kind that
// inherits its name, scopes, tilesets, origins, rate, burst, labels and
// absolute expiry. The old key keeps working for grace (0: it stops at
// once); an earlier expiry it already had is kept. The new key, the old
// key's update and a key.rotate event are written in one transaction, and
// the old key's cached entry is dropped. It returns the new key with its
// token and the old key as updated. A revoked or expired key gives
// [ErrNotActive]; a key that already has a successor [ErrAlreadyRotated].
func (s *Service) Rotate(ctx context.Context, id string, grace time.Duration, actor Actor) (Issued, store.Key, error) {
	if err := validateActor(actor); err != nil {
		return Issued{}, store.Key{}, fmt.Errorf("rotate key: %w", err)
	}
	if grace < 0 {
		return Issued{}, store.Key{}, fmt.Errorf("rotate key %s: grace %v is negative: %w", quoteID(id), grace, ErrInvalidRequest)
	}
	if !ValidID(id) {
		return Issued{}, store.Key{}, notAKeyID("rotate", id)
	}
	var (
		issued Issued
		old    store.Key
	)
	err := s.st.Update(ctx, func(tx store.Tx) error {
		now := micro(s.now())
		k, err := getKey(ctx, tx, id)
		if err != nil {
			return err
		}
		switch st := k.State(now); st {
		case store.StateRevoked, store.StateExpired:
			return fmt.Errorf("key %s is %s: %w", id, st, ErrNotActive)
		}
		if k.ReplacedBy != "" {
			return fmt.Errorf("key %s was already replaced by %s; rotate that key instead: %w", id, k.ReplacedBy, ErrAlreadyRotated)
		}

		nk := store.Key{
			Kind:      k.Kind,
			Name:      k.Name,
			Scopes:    slices.Clone(k.Scopes),
			Tilesets:  slices.Clone(k.Tilesets),
			Origins:   slices.Clone(k.Origins),
			Rate:      k.Rate,
			Burst:     k.Burst,
			Labels:    maps.Clone(k.Labels),
			CreatedAt: now,
			CreatedBy: actor.Name,
			ExpiresAt: copyTime(k.ExpiresAt),
			Replaces:  k.ID,
		}
		if k.NotBefore != nil && k.NotBefore.After(now) {
			nk.NotBefore = copyTime(k.NotBefore)
		}
		token, err := s.mint(&nk, now)
		if err != nil {
			return err
		}

		end := now.Add(grace)
		if k.ExpiresAt == nil || end.Before(*k.ExpiresAt) {
			k.ExpiresAt = &end
		}
		k.ReplacedBy = nk.ID

		if err := tx.InsertKey(ctx, nk); err != nil {
			return fmt.Errorf("insert new key: %w", err)
		}
		if err := tx.UpdateKey(ctx, k); err != nil {
			return fmt.Errorf("update old key: %w", err)
		}
		if _, err := s.log.Append(ctx, tx, audit.Event{
			Actor: actor.Name, Action: audit.ActionKeyRotate, Target: k.ID,
			Details: map[string]string{
				"new_id":         nk.ID,
				"new_start":      nk.Start,
				"grace":          grace.String(),
				"old_expires_at": k.ExpiresAt.Format(time.RFC3339Nano),
			},
			ClientIP: actor.ClientIP,
		}); err != nil {
			return err
		}
		issued, old = Issued{Key: nk, Token: token}, k
		return nil
	})
	if err != nil {
		return Issued{}, store.Key{}, fmt.Errorf("rotate key %s: %w", id, err)
	}
	s.Invalidate(old.Hash)
	s.Invalidate(issued.Key.Hash)
	return issued, old, nil
}

// Revoke revokes key id at once, recording who did it and why, with a
// key.revoke event in the same transaction, and drops the key from the
// cache. Revoking a key that is already revoked writes nothing and returns
// the key with alreadyRevoked true.
func (s *Service) Revoke(ctx context.Context, id, reason string, actor Actor) (k store.Key, alreadyRevoked bool, err error) {
	return s.revoke(ctx, id, reason, audit.ActionKeyRevoke, map[string]string{"reason": reason}, actor)
}

// RevokeLeaked is [Service.Revoke] for a key found exposed: the reason is
// "leaked: " and the location, and the event is key.leak_revoked.
func (s *Service) RevokeLeaked(ctx context.Context, id, location string, actor Actor) (k store.Key, alreadyRevoked bool, err error) {
	reason := "leaked: " + location
	return s.revoke(ctx, id, reason, audit.ActionKeyLeakRevoked, map[string]string{"location": location, "reason": reason}, actor)
}

func (s *Service) revoke(ctx context.Context, id, reason, action string, details map[string]string, actor Actor) (store.Key, bool, error) {
	if err := validateActor(actor); err != nil {
		return store.Key{}, false, fmt.Errorf("revoke key: %w", err)
	}
	if err := validText("reason", reason, MaxReasonLen, false); err != nil {
		return store.Key{}, false, fmt.Errorf("revoke key %s: %w", quoteID(id), err)
	}
	if !ValidID(id) {
		return store.Key{}, false, notAKeyID("revoke", id)
	}
	var (
		out     store.Key
		already bool
	)
	err := s.st.Update(ctx, func(tx store.Tx) error {
		k, err := getKey(ctx, tx, id)
		if err != nil {
			return err
		}
		if k.RevokedAt != nil {
			out, already = k, true
			return nil
		}
		now := micro(s.now())
		k.RevokedAt = &now
		k.RevokedBy = actor.Name
		k.RevokeReason = reason
		if err := tx.UpdateKey(ctx, k); err != nil {
			return fmt.Errorf("update key: %w", err)
		}
		if _, err := s.log.Append(ctx, tx, audit.Event{
			Actor: actor.Name, Action: action, Target: k.ID, Details: details, ClientIP: actor.ClientIP,
		}); err != nil {
			return err
		}
		out, already = k, false
		return nil
	})
	if err != nil {
		return store.Key{}, false, fmt.Errorf("revoke key %s: %w", id, err)
	}
	s.Invalidate(out.Hash)
	return out, already, nil
}

// Get returns the key with this ID; an unknown or malformed ID gives an
// error matching [ErrNotFound].
func (s *Service) Get(ctx context.Context, id string) (store.Key, error) {
	if !ValidID(id) {
		return store.Key{}, notAKeyID("get", id)
	}
	k, err := getKey(ctx, s.st, id)
	if err != nil {
		return store.Key{}, fmt.Errorf("get key: %w", err)
	}
	return k, nil
}

// List returns a page of keys matching f (see store.KeyFilter) and the
// cursor of the next page. f.Now defaults to the current time when the
// filter needs one (State or ExpiringWithin).
func (s *Service) List(ctx context.Context, f store.KeyFilter) ([]store.Key, string, error) {
	if f.Now.IsZero() && (f.State != "" || f.ExpiringWithin != 0) {
		f.Now = micro(s.now())
	}
	ks, next, err := s.st.ListKeys(ctx, f)
	if err != nil {
		return nil, "", fmt.Errorf("list keys: %w", err)
	}
	return ks, next, nil
}

// SweepExpired records every key whose expiry has passed and that is not
// yet marked expired (nor revoked): it sets ExpiredAt and writes a
// key.expire event by the system actor, up to 100 keys per transaction. It
// returns how many keys it recorded. Keys refuse service from their expiry
// time whether or not the sweep has run; the sweep makes the expiry visible
// in the audit log.
func (s *Service) SweepExpired(ctx context.Context) (int, error) {
	total := 0
	for {
		now := micro(s.now())
		due, err := s.st.KeysDueToExpire(ctx, now, sweepBatch)
		if err != nil {
			return total, fmt.Errorf("sweep expired keys: %w", err)
		}
		if len(due) == 0 {
			return total, nil
		}
		// A fixed lock order keeps two sweeping replicas from deadlocking.
		slices.SortFunc(due, func(a, b store.Key) int { return cmp.Compare(a.ID, b.ID) })
		var done []store.Key
		err = s.st.Update(ctx, func(tx store.Tx) error {
			done = done[:0]
			var todo []store.Key
			for _, d := range due {
				k, err := getKey(ctx, tx, d.ID)
				if errors.Is(err, ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				// Another replica may have recorded it since the query.
				if k.ExpiredAt != nil || k.RevokedAt != nil || k.ExpiresAt == nil || k.ExpiresAt.After(now) {
					continue
				}
				todo = append(todo, k)
			}
			for _, k := range todo {
				k.ExpiredAt = &now
				if err := tx.UpdateKey(ctx, k); err != nil {
					return fmt.Errorf("update key %s: %w", k.ID, err)
				}
				if _, err := s.log.Append(ctx, tx, audit.Event{
					Actor: ActorSystem, Action: audit.ActionKeyExpire, Target: k.ID,
					Details: map[string]string{"expires_at": k.ExpiresAt.Format(time.RFC3339Nano)},
				}); err != nil {
					return err
				}
				done = append(done, k)
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("sweep expired keys: %w", err)
		}
		for _, k := range done {
			s.Invalidate(k.Hash)
		}
		total += len(done)
		if len(due) < sweepBatch {
			return total, nil
		}
		if len(done) == 0 {
			// Every due key was handled elsewhere meanwhile; the next query
			// would return them again only if that failed, so stop here.
			return total, nil
		}
	}
}

// getKey reads a key, translating the store's not-found error.
func getKey(ctx context.Context, r store.Reader, id string) (store.Key, error) {
	k, err := r.GetKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Key{}, fmt.Errorf("key %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return store.Key{}, fmt.Errorf("read key %s: %w", id, err)
	}
	return k, nil
}

func notAKeyID(op, id string) error {
	return fmt.Errorf("%s key %s: not a key ID: %w", op, quoteID(id), ErrNotFound)
}

// quoteID quotes an ID for an error message. A token pasted where an ID
// belongs is redacted, and other junk is shortened.
func quoteID(id string) string {
	if strings.HasPrefix(id, "mpw_") {
		return apikey.Redact(id)
	}
	if len(id) > 40 {
		id = id[:40] + "..."
	}
	return strconv.Quote(id)
}

func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}
