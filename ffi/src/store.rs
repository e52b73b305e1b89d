//! `FieldnoteStore`, the one object a shell holds: the encrypted store behind an unlock gate
//! and an idle timeout, the records a worker reads and writes, and sync with observers.
//!
//! Calls are blocking and quick (one SQLite transaction) except `sign_in`, `sign_out` and
//! `sync`, which are async: they run on a thread of their own and complete a future the
//! shell awaits, so the core needs no async runtime. Every call runs inside
//! [`guard`], so a Rust panic comes back as [`FieldnoteError::Internal`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fieldnote_client::{Client, TlsOptions};
use fieldnote_core::store::{RecordSyncState, SignatureState};
use fieldnote_core::{
    Program, RecordBody, ReviewState, Role, Signer, StaffId, Store, StoreKey, Timestamp, rules,
};

use crate::error::{FieldnoteError, Outcome, guard};
use crate::gate::{Gate, GatePolicy};
use crate::safety::SafetyHandles;
use crate::types::*;

/// What an agency may tune on the device. [`default_store_config`] gives the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct StoreConfig {
    /// The store locks after this many seconds without a call (0: never). Default 300.
    pub idle_lock_secs: u64,
    /// Wrong unlock PINs accepted before a lockout. Default 5.
    pub pin_attempts: u32,
    /// The first lockout, in seconds; each further wrong PIN doubles it. Default 30.
    pub first_lockout_secs: u64,
    /// The longest lockout, in seconds. Default 3600.
    pub max_lockout_secs: u64,
}

/// The documented defaults: lock after 5 idle minutes; 5 wrong PINs, then a 30 s lockout
/// doubling up to an hour.
#[uniffi::export]
pub fn default_store_config() -> StoreConfig {
    StoreConfig {
        idle_lock_secs: 300,
        pin_attempts: 5,
        first_lockout_secs: 30,
        max_lockout_secs: 3600,
    }
}

/// Panics on purpose, inside the same guard as every other call, so a shell's tests can check
/// that a Rust panic reaches them as [`FieldnoteError::Internal`] and the app keeps running.
#[uniffi::export]
pub fn diagnostic_panic() -> Outcome<()> {
    guard(|| panic!("diagnostic panic requested by the shell"))
}

/// Told about sync progress and status changes. Implemented by the shells (the Kotlin shell
/// turns it into a `Flow`, the Swift shell into an `AsyncStream`).
#[uniffi::export(with_foreign)]
pub trait SyncObserver: Send + Sync {
    /// After each sync round.
    fn on_progress(&self, progress: SyncProgressView);
    /// When a sync starts or ends, and after every local write.
    fn on_status(&self, status: SyncStatusView);
}

struct Unlocked {
    store: Store,
    last_use: Instant,
}

/// An encrypted Fieldnote store on the device, locked until [`FieldnoteStore::unlock`].
#[derive(uniffi::Object)]
pub struct FieldnoteStore {
    pub(crate) dir: PathBuf,
    config: StoreConfig,
    gate: Gate,
    records: Mutex<Option<Unlocked>>,
    /// Kept open across `lock` so the distress button works on a locked phone.
    pub(crate) safety: Mutex<Option<Arc<SafetyHandles>>>,
    client: Mutex<Option<Arc<Client>>>,
    observers: Mutex<Vec<(u64, Arc<dyn SyncObserver>)>>,
    next_observer: std::sync::atomic::AtomicU64,
    syncing: AtomicBool,
}

/// Locks a mutex, recovering it if a caught panic poisoned it (the store's own transactions
/// roll back on their own).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` on a thread of its own and awaits its answer (no runtime needed on either side).
pub(crate) async fn off_thread<T: Send + 'static>(
    f: impl FnOnce() -> Outcome<T> + Send + 'static,
) -> Outcome<T> {
    let (tx, rx) = futures_channel::oneshot::channel();
    std::thread::Builder::new()
        .name("fieldnote-io".into())
        .spawn(move || {
            let _ = tx.send(guard(f));
        })
        .map_err(|e| FieldnoteError::Internal {
            reason: format!("could not start a thread: {e}"),
        })?;
    rx.await.unwrap_or_else(|_| {
        Err(FieldnoteError::Internal {
            reason: "the call's thread ended without an answer".into(),
        })
    })
}

