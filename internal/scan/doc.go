// Package scan finds leaked Mapwright API keys in files, archives and git
// history, tells live keys from dead ones through the admin API, revokes
// live ones, and reports in text, JSON and SARIF. It is the engine of
// `mwctl scan`.
//
// # What is scanned
//
// Scan walks the given paths: every regular file, ignored files included,
// but not the insides of directories named .git. Binary files are scanned
// as bytes. Symbolic links met while walking are skipped unless
// Options.FollowSymlinks; paths named explicitly are always followed.
// Files are read in chunks (Options.ChunkSize, 1 MiB by default) into one
// buffer per worker, and tokens across chunk edges are found by an
// apikey.Finder, so memory does not grow with file size. Options.Workers
// files are scanned at once (GOMAXPROCS by default).
//
// Archives (.zip, .jar, .war, .whl, .tar, .tar.gz, .tgz, .gz) are opened and
// their members scanned, to Options.MaxArchiveDepth levels; a member's path
// is the archive's path, "!" and the member's name ("bundle.tar.gz!app.zip!
// config.js"). The members of one top-level archive may expand to
// Options.MaxArchiveBytes beyond the archive's size, and past 32 MiB to no
// more than Options.MaxArchiveRatio times its size; beyond either limit the
// rest of the archive is skipped with a warning, which stops decompression
// bombs. A nested zip archive needs random access: up to 8 MiB it is held in
// memory, beyond that in an unlinked temporary file.
//
// In git history mode (Options.Git) the scan reads every blob reachable from
// every ref through the git program: "git log --all --raw" lists, oldest
// commit first, the blobs each commit adds against its first parent, which
// together are every reachable blob, deleted files included; "git cat-file
// --batch" streams them. Each blob is scanned once, and its findings carry
// the oldest commit that introduced it, the path it had there and the
// commit's author date. Staged mode (Options.Staged) scans the index blobs
// that differ from HEAD, what the next commit would add.
//
// # Findings
//
// A candidate token is what apikey.Pattern matches. One whose checksum fails
// is a look-alike, not a key: it is counted (Result.InvalidCount) and
// reported only with Options.IncludeInvalid. Every distinct valid token is
// one Key with all its Locations (up to Options.MaxLocations). A Key holds
// the token's SHA-256 (hex) and its redacted form, never the token; nothing
// this package writes or logs contains a token.
//
// Lines count '\n' bytes; columns count bytes from the start of the line;
// both start at 1. Offsets count bytes from the start of the file, blob or
// archive member, from 0.
//
// # Suppression
//
// A finding is suppressed inline when the marker "mwctl:allow" appears on
// the same line as the token, within MarkerWindow (4 KiB) bytes before its
// start or after its end; lines are not followed further, so on a minified
// line several megabytes long the marker must sit near the key. The
// window is searched across chunk edges: the scanner keeps the end of the
// previous chunk and decides a token near the end of a chunk once the next
// chunk has arrived.
//
// A finding is suppressed by a baseline when its Fingerprint is in
// Options.Baseline. WriteBaseline records the fingerprints of a scan;
// ReadBaseline reads them back. Suppressed findings are kept in the result,
// marked, but do not count for Result.Failing.
//
// # Statuses and revocation
//
// Result.Lookup sends the hashes, in batches of at most 1000, to the admin
// API and records each key's status (active, pending, expired, revoked or
// unknown), id and name. Revoke revokes keys with the reason "leaked:
// LOCATION".
//
// # JSON report
//
// WriteJSON writes one document. Its field names are stable; fields may be
// added, never renamed or removed:
//
//	{
//	  "version": 1,                     shape of this document
//	  "tool": "mwctl",
//	  "keys": [{
//	    "hash": "64 hex digits",        SHA-256 of the token
//	    "key": "mpw_pk_AbCd…",          redacted token
//	    "kind": "public" | "secret",
//	    "valid": true,                  false for look-alikes (--include-invalid)
//	    "status": "active" | "pending" | "expired" | "revoked" | "unknown" | "unchecked" | "invalid",
//	    "id": "key_0042", "name": "web", (when the server knows the key)
//	    "revoked_by_scan": true,        (when this run revoked it)
//	    "locations": [{
//	      "path": "web/app.js",         or "bundle.tgz!dist/app.js", or the path in the commit
//	      "commit": "full hash",        (git history mode)
//	      "author_date": "RFC 3339",    (git history mode)
//	      "staged": true,               (staged mode)
//	      "line": 1, "column": 5032, "offset": 5031,
//	      "fingerprint": "64 hex digits",
//	      "suppressed": "inline" | "baseline"   (absent when reported)
//	    }],
//	    "omitted_locations": 0          (occurrences past the location limit)
//	  }],
//	  "invalid_count": 0,               look-alike occurrences
//	  "suppressed_count": 0,            suppressed locations of valid keys
//	  "checked": true,                  statuses come from the admin API
//	  "warnings": ["..."],
//	  "stats": {"files": 0, "bytes": 0, "archives": 0, "skipped": 0,
//	            "duration_seconds": 0.1, "peak_rss_bytes": 0}
//	}
//
// # SARIF report
//
// WriteSARIF writes SARIF 2.1.0 for code-scanning services: see its
// documentation.
package scan
