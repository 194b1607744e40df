package server

import (
	"context"
	"net"
	"strings"
	"sync/atomic"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// ConnContext is the http.Server ConnContext hook of the public listeners.
// It gives each connection a memo of the last API key checked on it.
//
// A web map sends the same key with every tile over one keep-alive or
// HTTP/2 connection, and checking a token (checksum, then SHA-256) is the
// largest part of what a key costs a request. The memo spares the repeats
// that work and nothing else: it never decides whether a key is valid. Every
// request is still verified by hash against the key service, so revocation,
// expiry and rate limits apply to it exactly as to the first.
//
// The memo keeps one well-formed token for the connection's lifetime, which
// the connection keeps anyway (HTTP/2 header compression holds it in its
// table until the connection closes); it is never logged or written
// anywhere. Secret keys are never memoised.
func ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connMemoKey{}, new(connMemo))
}

type connMemoKey struct{}

// connMemo is one connection's last checked public token and its hash.
// HTTP/2 serves a connection's streams concurrently, hence the atomic.
type connMemo struct {
	last atomic.Pointer[checkedToken]
}

type checkedToken struct {
	token string
	hash  [32]byte
}

// tokenHash checks token's format and returns its kind and hash, reusing
// the connection's memo when the connection has one and the token is the
// one it checked last. err is apikey.Parse's error for a malformed token;
// the hash is only computed for public keys (secret keys are refused
// without a lookup).
func tokenHash(ctx context.Context, token string) (apikey.Kind, [32]byte, error) {
	memo, _ := ctx.Value(connMemoKey{}).(*connMemo)
	if memo != nil {
		if c := memo.last.Load(); c != nil && c.token == token {
			return apikey.Public, c.hash, nil
		}
	}
	kind, err := apikey.Parse(token)
	if err != nil || kind != apikey.Public {
		return kind, [32]byte{}, err
	}
	h := apikey.Hash(token)
	if memo != nil {
		// A copy, so the memo does not pin the request's URL or headers.
		memo.last.Store(&checkedToken{token: strings.Clone(token), hash: h})
	}
	return kind, h, nil
}
