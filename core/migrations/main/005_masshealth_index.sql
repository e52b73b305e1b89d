-- Members are looked up by MassHealth ID when one is added (one member per ID on a device).
CREATE INDEX members_by_masshealth_id ON members (masshealth_id);