fn store_key(key: Vec<u8>) -> Outcome<StoreKey> {
    let bytes: [u8; 32] = key.try_into().map_err(|k: Vec<u8>| {
        FieldnoteError::invalid("key", &format!("must be 32 bytes, got {}", k.len()))
    })?;
    Ok(StoreKey::from_bytes(bytes))
}

fn now_ms() -> i64 {
    Timestamp::now().millis()
}

#[uniffi::export]
impl FieldnoteStore {
    /// A waiver (`until` none) or an extension to `until`, through the core's command.
    fn grant(
        &self,
        member_id: String,
        program: Program,
        rule_id: String,
        until: Option<String>,
        reason: String,
    ) -> Outcome<String> {
        self.write(|s| {
            let member_id = record_id("member_id", &member_id)?;
            let until = until
                .map(|d| {
                    fieldnote_core::Day::parse(&d)
                        .ok_or_else(|| FieldnoteError::invalid("until", "use YYYY-MM-DD"))
                })
                .transpose()?;
            let kind = if until.is_some() {
                fieldnote_core::model::OverrideKind::Extension
            } else {
                fieldnote_core::model::OverrideKind::Waiver
            };
            let id = s.grant_override(fieldnote_core::commands::NewOverride {
                member_id,
                program,
                rule_id,
                kind,
                until,
                reason,
            })?;
            Ok(id.to_string())
        })
    }

