//! The append-only, keyed hash chain of every read and write of PHI on the server.
//!
//! Each entry's hash is an HMAC-SHA-256, under the audit key, of its fields and the previous
//! entry's hash, so altering, removing or reordering any entry breaks every hash after it,
//! and someone who can write the database but lacks the key (kept outside it, see
//! [`crate::keys`]) cannot compute a replacement; [`verify`] finds the first break. The
//! head can be exported as a signed checkpoint (Ed25519, with a signing key derived from
//! the audit key) that an auditor keeps elsewhere: even someone holding the key cannot
//! rewrite history under a checkpoint without [`verify_checkpoints`] noticing. Appends take
//! the `audit` counter row's lock, so entries from several server processes form one chain.
//! Entries name records by id, never by content.

use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::{Db, Row, Tx};
use crate::error::{Error, Result};
use crate::keys::{Key, KeySource};
use crate::params;

/// The audit chain's key: it chains entries (HMAC) and signs checkpoints (Ed25519, from a
/// seed derived from it).
#[derive(Clone, Debug)]
pub struct AuditKey(Key);

impl AuditKey {
    /// Wraps a key.
    pub fn new(key: Key) -> AuditKey {
        AuditKey(key)
    }

    fn mac(&self, label: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(label);
        mac
    }

    /// A value that tells keys apart and reveals nothing of the key: stored in the
    /// database, so that a server started with another key is refused.
    pub fn fingerprint(&self) -> String {
        hex::encode(
            self.mac(b"fieldnote/audit/fingerprint/v1")
                .finalize()
                .into_bytes(),
        )
    }

    fn signing_key(&self) -> SigningKey {
        let seed: [u8; 32] = self
            .mac(b"fieldnote/audit/checkpoint-signing/v1")
            .finalize()
            .into_bytes()
            .into();
        SigningKey::from_bytes(&seed)
    }

    /// The key the server signs its own attestations with (a supervisor's review or
    /// co-signature in the console, demo data): devices accept it for the signer the server
    /// authenticated (see [`fieldnote_core::signing`]).
    pub fn attestation_key(&self) -> fieldnote_core::signing::DeviceKey {
        fieldnote_core::signing::DeviceKey::derive(
            self.0.bytes(),
            b"fieldnote/server/attestation-signing/v1",
        )
    }

    /// The public key that checks this key's checkpoints, as hex.
    pub fn public_key(&self) -> String {
        hex::encode(self.signing_key().verifying_key().to_bytes())
    }

