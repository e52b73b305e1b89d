-- The worker's phone number, shown to the people answering an alarm.
ALTER TABLE users ADD COLUMN phone TEXT;
