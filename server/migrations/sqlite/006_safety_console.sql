-- The worker's phone number, shown to the people answering an alarm.
ALTER TABLE users ADD COLUMN phone TEXT;
-- A phone's open alarms, counted at every new press (the cap on new open alarms a phone may
-- have at once).
CREATE INDEX alarms_open_by_device ON alarms (device_id) WHERE state <> 'resolved';
