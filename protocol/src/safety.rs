//! Lone-worker safety messages: distress alarms, visit sessions, acknowledgements, the live
//! event stream and per-team settings.
//!
//! Safety travels on its own path, `POST /v1/safety`, apart from bulk sync, so an alarm never
//! waits behind a backlog of notes. Every item carries the device's clock reading for when
//! it happened and the request carries the device's clock at sending; the server maps device
//! times onto its own clock with the difference, so a phone with a wrong clock still gets
//! correct timers. Times are milliseconds since the Unix epoch.

use serde::{Deserialize, Serialize};

/// Safety routes, relative to the server's base URL.
pub mod routes {
    /// `POST`: a batch of alarms and session events from a device.
    pub const SAFETY: &str = "/v1/safety";
    /// `GET`: open alarms in the caller's scope (`?all=true` adds the last week's closed ones).
    pub const ALARMS: &str = "/v1/alarms";
    /// `GET /v1/alarms/{id}`: one alarm (the raising worker may read their own).
    pub const ALARM: &str = "/v1/alarms/{id}";
    /// `POST`: take ownership of an alarm.
    pub const ACKNOWLEDGE: &str = "/v1/alarms/{id}/acknowledge";
    /// `POST`: close an alarm with an outcome.
    pub const RESOLVE: &str = "/v1/alarms/{id}/resolve";
    /// `GET`: an alarm's audit trail.
    pub const TRAIL: &str = "/v1/alarms/{id}/trail";
    /// `GET`: active visit sessions in the caller's scope.
    pub const SESSIONS: &str = "/v1/sessions";
    /// `GET`: Server-Sent Events of alarm and session changes in the caller's scope.
    pub const EVENTS: &str = "/v1/events";
    /// `GET`/`PUT /v1/teams/{id}/safety`: a team's grace period, fallback time and ladder.
    pub const TEAM_SAFETY: &str = "/v1/teams/{id}/safety";

    /// A path with its `{id}` filled in.
    pub fn with_id(route: &str, id: &str) -> String {
        route.replace("{id}", id)
    }
}

/// What kind of distress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    /// The panic button.
    Panic,
    /// A panic with no visible or audible feedback on the phone.
    Discreet,
    /// The duress PIN: looks like cancelling a session, raises an alarm.
    Duress,
    /// Raised by the server when a session passes its end and grace period unchecked.
    MissedCheckIn,
}

impl AlarmKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::Panic => "panic",
            AlarmKind::Discreet => "discreet",
            AlarmKind::Duress => "duress",
            AlarmKind::MissedCheckIn => "missed_check_in",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<AlarmKind> {
        [
            AlarmKind::Panic,
            AlarmKind::Discreet,
            AlarmKind::Duress,
            AlarmKind::MissedCheckIn,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether the phone must show nothing (discreet and duress alarms).
    pub fn is_silent(self) -> bool {
        matches!(self, AlarmKind::Discreet | AlarmKind::Duress)
    }
}

/// Where the phone was, recorded only during a session or with an alarm.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
    /// Accuracy radius in metres, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
}

/// A distress alarm raised on a device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RaiseAlarm {
    /// Chosen by the device; the same id sent again is the same alarm.
    pub id: String,
    /// Panic, discreet or duress (`missed_check_in` is the server's alone).
    pub kind: AlarmKind,
    /// The member being visited, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// The visit session it was raised in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Device clock at the press.
    pub device_time: i64,
    /// Where, when the shell supplied it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// What happened to a visit session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SessionAction {
    /// The visit begins.
    Start {
        /// The member visited, when the visit is to one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        member_id: Option<String>,
        /// Where (free text the worker chose: "home visit, Dorchester").
        place: String,
        /// Device clock at the expected end.
        expected_end: i64,
    },
    /// "I am all right."
    CheckIn,
    /// The visit runs longer.
    Extend {
        /// Device clock at the new expected end.
        until: i64,
    },
    /// The visit is over and the worker is safe.
    CheckOut,
}

/// One session event from a device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionEvent {
    /// Chosen by the device; the same id sent again is the same event.
    pub event_id: String,
    /// The session.
    pub session_id: String,
    /// What happened.
    #[serde(flatten)]
    pub action: SessionAction,
    /// Device clock when it happened.
    pub device_time: i64,
    /// Where, when the shell supplied it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// One item of a safety batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SafetyItem {
    /// An alarm.
    Alarm(RaiseAlarm),
    /// A session event.
    Session(SessionEvent),
}

/// What a device sends on the safety path: alarms first, then session events in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SafetyRequest {
    /// Device clock when this request was sent (for mapping device times onto server time).
    pub sent_at: i64,
    /// The items, at most [`MAX_SAFETY_ITEMS`].
    pub items: Vec<SafetyItem>,
}

/// Items in one safety request, at most.
pub const MAX_SAFETY_ITEMS: usize = 200;

