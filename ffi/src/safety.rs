//! Distress and visit sessions for the shells. These calls use the safety database's own
//! handle, never the record store's lock, so a panic press is saved at once even while a
//! long sync holds the records, and works on a locked phone (after `open_safety` or any
//! unlock since the app started).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldnote_client::Backoff;
use fieldnote_core::store::SafetyStore;
use fieldnote_core::store::safety::{AlarmStatus, LocalAlarm};
use fieldnote_core::{StoreKey, Timestamp};
use fieldnote_protocol::safety::{AlarmKind, Location};

use crate::error::{FieldnoteError, Outcome, guard};
use crate::store::{FieldnoteStore, lock, off_thread};
use crate::types::{record_id, timestamp};
use fieldnote_core::policy::AlarmProgress;

/// The alarms a worker can raise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum DistressKind {
    /// The panic button: the phone may show and sound that help is coming.
    Panic,
    /// A panic with no sign on the phone (someone may be watching).
    Discreet,
    /// The duress PIN, normally raised through `end_visit_with_pin`.
    Duress,
}

/// A position from the phone's location service (taken only with an alarm or during a
/// visit).
#[derive(Clone, Copy, Debug, PartialEq, uniffi::Record)]
pub struct GeoPoint {
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
    /// Accuracy radius in metres.
    pub accuracy_m: Option<f64>,
}

/// An alarm as the device knows it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AlarmState {
    /// The alarm id.
    pub id: String,
    /// What kind of alarm.
    pub kind: AlarmKind,
    /// When it was raised (ms).
    pub raised_at_ms: i64,
    /// Where it stands: pending (not yet on the server), sent, acknowledged, resolved or
    /// refused (see `refusal`).
    pub status: AlarmProgress,
    /// Who acknowledged it ("help is coming").
    pub acknowledged_by: Option<String>,
    /// Why the server refused it (then the shell must call for help another way).
    pub refusal: Option<String>,
}

/// An alarm nobody has acknowledged in time: the shell falls back to a phone call or SMS.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FallbackDue {
    /// The alarm.
    pub alarm_id: String,
    /// Discreet or duress: fall back without any sound or screen.
    pub silent: bool,
    /// Seconds since it was raised.
    pub waited_secs: u64,
}

/// The visit in progress.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct VisitView {
    /// The session id.
    pub id: String,
    /// The member visited, if any.
    pub member_id: Option<String>,
    /// Where.
    pub place: String,
    /// Started (ms).
    pub started_at_ms: i64,
    /// Expected end (ms); a missed check-in alarm follows after the team's grace period.
    pub expected_end_ms: i64,
}

impl From<LocalAlarm> for AlarmState {
    fn from(a: LocalAlarm) -> Self {
        let (status, refusal) = match a.status {
            AlarmStatus::Pending => (AlarmProgress::Pending, None),
            AlarmStatus::Raised => (AlarmProgress::Sent, None),
            AlarmStatus::Acknowledged => (AlarmProgress::Acknowledged, None),
            AlarmStatus::Resolved => (AlarmProgress::Resolved, None),
            AlarmStatus::Refused(why) => (AlarmProgress::Refused, Some(why)),
        };
        AlarmState {
            id: a.id,
            kind: a.kind,
            raised_at_ms: a.raised_at.millis(),
            status,
            acknowledged_by: a.acknowledged_by,
            refusal,
        }
    }
}

fn location(p: Option<GeoPoint>) -> Option<Location> {
    p.map(|p| Location {
        latitude: p.latitude,
        longitude: p.longitude,
        accuracy_m: p.accuracy_m,
    })
}

#[uniffi::export]
impl FieldnoteStore {
    /// Raises an alarm. It is saved durably before this returns; then call
    /// `deliver_safety`. Returns the alarm id.
    pub fn raise_alarm(&self, kind: DistressKind, location: Option<GeoPoint>) -> Outcome<String> {
        let kind = match kind {
            DistressKind::Panic => AlarmKind::Panic,
            DistressKind::Discreet => AlarmKind::Discreet,
            DistressKind::Duress => AlarmKind::Duress,
        };
        self.with_safety(|s| Ok(s.raise_alarm(kind, self::location(location))?))
    }

    /// Sends every waiting alarm and visit event, retrying with backoff (1 s doubling to
    /// 30 s) for up to `give_up_after_secs`. Returns how many the server recorded.
    pub async fn deliver_safety(self: Arc<Self>, give_up_after_secs: u64) -> Outcome<u64> {
        off_thread(move || {
            let client = self.client()?;
            self.with_sender(|s| {
                let applied = client.deliver_safety(
                    s,
                    Backoff::default(),
                    Duration::from_secs(give_up_after_secs),
                )?;
                Ok(applied.accepted as u64)
            })
        })
        .await
    }

    /// Asks the server how an alarm stands (acknowledged, by whom) and keeps the answer.
    pub async fn refresh_alarm(self: Arc<Self>, alarm_id: String) -> Outcome<AlarmState> {
        off_thread(move || {
            let client = self.client()?;
            self.with_sender(|s| {
                client.refresh_alarm(s, &alarm_id)?;
                s.alarm(&alarm_id)?
                    .map(Into::into)
                    .ok_or_else(|| FieldnoteError::NotFound {
                        reason: format!("no alarm {alarm_id} on this device"),
                    })
            })
        })
        .await
    }

    /// An alarm as last known on the device.
    pub fn alarm(&self, alarm_id: String) -> Outcome<AlarmState> {
        self.with_safety(|s| {
            s.alarm(&alarm_id)?
                .map(Into::into)
                .ok_or_else(|| FieldnoteError::NotFound {
                    reason: format!("no alarm {alarm_id} on this device"),
                })
        })
    }

