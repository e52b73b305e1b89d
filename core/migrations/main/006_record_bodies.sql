-- reproject
-- Each record's current content as JSON beside its projection (contact notes excepted: the
-- rules read their projected facts), so that evaluating a member's obligations reads one
-- indexed query instead of loading and replaying every document. Derived, like every column
-- of `records`: rebuilt from the documents whenever projections are.
ALTER TABLE records ADD COLUMN body TEXT;
CREATE INDEX IF NOT EXISTS records_by_member_kind ON records (member_id, kind);
-- What the rules read of a member's notes, in one covering index: a member's notes are read
-- in order without visiting the table rows, which lie scattered among other members'.
CREATE INDEX IF NOT EXISTS notes_facts ON notes (member_id, started_at, id, program, modality,
    member_engaged, purposes, addendum_to, session_fields_complete, telehealth_reason_given);
-- Whether a note is finalized, answered from the index alone.
CREATE INDEX IF NOT EXISTS attestations_by_record_kind ON attestations (record_id, kind);
