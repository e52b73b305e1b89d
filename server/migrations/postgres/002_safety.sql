-- Lone-worker safety: visit sessions with server-owned timers, distress alarms escalating
-- along a per-team ladder, notices for outbound gateways, and the event log the live stream
-- reads.
CREATE TABLE team_safety (
    team_id TEXT PRIMARY KEY REFERENCES teams (id),
    settings TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE visit_sessions (
    id TEXT PRIMARY KEY,
    worker_id TEXT NOT NULL REFERENCES users (id),
    team_id TEXT NOT NULL,
    member_id TEXT,
    place TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    expected_end BIGINT NOT NULL,
    deadline BIGINT,
    last_check_in BIGINT,
    location TEXT
);
CREATE INDEX visit_sessions_due ON visit_sessions (deadline) WHERE state = 'active';
CREATE INDEX visit_sessions_team ON visit_sessions (team_id, state);
CREATE TABLE session_events (
    event_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE TABLE alarms (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    worker_id TEXT NOT NULL REFERENCES users (id),
    team_id TEXT NOT NULL,
    member_id TEXT,
    session_id TEXT,
    location TEXT,
    raised_at BIGINT NOT NULL,
    device_time BIGINT,
    tier BIGINT NOT NULL,
    next_at BIGINT,
    exhausted BIGINT NOT NULL DEFAULT 0,
    acknowledged_by TEXT,
    acknowledged_at BIGINT,
    resolved_by TEXT,
    resolved_at BIGINT,
    outcome TEXT,
    incident_due BIGINT,
    device_id TEXT,
    received_at BIGINT NOT NULL,
    -- 0 until the raise is in the audit log (appended just after the alarm commits).
    audited BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX alarms_due ON alarms (next_at) WHERE state = 'raised';
CREATE INDEX alarms_unaudited ON alarms (received_at) WHERE audited = 0;
CREATE INDEX alarms_team ON alarms (team_id, state);
CREATE TABLE notices (
    id TEXT PRIMARY KEY,
    alarm_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    tier BIGINT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- A process handing the notice to the gateway holds it until then.
    claimed_until BIGINT,
    delivered_at BIGINT
);
CREATE INDEX notices_undelivered ON notices (created_at) WHERE delivered_at IS NULL;
CREATE TABLE safety_events (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    team_id TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    body TEXT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('safety_events', 0);
