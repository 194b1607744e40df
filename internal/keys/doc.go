// Package keys is Mapwright's API key service: it issues, verifies,
// rotates, revokes and expires keys, writing every change and its audit
// event in one transaction so that no change happens without its audit
// record (fail closed).
//
// Tokens are never stored: a key is found by the SHA-256 of its token.
// [Service.Verify] answers from a bounded in-memory cache once a token has
// been seen, so the request path normally touches no database; see
// [Options.CacheTTL] for how stale a cached answer may be.
//
// Lock order: a transaction that changes keys reads (and, on PostgreSQL,
// locks) every key row it changes before it appends audit events, which
// lock the audit head; keeping that order everywhere rules out deadlocks
// between concurrent key operations.
package keys