/// What became of one safety item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SafetyOutcome {
    /// Recorded (or already recorded: retries are answered the same way).
    Accepted {
        /// The alarm as it now stands, for alarms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alarm: Option<Box<AlarmView>>,
        /// The session as it now stands, for session events.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionView>,
        /// Something the device should know (an unknown member was left out of an alarm).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// Refused for good; retrying will not help.
    Refused {
        /// The field at fault.
        field: String,
        /// Why.
        reason: String,
    },
}

/// The answer to a [`SafetyRequest`]: one receipt per item, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SafetyResponse {
    /// Receipts, in the order of the items.
    pub receipts: Vec<SafetyOutcome>,
}

/// Where an alarm stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmState {
    /// Raised; escalating until someone acknowledges.
    Raised,
    /// Someone took ownership; help is coming.
    Acknowledged,
    /// Closed with an outcome.
    Resolved,
}

impl AlarmState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Raised => "raised",
            AlarmState::Acknowledged => "acknowledged",
            AlarmState::Resolved => "resolved",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<AlarmState> {
        [
            AlarmState::Raised,
            AlarmState::Acknowledged,
            AlarmState::Resolved,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// An alarm as the server holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlarmView {
    /// The alarm's id.
    pub id: String,
    /// What kind.
    pub kind: AlarmKind,
    /// Where it stands.
    pub state: AlarmState,
    /// The worker in distress (user id).
    pub worker_id: String,
    /// Their name, for the people answering.
    pub worker_name: String,
    /// Their team.
    pub team_id: String,
    /// The member being visited, when known.
    pub member_id: Option<String>,
    /// The session, when raised in one.
    pub session_id: Option<String>,
    /// The session's place, when raised in one.
    pub place: Option<String>,
    /// Where the phone was.
    pub location: Option<Location>,
    /// Server time the press happened (device time mapped onto the server's clock).
    pub raised_at: i64,
    /// The device's own clock at the press, as sent.
    pub device_time: Option<i64>,
    /// The ladder tier now alerted (1 is the first).
    pub tier: u32,
    /// That tier's label.
    pub tier_label: String,
    /// Whether every tier has been tried and everyone on the ladder alerted.
    pub exhausted: bool,
    /// Who took ownership (user id) and their name.
    pub acknowledged_by: Option<String>,
    /// The owner's name.
    pub acknowledged_by_name: Option<String>,
    /// When they did.
    pub acknowledged_at: Option<i64>,
    /// When it was resolved.
    pub resolved_at: Option<i64>,
    /// The recorded outcome.
    pub outcome: Option<String>,
    /// Seconds after the press at which the phone falls back to a call or SMS if nobody has
    /// acknowledged (the team's setting).
    pub fallback_after_secs: u64,
    /// Server time the next tier is alerted unless someone acknowledges first (the final
    /// broadcast to everyone on the ladder after the last tier); none once acknowledged,
    /// resolved or broadcast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalates_at: Option<i64>,
    /// The worker's phone number as the agency recorded it, for the people answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_phone: Option<String>,
    /// When the incident report is due, for an alarm resolved as a Reportable Adverse
    /// Incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_report_due: Option<i64>,
}

/// Where a visit session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Under way; the timer runs.
    Active,
    /// Ended safely.
    CheckedOut,
    /// Its deadline passed unchecked; a missed check-in alarm was raised.
    Missed,
    /// An alarm was raised in it; the alarm's escalation has taken over.
    Alarm,
}

impl SessionState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Active => "active",
            SessionState::CheckedOut => "checked_out",
            SessionState::Missed => "missed",
            SessionState::Alarm => "alarm",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<SessionState> {
        [
            SessionState::Active,
            SessionState::CheckedOut,
            SessionState::Missed,
            SessionState::Alarm,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A visit session as the server holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    /// The session's id.
    pub id: String,
    /// The worker (user id).
    pub worker_id: String,
    /// Their team.
    pub team_id: String,
    /// The member visited.
    pub member_id: Option<String>,
    /// Where.
    pub place: String,
    /// Where it stands.
    pub state: SessionState,
    /// Server time the visit began.
    pub started_at: i64,
    /// Server time it is expected to end.
    pub expected_end: i64,
    /// Server time a missed check-in is raised unless the worker extends or checks out
    /// (expected end plus the team's grace period; a check-in re-arms it only after a
    /// missed check-in); none once ended or in alarm.
    pub deadline: Option<i64>,
    /// Server time of the last check-in.
    pub last_check_in: Option<i64>,
    /// The last location the phone sent during the session.
    pub location: Option<Location>,
}

/// Close an alarm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveRequest {
    /// What happened (1 to 2,000 characters).
    pub outcome: String,
    /// Whether it was a Reportable Adverse Incident; the answer then carries the report's
    /// deadline.
    #[serde(default)]
    pub reportable_incident: bool,
}

/// The answer to a resolution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolveResponse {
    /// The alarm, now resolved.
    pub alarm: AlarmView,
    /// When the incident report is due (1 business day, CSP-JI Quality Management 4), when
    /// `reportable_incident` was set.
    pub incident_report_due: Option<i64>,
}

