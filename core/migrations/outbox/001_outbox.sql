-- Everything written on this device that the server has not yet acknowledged: document
-- changes and attestation events, in order. Kept in its own file so it survives the loss of
-- the main database.
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL,
    entry_kind TEXT NOT NULL CHECK (entry_kind IN ('change', 'attestation')),
    payload BLOB NOT NULL,
    written_at INTEGER NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0
);
