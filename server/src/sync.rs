//! The server's half of sync: validating and storing what devices upload, and computing
//! what each device lacks.
//!
//! **Ingest** checks every change as the device did before committing it (caseload, kind,
//! member, field validation, finalized notes, whose signature) and stores accepted ones as
//! feed rows. Duplicates (the heads do not move) are acknowledged without a new row, so
//! retries and replays are harmless. Feed sequence numbers are taken last, from a counter
//! row whose lock is held until commit: sequence order is commit order, even with several
//! processes on one PostgreSQL, so a cursor never skips a change.
//!
//! **Download** compares the scopes the device holds with the scopes it should hold
//! ([`crate::policy::sync_scopes`]): new scopes arrive as whole documents, lost ones as
//! purges, held ones as feed rows after the cursor. Grants and purges count as received
//! only when the device presents a cursor carrying them, so a lost response is resent.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use fieldnote_core::access::{self, Author};
use fieldnote_core::document::Document;
use fieldnote_core::model::{Program, RecordBody, RecordId, RecordKind};
use fieldnote_core::store::signing_role;
use fieldnote_core::{Attestation, AttestationKind, signing};
use fieldnote_protocol::{self as proto, Ack, Cursor, Item, ItemKind, Outcome, ServerRole, Upload};

use crate::auth::Principal;
use crate::db::{Tx, Val};
use crate::error::{Error, Result};
use crate::params;
use crate::policy::{self, Action, Owner};

/// The automerge actor of documents the server itself writes (demo data).
pub const SERVER_ACTOR: &[u8] = b"fieldnote-server";
/// After this many change rows, a document gets a snapshot row so loading it stays cheap.
const SNAPSHOT_AFTER: i64 = 32;
/// Rows per multi-row statement in an ingest: few enough that the distinct statements a
/// connection prepares stay bounded (one per remainder), enough that a batch takes few
/// round trips.
const ROWS_PER_STATEMENT: usize = 32;
/// Feed rows read per download query.
const FEED_PAGE: i64 = 2_000;

/// A document row, locked for this transaction.
struct DocRow {
    kind: String,
    scope: String,
    finalized: bool,
    chunks: i64,
}

/// A document loaded (and possibly changed) during one ingest.
struct Loaded {
    row: DocRow,
    doc: Document,
    body: RecordBody,
}

/// What one ingest did.
#[derive(Debug, Default)]
pub struct Ingested {
    /// One acknowledgement per upload.
    pub acks: Vec<Ack>,
    /// Records written (for the audit log).
    pub written: BTreeSet<String>,
    /// Records whose server state went back with a refusal (a read, for the audit log).
    pub disclosed: BTreeSet<String>,
}

/// The refusal of any upload naming a record the caller may not read: the same words
/// whether the record exists or not, so a refusal never reveals another caseload's ids.
pub const NOT_ON_CASELOAD: &str = "record_id: no such record or member on your caseload";

/// A new record's document, parsed ahead of the transaction.
pub type Parsed = Option<(Document, RecordBody)>;

/// Parses every change upload as if it created a record. This is most of an ingest's CPU
/// work and needs no database, so it runs before the transaction (in parallel with other
/// requests); entries for records that already exist are applied inside it instead.
pub fn preparse(uploads: &[Upload]) -> Vec<Parsed> {
    uploads
        .iter()
        .map(|up| {
            if up.item.kind != ItemKind::Change {
                return None;
            }
            let id = RecordId::parse_str(&up.item.record_id).ok()?;
            let doc = Document::load(id, SERVER_ACTOR, [up.item.payload.as_slice()]).ok()?;
            let body = doc.body().ok()?;
            Some((doc, body))
        })
        .collect()
}