    /// A store in `dir` (created when missing), locked. Nothing is read until `unlock`.
    #[uniffi::constructor]
    pub fn new(dir: String, config: StoreConfig) -> Outcome<Arc<FieldnoteStore>> {
        guard(|| {
            if dir.trim().is_empty() {
                return Err(FieldnoteError::invalid("dir", "must name a directory"));
            }
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).map_err(|e| FieldnoteError::Storage {
                reason: format!("{}: {e}", dir.display()),
            })?;
            let policy = GatePolicy {
                free_attempts: config.pin_attempts.max(1),
                first_lockout_secs: config.first_lockout_secs,
                max_lockout_secs: config.max_lockout_secs.max(config.first_lockout_secs),
            };
            Ok(Arc::new(FieldnoteStore {
                gate: Gate::new(&dir, policy),
                dir,
                config,
                records: Mutex::new(None),
                safety: Mutex::new(None),
                client: Mutex::new(None),
                observers: Mutex::new(Vec::new()),
                next_observer: std::sync::atomic::AtomicU64::new(1),
                syncing: AtomicBool::new(false),
            }))
        })
    }

    /// Unlocks with the 32-byte key from the platform keystore and, when one is set, the
    /// unlock PIN. Wrong PINs are counted durably; too many start a lockout that survives
    /// restarts ([`FieldnoteError::LockedOut`]). A wrong key changes nothing.
    pub fn unlock(&self, key: Vec<u8>, pin: Option<String>) -> Outcome<()> {
        guard(|| {
            self.gate.check(pin.as_deref(), now_ms())?;
            let key = store_key(key)?;
            // One handle holds the store at a time: an earlier unlock's is closed first.
            if let Some(u) = lock(&self.records).take() {
                u.store.lock();
            }
            let store = Store::open(&self.dir, key.clone())?;
            let mut safety = lock(&self.safety);
            if safety.is_none() {
                *safety = Some(SafetyHandles::open(&self.dir, &key)?);
            }
            *lock(&self.records) = Some(Unlocked {
                store,
                last_use: Instant::now(),
            });
            Ok(())
        })
    }

    /// What the last unlock found damaged and repaired (empty when nothing was): show every
    /// message to the person.
    pub fn repairs(&self) -> Outcome<Repairs> {
        self.with_store(|s| {
            let r = s.open_report();
            let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
            Ok(Repairs {
                records_moved_to: path(&r.quarantined),
                outbox_moved_to: path(&r.outbox_quarantined),
                records_requeued: r.outbox_requeued.map(|n| n as u64),
                safety_moved_to: path(&r.safety_quarantined),
                messages: r.notices(),
            })
        })
    }

    /// Opens only the safety database (alarms and visits), with no PIN: the distress button
    /// must work from a locked phone. Records stay locked.
    pub fn open_safety(&self, key: Vec<u8>) -> Outcome<()> {
        guard(|| {
            let mut safety = lock(&self.safety);
            if safety.is_none() {
                *safety = Some(SafetyHandles::open(&self.dir, &store_key(key)?)?);
            }
            Ok(())
        })
    }

    /// Locks: the record store closes and its key is wiped from memory. Everything saved
    /// (drafts included) stays on disk. The safety database stays open for the distress
    /// button.
    pub fn lock(&self) {
        if let Some(u) = lock(&self.records).take() {
            u.store.lock();
        }
    }

    /// Whether the records are locked, locking them first if the idle timeout has passed (the
    /// shell may call this from a timer).
    pub fn is_locked(&self) -> bool {
        let mut records = lock(&self.records);
        self.expire_if_idle(&mut records);
        records.is_none()
    }

    /// Sets the unlock PIN (4 to 12 digits), or removes it with `None`. Needs the store
    /// unlocked.
    pub fn set_unlock_pin(&self, pin: Option<String>) -> Outcome<()> {
        self.with_store(|_| self.gate.set_pin(pin.as_deref()))
    }

    /// Whether an unlock PIN is set.
    pub fn has_unlock_pin(&self) -> Outcome<bool> {
        guard(|| self.gate.has_pin())
    }

    /// Who is signed in on this device, once a sign-in has happened.
    pub fn identity(&self) -> Outcome<Option<WorkerIdentity>> {
        self.with_store(|s| {
            Ok(s.identity()?.map(|i| WorkerIdentity {
                staff_id: i.staff_id,
                display_name: i.display_name,
                role: i.role.into(),
                team_id: i.team_id,
            }))
        })
    }

    /// Signs in with the agency's server, registers this device and returns the credentials
    /// to keep in the keystore. Supervisors and program directors also give the code of
    /// their authenticator app (`second_factor`); without it the answer is
    /// [`FieldnoteError::SecondFactorRequired`].
    pub async fn sign_in(
        self: Arc<Self>,
        server_url: String,
        username: String,
        password: String,
        second_factor: Option<String>,
        device_name: String,
    ) -> Outcome<DeviceCredentials> {
        off_thread(move || {
            let client = Client::connect(&server_url, &TlsOptions::default())?;
            let creds = self.with_store(|s| {
                Ok(client.login(
                    &server_url,
                    s,
                    &username,
                    &password,
                    second_factor.as_deref(),
                    &device_name,
                )?)
            })?;
            *lock(&self.client) = Some(Arc::new(client));
            Ok(DeviceCredentials {
                server_url: creds.server,
                device_id: creds.device_id,
                device_secret: creds.device_secret,
            })
        })
        .await
    }

    /// Reconnects with credentials kept from an earlier sign-in (no request is made yet).
    pub fn use_credentials(&self, credentials: DeviceCredentials) -> Outcome<()> {
        guard(|| {
            let client = Client::connect(&credentials.server_url, &TlsOptions::default())?
                .with_credentials(fieldnote_client::DeviceCredentials {
                    server: credentials.server_url,
                    device_id: credentials.device_id,
                    device_secret: credentials.device_secret,
                });
            *lock(&self.client) = Some(Arc::new(client));
            Ok(())
        })
    }

    /// Signs out: the server revokes this device's credential. Records stay on the device.
    pub async fn sign_out(self: Arc<Self>) -> Outcome<()> {
        off_thread(move || {
            let client = self.client()?;
            client.logout()?;
            *lock(&self.client) = None;
            Ok(())
        })
        .await
    }

    /// Adds a member and enrolls them in a program under the signed-in worker.
    pub fn add_member(&self, member: NewMember) -> Outcome<String> {
        self.write(|s| {
            let program = member.program;
            let mut p = crate::records::Parsed::default();
            let date_of_birth = p.day("date_of_birth", &member.date_of_birth);
            let referred = p.opt_at("referred_at_ms", member.referred_at_ms);
            p.finish()?;
            let source = member.referral_source;
            let (worker, _) = worker(s)?;
            let added = s.add_member(
                fieldnote_core::commands::NewMember {
                    given_name: member.given_name,
                    family_name: member.family_name,
                    date_of_birth,
                    masshealth_id: member.masshealth_id,
                    primary_language: member.primary_language,
                    program,
                    referred_at: referred,
                    referral_source: source,
                    referral_reason: member.referral_reason,
                    referral_facility: member.referral_facility,
                },
                worker,
            )?;
            let id = added.member_id;
            Ok(id.to_string())
        })
    }

    /// The caseload, by name.
    pub fn caseload(&self) -> Outcome<Vec<CaseloadItem>> {
        self.with_store(|s| Ok(s.caseload()?.into_iter().map(Into::into).collect()))
    }

    /// A member's timeline, newest first.
    pub fn timeline(&self, member_id: String) -> Outcome<Vec<TimelineItem>> {
        self.with_store(|s| {
            let id = record_id("member_id", &member_id)?;
            Ok(s.timeline(id)?.into_iter().map(Into::into).collect())
        })
    }

    /// The today view: members with overdue, at-risk and due obligations first, at `now_ms`
    /// (now when absent).
    pub fn today(&self, now_ms: Option<i64>) -> Outcome<Vec<TodayItem>> {
        self.with_store(|s| {
            let now = match now_ms {
                Some(ms) => timestamp("now_ms", ms)?,
                None => Timestamp::now(),
            };
            Ok(rules::today(s, now)?.into_iter().map(Into::into).collect())
        })
    }

    /// Every obligation of one member at `now_ms` (now when absent), satisfied ones
    /// included, most urgent first: the member screen's compliance list.
    pub fn obligations(
        &self,
        member_id: String,
        now_ms: Option<i64>,
    ) -> Outcome<Vec<ObligationItem>> {
        self.with_store(|s| {
            let id = record_id("member_id", &member_id)?;
            let now = match now_ms {
                Some(ms) => timestamp("now_ms", ms)?,
                None => Timestamp::now(),
            };
            Ok(rules::member_obligations(s, id, now)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Full-text search of notes.
    pub fn search(&self, text: String, limit: u32) -> Outcome<Vec<SearchItem>> {
        self.with_store(|s| {
            Ok(s.search(&text, limit.clamp(1, 500) as usize)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Saves a draft contact note (durable when this returns). Returns its id.
    pub fn draft_note(&self, note: NewNote) -> Outcome<String> {
        self.write(|s| {
            let (me, _) = worker(s)?;
            Ok(s.draft_note(new_note(note)?, me)?.to_string())
        })
    }

    /// Replaces a draft note's content. Refused once the note is finalized.
    pub fn edit_note(&self, id: String, note: NewNote) -> Outcome<()> {
        self.write(|s| {
            let id = record_id("id", &id)?;
            Ok(s.redraft_note(id, new_note(note)?)?)
        })
    }

    /// Finalizes a note as the signed-in worker. Returns the signed content hash.
    pub fn finalize_note(&self, id: String) -> Outcome<String> {
        self.write(|s| {
            let id = record_id("id", &id)?;
            let (staff, name) = worker(s)?;
            let att = s.finalize_note(id, Signer::staff(staff, name, Role::Worker))?;
            Ok(att.content_hash)
        })
    }

    /// Adds an addendum (a correction) to a finalized note. Returns the addendum's id.
    pub fn add_addendum(&self, parent_id: String, note: NewNote) -> Outcome<String> {
        self.write(|s| {
            let parent = record_id("parent_id", &parent_id)?;
            let (me, _) = worker(s)?;
            Ok(s.write_addendum(parent, new_note(note)?, me)?.to_string())
        })
    }

    /// A contact note.
    pub fn note(&self, id: String) -> Outcome<NoteView> {
        self.with_store(|s| {
            let id = record_id("id", &id)?;
            let record = s.get(id)?;
            let RecordBody::ContactNote(n) = &record.body else {
                return Err(FieldnoteError::invalid("id", "is not a contact note"));
            };
            let sync_state = match s.record_sync_state(id)? {
                RecordSyncState::Pending => NoteSyncState::Pending,
                RecordSyncState::Synced => NoteSyncState::Synced,
                RecordSyncState::Rejected { reason } => NoteSyncState::Rejected { reason },
            };
            let review = ReviewState::of(&record.attestations, &record.body);
            Ok(NoteView {
                id: id.to_string(),
                member_id: n.member_id.to_string(),
                modality: n.modality,
                started_at_ms: n.started_at.millis(),
                narrative: n.narrative.clone(),
                finalized: record.is_finalized(),
                addendum_to: n.addendum_to.map(|p| p.to_string()),
                sync_state,
                review: match review {
                    ReviewState::Unreviewed => ReviewStatus::Unreviewed,
                    ReviewState::Approved { .. } => ReviewStatus::Approved,
                    ReviewState::Returned { .. } => ReviewStatus::Returned,
                    ReviewState::Changed { .. } => ReviewStatus::Changed,
                },
                reviewed_by: review.review().map(|a| a.signer.name.clone()),
                review_comment: review.review().and_then(|a| a.comment.clone()),
            })
        })
    }

    /// The fields of a record (any kind) where edits made offline on two devices set
    /// different values, as dotted paths (`next_review_on`, `goals[0].measure`). The merged
    /// record shows one of the values; the shell lists these beside it so that a person
    /// chooses, and an edit of the field settles it.
    pub fn conflicts(&self, id: String) -> Outcome<Vec<String>> {
        self.with_store(|s| Ok(s.conflicts(record_id("id", &id)?)?))
    }

    /// Creates a completed service plan (an individual action plan in TM), ready to sign, with
    /// one goal per entry of `plan.goals`. A later edit makes earlier signatures stale.
    /// Returns its id.
    pub fn create_service_plan(&self, plan: NewPlan) -> Outcome<String> {
        self.write(|s| {
            let member = record_id("member_id", &plan.member_id)?;
            let program = plan.program;
            if plan.goals.is_empty() {
                return Err(FieldnoteError::invalid(
                    "goals",
                    "a plan needs at least one goal",
                ));
            }
            let (author, _) = worker(s)?;
            let new = fieldnote_core::commands::NewPlan {
                member_id: member,
                program,
                problems_and_needs: plan.problems_and_needs,
                strengths: plan.strengths,
                summary: plan.summary,
                goals: plan
                    .goals
                    .into_iter()
                    .map(|statement| fieldnote_core::commands::NewGoal {
                        statement,
                        addresses_criminogenic: Vec::new(),
                    })
                    .collect(),
                supervision_conflict_checked: plan.supervision_conflict_checked,
                youth_signs: plan.youth_signs,
                kind: plan.kind,
            };
            Ok(s.create_plan(new, author)?.to_string())
        })
    }

    /// Signs a plan. `Worker` signs as the signed-in worker; `Member`, `Guardian` or `Youth`
    /// record that person's signature (`signer_name`) witnessed by the worker. `signed_at_ms`
    /// is when a paper signature was really given (at most 30 days ago; the event keeps
    /// when it was entered too); now when absent.
    pub fn sign_plan(
        &self,
        id: String,
        role: Role,
        signer_name: String,
        signed_at_ms: Option<i64>,
    ) -> Outcome<()> {
        self.write(|s| {
            let id = record_id("id", &id)?;
            let signed_at = signed_at_ms
                .map(|ms| timestamp("signed_at_ms", ms))
                .transpose()?;
            let (staff, name) = worker(s)?;
            let signer = match role {
                Role::Worker => Signer::staff(staff, name, Role::Worker),
                Role::Member | Role::Guardian | Role::Youth | Role::Pcp => {
                    if signer_name.trim().is_empty() {
                        return Err(FieldnoteError::invalid("signer_name", "must not be empty"));
                    }
                    Signer::witnessed(signer_name, role, staff)
                }
                _ => {
                    return Err(FieldnoteError::invalid(
                        "role",
                        "supervisors sign in the console; use worker, member, guardian, youth or pcp",
                    ));
                }
            };
            s.sign_plan_at(id, signer, signed_at)?;
            Ok(())
        })
    }

    /// Each required signature of a plan and its state.
    pub fn plan_signatures(&self, id: String) -> Outcome<Vec<PlanSignature>> {
        self.with_store(|s| {
            let id = record_id("id", &id)?;
            Ok(s.plan_signatures(id)?
                .roles
                .into_iter()
                .map(|(role, state)| {
                    let (state, by) = match state {
                        SignatureState::Missing => (SignatureStatus::Missing, None),
                        SignatureState::Current { attestation } => {
                            (SignatureStatus::Current, Some(attestation.signer.name))
                        }
                        SignatureState::Stale { attestation } => {
                            (SignatureStatus::Stale, Some(attestation.signer.name))
                        }
                    };
                    PlanSignature {
                        role,
                        state,
                        signed_by: by,
                    }
                })
                .collect())
        })
    }

    /// Records a significant change in a member's needs on their enrollment in `program`
    /// (now when `at_ms` is not given); it brings the plan review or reassessment forward
    /// (CSP-8, JI-5, CARES-3). Returns the enrollment's id.
    pub fn record_significant_change(
        &self,
        member_id: String,
        program: Program,
        description: String,
        at_ms: Option<i64>,
    ) -> Outcome<String> {
        self.write(|s| {
            let member_id = record_id("member_id", &member_id)?;
            let at = at_ms.map(|ms| timestamp("at_ms", ms)).transpose()?;
            let id =
                s.record_significant_change(fieldnote_core::commands::NewSignificantChange {
                    member_id,
                    program,
                    at,
                    description,
                })?;
            Ok(id.to_string())
        })
    }

    /// Waives `rule_id` for a member, in the signed-in supervisor's or director's name,
    /// where the rule's spec allows a waiver (CSP-11, JI-6, CARES-5). Returns its id.
    pub fn grant_waiver(
        &self,
        member_id: String,
        program: Program,
        rule_id: String,
        reason: String,
    ) -> Outcome<String> {
        self.grant(member_id, program, rule_id, None, reason)
    }

    /// Extends `rule_id`'s deadline for a member to `until` (YYYY-MM-DD), in the signed-in
    /// supervisor's or director's name, where the rule's spec allows one (CSP-2, JI-2,
    /// JI-3). Returns its id.
    pub fn grant_extension(
        &self,
        member_id: String,
        program: Program,
        rule_id: String,
        until: String,
        reason: String,
    ) -> Outcome<String> {
        self.grant(member_id, program, rule_id, Some(until), reason)
    }

    /// Creates any record from its JSON form, `{"kind": "consent", "body": {...}}` (the
    /// core's serde form, documented in PROTOCOL.md): consents, referrals, incidents,
    /// assessments, crisis and discharge plans. Returns its id.
    pub fn create_record(&self, json: String) -> Outcome<String> {
        self.write(|s| {
            let body = record_body(&json)?;
            Ok(s.create(body)?.to_string())
        })
    }

    /// Replaces a record's content with `json` (same form as `create_record`; the kind must
    /// not change).
    pub fn update_record(&self, id: String, json: String) -> Outcome<()> {
        self.write(|s| {
            let id = record_id("id", &id)?;
            let new = record_body(&json)?;
            let old = s.get(id)?;
            if old.body.kind() != new.kind() {
                return Err(FieldnoteError::invalid(
                    "kind",
                    "a record's kind cannot change",
                ));
            }
            s.update(id, |body| *body = new)?;
            Ok(())
        })
    }

    /// A record's JSON form.
    pub fn record_json(&self, id: String) -> Outcome<String> {
        self.with_store(|s| {
            let id = record_id("id", &id)?;
            serde_json::to_string(&s.get(id)?.body).map_err(|e| FieldnoteError::Internal {
                reason: e.to_string(),
            })
        })
    }

    /// The sync status line.
    pub fn sync_status(&self) -> Outcome<SyncStatusView> {
        self.with_store(|s| self.status_of(s))
    }

    /// Adds an observer of sync progress and status. It hears until the returned handle is
    /// cancelled or dropped (garbage-collected in Kotlin, released in Swift): keep the handle
    /// as long as the screen listens.
    pub fn add_observer(self: Arc<Self>, observer: Arc<dyn SyncObserver>) -> Arc<ObserverHandle> {
        let token = self.next_observer.fetch_add(1, Ordering::SeqCst);
        lock(&self.observers).push((token, observer));
        Arc::new(ObserverHandle {
            store: Arc::downgrade(&self),
            token,
        })
    }

    /// Syncs: safety items first, then every pending change, then everything new for the
    /// caseload, in as many rounds as needed; observers hear each round. A sync cut short
    /// (offline) loses nothing and can run again. A revoked device is wiped and gets
    /// [`FieldnoteError::Wiped`].
    pub async fn sync(self: Arc<Self>) -> Outcome<SyncSummary> {
        off_thread(move || {
            if self.syncing.swap(true, Ordering::SeqCst) {
                return Err(FieldnoteError::Refused {
                    reason: "a sync is already running".into(),
                });
            }
            // Guarded here too, so a panic mid-sync cannot leave `syncing` set for good.
            let result = guard(|| self.sync_now());
            self.syncing.store(false, Ordering::SeqCst);
            if let Ok(status) = self.with_store(|s| self.status_of(s)) {
                self.notify_status(&status);
            }
            result
        })
        .await
    }
}

/// Keeps an observer registered; cancelling or dropping it removes the observer.
#[derive(uniffi::Object)]
pub struct ObserverHandle {
    store: std::sync::Weak<FieldnoteStore>,
    token: u64,
}

#[uniffi::export]
impl ObserverHandle {
    /// Stops the observer now (dropping the handle does the same).
    pub fn cancel(&self) {
        if let Some(store) = self.store.upgrade() {
            lock(&store.observers).retain(|(t, _)| *t != self.token);
        }
    }
}

impl Drop for ObserverHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl FieldnoteStore {
    fn expire_if_idle(&self, records: &mut Option<Unlocked>) {
        let limit = self.config.idle_lock_secs;
        if limit > 0
            && records
                .as_ref()
                .is_some_and(|u| u.last_use.elapsed() >= Duration::from_secs(limit))
            && let Some(u) = records.take()
        {
            u.store.lock();
        }
    }

    /// The unlocked store behind `records`, after the idle check, with this call counted as
    /// activity.
    fn unlocked<'a>(&self, records: &'a mut Option<Unlocked>) -> Outcome<&'a mut Store> {
        self.expire_if_idle(records);
        let Some(u) = records.as_mut() else {
            return Err(FieldnoteError::Locked {
                reason: "unlock the store first (saved drafts are kept)".into(),
            });
        };
        u.last_use = Instant::now();
        Ok(&mut u.store)
    }

    /// Runs `f` on the unlocked store.
    pub(crate) fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> Outcome<T>) -> Outcome<T> {
        guard(|| f(self.unlocked(&mut lock(&self.records))?))
    }

    /// [`Self::with_store`] for a write: observers, if any, then hear the new status.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut Store) -> Outcome<T>) -> Outcome<T> {
        let observed = !lock(&self.observers).is_empty();
        let (value, status) = self.with_store(|s| {
            let value = f(s)?;
            Ok((value, observed.then(|| self.status_of(s).ok()).flatten()))
        })?;
        if let Some(status) = status {
            self.notify_status(&status);
        }
        Ok(value)
    }

    fn status_of(&self, s: &Store) -> Outcome<SyncStatusView> {
        let st = s.sync_status()?;
        let handles = lock(&self.safety).clone();
        let safety_pending = match handles {
            Some(h) => h.pending()?,
            None => 0,
        };
        Ok(SyncStatusView {
            pending: st.pending as u64,
            rejected: st.rejected as u64,
            last_synced_ms: st.last_synced_at.map(|t| t.millis()),
            safety_pending,
            syncing: self.syncing.load(Ordering::SeqCst),
        })
    }

    fn notify_status(&self, status: &SyncStatusView) {
        for o in self.observers() {
            o.on_status(status.clone());
        }
    }

    fn observers(&self) -> Vec<Arc<dyn SyncObserver>> {
        lock(&self.observers)
            .iter()
            .map(|(_, o)| o.clone())
            .collect()
    }

    pub(crate) fn client(&self) -> Outcome<Arc<Client>> {
        lock(&self.client)
            .clone()
            .ok_or_else(|| FieldnoteError::SignInRequired {
                reason: "sign in, or give the saved credentials, first".into(),
            })
    }

    fn sync_now(&self) -> Outcome<SyncSummary> {
        let client = self.client()?;
        if let Ok(status) = self.with_store(|s| self.status_of(s)) {
            self.notify_status(&status);
        }
        let observers = self.observers();
        let mut records = lock(&self.records);
        let report = client.sync(self.unlocked(&mut records)?, &mut |p| {
            let view = progress_view(p);
            for o in &observers {
                o.on_progress(view.clone());
            }
        })?;
        if report.wipe_required {
            if let Some(u) = records.take() {
                u.store.wipe()?;
            }
            return Err(FieldnoteError::Wiped {
                reason: "the agency revoked this device; its records were removed".into(),
            });
        }
        Ok(SyncSummary {
            progress: progress_view(&report.progress),
            purged: report.purged as u64,
            safety_sent: report.safety_sent as u64,
            refused_signatures: report.refused_signatures as u64,
        })
    }
}

fn progress_view(p: &fieldnote_client::SyncProgress) -> SyncProgressView {
    SyncProgressView {
        rounds: p.rounds as u64,
        sent: p.sent as u64,
        rejected: p.rejected as u64,
        received: p.received as u64,
        pending: p.pending as u64,
    }
}

/// The signed-in worker: staff id and display name. Records carry the staff id the agency
/// issued, so writing needs one sign-in first.
pub(crate) fn worker(s: &Store) -> Outcome<(StaffId, String)> {
    let identity = s
        .identity()?
        .ok_or_else(|| FieldnoteError::SignInRequired {
            reason: "sign in once on this device before writing records".into(),
        })?;
    let staff = StaffId::parse_str(&identity.staff_id).map_err(|_| FieldnoteError::Storage {
        reason: "the saved identity's staff id is not a UUID".into(),
    })?;
    Ok((staff, identity.display_name))
}

fn new_note(n: NewNote) -> Outcome<fieldnote_core::commands::NewNote> {
    let mut p = crate::records::Parsed::default();
    let member_id = p.id("member_id", &n.member_id);
    let started_at = p.at("started_at_ms", n.started_at_ms);
    p.finish()?;
    Ok(fieldnote_core::commands::NewNote {
        member_id,
        program: n.program,
        modality: n.modality,
        started_at,
        duration_minutes: n.duration_minutes,
        narrative: n.narrative,
        telehealth_reason: n.telehealth_reason,
        place: n.place,
        collateral: n.collateral,
        member_engaged: n.member_engaged,
        planned_activity: n.planned_activity,
        goal_targeted: n.goal_targeted,
        member_response: n.member_response,
        progress: Vec::new(),
        purposes: n.purposes,
    })
}

fn record_body(json: &str) -> Outcome<RecordBody> {
    serde_json::from_str(json).map_err(|e| {
        FieldnoteError::invalid(
            "json",
            &format!("is not a record ({e}); the form is {{\"kind\": ..., \"body\": {{...}}}}"),
        )
    })
}