    /// The hash of entry `e` at position `seq` after the entry hashed `prev`.
    pub fn entry_hash(&self, prev: &str, seq: i64, e: &Entry<'_>) -> String {
        let mut mac = self.mac(b"fieldnote/audit/entry/v1");
        for part in entry_parts(prev, seq, e) {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry to append.
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    /// Server time, milliseconds since the epoch.
    pub at: i64,
    /// The user (id) who acted, or `system`.
    pub actor: &'a str,
    /// Their device, when a device acted.
    pub device: Option<&'a str>,
    /// What was done (`sync.write`, `sync.read`, `login`, `device.revoke`...).
    pub action: &'a str,
    /// What it was done to (record ids, a user id).
    pub target: &'a str,
    /// More, as JSON (never PHI).
    pub detail: &'a str,
}

/// A stored audit entry.
#[derive(Clone, Debug, Serialize)]
pub struct Stored {
    /// Position in the chain.
    pub seq: i64,
    /// Server time.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// Their device.
    pub device: Option<String>,
    /// What.
    pub action: String,
    /// To what.
    pub target: String,
    /// More.
    pub detail: String,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

fn entry_parts<'a>(prev: &'a str, seq: i64, e: &'a Entry<'a>) -> [std::borrow::Cow<'a, str>; 8] {
    use std::borrow::Cow::{Borrowed, Owned};
    [
        Borrowed(prev),
        Owned(seq.to_string()),
        Owned(e.at.to_string()),
        Borrowed(e.actor),
        Borrowed(e.device.unwrap_or("")),
        Borrowed(e.action),
        Borrowed(e.target),
        Borrowed(e.detail),
    ]
}

/// The unkeyed SHA-256 chain written before the chain was keyed; read once, when such a
/// chain is re-chained under a key ([`load_key`]).
fn legacy_hash(prev: &str, seq: i64, e: &Entry<'_>) -> String {
    let mut h = Sha256::new();
    for part in entry_parts(prev, seq, e) {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

fn key_of(tx: &dyn Tx) -> Result<&AuditKey> {
    tx.audit_key()
        .ok_or_else(|| Error::Internal("the audit key is not loaded".into()))
}

/// Appends an entry to the chain.
pub fn append(tx: &mut dyn Tx, e: &Entry<'_>) -> Result<i64> {
    let key = key_of(tx)?.clone();
    append_with(tx, &key, e)
}

fn append_with(tx: &mut dyn Tx, key: &AuditKey, e: &Entry<'_>) -> Result<i64> {
    let seq = tx.next_counter("audit", 1)?;
    let prev = tx
        .query_opt("SELECT hash FROM audit WHERE seq = $1", params![seq - 1])?
        .map_or_else(|| GENESIS.to_string(), |r| r[0].text());
    let hash = key.entry_hash(&prev, seq, e);
    tx.exec(
        "INSERT INTO audit (seq, at, actor, device, action, target, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        params![
            seq, e.at, e.actor, e.device, e.action, e.target, e.detail, prev, hash
        ],
    )?;
    Ok(seq)
}

/// Appends what a signed-in principal did, at server time now.
pub fn record(
    tx: &mut dyn Tx,
    p: &crate::auth::Principal,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<i64> {
    append(
        tx,
        &Entry {
            at: fieldnote_core::Timestamp::now().millis(),
            actor: &p.user_id,
            device: p.device_id.as_deref(),
            action,
            target,
            detail,
        },
    )
}

/// Appends a refused attempt by someone not signed in (no name, no id: what they typed is
/// theirs, not the log's).
pub fn anonymous(tx: &mut dyn Tx, at: i64, action: &str) -> Result<i64> {
    append(
        tx,
        &Entry {
            at,
            actor: "anonymous",
            device: None,
            action,
            target: "-",
            detail: "{}",
        },
    )
}

/// A stored entry from its row (columns as in [`recent`]).
pub fn stored(r: Row) -> Stored {
    Stored {
        seq: r[0].int(),
        at: r[1].int(),
        actor: r[2].text(),
        device: r[3].opt_text(),
        action: r[4].text(),
        target: r[5].text(),
        detail: r[6].text(),
        prev_hash: r[7].text(),
        hash: r[8].text(),
    }
}

/// The newest entries, newest first.
pub fn recent(tx: &mut dyn Tx, limit: i64) -> Result<Vec<Stored>> {
    Ok(tx
        .query(
            "SELECT seq, at, actor, device, action, target, detail, prev_hash, hash
             FROM audit ORDER BY seq DESC LIMIT $1",
            params![limit],
        )?
        .into_iter()
        .map(stored)
        .collect())
}

/// The result of checking the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Entries checked.
    pub entries: i64,
    /// The first entry whose hash or link does not hold, if any.
    pub first_broken: Option<i64>,
}

/// Recomputes every hash (under the audit key) and link, in order.
pub fn verify(tx: &mut dyn Tx) -> Result<Verification> {
    let key = key_of(tx)?.clone();
    walk(tx, &|prev, seq, e| key.entry_hash(prev, seq, e))
}

/// Up to 5,000 entries after position `after`, in order.
fn entries_after(tx: &mut dyn Tx, after: i64) -> Result<Vec<Stored>> {
    Ok(tx
        .query(
            "SELECT seq, at, actor, device, action, target, detail, prev_hash, hash
             FROM audit WHERE seq > $1 ORDER BY seq LIMIT 5000",
            params![after],
        )?
        .into_iter()
        .map(stored)
        .collect())
}

impl Stored {
    /// The entry as it was appended (what its hash covers).
    fn entry(&self) -> Entry<'_> {
        Entry {
            at: self.at,
            actor: &self.actor,
            device: self.device.as_deref(),
            action: &self.action,
            target: &self.target,
            detail: &self.detail,
        }
    }
}

/// Walks the chain in order, checking each entry with `hash`; stops at the first break.
fn walk(tx: &mut dyn Tx, hash: &dyn Fn(&str, i64, &Entry<'_>) -> String) -> Result<Verification> {
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1;
    let mut entries = 0;
    let mut after = 0;
    loop {
        let rows = entries_after(tx, after)?;
        if rows.is_empty() {
            break;
        }
        for s in rows {
            after = s.seq;
            entries += 1;
            if s.seq != expected_seq
                || s.prev_hash != prev
                || hash(&prev, s.seq, &s.entry()) != s.hash
            {
                return Ok(Verification {
                    entries,
                    first_broken: Some(s.seq),
                });
            }
            prev = s.hash;
            expected_seq += 1;
        }
    }
    // A chain cut short at the end is caught by the counter.
    let counter = chain_length(tx)?;
    Ok(Verification {
        entries,
        first_broken: (counter != entries).then_some(entries + 1),
    })
}

fn chain_length(tx: &mut dyn Tx) -> Result<i64> {
    Ok(tx.query_one("SELECT value FROM counters WHERE name = 'audit'", params![])?[0].int())
}

const FINGERPRINT: &str = "audit_key_fingerprint";

/// Loads the audit key for `db` from `source` when the server starts.
///
/// - A new database: the key is read, or made and written to its file, and its
///   fingerprint stored.
/// - A database whose chain was written with a key: the key must be that key; a missing or
///   different key is refused (a second server process sharing PostgreSQL must be given
///   the first one's key).
/// - A chain written before chains were keyed: it is checked as it was written, then
///   re-chained under the key in one transaction, and an `audit.keyed` entry records
///   whether the old chain was intact.
pub fn load_key(db: &Db, source: &KeySource) -> Result<AuditKey> {
    let stored = db.tx(|tx| {
        Ok(tx
            .query_opt(
                "SELECT value FROM server_settings WHERE name = $1",
                params![FINGERPRINT],
            )?
            .map(|r| r[0].text()))
    })?;
    let key = match (source.load("audit-key")?, &stored) {
        (Some(k), _) => AuditKey::new(k),
        (None, None) => AuditKey::new(source.create("audit-key")?),
        (None, Some(_)) => {
            return Err(Error::Config(format!(
                "audit-key: no key at {}, and this database's audit chain was written with \
                 one: give --audit-key-file (or FIELDNOTE_AUDIT_KEY) with that key",
                source.describe()
            )));
        }
    };
    let mismatch = || {
        Error::Config(format!(
            "audit-key: the key from {} is not the key this database's audit chain was \
             written with; nothing was changed",
            source.describe()
        ))
    };
    if let Some(fp) = stored {
        return if fp == key.fingerprint() {
            Ok(key)
        } else {
            Err(mismatch())
        };
    }
    // First start under a key: take the chain's lock, store the fingerprint (another
    // process starting at the same moment may have stored its own), re-chain what exists.
    db.tx(|tx| {
        let lock = format!(
            "SELECT value FROM counters WHERE name = 'audit'{}",
            tx.for_update()
        );
        tx.query_one(&lock, params![])?;
        let inserted = tx.exec(
            "INSERT INTO server_settings (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO NOTHING",
            params![FINGERPRINT, key.fingerprint()],
        )?;
        if inserted == 0 {
            let fp = tx.query_one(
                "SELECT value FROM server_settings WHERE name = $1",
                params![FINGERPRINT],
            )?[0]
                .text();
            return if fp == key.fingerprint() {
                Ok(())
            } else {
                Err(mismatch())
            };
        }
        if chain_length(tx)? > 0 {
            rechain(tx, &key)?;
        }
        Ok(())
    })?;
    Ok(key)
}

/// Re-chains an unkeyed chain under `key`, then records that it did.
fn rechain(tx: &mut dyn Tx, key: &AuditKey) -> Result<()> {
    let old = walk(tx, &legacy_hash)?;
    let mut prev = GENESIS.to_string();
    let mut after = 0;
    loop {
        let rows = entries_after(tx, after)?;
        if rows.is_empty() {
            break;
        }
        for s in rows {
            after = s.seq;
            let hash = key.entry_hash(&prev, s.seq, &s.entry());
            tx.exec(
                "UPDATE audit SET prev_hash = $1, hash = $2 WHERE seq = $3",
                params![&prev, &hash, s.seq],
            )?;
            prev = hash;
        }
    }
    let detail = serde_json::json!({
        "entries": old.entries,
        "unkeyed_chain_intact": old.first_broken.is_none(),
        "unkeyed_first_broken": old.first_broken,
    })
    .to_string();
    append_with(
        tx,
        key,
        &Entry {
            at: fieldnote_core::Timestamp::now().millis(),
            actor: "system",
            device: None,
            action: "audit.keyed",
            target: "-",
            detail: &detail,
        },
    )?;
    Ok(())
}

/// The chain's head at a moment, signed: what an auditor keeps outside the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The number of entries in the chain (the head's position).
    pub seq: i64,
    /// The head's hash.
    pub hash: String,
    /// When the checkpoint was taken, milliseconds since the epoch.
    pub at: i64,
    /// The Ed25519 public key that checks `signature`, as hex.
    pub public_key: String,
    /// The Ed25519 signature of the fields above, as hex.
    pub signature: String,
}

fn checkpoint_message(seq: i64, hash: &str, at: i64) -> Vec<u8> {
    format!("fieldnote audit checkpoint v1\nseq {seq}\nhash {hash}\nat {at}\n").into_bytes()
}

/// Signs the chain's current head.
pub fn checkpoint(tx: &mut dyn Tx) -> Result<Checkpoint> {
    let key = key_of(tx)?.clone();
    let seq = chain_length(tx)?;
    let hash = tx
        .query_opt("SELECT hash FROM audit WHERE seq = $1", params![seq])?
        .map_or_else(|| GENESIS.to_string(), |r| r[0].text());
    let at = fieldnote_core::Timestamp::now().millis();
    let signature = key.signing_key().sign(&checkpoint_message(seq, &hash, at));
    Ok(Checkpoint {
        seq,
        hash,
        at,
        public_key: key.public_key(),
        signature: hex::encode(signature.to_bytes()),
    })
}

/// What checking one checkpoint against the chain found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointCheck {
    /// The chain still holds the signed head at its position.
    Holds,
    /// The checkpoint's signature does not check out under its own public key (it was
    /// altered, or never signed).
    BadSignature,
    /// Signed by another key than this server's.
    OtherKey,
    /// The chain is shorter than the checkpoint: entries were removed.
    Truncated,
    /// The entry at the checkpoint's position has another hash: history was rewritten.
    Rewritten,
}

/// Checks checkpoints an auditor kept against the chain as it is now (after [`verify`]:
/// this checks only that each signed head is still where it was).
pub fn verify_checkpoints(
    tx: &mut dyn Tx,
    checkpoints: &[Checkpoint],
) -> Result<Vec<CheckpointCheck>> {
    let ours = key_of(tx)?.public_key();
    let length = chain_length(tx)?;
    let mut out = Vec::with_capacity(checkpoints.len());
    for c in checkpoints {
        let signed = (|| {
            let public: [u8; 32] = hex::decode(&c.public_key).ok()?.try_into().ok()?;
            let signature: [u8; 64] = hex::decode(&c.signature).ok()?.try_into().ok()?;
            let public = VerifyingKey::from_bytes(&public).ok()?;
            public
                .verify(
                    &checkpoint_message(c.seq, &c.hash, c.at),
                    &ed25519_dalek::Signature::from_bytes(&signature),
                )
                .ok()
        })();
        out.push(if signed.is_none() {
            CheckpointCheck::BadSignature
        } else if c.public_key != ours {
            CheckpointCheck::OtherKey
        } else if c.seq > length {
            CheckpointCheck::Truncated
        } else {
            let hash = tx
                .query_opt("SELECT hash FROM audit WHERE seq = $1", params![c.seq])?
                .map_or_else(|| GENESIS.to_string(), |r| r[0].text());
            if hash == c.hash {
                CheckpointCheck::Holds
            } else {
                CheckpointCheck::Rewritten
            }
        });
    }
    Ok(out)
}