/// Validates and stores a batch of uploads from `p`'s device. Refusals are per entry;
/// only database failures fail the whole batch (and then nothing is stored).
pub fn ingest(
    tx: &mut dyn Tx,
    p: &Principal,
    agency: Option<&str>,
    uploads: &[Upload],
    parsed: &mut [Parsed],
    now: i64,
) -> Result<Ingested> {
    let author = Author {
        staff_id: RecordId::parse_str(&p.staff_id)
            .map_err(|_| Error::Internal("stored staff id is not a uuid".into()))?,
        role: signing_role(p.role),
    };
    // The uploading device's registered key, read only when it uploads a signature.
    let signs = uploads.iter().any(|u| u.item.kind == ItemKind::Attestation);
    let device_key = match &p.device_id {
        Some(device) if signs => tx
            .query_opt(
                "SELECT signing_key FROM devices WHERE id = $1",
                params![device],
            )?
            .and_then(|r| r[0].opt_text()),
        _ => None,
    };
    let mut ctx = Ingest {
        tx,
        p,
        agency,
        author,
        device_key,
        docs: HashMap::new(),
        feed: Vec::new(),
        owners: HashMap::new(),
        enrolled: HashMap::new(),
    };
    let mut out = Ingested::default();
    let mut refused: HashMap<String, String> = HashMap::new();
    for (i, up) in uploads.iter().enumerate() {
        let rid = up.item.record_id.clone();
        let pre = parsed.get_mut(i).and_then(Option::take);
        let result = match refused.get(&rid) {
            Some(_) => Err("an earlier edit of this record in the same sync was refused".into()),
            None => ctx.one(up, pre)?,
        };
        let outcome = match result {
            Ok(applied) => {
                if applied {
                    out.written.insert(rid.clone());
                }
                Outcome::Accepted
            }
            Err(reason) => {
                refused.insert(rid.clone(), reason.clone());
                ctx.docs.remove(&rid);
                // The server's copy goes back only to a caller who may read the record.
                let (server_state, server_attestations) = match ctx.readable_state(&rid)? {
                    Some((state, attestations)) => {
                        out.disclosed.insert(rid.clone());
                        (Some(state), attestations)
                    }
                    None => (None, Vec::new()),
                };
                Outcome::Rejected {
                    reason,
                    server_state,
                    server_attestations,
                }
            }
        };
        out.acks.push(Ack {
            entry: up.entry,
            record_id: rid,
            outcome,
        });
    }
    ctx.finish(now)?;
    Ok(out)
}

struct Ingest<'a> {
    tx: &'a mut dyn Tx,
    p: &'a Principal,
    agency: Option<&'a str>,
    author: Author,
    /// The uploading device's registered signing key (read only when it uploads one).
    device_key: Option<String>,
    docs: HashMap<String, Loaded>,
    /// Feed rows to write at the end: (record, kind, payload).
    feed: Vec<(String, &'static str, Vec<u8>)>,
    /// Scope owners looked up in this batch.
    owners: HashMap<String, Option<Owner>>,
    /// The programs each member was enrolled in before this batch, looked up once.
    enrolled: HashMap<String, HashSet<Program>>,
}

/// One upload's outcome: applied (`Ok(true)`), already held (`Ok(false)`: a resend, which
/// changes nothing and is not audited again), or refused with the reason.
type Refusal = std::result::Result<bool, String>;

