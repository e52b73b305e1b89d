//! What of a member's record may leave the agency. Substance-use disorder information is
//! protected by 42 CFR Part 2: it is disclosed only under a Part 2 consent that is in force,
//! it carries the redisclosure notice, and the disclosure is accounted. Everything else in an
//! export for audits and MassHealth documentation requests is disclosed as it stands.
//!
//! Substance-use content here is: a Part 2 consent itself (its existence reveals treatment),
//! a referral made under a Part 2 consent, and the substance-use parts of a needs assessment
//! (a domain named for substance use, the substance-use criminogenic need), which are
//! removed from the assessment rather than withholding the whole of it.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::model::{Consent, CriminogenicFactor, FieldError, RecordBody, RecordId, Timestamp};
use crate::store::Record;

/// The redisclosure notice that accompanies Part 2 information (42 CFR 2.32(a)(1), as
/// amended in 2024), one paragraph per line.
pub const REDISCLOSURE_NOTICE: &str = "This record which has been disclosed to you is protected by Federal confidentiality rules (42 CFR part 2). These rules prohibit you from using or disclosing this record, or testimony that describes the information contained in this record, in any civil, criminal, administrative, or legislative proceedings by any Federal, State, or local authority, against the patient, unless authorized by the consent of the patient, except as provided at 42 CFR 2.12(c)(5) or as authorized by a court in accordance with 42 CFR 2.64 or 2.65. In addition, the Federal rules prohibit you from making any other use or disclosure of this record unless at least one of the following applies:
(i) Further use or disclosure is expressly permitted by the written consent of the individual whose information is being disclosed in this record or as otherwise permitted by 42 CFR part 2.
(ii) You are a covered entity or business associate and have received the record for treatment, payment, or health care operations, or
(iii) You have received the record from a covered entity or business associate as permitted by 45 CFR part 164, subparts A and E.
A general authorization for the release of medical or other information is NOT sufficient to meet the required elements of written consent to further use or redisclose the record (see 42 CFR 2.31).";

/// The outcome of filtering a member's records for disclosure.
#[derive(Clone, Debug)]
pub struct Disclosure {
    /// What may be disclosed (substance-use parts removed unless a consent allows them).
    pub records: Vec<Record>,
    /// Records with substance-use content: withheld (or redacted) without consent, disclosed
    /// under it. Empty when the member has none.
    pub part2_records: Vec<RecordId>,
    /// The Part 2 consent the disclosure is made under, when one was given and is in force.
    pub consent: Option<(RecordId, Consent)>,
}

impl Disclosure {
    /// Whether substance-use records were withheld or redacted for want of consent.
    pub fn withheld(&self) -> usize {
        if self.consent.is_some() {
            0
        } else {
            self.part2_records.len()
        }
    }
}

fn is_substance_use_domain(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("substance") || n.contains("alcohol") || n.contains("drug")
}

/// The Part 2 consents among `records`.
fn part2_consents(records: &[Record]) -> BTreeSet<RecordId> {
    records
        .iter()
        .filter(|r| matches!(&r.body, RecordBody::Consent(c) if c.substance_use_part2))
        .map(|r| r.id)
        .collect()
}

/// Whether `body` holds substance-use content (see the module notes).
pub fn has_substance_use(body: &RecordBody, part2: &BTreeSet<RecordId>) -> bool {
    match body {
        RecordBody::Consent(c) => c.substance_use_part2,
        RecordBody::ServiceReferral(r) => r.consent_id.is_some_and(|c| part2.contains(&c)),
        RecordBody::NeedsAssessment(a) => {
            a.domains.iter().any(|d| is_substance_use_domain(&d.domain))
                || a.criminogenic_needs
                    .iter()
                    .any(|n| n.factor == CriminogenicFactor::SubstanceUse)
        }
        _ => false,
    }
}

/// Removes the substance-use content of a record, or returns `None` when the whole record is
/// substance-use content.
fn without_substance_use(mut record: Record) -> Option<Record> {
    match &mut record.body {
        RecordBody::NeedsAssessment(a) => {
            a.domains.retain(|d| !is_substance_use_domain(&d.domain));
            a.criminogenic_needs
                .retain(|n| n.factor != CriminogenicFactor::SubstanceUse);
            // The signatures covered the whole assessment, not this redacted copy.
            record.attestations.clear();
            Some(record)
        }
        _ => None,
    }
}

fn refused(reason: &str) -> Error {
    Error::Invalid {
        kind: "disclosure",
        errors: vec![FieldError {
            field: "consent".into(),
            reason: reason.into(),
        }],
    }
}

/// Filters a member's `records` for disclosure at `at`, under the Part 2 consent `consent`
/// when one is named. A consent that is not this member's Part 2 consent, or is not in force,
/// is refused as [`Error::Invalid`] naming the `consent` field.
pub fn disclose(
    records: Vec<Record>,
    consent: Option<RecordId>,
    at: Timestamp,
) -> Result<Disclosure> {
    let part2 = part2_consents(&records);
    let consent = match consent {
        None => None,
        Some(id) => {
            let found = records.iter().find_map(|r| match &r.body {
                RecordBody::Consent(c) if r.id == id && c.substance_use_part2 => Some(c.clone()),
                _ => None,
            });
            let c = found.ok_or_else(|| refused("not a 42 CFR Part 2 consent of this member"))?;
            if !c.in_force(at) {
                return Err(refused("not in force (refused, expired or revoked)"));
            }
            Some((id, c))
        }
    };
    let mut part2_records = Vec::new();
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        if !has_substance_use(&r.body, &part2) {
            out.push(r);
            continue;
        }
        part2_records.push(r.id);
        if consent.is_some() {
            out.push(r);
        } else if let Some(redacted) = without_substance_use(r) {
            out.push(redacted);
        }
    }
    Ok(Disclosure {
        records: out,
        part2_records,
        consent,
    })
}
