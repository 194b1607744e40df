package scan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mapwright/mapwright/pkg/client"
)

// LookupBatch is the most hashes sent in one lookup request, the admin
// API's limit.
const LookupBatch = 1000

// maxReasonLen bounds the revocation reason, the server's limit.
const maxReasonLen = 500

// API is the part of the admin API a scan uses. *client.Client implements
// it; tests use fakes.
type API interface {
	// LookupKeys reports the state of the keys with these token hashes,
	// one result per hash, in order.
	LookupKeys(ctx context.Context, hashes []string) (client.LookupResponse, error)
	// RevokeLeakedKey revokes key id as found exposed at location; the
	// server records key.leak_revoked with the location and the reason
	// "leaked: LOCATION".
	RevokeLeakedKey(ctx context.Context, id, location string) (client.RevokeResult, error)
}

// Lookup asks the admin API for the status of every valid key of r, by hash
// (tokens never travel), in batches of LookupBatch, and records status, id
// and name. Look-alikes are not looked up. Nothing is changed if a batch
// fails.
func (r *Result) Lookup(ctx context.Context, api API) error {
	var valid []*Key
	for _, k := range r.Keys {
		if k.Valid {
			valid = append(valid, k)
		}
	}
	type answer struct {
		k   *Key
		res client.LookupResult
	}
	answers := make([]answer, 0, len(valid))
	for start := 0; start < len(valid); start += LookupBatch {
		batch := valid[start:min(start+LookupBatch, len(valid))]
		hashes := make([]string, len(batch))
		for i, k := range batch {
			hashes[i] = k.Hash
		}
		resp, err := api.LookupKeys(ctx, hashes)
		if err != nil {
			return fmt.Errorf("look up %d found keys: %w", len(valid), err)
		}
		if len(resp.Results) != len(batch) {
			return fmt.Errorf("%w: %d results for %d hashes", ErrLookup, len(resp.Results), len(batch))
		}
		for i, res := range resp.Results {
			if !strings.EqualFold(res.Hash, hashes[i]) {
				return fmt.Errorf("%w: result %d is for another hash", ErrLookup, i+1)
			}
			answers = append(answers, answer{batch[i], res})
		}
	}
	for _, a := range answers {
		a.k.Status = statusOf(a.res.State)
		a.k.ID, a.k.Name = a.res.ID, a.res.Name
	}
	r.Checked = true
	return nil
}

// statusOf maps a lookup state to a Status. A state this version does not
// know is kept as is; Status.Live treats it as live, failing closed.
func statusOf(state string) Status {
	s := Status(strings.ToLower(strings.TrimSpace(state)))
	if s == "" {
		return StatusUnknown
	}
	return s
}

// Revocable returns the reported valid keys that --revoke revokes: those
// the server knows (an id) in state active or pending.
func (r *Result) Revocable() []*Key {
	var out []*Key
	for _, k := range r.Keys {
		if k.Valid && k.ID != "" && k.Reported() && (k.Status == StatusActive || k.Status == StatusPending) {
			out = append(out, k)
		}
	}
	return out
}

// Revocation is the outcome of revoking one key.
type Revocation struct {
	// Key is the key, updated on success.
	Key *Key
	// Reason is the reason sent: "leaked: " and the key's first reported
	// location.
	Reason string
	// AlreadyRevoked is true when the server says the key was revoked
	// before this call.
	AlreadyRevoked bool
	// Err is the failure, nil on success.
	Err error
}

// leakPrefix starts the reason the server gives a leak revocation.
const leakPrefix = "leaked: "

// LeakReason is the revocation reason for a key found at loc, as the
// server records it: "leaked: " and the location, shortened to the
// server's limit on reasons.
func LeakReason(loc Location) string {
	reason := leakPrefix + loc.String()
	if len(reason) > maxReasonLen {
		n := maxReasonLen - len("…")
		// Cut at a character boundary, never inside a UTF-8 sequence.
		for n > 0 && !utf8.RuneStart(reason[n]) {
			n--
		}
		reason = reason[:n] + "…"
	}
	return reason
}

// Revoke revokes keys on the admin API as leaked, each at its first
// reported location (recorded with the reason LeakReason), and marks the
// revoked ones. It tries every
// key even when one fails; the error joins the failures.
func Revoke(ctx context.Context, api API, keys []*Key) ([]Revocation, error) {
	out := make([]Revocation, 0, len(keys))
	var errs []error
	for _, k := range keys {
		loc := k.FirstReported()
		if loc == nil {
			continue
		}
		rv := Revocation{Key: k, Reason: LeakReason(*loc)}
		res, err := api.RevokeLeakedKey(ctx, k.ID, strings.TrimPrefix(rv.Reason, leakPrefix))
		if err != nil {
			rv.Err = err
			errs = append(errs, fmt.Errorf("revoke key %s (%s): %w", k.ID, k.Redacted, err))
			if ctx.Err() != nil {
				out = append(out, rv)
				break
			}
		} else {
			rv.AlreadyRevoked = res.AlreadyRevoked
			k.Status = StatusRevoked
			k.RevokedByScan = !res.AlreadyRevoked
		}
		out = append(out, rv)
	}
	return out, errors.Join(errs...)
}
