//! Signatures and finality as separate, verifiable events ("attestations"), never as CRDT
//! fields someone could overwrite.
//!
//! # Canonical serialization
//! A record's signed content is its [`RecordBody`] rendered as JSON with object keys sorted
//! by byte order, no insignificant whitespace, absent options as `null`, instants as RFC 3339
//! UTC with milliseconds, days as `YYYY-MM-DD`, co-edited text as plain strings. The content
//! hash is the lowercase hex SHA-256 of `fieldnote/content/v1\n` followed by those bytes.
//!
//! An attestation names the record, the kind of act, the signer and role, the time, and the
//! content hash. Its id is the SHA-256 of `fieldnote/attestation/v1\n` followed by the
//! canonical JSON of every other field, so an attestation cannot be edited without its id
//! changing. Whether a signature is stale is derived by comparing its content hash with the
//! current content; it is never stored.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{RecordBody, RecordId, Role, StaffId, Timestamp};

/// What an attestation attests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttestationKind {
    /// The author finalized a contact note; it never changes afterwards.
    Finalize,
    /// Someone signed a plan in a role.
    Sign,
    /// A supervisor reviewed the record as it was and approved it.
    Approve,
    /// A supervisor reviewed the record and returned it to its author with a comment.
    Return,
}

impl AttestationKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttestationKind::Finalize => "finalize",
            AttestationKind::Sign => "sign",
            AttestationKind::Approve => "approve",
            AttestationKind::Return => "return",
        }
    }

    /// Whether this is a supervisor's review (approve or return).
    pub fn is_review(self) -> bool {
        matches!(self, AttestationKind::Approve | AttestationKind::Return)
    }
}

/// Who is signing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signer {
    /// The staff member signing, for staff roles; `None` for a member, guardian, youth or PCP.
    pub staff_id: Option<StaffId>,
    /// The signer's name as written with the signature.
    pub name: String,
    /// The role signed in.
    pub role: Role,
    /// The worker on whose device a member, guardian, youth or PCP signed.
    pub witness: Option<StaffId>,
}

impl Signer {
    /// A staff member signing in a staff role (worker, supervisor, program director).
    pub fn staff(staff_id: StaffId, name: impl Into<String>, role: Role) -> Self {
        Signer {
            staff_id: Some(staff_id),
            name: name.into(),
            role,
            witness: None,
        }
    }

    /// A member, guardian, youth or PCP signing on the worker's device, witnessed by the
    /// worker.
    pub fn witnessed(name: impl Into<String>, role: Role, witness: StaffId) -> Self {
        Signer {
            staff_id: None,
            name: name.into(),
            role,
            witness: Some(witness),
        }
    }
}

/// A signature or finalization event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// Content address of the event (see the module notes).
    pub id: String,
    /// The record signed.
    pub record_id: RecordId,
    /// What was attested.
    pub kind: AttestationKind,
    /// Who.
    pub signer: Signer,
    /// When, by the device's clock; for a paper signature entered later, when it was really
    /// given (see `recorded_at`).
    pub signed_at: Timestamp,
    /// When a back-dated signature was entered on the device; none when it was made as it
    /// was entered. At most [`crate::commands::BACKDATE_LIMIT_DAYS`] after `signed_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<Timestamp>,
    /// The content hash of the record as signed.
    pub content_hash: String,
    /// A reviewer's comment to the author (reviews only; required when returning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The Ed25519 public key of the device that made the event, as hex (see
    /// [`crate::signing`]); `None` on events made before devices signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// That key's signature of the id, as hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

#[derive(Serialize)]
struct Unsigned<'a> {
    record_id: &'a RecordId,
    kind: AttestationKind,
    signer: &'a Signer,
    signed_at: &'a Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    recorded_at: &'a Option<Timestamp>,
    content_hash: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: &'a Option<String>,
}

impl Attestation {
    /// Creates an attestation of `body` as it is now.
    pub fn new(
        record_id: RecordId,
        kind: AttestationKind,
        signer: Signer,
        signed_at: Timestamp,
        body: &RecordBody,
    ) -> Self {
        let content_hash = content_hash(body);
        let mut a = Attestation {
            id: String::new(),
            record_id,
            kind,
            signer,
            signed_at,
            recorded_at: None,
            content_hash,
            comment: None,
            key: None,
            signature: None,
        };
        a.id = a.computed_id();
        a
    }

    /// A supervisor's review of `body` as it is now: approved, or returned with `comment`.
    pub fn review(
        record_id: RecordId,
        approved: bool,
        signer: Signer,
        signed_at: Timestamp,
        body: &RecordBody,
        comment: Option<String>,
    ) -> Self {
        let kind = if approved {
            AttestationKind::Approve
        } else {
            AttestationKind::Return
        };
        let mut a = Attestation::new(record_id, kind, signer, signed_at, body);
        a.comment = comment.filter(|c| !c.trim().is_empty());
        a.id = a.computed_id();
        a
    }

    fn computed_id(&self) -> String {
        let unsigned = Unsigned {
            record_id: &self.record_id,
            kind: self.kind,
            signer: &self.signer,
            signed_at: &self.signed_at,
            recorded_at: &self.recorded_at,
            content_hash: &self.content_hash,
            comment: &self.comment,
        };
        hash_json(b"fieldnote/attestation/v1\n", &unsigned)
    }

    /// Dates the event to when it really happened, `signed_at`, keeping `recorded_at` (now)
    /// as when it was entered; the id covers both.
    pub fn backdate(&mut self, signed_at: Timestamp, recorded_at: Timestamp) {
        self.signed_at = signed_at;
        self.recorded_at = Some(recorded_at);
        self.id = self.computed_id();
    }

