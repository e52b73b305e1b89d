-- Settings the server keeps about itself: the audit key's fingerprint (never the key).
CREATE TABLE server_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
