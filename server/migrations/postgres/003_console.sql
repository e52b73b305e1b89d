-- The supervisor console: browser sessions (cookie, second factor passed or not, idle and
-- absolute expiry) and each user's TOTP second factor.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
-- The last TOTP time step accepted, so a code is never accepted twice.
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
CREATE TABLE console_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    -- A TOTP secret offered at enrollment, kept until the first code confirms it.
    totp_pending TEXT,
    mfa_done BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
