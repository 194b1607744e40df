package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/mapwright/mapwright/pkg/apikey"
	"github.com/mapwright/mapwright/pkg/client"
)

// ProblemTypePrefix starts the type URI of every problem document; the rest
// is the problem's stable code, such as "urn:mapwright:problem:not-found".
// It is the prefix the public listener uses too.
const ProblemTypePrefix = "urn:mapwright:problem:"

// Problem codes (the part of the type URI after ProblemTypePrefix).
const (
	probBadRequest      = "bad-request"
	probMissingAuth     = "missing-credentials"
	probInvalidKey      = "invalid-key"
	probInvalidSession  = "invalid-session"
	probLoginFailed     = "login-failed"
	probKeyRevoked      = "key-revoked"
	probKeyExpired      = "key-expired"
	probKeyNotYetValid  = "key-not-yet-valid"
	probPublicKey       = "public-key"
	probSecondFactor    = "second-factor-required"
	probScope           = "insufficient-scope"
	probHost            = "host-not-allowed"
	probClient          = "client-not-allowed"
	probCrossOrigin     = "cross-origin"
	probMediaType       = "unsupported-media-type"
	probTooLarge        = "body-too-large"
	probNotFound        = "not-found"
	probMethod          = "method-not-allowed"
	probConflict        = "conflict"
	probTooManyAttempts = "too-many-attempts"
	probUnavailable     = "unavailable"
	probNotReady        = "not-ready"
	probInternal        = "internal"
)

var problemTitles = map[string]string{
	probBadRequest:      "Bad request",
	probMissingAuth:     "Credentials required",
	probInvalidKey:      "Invalid API key",
	probInvalidSession:  "Invalid session",
	probLoginFailed:     "Login failed",
	probKeyRevoked:      "API key revoked",
	probKeyExpired:      "API key expired",
	probKeyNotYetValid:  "API key not yet valid",
	probPublicKey:       "Public keys cannot use the admin API",
	probSecondFactor:    "Second factor required",
	probScope:           "Insufficient scope",
	probHost:            "Host not allowed",
	probClient:          "Client not allowed",
	probCrossOrigin:     "Cross-origin request refused",
	probMediaType:       "Unsupported media type",
	probTooLarge:        "Request body too large",
	probNotFound:        "Not found",
	probMethod:          "Method not allowed",
	probConflict:        "Conflict",
	probTooManyAttempts: "Too many attempts",
	probUnavailable:     "Service unavailable",
	probNotReady:        "Not ready",
	probInternal:        "Internal server error",
}

// writeProblem is the one place that writes an error response. The detail
// may echo request input, so anything shaped like a key is redacted.
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	body, err := json.Marshal(client.Problem{
		Type:   ProblemTypePrefix + code,
		Title:  problemTitles[code],
		Status: status,
		Detail: scrubKeys(detail),
	})
	if err != nil {
		// Only strings and an int go in; Marshal cannot fail on them.
		body = []byte(`{"type":"` + ProblemTypePrefix + probInternal + `","title":"Internal server error","status":500}`)
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeJSON writes v as the JSON body of a response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, probInternal, "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// decodeJSON reads a request body into v. An empty body leaves v as it is
// when optional, and is an error otherwise; unknown fields, trailing data
// and a body over the size cap are errors. The returned error is an
// *httpError ready to be written.
func decodeJSON(r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{http.StatusRequestEntityTooLarge, probTooLarge,
				fmt.Sprintf("the request body is larger than %d bytes", mbe.Limit)}
		}
		return &httpError{http.StatusBadRequest, probBadRequest, "read request body: " + err.Error()}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return &httpError{http.StatusBadRequest, probBadRequest, "a JSON request body is required"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	// Unknown fields are refused: a misspelt field silently ignored could
	// issue a key with other scopes than the caller meant.
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &httpError{http.StatusBadRequest, probBadRequest, "invalid JSON body: " + jsonMessage(err)}
	}
	if dec.More() {
		return &httpError{http.StatusBadRequest, probBadRequest, "invalid JSON body: data after the JSON value"}
	}
	return nil
}

// jsonMessage turns a decoding error into a message naming the field.
func jsonMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("field %q: want %s, got a JSON %s", te.Field, te.Type, te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// httpError is an error with the status and problem code it answers with.
type httpError struct {
	status int
	code   string
	detail string
}

// Error returns the detail the answer will carry.
func (e *httpError) Error() string { return e.detail }

func badRequest(format string, args ...any) *httpError {
	return &httpError{http.StatusBadRequest, probBadRequest, fmt.Sprintf(format, args...)}
}

// scrubKeys redacts every run that starts like a key ("mpw_" and the word
// characters after it), valid or not, so no key or fragment of one longer
// than its display start reaches a response or a log.
func scrubKeys(s string) string {
	if !strings.Contains(s, "mpw_") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "mpw_")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := i + len("mpw_")
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		b.WriteString(apikey.Redact(s[i:j]))
		s = s[j:]
	}
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_'
}
