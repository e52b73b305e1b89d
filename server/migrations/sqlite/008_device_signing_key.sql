-- Each device's Ed25519 public key, registered at sign-in: the server accepts a device's
-- finalizations, signatures and reviews only when they are signed with it, and tells other
-- devices whom a key belongs to.
ALTER TABLE devices ADD COLUMN signing_key TEXT;
CREATE INDEX devices_by_signing_key ON devices (signing_key)
