//! Lone-worker safety on the server: distress alarms, visit sessions whose timers the server
//! owns, escalation along each team's ladder, and the audit and event trail of every change.
//!
//! Timers are rows, not tasks: a session's `deadline` and an alarm's `next_at` are columns,
//! and [`run_timers`] (called every second by each process, or by tests with a controllable
//! [`Clock`]) takes due rows with `FOR UPDATE SKIP LOCKED`, so each fires exactly once however
//! many processes share PostgreSQL. Device times are mapped onto server time with the
//! difference between the server's clock and the device's at sending.

pub mod events;
pub mod http;
pub mod notify;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use fieldnote_protocol::safety::{
    AlarmKind, AlarmState, AlarmView, Location, RaiseAlarm, SafetyEvent, SafetyItem, SafetyOutcome,
    SafetyRequest, SafetySettings, SessionAction, SessionEvent, SessionState, SessionView,
    TierTarget,
};
use fieldnote_protocol::{ServerRole, safety};

use crate::auth::Principal;
use crate::db::{Db, Row, Tx};
use crate::error::{Error, Result};
use crate::policy::{self, Action};
use crate::{audit, params};

pub use events::Hub;
pub use notify::{LogNotifier, Notice, Notifier, RecordingNotifier};

/// The longest visit session, in hours.
const MAX_SESSION_HOURS: i64 = 12;

/// The server's clock for safety timers.
pub trait Clock: Send + Sync {
    /// Milliseconds since the epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        fieldnote_core::Timestamp::now().millis()
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock reading `ms`.
    pub fn new(ms: i64) -> ManualClock {
        ManualClock(AtomicI64::new(ms))
    }

    /// Moves the clock forward.
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What safety needs at run time: its clock, where notices go, and the event hub.
#[derive(Clone)]
pub struct Safety {
    /// The clock timers and safety records use.
    pub clock: Arc<dyn Clock>,
    /// Where notices go.
    pub notifier: Arc<dyn Notifier>,
    /// Wakes live subscribers.
    pub hub: Arc<Hub>,
}

impl std::fmt::Debug for Safety {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Safety")
    }
}

impl Default for Safety {
    fn default() -> Self {
        Safety {
            clock: Arc::new(SystemClock),
            notifier: Arc::new(LogNotifier),
            hub: Arc::new(Hub::default()),
        }
    }
}

/// What one run of the timers did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimerReport {
    /// Missed check-in alarms raised.
    pub missed: usize,
    /// Alarms moved to their next tier.
    pub escalated: usize,
    /// Alarms whose ladder ran out (everyone alerted).
    pub exhausted: usize,
    /// Notices delivered.
    pub notices: usize,
}

