//! Lone-worker safety on the device: distress alarms and visit sessions.
//!
//! They live in their own encrypted database (`safety.db`, `synchronous=FULL`) with their own
//! outbox, so that raising an alarm never waits on the records' database or queues behind a
//! backlog of notes, and a separate handle can send while a bulk sync holds the store. An
//! alarm is durable when [`SafetyStore::raise_alarm`] returns; the network client sends it
//! at once and again until the server acknowledges it (the alarm id makes retries harmless).
//!
//! The duress PIN ends a session exactly as the cancel PIN does on the phone (same return
//! value, same visible state) and raises a duress alarm that only the server shows.

use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use fieldnote_protocol::safety::{
    AlarmKind, AlarmState, AlarmView, Location, RaiseAlarm, SafetyItem, SafetyOutcome,
    SafetyRequest, SafetyResponse, SessionAction, SessionEvent,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Error, Result};
use crate::model::{FieldError, RecordId, Timestamp};
use crate::store::{StoreKey, key, schema};

/// The safety database's file name.
pub(crate) const SAFETY_FILE: &str = "safety.db";

/// The file that holds disk space for distress on a full disk (see [`RESERVE_BYTES`]).
pub const RESERVE_FILE: &str = "safety.reserve";

/// How much space the store holds back for distress. When a safety write finds the disk
/// full, the reserve gives up half of itself (all of it once it is down to
/// [`RESERVE_LAST_BYTES`]) and the write is tried again, so one full disk leaves room for
/// several alarms, even if other programs take what each release frees. It is made whole
/// again by the next open that finds room.
pub const RESERVE_BYTES: u64 = 1 << 20;

/// The smallest part of the reserve given up at once: room to open the safety database
/// (its log index needs 32 KiB) and write an alarm with its receipt.
pub const RESERVE_LAST_BYTES: u64 = 64 << 10;

/// Longest visit session a worker can start or extend to.
pub const MAX_SESSION_HOURS: i64 = 12;

/// Seconds after a press before the shell should fall back to a call or SMS, until the
/// server says otherwise for the team.
pub const DEFAULT_FALLBACK_SECS: u64 = 120;

/// An alarm as this device knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalAlarm {
    /// The alarm id (the server uses the same).
    pub id: String,
    /// What kind.
    pub kind: AlarmKind,
    /// Device time of the press.
    pub raised_at: Timestamp,
    /// Where it stands.
    pub status: AlarmStatus,
    /// Who took ownership, once someone did.
    pub acknowledged_by: Option<String>,
}

/// Where an alarm stands, seen from the phone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlarmStatus {
    /// Saved on the phone, not yet received by the server.
    Pending,
    /// The server has it and is escalating.
    Raised,
    /// Someone took ownership: help is coming.
    Acknowledged,
    /// Closed.
    Resolved,
    /// The server refused it (a fault in the app); fall back to a call at once.
    Refused(String),
}

/// An alarm nobody has acknowledged within the fallback time: the shell should call or text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fallback {
    /// The alarm.
    pub alarm_id: String,
    /// Whether the phone must stay silent (discreet and duress alarms): text, do not ring.
    pub silent: bool,
    /// How long since the press, in seconds.
    pub waited_secs: u64,
}

/// A visit session as the worker sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalSession {
    /// The session id.
    pub id: String,
    /// The member visited.
    pub member_id: Option<RecordId>,
    /// Where.
    pub place: String,
    /// Device time it began.
    pub started_at: Timestamp,
    /// Device time it is expected to end.
    pub expected_end: Timestamp,
}

/// What the phone shows when a session ends with a PIN. The same for the cancel PIN and the
/// duress PIN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionEnded {
    /// The session that ended.
    pub session_id: String,
}

/// A batch of safety items ready to send, and what it holds.
#[derive(Clone, Debug)]
pub struct PreparedSafety {
    /// The request to send.
    pub request: SafetyRequest,
    /// The outbox item ids, in the request's order.
    pub item_ids: Vec<String>,
}

