-- Safety records (incidents, crisis plans) go to the server before bulk notes.
ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 1;
CREATE INDEX outbox_by_priority ON outbox (priority, seq);
CREATE INDEX outbox_by_record ON outbox (record_id);
