package server

import (
	"encoding/json"
	"net/http"
)

// ProblemTypePrefix starts the type URI of every problem document; the rest
// is the problem's stable code, such as "urn:mapwright:problem:missing-key".
const ProblemTypePrefix = "urn:mapwright:problem:"

// Problem codes (the part of the type URI after ProblemTypePrefix).
const (
	probBadRequest     = "bad-request"
	probMissingKey     = "missing-key"
	probInvalidKey     = "invalid-key"
	probKeyRevoked     = "key-revoked"
	probKeyExpired     = "key-expired"
	probKeyNotYetValid = "key-not-yet-valid"
	probSecretKey      = "secret-key"
	probScope          = "insufficient-scope"
	probTileset        = "tileset-not-allowed"
	probOrigin         = "origin-not-allowed"
	probNotFound       = "not-found"
	probMethod         = "method-not-allowed"
	probRateLimited    = "rate-limited"
	probAuthFailures   = "too-many-failed-authentications"
	probUnavailable    = "unavailable"
	probInternal       = "internal"
)

var problemTitles = map[string]string{
	probBadRequest:     "Bad request",
	probMissingKey:     "API key required",
	probInvalidKey:     "Invalid API key",
	probKeyRevoked:     "API key revoked",
	probKeyExpired:     "API key expired",
	probKeyNotYetValid: "API key not yet valid",
	probSecretKey:      "Secret key refused",
	probScope:          "Insufficient scope",
	probTileset:        "Tileset not allowed for this key",
	probOrigin:         "Origin not allowed for this key",
	probNotFound:       "Not found",
	probMethod:         "Method not allowed",
	probRateLimited:    "Rate limit exceeded",
	probAuthFailures:   "Too many failed authentications",
	probUnavailable:    "Service unavailable",
	probInternal:       "Internal server error",
}

// Problem is an RFC 9457 problem details document, the body of every error
// response of the public listener.
type Problem struct {
	// Type is ProblemTypePrefix followed by a stable code.
	Type string `json:"type"`
	// Title is a short summary that depends on Type only.
	Title string `json:"title"`
	// Status repeats the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence. It never holds a full key.
	Detail string `json:"detail,omitempty"`
}

var (
	problemContentType = []string{"application/problem+json"}
	noStore            = []string{"no-store"}
)

// writeProblem is the one place that writes an error response. The detail
// is scrubbed of anything shaped like a key, since it may echo request
// input.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, code, detail string) {
	h := w.Header()
	for _, k := range []string{"Etag", "Content-Encoding", "Content-Length", "Last-Modified"} {
		delete(h, k)
	}
	h["Content-Type"] = problemContentType
	h["Cache-Control"] = noStore
	body, err := json.Marshal(Problem{
		Type:   ProblemTypePrefix + code,
		Title:  problemTitles[code],
		Status: status,
		Detail: scrubKeys(detail),
	})
	if err != nil {
		// Only strings and an int go in; Marshal cannot fail on them.
		body = []byte(`{"type":"` + ProblemTypePrefix + probInternal + `","title":"Internal server error","status":500}`)
	}
	body = append(body, '\n')
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