fn refused(field: &str, reason: impl Into<String>) -> SafetyOutcome {
    SafetyOutcome::Refused {
        field: field.into(),
        reason: reason.into(),
    }
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

/// A uuid in its one stored form (lower case, hyphenated), whatever form it was sent in, so
/// that `ABC…` and `abc…` are one alarm; `None` if it is not a uuid.
fn canonical(s: &str) -> Option<String> {
    uuid::Uuid::parse_str(s).ok().map(|u| u.to_string())
}

/// New open alarms one device may have at once; resends of an alarm it already raised are
/// always accepted. Far above any real distress, far below a flood.
pub const MAX_OPEN_ALARMS_PER_DEVICE: i64 = 20;

fn location_json(l: Option<&Location>) -> Option<String> {
    l.filter(|l| {
        l.latitude.is_finite()
            && l.longitude.is_finite()
            && (-90.0..=90.0).contains(&l.latitude)
            && (-180.0..=180.0).contains(&l.longitude)
    })
    .and_then(|l| serde_json::to_string(l).ok())
}

fn parse_location(v: Option<String>) -> Option<Location> {
    v.and_then(|s| serde_json::from_str(&s).ok())
}

/// A team's settings: its own, or the documented defaults.
pub fn settings_for(tx: &mut dyn Tx, team_id: &str) -> Result<SafetySettings> {
    Ok(tx
        .query_opt(
            "SELECT settings FROM team_safety WHERE team_id = $1",
            params![team_id],
        )?
        .and_then(|r| serde_json::from_str(&r[0].text()).ok())
        .unwrap_or_default())
}

/// Refuses, as "no such team", a team whose safety settings `p` may not read or change
/// (supervisors their own team, directors their agency's, administrators any).
pub fn require_configure(
    tx: &mut dyn Tx,
    p: &Principal,
    p_agency: Option<&str>,
    team: &str,
) -> Result<()> {
    let team_agency =
        policy::team_agency(tx, team)?.ok_or_else(|| Error::NotFound("no such team".into()))?;
    let action = policy::Action::ConfigureSafety {
        team_id: team,
        agency_id: &team_agency,
    };
    if !policy::allowed(p, p_agency, &action) {
        return Err(Error::NotFound("no such team".into()));
    }
    Ok(())
}

/// Stores a team's settings after checking them.
pub fn put_settings(
    tx: &mut dyn Tx,
    p: &Principal,
    team_id: &str,
    settings: &SafetySettings,
    now: i64,
) -> Result<()> {
    settings
        .check()
        .map_err(|(field, reason)| Error::invalid(&field, reason))?;
    let agency =
        policy::team_agency(tx, team_id)?.ok_or_else(|| Error::NotFound("no such team".into()))?;
    for (i, tier) in settings.ladder.iter().enumerate() {
        if let TierTarget::Users(users) = &tier.target {
            for u in users {
                // Administrators never read PHI, so they never answer alarms.
                let ok = tx
                    .query_opt(
                        "SELECT 1 FROM users u JOIN teams t ON t.id = u.team_id
                         WHERE u.id = $1 AND t.agency_id = $2 AND u.disabled = 0
                           AND u.role <> 'administrator'",
                        params![u, &agency],
                    )?
                    .is_some();
                if !ok {
                    return Err(Error::invalid(
                        &format!("ladder[{i}].target"),
                        format!(
                            "{u} is not an active user of this agency who may answer alarms \
                             (administrators may not)"
                        ),
                    ));
                }
            }
        }
    }
    let json = serde_json::to_string(settings).map_err(|e| Error::Internal(e.to_string()))?;
    if tx.exec(
        "UPDATE team_safety SET settings = $1, updated_at = $2 WHERE team_id = $3",
        params![&json, now, team_id],
    )? == 0
    {
        tx.exec(
            "INSERT INTO team_safety (team_id, settings, updated_at) VALUES ($1, $2, $3)",
            params![team_id, &json, now],
        )?;
    }
    audit::record(tx, p, "safety.settings", team_id, &json)?;
    Ok(())
}

/// The users a tier alerts.
fn tier_users(tx: &mut dyn Tx, target: &TierTarget, team_id: &str) -> Result<Vec<String>> {
    let rows = match target {
        TierTarget::TeamSupervisors => tx.query(
            "SELECT id FROM users WHERE team_id = $1 AND role = $2 AND disabled = 0 ORDER BY id",
            params![team_id, ServerRole::Supervisor.as_str()],
        )?,
        TierTarget::ProgramDirectors => tx.query(
            "SELECT u.id FROM users u JOIN teams t ON t.id = u.team_id
             WHERE t.agency_id = (SELECT agency_id FROM teams WHERE id = $1)
               AND u.role = $2 AND u.disabled = 0 ORDER BY u.id",
            params![team_id, ServerRole::ProgramDirector.as_str()],
        )?,
        TierTarget::Users(ids) => {
            let mut out = Vec::new();
            for id in ids {
                out.extend(tx.query(
                    "SELECT id FROM users WHERE id = $1 AND disabled = 0
                       AND role <> 'administrator'",
                    params![id],
                )?);
            }
            out
        }
    };
    Ok(rows.into_iter().map(|r| r[0].text()).collect())
}

/// Queues notices for `users`, never for the worker in distress (a page could give a
/// silent alarm away, and they cannot answer their own alarm).
fn add_notices(
    tx: &mut dyn Tx,
    alarm_id: &str,
    users: &[String],
    worker: &str,
    tier: u32,
    reason: &str,
    now: i64,
) -> Result<()> {
    for u in users.iter().filter(|u| u.as_str() != worker) {
        tx.exec(
            "INSERT INTO notices (id, alarm_id, user_id, tier, reason, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            params![
                uuid::Uuid::now_v7().to_string(),
                alarm_id,
                u,
                i64::from(tier),
                reason,
                now
            ],
        )?;
    }
    Ok(())
}

const ALARM_COLUMNS: &str = "a.id, a.kind, a.state, a.worker_id, u.display_name, a.team_id,
    a.member_id, a.session_id, s.place, a.location, a.raised_at, a.device_time, a.tier,
    a.exhausted, a.acknowledged_by, o.display_name, a.acknowledged_at, a.resolved_at,
    a.outcome, a.next_at, u.phone, a.incident_due";

const ALARM_FROM: &str = "alarms a JOIN users u ON u.id = a.worker_id
    LEFT JOIN users o ON o.id = a.acknowledged_by
    LEFT JOIN visit_sessions s ON s.id = a.session_id";

fn alarm_view(tx: &mut dyn Tx, r: Row) -> Result<AlarmView> {
    let team_id = r[5].text();
    let settings = settings_for(tx, &team_id)?;
    let tier = r[12].int().max(1) as u32;
    let tier_label = settings
        .ladder
        .get(tier as usize - 1)
        .map(|t| t.label.clone())
        .unwrap_or_else(|| "everyone on the ladder".into());
    Ok(AlarmView {
        id: r[0].text(),
        kind: AlarmKind::parse(&r[1].text()).unwrap_or(AlarmKind::Panic),
        state: AlarmState::parse(&r[2].text()).unwrap_or(AlarmState::Raised),
        worker_id: r[3].text(),
        worker_name: r[4].text(),
        team_id,
        member_id: r[6].opt_text(),
        session_id: r[7].opt_text(),
        place: r[8].opt_text(),
        location: parse_location(r[9].opt_text()),
        raised_at: r[10].int(),
        device_time: r[11].opt_int(),
        tier,
        tier_label,
        exhausted: r[13].int() != 0,
        acknowledged_by: r[14].opt_text(),
        acknowledged_by_name: r[15].opt_text(),
        acknowledged_at: r[16].opt_int(),
        resolved_at: r[17].opt_int(),
        outcome: r[18].opt_text(),
        fallback_after_secs: settings.fallback_secs,
        escalates_at: r[19].opt_int(),
        worker_phone: r[20].opt_text(),
        incident_report_due: r[21].opt_int(),
    })
}

