-- The highest feed position the server has handed each device. A device that comes back
-- with a lower cursor was restored from an older copy: its own changes after that cursor are
-- sent back to it, since it no longer holds them.
ALTER TABLE devices ADD COLUMN feed_high BIGINT NOT NULL DEFAULT 0;
