//! The encrypted offline store every phone runs.
//!
//! A store is a directory holding:
//! - `fieldnote.db`: the main SQLCipher database, WAL mode. Documents (as chunks) and their
//!   SQL projections. Written with `synchronous=NORMAL`: it is always consistent, and
//!   anything its last commits could lose on power failure is still in the outbox.
//! - `outbox.db`: a second SQLCipher database holding every local change and attestation not
//!   yet acknowledged by the server, written with `synchronous=FULL` *before* the main
//!   database. An operation returns only after this commit is durable; on open, entries the
//!   main database lacks are replayed (applying a change twice is harmless).
//! - `safety.db`: distress alarms and visit sessions with their own outbox (see [`safety`]).
//! - `keycheck`: tells a wrong key from a damaged file (see [`key`]).
//! - `quarantine/`: damaged databases, moved aside and never deleted.
//!
//! Temporary tables and indices stay in memory, so nothing in plaintext touches the disk.

mod draft;
mod key;
mod projection;
pub mod safety;
pub(crate) mod schema;
mod search;
mod sync;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use serde::{Deserialize, Serialize};

pub use crate::attest::SignatureState;
pub use key::StoreKey;
pub use safety::SafetyStore;
pub use sync::{
    PreparedSync, RecordSyncState, RejectedDraft, SyncApplied, SyncStatus, signing_role,
};

use crate::access;
use crate::attest::{Attestation, AttestationKind, Signer};
use crate::document::Document;
use crate::error::{Error, Result};
use crate::model::{
    ContactNote, ContactPurpose, FieldError, Modality, Plan, PlanStatus, Program, RecordBody,
    RecordId, RecordKind, Role, Timestamp, new_id,
};

const MAIN_FILE: &str = "fieldnote.db";
const OUTBOX_FILE: &str = "outbox.db";
const LOCK_FILE: &str = "lock";
pub(crate) const KEYCHECK_FILE: &str = "keycheck";
/// What a batch being created holds so far, for checks that span its records.
#[derive(Default)]
struct Batch {
    members: HashSet<RecordId>,
    enrolled: HashSet<(RecordId, Program)>,
    masshealth_ids: HashSet<String>,
}

impl Batch {
    fn add(&mut self, id: RecordId, body: &RecordBody) {
        match body {
            RecordBody::Member(m) => {
                self.members.insert(id);
                if !m.masshealth_id.is_empty() {
                    self.masshealth_ids.insert(m.masshealth_id.clone());
                }
            }
            RecordBody::Enrollment(e) => {
                self.enrolled.insert((e.member_id, e.program));
            }
            _ => {}
        }
    }
}

fn not_enrolled(program: Program) -> String {
    RecordBody::not_enrolled_reason(program)
}

/// Identifiers are stored as typed, without the spaces around them.
fn normalize(body: &mut RecordBody) {
    if let RecordBody::Member(m) = body {
        let trimmed = m.masshealth_id.trim();
        if trimmed.len() != m.masshealth_id.len() {
            m.masshealth_id = trimmed.to_string();
        }
    }
}

/// The label under which the device signing key is derived from the store key.
const DEVICE_SIGNING_LABEL: &[u8] = b"fieldnote/device-signing/v1";
const QUARANTINE_DIR: &str = "quarantine";
/// After this many incremental chunks, a document's chunks are compacted into one snapshot.
const COMPACT_AFTER_CHUNKS: i64 = 16;

/// What happened while a store was opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// The schema version found on disk (0 for a new store).
    pub migrated_from: u32,
    /// Outbox entries applied to the main database because it lacked them.
    pub replayed: usize,
    /// Where a damaged main database was moved, when one was found.
    pub quarantined: Option<PathBuf>,
    /// Where a damaged outbox was moved, when one was found.
    pub outbox_quarantined: Option<PathBuf>,
    /// Where a damaged safety database was moved, when one was found (its unsent alarms
    /// are in the moved file; the shell should fall back to a call if one was pending).
    pub safety_quarantined: Option<PathBuf>,
    /// When the outbox was lost (damaged, or replaced by an empty one), how many records
    /// were queued again from the main database so that nothing unsent is dropped: every
    /// record written since the outbox was last empty after a sync.
    pub outbox_requeued: Option<usize>,
    /// When the safety database was damaged, how many unsent alarm and visit messages could
    /// be read from it and were queued again.
    pub safety_recovered: Option<usize>,
}

impl OpenReport {
    /// What the person must be told about this open, one sentence each (empty when
    /// nothing happened that they need to know).
    pub fn notices(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(q) = &self.quarantined {
            out.push(format!(
                "The records database was damaged; it was moved to {} and rebuilt from what \
                 waited to be sent (sync to get the rest back from the server).",
                q.display()
            ));
        }
        match (&self.outbox_quarantined, self.outbox_requeued) {
            (Some(q), n) => out.push(format!(
                "The list of work waiting to be sent was damaged; it was moved to {} and {} \
                 records were queued again from this phone's records, so nothing is lost.",
                q.display(),
                n.unwrap_or(0)
            )),
            (None, Some(n)) => out.push(format!(
                "The list of work waiting to be sent was found empty or replaced; {n} records \
                 were queued again from this phone's records, so nothing is lost."
            )),
            (None, None) => {}
        }
        if let Some(q) = &self.safety_quarantined {
            out.push(format!(
                "The safety database was damaged and moved to {}; {} unsent alarm or visit \
                 messages were recovered and will be sent. If you raised an alarm that was \
                 not confirmed as sent, call your supervisor or 911 now.",
                q.display(),
                self.safety_recovered.unwrap_or(0)
            ));
        }
        out
    }
}

/// A record read back from the store.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Its id.
    pub id: RecordId,
    /// Its content.
    pub body: RecordBody,
    /// Its signatures and finalization, oldest first.
    pub attestations: Vec<Attestation>,
}

impl Record {
    /// Whether the record is a finalized note.
    pub fn is_finalized(&self) -> bool {
        self.attestations
            .iter()
            .any(|a| a.kind == AttestationKind::Finalize)
    }

    /// For a finalized note: whether its content is still exactly what its author signed and
    /// the finalization event is intact. `false` means the note was altered after
    /// finalization (for example by a change merged from another device) and must be shown
    /// as such; the store itself never lets a finalized note change.
    pub fn finalized_content_intact(&self) -> bool {
        self.attestations
            .iter()
            .filter(|a| a.kind == AttestationKind::Finalize)
            .any(|a| a.verify() && !a.is_stale(&self.body))
    }
}

/// One member in the caseload list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseloadEntry {
    /// The member.
    pub member_id: RecordId,
    /// Name to show.
    pub display_name: String,
    /// Date of birth.
    pub date_of_birth: String,
    /// MassHealth ID.
    pub masshealth_id: String,
    /// Enrollments as (program code, status).
    pub enrollments: Vec<(String, String)>,
    /// The most recent contact note's start.
    pub last_contact_at: Option<Timestamp>,
}

/// The facts of a contact note that lists and program rules read, from the projection (no
/// document is loaded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteFacts {
    /// The note.
    pub id: RecordId,
    /// Its member.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// When the contact started.
    pub started_at: Timestamp,
    /// How it happened.
    pub modality: Modality,
    /// Whether the member was engaged and responsive.
    pub member_engaged: bool,
    /// Its special purposes.
    pub purposes: Vec<ContactPurpose>,
    /// For an addendum: the note it adds to.
    pub addendum_to: Option<RecordId>,
    /// Whether it is finalized.
    pub finalized: bool,
    /// Planned activity, goal targeted and member response are all recorded (TM-5).
    pub session_fields_complete: bool,
    /// A telehealth reason is recorded (TM-7).
    pub telehealth_reason_given: bool,
}

/// One entry on a member's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// The record.
    pub record_id: RecordId,
    /// Its kind.
    pub kind: String,
    /// When it sits on the timeline.
    pub at: Timestamp,
    /// One-line title.
    pub title: String,
    /// For notes: finalized.
    pub finalized: bool,
}