/// An alarm by id.
pub fn load_alarm(tx: &mut dyn Tx, id: &str) -> Result<Option<AlarmView>> {
    match tx.query_opt(
        &format!("SELECT {ALARM_COLUMNS} FROM {ALARM_FROM} WHERE a.id = $1"),
        params![id],
    )? {
        Some(r) => alarm_view(tx, r).map(Some),
        None => Ok(None),
    }
}

/// The condition (over `alarms a`, with `$1` bound to the returned value) selecting the
/// alarms `p` may see.
fn alarm_scope(p: &Principal, agency: Option<&str>) -> (String, String) {
    let (mut cond, arg) = events::scope(p, agency, "a.");
    if p.role == ServerRole::Worker {
        // Nothing a worker's own phone or account shows gives a silent alarm away.
        cond.push_str(" AND a.kind NOT IN ('discreet', 'duress')");
    }
    (cond, arg)
}

/// The ids of the alarms in `p`'s scope that nobody has acknowledged yet, oldest first;
/// `None` for administrators, who never see alarms. No PHI: ids only.
pub fn raised_ids(
    tx: &mut dyn Tx,
    p: &Principal,
    agency: Option<&str>,
) -> Result<Option<Vec<String>>> {
    if p.role == ServerRole::Administrator {
        return Ok(None);
    }
    let (cond, arg) = alarm_scope(p, agency);
    let rows = tx.query(
        &format!(
            "SELECT a.id FROM alarms a WHERE {cond} AND a.state = 'raised'
             ORDER BY a.raised_at LIMIT 500"
        ),
        params![arg],
    )?;
    Ok(Some(rows.into_iter().map(|r| r[0].text()).collect()))
}

/// Alarms `p` may see: open ones, or with `all` also those closed in the last week.
pub fn list_alarms(
    tx: &mut dyn Tx,
    p: &Principal,
    agency: Option<&str>,
    all: bool,
    now: i64,
) -> Result<Vec<AlarmView>> {
    let (cond, arg) = alarm_scope(p, agency);
    let since = if all { now - 7 * 86_400_000 } else { i64::MAX };
    let rows = tx.query(
        &format!(
            "SELECT {ALARM_COLUMNS} FROM {ALARM_FROM}
             WHERE {cond} AND (a.state <> 'resolved' OR a.resolved_at >= $2)
             ORDER BY a.raised_at DESC LIMIT 500"
        ),
        params![arg, since],
    )?;
    rows.into_iter().map(|r| alarm_view(tx, r)).collect()
}

const SESSION_COLUMNS: &str = "id, worker_id, team_id, member_id, place, state, started_at,
    expected_end, deadline, last_check_in, location";

fn session_view(r: Row) -> SessionView {
    SessionView {
        id: r[0].text(),
        worker_id: r[1].text(),
        team_id: r[2].text(),
        member_id: r[3].opt_text(),
        place: r[4].text(),
        state: SessionState::parse(&r[5].text()).unwrap_or(SessionState::Active),
        started_at: r[6].int(),
        expected_end: r[7].int(),
        deadline: r[8].opt_int(),
        last_check_in: r[9].opt_int(),
        location: parse_location(r[10].opt_text()),
    }
}

fn load_session(tx: &mut dyn Tx, id: &str) -> Result<Option<SessionView>> {
    Ok(tx
        .query_opt(
            &format!("SELECT {SESSION_COLUMNS} FROM visit_sessions WHERE id = $1"),
            params![id],
        )?
        .map(session_view))
}

/// Sessions under way (or in alarm) that `p` may see.
pub fn list_sessions(
    tx: &mut dyn Tx,
    p: &Principal,
    agency: Option<&str>,
) -> Result<Vec<SessionView>> {
    let (cond, arg) = events::scope(p, agency, "");
    Ok(tx
        .query(
            &format!(
                "SELECT {SESSION_COLUMNS} FROM visit_sessions
                 WHERE {cond} AND state <> 'checked_out' ORDER BY started_at DESC LIMIT 500"
            ),
            params![arg],
        )?
        .into_iter()
        .map(session_view)
        .collect())
}

/// Appends the alarm's current state to the event log.
fn alarm_changed(tx: &mut dyn Tx, id: &str, now: i64) -> Result<AlarmView> {
    let view = load_alarm(tx, id)?.ok_or_else(|| Error::Internal("alarm vanished".into()))?;
    events::append(
        tx,
        now,
        &view.team_id,
        &view.worker_id,
        &SafetyEvent {
            seq: 0,
            alarm: Some(view.clone()),
            session: None,
        },
    )?;
    Ok(view)
}

/// Appends the session's current state to the event log.
fn session_changed(tx: &mut dyn Tx, id: &str, now: i64) -> Result<SessionView> {
    let view = load_session(tx, id)?.ok_or_else(|| Error::Internal("session vanished".into()))?;
    events::append(
        tx,
        now,
        &view.team_id,
        &view.worker_id,
        &SafetyEvent {
            seq: 0,
            alarm: None,
            session: Some(view.clone()),
        },
    )?;
    Ok(view)
}

