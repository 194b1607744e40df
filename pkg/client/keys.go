package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// keyPath returns the path of one key, with the id escaped so that it can
// never name another route.
func keyPath(id, suffix string) string {
	return "/admin/v1/keys/" + url.PathEscape(id) + suffix
}

// query encodes the options as GET /admin/v1/keys parameters. Labels are
// sorted so the same options always give the same URL.
func (o ListKeysOptions) query() url.Values {
	q := url.Values{}
	if o.Kind != "" {
		q.Set("kind", o.Kind)
	}
	if o.State != "" {
		q.Set("state", o.State)
	}
	if o.ExpiringWithin > 0 {
		q.Set("expiring_within", o.ExpiringWithin.String())
	}
	if o.Tileset != "" {
		q.Set("tileset", o.Tileset)
	}
	names := make([]string, 0, len(o.Labels))
	for k := range o.Labels {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		q.Add("label", k+"="+o.Labels[k])
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	return q
}

// ListKeys returns one page of keys matching opts (GET /admin/v1/keys).
// KeyList.Next is the cursor of the following page, empty on the last.
func (c *Client) ListKeys(ctx context.Context, opts ListKeysOptions) (KeyList, error) {
	var out KeyList
	err := c.call(ctx, request{method: http.MethodGet, path: "/admin/v1/keys", query: opts.query()}, &out)
	if err != nil {
		return KeyList{}, fmt.Errorf("list keys: %w", err)
	}
	if out.Keys == nil {
		out.Keys = []Key{}
	}
	return out, nil
}

// ListAllKeys returns every key matching opts, following the cursors from
// opts.Cursor to the last page; opts.Limit is the page size.
func (c *Client) ListAllKeys(ctx context.Context, opts ListKeysOptions) ([]Key, error) {
	all := []Key{}
	seen := map[string]bool{}
	for {
		page, err := c.ListKeys(ctx, opts)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Keys...)
		if page.Next == "" {
			return all, nil
		}
		if seen[page.Next] || page.Next == opts.Cursor {
			return nil, fmt.Errorf("list keys: %w", ErrPaging)
		}
		seen[page.Next] = true
		opts.Cursor = page.Next
	}
}

// GetKey returns one key (GET /admin/v1/keys/{id}).
func (c *Client) GetKey(ctx context.Context, id string) (Key, error) {
	var out Key
	if err := c.call(ctx, request{method: http.MethodGet, path: keyPath(id, "")}, &out); err != nil {
		return Key{}, fmt.Errorf("get key %q: %w", id, err)
	}
	return out, nil
}

// CreateKey issues a key (POST /admin/v1/keys). The answer carries the
// token, which the server never shows again.
func (c *Client) CreateKey(ctx context.Context, req CreateKeyRequest) (CreatedKey, error) {
	var out CreatedKey
	r := request{method: http.MethodPost, path: "/admin/v1/keys", body: req, accept: []int{http.StatusCreated, http.StatusOK}}
	if err := c.call(ctx, r, &out); err != nil {
		return CreatedKey{}, fmt.Errorf("create key %q: %w", req.Name, err)
	}
	return out, nil
}

// RotateKey issues a successor of key id (POST /admin/v1/keys/{id}/rotate).
// The old key keeps working for grace, then expires; a grace of zero ends
// it at once.
func (c *Client) RotateKey(ctx context.Context, id string, grace time.Duration) (RotatedKey, error) {
	if grace < 0 {
		return RotatedKey{}, fmt.Errorf("rotate key %q: negative grace period %v", id, grace)
	}
	var out RotatedKey
	r := request{
		method: http.MethodPost, path: keyPath(id, "/rotate"),
		body:   RotateKeyRequest{Grace: grace.String()},
		accept: []int{http.StatusCreated, http.StatusOK},
	}
	if err := c.call(ctx, r, &out); err != nil {
		return RotatedKey{}, fmt.Errorf("rotate key %q: %w", id, err)
	}
	return out, nil
}

// RevokeKey revokes key id (POST /admin/v1/keys/{id}/revoke). Revoking a
// revoked key succeeds with AlreadyRevoked set and changes nothing.
func (c *Client) RevokeKey(ctx context.Context, id, reason string) (RevokeResult, error) {
	var out RevokeResult
	r := request{method: http.MethodPost, path: keyPath(id, "/revoke"), body: RevokeKeyRequest{Reason: reason}}
	if err := c.call(ctx, r, &out); err != nil {
		return RevokeResult{}, fmt.Errorf("revoke key %q: %w", id, err)
	}
	return out, nil
}

// LookupKeys reports the state of the keys whose SHA-256 token hashes are
// given (POST /admin/v1/keys/lookup), one result per hash in order.
func (c *Client) LookupKeys(ctx context.Context, hashes []string) (LookupResponse, error) {
	var out LookupResponse
	r := request{method: http.MethodPost, path: "/admin/v1/keys/lookup", body: LookupRequest{Hashes: hashes}}
	if err := c.call(ctx, r, &out); err != nil {
		return LookupResponse{}, fmt.Errorf("look up %d key hashes: %w", len(hashes), err)
	}
	return out, nil
}

// EnrollTOTP enrols a TOTP secret for secret key id (POST
// /admin/v1/keys/{id}/totp) and returns the otpauth:// URI, shown once.
func (c *Client) EnrollTOTP(ctx context.Context, id string) (TOTPEnrollment, error) {
	var out TOTPEnrollment
	r := request{method: http.MethodPost, path: keyPath(id, "/totp"), accept: []int{http.StatusCreated, http.StatusOK}}
	if err := c.call(ctx, r, &out); err != nil {
		return TOTPEnrollment{}, fmt.Errorf("enrol TOTP for key %q: %w", id, err)
	}
	return out, nil
}
