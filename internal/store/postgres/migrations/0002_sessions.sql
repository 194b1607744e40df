-- Schema version 2: admin sessions and TOTP second factors of secret keys.
-- A session row holds the SHA-256 of the session's secret identifier, never
-- the identifier itself; a TOTP row holds the secret sealed by the daemon
-- (AES-256-GCM under a key kept outside the database), never in the clear.

CREATE TABLE admin_sessions (
    hash            bytea            NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    key_id          text COLLATE "C" NOT NULL REFERENCES keys (id),
    created_at      bigint           NOT NULL,
    last_seen_at    bigint           NOT NULL,
    idle_expires_at bigint           NOT NULL,
    expires_at      bigint           NOT NULL
);

CREATE INDEX admin_sessions_key_id ON admin_sessions (key_id);
CREATE INDEX admin_sessions_expires_at ON admin_sessions (expires_at);

CREATE TABLE key_totp (
    key_id     text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES keys (id),
    sealed     bytea            NOT NULL CHECK (length(sealed) > 0),
    created_at bigint           NOT NULL,
    last_step  bigint           NOT NULL DEFAULT 0 CHECK (last_step >= 0)
);