fn audit_safety(
    tx: &mut dyn Tx,
    actor: &str,
    device: Option<&str>,
    action: &str,
    target: &str,
    device_time: Option<i64>,
    now: i64,
) -> Result<()> {
    let detail = serde_json::json!({ "server_time": now, "device_time": device_time });
    audit::append(
        tx,
        &audit::Entry {
            at: now,
            actor,
            device,
            action,
            target,
            detail: &detail.to_string(),
        },
    )?;
    Ok(())
}

/// Records the `which` items of a device's safety batch; returns (index in the batch,
/// receipt) for each.
pub fn ingest(
    tx: &mut dyn Tx,
    p: &Principal,
    agency: Option<&str>,
    req: &SafetyRequest,
    which: Items,
    now: i64,
) -> Result<Vec<(usize, SafetyOutcome)>> {
    let skew = now.saturating_sub(req.sent_at);
    let mut out = Vec::new();
    for (i, item) in req.items.iter().enumerate() {
        let receipt = match (item, which) {
            (SafetyItem::Alarm(a), Items::Alarms) => raise(tx, p, agency, a, skew, now)?,
            (SafetyItem::Session(e), Items::Sessions) => {
                session_event(tx, p, agency, e, skew, now)?
            }
            _ => continue,
        };
        out.push((i, receipt));
    }
    Ok(out)
}

/// Which items of a batch to record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Items {
    /// The alarms (their own transaction: nothing else in the batch can hold them back).
    Alarms,
    /// The session events, in order.
    Sessions,
}

/// A device time on the server's clock, never later than now.
fn on_server_clock(device_time: i64, skew: i64, now: i64) -> i64 {
    device_time.saturating_add(skew).min(now)
}

/// Whether free text holds control characters (which PostgreSQL's text type, for one,
/// refuses).
fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// The member id, if `p` may name that member; a warning otherwise.
fn entitled_member(
    tx: &mut dyn Tx,
    p: &Principal,
    agency: Option<&str>,
    member: Option<&String>,
    warnings: &mut Vec<String>,
) -> Result<Option<String>> {
    let Some(m) = member else { return Ok(None) };
    let owner = if is_uuid(m) {
        policy::owner_of(tx, m)?
    } else {
        None
    };
    match owner {
        Some(o) if policy::allowed(p, agency, &Action::WriteScope(&o)) => Ok(Some(m.clone())),
        _ => {
            warnings
                .push("member_id: not a member on your caseload; recorded without it".to_string());
            Ok(None)
        }
    }
}

fn raise(
    tx: &mut dyn Tx,
    p: &Principal,
    agency: Option<&str>,
    a: &RaiseAlarm,
    skew: i64,
    now: i64,
) -> Result<SafetyOutcome> {
    let Some(id) = canonical(&a.id) else {
        return Ok(refused("id", "is not a valid id"));
    };
    if a.kind == AlarmKind::MissedCheckIn {
        return Ok(refused("kind", "missed check-ins are raised by the server"));
    }
    if let Some(existing) =
        tx.query_opt("SELECT worker_id FROM alarms WHERE id = $1", params![&id])?
    {
        // A retry: the same alarm, never a second one.
        if existing[0].text() != p.user_id {
            return Ok(refused("id", "is already used by another alarm"));
        }
        return Ok(SafetyOutcome::Accepted {
            alarm: load_alarm(tx, &id)?.map(Box::new),
            session: None,
            warnings: Vec::new(),
        });
    }
    let open = tx.query_one(
        "SELECT COUNT(*) FROM alarms WHERE device_id = $1 AND state <> 'resolved'",
        params![p.device_id.clone()],
    )?[0]
        .int();
    if open >= MAX_OPEN_ALARMS_PER_DEVICE {
        return Ok(refused(
            "id",
            format!(
                "this phone already has {open} open alarms; they are being answered \
                 (the limit is {MAX_OPEN_ALARMS_PER_DEVICE})"
            ),
        ));
    }
    let a = &RaiseAlarm {
        id,
        session_id: a
            .session_id
            .as_deref()
            .map(|s| canonical(s).unwrap_or_else(|| s.to_string())),
        ..a.clone()
    };
    let mut warnings = Vec::new();
    let mut member = entitled_member(tx, p, agency, a.member_id.as_ref(), &mut warnings)?;
    let mut session = None;
    if let Some(sid) = a.session_id.as_ref().filter(|s| is_uuid(s)) {
        let row = tx.query_opt(
            "SELECT member_id, worker_id FROM visit_sessions WHERE id = $1",
            params![sid],
        )?;
        match row {
            Some(r) if r[1].text() == p.user_id => {
                member = member.or(r[0].opt_text());
                session = Some(sid.clone());
            }
            Some(_) => {
                warnings.push("session_id: not a session of yours; recorded without it".into())
            }
            // The session's start has not arrived yet (it comes in this batch or the next):
            // the start will find this alarm and open the session in alarm state.
            None => session = Some(sid.clone()),
        }
    } else if a.session_id.is_some() {
        warnings.push("session_id: not a valid id; recorded without it".into());
    }
    let location = location_json(a.location.as_ref());
    if a.location.is_some() && location.is_none() {
        warnings.push("location: not a valid position; recorded without it".into());
    }
    let team = p.team_id.clone().unwrap_or_default();
    let settings = settings_for(tx, &team)?;
    let raised_at = on_server_clock(a.device_time, skew, now);
    let first = &settings.ladder[0];
    // The audit entry follows in its own transaction ([`audit_raised`]): the audit chain's
    // head is a lock every sync takes, and an alarm must not queue behind them.
    tx.exec(
        "INSERT INTO alarms (id, kind, state, worker_id, team_id, member_id, session_id,
                             location, raised_at, device_time, tier, next_at, device_id,
                             received_at, audited)
         VALUES ($1, $2, 'raised', $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $12, 0)",
        params![
            &a.id,
            a.kind.as_str(),
            &p.user_id,
            &team,
            member,
            session.clone(),
            location,
            raised_at,
            a.device_time,
            now + first.ack_timeout_secs as i64 * 1000,
            p.device_id.clone(),
            now
        ],
    )?;
    let users = tier_users(tx, &first.target, &team)?;
    add_notices(tx, &a.id, &users, &p.user_id, 1, "escalation", now)?;
    if let Some(sid) = &session {
        let changed = tx.exec(
            "UPDATE visit_sessions SET state = 'alarm', deadline = NULL WHERE id = $1",
            params![sid],
        )?;
        if changed > 0 {
            session_changed(tx, sid, now)?;
        }
    }
    let view = alarm_changed(tx, &a.id, now)?;
    Ok(SafetyOutcome::Accepted {
        alarm: Some(Box::new(view)),
        session: None,
        warnings,
    })
}

