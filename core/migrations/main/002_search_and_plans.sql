-- reproject
-- Full-text search over notes (inside the encrypted database), and a plan projection for
-- signature queues. Both are filled from the documents after this migration runs.
CREATE VIRTUAL TABLE note_search USING fts5 (
    narrative,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE plans (
    id TEXT PRIMARY KEY,
    member_id TEXT NOT NULL,
    program TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    completed_at INTEGER,
    next_review_on TEXT
) WITHOUT ROWID;
CREATE INDEX plans_by_member ON plans (member_id);
