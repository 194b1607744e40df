// Package admin serves Mapwright's admin API (/admin/v1/..., /metrics,
// /readyz, /livez) on two kinds of listener, both built from one route
// table so that no route can be registered outside the gate:
//
//   - The unix socket ([Admin.UnixHandler], [ListenUnix], [ConnContext]).
//     Access to the socket is admin access, as with other daemons' control
//     sockets: the file is mode 0660, so its owner and group may use it,
//     and the peer's uid, read from the kernel (SO_PEERCRED), is the actor
//     recorded in the audit log, such as "unix:1000(alice)". Requests need
//     no credentials.
//
//   - TCP, opt-in and always behind TLS ([Admin.TCPHandler], [TLSConfig]).
//     Every request passes, in order: a Host header allowlist (421
//     otherwise, which stops DNS rebinding), a client network allowlist
//     (403), a browser check refusing "Origin: null", an Origin other than
//     the admin API's own, cross-site or same-site Sec-Fetch-Site and
//     no-cors Sec-Fetch-Mode (403), then authentication by
//     "Authorization: Bearer mpw_sk_..." or a session cookie, and the
//     route's scope. No CORS header is ever sent. With a client CA, mutual
//     TLS is required as well.
//
// On both listeners a request that changes state and carries a body must
// send Content-Type application/json (415 otherwise), bodies are capped at
// 1 MiB, and every error is an RFC 9457 problem document
// (application/problem+json) written by one helper. No response body or log
// line ever holds a full key: keys appear redacted ("mpw_sk_AbCd…").
//
// # Second factor
//
// A secret key with TOTP enrolled is refused as a bearer token over TCP
// (403): over the network it works only through a session opened with a
// current code (POST /admin/v1/sessions), since otherwise the second factor
// could simply be skipped. Over the unix socket keys play no part.
//
// # Audit stream and export
//
// GET /admin/v1/audit/stream answers with server-sent events ("id: SEQ",
// "event: audit", "data: JSON"), resumes after Last-Event-ID, polls the
// store for new events (every 500 ms by default) and sends a comment line
// after 15 s of silence. It and GET /admin/v1/audit/export lift the
// connection's read and write deadlines, which suit requests, not streams.
// A stream never goes idle, so the servers must call [Admin.CloseStreams]
// on shutdown (http.Server.RegisterOnShutdown).
//
// # Replicas
//
// Replicas sharing one database must share three files of the data
// directory: "audit.key", which chains the audit log, "checkpoint.key",
// which signs audit checkpoints, and "session.key", which signs session
// cookies and seals TOTP secrets. A replica with a different
// session.key refuses every cookie the others issued and cannot check TOTP
// codes.
package admin
