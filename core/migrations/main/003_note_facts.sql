-- reproject
-- The facts program rules read from contact notes, projected so that evaluating a caseload's
-- obligations loads no note document.
ALTER TABLE notes ADD COLUMN purposes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE notes ADD COLUMN session_fields_complete INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notes ADD COLUMN telehealth_reason_given INTEGER NOT NULL DEFAULT 0;
