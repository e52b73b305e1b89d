//! Consents and releases of information, and referrals to other services with their
//! follow-up. Sharing anything about a member outside the agency hangs on these.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::{Contact, Day, Program, RecordId, StaffId, Timestamp};

/// A consent or release of information, or a documented refusal of one (CSP-12).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct Consent {
    /// The member.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// Who may receive information.
    pub recipient: Contact,
    /// What may be shared, in the form's words.
    pub scope: String,
    /// Why it is shared.
    pub purpose: String,
    /// Covers substance-use disorder records under 42 CFR Part 2: disclosure needs this
    /// specific consent, carries the redisclosure notice, and is accounted.
    pub substance_use_part2: bool,
    /// The member refused consent (documented, CSP-12).
    pub refused: bool,
    /// Who signed (the member, or a guardian with authority).
    pub signed_by: String,
    /// When it was signed or refused.
    pub signed_at: Timestamp,
    /// When it expires.
    pub expires_on: Option<Day>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// Who recorded it.
    pub recorded_by: StaffId,
}

impl Consent {
    /// Whether the consent permits sharing at `at` (signed, not refused, not expired, not
    /// revoked).
    pub fn in_force(&self, at: Timestamp) -> bool {
        !self.refused
            && self.signed_at <= at
            && self.revoked_at.is_none_or(|r| r > at)
            && self.expires_on.is_none_or(|e| e.0 >= at.0.date_naive())
    }
}

/// A referral to another service or provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct ServiceReferral {
    /// The member.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// The service ("outpatient therapy", "housing search").
    pub service: String,
    /// The provider referred to.
    pub provider: Contact,
    /// Why.
    pub reason: String,
    /// Made because the member was found ineligible at intake (JI-9).
    pub alternative_for_ineligible: bool,
    /// When the referral was made.
    pub referred_at: Timestamp,
    /// The scheduled date of the referred service (CARES-5 counts from it).
    pub scheduled_for: Option<Timestamp>,
    /// Follow-ups.
    pub follow_ups: Vec<FollowUp>,
    /// Why there is no follow-up within 30 days, when there is none (CARES-5).
    pub no_follow_up_reason: Option<String>,
    /// The consent that allowed the referral to share information.
    pub consent_id: Option<RecordId>,
    /// Who made it.
    pub by: StaffId,
}

/// A follow-up on a referral.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct FollowUp {
    /// When.
    pub at: Timestamp,
    /// What was learned (attended, waitlisted, declined...).
    pub outcome: String,
    /// Who followed up.
    pub by: StaffId,
}
