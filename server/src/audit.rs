//! The append-only, hash-chained audit log of every read and write of PHI on the server.
//!
//! Each entry's hash covers its fields and the previous entry's hash, so altering,
//! removing or reordering any entry breaks every hash after it; [`verify`] finds the first
//! break. Appends take the `audit` counter row's lock, so entries from several server
//! processes form one chain. Entries name records by id, never by content.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{Row, Tx};
use crate::error::Result;
use crate::params;

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

fn entry_hash(prev: &str, seq: i64, e: &Entry<'_>) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &seq.to_string(),
        &e.at.to_string(),
        e.actor,
        e.device.unwrap_or(""),
        e.action,
        e.target,
        e.detail,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends an entry to the chain.
pub fn append(tx: &mut dyn Tx, e: &Entry<'_>) -> Result<i64> {
    let seq = tx.next_counter("audit", 1)?;
    let prev = tx
        .query_opt("SELECT hash FROM audit WHERE seq = $1", params![seq - 1])?
        .map_or_else(|| GENESIS.to_string(), |r| r[0].text());
    let hash = entry_hash(&prev, seq, e);
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

/// Recomputes every hash and link, in order.
pub fn verify(tx: &mut dyn Tx) -> Result<Verification> {
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1;
    let mut entries = 0;
    let mut after = 0;
    loop {
        let rows = tx.query(
            "SELECT seq, at, actor, device, action, target, detail, prev_hash, hash
             FROM audit WHERE seq > $1 ORDER BY seq LIMIT 5000",
            params![after],
        )?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            let s = stored(r);
            after = s.seq;
            entries += 1;
            let e = Entry {
                at: s.at,
                actor: &s.actor,
                device: s.device.as_deref(),
                action: &s.action,
                target: &s.target,
                detail: &s.detail,
            };
            if s.seq != expected_seq
                || s.prev_hash != prev
                || entry_hash(&prev, s.seq, &e) != s.hash
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
    let counter =
        tx.query_one("SELECT value FROM counters WHERE name = 'audit'", params![])?[0].int();
    Ok(Verification {
        entries,
        first_broken: (counter != entries).then_some(entries + 1),
    })
}
