-- Records: one automerge document each, stored as chunks, with the fields lists and
-- timelines need projected into tables so that listing loads no document.
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE doc_chunks (
    seq INTEGER PRIMARY KEY,
    record_id TEXT NOT NULL,
    snapshot INTEGER NOT NULL,
    bytes BLOB NOT NULL
);
CREATE INDEX doc_chunks_by_record ON doc_chunks (record_id, seq);

CREATE TABLE records (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    member_id TEXT,
    program TEXT,
    at INTEGER NOT NULL,
    title TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX records_by_member ON records (member_id, at);

CREATE TABLE members (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    masshealth_id TEXT NOT NULL,
    primary_language TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE enrollments (
    id TEXT PRIMARY KEY,
    member_id TEXT NOT NULL,
    program TEXT NOT NULL,
    status TEXT NOT NULL,
    referral_at INTEGER NOT NULL,
    assigned_worker TEXT NOT NULL,
    team_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX enrollments_by_member ON enrollments (member_id);

CREATE TABLE notes (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    member_id TEXT NOT NULL,
    program TEXT NOT NULL,
    author TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    duration_minutes INTEGER NOT NULL,
    modality TEXT NOT NULL,
    member_engaged INTEGER NOT NULL,
    addendum_to TEXT
);
CREATE INDEX notes_by_member ON notes (member_id, started_at);

-- Signatures and finalizations: append-only events, verified by their content address.
CREATE TABLE attestations (
    id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    role TEXT NOT NULL,
    signed_at INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    event TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX attestations_by_record ON attestations (record_id);