/// The refusal of an event for a session the sender does not have, whether it exists or not.
const NO_SUCH_SESSION: &str = "no such session of yours";

fn session_event(
    tx: &mut dyn Tx,
    p: &Principal,
    agency: Option<&str>,
    e: &SessionEvent,
    skew: i64,
    now: i64,
) -> Result<SafetyOutcome> {
    let Some(event_id) = canonical(&e.event_id) else {
        return Ok(refused("event_id", "is not a valid id"));
    };
    let Some(session_id) = canonical(&e.session_id) else {
        return Ok(refused("session_id", "is not a valid id"));
    };
    let e = &SessionEvent {
        event_id,
        session_id,
        ..e.clone()
    };
    let accepted = |session, warnings| SafetyOutcome::Accepted {
        alarm: None,
        session,
        warnings,
    };
    let existing = load_session(tx, &e.session_id)?;
    if existing.as_ref().is_some_and(|s| s.worker_id != p.user_id) {
        // Another worker's session is answered as one that does not exist; only a start,
        // which would create it, learns that the id is taken.
        return Ok(match e.action {
            SessionAction::Start { .. } => refused("session_id", "is already used"),
            _ => refused("session_id", NO_SUCH_SESSION),
        });
    }
    if tx
        .query_opt(
            "SELECT 1 FROM session_events WHERE event_id = $1",
            params![&e.event_id],
        )?
        .is_some()
    {
        return Ok(accepted(existing, Vec::new()));
    }
    let at = on_server_clock(e.device_time, skew, now);
    let team = p.team_id.clone().unwrap_or_default();
    let grace = settings_for(tx, &team)?.grace_secs as i64 * 1000;
    let location = location_json(e.location.as_ref());
    let mut warnings = Vec::new();
    if e.location.is_some() && location.is_none() {
        warnings.push("location: not a valid position; recorded without it".into());
    }
    let max_ms = MAX_SESSION_HOURS * 3_600_000;
    let action = match (&e.action, &existing) {
        (
            SessionAction::Start {
                member_id,
                place,
                expected_end,
            },
            None,
        ) => {
            let place = place.trim();
            if place.is_empty() || place.chars().count() > 200 || has_control(place) {
                return Ok(refused(
                    "place",
                    "must be 1 to 200 characters, without control characters",
                ));
            }
            if *expected_end <= e.device_time {
                return Ok(refused("expected_end", "must be after the session's start"));
            }
            if expected_end.saturating_sub(e.device_time) > max_ms {
                return Ok(refused(
                    "expected_end",
                    format!("must be within {MAX_SESSION_HOURS} hours of the start"),
                ));
            }
            let member = entitled_member(tx, p, agency, member_id.as_ref(), &mut warnings)?;
            let end = expected_end.saturating_add(skew);
            // An alarm raised in this session before its start arrived: the alarm's
            // escalation has the session; no timer of its own.
            let in_alarm = tx
                .query_opt(
                    "SELECT 1 FROM alarms WHERE session_id = $1 AND worker_id = $2",
                    params![&e.session_id, &p.user_id],
                )?
                .is_some();
            let (state, deadline) = if in_alarm {
                ("alarm", None)
            } else {
                ("active", Some(end.saturating_add(grace)))
            };
            tx.exec(
                "INSERT INTO visit_sessions (id, worker_id, team_id, member_id, place, state,
                     started_at, expected_end, deadline, location)
                                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                params![
                    &e.session_id,
                    &p.user_id,
                    &team,
                    member,
                    place,
                    state,
                    at,
                    end,
                    deadline,
                    location
                ],
            )?;
            "start"
        }
        (SessionAction::Start { .. }, Some(_)) => "start",
        (_, None) => return Ok(refused("session_id", NO_SUCH_SESSION)),
        (SessionAction::CheckIn, Some(s)) => {
            // A check-in after a missed one re-arms the timer; the alarm stays for a person
            // to resolve.
            let (state, deadline) = match s.state {
                SessionState::Missed => ("active", Some(now + grace)),
                other => (other.as_str(), s.deadline),
            };
            // Location only while the session is under way.
            let location = location.filter(|_| s.state != SessionState::CheckedOut);
            tx.exec(
                "UPDATE visit_sessions SET last_check_in = $1, state = $2, deadline = $3,
                     location = COALESCE($4, location) WHERE id = $5",
                params![at, state, deadline, location, &e.session_id],
            )?;
            "check_in"
        }
        (SessionAction::Extend { until }, Some(s)) => {
            if *until <= e.device_time {
                return Ok(refused("until", "must be in the future"));
            }
            if until.saturating_sub(e.device_time) > max_ms {
                return Ok(refused(
                    "until",
                    format!("must be within {MAX_SESSION_HOURS} hours"),
                ));
            }
            let end = until.saturating_add(skew);
            if matches!(s.state, SessionState::Active | SessionState::Missed) {
                tx.exec(
                    "UPDATE visit_sessions SET expected_end = $1, deadline = $2, state = 'active'
                     WHERE id = $3",
                    params![end, end.saturating_add(grace), &e.session_id],
                )?;
            }
            "extend"
        }
        (SessionAction::CheckOut, Some(_)) => {
            tx.exec(
                "UPDATE visit_sessions SET state = 'checked_out', deadline = NULL,
                     location = COALESCE($1, location) WHERE id = $2 AND state <> 'alarm'",
                params![location, &e.session_id],
            )?;
            "check_out"
        }
    };
    tx.exec(
        "INSERT INTO session_events (event_id, session_id, at) VALUES ($1, $2, $3)",
        params![&e.event_id, &e.session_id, now],
    )?;
    // Lock order in every safety transaction: the event counter, then the audit head.
    let view = session_changed(tx, &e.session_id, now)?;
    audit_safety(
        tx,
        &p.user_id,
        p.device_id.as_deref(),
        &format!("session.{action}"),
        &e.session_id,
        Some(e.device_time),
        now,
    )?;
    Ok(accepted(Some(view), warnings))
}

