//! The device's half of sync, with no network in it: building a request from the outbox and
//! applying the server's response to the store. The network client (`fieldnote-client`)
//! carries the messages; the shells decide when to sync.
//!
//! Pending work is exactly the outbox: an entry leaves it when the server acknowledges it.
//! A refused entry never disappears quietly: the record returns to the server's state and
//! the device's version is kept as a rejected draft, with the reason, until a person deals
//! with it.

use fieldnote_protocol as proto;
use rusqlite::{OptionalExtension, params};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Store, insert_attestation, insert_chunk, parse_id, projection};
use crate::access::Author;
use crate::attest::Attestation;
use crate::document::Document;
use crate::error::{Error, Result};
use crate::model::{RecordId, Role, Timestamp};

const IDENTITY_KEY: &str = "identity";
const CURSOR_KEY: &str = "sync_cursor";
const LAST_SYNC_KEY: &str = "last_synced_at";
/// Who holds each signing key, as the server said (see [`crate::signing`]).
const SIGNER_KEYS_KEY: &str = "signer_keys";
/// When a sync last left nothing waiting in the outbox: every record written since then is
/// queued again if the outbox is lost.
pub(crate) const DRAINED_KEY: &str = "outbox_drained_at";

/// Where one record stands with the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RecordSyncState {
    /// Local changes wait to be sent.
    Pending,
    /// The server holds everything the device has.
    Synced,
    /// The server refused the device's last edits; they are kept as a rejected draft.
    Rejected {
        /// Why.
        reason: String,
    },
}

/// Local edits the server refused, kept for a person to see, export or redo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedDraft {
    /// The draft's number on this device.
    pub id: i64,
    /// The record it belongs to.
    pub record_id: RecordId,
    /// `change` (the record's content) or `attestation` (a signature).
    pub entry_kind: String,
    /// Why it was refused.
    pub reason: String,
    /// When.
    pub rejected_at: Timestamp,
    /// The refused content as JSON: the record as the device had it, or the signature event.
    pub content: String,
}

/// What applying one sync response did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncApplied {
    /// Uploaded entries the server stored.
    pub accepted: usize,
    /// Uploaded entries the server refused (now rejected drafts).
    pub rejected: usize,
    /// Items received and merged.
    pub received: usize,
    /// Records removed because their member left the caseload.
    pub purged: usize,
    /// The server revoked this device: the caller must wipe the store.
    pub wipe: bool,
    /// Signatures received that were not signed by a key the server registered to their
    /// signer: not stored (a forged co-signature never counts on this device).
    pub refused_signatures: usize,
}

/// The device's sync state, for a status line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// Entries waiting to be sent.
    pub pending: usize,
    /// Rejected drafts waiting for a person.
    pub rejected: usize,
    /// When a sync last completed.
    pub last_synced_at: Option<Timestamp>,
}

/// A request ready to send, and whether entries remain for another round.
#[derive(Clone, Debug)]
pub struct PreparedSync {
    /// The request.
    pub request: proto::SyncRequest,
    /// More pending entries did not fit in this request.
    pub more_to_send: bool,
}

/// Maps a server role to the role its holder signs in.
pub fn signing_role(role: proto::ServerRole) -> Role {
    match role {
        proto::ServerRole::Worker => Role::Worker,
        proto::ServerRole::Supervisor => Role::Supervisor,
        proto::ServerRole::ProgramDirector | proto::ServerRole::Administrator => {
            Role::ProgramDirector
        }
    }
}

/// Signing keys by public key, with whom the server registered each to.
pub(crate) type SignerKeys = BTreeMap<String, proto::SignerKey>;

/// Whether an attestation received from the server may be stored: intact, and signed by a
/// key the server registered to its signer (see [`crate::signing::check_signer`]).
pub(crate) fn check_received(
    known: &SignerKeys,
    att: &Attestation,
) -> std::result::Result<(), String> {
    if !att.verify() {
        return Err("the attestation was altered".into());
    }
    let holder = att.key.as_ref().and_then(|k| known.get(k));
    crate::signing::check_signer(att, holder)
}

impl Store {
    /// The user signed in on this device, if any.
    pub fn identity(&self) -> Result<Option<proto::Identity>> {
        self.meta_json(IDENTITY_KEY)
    }

