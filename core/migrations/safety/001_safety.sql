-- The safety database: distress alarms and visit sessions, apart from the records so that
-- an alarm is never queued behind notes and never waits on the main database's lock.

-- Everything not yet acknowledged by the server, alarms before session events.
CREATE TABLE safety_outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id    TEXT NOT NULL UNIQUE,
    priority   INTEGER NOT NULL,
    body       BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX safety_outbox_order ON safety_outbox (priority, seq);

-- Every alarm raised on this device and what the server last said of it.
CREATE TABLE alarms (
    id                  TEXT PRIMARY KEY,
    kind                TEXT NOT NULL,
    member_id           TEXT,
    session_id          TEXT,
    raised_at           INTEGER NOT NULL,
    state               TEXT NOT NULL,
    acknowledged_by     TEXT,
    acknowledged_at     INTEGER,
    refusal             TEXT,
    fallback_after_secs INTEGER NOT NULL,
    fallback_taken_at   INTEGER
);

-- Visit sessions as the worker sees them.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    member_id    TEXT,
    place        TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    expected_end INTEGER NOT NULL,
    ended_at     INTEGER
);

-- Hashed PINs and the team's fallback time.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