impl Ingest<'_> {
    fn one(&mut self, up: &Upload, parsed: Parsed) -> Result<Refusal> {
        let Ok(id) = RecordId::parse_str(&up.item.record_id) else {
            return Ok(Err("record_id: not a valid id".into()));
        };
        match up.item.kind {
            ItemKind::Change => self.change(id, &up.item.payload, parsed),
            ItemKind::Attestation => self.attestation(id, &up.item.payload),
        }
    }

    fn may_write(&mut self, scope: &str) -> Result<bool> {
        if !self.owners.contains_key(scope) {
            let owner = policy::owner_of(self.tx, scope)?;
            self.owners.insert(scope.to_string(), owner);
        }
        Ok(match &self.owners[scope] {
            Some(owner) => policy::allowed(self.p, self.agency, &Action::WriteScope(owner)),
            None => false,
        })
    }

    fn change(&mut self, id: RecordId, payload: &[u8], parsed: Parsed) -> Result<Refusal> {
        let key = id.to_string();
        if !self.docs.contains_key(&key) {
            match self.load(&key)? {
                Some(loaded) => {
                    self.docs.insert(key.clone(), loaded);
                }
                None => return self.create(id, payload, parsed),
            }
        }
        let Some(loaded) = self.docs.get_mut(&key) else {
            return Err(Error::Internal("document vanished".into()));
        };
        // Who may touch it first. Anyone else is answered exactly as if the record did not
        // exist: the upload is judged as a new record, and refused as one outside the
        // caseload.
        let scope = loaded.row.scope.clone();
        if !self.may_write(&scope)? {
            return Ok(Err(match self.new_record(id, payload, None) {
                Err(reason) => reason,
                Ok(_) => NOT_ON_CASELOAD.into(),
            }));
        }
        let Some(loaded) = self.docs.get_mut(&key) else {
            return Err(Error::Internal("document vanished".into()));
        };
        let before = loaded.doc.heads();
        if let Err(e) = loaded.doc.apply(payload) {
            return Ok(Err(format!("the change could not be read: {e}")));
        }
        if loaded.doc.has_missing_deps() {
            return Ok(Err(
                "the change builds on edits the server does not have".into()
            ));
        }
        // Duplicates are recognised before anything else is judged: a resend of changes
        // already held (a phone that crashed before it heard the answer) is acknowledged,
        // even of a note finalized since.
        if loaded.doc.heads() == before {
            return Ok(Ok(false));
        }
        // A refusal drops this copy of the document (with the change just applied) from the
        // batch.
        if loaded.row.finalized {
            return Ok(Err(
                "this note is finalized and can no longer change; write an addendum".into(),
            ));
        }
        let body = match loaded.doc.body() {
            Ok(b) => b,
            Err(e) => return Ok(Err(format!("the record could not be read: {e}"))),
        };
        if body.kind() != loaded.body.kind() {
            return Ok(Err("a record's kind cannot change".into()));
        }
        if body.member_id() != loaded.body.member_id() {
            return Ok(Err("a record cannot move to another member".into()));
        }
        if let Some(reason) = field_errors(&body) {
            return Ok(Err(reason));
        }
        // An edit answers to the enrollment rule only when it moves the record to another
        // program (an enrollment ended since does not freeze its notes).
        let program_changed = body.program() != loaded.body.program();
        if program_changed && let Some(reason) = self.enrollment_missing(&body)? {
            return Ok(Err(reason));
        }
        let Some(loaded) = self.docs.get_mut(&key) else {
            return Err(Error::Internal("document vanished".into()));
        };
        loaded.body = body;
        loaded.row.chunks += 1;
        self.feed.push((key, "change", payload.to_vec()));
        Ok(Ok(true))
    }

    /// Reads an upload as a new record and checks what needs no database: its fields, that
    /// the author may create it, and for a member that the caller adds members and has a
    /// team. The refusal, if any, is the same whatever records exist.
    fn new_record(
        &self,
        id: RecordId,
        payload: &[u8],
        parsed: Parsed,
    ) -> std::result::Result<(Document, RecordBody), String> {
        let (doc, body) = match parsed {
            Some(p) => p,
            None => {
                let doc = Document::load(id, SERVER_ACTOR, [payload])
                    .map_err(|e| format!("the record could not be read: {e}"))?;
                let body = doc
                    .body()
                    .map_err(|e| format!("the record could not be read: {e}"))?;
                (doc, body)
            }
        };
        if let Some(reason) = field_errors(&body) {
            return Err(reason);
        }
        access::check_new_record(&self.author, &body)?;
        if let RecordBody::Member(_) = &body {
            if !policy::allowed(self.p, self.agency, &Action::CreateMember) {
                return Err("your role does not add members".into());
            }
            if self.p.team_id.is_none() {
                return Err("you are not on a team".into());
            }
        }
        Ok((doc, body))
    }

    fn create(&mut self, id: RecordId, payload: &[u8], parsed: Parsed) -> Result<Refusal> {
        let (doc, body) = match self.new_record(id, payload, parsed) {
            Ok(new) => new,
            Err(reason) => return Ok(Err(reason)),
        };
        let key = id.to_string();
        let scope = match &body {
            RecordBody::Member(_) => {
                let Some(team) = self.p.team_id.clone() else {
                    return Ok(Err("you are not on a team".into()));
                };
                let inserted = self.tx.exec(
                    "INSERT INTO assignments (member_id, team_id, worker_id, assigned_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (member_id) DO NOTHING",
                    params![
                        &key,
                        team,
                        &self.p.user_id,
                        fieldnote_core::Timestamp::now().millis()
                    ],
                )?;
                // An earlier upload of this batch may have looked for the member before it
                // existed; the answer is looked up again.
                self.owners.remove(&key);
                if inserted == 0 && !self.may_write(&key)? {
                    return Ok(Err(NOT_ON_CASELOAD.into()));
                }
                if inserted == 1
                    && let Some(device) = &self.p.device_id
                {
                    // The device that created the member holds it already: it is not sent
                    // back as a grant.
                    self.tx.exec(
                        "INSERT INTO device_scopes (device_id, scope, granted_at, revoked_at)
                         VALUES ($1, $2, 0, NULL) ON CONFLICT (device_id, scope) DO NOTHING",
                        params![device, &key],
                    )?;
                }
                key.clone()
            }
            other => match other.member_id() {
                Some(m) => {
                    let scope = m.to_string();
                    if !self.may_write(&scope)? {
                        return Ok(Err(NOT_ON_CASELOAD.into()));
                    }
                    if let Some(reason) = self.enrollment_missing(other)? {
                        return Ok(Err(reason));
                    }
                    scope
                }
                None => policy::staff_scope(&self.p.staff_id),
            },
        };
        let inserted = self.tx.exec(
            "INSERT INTO documents (id, kind, scope, finalized, created_by, updated_at, chunks)
             VALUES ($1, $2, $3, 0, $4, $5, 1) ON CONFLICT (id) DO NOTHING",
            params![
                &key,
                body.kind().as_str(),
                &scope,
                &self.p.user_id,
                fieldnote_core::Timestamp::now().millis()
            ],
        )?;
        if inserted == 0 {
            // Created meanwhile by another device: treat as an edit.
            return self.change(id, payload, None);
        }
        let kind = body.kind().as_str().to_string();
        self.docs.insert(
            key.clone(),
            Loaded {
                row: DocRow {
                    kind,
                    scope,
                    finalized: false,
                    chunks: 1,
                },
                doc,
                body,
            },
        );
        self.feed.push((key, "change", payload.to_vec()));
        Ok(Ok(true))
    }

    fn attestation(&mut self, id: RecordId, payload: &[u8]) -> Result<Refusal> {
        let att: Attestation = match serde_json::from_slice(payload) {
            Ok(a) => a,
            Err(e) => return Ok(Err(format!("the signature event could not be read: {e}"))),
        };
        if att.record_id != id {
            return Ok(Err("the signature belongs to another record".into()));
        }
        if !att.verify() {
            return Ok(Err("the signature event was altered".into()));
        }
        if let Err(reason) = access::check_attestation(&self.author, &att) {
            return Ok(Err(reason));
        }
        let key = id.to_string();
        if !self.docs.contains_key(&key) {
            match self.load(&key)? {
                Some(l) => {
                    self.docs.insert(key.clone(), l);
                }
                None => return Ok(Err(NOT_ON_CASELOAD.into())),
            }
        }
        let Some(loaded) = self.docs.get(&key) else {
            return Err(Error::Internal("document vanished".into()));
        };
        let (scope, kind, finalized) = (
            loaded.row.scope.clone(),
            loaded.row.kind.clone(),
            loaded.row.finalized,
        );
        let note_author = match &loaded.body {
            RecordBody::ContactNote(n) => Some(n.author),
            _ => None,
        };
        if !self.may_write(&scope)? {
            return Ok(Err(NOT_ON_CASELOAD.into()));
        }
        let exists = self
            .tx
            .query_opt("SELECT 1 FROM attestations WHERE id = $1", params![&att.id])?
            .is_some();
        if exists {
            // Already held (a resend, or a device re-queuing what it received after losing
            // its outbox): nothing new is written.
            return Ok(Ok(false));
        }
        // Who made it: the uploading device, with the key it registered at sign-in. A
        // signature taken from another device, forged, or unsigned stops here.
        let Some(device_key) = &self.device_key else {
            return Ok(Err(
                "this device registered no signing key at sign-in; sign in again to sign".into(),
            ));
        };
        if let Err(reason) = signing::check_signature(&att) {
            return Ok(Err(reason));
        }
        if att.key.as_ref() != Some(device_key) {
            return Ok(Err("signed by a key that is not this device's".into()));
        }
        match att.kind {
            AttestationKind::Finalize => {
                if kind != RecordKind::ContactNote.as_str() {
                    return Ok(Err("only a contact note is finalized".into()));
                }
                if finalized {
                    return Ok(Err("this note is already finalized".into()));
                }
                if note_author != att.signer.staff_id {
                    return Ok(Err("a note is finalized by its author".into()));
                }
            }
            AttestationKind::Sign => {
                if kind != RecordKind::Plan.as_str() {
                    return Ok(Err("only a plan is signed".into()));
                }
            }
            AttestationKind::Approve | AttestationKind::Return => {
                if !reviewable(&kind) {
                    return Ok(Err("only contact notes and plans are reviewed".into()));
                }
            }
        }
        self.tx.exec(
            "INSERT INTO attestations (id, record_id, kind, event) VALUES ($1, $2, $3, $4)",
            params![
                &att.id,
                &key,
                att.kind.as_str(),
                String::from_utf8_lossy(payload).into_owned()
            ],
        )?;
        if att.kind == AttestationKind::Finalize {
            self.tx.exec(
                "UPDATE documents SET finalized = 1 WHERE id = $1",
                params![&key],
            )?;
            if let Some(l) = self.docs.get_mut(&key) {
                l.row.finalized = true;
            }
        }
        self.feed.push((key, "attestation", payload.to_vec()));
        Ok(Ok(true))
    }

    /// Loads and locks a stored document.
    fn load(&mut self, key: &str) -> Result<Option<Loaded>> {
        let sql = format!(
            "SELECT kind, scope, finalized, chunks, snapshot_seq FROM documents WHERE id = $1{}",
            self.tx.for_update()
        );
        let Some(r) = self.tx.query_opt(&sql, params![key])? else {
            return Ok(None);
        };
        let row = DocRow {
            kind: r[0].text(),
            scope: r[1].text(),
            finalized: r[2].int() != 0,
            chunks: r[3].int(),
        };
        let doc = load_document(self.tx, key, r[4].int())?;
        let body = doc.body()?;
        Ok(Some(Loaded { row, doc, body }))
    }

    /// Why `body` cannot be written, when it is a note or plan under a program its member
    /// has no enrollment in, counting enrollments accepted earlier in this batch. Asked only
    /// of a caller who may write the member's records.
    fn enrollment_missing(&mut self, body: &RecordBody) -> Result<Option<String>> {
        let Some((member, program)) = body.enrollment_needed() else {
            return Ok(None);
        };
        let in_batch = self.docs.values().any(|l| {
            matches!(&l.body, RecordBody::Enrollment(e)
                if e.member_id == member && e.program == program)
        });
        if in_batch {
            return Ok(None);
        }
        let scope = member.to_string();
        if !self.enrolled.contains_key(&scope) {
            let rows = self.tx.query(
                "SELECT id, snapshot_seq FROM documents WHERE scope = $1 AND kind = $2",
                params![&scope, RecordKind::Enrollment.as_str()],
            )?;
            let mut programs = HashSet::new();
            for r in rows {
                let id = r[0].text();
                // One loaded in this batch is at hand; any other is read as committed plus
                // what this batch accepted of it (one whose later edit in this batch was
                // refused is dropped from the batch's documents but keeps its accepted
                // changes). One that cannot be read counts for nothing.
                let body = match self.docs.get(&id) {
                    Some(loaded) => Some(loaded.body.clone()),
                    None => self.current_document(&id, r[1].int())?.body().ok(),
                };
                if let Some(RecordBody::Enrollment(e)) = body {
                    programs.insert(e.program);
                }
            }
            self.enrolled.insert(scope.clone(), programs);
        }
        Ok((!self.enrolled[&scope].contains(&program))
            .then(|| format!("program: {}", RecordBody::not_enrolled_reason(program))))
    }

    /// A document as the server holds it: committed, plus the changes accepted in this
    /// batch (written to the feed only when the batch ends).
    fn current_document(&mut self, key: &str, snapshot_seq: i64) -> Result<Document> {
        let mut doc = load_document(self.tx, key, snapshot_seq)?;
        for (_, _, payload) in self
            .feed
            .iter()
            .filter(|(k, kind, _)| k == key && *kind == "change")
        {
            doc.apply(payload)?;
        }
        Ok(doc)
    }

    /// The record as the server holds it (committed plus accepted in this batch), with its
    /// attestations, when it exists and the caller may read it; `None` otherwise.
    fn readable_state(&mut self, key: &str) -> Result<Option<(Vec<u8>, Vec<String>)>> {
        let Some(r) = self.tx.query_opt(
            "SELECT snapshot_seq, scope FROM documents WHERE id = $1",
            params![key],
        )?
        else {
            return Ok(None);
        };
        if !self.may_write(&r[1].text())? {
            return Ok(None);
        }
        let mut doc = self.current_document(key, r[0].int())?;
        let atts = self
            .tx
            .query(
                "SELECT event FROM attestations WHERE record_id = $1 ORDER BY id",
                params![key],
            )?
            .into_iter()
            .map(|r| r[0].text())
            .collect();
        Ok(Some((doc.save(), atts)))
    }

    /// Writes the feed rows (taking sequence numbers last) and snapshots long documents.
    fn finish(mut self, now: i64) -> Result<()> {
        if self.feed.is_empty() {
            return Ok(());
        }
        let mut snapshots = Vec::new();
        for (key, l) in self.docs.iter_mut() {
            if l.row.chunks >= SNAPSHOT_AFTER {
                snapshots.push((key.clone(), l.doc.save_uncompressed()));
            }
        }
        // Documents that gained the same number of chunks are updated together, before the
        // feed counter is taken (their rows are this transaction's already).
        let mut counts: HashMap<&str, i64> = HashMap::new();
        for (key, kind, _) in &self.feed {
            if *kind == "change" {
                *counts.entry(key.as_str()).or_default() += 1;
            }
        }
        let mut by_added: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
        for (key, added) in counts {
            by_added.entry(added).or_default().push(key);
        }
        for (added, keys) in by_added {
            for ids in keys.chunks(ROWS_PER_STATEMENT) {
                let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
                let mut params = vec![Val::from(added), Val::from(now)];
                params.extend(ids.iter().map(|id| Val::from(*id)));
                self.tx.exec(
                    &format!(
                        "UPDATE documents SET chunks = chunks + $1, updated_at = $2 WHERE id IN ({})",
                        list.join(", ")
                    ),
                    &params,
                )?;
            }
        }
        let n = (self.feed.len() + snapshots.len()) as i64;
        // From here to the commit the feed counter's row is locked, and every other
        // device's ingest waits for it: the rows go in a few multi-row statements, each a
        // round trip fewer under the lock.
        let last = self.tx.next_counter("feed", n)?;
        let mut seq = last - n + 1;
        let device = self.p.device_id.clone();
        let feed = std::mem::take(&mut self.feed);
        for rows in feed.chunks(ROWS_PER_STATEMENT) {
            let mut values = Vec::with_capacity(rows.len());
            let mut params = Vec::with_capacity(rows.len() * 6);
            for (key, kind, payload) in rows {
                let at = params.len();
                values.push(format!(
                    "(${}, ${}, ${}, ${}, ${}, ${})",
                    at + 1,
                    at + 2,
                    at + 3,
                    at + 4,
                    at + 5,
                    at + 6
                ));
                params.extend([
                    Val::from(seq),
                    Val::from(key),
                    Val::from(*kind),
                    Val::from(device.clone()),
                    Val::from(payload.as_slice()),
                    Val::from(now),
                ]);
                seq += 1;
            }
            self.tx.exec(
                &format!(
                    "INSERT INTO feed (seq, record_id, kind, origin_device, payload, committed_at) VALUES {}",
                    values.join(", ")
                ),
                &params,
            )?;
        }
        for (key, bytes) in snapshots {
            self.tx.exec(
                "INSERT INTO feed (seq, record_id, kind, origin_device, payload, committed_at)
                 VALUES ($1, $2, 'snapshot', NULL, $3, $4)",
                params![seq, &key, bytes, now],
            )?;
            self.tx.exec(
                "UPDATE documents SET chunks = 0, snapshot_seq = $1 WHERE id = $2",
                params![seq, &key],
            )?;
            seq += 1;
        }
        Ok(())
    }
}

