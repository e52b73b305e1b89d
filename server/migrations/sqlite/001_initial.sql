-- Agencies, teams and users. Roles: worker, supervisor, program_director, administrator.
CREATE TABLE agencies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    name TEXT NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    team_id TEXT REFERENCES teams (id),
    staff_id TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
-- A registered device holds a revocable credential (stored as a SHA-256 hash).
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_sync_at BIGINT,
    grant_counter BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX devices_by_user ON devices (user_id);
-- Short-lived access tokens (hashes only).
CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    device_id TEXT REFERENCES devices (id),
    expires_at BIGINT NOT NULL
);
CREATE INDEX tokens_by_device ON tokens (device_id);
CREATE INDEX tokens_by_user ON tokens (user_id);
-- Which worker and team each member is assigned to: the caseload.
CREATE TABLE assignments (
    member_id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id),
    worker_id TEXT NOT NULL REFERENCES users (id),
    assigned_at BIGINT NOT NULL
);
CREATE INDEX assignments_by_worker ON assignments (worker_id);
CREATE INDEX assignments_by_team ON assignments (team_id);
-- Every record's document. The scope is the member it belongs to (or the member itself),
-- or staff:<staff id> for a staff member's own records.
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    finalized BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    chunks BIGINT NOT NULL DEFAULT 0,
    snapshot_seq BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX documents_by_scope ON documents (scope);
-- The feed: every accepted change and attestation in commit order. A document is the
-- concatenation of its rows from its latest snapshot on.
CREATE TABLE feed (
    seq BIGINT PRIMARY KEY,
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    origin_device TEXT,
    payload BLOB NOT NULL,
    committed_at BIGINT NOT NULL
);
CREATE INDEX feed_by_record ON feed (record_id, seq);
CREATE TABLE attestations (
    id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX attestations_by_record ON attestations (record_id);
-- Which scopes each device holds. granted_at and revoked_at are the device's grant
-- counter when the grant or purge was sent; the device confirms by presenting a cursor.
CREATE TABLE device_scopes (
    device_id TEXT NOT NULL REFERENCES devices (id),
    scope TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    revoked_at BIGINT,
    PRIMARY KEY (device_id, scope)
);
CREATE INDEX device_scopes_by_scope ON device_scopes (scope);
-- Counters shared by every server process: feed and audit sequence numbers.
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('feed', 0);
INSERT INTO counters (name, value) VALUES ('audit', 0);
-- The append-only, hash-chained audit log of every read and write of PHI.
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    device TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
-- Rate-limit windows, shared by every server process.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL
)