/// May `p` answer this alarm: a supervisor of its team, a director of its agency, or someone
/// named on its team's ladder.
fn may_respond(
    tx: &mut dyn Tx,
    p: &Principal,
    agency: Option<&str>,
    a: &AlarmView,
) -> Result<bool> {
    if a.worker_id == p.user_id || p.role == ServerRole::Administrator {
        // The person in distress (or whoever holds their phone) never stops the ladder, and
        // administrators never read PHI, whatever a ladder names.
        return Ok(false);
    }
    let team_agency = policy::team_agency(tx, &a.team_id)?.unwrap_or_default();
    if policy::allowed(
        p,
        agency,
        &Action::ReadTeam {
            team_id: &a.team_id,
            agency_id: &team_agency,
        },
    ) {
        return Ok(true);
    }
    let settings = settings_for(tx, &a.team_id)?;
    Ok(settings
        .ladder
        .iter()
        .any(|t| matches!(&t.target, TierTarget::Users(u) if u.contains(&p.user_id))))
}

/// An alarm `p` may see (their own, or one they may answer); not found otherwise.
pub fn visible_alarm(
    tx: &mut dyn Tx,
    p: &Principal,
    agency: Option<&str>,
    id: &str,
) -> Result<AlarmView> {
    let not_found = || Error::NotFound("no such alarm".into());
    let id = canonical(id).ok_or_else(not_found)?;
    let a = load_alarm(tx, &id)?.ok_or_else(not_found)?;
    if a.worker_id == p.user_id || may_respond(tx, p, agency, &a)? {
        Ok(a)
    } else {
        Err(not_found())
    }
}

/// Takes ownership of an alarm. The first acknowledgement wins; a second responder is told
/// who owns it.
pub fn acknowledge(
    tx: &mut dyn Tx,
    p: &Principal,
    agency: Option<&str>,
    id: &str,
    now: i64,
) -> Result<AlarmView> {
    let a = visible_alarm(tx, p, agency, id)?;
    // Its stored id, whatever form the caller wrote it in.
    let id = &*a.id.clone();
    if !may_respond(tx, p, agency, &a)? {
        return Err(Error::Forbidden(
            "only the people answering may acknowledge".into(),
        ));
    }
    match a.state {
        AlarmState::Resolved => {
            return Err(Error::Conflict("the alarm is already resolved".into()));
        }
        AlarmState::Acknowledged if a.acknowledged_by.as_deref() == Some(p.user_id.as_str()) => {
            return Ok(a);
        }
        AlarmState::Acknowledged => {
            return Err(Error::Conflict(format!(
                "already acknowledged by {}",
                a.acknowledged_by_name.unwrap_or_default()
            )));
        }
        AlarmState::Raised => {}
    }
    // The state check repeats in the update so that two simultaneous acknowledgements
    // cannot both win.
    let won = tx.exec(
        "UPDATE alarms SET state = 'acknowledged', acknowledged_by = $1, acknowledged_at = $2,
             next_at = NULL
         WHERE id = $3 AND state = 'raised'",
        params![&p.user_id, now, id],
    )?;
    if won == 0 {
        return Err(Error::Retry("alarm changed during acknowledgement".into()));
    }
    let view = alarm_changed(tx, id, now)?;
    audit_safety(
        tx,
        &p.user_id,
        p.device_id.as_deref(),
        "alarm.acknowledge",
        id,
        None,
        now,
    )?;
    Ok(view)
}