/// Every validation problem of a record, as one sentence, or `None`.
fn field_errors(body: &RecordBody) -> Option<String> {
    let errors = body.validate();
    (!errors.is_empty()).then(|| {
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// Loads a document from its feed rows, from its latest snapshot on.
pub fn load_document(tx: &mut dyn Tx, key: &str, snapshot_seq: i64) -> Result<Document> {
    let id = RecordId::parse_str(key).map_err(|_| Error::Internal("bad stored id".into()))?;
    let chunks: Vec<Vec<u8>> = tx
        .query(
            "SELECT payload FROM feed WHERE record_id = $1 AND seq >= $2
             AND kind <> 'attestation' ORDER BY seq",
            params![key, snapshot_seq],
        )?
        .into_iter()
        .map(|mut r| r.swap_remove(0).into_bytes())
        .collect();
    Ok(Document::load_stored(
        id,
        SERVER_ACTOR,
        chunks.iter().map(Vec::as_slice),
    )?)
}

/// Stores a document the server writes itself (demo data, imports), as one feed row.
pub fn store_new_document(
    tx: &mut dyn Tx,
    id: RecordId,
    body: &RecordBody,
    scope: &str,
    created_by: &str,
    now: i64,
) -> Result<()> {
    let mut doc = Document::create(id, SERVER_ACTOR, body)?;
    let bytes = doc.save_uncompressed();
    tx.exec(
        "INSERT INTO documents (id, kind, scope, finalized, created_by, updated_at, chunks)
         VALUES ($1, $2, $3, 0, $4, $5, 1)",
        params![id.to_string(), body.kind().as_str(), scope, created_by, now],
    )?;
    let seq = tx.next_counter("feed", 1)?;
    tx.exec(
        "INSERT INTO feed (seq, record_id, kind, origin_device, payload, committed_at)
         VALUES ($1, $2, 'change', NULL, $3, $4)",
        params![seq, id.to_string(), bytes, now],
    )?;
    Ok(())
}

/// Whether records of `kind` go through supervisor review (contact notes and plans).
pub fn reviewable(kind: &str) -> bool {
    kind == RecordKind::ContactNote.as_str() || kind == RecordKind::Plan.as_str()
}

/// Stores an attestation the server writes itself (demo data, and the console's reviews
/// and co-signatures), signed with the server's key, and appends it to the feed, so devices
/// holding the record receive it.
pub fn store_attestation(tx: &mut dyn Tx, att: &Attestation, now: i64) -> Result<()> {
    let mut att = att.clone();
    tx.audit_key()
        .ok_or_else(|| Error::Internal("no server key to sign with".into()))?
        .attestation_key()
        .sign(&mut att);
    let att = &att;
    let event = serde_json::to_string(att).map_err(|e| Error::Internal(e.to_string()))?;
    tx.exec(
        "INSERT INTO attestations (id, record_id, kind, event) VALUES ($1, $2, $3, $4)",
        params![
            &att.id,
            att.record_id.to_string(),
            att.kind.as_str(),
            &event
        ],
    )?;
    if att.kind == AttestationKind::Finalize {
        tx.exec(
            "UPDATE documents SET finalized = 1 WHERE id = $1",
            params![att.record_id.to_string()],
        )?;
    }
    let seq = tx.next_counter("feed", 1)?;
    tx.exec(
        "INSERT INTO feed (seq, record_id, kind, origin_device, payload, committed_at)
         VALUES ($1, $2, 'attestation', NULL, $3, $4)",
        params![seq, att.record_id.to_string(), event.into_bytes(), now],
    )?;
    Ok(())
}

/// Who holds each key that signed an attestation in `response` (its items and the server's
/// attestations sent back with refusals): the devices' users by staff id, with the time a
/// device was revoked, and the server's own key. A key nobody registered is left out, so
/// the device refuses what it signed.
pub fn signer_keys(
    tx: &mut dyn Tx,
    response: &proto::SyncResponse,
) -> Result<Vec<proto::SignerKey>> {
    #[derive(serde::Deserialize)]
    struct Keyed {
        key: Option<String>,
    }
    let refused = response.acks.iter().flat_map(|a| match &a.outcome {
        Outcome::Rejected {
            server_attestations,
            ..
        } => server_attestations.as_slice(),
        Outcome::Accepted => &[],
    });
    let keys: BTreeSet<String> = response
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Attestation)
        .map(|i| i.payload.as_slice())
        .chain(refused.map(String::as_bytes))
        .filter_map(|event| serde_json::from_slice::<Keyed>(event).ok()?.key)
        .collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let server_key = tx.audit_key().map(|k| k.attestation_key().public_key());
    let mut out = Vec::new();
    for key in keys {
        if Some(&key) == server_key.as_ref() {
            out.push(proto::SignerKey {
                key,
                staff_id: None,
                revoked_at: None,
            });
            continue;
        }
        if let Some(r) = tx.query_opt(
            "SELECT u.staff_id, d.revoked_at FROM devices d JOIN users u ON u.id = d.user_id
             WHERE d.signing_key = $1
             ORDER BY d.revoked_at IS NOT NULL, d.revoked_at DESC LIMIT 1",
            params![&key],
        )? {
            out.push(proto::SignerKey {
                key,
                staff_id: Some(r[0].text()),
                revoked_at: r[1].opt_int(),
            });
        }
    }
    Ok(out)
}

/// What a device receives in one round.
#[derive(Debug, Default)]
pub struct Download {
    /// The response body (acks filled in by the caller).
    pub response: proto::SyncResponse,
    /// Records sent (for the audit log).
    pub read: BTreeSet<String>,
}

/// Computes what `p`'s device lacks after `cursor`, within the download budget.
pub fn download(
    tx: &mut dyn Tx,
    p: &Principal,
    agency: Option<&str>,
    cursor: Cursor,
    now: i64,
) -> Result<Download> {
    let device = p
        .device_id
        .clone()
        .ok_or_else(|| Error::Forbidden("only a registered device syncs".into()))?;
    let mut out = Download::default();
    let sql = format!(
        "SELECT grant_counter, revoked_at, feed_high FROM devices WHERE id = $1{}",
        tx.for_update()
    );
    let dev = tx
        .query_opt(&sql, params![&device])?
        .ok_or_else(|| Error::Unauthenticated("unknown device".into()))?;
    if dev[1].opt_int().is_some() {
        out.response.wipe = true;
        return Ok(out);
    }
    // Read the feed's top before anything else: every row up to it is committed.
    let feed_top =
        tx.query_one("SELECT value FROM counters WHERE name = 'feed'", params![])?[0].int();
    // A cursor past anything the server has given (a damaged or forged one) is taken as the
    // top, so the device is answered from where the feed really is and never waits forever
    // for positions that do not exist.
    let cursor = Cursor {
        feed: cursor.feed.clamp(0, feed_top),
        grant: cursor.grant.clamp(0, dev[0].int()),
    };
    // A cursor below what this device was already given means it was restored from an older
    // copy: its own changes up to that point are sent back too.
    let echo_own_to = if cursor.feed < dev[2].int() {
        dev[2].int()
    } else {
        0
    };
    let should: BTreeSet<String> = policy::sync_scopes(tx, p, agency)?.into_iter().collect();
    let rows = tx.query(
        "SELECT scope, granted_at, revoked_at FROM device_scopes WHERE device_id = $1",
        params![&device],
    )?;
    tx.exec(
        "DELETE FROM device_scopes WHERE device_id = $1 AND revoked_at IS NOT NULL
         AND revoked_at <= $2",
        params![&device, cursor.grant],
    )?;
    let mut held = HashSet::new();
    let mut to_purge = Vec::new();
    for r in rows {
        let scope = r[0].text();
        match r[2].opt_int() {
            None if !should.contains(&scope) => to_purge.push(scope),
            None if r[1].int() <= cursor.grant => {
                held.insert(scope);
            }
            None => {}
            Some(revoked) if revoked > cursor.grant => to_purge.push(scope),
            Some(_) => {}
        }
    }
    let to_grant: Vec<&String> = should.iter().filter(|s| !held.contains(*s)).collect();
    let mut grant = cursor.grant;
    if !to_grant.is_empty() || !to_purge.is_empty() {
        grant = tx.query_one(
            "UPDATE devices SET grant_counter = grant_counter + 1 WHERE id = $1
                 RETURNING grant_counter",
            params![&device],
        )?[0]
            .int();
    }
    let mut budget = proto::DOWNLOAD_BATCH_BYTES;
    let items = &mut out.response.items;
    for scope in to_grant {
        // A document is its feed rows from its latest snapshot on, stored uncompressed:
        // they are sent as they are, with no document loaded.
        let rows = tx.query(
            "SELECT f.record_id, f.kind, f.payload FROM documents d
             JOIN feed f ON f.record_id = d.id
                AND (f.seq >= d.snapshot_seq OR f.kind = 'attestation')
             WHERE d.scope = $1
             ORDER BY f.record_id, f.kind = 'attestation', f.seq",
            params![scope],
        )?;
        let mut scope_items: Vec<Item> = Vec::new();
        let mut size = 0;
        for mut r in rows {
            let key = r[0].text();
            let payload = std::mem::take(&mut r[2]).into_bytes();
            size += payload.len();
            let kind = if r[1].text() == "attestation" {
                ItemKind::Attestation
            } else {
                ItemKind::Change
            };
            match scope_items.last_mut() {
                Some(last)
                    if kind == ItemKind::Change
                        && last.kind == ItemKind::Change
                        && last.record_id == key =>
                {
                    last.payload.extend_from_slice(&payload);
                }
                _ => scope_items.push(Item {
                    record_id: key.clone(),
                    kind,
                    payload,
                }),
            }
            out.read.insert(key);
        }
        if size > budget && !items.is_empty() {
            out.response.more = true;
            break;
        }
        budget = budget.saturating_sub(size);
        items.extend(scope_items);
        tx.exec(
            "INSERT INTO device_scopes (device_id, scope, granted_at, revoked_at)
             VALUES ($1, $2, $3, NULL)
             ON CONFLICT (device_id, scope) DO UPDATE SET granted_at = $3, revoked_at = NULL",
            params![&device, scope, grant],
        )?;
    }
    for scope in to_purge {
        tx.exec(
            "UPDATE device_scopes SET revoked_at = $1 WHERE device_id = $2 AND scope = $3",
            params![grant, &device, &scope],
        )?;
        if !scope.starts_with("staff:") {
            out.response.purge.push(scope);
        }
    }
    let mut feed_to = feed_top;
    if !out.response.more {
        let rows = tx.query(
            "SELECT f.seq, f.record_id, f.kind, f.payload FROM feed f
             JOIN documents d ON d.id = f.record_id
             JOIN device_scopes s ON s.device_id = $1 AND s.scope = d.scope
             WHERE f.seq > $2 AND f.seq <= $3 AND s.revoked_at IS NULL AND s.granted_at <= $4
               AND f.kind <> 'snapshot'
               AND (f.origin_device IS NULL OR f.origin_device <> $1 OR f.seq <= $6)
             ORDER BY f.seq LIMIT $5",
            params![
                &device,
                cursor.feed,
                feed_top,
                cursor.grant,
                FEED_PAGE,
                echo_own_to
            ],
        )?;
        let full_page = rows.len() as i64 == FEED_PAGE;
        let mut last = cursor.feed;
        for mut r in rows {
            let payload = std::mem::take(&mut r[3]).into_bytes();
            if payload.len() > budget && !items.is_empty() {
                out.response.more = true;
                break;
            }
            budget = budget.saturating_sub(payload.len());
            last = r[0].int();
            let key = r[1].text();
            items.push(Item {
                record_id: key.clone(),
                kind: if r[2].text() == "attestation" {
                    ItemKind::Attestation
                } else {
                    ItemKind::Change
                },
                payload,
            });
            out.read.insert(key);
        }
        if out.response.more || full_page {
            out.response.more = true;
            feed_to = last;
        }
    } else {
        feed_to = cursor.feed;
    }
    out.response.cursor = Cursor {
        feed: feed_to.max(cursor.feed),
        grant,
    };
    tx.exec(
        "UPDATE devices SET last_sync_at = $1,
             feed_high = CASE WHEN feed_high < $3 THEN $3 ELSE feed_high END
         WHERE id = $2",
        params![now, &device, out.response.cursor.feed],
    )?;
    Ok(out)
}

/// The owner a member would have if assigned to `worker_user_id`.
pub fn owner_for_worker(tx: &mut dyn Tx, worker_user_id: &str) -> Result<Option<Owner>> {
    Ok(tx
        .query_opt(
            "SELECT u.team_id, t.agency_id, u.id, u.role FROM users u
             JOIN teams t ON t.id = u.team_id WHERE u.id = $1 AND u.disabled = 0",
            params![worker_user_id],
        )?
        .filter(|r| {
            matches!(
                ServerRole::parse(&r[3].text()),
                Some(ServerRole::Worker | ServerRole::Supervisor)
            )
        })
        .map(|r| Owner {
            team_id: r[0].text(),
            agency_id: r[1].text(),
            user_id: r[2].text(),
        }))
}
