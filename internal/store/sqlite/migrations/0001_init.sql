-- Schema version 1: API keys and the audit log. Times are integer
-- microseconds since the Unix epoch; lists and maps are JSON text.

CREATE TABLE keys (
    id            TEXT    NOT NULL PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('public', 'secret')),
    name          TEXT    NOT NULL DEFAULT '',
    start         TEXT    NOT NULL DEFAULT '',
    hash          BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
    scopes        TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(scopes)),
    tilesets      TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(tilesets)),
    origins       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(origins)),
    rate          REAL    NOT NULL DEFAULT 0,
    burst         INTEGER NOT NULL DEFAULT 0,
    labels        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(labels)),
    created_at    INTEGER NOT NULL,
    created_by    TEXT    NOT NULL DEFAULT '',
    not_before    INTEGER,
    expires_at    INTEGER,
    expired_at    INTEGER,
    revoked_at    INTEGER,
    revoked_by    TEXT    NOT NULL DEFAULT '',
    revoke_reason TEXT    NOT NULL DEFAULT '',
    replaces      TEXT    NOT NULL DEFAULT '',
    replaced_by   TEXT    NOT NULL DEFAULT '',
    last_used_at  INTEGER
) STRICT;

CREATE INDEX keys_expires_at ON keys (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX keys_kind ON keys (kind, id);

CREATE TABLE audit_events (
    seq       INTEGER NOT NULL PRIMARY KEY CHECK (seq > 0),
    time      INTEGER NOT NULL,
    actor     TEXT    NOT NULL DEFAULT '',
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL DEFAULT '',
    outcome   TEXT    NOT NULL DEFAULT '',
    details   TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    client_ip TEXT    NOT NULL DEFAULT '',
    prev_hash BLOB    NOT NULL,
    hash      BLOB    NOT NULL
) STRICT;

CREATE INDEX audit_events_action_time ON audit_events (action, time);
CREATE INDEX audit_events_time ON audit_events (time);

-- The head of the audit chain: one row, moved by every append in the same
-- transaction as the event it points at.
CREATE TABLE audit_head (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
) STRICT;

INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, x'');