/// Closes an alarm with an outcome; when it was a Reportable Adverse Incident, says when the
/// report is due (1 business day, from the rules engine's clock).
pub fn resolve(
    tx: &mut dyn Tx,
    p: &Principal,
    agency: Option<&str>,
    id: &str,
    req: &safety::ResolveRequest,
    now: i64,
) -> Result<safety::ResolveResponse> {
    let outcome = Error::plain_text("outcome", &req.outcome, 2000)?;
    let a = visible_alarm(tx, p, agency, id)?;
    // Its stored id, whatever form the caller wrote it in.
    let id = &*a.id.clone();
    if !may_respond(tx, p, agency, &a)? {
        return Err(Error::Forbidden(
            "only the people answering may resolve".into(),
        ));
    }
    if a.state == AlarmState::Resolved {
        return Err(Error::Conflict("the alarm is already resolved".into()));
    }
    let due = req.reportable_incident.then(|| {
        fieldnote_core::rules::clock::Clock::BusinessDays(1)
            .deadline(fieldnote_core::Timestamp::from_millis(a.raised_at))
            .millis()
    });
    let won = tx.exec(
        "UPDATE alarms SET state = 'resolved', resolved_by = $1, resolved_at = $2, outcome = $3,
             incident_due = $4, next_at = NULL,
             acknowledged_by = COALESCE(acknowledged_by, $1),
             acknowledged_at = COALESCE(acknowledged_at, $2)
         WHERE id = $5 AND state <> 'resolved'",
        params![&p.user_id, now, outcome, due, id],
    )?;
    if won == 0 {
        return Err(Error::Retry("alarm changed during resolution".into()));
    }
    // A session the worker has taken up again (checked in after a missed check-in) keeps
    // running; only one held by the alarm closes with it.
    if let Some(sid) = &a.session_id
        && tx.exec(
            "UPDATE visit_sessions SET state = 'checked_out', deadline = NULL
             WHERE id = $1 AND state IN ('alarm', 'missed')",
            params![sid],
        )? > 0
    {
        session_changed(tx, sid, now)?;
    }
    let alarm = alarm_changed(tx, id, now)?;
    audit_safety(
        tx,
        &p.user_id,
        p.device_id.as_deref(),
        "alarm.resolve",
        id,
        None,
        now,
    )?;
    Ok(safety::ResolveResponse {
        alarm,
        incident_report_due: due,
    })
}

/// Appends the audit entries of raised alarms not yet in the audit log (just after each
/// raise commits, and on every timer run after a crash in between). Returns how many.
pub fn audit_raised(db: &Db) -> Result<usize> {
    db.tx(|tx| {
        let rows = tx.query(
            &format!(
                "SELECT id, kind, worker_id, device_id, device_time, received_at FROM alarms
                 WHERE audited = 0 ORDER BY received_at LIMIT 200{}",
                tx.skip_locked()
            ),
            params![],
        )?;
        for r in &rows {
            let id = r[0].text();
            audit_safety(
                tx,
                &r[2].text(),
                r[3].opt_text().as_deref(),
                &format!("alarm.raise.{}", r[1].text()),
                &id,
                r[4].opt_int(),
                r[5].int(),
            )?;
            tx.exec("UPDATE alarms SET audited = 1 WHERE id = $1", params![&id])?;
        }
        Ok(rows.len())
    })
}

