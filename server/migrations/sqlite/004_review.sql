-- Emergency ("break-glass") access to a member outside one's team: who, which member, why,
-- and until when. Supervisors review and co-sign through attestations, which need no table.
CREATE TABLE break_glass (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    member_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX break_glass_by_user ON break_glass (user_id, member_id);
-- Notices shown to a console user (another team's supervisor opened one of your members in
-- an emergency).
CREATE TABLE console_notices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT
);
CREATE INDEX console_notices_by_user ON console_notices (user_id, read_at);
