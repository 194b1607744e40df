package client

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Media types of the audit export.
const (
	// AuditJSONLMediaType is the Content-Type of a JSON Lines export: one
	// AuditEvent per line.
	AuditJSONLMediaType = "application/x-ndjson"
	// AuditCSVMediaType is the Content-Type of a CSV export (RFC 4180,
	// header row first; see AuditCSVHeader).
	AuditCSVMediaType = "text/csv"
)

// Export formats of AuditExport.
const (
	AuditFormatJSONL = "jsonl"
	AuditFormatCSV   = "csv"
)

// AuditCSVHeader is the header row of a CSV export, in column order. The
// details column holds the event's details as a JSON object; hashes are
// lowercase hex; time is RFC 3339 with microseconds, UTC.
var AuditCSVHeader = []string{"seq", "time", "actor", "action", "target", "outcome", "details", "client_ip", "prev_hash", "hash"}

// CheckpointFormat opens the text a checkpoint signature covers.
const CheckpointFormat = "mapwright audit checkpoint v1"

// query encodes the options as GET /admin/v1/audit parameters.
func (q AuditQuery) query() url.Values {
	v := q.filter()
	if q.Order != "" {
		v.Set("order", q.Order)
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// filter encodes the filtering parameters only (no order, cursor or
// limit), shared by the list and the export.
func (q AuditQuery) filter() url.Values {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	for name, val := range map[string]string{"actor": q.Actor, "action": q.Action, "target": q.Target, "outcome": q.Outcome} {
		if val != "" {
			v.Set(name, val)
		}
	}
	return v
}

// AuditList returns one page of audit events matching q (GET
// /admin/v1/audit, scope audit:read). AuditPage.Next is the cursor of the
// following page, empty on the last.
func (c *Client) AuditList(ctx context.Context, q AuditQuery) (AuditPage, error) {
	var out AuditPage
	if err := c.call(ctx, request{method: http.MethodGet, path: "/admin/v1/audit", query: q.query()}, &out); err != nil {
		return AuditPage{}, fmt.Errorf("list audit events: %w", err)
	}
	if out.Events == nil {
		out.Events = []AuditEvent{}
	}
	for i := range out.Events {
		if out.Events[i].Details == nil {
			out.Events[i].Details = map[string]string{}
		}
	}
	return out, nil
}

// AuditVerify asks the server to verify the audit chain (POST
// /admin/v1/audit/verify, scope audit:read). A broken chain is reported in
// the result (OK false, FirstBad, Reason), not as an error.
func (c *Client) AuditVerify(ctx context.Context, req AuditVerifyRequest) (AuditVerifyResult, error) {
	var out AuditVerifyResult
	if err := c.call(ctx, request{method: http.MethodPost, path: "/admin/v1/audit/verify", body: req}, &out); err != nil {
		return AuditVerifyResult{}, fmt.Errorf("verify audit log: %w", err)
	}
	return out, nil
}

// AuditCheckpoint returns a checkpoint of the audit log signed by the
// server (GET /admin/v1/audit/checkpoint, scope audit:read). It checks the
// signature against the public key the checkpoint carries; pinning that
// key is the caller's business (see Checkpoint.Verify).
func (c *Client) AuditCheckpoint(ctx context.Context) (Checkpoint, error) {
	var out Checkpoint
	if err := c.call(ctx, request{method: http.MethodGet, path: "/admin/v1/audit/checkpoint"}, &out); err != nil {
		return Checkpoint{}, fmt.Errorf("get audit checkpoint: %w", err)
	}
	if err := out.Verify(""); err != nil {
		return Checkpoint{}, fmt.Errorf("get audit checkpoint: %w", err)
	}
	return out, nil
}

// AuditPrune deletes the audit events older than olderThan (POST
// /admin/v1/audit/prune, scope admin). The server records the cut in an
// audit.prune event, so the rest of the chain still verifies.
func (c *Client) AuditPrune(ctx context.Context, olderThan time.Duration) (AuditPruneResult, error) {
	if olderThan <= 0 {
		return AuditPruneResult{}, fmt.Errorf("prune audit log: the age must be positive, got %v", olderThan)
	}
	var out AuditPruneResult
	r := request{method: http.MethodPost, path: "/admin/v1/audit/prune", body: AuditPruneRequest{OlderThan: olderThan.String()}}
	if err := c.call(ctx, r, &out); err != nil {
		return AuditPruneResult{}, fmt.Errorf("prune audit log: %w", err)
	}
	return out, nil
}

// AuditExport streams the audit events matching the filter fields of q
// (Since, Until, Actor, Action, Target, Outcome; the rest is ignored) in
// format AuditFormatJSONL or AuditFormatCSV (GET
// /admin/v1/audit/export, scope audit:read), oldest first. The server
// records the export as an audit.export event, which the export
// includes. The caller must close the stream; it is read as it arrives,
// never held whole.
func (c *Client) AuditExport(ctx context.Context, format string, q AuditQuery) (io.ReadCloser, error) {
	want := map[string]string{AuditFormatJSONL: AuditJSONLMediaType, AuditFormatCSV: AuditCSVMediaType}[format]
	if want == "" {
		return nil, fmt.Errorf("export audit log: format %q: want %s or %s", format, AuditFormatJSONL, AuditFormatCSV)
	}
	v := q.filter()
	v.Set("format", format)
	resp, err := c.do(ctx, request{
		method: http.MethodGet, path: "/admin/v1/audit/export", query: v,
		header: http.Header{"Accept": {want + ", application/problem+json"}},
	})
	if err != nil {
		return nil, fmt.Errorf("export audit log: %w", err)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != want {
		resp.Body.Close()
		return nil, fmt.Errorf("export audit log: the server answered with %q, not %s", clean(resp.Header.Get("Content-Type")), want)
	}
	return resp.Body, nil
}

// RevokeLeakedKey revokes key id because it was found exposed at location
// (POST /admin/v1/keys/{id}/revoke with leaked set, scope keys:write). The
// server records key.leak_revoked with the location and the reason
// "leaked: LOCATION". Revoking a revoked key succeeds with AlreadyRevoked
// set and changes nothing.
func (c *Client) RevokeLeakedKey(ctx context.Context, id, location string) (RevokeResult, error) {
	if strings.TrimSpace(location) == "" {
		return RevokeResult{}, fmt.Errorf("revoke leaked key %q: no location", id)
	}
	var out RevokeResult
	r := request{method: http.MethodPost, path: keyPath(id, "/revoke"), body: RevokeKeyRequest{Leaked: true, Location: location}}
	if err := c.call(ctx, r, &out); err != nil {
		return RevokeResult{}, fmt.Errorf("revoke leaked key %q: %w", id, err)
	}
	return out, nil
}

// ErrCheckpoint is wrapped by every failure of Checkpoint.Verify.
var ErrCheckpoint = errors.New("invalid audit checkpoint")

// SignedText returns the exact text the checkpoint's signature covers:
//
//	mapwright audit checkpoint v1\n
//	<origin>\n
//	<size, decimal>\n
//	<hash, lowercase hex; empty for an empty log>\n
//	<time, RFC 3339 UTC, whole seconds>\n
func (c Checkpoint) SignedText() []byte {
	return []byte(CheckpointFormat + "\n" + c.Origin + "\n" + strconv.FormatInt(c.Size, 10) + "\n" +
		c.Hash + "\n" + c.Time.UTC().Format(time.RFC3339) + "\n")
}

// Verify checks the checkpoint's form and its signature. When publicKey
// (standard base64) is not empty, the checkpoint must also be signed by
// that key, the one an operator pinned; otherwise the key the checkpoint
// carries is trusted, which proves only that the checkpoint is intact.
// Errors wrap ErrCheckpoint.
func (c Checkpoint) Verify(publicKey string) error {
	if strings.ContainsAny(c.Origin, "\n\r") || c.Origin == "" {
		return fmt.Errorf("%w: the origin is empty or spans lines", ErrCheckpoint)
	}
	if c.Size < 0 {
		return fmt.Errorf("%w: negative size %d", ErrCheckpoint, c.Size)
	}
	if (c.Size == 0) != (c.Hash == "") {
		return fmt.Errorf("%w: size %d does not go with hash %q", ErrCheckpoint, c.Size, c.Hash)
	}
	if c.Hash != "" {
		if b, err := hex.DecodeString(c.Hash); err != nil || len(b) != sha256.Size || strings.ToLower(c.Hash) != c.Hash {
			return fmt.Errorf("%w: the hash is not 64 lowercase hexadecimal digits", ErrCheckpoint)
		}
	}
	if !c.Time.Equal(c.Time.Truncate(time.Second)) {
		return fmt.Errorf("%w: the time has a fraction of a second", ErrCheckpoint)
	}
	pub, err := base64.StdEncoding.DecodeString(c.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: the public key is not %d bytes of base64", ErrCheckpoint, ed25519.PublicKeySize)
	}
	if publicKey != "" {
		pinned, err := base64.StdEncoding.DecodeString(strings.TrimSpace(publicKey))
		if err != nil || len(pinned) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: the pinned public key is not %d bytes of base64", ErrCheckpoint, ed25519.PublicKeySize)
		}
		if !ed25519.PublicKey(pinned).Equal(ed25519.PublicKey(pub)) {
			return fmt.Errorf("%w: signed by key %s, not by the pinned key %s", ErrCheckpoint, c.KeyID, CheckpointKeyID(pinned))
		}
	}
	if id := CheckpointKeyID(pub); c.KeyID != id {
		return fmt.Errorf("%w: key ID %q does not match the public key (%s)", ErrCheckpoint, c.KeyID, id)
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: the signature is not %d bytes of base64", ErrCheckpoint, ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, c.SignedText(), sig) {
		return fmt.Errorf("%w: the signature does not match: the checkpoint was altered or signed by another key", ErrCheckpoint)
	}
	return nil
}

// CheckpointKeyID returns the key ID of an ed25519 public key: the first 8
// bytes of its SHA-256, lowercase hex.
func CheckpointKeyID(pub []byte) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// AuditCSVTimeFormat is the time column of a CSV export: RFC 3339 in UTC
// with exactly six fractional digits, so that the column sorts as text.
const AuditCSVTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// CSVRecord returns the event as a CSV export row, in AuditCSVHeader's
// column order; details are a JSON object with sorted keys.
func (e AuditEvent) CSVRecord() []string {
	details := e.Details
	if details == nil {
		details = map[string]string{}
	}
	// A map of strings always encodes.
	d, _ := json.Marshal(details)
	return []string{
		strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(AuditCSVTimeFormat), e.Actor, e.Action, e.Target,
		e.Outcome, string(d), e.ClientIP, e.PrevHash, e.Hash,
	}
}

// ParseAuditCSVRecord reads one row of a CSV export (not the header)
// back into an event.
func ParseAuditCSVRecord(rec []string) (AuditEvent, error) {
	if len(rec) != len(AuditCSVHeader) {
		return AuditEvent{}, fmt.Errorf("audit CSV row has %d fields, want %d", len(rec), len(AuditCSVHeader))
	}
	seq, err := strconv.ParseInt(rec[0], 10, 64)
	if err != nil || seq < 1 {
		return AuditEvent{}, fmt.Errorf("audit CSV row: seq %q is not a positive number", clean(rec[0]))
	}
	t, err := time.Parse(time.RFC3339Nano, rec[1])
	if err != nil {
		return AuditEvent{}, fmt.Errorf("audit CSV row %d: time %q: %w", seq, clean(rec[1]), err)
	}
	var details map[string]string
	if err := json.Unmarshal([]byte(rec[6]), &details); err != nil || details == nil {
		return AuditEvent{}, fmt.Errorf("audit CSV row %d: details are not a JSON object of strings", seq)
	}
	return AuditEvent{
		Seq: seq, Time: t.UTC(), Actor: rec[2], Action: rec[3], Target: rec[4], Outcome: rec[5],
		Details: details, ClientIP: rec[7], PrevHash: rec[8], Hash: rec[9],
	}, nil
}