    /// Why the event's times cannot be accepted, if they cannot: a back-dated event must be
    /// dated before it was entered, and by at most
    /// [`crate::commands::BACKDATE_LIMIT_DAYS`].
    pub fn backdating_error(&self) -> Option<String> {
        let recorded = self.recorded_at?;
        let gap = recorded.millis() - self.signed_at.millis();
        if gap < -crate::commands::CLOCK_SKEW_MS {
            return Some("signed_at: is after the time it was entered".into());
        }
        if gap > crate::commands::BACKDATE_LIMIT_DAYS * 86_400_000 {
            return Some(format!(
                "signed_at: may be at most {} days before it was entered",
                crate::commands::BACKDATE_LIMIT_DAYS
            ));
        }
        None
    }

    /// Whether the event is intact (its id matches its fields).
    pub fn verify(&self) -> bool {
        self.id == self.computed_id()
    }

    /// Whether the signed content differs from `body` (the signature no longer covers it).
    pub fn is_stale(&self, body: &RecordBody) -> bool {
        self.content_hash != content_hash(body)
    }
}

/// The state of one role's signature on a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum SignatureState {
    /// Nobody has signed in this role.
    Missing,
    /// Signed, and the content has not changed since.
    Current {
        /// The signature.
        attestation: Attestation,
    },
    /// Signed, but the content changed afterwards: the signature no longer covers the plan.
    Stale {
        /// The signature.
        attestation: Attestation,
    },
}

impl SignatureState {
    /// The state of `role`'s signature on `body`: the latest intact signature in that role,
    /// current when it covers the content as it is now, stale when the content changed since.
    pub fn of(attestations: &[Attestation], role: Role, body: &RecordBody) -> SignatureState {
        let latest = attestations
            .iter()
            .filter(|a| a.kind == AttestationKind::Sign && a.signer.role == role && a.verify())
            .max_by_key(|a| a.signed_at);
        match latest {
            None => SignatureState::Missing,
            Some(a) if a.is_stale(body) => SignatureState::Stale {
                attestation: a.clone(),
            },
            Some(a) => SignatureState::Current {
                attestation: a.clone(),
            },
        }
    }

    /// When the signature was made, if it is current.
    pub fn current_since(&self) -> Option<Timestamp> {
        match self {
            SignatureState::Current { attestation } => Some(attestation.signed_at),
            _ => None,
        }
    }
}

/// Where a record stands with its reviewers: the latest intact review decides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ReviewState {
    /// Not reviewed yet.
    Unreviewed,
    /// Approved, and the content has not changed since.
    Approved {
        /// The review.
        review: Attestation,
    },
    /// Returned to the author with a comment.
    Returned {
        /// The review (its `comment` says why).
        review: Attestation,
    },
    /// Approved, but the content changed afterwards: it needs another look.
    Changed {
        /// The review.
        review: Attestation,
    },
}

impl ReviewState {
    /// The review state of `body` given its attestations.
    pub fn of(attestations: &[Attestation], body: &RecordBody) -> ReviewState {
        let latest = attestations
            .iter()
            .filter(|a| a.kind.is_review() && a.verify())
            .max_by(|a, b| (a.signed_at, &a.id).cmp(&(b.signed_at, &b.id)));
        match latest {
            None => ReviewState::Unreviewed,
            Some(a) if a.kind == AttestationKind::Return => {
                ReviewState::Returned { review: a.clone() }
            }
            Some(a) if a.is_stale(body) => ReviewState::Changed { review: a.clone() },
            Some(a) => ReviewState::Approved { review: a.clone() },
        }
    }

    /// Whether the record waits for a reviewer: never reviewed, changed since approval, or
    /// changed since it was returned (the author's answer).
    pub fn awaits_review(&self, body: &RecordBody) -> bool {
        match self {
            ReviewState::Unreviewed | ReviewState::Changed { .. } => true,
            ReviewState::Returned { review } => review.is_stale(body),
            ReviewState::Approved { .. } => false,
        }
    }

    /// The latest review, if any.
    pub fn review(&self) -> Option<&Attestation> {
        match self {
            ReviewState::Unreviewed => None,
            ReviewState::Approved { review }
            | ReviewState::Returned { review }
            | ReviewState::Changed { review } => Some(review),
        }
    }

    /// A short name: `unreviewed`, `approved`, `returned`, `changed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ReviewState::Unreviewed => "unreviewed",
            ReviewState::Approved { .. } => "approved",
            ReviewState::Returned { .. } => "returned",
            ReviewState::Changed { .. } => "changed",
        }
    }
}

/// The canonical bytes of a record's content (see the module notes).
pub fn canonical_bytes(body: &RecordBody) -> Vec<u8> {
    canonical_json(body)
}

/// The content hash of a record (see the module notes).
pub fn content_hash(body: &RecordBody) -> String {
    hash_json(b"fieldnote/content/v1\n", body)
}

fn canonical_json<T: Serialize>(value: &T) -> Vec<u8> {
    // serde_json's Value keeps object keys in a BTreeMap (sorted) unless the
    // `preserve_order` feature is enabled, which this workspace never does.
    let v = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    serde_json::to_vec(&v).unwrap_or_default()
}

fn hash_json<T: Serialize>(domain: &[u8], value: &T) -> String {
    let mut h = Sha256::new();
    h.update(domain);
    h.update(canonical_json(value));
    hex::encode(h.finalize())
}