/// A note found by search.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The note.
    pub note_id: RecordId,
    /// Its member.
    pub member_id: RecordId,
    /// When the contact started.
    pub started_at: Timestamp,
    /// The matching passage, with matches in `[` `]`.
    pub snippet: String,
}

/// A plan's signatures by required role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSignatures {
    /// Each required role and its state.
    pub roles: Vec<(Role, SignatureState)>,
}

impl PlanSignatures {
    /// Whether every required role has a current signature.
    pub fn complete(&self) -> bool {
        self.roles
            .iter()
            .all(|(_, s)| matches!(s, SignatureState::Current { .. }))
    }
}

/// An open, unlocked store.
pub struct Store {
    /// Held for the store's lifetime: one program at a time (see [`hold`]).
    _holder: Holder,
    dir: PathBuf,
    key: StoreKey,
    main: Connection,
    outbox: Connection,
    safety: SafetyStore,
    actor: Vec<u8>,
    report: OpenReport,
    documents_loaded: std::cell::Cell<u64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn is_unreadable(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

/// Opens one SQLCipher database with `key`, checks it can be read, and sets the pragmas.
pub(crate) fn open_db(
    path: &Path,
    key: &StoreKey,
    synchronous: &str,
) -> rusqlite::Result<Connection> {
    match open_db_with(path, key, synchronous, false) {
        // On a full disk the write-ahead log's shared-memory index may have no room. The
        // process already holds the store (see [`hold`]), so the index can live in its own
        // memory instead: reading keeps working, and writes fail as full, not as damage.
        Err(e) if crate::error::out_of_space(&e) => {
            tracing::warn!(
                "no room for the database's shared index; opened for this process alone"
            );
            open_db_with(path, key, synchronous, true)
        }
        other => other,
    }
}

/// Opens the database at `path` with `flags` under `key` and reads its schema, so that a
/// wrong key or a damaged file fails here. `exclusive` keeps the write-ahead log's index in
/// this process's memory instead of a shared file.
fn open_keyed(
    path: &Path,
    key: &StoreKey,
    flags: rusqlite::OpenFlags,
    exclusive: bool,
) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, flags)?;
    if exclusive {
        conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE;")?;
    }
    // SQLCipher logs decryption failures to stderr by default; the caller reports them.
    let _ = conn.execute_batch("PRAGMA cipher_log_level = NONE;");
    conn.execute_batch(key.pragma().as_str())?;
    // Smaller pages than the default 4096: a note commit dirties a dozen b-tree pages, and
    // every page written is encrypted and authenticated (see BENCHMARKS.md).
    conn.execute_batch("PRAGMA cipher_page_size = 2048;")?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(conn)
}

fn open_db_with(
    path: &Path,
    key: &StoreKey,
    synchronous: &str,
    exclusive: bool,
) -> rusqlite::Result<Connection> {
    let conn = open_keyed(path, key, rusqlite::OpenFlags::default(), exclusive)?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous};
         PRAGMA temp_store = MEMORY; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -8192; PRAGMA wal_autocheckpoint = 4000;"
    ))?;
    Ok(conn)
}

