-- Schema version 1: API keys and the audit log. Times are bigint
-- microseconds since the Unix epoch; lists and maps are JSON text, cast to
-- jsonb where a filter needs containment.

CREATE TABLE keys (
    id            text COLLATE "C" NOT NULL PRIMARY KEY,
    kind          text             NOT NULL CHECK (kind IN ('public', 'secret')),
    name          text             NOT NULL DEFAULT '',
    start         text             NOT NULL DEFAULT '',
    hash          bytea            NOT NULL UNIQUE CHECK (length(hash) = 32),
    scopes        text             NOT NULL DEFAULT '[]',
    tilesets      text             NOT NULL DEFAULT '[]',
    origins       text             NOT NULL DEFAULT '[]',
    rate          double precision NOT NULL DEFAULT 0,
    burst         bigint           NOT NULL DEFAULT 0,
    labels        text             NOT NULL DEFAULT '{}',
    created_at    bigint           NOT NULL,
    created_by    text             NOT NULL DEFAULT '',
    not_before    bigint,
    expires_at    bigint,
    expired_at    bigint,
    revoked_at    bigint,
    revoked_by    text             NOT NULL DEFAULT '',
    revoke_reason text             NOT NULL DEFAULT '',
    replaces      text             NOT NULL DEFAULT '',
    replaced_by   text             NOT NULL DEFAULT '',
    last_used_at  bigint
);

CREATE INDEX keys_expires_at ON keys (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX keys_kind ON keys (kind, id);

CREATE TABLE audit_events (
    seq       bigint NOT NULL PRIMARY KEY CHECK (seq > 0),
    time      bigint NOT NULL,
    actor     text   NOT NULL DEFAULT '',
    action    text   NOT NULL,
    target    text   NOT NULL DEFAULT '',
    outcome   text   NOT NULL DEFAULT '',
    details   text   NOT NULL DEFAULT '{}',
    client_ip text   NOT NULL DEFAULT '',
    prev_hash bytea  NOT NULL,
    hash      bytea  NOT NULL
);

CREATE INDEX audit_events_action_time ON audit_events (action, time);
CREATE INDEX audit_events_time ON audit_events (time);

-- The head of the audit chain: one row, locked by every appender
-- (SELECT ... FOR UPDATE) and moved in the same transaction as the event it
-- points at, so that appends from every replica form one chain.
CREATE TABLE audit_head (
    id   integer NOT NULL PRIMARY KEY CHECK (id = 1),
    seq  bigint  NOT NULL,
    hash bytea   NOT NULL
);

INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '\x');