    /// Records who is signed in on this device. From then on the device refuses, before
    /// committing, what the server would refuse from this user (notes in another's name,
    /// signatures in another's name or role).
    pub fn set_identity(&mut self, identity: &proto::Identity) -> Result<()> {
        if let Some(existing) = self.identity()?
            && existing.user_id != identity.user_id
        {
            return Err(Error::SignatureRefused {
                reason: "this device's store belongs to another user; wipe it first".into(),
            });
        }
        self.set_meta_json(IDENTITY_KEY, identity)?;
        // This device's own key is its user's: attestations it made come back from the
        // server (after a rebuild, or in a refusal) and are checked like any other.
        let own = proto::SignerKey {
            key: self.device_public_key(),
            staff_id: Some(identity.staff_id.clone()),
            revoked_at: None,
        };
        self.remember_signer_keys(std::slice::from_ref(&own))
    }

    /// Adds what the server said about signing keys to what the device knows (a later word
    /// about a key, such as its revocation, replaces an earlier one).
    fn remember_signer_keys(&mut self, keys: &[proto::SignerKey]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut known = self.signer_keys()?;
        for k in keys {
            known.insert(k.key.clone(), k.clone());
        }
        self.set_meta_json(SIGNER_KEYS_KEY, &known)
    }

    /// Who holds each signing key, as far as this device knows.
    pub(crate) fn signer_keys(&self) -> Result<SignerKeys> {
        Ok(self.meta_json(SIGNER_KEYS_KEY)?.unwrap_or_default())
    }

    /// The signed-in user as an [`Author`], if any.
    pub(crate) fn author(&self) -> Result<Option<Author>> {
        Ok(self.identity()?.and_then(|i| {
            Some(Author {
                staff_id: RecordId::parse_str(&i.staff_id).ok()?,
                role: signing_role(i.role),
            })
        }))
    }

    /// Builds the next sync request: the cursor and a batch of pending entries, safety
    /// records first, then in the order they were written.
    pub fn prepare_sync(&self) -> Result<PreparedSync> {
        let cursor = self.meta_json(CURSOR_KEY)?.unwrap_or_default();
        let mut stmt = self.outbox.prepare_cached(
            "SELECT seq, record_id, entry_kind, payload FROM outbox ORDER BY priority, seq",
        )?;
        let mut rows = stmt.query([])?;
        let mut upload = Vec::new();
        let mut bytes = 0usize;
        let mut more_to_send = false;
        while let Some(row) = rows.next()? {
            let payload: Vec<u8> = row.get(3)?;
            if !upload.is_empty()
                && (bytes + payload.len() > proto::UPLOAD_BATCH_BYTES
                    || upload.len() >= proto::MAX_UPLOAD_ITEMS)
            {
                more_to_send = true;
                break;
            }
            bytes += payload.len();
            let kind: String = row.get(2)?;
            upload.push(proto::Upload {
                entry: row.get(0)?,
                item: proto::Item {
                    record_id: row.get(1)?,
                    kind: if kind == "attestation" {
                        proto::ItemKind::Attestation
                    } else {
                        proto::ItemKind::Change
                    },
                    payload,
                },
            });
        }
        Ok(PreparedSync {
            request: proto::SyncRequest {
                protocol: proto::PROTOCOL_VERSION,
                cursor,
                upload,
            },
            more_to_send,
        })
    }

    /// Applies the server's answer: acknowledged entries leave the outbox, refused ones
    /// become rejected drafts (the record takes the server's state), received items are
    /// merged, members no longer on the caseload are removed, and the cursor advances.
    /// Applying the same response twice is harmless.
    pub fn apply_sync(&mut self, response: &proto::SyncResponse) -> Result<SyncApplied> {
        let mut applied = SyncApplied {
            wipe: response.wipe,
            ..Default::default()
        };
        if response.wipe {
            return Ok(applied);
        }
        self.remember_signer_keys(&response.signer_keys)?;
        for ack in &response.acks {
            let record_id = parse_record_id(&ack.record_id)?;
            match &ack.outcome {
                proto::Outcome::Accepted => {
                    self.outbox
                        .prepare_cached("DELETE FROM outbox WHERE seq = ?1")?
                        .execute([ack.entry])?;
                    applied.accepted += 1;
                }
                proto::Outcome::Rejected {
                    reason,
                    server_state,
                    server_attestations,
                } => {
                    applied.refused_signatures += self.reject_entry(
                        ack.entry,
                        record_id,
                        reason,
                        server_state.as_deref(),
                        server_attestations,
                    )?;
                    applied.rejected += 1;
                }
            }
        }
        let changes: Vec<(RecordId, &[u8])> = response
            .items
            .iter()
            .filter(|i| i.kind == proto::ItemKind::Change)
            .map(|i| Ok((parse_record_id(&i.record_id)?, i.payload.as_slice())))
            .collect::<Result<_>>()?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut parsed = self.parse_new(&changes, threads).into_iter();
        let known = self.signer_keys()?;
        let tx = self.main.unchecked_transaction()?;
        for item in &response.items {
            let id = parse_record_id(&item.record_id)?;
            match item.kind {
                proto::ItemKind::Change => {
                    let pre = parsed.next().flatten();
                    self.merge_parsed(&tx, id, &item.payload, pre)?
                }
                proto::ItemKind::Attestation => {
                    let att: Attestation = serde_json::from_slice(&item.payload)
                        .map_err(|e| Error::Storage(format!("attestation from server: {e}")))?;
                    if let Err(reason) = check_received(&known, &att) {
                        // Refused, and the cursor moves on: one forged event never stops a
                        // device from syncing.
                        tracing::warn!(%reason, "a received signature was refused");
                        applied.refused_signatures += 1;
                        continue;
                    }
                    insert_attestation(&tx, &att)?;
                }
            }
            applied.received += 1;
        }
        tx.commit()?;
        for member in &response.purge {
            applied.purged += self.purge_member(parse_record_id(member)?)?;
        }
        self.set_meta_json(CURSOR_KEY, &response.cursor)?;
        self.set_meta_json(LAST_SYNC_KEY, &Timestamp::now())?;
        if self.outbox_len()? == 0 {
            self.set_meta_json(DRAINED_KEY, &Timestamp::now())?;
        }
        Ok(applied)
    }