/// Who a ladder tier alerts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierTarget {
    /// The worker's team's supervisors.
    TeamSupervisors,
    /// The agency's program directors.
    ProgramDirectors,
    /// Named users (an on-call rota).
    Users(Vec<String>),
}

/// One tier of an escalation ladder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    /// A label people read ("on-call").
    pub label: String,
    /// Who is alerted.
    pub target: TierTarget,
    /// Seconds this tier has to acknowledge before the next is alerted (30 to 3,600).
    pub ack_timeout_secs: u64,
}

/// A team's safety settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetySettings {
    /// Seconds after a session's expected end before a missed check-in is raised (60 to
    /// 7,200).
    pub grace_secs: u64,
    /// Seconds after a press before the phone falls back to a call or SMS when nobody has
    /// acknowledged (15 to 3,600).
    pub fallback_secs: u64,
    /// Who is alerted, in order (1 to 10 tiers).
    pub ladder: Vec<Tier>,
}

impl Default for SafetySettings {
    /// The documented defaults: 10 minutes' grace, fallback after 2 minutes, supervisors
    /// then program directors with 3 minutes each.
    fn default() -> Self {
        SafetySettings {
            grace_secs: 600,
            fallback_secs: 120,
            ladder: vec![
                Tier {
                    label: "team supervisor".into(),
                    target: TierTarget::TeamSupervisors,
                    ack_timeout_secs: 180,
                },
                Tier {
                    label: "program director".into(),
                    target: TierTarget::ProgramDirectors,
                    ack_timeout_secs: 180,
                },
            ],
        }
    }
}

impl SafetySettings {
    /// Checks every bound; the error names the field.
    pub fn check(&self) -> Result<(), (String, String)> {
        let bad = |f: &str, r: &str| Err((f.to_string(), r.to_string()));
        if !(60..=7_200).contains(&self.grace_secs) {
            return bad("grace_secs", "must be 60 to 7200 seconds");
        }
        if !(15..=3_600).contains(&self.fallback_secs) {
            return bad("fallback_secs", "must be 15 to 3600 seconds");
        }
        if self.ladder.is_empty() || self.ladder.len() > 10 {
            return bad("ladder", "must have 1 to 10 tiers");
        }
        for (i, t) in self.ladder.iter().enumerate() {
            if !(30..=3_600).contains(&t.ack_timeout_secs) {
                return bad(
                    &format!("ladder[{i}].ack_timeout_secs"),
                    "must be 30 to 3600 seconds",
                );
            }
            if t.label.trim().is_empty() || t.label.len() > 60 {
                return bad(&format!("ladder[{i}].label"), "must be 1 to 60 characters");
            }
            if t.label.chars().any(char::is_control) {
                return bad(
                    &format!("ladder[{i}].label"),
                    "must not contain control characters",
                );
            }
            if let TierTarget::Users(u) = &t.target
                && (u.is_empty() || u.len() > 50)
            {
                return bad(&format!("ladder[{i}].target"), "must name 1 to 50 users");
            }
        }
        Ok(())
    }
}

/// One event on the live stream (`GET /v1/events`, Server-Sent Events named `alarm` or
/// `session`, with this as JSON data and the sequence number as the event id; reconnect with
/// `Last-Event-ID` to resume).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SafetyEvent {
    /// Position in the server's event log.
    pub seq: i64,
    /// The alarm, for alarm events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<AlarmView>,
    /// The session, for session events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionView>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip_in_both_encodings() {
        let req = SafetyRequest {
            sent_at: 5,
            items: vec![
                SafetyItem::Alarm(RaiseAlarm {
                    id: "a".into(),
                    kind: AlarmKind::Duress,
                    member_id: None,
                    session_id: Some("s".into()),
                    device_time: 4,
                    location: Some(Location {
                        latitude: 42.3,
                        longitude: -71.1,
                        accuracy_m: None,
                    }),
                }),
                SafetyItem::Session(SessionEvent {
                    event_id: "e".into(),
                    session_id: "s".into(),
                    action: SessionAction::Extend { until: 9 },
                    device_time: 3,
                    location: None,
                }),
            ],
        };
        let json = serde_json::to_string(&req).unwrap();
        assert!(json.contains(r#""action":"extend""#), "{json}");
        assert_eq!(serde_json::from_str::<SafetyRequest>(&json).unwrap(), req);
        assert_eq!(
            crate::from_cbor::<SafetyRequest>(&crate::to_cbor(&req)).unwrap(),
            req
        );
    }

    #[test]
    fn settings_bounds_name_the_field() {
        assert!(SafetySettings::default().check().is_ok());
        let mut s = SafetySettings::default();
        s.ladder[1].ack_timeout_secs = 5;
        assert_eq!(s.check().unwrap_err().0, "ladder[1].ack_timeout_secs");
        s = SafetySettings {
            ladder: vec![],
            ..SafetySettings::default()
        };
        assert_eq!(s.check().unwrap_err().0, "ladder");
    }
}