    /// Alarms the worker may see (discreet and duress alarms never show).
    pub fn visible_alarms(&self) -> Outcome<Vec<AlarmState>> {
        self.with_safety(|s| Ok(s.visible_alarms()?.into_iter().map(Into::into).collect()))
    }

    /// Alarms unacknowledged past the team's fallback time (or refused), at `now_ms` (now
    /// when absent): call or text for help for each, then `fallback_taken`.
    pub fn fallbacks_due(&self, now_ms: Option<i64>) -> Outcome<Vec<FallbackDue>> {
        self.with_safety(|s| {
            let now = match now_ms {
                Some(ms) => timestamp("now_ms", ms)?,
                None => Timestamp::now(),
            };
            Ok(s.fallbacks_due(now)?
                .into_iter()
                .map(|f| FallbackDue {
                    alarm_id: f.alarm_id,
                    silent: f.silent,
                    waited_secs: f.waited_secs,
                })
                .collect())
        })
    }

    /// Records that the shell placed the fallback call or SMS for an alarm.
    pub fn fallback_taken(&self, alarm_id: String) -> Outcome<()> {
        self.with_safety(|s| Ok(s.fallback_taken(&alarm_id)?))
    }

    /// Seconds to wait for an acknowledgement before falling back (the team's setting).
    pub fn fallback_secs(&self) -> Outcome<u64> {
        self.with_safety(|s| Ok(s.fallback_secs()?))
    }

    /// Sets the PINs that end a visit: the cancel PIN ends it; the duress PIN ends it the
    /// same way on screen and silently raises a duress alarm.
    pub fn set_safety_pins(&self, cancel_pin: String, duress_pin: String) -> Outcome<()> {
        self.with_safety(|s| Ok(s.set_pins(&cancel_pin, &duress_pin)?))
    }

    /// Starts a visit that must end (or be extended) by `expected_end_ms`. Returns its id.
    pub fn start_visit(
        &self,
        member_id: Option<String>,
        place: String,
        expected_end_ms: i64,
        location: Option<GeoPoint>,
    ) -> Outcome<String> {
        self.with_safety(|s| {
            let member = member_id.map(|m| record_id("member_id", &m)).transpose()?;
            let end = timestamp("expected_end_ms", expected_end_ms)?;
            Ok(s.start_session(member, &place, end, self::location(location))?)
        })
    }

    /// The visit in progress, if any.
    pub fn active_visit(&self) -> Outcome<Option<VisitView>> {
        self.with_safety(|s| {
            Ok(s.active_session()?.map(|v| VisitView {
                id: v.id,
                member_id: v.member_id.map(|m| m.to_string()),
                place: v.place,
                started_at_ms: v.started_at.millis(),
                expected_end_ms: v.expected_end.millis(),
            }))
        })
    }

    /// Checks in: the worker is fine.
    pub fn check_in(&self, location: Option<GeoPoint>) -> Outcome<()> {
        self.with_safety(|s| Ok(s.check_in(self::location(location))?))
    }

    /// Moves the visit's expected end to `until_ms`.
    pub fn extend_visit(&self, until_ms: i64) -> Outcome<()> {
        self.with_safety(|s| Ok(s.extend(timestamp("until_ms", until_ms)?)?))
    }

    /// Ends the visit normally.
    pub fn check_out(&self, location: Option<GeoPoint>) -> Outcome<()> {
        self.with_safety(|s| {
            s.check_out(self::location(location))?;
            Ok(())
        })
    }

    /// Ends the visit with a PIN. The cancel PIN and the duress PIN give the same answer;
    /// the duress PIN also queues a silent duress alarm. A wrong PIN is refused.
    pub fn end_visit_with_pin(&self, pin: String, location: Option<GeoPoint>) -> Outcome<()> {
        self.with_safety(|s| {
            s.end_session_with_pin(&pin, self::location(location))?;
            Ok(())
        })
    }
}

/// The two handles of the safety database: one for what the screen does (raise, visits),
/// one for talking to the server, so a slow network never holds up a press.
pub(crate) struct SafetyHandles {
    screen: Mutex<SafetyStore>,
    sender: Mutex<SafetyStore>,
}

impl SafetyHandles {
    /// Opens both handles with the store key.
    pub(crate) fn open(dir: &Path, key: &StoreKey) -> Outcome<Arc<SafetyHandles>> {
        Ok(Arc::new(SafetyHandles {
            screen: Mutex::new(SafetyStore::open(dir, key)?),
            sender: Mutex::new(SafetyStore::open(dir, key)?),
        }))
    }

    /// Alarms and visit events not yet on the server.
    pub(crate) fn pending(&self) -> Outcome<u64> {
        Ok(lock(&self.screen).pending_len()? as u64)
    }
}

impl FieldnoteStore {
    fn handles(&self) -> Outcome<Arc<SafetyHandles>> {
        lock(&self.safety)
            .clone()
            .ok_or_else(|| FieldnoteError::Locked {
                reason: "open the safety database (open_safety or unlock) first".into(),
            })
    }

    /// Runs `f` on the screen's handle.
    fn with_safety<T>(&self, f: impl FnOnce(&SafetyStore) -> Outcome<T>) -> Outcome<T> {
        guard(|| f(&lock(&self.handles()?.screen)))
    }

    /// Runs `f` on the sender's handle.
    fn with_sender<T>(&self, f: impl FnOnce(&SafetyStore) -> Outcome<T>) -> Outcome<T> {
        guard(|| f(&lock(&self.handles()?.sender)))
    }
}