    /// Where one record stands with the server.
    pub fn record_sync_state(&self, id: RecordId) -> Result<RecordSyncState> {
        let pending = self
            .outbox
            .prepare_cached("SELECT 1 FROM outbox WHERE record_id = ?1")?
            .exists([id.to_string()])?;
        if pending {
            return Ok(RecordSyncState::Pending);
        }
        let reason: Option<String> = self
            .main
            .prepare_cached(
                "SELECT reason FROM rejected_drafts WHERE record_id = ?1 ORDER BY id DESC LIMIT 1",
            )?
            .query_row([id.to_string()], |r| r.get(0))
            .optional()?;
        Ok(match reason {
            Some(reason) => RecordSyncState::Rejected { reason },
            None => RecordSyncState::Synced,
        })
    }

    /// Pending and rejected counts and the last completed sync.
    pub fn sync_status(&self) -> Result<SyncStatus> {
        let rejected: i64 =
            self.main
                .query_row("SELECT count(*) FROM rejected_drafts", [], |r| r.get(0))?;
        Ok(SyncStatus {
            pending: self.outbox_len()?,
            rejected: rejected as usize,
            last_synced_at: self.meta_json(LAST_SYNC_KEY)?,
        })
    }

    /// Every rejected draft, newest first.
    pub fn rejected_drafts(&self) -> Result<Vec<RejectedDraft>> {
        let mut stmt = self.main.prepare_cached(
            "SELECT id, record_id, entry_kind, reason, rejected_at, content
             FROM rejected_drafts ORDER BY id DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(RejectedDraft {
                id: r.get(0)?,
                record_id: parse_id(r.get(1)?),
                entry_kind: r.get(2)?,
                reason: r.get(3)?,
                rejected_at: Timestamp::from_millis(r.get(4)?),
                content: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Dismisses a rejected draft once a person has dealt with it.
    pub fn dismiss_rejected_draft(&mut self, draft_id: i64) -> Result<()> {
        self.main
            .execute("DELETE FROM rejected_drafts WHERE id = ?1", [draft_id])?;
        Ok(())
    }

    /// Removes a member and every record about them from the device (they left this
    /// worker's caseload). Edits not yet sent are kept as rejected drafts. Returns how many
    /// records were removed.
    pub fn purge_member(&mut self, member_id: RecordId) -> Result<usize> {
        let ids: Vec<RecordId> = {
            let mut stmt = self
                .main
                .prepare("SELECT id FROM records WHERE member_id = ?1 OR id = ?1")?;
            stmt.query_map([member_id.to_string()], |r| r.get::<_, String>(0))?
                .map(|r| r.map(parse_id))
                .collect::<rusqlite::Result<_>>()?
        };
        for id in &ids {
            let pending = self
                .outbox
                .prepare_cached("SELECT 1 FROM outbox WHERE record_id = ?1")?
                .exists([id.to_string()])?;
            if pending {
                self.keep_as_draft(
                    *id,
                    "change",
                    "the member is no longer on your caseload; these edits were not sent",
                    None,
                )?;
            }
            self.replace_record(*id, None, &[])?;
        }
        Ok(ids.len())
    }

    /// Deletes the whole store from the device (the server revoked it). The key is dropped
    /// and every file removed.
    pub fn wipe(self) -> Result<()> {
        let dir = self.dir.clone();
        drop(self);
        std::fs::remove_dir_all(&dir).map_err(|e| Error::Io {
            path: dir,
            source: e,
        })
    }

    // ---- internals ----

    fn reject_entry(
        &mut self,
        entry: i64,
        record_id: RecordId,
        reason: &str,
        server_state: Option<&[u8]>,
        server_attestations: &[String],
    ) -> Result<usize> {
        let found: Option<(String, Vec<u8>)> = self
            .outbox
            .prepare_cached("SELECT entry_kind, payload FROM outbox WHERE seq = ?1")?
            .query_row([entry], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((kind, payload)) = found else {
            // Already handled: a response applied twice, or a record already reset.
            return Ok(0);
        };
        if kind == "attestation" {
            let content = String::from_utf8_lossy(&payload).into_owned();
            self.keep_as_draft(record_id, "attestation", reason, Some(content))?;
            let att: Option<Attestation> = serde_json::from_slice(&payload).ok();
            if let Some(att) = att {
                self.main
                    .execute("DELETE FROM attestations WHERE id = ?1", [&att.id])?;
            }
            self.outbox
                .execute("DELETE FROM outbox WHERE seq = ?1", [entry])?;
            return Ok(0);
        }
        self.keep_as_draft(record_id, "change", reason, None)?;
        let known = self.signer_keys()?;
        let received = server_attestations
            .iter()
            .map(|a| serde_json::from_str(a))
            .collect::<std::result::Result<Vec<Attestation>, _>>()
            .map_err(|e| Error::Storage(format!("attestation from server: {e}")))?;
        let total = received.len();
        let attestations = received
            .into_iter()
            .filter(|a| check_received(&known, a).is_ok())
            .collect::<Vec<_>>();
        self.replace_record(record_id, server_state, &attestations)?;
        Ok(total - attestations.len())
    }

    /// Saves the device's current version of a record (or `content`) as a rejected draft.
    fn keep_as_draft(
        &mut self,
        record_id: RecordId,
        entry_kind: &str,
        reason: &str,
        content: Option<String>,
    ) -> Result<()> {
        let (content, document) = match content {
            Some(c) => (c, None),
            None => match self.load(record_id) {
                Ok(mut doc) => {
                    let body = doc.body()?;
                    let json =
                        serde_json::to_string(&body).map_err(|e| Error::Storage(e.to_string()))?;
                    (json, Some(doc.save()))
                }
                Err(Error::NotFound { .. }) => ("null".to_string(), None),
                Err(e) => return Err(e),
            },
        };
        self.main.execute(
            "INSERT INTO rejected_drafts (record_id, entry_kind, reason, rejected_at, content, document)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                record_id.to_string(),
                entry_kind,
                reason,
                Timestamp::now().millis(),
                content,
                document
            ],
        )?;
        Ok(())
    }

    /// Replaces a record wholesale with `state` (the server's document), or removes it when
    /// `state` is `None`; drops its outbox entries.
    fn replace_record(
        &mut self,
        id: RecordId,
        state: Option<&[u8]>,
        attestations: &[Attestation],
    ) -> Result<()> {
        let id_s = id.to_string();
        let tx = self.main.transaction()?;
        tx.execute("DELETE FROM doc_chunks WHERE record_id = ?1", [&id_s])?;
        tx.execute("DELETE FROM attestations WHERE record_id = ?1", [&id_s])?;
        projection::unproject(&tx, id)?;
        if let Some(bytes) = state {
            let mut doc = Document::load(id, &self.actor, [bytes])?;
            let body = doc.body()?;
            insert_chunk(&tx, id, bytes, &mut doc)?;
            projection::project(&tx, id, &body)?;
            for att in attestations.iter().filter(|a| a.verify()) {
                insert_attestation(&tx, att)?;
            }
        }
        tx.commit()?;
        self.outbox
            .execute("DELETE FROM outbox WHERE record_id = ?1", [&id_s])?;
        Ok(())
    }

    pub(crate) fn meta_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let raw: Option<Vec<u8>> = self
            .main
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        raw.map(|b| serde_json::from_slice(&b))
            .transpose()
            .map_err(|e| Error::Storage(format!("{key} unreadable: {e}")))
    }

    fn set_meta_json<T: Serialize>(&mut self, key: &str, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| Error::Storage(e.to_string()))?;
        self.main
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, bytes])?;
        Ok(())
    }
}

fn parse_record_id(s: &str) -> Result<RecordId> {
    RecordId::parse_str(s)
        .map_err(|_| Error::Storage(format!("the server sent an invalid record id {s:?}")))
}
