-- Local edits the server refused (a reassignment, a concurrent supervisor change) or that
-- left the caseload before they were sent. Kept, visible and exportable, never dropped.
CREATE TABLE rejected_drafts (
    id INTEGER PRIMARY KEY,
    record_id TEXT NOT NULL,
    entry_kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    rejected_at INTEGER NOT NULL,
    content TEXT NOT NULL,
    document BLOB
);
CREATE INDEX rejected_drafts_by_record ON rejected_drafts (record_id);