/// Fires every timer due at the clock's now: missed check-ins for sessions past their
/// deadline, the next tier for alarms past their tier's timeout, a final broadcast for
/// alarms whose ladder ran out; then delivers notices. Safe to call from several processes
/// at once: each due row is taken by one.
pub fn run_timers(db: &Db, safety: &Safety) -> Result<TimerReport> {
    let now = safety.clock.now_ms();
    let mut report = TimerReport::default();
    loop {
        let missed = db.urgent_tx(|tx| {
            let due = tx.query(
                &format!(
                    "SELECT id, worker_id, team_id, member_id, deadline FROM visit_sessions
                     WHERE state = 'active' AND deadline <= $1 ORDER BY deadline LIMIT 50{}",
                    tx.skip_locked()
                ),
                params![now],
            )?;
            for s in &due {
                let (sid, worker, team) = (s[0].text(), s[1].text(), s[2].text());
                // The id follows from the session and its deadline: the same timer can
                // never raise two alarms.
                let id = uuid::Uuid::new_v5(
                    &uuid::Uuid::NAMESPACE_OID,
                    format!("missed:{sid}:{}", s[4].int()).as_bytes(),
                )
                .to_string();
                let settings = settings_for(tx, &team)?;
                let first = &settings.ladder[0];
                let inserted = tx.exec(
                    "INSERT INTO alarms (id, kind, state, worker_id, team_id, member_id,
                         session_id, location, raised_at, tier, next_at, received_at)
                     SELECT $1, 'missed_check_in', 'raised', $2, $3, $4, $5, location, $6, 1, $7,
                         $6
                     FROM visit_sessions WHERE id = $5
                     AND NOT EXISTS (SELECT 1 FROM alarms WHERE id = $1)",
                    params![
                        &id,
                        &worker,
                        &team,
                        s[3].opt_text(),
                        &sid,
                        now,
                        now + first.ack_timeout_secs as i64 * 1000
                    ],
                )?;
                tx.exec(
                    "UPDATE visit_sessions SET state = 'missed', deadline = NULL WHERE id = $1",
                    params![&sid],
                )?;
                session_changed(tx, &sid, now)?;
                if inserted > 0 {
                    let users = tier_users(tx, &first.target, &team)?;
                    add_notices(tx, &id, &users, &worker, 1, "escalation", now)?;
                    alarm_changed(tx, &id, now)?;
                    audit_safety(
                        tx,
                        "system",
                        None,
                        "alarm.raise.missed_check_in",
                        &id,
                        None,
                        now,
                    )?;
                }
            }
            Ok(due.len())
        })?;
        report.missed += missed;
        if missed < 50 {
            break;
        }
    }
    loop {
        let (escalated, exhausted) = db.urgent_tx(|tx| {
            let due = tx.query(
                &format!(
                    "SELECT id, team_id, tier, worker_id FROM alarms
                     WHERE state = 'raised' AND next_at <= $1 ORDER BY next_at LIMIT 50{}",
                    tx.skip_locked()
                ),
                params![now],
            )?;
            let (mut escalated, mut exhausted) = (0, 0);
            for a in &due {
                let (id, team, tier) = (a[0].text(), a[1].text(), a[2].int() as usize);
                let worker = a[3].text();
                let settings = settings_for(tx, &team)?;
                if let Some(next) = settings.ladder.get(tier) {
                    let next_tier = tier as u32 + 1;
                    tx.exec(
                        "UPDATE alarms SET tier = $1, next_at = $2 WHERE id = $3",
                        params![
                            i64::from(next_tier),
                            now + next.ack_timeout_secs as i64 * 1000,
                            &id
                        ],
                    )?;
                    let users = tier_users(tx, &next.target, &team)?;
                    add_notices(tx, &id, &users, &worker, next_tier, "escalation", now)?;
                    alarm_changed(tx, &id, now)?;
                    audit_safety(tx, "system", None, "alarm.escalate", &id, None, now)?;
                    escalated += 1;
                } else {
                    // Nobody answered: alert everyone on the ladder at once.
                    tx.exec(
                        "UPDATE alarms SET next_at = NULL, exhausted = 1 WHERE id = $1",
                        params![&id],
                    )?;
                    let mut everyone = Vec::new();
                    for t in &settings.ladder {
                        for u in tier_users(tx, &t.target, &team)? {
                            if !everyone.contains(&u) {
                                everyone.push(u);
                            }
                        }
                    }
                    add_notices(tx, &id, &everyone, &worker, 0, "ladder_exhausted", now)?;
                    alarm_changed(tx, &id, now)?;
                    audit_safety(tx, "system", None, "alarm.ladder_exhausted", &id, None, now)?;
                    exhausted += 1;
                }
            }
            Ok((escalated, exhausted))
        })?;
        report.escalated += escalated;
        report.exhausted += exhausted;
        if escalated + exhausted < 50 {
            break;
        }
    }
    if report.missed + report.escalated + report.exhausted > 0 {
        safety.hub.wake(0);
    }
    report.notices = notify::deliver(db, safety.notifier.as_ref(), now)?;
    audit_raised(db)?;
    Ok(report)
}

/// When this process's safety timers last ran, for the health check: a server whose timers
/// have stopped must say so, because nothing else shows it until an alarm fails to escalate.
#[derive(Debug)]
pub struct TimerWatch {
    every_ms: Option<i64>,
    started: i64,
    last_run: AtomicI64,
}

/// What the health check says of the safety timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerHealth {
    /// They ran within three intervals (plus five seconds of slack).
    Running,
    /// Started, not yet through a first run.
    Starting,
    /// They have not run for longer than that: escalation and missed check-ins are stalled.
    Stalled,
    /// This process runs them only when asked (tests with a manual clock).
    Manual,
}

impl TimerWatch {
    /// A watch, started now, for timers that run every `every` (`None`: only by hand).
    pub fn new(every: Option<std::time::Duration>) -> TimerWatch {
        TimerWatch {
            every_ms: every.map(|e| i64::try_from(e.as_millis()).unwrap_or(i64::MAX)),
            started: fieldnote_core::Timestamp::now().millis(),
            last_run: AtomicI64::new(0),
        }
    }

    /// Records a completed run at `now` (milliseconds).
    pub fn ran(&self, now: i64) {
        self.last_run.store(now, Ordering::SeqCst);
    }

    /// Milliseconds since the last completed run, if there was one.
    pub fn since_last_run(&self, now: i64) -> Option<i64> {
        match self.last_run.load(Ordering::SeqCst) {
            0 => None,
            at => Some(now.saturating_sub(at)),
        }
    }

    /// How the timers stand at `now`.
    pub fn health(&self, now: i64) -> TimerHealth {
        let Some(every) = self.every_ms else {
            return TimerHealth::Manual;
        };
        let bound = every.saturating_mul(3).saturating_add(5_000);
        match self.since_last_run(now) {
            Some(ago) if ago <= bound => TimerHealth::Running,
            None if now.saturating_sub(self.started) <= bound => TimerHealth::Starting,
            _ => TimerHealth::Stalled,
        }
    }
}