/// What a safety response changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SafetyApplied {
    /// Items the server recorded.
    pub accepted: usize,
    /// Items the server refused for good.
    pub refused: usize,
    /// Items still waiting.
    pub pending: usize,
}

/// The device's safety database. Cheap to open a second handle on the same directory (one
/// per thread).
pub struct SafetyStore {
    conn: Connection,
    /// The store's directory (the reserve, and the records database for member checks).
    dir: PathBuf,
    key: StoreKey,
}

impl std::fmt::Debug for SafetyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SafetyStore")
    }
}

fn invalid(kind: &'static str, field: &str, reason: &str) -> Error {
    Error::Invalid {
        kind,
        errors: vec![FieldError {
            field: field.into(),
            reason: reason.into(),
        }],
    }
}

fn now_ms() -> i64 {
    Timestamp::now().millis()
}

fn check_pin(field: &str, pin: &str) -> Result<()> {
    if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("safety PIN", field, "must be 4 to 8 digits"));
    }
    Ok(())
}

fn hash_pin(pin: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| Error::Storage(format!("PIN salt: {e}")))?;
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Storage(format!("PIN hashing failed: {e}")))
}

fn pin_matches(pin: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(pin.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

impl SafetyStore {
    /// Opens the safety database of the store in `dir` (a second handle beside
    /// [`crate::Store::safety`], for a thread that sends alarms while another syncs).
    pub fn open(dir: impl AsRef<Path>, key: &StoreKey) -> Result<SafetyStore> {
        let dir = dir.as_ref();
        let key_known = match key::keycheck(&dir.join(super::KEYCHECK_FILE), key)? {
            key::KeyCheck::Mismatch => return Err(Error::WrongKey),
            key::KeyCheck::OtherFormat(found) => return Err(Error::UnsupportedFormat { found }),
            key::KeyCheck::Matches => true,
            key::KeyCheck::Missing => false,
        };
        // Without a key check, an unreadable file means a wrong key: never quarantine it.
        let opened = match super::open_or_quarantine(dir, SAFETY_FILE, key, "FULL", key_known) {
            Err(Error::DiskFull) if release_reserve(dir) => {
                super::open_or_quarantine(dir, SAFETY_FILE, key, "FULL", key_known)
            }
            other => other,
        };
        let store = Self::from_connection(opened?.0, dir, key)?;
        keep_reserve(dir);
        Ok(store)
    }

    /// Runs a safety write; when it finds the disk full, releases the space held for
    /// distress and runs it once more. A write that fails leaves nothing behind (its
    /// transaction rolls back), so running it again cannot write it twice.
    fn with_room<T>(&self, write: impl Fn() -> Result<T>) -> Result<T> {
        match write() {
            Err(Error::DiskFull) if release_reserve(&self.dir) => write(),
            other => other,
        }
    }

    /// A write transaction that takes the write lock at once, so a second handle's commit
    /// can never make it fail halfway.
    fn write(&self) -> Result<rusqlite::Transaction<'_>> {
        Ok(rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )?)
    }

    /// Whether SQLite finds the safety database whole.
    pub(crate) fn is_whole(&self) -> Result<bool> {
        super::is_whole(&self.conn)
    }

    /// Queues again what a damaged safety database (moved to `moved`) still held unsent,
    /// as far as it can be read: alarms raised offline are sent, not dropped. Returns how
    /// many items were queued; a file too damaged to read gives 0.
    pub(crate) fn salvage(&self, moved: &Path, key: &StoreKey) -> Result<usize> {
        let rows: Vec<(String, i64, Vec<u8>, i64)> = (|| {
            let old = super::open_db(&moved.join(SAFETY_FILE), key, "FULL").ok()?;
            let mut stmt = old
                .prepare(
                    "SELECT item_id, priority, body, created_at FROM safety_outbox ORDER BY seq",
                )
                .ok()?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .ok()?;
            // Every row that reads; a damaged page loses only what is on it.
            Some(rows.filter_map(|r| r.ok()).collect())
        })()
        .unwrap_or_default();
        let tx = self.write()?;
        let mut queued = 0;
        for (item_id, priority, body, created_at) in rows {
            queued += tx.execute(
                "INSERT OR IGNORE INTO safety_outbox (item_id, priority, body, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![item_id, priority, body, created_at],
            )?;
        }
        tx.commit()?;
        Ok(queued)
    }

    pub(crate) fn from_connection(
        mut conn: Connection,
        dir: &Path,
        key: &StoreKey,
    ) -> Result<SafetyStore> {
        schema::migrate(&mut conn, schema::SAFETY, None)?;
        Ok(SafetyStore {
            conn,
            dir: dir.to_path_buf(),
            key: key.clone(),
        })
    }

    /// Whether the space held for distress on a full disk is in place.
    pub fn reserve_held(&self) -> bool {
        reserve_in_place(&self.dir)
    }

    // ---- PINs ----

    /// Sets the PIN that ends a session and the duress PIN (4 to 8 digits each, different).
    pub fn set_pins(&self, cancel_pin: &str, duress_pin: &str) -> Result<()> {
        check_pin("cancel_pin", cancel_pin)?;
        check_pin("duress_pin", duress_pin)?;
        if cancel_pin == duress_pin {
            return Err(invalid(
                "safety PIN",
                "duress_pin",
                "must differ from the cancel PIN",
            ));
        }
        let (cancel, duress) = (hash_pin(cancel_pin)?, hash_pin(duress_pin)?);
        let tx = self.write()?;
        for (name, value) in [("cancel_pin", cancel), ("duress_pin", duress)] {
            tx.execute(
                "INSERT OR REPLACE INTO settings (name, value) VALUES (?1, ?2)",
                params![name, value],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn setting(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Seconds after a press before [`SafetyStore::fallbacks_due`] reports an unacknowledged
    /// alarm: the team's setting once the server has sent it.
    pub fn fallback_secs(&self) -> Result<u64> {
        Ok(self
            .setting("fallback_secs")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_FALLBACK_SECS))
    }

    // ---- alarms ----

    /// Raises an alarm: saved durably before this returns, then sent by the client ahead of
    /// everything else. Raised during a session, it names the session and its member.
    pub fn raise_alarm(&self, kind: AlarmKind, location: Option<Location>) -> Result<String> {
        if kind == AlarmKind::MissedCheckIn {
            return Err(invalid(
                "alarm",
                "kind",
                "missed check-ins are raised by the server",
            ));
        }
        check_location(location.as_ref())?;
        let session = self.active_session()?;
        self.with_room(|| self.insert_alarm(kind, session.as_ref(), location))
    }

    fn insert_alarm(
        &self,
        kind: AlarmKind,
        session: Option<&LocalSession>,
        location: Option<Location>,
    ) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_ms();
        let fallback = self.fallback_secs()? as i64;
        let item = SafetyItem::Alarm(RaiseAlarm {
            id: id.clone(),
            kind,
            member_id: session.and_then(|s| s.member_id).map(|m| m.to_string()),
            session_id: session.map(|s| s.id.clone()),
            device_time: now,
            location,
        });
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO alarms (id, kind, member_id, session_id, raised_at, state,
                                 fallback_after_secs)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
            params![
                id,
                kind.as_str(),
                session.and_then(|s| s.member_id).map(|m| m.to_string()),
                session.map(|s| s.id.clone()),
                now,
                fallback
            ],
        )?;
        if let Some(s) = session {
            // The phone shows the session as over; the alarm's escalation takes it from here.
            tx.execute(
                "UPDATE sessions SET ended_at = ?2 WHERE id = ?1",
                params![s.id, now],
            )?;
        }
        push(&tx, &id, 0, &item, now)?;
        tx.commit()?;
        Ok(id)
    }

    /// An alarm raised on this device.
    pub fn alarm(&self, id: &str) -> Result<Option<LocalAlarm>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, kind, raised_at, state, acknowledged_by, refusal FROM alarms
                 WHERE id = ?1",
                [id],
                local_alarm,
            )
            .optional()?)
    }

    /// Alarms the phone may show: open panic alarms. Discreet and duress alarms never
    /// appear here, so nothing on the screen gives them away.
    pub fn visible_alarms(&self) -> Result<Vec<LocalAlarm>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, kind, raised_at, state, acknowledged_by, refusal FROM alarms
             WHERE kind = 'panic' AND state <> 'resolved' ORDER BY raised_at",
        )?;
        let rows = stmt.query_map([], local_alarm)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Alarms not acknowledged within the fallback time (or refused), whose fallback has not
    /// been taken yet: the shell should call or text now, silently for silent kinds.
    pub fn fallbacks_due(&self, now: Timestamp) -> Result<Vec<Fallback>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, kind, raised_at FROM alarms
             WHERE fallback_taken_at IS NULL
               AND (state = 'refused'
                    OR (state IN ('pending', 'raised')
                        AND raised_at + fallback_after_secs * 1000 <= ?1))
             ORDER BY raised_at",
        )?;
        let rows = stmt.query_map([now.millis()], |r| {
            let kind: String = r.get(1)?;
            let raised: i64 = r.get(2)?;
            Ok(Fallback {
                alarm_id: r.get(0)?,
                silent: AlarmKind::parse(&kind).is_some_and(AlarmKind::is_silent),
                waited_secs: ((now.millis() - raised).max(0) / 1000) as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records that the shell fell back to a call or SMS for an alarm.
    pub fn fallback_taken(&self, alarm_id: &str) -> Result<()> {
        self.with_room(|| {
            self.conn.execute(
                "UPDATE alarms SET fallback_taken_at = ?2 WHERE id = ?1",
                params![alarm_id, now_ms()],
            )?;
            Ok(())
        })
    }

    /// Records what the server says of an alarm (from a receipt, a status check or the
    /// event stream).
    pub fn record_alarm_view(&self, view: &AlarmView) -> Result<()> {
        self.with_room(|| {
            let tx = self.write()?;
            self.apply_view(&tx, view)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn apply_view(&self, tx: &rusqlite::Transaction<'_>, view: &AlarmView) -> Result<()> {
        tx.execute(
            "UPDATE alarms SET state = ?2, acknowledged_by = ?3, acknowledged_at = ?4,
                               fallback_after_secs = ?5
             WHERE id = ?1",
            params![
                view.id,
                view.state.as_str(),
                view.acknowledged_by_name
                    .clone()
                    .or(view.acknowledged_by.clone()),
                view.acknowledged_at,
                view.fallback_after_secs as i64
            ],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO settings (name, value) VALUES ('fallback_secs', ?1)",
            [view.fallback_after_secs.to_string()],
        )?;
        Ok(())
    }

    // ---- sessions ----

    /// Starts a visit session. `expected_end` must be in the future and at most
    /// [`MAX_SESSION_HOURS`] away; only one session runs at a time.
    pub fn start_session(
        &self,
        member_id: Option<RecordId>,
        place: &str,
        expected_end: Timestamp,
        location: Option<Location>,
    ) -> Result<String> {
        let now = now_ms();
        let place = place.trim();
        if place.is_empty() || place.chars().count() > 200 || place.chars().any(char::is_control) {
            return Err(invalid(
                "visit session",
                "place",
                "must be 1 to 200 characters, without control characters",
            ));
        }
        check_end(now, expected_end.millis(), "expected_end")?;
        check_location(location.as_ref())?;
        if self.active_session()?.is_some() {
            return Err(invalid(
                "visit session",
                "session",
                "a visit session is already under way; check out of it first",
            ));
        }
        if let Some(member) = member_id
            && super::member_on_device(&self.dir, &self.key, member) == Some(false)
        {
            return Err(invalid(
                "visit session",
                "member_id",
                "no such member on this device",
            ));
        }
        self.with_room(|| self.insert_session(member_id, place, expected_end, location))
    }

    fn insert_session(
        &self,
        member_id: Option<RecordId>,
        place: &str,
        expected_end: Timestamp,
        location: Option<Location>,
    ) -> Result<String> {
        let now = now_ms();
        let id = uuid::Uuid::now_v7().to_string();
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO sessions (id, member_id, place, started_at, expected_end)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id,
                member_id.map(|m| m.to_string()),
                place,
                now,
                expected_end.millis()
            ],
        )?;
        let action = SessionAction::Start {
            member_id: member_id.map(|m| m.to_string()),
            place: place.to_string(),
            expected_end: expected_end.millis(),
        };
        push_session(&tx, &id, action, now, location)?;
        tx.commit()?;
        Ok(id)
    }

    /// The session under way, if any.
    pub fn active_session(&self) -> Result<Option<LocalSession>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, member_id, place, started_at, expected_end FROM sessions
                 WHERE ended_at IS NULL ORDER BY started_at DESC LIMIT 1",
                [],
                |r| {
                    let member: Option<String> = r.get(1)?;
                    Ok(LocalSession {
                        id: r.get(0)?,
                        member_id: member.and_then(|m| m.parse().ok()),
                        place: r.get(2)?,
                        started_at: Timestamp::from_millis(r.get(3)?),
                        expected_end: Timestamp::from_millis(r.get(4)?),
                    })
                },
            )
            .optional()?)
    }

    fn require_session(&self) -> Result<LocalSession> {
        self.active_session()?
            .ok_or_else(|| invalid("visit session", "session", "no visit session is under way"))
    }

    /// "I am all right": checks in to the session under way.
    pub fn check_in(&self, location: Option<Location>) -> Result<()> {
        let s = self.require_session()?;
        check_location(location.as_ref())?;
        self.with_room(|| {
            let tx = self.write()?;
            push_session(&tx, &s.id, SessionAction::CheckIn, now_ms(), location)?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Extends the session under way to `until` (in the future, within
    /// [`MAX_SESSION_HOURS`]).
    pub fn extend(&self, until: Timestamp) -> Result<()> {
        let s = self.require_session()?;
        let now = now_ms();
        check_end(now, until.millis(), "until")?;
        self.with_room(|| {
            let tx = self.write()?;
            tx.execute(
                "UPDATE sessions SET expected_end = ?2 WHERE id = ?1",
                params![s.id, until.millis()],
            )?;
            push_session(
                &tx,
                &s.id,
                SessionAction::Extend {
                    until: until.millis(),
                },
                now,
                None,
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Ends the session under way: the worker is safe.
    pub fn check_out(&self, location: Option<Location>) -> Result<SessionEnded> {
        let s = self.require_session()?;
        check_location(location.as_ref())?;
        let now = now_ms();
        self.with_room(|| {
            let tx = self.write()?;
            tx.execute(
                "UPDATE sessions SET ended_at = ?2 WHERE id = ?1",
                params![s.id, now],
            )?;
            push_session(&tx, &s.id, SessionAction::CheckOut, now, location)?;
            tx.commit()?;
            Ok(())
        })?;
        Ok(SessionEnded { session_id: s.id })
    }

    /// Ends the session under way with a PIN. The cancel PIN checks out; the duress PIN
    /// raises a duress alarm instead, and returns exactly what the cancel PIN returns. Both
    /// PINs are checked every time, so the two paths take the same time. A wrong PIN ends
    /// nothing.
    pub fn end_session_with_pin(
        &self,
        pin: &str,
        location: Option<Location>,
    ) -> Result<SessionEnded> {
        let (Some(cancel), Some(duress)) =
            (self.setting("cancel_pin")?, self.setting("duress_pin")?)
        else {
            return Err(invalid("safety PIN", "pin", "no PINs have been set"));
        };
        let s = self.require_session()?;
        check_location(location.as_ref())?;
        let is_cancel = pin_matches(pin, &cancel);
        let is_duress = pin_matches(pin, &duress);
        if is_duress {
            self.with_room(|| self.insert_alarm(AlarmKind::Duress, Some(&s), location))?;
            Ok(SessionEnded { session_id: s.id })
        } else if is_cancel {
            self.check_out(location)
        } else {
            Err(Error::WrongPin)
        }
    }

    // ---- the outbox ----

    /// How many safety items wait to be sent.
    pub fn pending_len(&self) -> Result<usize> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM safety_outbox", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// The next batch to send (alarms first, then session events in order), or `None` when
    /// nothing waits.
    pub fn prepare_send(&self) -> Result<Option<PreparedSafety>> {
        let mut stmt = self
            .conn
            .prepare("SELECT item_id, body FROM safety_outbox ORDER BY priority, seq LIMIT ?1")?;
        let rows = stmt.query_map([fieldnote_protocol::safety::MAX_SAFETY_ITEMS as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut item_ids = Vec::new();
        let mut items = Vec::new();
        for row in rows {
            let (id, body) = row?;
            let item: SafetyItem = fieldnote_protocol::from_cbor(&body)
                .map_err(|e| Error::Storage(format!("safety outbox entry unreadable: {e}")))?;
            item_ids.push(id);
            items.push(item);
        }
        if items.is_empty() {
            return Ok(None);
        }
        Ok(Some(PreparedSafety {
            request: SafetyRequest {
                sent_at: now_ms(),
                items,
            },
            item_ids,
        }))
    }

    /// Applies the server's receipts: accepted and refused items leave the outbox; alarms
    /// take the state the server reports.
    pub fn apply_receipts(
        &self,
        prepared: &PreparedSafety,
        response: &SafetyResponse,
    ) -> Result<SafetyApplied> {
        if response.receipts.len() != prepared.item_ids.len() {
            return Err(Error::Storage(format!(
                "the server answered {} safety items with {} receipts",
                prepared.item_ids.len(),
                response.receipts.len()
            )));
        }
        let mut applied = self.with_room(|| self.record_receipts(prepared, response))?;
        applied.pending = self.pending_len()?;
        Ok(applied)
    }

    fn record_receipts(
        &self,
        prepared: &PreparedSafety,
        response: &SafetyResponse,
    ) -> Result<SafetyApplied> {
        let mut applied = SafetyApplied::default();
        let tx = self.write()?;
        for (id, receipt) in prepared.item_ids.iter().zip(&response.receipts) {
            match receipt {
                SafetyOutcome::Accepted { alarm, .. } => {
                    applied.accepted += 1;
                    if let Some(view) = alarm {
                        self.apply_view(&tx, view)?;
                    }
                }
                SafetyOutcome::Refused { field, reason } => {
                    applied.refused += 1;
                    tx.execute(
                        "UPDATE alarms SET state = 'refused', refusal = ?2 WHERE id = ?1",
                        params![id, format!("{field}: {reason}")],
                    )?;
                }
            }
            tx.execute("DELETE FROM safety_outbox WHERE item_id = ?1", [id])?;
        }
        tx.commit()?;
        Ok(applied)
    }
}

fn local_alarm(r: &rusqlite::Row<'_>) -> rusqlite::Result<LocalAlarm> {
    let kind: String = r.get(1)?;
    let state: String = r.get(3)?;
    let refusal: Option<String> = r.get(5)?;
    Ok(LocalAlarm {
        id: r.get(0)?,
        kind: AlarmKind::parse(&kind).unwrap_or(AlarmKind::Panic),
        raised_at: Timestamp::from_millis(r.get(2)?),
        status: match (state.as_str(), AlarmState::parse(&state)) {
            ("refused", _) => AlarmStatus::Refused(refusal.unwrap_or_default()),
            (_, Some(AlarmState::Raised)) => AlarmStatus::Raised,
            (_, Some(AlarmState::Acknowledged)) => AlarmStatus::Acknowledged,
            (_, Some(AlarmState::Resolved)) => AlarmStatus::Resolved,
            _ => AlarmStatus::Pending,
        },
        acknowledged_by: r.get(4)?,
    })
}

fn check_end(now: i64, end: i64, field: &str) -> Result<()> {
    if end <= now {
        return Err(invalid("visit session", field, "must be in the future"));
    }
    if end - now > MAX_SESSION_HOURS * 3_600_000 {
        return Err(invalid(
            "visit session",
            field,
            &format!("must be within {MAX_SESSION_HOURS} hours"),
        ));
    }
    Ok(())
}

fn check_location(location: Option<&Location>) -> Result<()> {
    if let Some(l) = location
        && !(l.latitude.is_finite()
            && l.longitude.is_finite()
            && (-90.0..=90.0).contains(&l.latitude)
            && (-180.0..=180.0).contains(&l.longitude)
            && l.accuracy_m.is_none_or(|a| a.is_finite() && a >= 0.0))
    {
        return Err(invalid(
            "location",
            "location",
            "latitude must be -90 to 90, longitude -180 to 180, accuracy a distance",
        ));
    }
    Ok(())
}

fn push(tx: &Connection, item_id: &str, priority: i64, item: &SafetyItem, now: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO safety_outbox (item_id, priority, body, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![item_id, priority, fieldnote_protocol::to_cbor(item), now],
    )?;
    Ok(())
}

fn push_session(
    tx: &Connection,
    session_id: &str,
    action: SessionAction,
    now: i64,
    location: Option<Location>,
) -> Result<()> {
    let event_id = uuid::Uuid::now_v7().to_string();
    let item = SafetyItem::Session(SessionEvent {
        event_id: event_id.clone(),
        session_id: session_id.to_string(),
        action,
        device_time: now,
        location,
    });
    push(tx, &event_id, 1, &item, now)
}

fn reserve_in_place(dir: &Path) -> bool {
    std::fs::metadata(dir.join(RESERVE_FILE)).is_ok_and(|m| m.len() >= RESERVE_BYTES)
}

/// Makes the reserve file when it is missing and the disk has room (written whole, synced,
/// then renamed into place, so a kill leaves no half reserve). Best effort: a disk with no
/// room keeps working without it.
pub(crate) fn keep_reserve(dir: &Path) {
    if reserve_in_place(dir) {
        return;
    }
    let path = dir.join(RESERVE_FILE);
    let partial = dir.join(format!("{RESERVE_FILE}.partial"));
    let made = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&partial)?;
        // Random bytes rather than zeros, which a compressing file system would store in
        // no space at all.
        let mut block = vec![0u8; 64 * 1024];
        for _ in 0..RESERVE_BYTES / block.len() as u64 {
            rand::fill(&mut block[..]);
            file.write_all(&block)?;
        }
        file.sync_all()?;
        std::fs::rename(&partial, &path)
    })();
    if let Err(e) = made {
        let _ = std::fs::remove_file(&partial);
        tracing::warn!(error = %e, "no room to hold space for distress alarms yet");
    }
}

/// Gives part of the reserved space back to the file system for a safety write (see
/// [`RESERVE_BYTES`]). Returns whether there was any to give.
fn release_reserve(dir: &Path) -> bool {
    let path = dir.join(RESERVE_FILE);
    let Ok(len) = std::fs::metadata(&path).map(|m| m.len()) else {
        return false;
    };
    let released = if len > RESERVE_LAST_BYTES {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(len / 2))
            .is_ok()
    } else {
        std::fs::remove_file(&path).is_ok()
    };
    if released {
        tracing::warn!("the disk is full: space held for distress was released");
    }
    released
}