impl Store {
    /// Opens (or creates) the store in `dir` with `key`.
    ///
    /// A wrong key fails with [`Error::WrongKey`] and changes nothing. A damaged main
    /// database is moved to `quarantine/` and rebuilt from the outbox; the report says so.
    pub fn open(dir: impl AsRef<Path>, key: StoreKey) -> Result<Store> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| Error::Io {
            path: dir.clone(),
            source: e,
        })?;
        let holder = hold(&dir)?;
        let keycheck = dir.join(KEYCHECK_FILE);
        let known = match key::keycheck(&keycheck, &key)? {
            // A key-check file that disagrees may itself be the damaged part: when the key
            // reads the records database, it is the right key and the file is rewritten.
            key::KeyCheck::Mismatch if key_reads(&dir.join(MAIN_FILE), &key) => {
                tracing::warn!("the key-check file was damaged; rewritten");
                key::write_keycheck(&keycheck, &key)?;
                Some(true)
            }
            // A first line that is not a format line at all is damage too; a format line
            // naming another format is a store this version must not touch.
            key::KeyCheck::OtherFormat(ref found)
                if !found.starts_with("fieldnote-store-format")
                    && key_reads(&dir.join(MAIN_FILE), &key) =>
            {
                tracing::warn!("the key-check file was damaged; rewritten");
                key::write_keycheck(&keycheck, &key)?;
                Some(true)
            }
            key::KeyCheck::Mismatch => return Err(Error::WrongKey),
            key::KeyCheck::OtherFormat(found) => return Err(Error::UnsupportedFormat { found }),
            key::KeyCheck::Matches => Some(true),
            key::KeyCheck::Missing => None,
        };
        let mut report = OpenReport::default();

        let key_known = known.is_some();
        let (mut outbox, moved) = open_or_quarantine(&dir, OUTBOX_FILE, &key, "FULL", key_known)?;
        report.outbox_quarantined = moved;
        schema::migrate(&mut outbox, schema::OUTBOX, None)?;
        let (safety, moved) =
            open_or_quarantine(&dir, safety::SAFETY_FILE, &key, "FULL", key_known)?;
        let safety = SafetyStore::from_connection(safety, &dir, &key)?;
        safety::keep_reserve(&dir);
        if let Some(q) = &moved {
            report.safety_recovered = Some(safety.salvage(q, &key)?);
        }
        report.safety_quarantined = moved;

        let (mut main, moved) = open_or_quarantine(&dir, MAIN_FILE, &key, "NORMAL", key_known)?;
        report.quarantined = moved;
        let migrated = schema::migrate(&mut main, schema::MAIN, None)?;
        report.migrated_from = migrated.from;
        if known.is_none() {
            key::write_keycheck(&keycheck, &key)?;
        }
        let actor = load_actor(&main)?;
        let mut store = Store {
            _holder: holder,
            dir,
            key,
            main,
            outbox,
            safety,
            actor,
            report,
            documents_loaded: Default::default(),
        };
        let pending: bool = store.main.query_row(
            "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'reproject_pending')",
            [],
            |r| r.get(0),
        )?;
        if migrated.reproject || pending {
            store.rebuild_projections()?;
        }
        let lost = store.report.outbox_quarantined.is_some();
        store.report.outbox_requeued = store.recover_outbox(lost)?;
        store.report.replayed = store.replay_outbox()?;
        Ok(store)
    }

    /// Queues again what the outbox held when the outbox was lost: moved aside as damaged,
    /// or replaced (its sequence numbers start below what the main database already
    /// applied). Every record written since the outbox was last emptied by a sync is queued
    /// as its whole document, with its signatures; the server recognises what it already
    /// has. Returns how many records were queued, when the outbox was lost.
    fn recover_outbox(&mut self, quarantined: bool) -> Result<Option<usize>> {
        let mark = self.outbox_mark()?;
        let issued: i64 = self
            .outbox
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        if !quarantined && issued >= mark {
            return Ok(None);
        }
        // A day of margin for a clock set back; with no drained sync on record, everything.
        let since = self
            .meta_json::<Timestamp>(sync::DRAINED_KEY)?
            .map_or(i64::MIN, |t| t.millis().saturating_sub(86_400_000));
        let records: Vec<(String, String)> = {
            let mut stmt = self.main.prepare(
                "SELECT id, kind FROM records WHERE updated_at >= ?1 ORDER BY updated_at",
            )?;
            stmt.query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut last = 0;
        for (id, kind) in &records {
            let rid = parse_id(id.clone());
            let bytes = self.document_bytes(rid)?;
            let kind = RecordKind::parse(kind).unwrap_or(RecordKind::ContactNote);
            last = outbox_push(&self.outbox, rid, "change", &bytes, priority(kind))?;
            let events: Vec<String> = {
                let mut stmt = self
                    .main
                    .prepare_cached("SELECT event FROM attestations WHERE record_id = ?1")?;
                stmt.query_map([id], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            };
            for event in events {
                last = outbox_push(&self.outbox, rid, "attestation", event.as_bytes(), 1)?;
            }
        }
        // What the main database holds is all queued now: the replay mark starts again at
        // the new outbox's numbers, so later work is never taken for work already applied.
        self.main.execute(
            "INSERT INTO meta (key, value) VALUES ('outbox_seq', ?1)
             ON CONFLICT (key) DO UPDATE SET value = ?1",
            [last.max(issued)],
        )?;
        tracing::warn!(
            requeued = records.len(),
            "the outbox was lost; records queued again"
        );
        Ok(Some(records.len()))
    }

    /// The safety database: alarms and visit sessions (open a second handle with
    /// [`SafetyStore::open`] to send alarms from another thread).
    pub fn safety(&self) -> &SafetyStore {
        &self.safety
    }

    /// What happened while the store was opened.
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// How many documents this handle has loaded since it was opened. Lists, timelines and
    /// search load none; reading or changing a record loads its document.
    pub fn documents_loaded(&self) -> u64 {
        self.documents_loaded.get()
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Locks the store: closes both databases and wipes the key from memory. Everything
    /// saved, drafts included, stays on disk; open the store again to unlock it.
    pub fn lock(self) {
        drop(self);
    }

    /// Stores a new record and returns its id. Validates first: nothing invalid is stored.
    pub fn create(&mut self, body: RecordBody) -> Result<RecordId> {
        let id = new_id();
        self.create_with_id(id, body)?;
        Ok(id)
    }

    /// Stores a new record under a given id (used when the id was shown before saving).
    pub fn create_with_id(&mut self, id: RecordId, mut body: RecordBody) -> Result<()> {
        normalize(&mut body);
        self.check(id, &body, None)?;
        self.check_written_by_me(&body)?;
        if let RecordBody::ContactNote(n) = &body
            && n.addendum_to.is_some()
        {
            self.check_addendum(n)?;
        }
        if self.exists(id)? {
            return Err(invalid(&body, "id", "a record with this id already exists"));
        }
        self.insert_new(id, body)
    }

    /// Writes a new record already checked (by [`Store::create_with_id`], or by a command
    /// through [`Store::problems_of_new`]) under a fresh id.
    pub(crate) fn insert_new(&mut self, id: RecordId, mut body: RecordBody) -> Result<()> {
        normalize(&mut body);
        let mut doc = Document::create(id, &self.actor, &body)?;
        let bytes = doc.save_uncompressed();
        self.commit_change(id, &body, &bytes, &mut doc)
    }

    /// Stores many new records at once (an import, a seeded caseload): every record is
    /// validated first and, if any is invalid, none is stored. One durable commit covers all.
    /// Records may refer to members created earlier in the same batch.
    pub fn create_batch(&mut self, bodies: Vec<RecordBody>) -> Result<Vec<RecordId>> {
        self.create_batch_with_ids(bodies.into_iter().map(|b| (new_id(), b)).collect())
    }

    /// [`Store::create_batch`] with ids chosen by the caller (so that one record of the
    /// batch can name another: an enrollment its new member).
    pub fn create_batch_with_ids(
        &mut self,
        records: Vec<(RecordId, RecordBody)>,
    ) -> Result<Vec<RecordId>> {
        let mut batch = Batch::default();
        let mut prepared = Vec::with_capacity(records.len());
        for (id, mut body) in records {
            normalize(&mut body);
            let mut errors = self.field_errors(id, &body, None, &batch)?;
            if let RecordBody::ContactNote(n) = &body
                && n.addendum_to.is_some()
            {
                errors.push(FieldError {
                    field: "addendum_to".into(),
                    reason: "addenda are added one at a time".into(),
                });
            }
            if !errors.is_empty() {
                return Err(Error::Invalid {
                    kind: body.kind().as_str(),
                    errors,
                });
            }
            self.check_written_by_me(&body)?;
            batch.add(id, &body);
            let mut doc = Document::create(id, &self.actor, &body)?;
            let bytes = doc.save_uncompressed();
            prepared.push((id, body, bytes, doc));
        }
        let tx = self.outbox.transaction()?;
        let mut last_seq = 0;
        for (id, body, bytes, _) in &prepared {
            last_seq = outbox_push(&tx, *id, "change", bytes, priority(body.kind()))?;
        }
        tx.commit()?;
        let first_seq = last_seq - prepared.len() as i64 + 1;
        let result = (|| {
            let tx = self.main.transaction()?;
            for (id, body, bytes, doc) in &mut prepared {
                insert_chunk(&tx, *id, bytes, doc)?;
                projection::project(&tx, *id, body)?;
            }
            set_outbox_mark(&tx, last_seq)?;
            tx.commit()?;
            Ok(())
        })();
        let result = self.withdraw_on_failure(result, first_seq);
        result.map(|()| prepared.into_iter().map(|(id, ..)| id).collect())
    }

    /// Reads a record.
    pub fn get(&self, id: RecordId) -> Result<Record> {
        let body = self.load(id)?.body()?;
        Ok(Record {
            id,
            body,
            attestations: self.attestations(id)?,
        })
    }

    /// Changes a record: `edit` receives the current content and changes it; only what
    /// differs is recorded. A finalized note is refused with [`Error::Finalized`].
    pub fn update(&mut self, id: RecordId, edit: impl FnOnce(&mut RecordBody)) -> Result<()> {
        if self.is_finalized(id)? {
            return Err(Error::Finalized { id });
        }
        let mut doc = self.load(id)?;
        let before = doc.body()?;
        let mut body = before.clone();
        edit(&mut body);
        if body.kind() != before.kind() {
            return Err(invalid(&before, "kind", "a record's kind cannot change"));
        }
        if body.member_id() != before.member_id() {
            return Err(invalid(
                &before,
                "member_id",
                "a record cannot move to another member",
            ));
        }
        normalize(&mut body);
        if body == before {
            return Ok(());
        }
        self.check(id, &body, Some(&before))?;
        let bytes = doc.update(&body)?;
        self.commit_change(id, &body, &bytes, &mut doc)
    }

    /// This device's signing key (see [`crate::signing`]), derived from the store key.
    pub(crate) fn device_key(&self) -> crate::signing::DeviceKey {
        crate::signing::DeviceKey::derive(self.key.bytes(), DEVICE_SIGNING_LABEL)
    }

    /// This device's Ed25519 public key, as 64 hexadecimal characters: registered with the
    /// server at sign-in.
    pub fn device_public_key(&self) -> String {
        self.device_key().public_key()
    }

    /// Finalizes a contact note: its author signs it as worker. Afterwards the note never
    /// changes; corrections are addenda ([`Store::add_addendum`]).
    pub fn finalize_note(&mut self, id: RecordId, signer: Signer) -> Result<Attestation> {
        let record = self.get(id)?;
        let RecordBody::ContactNote(note) = &record.body else {
            return Err(Error::NotFound {
                kind: "contact note",
                id,
            });
        };
        if record.is_finalized() {
            return Err(Error::Finalized { id });
        }
        if signer.role != Role::Worker || signer.staff_id != Some(note.author) {
            return Err(Error::SignatureRefused {
                reason: "a note is finalized by its author, signing as worker".into(),
            });
        }
        check_signer_name(&signer)?;
        let errors = note.validate_for_finalize();
        if !errors.is_empty() {
            return Err(Error::Invalid {
                kind: "contact_note",
                errors,
            });
        }
        let mut att = Attestation::new(
            id,
            AttestationKind::Finalize,
            signer,
            Timestamp::now(),
            &record.body,
        );
        self.check_signed_by_me(&att)?;
        self.device_key().sign(&mut att);
        self.commit_attestation(&att)?;
        Ok(att)
    }

    /// Adds an addendum to a finalized note. The addendum is itself a note (draft, then
    /// finalized); it must concern the same member.
    pub fn add_addendum(&mut self, parent: RecordId, mut note: ContactNote) -> Result<RecordId> {
        note.addendum_to = Some(parent);
        self.create(RecordBody::ContactNote(note))
    }

    /// Signs a completed plan in a role. Who may sign: the roles the plan kind requires
    /// (and the youth when the plan says so); staff roles need a staff id; a member,
    /// guardian, youth or PCP signing on the worker's device needs the worker as witness.
    pub fn sign_plan(&mut self, id: RecordId, signer: Signer) -> Result<Attestation> {
        self.sign_plan_at(id, signer, None)
    }

    /// [`Store::sign_plan`] for a signature given at `signed_at` and entered now (a paper
    /// plan and signature from a visit, typed in later): `signed_at` may not be in the future
    /// or more than [`crate::commands::BACKDATE_LIMIT_DAYS`] ago. The event keeps both
    /// times.
    pub fn sign_plan_at(
        &mut self,
        id: RecordId,
        signer: Signer,
        signed_at: Option<Timestamp>,
    ) -> Result<Attestation> {
        let record = self.get(id)?;
        let RecordBody::Plan(plan) = &record.body else {
            return Err(Error::NotFound { kind: "plan", id });
        };
        if plan.status != PlanStatus::Completed {
            return Err(Error::SignatureRefused {
                reason: "only a completed plan is signed".into(),
            });
        }
        if !required_roles(plan).contains(&signer.role) {
            return Err(Error::SignatureRefused {
                reason: format!("this plan is not signed by the {:?} role", signer.role),
            });
        }
        if signer.role.is_witnessed() {
            if signer.witness.is_none() {
                return Err(Error::SignatureRefused {
                    reason: "a signature collected on the device needs the worker as witness"
                        .into(),
                });
            }
        } else if signer.staff_id.is_none() {
            return Err(Error::SignatureRefused {
                reason: "a staff signature needs a staff id".into(),
            });
        }
        check_signer_name(&signer)?;
        let now = Timestamp::now();
        let mut att = Attestation::new(id, AttestationKind::Sign, signer, now, &record.body);
        if let Some(at) = signed_at {
            let mut form = crate::commands::Form::new();
            form.backdated("signed_at", Some(at));
            form.finish("signature")?;
            att.backdate(at, now);
        }
        self.check_signed_by_me(&att)?;
        self.device_key().sign(&mut att);
        self.commit_attestation(&att)?;
        Ok(att)
    }

    /// A plan's signatures by required role, each missing, current or stale. Staleness is
    /// derived from the plan's current content, never stored.
    pub fn plan_signatures(&self, id: RecordId) -> Result<PlanSignatures> {
        let record = self.get(id)?;
        let RecordBody::Plan(plan) = &record.body else {
            return Err(Error::NotFound { kind: "plan", id });
        };
        let roles = required_roles(plan)
            .into_iter()
            .map(|role| {
                let state = SignatureState::of(&record.attestations, role, &record.body);
                (role, state)
            })
            .collect();
        Ok(PlanSignatures { roles })
    }

    /// The caseload: every member on the device with enrollments and last contact, by name.
    /// Reads projections only; no document is loaded.
    pub fn caseload(&self) -> Result<Vec<CaseloadEntry>> {
        let mut stmt = self.main.prepare_cached(
            "SELECT m.id, m.display_name, m.date_of_birth, m.masshealth_id,
                (SELECT group_concat(e.program || ':' || e.status, ',') FROM enrollments e
                  WHERE e.member_id = m.id),
                (SELECT max(n.started_at) FROM notes n WHERE n.member_id = m.id)
             FROM members m ORDER BY m.family_name, m.display_name",
        )?;
        let rows = stmt.query_map([], |r| {
            let enrollments: Option<String> = r.get(4)?;
            Ok(CaseloadEntry {
                member_id: parse_id(r.get::<_, String>(0)?),
                display_name: r.get(1)?,
                date_of_birth: r.get(2)?,
                masshealth_id: r.get(3)?,
                enrollments: enrollments
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|s| s.split_once(':'))
                    .map(|(p, s)| (p.to_string(), s.to_string()))
                    .collect(),
                last_contact_at: r.get::<_, Option<i64>>(5)?.map(Timestamp::from_millis),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A member's timeline, newest first. Reads projections only.
    pub fn timeline(&self, member_id: RecordId) -> Result<Vec<TimelineEntry>> {
        let mut stmt = self.main.prepare_cached(
            "SELECT r.id, r.kind, r.at, r.title,
                EXISTS (SELECT 1 FROM attestations a WHERE a.record_id = r.id
                        AND a.kind = 'finalize')
             FROM records r WHERE r.member_id = ?1 ORDER BY r.at DESC, r.id DESC",
        )?;
        let rows = stmt.query_map([member_id.to_string()], |r| {
            Ok(TimelineEntry {
                record_id: parse_id(r.get::<_, String>(0)?),
                kind: r.get(1)?,
                at: Timestamp::from_millis(r.get(2)?),
                title: r.get(3)?,
                finalized: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The facts of every contact note of a member, oldest first. Reads projections only.
    pub fn note_facts(&self, member_id: RecordId) -> Result<Vec<NoteFacts>> {
        let mut stmt = self.main.prepare_cached(
            "SELECT n.id, n.member_id, n.program, n.started_at, n.modality, n.member_engaged,
                n.purposes, n.addendum_to, n.session_fields_complete, n.telehealth_reason_given,
                EXISTS (SELECT 1 FROM attestations a WHERE a.record_id = n.id
                        AND a.kind = 'finalize')
             FROM notes n WHERE n.member_id = ?1 ORDER BY n.started_at, n.id",
        )?;
        // A year of a caseload is thousands of rows: each is read without allocating where
        // it can (the member is the one asked for; words are matched, not parsed as JSON).
        let rows = stmt.query_map([member_id.to_string()], |r| {
            let id = r.get_ref(0)?.as_str()?;
            let purposes = r.get_ref(6)?.as_str()?;
            Ok(NoteFacts {
                id: RecordId::parse_str(id).unwrap_or_default(),
                member_id,
                program: Program::from_code(r.get_ref(2)?.as_str()?).unwrap_or(Program::Csp),
                started_at: Timestamp::from_millis(r.get(3)?),
                modality: Modality::from_word(r.get_ref(4)?.as_str()?)
                    .unwrap_or(Modality::CaseRelatedWork),
                member_engaged: r.get(5)?,
                purposes: if purposes == "[]" {
                    Vec::new()
                } else {
                    serde_json::from_str(purposes).unwrap_or_default()
                },
                addendum_to: r.get::<_, Option<String>>(7)?.map(parse_id),
                session_fields_complete: r.get(8)?,
                telehealth_reason_given: r.get(9)?,
                finalized: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every record of a member but its notes (the member's own record included), read
    /// from their projected content: no document is loaded. Plans carry their
    /// attestations; other kinds none (the rules read only plans' signatures).
    pub fn member_records_but_notes(&self, member_id: RecordId) -> Result<Vec<Record>> {
        // The kinds are named so that the (member, kind) index answers: a member's notes,
        // thousands of them, are never visited. Built once.
        static QUERY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            let kinds = RecordKind::ALL
                .iter()
                .filter(|k| !matches!(k, RecordKind::ContactNote | RecordKind::Member))
                .map(|k| format!("'{}'", k.as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "SELECT id, kind, body FROM records WHERE id = ?1 AND kind = 'member'
                 UNION ALL
                 SELECT id, kind, body FROM records WHERE member_id = ?1 AND kind IN ({kinds})"
            )
        });
        let rows: Vec<(String, String, Option<String>)> = self
            .main
            .prepare_cached(&QUERY)?
            .query_map([member_id.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, kind, body) in rows {
            let id = parse_id(id);
            let body = match body.map(|b| serde_json::from_str::<RecordBody>(&b)) {
                Some(Ok(body)) => body,
                // Not projected yet, or unreadable: the document is the truth.
                _ => self.load(id)?.body()?,
            };
            let attestations = if kind == RecordKind::Plan.as_str() {
                self.attestations(id)?
            } else {
                Vec::new()
            };
            out.push(Record {
                id,
                body,
                attestations,
            });
        }
        Ok(out)
    }

    /// Full-text search over note narratives, best match first. The text is searched as
    /// words; query syntax in it is not interpreted.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let Some(query) = search::fts_query(text) else {
            return Ok(Vec::new());
        };
        let mut stmt = self.main.prepare_cached(
            "SELECT n.id, n.member_id, n.started_at,
                snippet(note_search, 0, '[', ']', '…', 12)
             FROM note_search JOIN notes n ON n.rowid = note_search.rowid
             WHERE note_search MATCH ?1 ORDER BY rank LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![query, limit as i64], |r| {
            Ok(SearchHit {
                note_id: parse_id(r.get::<_, String>(0)?),
                member_id: parse_id(r.get::<_, String>(1)?),
                started_at: Timestamp::from_millis(r.get(2)?),
                snippet: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Ids of every record of `kind` (for rules evaluation and export).
    pub fn ids_of_kind(&self, kind: RecordKind) -> Result<Vec<RecordId>> {
        let mut stmt = self
            .main
            .prepare_cached("SELECT id FROM records WHERE kind = ?1")?;
        let rows = stmt.query_map([kind.as_str()], |r| r.get::<_, String>(0))?;
        Ok(rows
            .map(|r| r.map(parse_id))
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The whole document of a record, for replication.
    pub fn document_bytes(&self, id: RecordId) -> Result<Vec<u8>> {
        Ok(self.load(id)?.save())
    }

    /// Fields of a record where concurrent edits conflict (see [`Document::conflicts`]).
    pub fn conflicts(&self, id: RecordId) -> Result<Vec<String>> {
        Ok(self.load(id)?.conflicts())
    }

    /// Merges document bytes received from elsewhere (another replica, the server) into a
    /// record, creating it if new. Idempotent and order-independent.
    pub fn merge_remote(&mut self, id: RecordId, bytes: &[u8]) -> Result<()> {
        let tx = self.main.unchecked_transaction()?;
        self.merge_parsed(&tx, id, bytes, None)?;
        tx.commit()?;
        Ok(())
    }

    /// Merges into a record inside the caller's transaction (a sync applies a whole batch in
    /// one). `parsed` is the document already parsed from `bytes` alone, used when the
    /// record is new (sync parses new records on several threads first).
    fn merge_parsed(
        &self,
        tx: &rusqlite::Transaction<'_>,
        id: RecordId,
        bytes: &[u8],
        parsed: Option<(Document, RecordBody)>,
    ) -> Result<()> {
        let exists = self.exists(id)?;
        let (mut doc, body) = match parsed {
            Some(p) if !exists => p,
            _ => {
                let mut doc = match exists {
                    true => self.load(id)?,
                    false => Document::load(id, &self.actor, std::iter::empty())?,
                };
                doc.apply(bytes)?;
                let body = doc.body()?;
                (doc, body)
            }
        };
        insert_chunk(tx, id, bytes, &mut doc)?;
        projection::project(tx, id, &body)
    }

    /// Parses each payload as a whole new document, on up to `threads` threads. `None` where
    /// a payload does not stand alone (an edit of an existing record).
    fn parse_new(
        &self,
        items: &[(RecordId, &[u8])],
        threads: usize,
    ) -> Vec<Option<(Document, RecordBody)>> {
        let actor = self.actor.as_slice();
        let parse = |(id, bytes): &(RecordId, &[u8])| {
            let doc = Document::load(*id, actor, [*bytes]).ok()?;
            let body = doc.body().ok()?;
            Some((doc, body))
        };
        let chunk = items.len().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = items
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().map(parse).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    }

    /// Stores an attestation received from elsewhere, after checking it is intact and
    /// signed by a key the server registered to its signer (the keys learnt at sync).
    pub fn merge_remote_attestation(&mut self, att: &Attestation) -> Result<()> {
        sync::check_received(&self.signer_keys()?, att)
            .map_err(|reason| Error::SignatureRefused { reason })?;
        insert_attestation(&self.main, att)
    }

    /// Runs SQLite's full integrity check on all three databases. The outbox is checked
    /// first: a damaged one is moved to `quarantine/` and what it held is queued again from
    /// the records. A damaged safety database is moved aside and its unsent alarms queued
    /// again as far as they read. A damaged records database is moved aside and rebuilt
    /// from the outbox (the rest comes back from the server at the next sync). Returns what
    /// was repaired, in the shape of an [`OpenReport`] (empty when all is whole).
    pub fn check_integrity(&mut self) -> Result<OpenReport> {
        let mut found = OpenReport::default();
        if !is_whole(&self.outbox)? {
            let placeholder = Connection::open_in_memory()?;
            drop(std::mem::replace(&mut self.outbox, placeholder));
            let moved = quarantine(&self.dir, OUTBOX_FILE)?;
            let mut outbox = open_db(&self.dir.join(OUTBOX_FILE), &self.key, "FULL")?;
            schema::migrate(&mut outbox, schema::OUTBOX, None)?;
            self.outbox = outbox;
            found.outbox_quarantined = Some(moved);
            found.outbox_requeued = self.recover_outbox(true)?;
        }
        if !self.safety.is_whole()? {
            let placeholder =
                SafetyStore::from_connection(Connection::open_in_memory()?, &self.dir, &self.key)?;
            drop(std::mem::replace(&mut self.safety, placeholder));
            let moved = quarantine(&self.dir, safety::SAFETY_FILE)?;
            let conn = open_db(&self.dir.join(safety::SAFETY_FILE), &self.key, "FULL")?;
            self.safety = SafetyStore::from_connection(conn, &self.dir, &self.key)?;
            found.safety_recovered = Some(self.safety.salvage(&moved, &self.key)?);
            found.safety_quarantined = Some(moved);
        }
        if !is_whole(&self.main)? {
            let placeholder = Connection::open_in_memory()?;
            drop(std::mem::replace(&mut self.main, placeholder));
            let moved = quarantine(&self.dir, MAIN_FILE)?;
            let mut main = open_db(&self.dir.join(MAIN_FILE), &self.key, "NORMAL")?;
            schema::migrate(&mut main, schema::MAIN, None)?;
            self.main = main;
            self.actor = load_actor(&self.main)?;
            self.replay_outbox()?;
            found.quarantined = Some(moved);
        }
        Ok(found)
    }

    /// Folds the write-ahead log back into the database files. SQLite does this by itself
    /// once the log passes 4,000 pages; a shell calls this when the app goes idle or to the
    /// background so that the cost never lands on a write a person is waiting for.
    pub fn checkpoint(&self) -> Result<()> {
        self.main
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        self.outbox
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Entries in the outbox (not yet acknowledged by a server).
    pub fn outbox_len(&self) -> Result<usize> {
        let n: i64 =
            self.outbox
                .query_row("SELECT count(*) FROM outbox WHERE sent = 0", [], |r| {
                    r.get(0)
                })?;
        Ok(n as usize)
    }

    /// Caps the main database's size in pages. For exercising the disk-full path in tests.
    #[doc(hidden)]
    pub fn limit_pages_for_test(&self, pages: u32) -> Result<()> {
        self.main
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
        self.outbox
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
        Ok(())
    }

    /// The main database's connection, for tests that compare schemas and projections.
    #[doc(hidden)]
    pub fn main_connection_for_test(&self) -> &Connection {
        &self.main
    }

    /// Writes a store whose main database stops at schema `version`, holding `records` as
    /// documents only. For the test that an upgraded database equals a fresh one.
    #[doc(hidden)]
    pub fn create_at_version_for_test(
        dir: impl AsRef<Path>,
        key: &StoreKey,
        version: u32,
        records: &[(RecordId, RecordBody)],
    ) -> Result<()> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(|e| Error::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        let mut main = open_db(&dir.join(MAIN_FILE), key, "FULL")?;
        schema::migrate(&mut main, schema::MAIN, Some(version))?;
        let actor = load_actor(&main)?;
        let tx = main.transaction()?;
        for (id, body) in records {
            let mut doc = Document::create(*id, &actor, body)?;
            let bytes = doc.save_uncompressed();
            insert_chunk(&tx, *id, &bytes, &mut doc)?;
            // From version 6 on, the projection tables are the ones the code writes today
            // (an older store's are rebuilt when it is opened).
            if version >= 6 {
                projection::project(&tx, *id, body)?;
            }
        }
        tx.commit()?;
        let mut outbox = open_db(&dir.join(OUTBOX_FILE), key, "FULL")?;
        schema::migrate(&mut outbox, schema::OUTBOX, None)?;
        key::write_keycheck(&dir.join(KEYCHECK_FILE), key)
    }

    /// The schema versions of the main and outbox databases in `dir`, read without
    /// migrating anything, and whether a projection rebuild is pending (for crash tests).
    pub fn schema_state_for_test(
        dir: impl AsRef<Path>,
        key: &StoreKey,
    ) -> Result<(u32, u32, bool)> {
        let dir = dir.as_ref();
        let main = open_db(&dir.join(MAIN_FILE), key, "FULL")?;
        let outbox = open_db(&dir.join(OUTBOX_FILE), key, "FULL")?;
        let version = |c: &Connection| c.query_row("PRAGMA user_version", [], |r| r.get(0));
        let pending = main
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'reproject_pending')",
                [],
                |r| r.get(0),
            )
            .unwrap_or(false);
        Ok((version(&main)?, version(&outbox)?, pending))
    }

    /// The outbox database's connection, for tests that check its integrity.
    #[doc(hidden)]
    pub fn outbox_connection_for_test(&self) -> &Connection {
        &self.outbox
    }

    // ---- internals ----

    fn check(&self, id: RecordId, body: &RecordBody, before: Option<&RecordBody>) -> Result<()> {
        let errors = self.field_errors(id, body, before, &Batch::default())?;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid {
                kind: body.kind().as_str(),
                errors,
            })
        }
    }

    /// Whether a member with this id is on the device.
    pub(crate) fn exists_member(&self, id: RecordId) -> Result<bool> {
        Ok(self
            .main
            .prepare_cached("SELECT 1 FROM members WHERE id = ?1")?
            .query_row([id.to_string()], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Every problem a new record `body` would be refused for, without writing anything:
    /// the commands add these to their own checks so a request hears of all its problems at
    /// once.
    pub(crate) fn problems_of_new(
        &self,
        id: RecordId,
        body: &RecordBody,
    ) -> Result<Vec<FieldError>> {
        let mut body = body.clone();
        normalize(&mut body);
        let mut errors = self.field_errors(id, &body, None, &Batch::default())?;
        errors.extend(self.author_problem(&body)?);
        Ok(errors)
    }

    /// Every problem with `body` (record `id`; `before` is its previous content when it is
    /// an edit): its own validation; a member neither on the device nor in `batch`; a note or
    /// plan under a program the member is not enrolled in; a note dated before the member was born; a MassHealth
    /// ID another member on the device already has.
    fn field_errors(
        &self,
        id: RecordId,
        body: &RecordBody,
        before: Option<&RecordBody>,
        batch: &Batch,
    ) -> Result<Vec<FieldError>> {
        // An edit is held to its program's enrollment only when it changes the program.
        let program_checked = before.is_none_or(|b| b.program() != body.program());
        let mut errors = body.validate();
        let push = |errors: &mut Vec<FieldError>, field: &str, reason: String| {
            errors.push(FieldError {
                field: field.into(),
                reason,
            })
        };
        if let RecordBody::Member(m) = body
            && !m.masshealth_id.is_empty()
        {
            let other: Option<String> = self
                .main
                .prepare_cached("SELECT id FROM members WHERE masshealth_id = ?1 AND id <> ?2")?
                .query_row(params![m.masshealth_id, id.to_string()], |r| r.get(0))
                .optional()?;
            if let Some(other) = other {
                push(
                    &mut errors,
                    "masshealth_id",
                    format!("member {other} on this device already has this MassHealth ID"),
                );
            } else if batch.masshealth_ids.contains(&m.masshealth_id) {
                push(
                    &mut errors,
                    "masshealth_id",
                    "another member in this batch has this MassHealth ID".into(),
                );
            }
        }
        let Some(m) = body.member_id() else {
            return Ok(errors);
        };
        if batch.members.contains(&m) {
            if let Some((_, program)) = body.enrollment_needed()
                && !batch.enrolled.contains(&(m, program))
            {
                push(&mut errors, "program", not_enrolled(program));
            }
            return Ok(errors);
        }
        let born: Option<String> = self
            .main
            .prepare_cached("SELECT date_of_birth FROM members WHERE id = ?1")?
            .query_row([m.to_string()], |r| r.get(0))
            .optional()?;
        let Some(born) = born else {
            push(
                &mut errors,
                "member_id",
                "no such member on this device".into(),
            );
            return Ok(errors);
        };
        if let Some((_, program)) = body.enrollment_needed()
            && program_checked
            && !batch.enrolled.contains(&(m, program))
            && !self
                .main
                .prepare_cached("SELECT 1 FROM enrollments WHERE member_id = ?1 AND program = ?2")?
                .exists(params![m.to_string(), program.code()])?
        {
            push(&mut errors, "program", not_enrolled(program));
        }
        if let RecordBody::ContactNote(n) = body
            && let Some(born) = crate::model::Day::parse(&born)
            && n.started_at.0.date_naive() < born.0
        {
            push(
                &mut errors,
                "started_at",
                "is before the member's date of birth".into(),
            );
        }
        Ok(errors)
    }

    /// With a user signed in, a new record must be in their name ([`access::check_new_record`]).
    /// An extension or waiver needs a signed-in grantor.
    fn check_written_by_me(&self, body: &RecordBody) -> Result<()> {
        match self.author_problem(body)? {
            Some(p) => Err(invalid(body, &p.field, &p.reason)),
            None => Ok(()),
        }
    }

    /// What the signed-in user may not write of `body` ([`access::check_new_record`]), as a
    /// field problem; none when they may. An override needs a signed-in grantor.
    fn author_problem(&self, body: &RecordBody) -> Result<Option<FieldError>> {
        let problem = |field: &str, reason: &str| {
            Some(FieldError {
                field: field.into(),
                reason: reason.into(),
            })
        };
        let is_override = matches!(body, RecordBody::Override(_));
        Ok(match self.author()? {
            Some(author) => match access::check_new_record(&author, body) {
                Ok(()) => None,
                Err(reason) => match reason.strip_prefix("rule_id: ") {
                    Some(r) => problem("rule_id", r),
                    None if is_override => problem("by", &reason),
                    None => problem("author", &reason),
                },
            },
            None if is_override => problem(
                "by",
                "sign in as a supervisor or program director to grant an extension or waiver",
            ),
            None => None,
        })
    }

    /// With a user signed in, an attestation must be theirs ([`access::check_attestation`]).
    /// Offline, a device signs only as the user signed in on it: a device nobody signed in
    /// on signs nothing.
    fn check_signed_by_me(&self, att: &Attestation) -> Result<()> {
        let Some(author) = self.author()? else {
            return Err(Error::SignatureRefused {
                reason: "sign in first: a device signs only as the user signed in on it".into(),
            });
        };
        access::check_attestation(&author, att).map_err(|reason| Error::SignatureRefused { reason })
    }

    fn check_addendum(&self, note: &ContactNote) -> Result<()> {
        let Some(parent) = note.addendum_to else {
            return Ok(());
        };
        let reject = |reason: &str| {
            Err(Error::Invalid {
                kind: "contact_note",
                errors: vec![FieldError {
                    field: "addendum_to".into(),
                    reason: reason.into(),
                }],
            })
        };
        if !self.exists(parent)? {
            return reject("no such note on this device");
        }
        let parent_rec = self.get(parent)?;
        match &parent_rec.body {
            RecordBody::ContactNote(p) if p.member_id != note.member_id => {
                reject("the addendum must concern the same member as the note")
            }
            RecordBody::ContactNote(_) if !parent_rec.is_finalized() => {
                reject("only a finalized note takes addenda; edit the draft instead")
            }
            RecordBody::ContactNote(_) => Ok(()),
            _ => reject("is not a contact note"),
        }
    }

    fn exists(&self, id: RecordId) -> Result<bool> {
        Ok(self
            .main
            .prepare_cached("SELECT 1 FROM records WHERE id = ?1")?
            .exists([id.to_string()])?)
    }

    fn is_finalized(&self, id: RecordId) -> Result<bool> {
        Ok(self
            .main
            .prepare_cached(
                "SELECT 1 FROM attestations WHERE record_id = ?1 AND kind = 'finalize'",
            )?
            .exists([id.to_string()])?)
    }

    fn load(&self, id: RecordId) -> Result<Document> {
        let mut stmt = self
            .main
            .prepare_cached("SELECT bytes FROM doc_chunks WHERE record_id = ?1 ORDER BY seq")?;
        let chunks: Vec<Vec<u8>> = stmt
            .query_map([id.to_string()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if chunks.is_empty() {
            return Err(Error::NotFound { kind: "record", id });
        }
        self.documents_loaded.set(self.documents_loaded.get() + 1);
        Document::load_stored(id, &self.actor, chunks.iter().map(Vec::as_slice))
    }

    fn attestations(&self, id: RecordId) -> Result<Vec<Attestation>> {
        let mut stmt = self.main.prepare_cached(
            "SELECT event FROM attestations WHERE record_id = ?1 ORDER BY signed_at, id",
        )?;
        let rows = stmt.query_map([id.to_string()], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            let event: Attestation = serde_json::from_str(&row?)
                .map_err(|e| Error::Storage(format!("attestation unreadable: {e}")))?;
            out.push(event);
        }
        Ok(out)
    }

    /// Durably records a local change: outbox first (FULL), then the main database.
    fn commit_change(
        &mut self,
        id: RecordId,
        body: &RecordBody,
        bytes: &[u8],
        doc: &mut Document,
    ) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.commit_local(id, "change", bytes, priority(body.kind()), |tx| {
            insert_chunk(tx, id, bytes, doc)?;
            projection::project(tx, id, body)
        })
    }

    fn commit_attestation(&mut self, att: &Attestation) -> Result<()> {
        let payload = serde_json::to_vec(att).map_err(|e| Error::Storage(e.to_string()))?;
        self.commit_local(att.record_id, "attestation", &payload, 1, |tx| {
            insert_attestation(tx, att)
        })
    }

    /// The one write path for local work: the entry is committed to the outbox with
    /// `synchronous=FULL` (the moment of durability), then `apply` runs in one main-database
    /// transaction that also records the outbox position. If that transaction fails, the
    /// outbox entry is withdrawn so the failed operation never reappears.
    fn commit_local(
        &mut self,
        id: RecordId,
        entry_kind: &str,
        payload: &[u8],
        priority: i64,
        apply: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<()>,
    ) -> Result<()> {
        let seq = outbox_push(&self.outbox, id, entry_kind, payload, priority)?;
        let result = (|| {
            let tx = self.main.transaction()?;
            apply(&tx)?;
            set_outbox_mark(&tx, seq)?;
            tx.commit()?;
            Ok(())
        })();
        self.withdraw_on_failure(result, seq)
    }

    /// After the main database refused a write whose outbox entries (from `first_seq` on)
    /// are already queued, takes them back out so that "nothing was saved" stays true. When
    /// even that fails (a full disk refuses the delete too), the entries stay queued, will
    /// be sent and replayed, and the error says so.
    fn withdraw_on_failure(&mut self, result: Result<()>, first_seq: i64) -> Result<()> {
        let Err(e) = result else { return Ok(()) };
        match self
            .outbox
            .execute("DELETE FROM outbox WHERE seq >= ?1", [first_seq])
        {
            Ok(_) => Err(e),
            Err(withdrawal) => {
                tracing::warn!(error = %withdrawal, "a refused write stays queued");
                Err(Error::KeptForLater {
                    reason: e.to_string(),
                })
            }
        }
    }

    /// The last outbox entry the main database has applied (0 for none).
    fn outbox_mark(&self) -> Result<i64> {
        Ok(self
            .main
            .query_row("SELECT value FROM meta WHERE key = 'outbox_seq'", [], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(0))
    }

    /// Applies outbox entries newer than the main database's mark.
    fn replay_outbox(&mut self) -> Result<usize> {
        let mark = self.outbox_mark()?;
        let entries: Vec<(i64, String, String, Vec<u8>)> = {
            let mut stmt = self.outbox.prepare(
                "SELECT seq, record_id, entry_kind, payload FROM outbox WHERE seq > ?1 ORDER BY seq",
            )?;
            stmt.query_map([mark], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut applied = 0;
        for (seq, record_id, kind, payload) in entries {
            let id = parse_id(record_id);
            if kind == "change" {
                self.merge_remote(id, &payload)?;
            } else {
                let att: Attestation = serde_json::from_slice(&payload)
                    .map_err(|e| Error::Storage(format!("outbox attestation unreadable: {e}")))?;
                insert_attestation(&self.main, &att)?;
            }
            let tx = self.main.transaction()?;
            set_outbox_mark(&tx, seq)?;
            tx.commit()?;
            applied += 1;
        }
        Ok(applied)
    }

    /// Recomputes every projection from the documents.
    fn rebuild_projections(&mut self) -> Result<()> {
        let ids: Vec<String> = {
            let mut stmt = self
                .main
                .prepare("SELECT DISTINCT record_id FROM doc_chunks")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut bodies = Vec::with_capacity(ids.len());
        for id in ids {
            let id = parse_id(id);
            bodies.push((id, self.load(id)?.body()?));
        }
        // Members first, so that ordering never matters to later projections.
        bodies.sort_by_key(|(_, b)| b.kind() != RecordKind::Member);
        let tx = self.main.transaction()?;
        for table in projection::DERIVED_TABLES {
            tx.execute(&format!("DELETE FROM {table}"), [])?;
        }
        for (id, body) in &bodies {
            projection::project(&tx, *id, body)?;
        }
        tx.execute("DELETE FROM meta WHERE key = 'reproject_pending'", [])?;
        tx.commit()?;
        Ok(())
    }
}

fn required_roles(plan: &Plan) -> Vec<Role> {
    let mut roles = plan.kind.required_signers(plan.program);
    if plan.youth_signs {
        roles.push(Role::Youth);
    }
    roles
}

fn invalid(body: &RecordBody, field: &str, reason: &str) -> Error {
    Error::Invalid {
        kind: body.kind().as_str(),
        errors: vec![FieldError {
            field: field.into(),
            reason: reason.into(),
        }],
    }
}

fn parse_id(s: String) -> RecordId {
    RecordId::parse_str(&s).unwrap_or_default()
}

fn load_actor(main: &Connection) -> Result<Vec<u8>> {
    let existing: Option<Vec<u8>> = main
        .query_row("SELECT value FROM meta WHERE key = 'actor'", [], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(a) = existing {
        return Ok(a);
    }
    let actor = uuid::Uuid::new_v4().as_bytes().to_vec();
    main.execute(
        "INSERT INTO meta (key, value) VALUES ('actor', ?1)",
        [&actor],
    )?;
    Ok(actor)
}

/// Upload priority of a record kind: safety records (incidents, crisis plans) go first, and
/// so do members, so that a member added offline reaches the server before the incident
/// written about them (within one priority, the outbox keeps the order of writing).
fn priority(kind: RecordKind) -> i64 {
    match kind {
        // A member's enrollment travels with the member: the server checks notes and plans
        // against it, so it must never wait behind an incident of the same member.
        RecordKind::Member
        | RecordKind::Enrollment
        | RecordKind::Incident
        | RecordKind::CrisisPlan => 0,
        _ => 1,
    }
}

fn outbox_push(
    outbox: &Connection,
    id: RecordId,
    kind: &str,
    payload: &[u8],
    priority: i64,
) -> Result<i64> {
    Ok(outbox
        .prepare_cached(
            "INSERT INTO outbox (record_id, entry_kind, payload, written_at, priority)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING seq",
        )?
        .query_row(
            params![
                id.to_string(),
                kind,
                payload,
                Timestamp::now().millis(),
                priority
            ],
            |r| r.get(0),
        )?)
}

fn set_outbox_mark(tx: &rusqlite::Transaction<'_>, seq: i64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('outbox_seq', ?1)
         ON CONFLICT (key) DO UPDATE SET value = max(value, ?1)",
    )?
    .execute([seq])?;
    Ok(())
}

/// Appends a chunk; past [`COMPACT_AFTER_CHUNKS`], replaces the record's chunks with one
/// snapshot.
fn insert_chunk(
    tx: &rusqlite::Transaction<'_>,
    id: RecordId,
    bytes: &[u8],
    doc: &mut Document,
) -> Result<()> {
    let id_s = id.to_string();
    let count: i64 = tx
        .prepare_cached("SELECT count(*) FROM doc_chunks WHERE record_id = ?1")?
        .query_row([&id_s], |r| r.get(0))?;
    if count >= COMPACT_AFTER_CHUNKS {
        tx.execute("DELETE FROM doc_chunks WHERE record_id = ?1", [&id_s])?;
        tx.execute(
            "INSERT INTO doc_chunks (record_id, snapshot, bytes) VALUES (?1, 1, ?2)",
            params![id_s, doc.save()],
        )?;
    } else {
        tx.prepare_cached(
            "INSERT INTO doc_chunks (record_id, snapshot, bytes) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![id_s, count == 0, bytes])?;
    }
    Ok(())
}

fn insert_attestation(conn: &Connection, att: &Attestation) -> Result<()> {
    let event = serde_json::to_string(att).map_err(|e| Error::Storage(e.to_string()))?;
    conn.execute(
        "INSERT OR IGNORE INTO attestations (id, record_id, kind, role, signed_at, content_hash, event)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            att.id,
            att.record_id.to_string(),
            att.kind.as_str(),
            projection::json_name(&att.signer.role),
            att.signed_at.millis(),
            att.content_hash,
            event
        ],
    )?;
    Ok(())
}

/// Opens one of the store's databases. An unreadable file is a wrong key unless the key is
/// known to be right (`key_known`), in which case the file is damaged: it is moved to
/// quarantine and a new one is created in its place. Returns where a damaged file went.
/// Takes the store's lock file (`lock`), exclusively, for as long as the returned file is
/// open, and writes down who holds it. A second program opening the store gets
/// [`Error::InUse`] naming the holder, instead of racing the first one's writes (two
/// writers once left a write reported as failed saved in the records but gone from the
/// outbox). The operating system releases the lock when the holder exits, even by a crash.
fn hold(dir: &Path) -> Result<Holder> {
    use std::io::{Read, Seek, Write};
    let path = dir.join(LOCK_FILE);
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            // The holder writes itself down just after it takes the lock: give it a moment.
            // A name left by a holder killed before it could clear it is not the holder's.
            let mut holder = String::new();
            for _ in 0..20 {
                holder.clear();
                let _ = file
                    .rewind()
                    .and_then(|()| file.read_to_string(&mut holder));
                if !holder.trim().is_empty() && named_process_runs(&holder) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            if !named_process_runs(&holder) {
                holder.clear();
            }
            let holder = holder.trim();
            return Err(Error::InUse {
                holder: if holder.is_empty() {
                    "another program".into()
                } else {
                    holder
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(200)
                        .collect()
                },
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    let program = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "a program".into());
    // The name is a courtesy to whoever finds the store held; the lock is what holds it.
    // On a full disk it cannot be written, and the store still opens (reading, and raising
    // an alarm from the reserve, must work there).
    let named = file
        .set_len(0)
        .and_then(|()| file.rewind())
        // One write, so that a program reading it never sees half a name.
        .and_then(|()| {
            file.write_all(format!("process {} ({program})", std::process::id()).as_bytes())
        });
    if let Err(e) = named {
        tracing::warn!(error = %e, "could not write the store's holder down");
    }
    Ok(Holder(file))
}

/// The store's lock file, held open (and so locked) for the store's lifetime. Its name is
/// cleared on release, so that the next program to be refused never reads a name of a
/// program that no longer holds the store.
struct Holder(fs::File);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.set_len(0);
    }
}

/// Whether a holder's line is whole ("process <pid> (<program>)") and the process it names
/// still runs, where the system says (`/proc`); elsewhere, assumed.
fn named_process_runs(line: &str) -> bool {
    if !line.trim_end().ends_with(')') {
        return false;
    }
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    line.split_whitespace()
        .nth(1)
        .and_then(|pid| pid.parse::<u32>().ok())
        .is_some_and(|pid| proc.join(pid.to_string()).exists())
}

/// The name a signature shows: required, at most 200 characters, no control characters
/// (a terminal escape in a name would rewrite what a reviewer's screen shows).
fn check_signer_name(signer: &Signer) -> Result<()> {
    let name = signer.name.trim();
    let reason = if name.is_empty() {
        Some("is required")
    } else if name.chars().count() > 200 {
        Some("is at most 200 characters")
    } else if name.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(Error::Invalid {
            kind: "signature",
            errors: vec![FieldError {
                field: "name".into(),
                reason: reason.into(),
            }],
        }),
    }
}

/// Whether `key` reads the existing database at `path` (never creating one).
fn key_reads(path: &Path, key: &StoreKey) -> bool {
    path.exists()
        && open_keyed(path, key, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY, false).is_ok()
}

/// Whether the member `member` is on the device, read from the records database beside
/// the one writer that may hold it; `None` when the records cannot be read (a visit
/// session never waits on them).
pub(crate) fn member_on_device(dir: &Path, key: &StoreKey, member: RecordId) -> Option<bool> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE;
    let conn = open_keyed(&dir.join(MAIN_FILE), key, flags, false).ok()?;
    conn.execute_batch("PRAGMA busy_timeout = 5000;").ok()?;
    conn.prepare("SELECT 1 FROM members WHERE id = ?1")
        .and_then(|mut s| s.exists([member.to_string()]))
        .ok()
}

/// Whether SQLite's integrity check finds the database whole (an unreadable file is not).
pub(crate) fn is_whole(conn: &Connection) -> Result<bool> {
    match conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)) {
        Ok(s) => Ok(s == "ok"),
        Err(e) if is_unreadable(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn open_or_quarantine(
    dir: &Path,
    file: &str,
    key: &StoreKey,
    synchronous: &str,
    key_known: bool,
) -> Result<(Connection, Option<PathBuf>)> {
    let path = dir.join(file);
    match open_db(&path, key, synchronous) {
        Ok(c) => Ok((c, None)),
        Err(e) if is_unreadable(&e) && !key_known => Err(Error::WrongKey),
        Err(e) if is_unreadable(&e) => {
            let moved = quarantine(dir, file)?;
            Ok((open_db(&path, key, synchronous)?, Some(moved)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Moves a damaged database (and its WAL and shared-memory files) to
/// `quarantine/<UTC time>/`. Never deletes.
fn quarantine(dir: &Path, file: &str) -> Result<PathBuf> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let target = dir.join(QUARANTINE_DIR).join(stamp);
    fs::create_dir_all(&target).map_err(|e| Error::Io {
        path: target.clone(),
        source: e,
    })?;
    for suffix in ["", "-wal", "-shm"] {
        let from = dir.join(format!("{file}{suffix}"));
        if from.exists() {
            let to = target.join(format!("{file}{suffix}"));
            fs::rename(&from, &to).map_err(|e| Error::Io {
                path: from.clone(),
                source: e,
            })?;
        }
    }
    tracing::warn!(file, "damaged database moved to quarantine");
    Ok(target)
}
