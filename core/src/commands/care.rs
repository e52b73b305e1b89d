//! The records of a member's care beyond notes and plans: consents, referrals and their
//! follow-ups, incidents and their reports, engagement attempts, document deliveries, the TM
//! waitlist and its notices, and discharge plans. Each request holds only what a worker
//! enters; who recorded it and when it was entered are filled in here.

use super::Form;
use crate::error::Result;
use crate::model::*;
use crate::store::Store;

/// A consent or release of information, or a documented refusal of one (CSP-12).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewConsent {
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
    /// Covers substance-use disorder records under 42 CFR Part 2.
    pub substance_use_part2: bool,
    /// The member refused consent.
    pub refused: bool,
    /// Who signed or refused (the member, or a guardian with authority).
    pub signed_by: String,
    /// When it was signed or refused; now when not given, at most
    /// [`super::BACKDATE_LIMIT_DAYS`] ago.
    pub signed_at: Option<Timestamp>,
    /// When it expires.
    pub expires_on: Option<Day>,
}

/// A referral to another service or provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReferral {
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
    /// When the referral was made; now when not given.
    pub referred_at: Option<Timestamp>,
    /// The scheduled date of the referred service (CARES-5 counts from it).
    pub scheduled_for: Option<Timestamp>,
    /// The member's consent that allows sharing with the provider.
    pub consent_id: Option<RecordId>,
}

/// A follow-up on a referral: what was learned, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFollowUp {
    /// The referral.
    pub referral_id: RecordId,
    /// When; now when not given.
    pub at: Option<Timestamp>,
    /// What was learned (attended, waitlisted, declined...).
    pub outcome: String,
}

/// A Reportable Adverse Incident, with the report times known so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIncident {
    /// The member involved, if any.
    pub member_id: Option<RecordId>,
    /// The program.
    pub program: Program,
    /// When it occurred (JI-7's clock starts here).
    pub occurred_at: Timestamp,
    /// Where.
    pub location: String,
    /// Category.
    pub category: IncidentCategory,
    /// What happened.
    pub description: String,
    /// Actions taken.
    pub actions_taken: String,
    /// When it was reported to the health plan, if it has been.
    pub reported_to_plan_at: Option<Timestamp>,
    /// When it was reported to MassHealth, if it has been.
    pub reported_to_masshealth_at: Option<Timestamp>,
    /// The distress alarm that led to it.
    pub alarm_id: Option<RecordId>,
}

/// Whom an incident was reported to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportedTo {
    /// The member's health plan.
    HealthPlan,
    /// MassHealth.
    MassHealth,
}

/// An attempt to engage a member, successful or not (JI-2, JI-3 count the unsuccessful).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAttempt {
    /// The member.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// When; now when not given.
    pub at: Option<Timestamp>,
    /// By what means.
    pub channel: Channel,
    /// What happened.
    pub outcome: AttemptOutcome,
    /// What it was for (first contact, assessment, assessment update...).
    pub purpose: String,
    /// Details.
    pub note: Option<String>,
}

/// A letter or document given or sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    /// The member it concerns.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// What was delivered.
    pub document: DocumentKind,
    /// The record delivered (a plan, a discharge plan, a crisis plan): required for those
    /// kinds, and it must be this member's.
    pub document_record_id: Option<RecordId>,
    /// Kind of recipient.
    pub recipient_kind: RecipientKind,
    /// The recipient.
    pub recipient: Contact,
    /// How it travelled.
    pub channel: Channel,
    /// On paper.
    pub paper: bool,
    /// Electronically.
    pub electronic: bool,
    /// Language of the copy.
    pub language: String,
    /// When it was delivered; now when not given, at most [`super::BACKDATE_LIMIT_DAYS`]
    /// ago.
    pub delivered_at: Option<Timestamp>,
    /// The member's consent that allowed sharing it with anyone but the member or guardian.
    pub consent_id: Option<RecordId>,
}

/// A youth placed on the TM waitlist because services cannot start within 14 days (TM-2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWaitlist {
    /// The member.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// Since when; now when not given.
    pub since: Option<Timestamp>,
    /// Why services cannot start.
    pub reason: String,
}

/// Who was told of a waitlist (TM-2 requires both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitlistNotified {
    /// The youth's family.
    Family,
    /// The referral source.
    ReferralSource,
}

/// A written discharge plan for the member's enrollment in one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDischargePlan {
    /// The member.
    pub member_id: RecordId,
    /// The program whose enrollment is closing.
    pub program: Program,
    /// Planned discharge date.
    pub discharge_on: Day,
    /// Services and supports after discharge.
    pub aftercare: String,
    /// Recommendations.
    pub recommendations: String,
    /// The crisis prevention plan that goes with it (this member's).
    pub crisis_plan_id: Option<RecordId>,
    /// The updated service plan given with it (JI-10; this member's plan in this program).
    pub service_plan_id: Option<RecordId>,
}

impl DocumentKind {
    /// The kind of record a delivery of this document names, when it is one.
    pub fn record_kind(self) -> Option<RecordKind> {
        match self {
            DocumentKind::PlanCopy => Some(RecordKind::Plan),
            DocumentKind::DischargePlan => Some(RecordKind::DischargePlan),
            DocumentKind::CrisisPlan => Some(RecordKind::CrisisPlan),
            DocumentKind::EnrollmentLetter
            | DocumentKind::TerminationLetter
            | DocumentKind::Other => None,
        }
    }
}

impl Store {
    /// The member's enrollment in `program`, or its problem on the form.
    fn enrollment_on(
        &self,
        form: &mut Form,
        member: RecordId,
        program: Program,
    ) -> Result<Option<(RecordId, Enrollment)>> {
        match self.enrollment_in(member, program) {
            Ok(found) => Ok(Some(found)),
            Err(crate::Error::Invalid { errors, .. }) => {
                form.errors.extend(errors);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// A consent `id` of `member`, checked to be in force at `at`.
    fn consent_for(&self, form: &mut Form, id: RecordId, member: RecordId, at: Timestamp) {
        if let Some(RecordBody::Consent(c)) =
            self.record_of(form, "consent_id", id, RecordKind::Consent, member)
            && !c.in_force(at)
        {
            form.fail("consent_id", "this consent is refused, revoked or expired");
        }
    }

    /// Records a consent or a refusal, by `by`.
    pub fn record_consent(&mut self, new: NewConsent, by: StaffId) -> Result<RecordId> {
        let mut form = Form::new();
        let scope = form.text("scope", new.scope);
        let signed_by = form.text("signed_by", new.signed_by);
        let signed_at = form.backdated("signed_at", new.signed_at);
        self.write_checked(
            form,
            RecordBody::Consent(Consent {
                member_id: new.member_id,
                program: new.program,
                recipient: new.recipient,
                scope,
                purpose: new.purpose.trim().to_string(),
                substance_use_part2: new.substance_use_part2,
                refused: new.refused,
                signed_by,
                signed_at,
                expires_on: new.expires_on,
                revoked_at: None,
                recorded_by: by,
            }),
        )
    }

    /// Records that the member revoked consent `id` at `at` (now when not given).
    pub fn revoke_consent(&mut self, id: RecordId, at: Option<Timestamp>) -> Result<()> {
        let mut form = Form::new();
        let at = form.past("revoked_at", at);
        match self.get(id)?.body {
            RecordBody::Consent(c) => {
                form.not_before("revoked_at", at, c.signed_at, "the signature");
                if c.revoked_at.is_some() {
                    form.fail("revoked_at", "this consent is already revoked");
                }
            }
            _ => form.fail("consent_id", "is not a consent"),
        }
        form.finish("consent")?;
        self.update(id, |body| {
            if let RecordBody::Consent(c) = body {
                c.revoked_at = Some(at);
            }
        })
    }

    /// Records a referral to another service, made by `by`.
    pub fn make_referral(&mut self, new: NewReferral, by: StaffId) -> Result<RecordId> {
        let mut form = Form::new();
        let service = form.text("service", new.service);
        let reason = form.text("reason", new.reason);
        let referred_at = form.past("referred_at", new.referred_at);
        if let Some(s) = new.scheduled_for {
            form.not_before("scheduled_for", s, referred_at, "the referral");
        }
        if let Some(c) = new.consent_id {
            self.consent_for(&mut form, c, new.member_id, referred_at);
        }
        self.write_checked(
            form,
            RecordBody::ServiceReferral(ServiceReferral {
                member_id: new.member_id,
                program: new.program,
                service,
                provider: new.provider,
                reason,
                alternative_for_ineligible: new.alternative_for_ineligible,
                referred_at,
                scheduled_for: new.scheduled_for,
                follow_ups: Vec::new(),
                no_follow_up_reason: None,
                consent_id: new.consent_id,
                by,
            }),
        )
    }

    /// Adds a follow-up, by `by`, to a referral.
    pub fn follow_up_referral(&mut self, new: NewFollowUp, by: StaffId) -> Result<()> {
        let mut form = Form::new();
        let outcome = form.text("outcome", new.outcome);
        let at = form.past("at", new.at);
        match self.get(new.referral_id)?.body {
            RecordBody::ServiceReferral(r) => {
                form.not_before("at", at, r.referred_at, "the referral");
            }
            _ => form.fail("referral_id", "is not a referral"),
        }
        form.finish("service_referral")?;
        self.update(new.referral_id, |body| {
            if let RecordBody::ServiceReferral(r) = body {
                r.follow_ups.push(FollowUp { at, outcome, by });
            }
        })
    }

    /// Documents why a referral has no follow-up within 30 days (CARES-5).
    pub fn explain_missing_follow_up(
        &mut self,
        referral_id: RecordId,
        reason: String,
    ) -> Result<()> {
        let mut form = Form::new();
        let reason = form.text("reason", reason);
        if !matches!(self.get(referral_id)?.body, RecordBody::ServiceReferral(_)) {
            form.fail("referral_id", "is not a referral");
        }
        form.finish("service_referral")?;
        self.update(referral_id, |body| {
            if let RecordBody::ServiceReferral(r) = body {
                r.no_follow_up_reason = Some(reason);
            }
        })
    }

    /// Records an incident reported by `reporter`.
    pub fn report_incident(&mut self, new: NewIncident, reporter: StaffId) -> Result<RecordId> {
        let mut form = Form::new();
        let location = form.text("location", new.location);
        let description = form.text("description", new.description);
        let occurred_at = form.past("occurred_at", Some(new.occurred_at));
        for (field, at) in [
            ("reported_to_plan_at", new.reported_to_plan_at),
            ("reported_to_masshealth_at", new.reported_to_masshealth_at),
        ] {
            if let Some(at) = at {
                form.past(field, Some(at));
            }
        }
        self.write_checked(
            form,
            RecordBody::Incident(Incident {
                member_id: new.member_id,
                program: new.program,
                occurred_at,
                location,
                category: new.category,
                description,
                actions_taken: new.actions_taken.trim().to_string(),
                reported_to_plan_at: new.reported_to_plan_at,
                reported_to_masshealth_at: new.reported_to_masshealth_at,
                alarm_id: new.alarm_id,
                reporter,
            }),
        )
    }

    /// Records when incident `id` was reported to `to` (now when not given). A report time
    /// already recorded is kept: it is refused rather than overwritten.
    pub fn incident_reported(
        &mut self,
        id: RecordId,
        to: ReportedTo,
        at: Option<Timestamp>,
    ) -> Result<()> {
        let mut form = Form::new();
        let field = match to {
            ReportedTo::HealthPlan => "reported_to_plan_at",
            ReportedTo::MassHealth => "reported_to_masshealth_at",
        };
        let at = form.past(field, at);
        match self.get(id)?.body {
            RecordBody::Incident(i) => {
                form.not_before(field, at, i.occurred_at, "the incident");
                let already = match to {
                    ReportedTo::HealthPlan => i.reported_to_plan_at,
                    ReportedTo::MassHealth => i.reported_to_masshealth_at,
                };
                if already.is_some() {
                    form.fail(field, "is already recorded");
                }
            }
            _ => form.fail("incident_id", "is not an incident"),
        }
        form.finish("incident")?;
        self.update(id, |body| {
            if let RecordBody::Incident(i) = body {
                match to {
                    ReportedTo::HealthPlan => i.reported_to_plan_at = Some(at),
                    ReportedTo::MassHealth => i.reported_to_masshealth_at = Some(at),
                }
            }
        })
    }

    /// Records an engagement attempt by `by`.
    pub fn record_attempt(&mut self, new: NewAttempt, by: StaffId) -> Result<RecordId> {
        let mut form = Form::new();
        let purpose = form.text("purpose", new.purpose);
        let at = form.past("at", new.at);
        self.write_checked(
            form,
            RecordBody::EngagementAttempt(EngagementAttempt {
                member_id: new.member_id,
                program: new.program,
                by,
                at,
                channel: new.channel,
                outcome: new.outcome,
                purpose,
                note: Form::optional(new.note),
            }),
        )
    }

    /// Records a document delivery by `by`. A plan, discharge plan or crisis plan names the
    /// record delivered, which must be this member's (and a plan or discharge plan, this
    /// program's); a consent named must be this member's and in force when delivered. The
    /// delivery keeps when it was entered beside when it happened.
    pub fn record_delivery(&mut self, new: NewDelivery, by: StaffId) -> Result<RecordId> {
        let mut form = Form::new();
        let language = form.text("language", new.language);
        let delivered_at = form.backdated("delivered_at", new.delivered_at);
        match (new.document.record_kind(), new.document_record_id) {
            (Some(kind), Some(id)) => {
                let program = self
                    .record_of(&mut form, "document_record_id", id, kind, new.member_id)
                    .and_then(|b| b.program());
                if kind != RecordKind::CrisisPlan && program.is_some_and(|p| p != new.program) {
                    form.fail("document_record_id", "belongs to another program");
                }
            }
            (Some(kind), None) => form.fail(
                "document_record_id",
                format!("name the {} delivered", kind.as_str().replace('_', " ")),
            ),
            (None, Some(_)) => form.fail(
                "document_record_id",
                "only a plan, discharge plan or crisis plan names a record",
            ),
            (None, None) => {}
        }
        if let Some(c) = new.consent_id {
            self.consent_for(&mut form, c, new.member_id, delivered_at);
        }
        let recorded_at = form.now;
        self.write_checked(
            form,
            RecordBody::DocumentDelivery(DocumentDelivery {
                member_id: new.member_id,
                program: new.program,
                document: new.document,
                document_record_id: new.document_record_id,
                recipient_kind: new.recipient_kind,
                recipient: new.recipient,
                channel: new.channel,
                paper: new.paper,
                electronic: new.electronic,
                language,
                delivered_at,
                consent_id: new.consent_id,
                by,
                recorded_at: Some(recorded_at),
            }),
        )
    }

    /// Places the member on their program's waitlist (TM only), by `by`: the enrollment's
    /// status becomes waitlisted, with the reason in its history.
    pub fn place_on_waitlist(&mut self, new: NewWaitlist, by: StaffId) -> Result<RecordId> {
        let mut form = Form::new();
        let reason = form.text("reason", new.reason);
        let since = form.past("since", new.since);
        if new.program != Program::Tm {
            form.fail(
                "program",
                "only Therapeutic Mentoring keeps a waitlist (TM-2)",
            );
        }
        let found = self.enrollment_on(&mut form, new.member_id, new.program)?;
        if let Some((_, enrollment)) = &found {
            if enrollment.waitlist.is_some() {
                form.fail("member_id", "is already on the waitlist");
            }
            form.not_before(
                "since",
                since,
                enrollment.referral.received_at,
                "the referral",
            );
        }
        form.finish("enrollment")?;
        let Some((id, _)) = found else {
            return Err(crate::Error::NotFound {
                kind: "enrollment",
                id: new.member_id,
            });
        };
        self.update(id, |body| {
            if let RecordBody::Enrollment(e) = body {
                e.waitlist = Some(Waitlist {
                    since,
                    reason: reason.clone(),
                    family_notified_at: None,
                    referral_source_notified_at: None,
                });
                e.status = EnrollmentStatus::Waitlisted;
                e.status_history.push(StatusChange {
                    at: since,
                    status: EnrollmentStatus::Waitlisted,
                    reason,
                    by,
                });
            }
        })?;
        Ok(id)
    }

    /// Records that the family or the referral source was told of the waitlist (TM-2).
    pub fn waitlist_notice(
        &mut self,
        member: RecordId,
        program: Program,
        who: WaitlistNotified,
        at: Option<Timestamp>,
    ) -> Result<()> {
        let mut form = Form::new();
        let field = match who {
            WaitlistNotified::Family => "family_notified_at",
            WaitlistNotified::ReferralSource => "referral_source_notified_at",
        };
        let at = form.past(field, at);
        let found = self.enrollment_on(&mut form, member, program)?;
        if let Some((_, enrollment)) = &found {
            match &enrollment.waitlist {
                Some(w) => form.not_before(field, at, w.since, "the waitlist entry"),
                None => form.fail("member_id", "is not on the waitlist"),
            }
        }
        form.finish("enrollment")?;
        let Some((id, _)) = found else {
            return Err(crate::Error::NotFound {
                kind: "enrollment",
                id: member,
            });
        };
        self.update(id, |body| {
            if let RecordBody::Enrollment(e) = body
                && let Some(w) = &mut e.waitlist
            {
                match who {
                    WaitlistNotified::Family => w.family_notified_at = Some(at),
                    WaitlistNotified::ReferralSource => w.referral_source_notified_at = Some(at),
                }
            }
        })
    }

    /// Writes a discharge plan for the member's enrollment in its program, by `author`. A
    /// crisis plan or service plan named must be this member's (the service plan, this
    /// program's).
    pub fn write_discharge_plan(
        &mut self,
        new: NewDischargePlan,
        author: StaffId,
    ) -> Result<RecordId> {
        let mut form = Form::new();
        let aftercare = form.text("aftercare", new.aftercare);
        let enrollment_id = self
            .enrollment_on(&mut form, new.member_id, new.program)?
            .map_or(RecordId::nil(), |(id, _)| id);
        if let Some(id) = new.crisis_plan_id {
            self.record_of(
                &mut form,
                "crisis_plan_id",
                id,
                RecordKind::CrisisPlan,
                new.member_id,
            );
        }
        if let Some(id) = new.service_plan_id
            && let Some(RecordBody::Plan(p)) = self.record_of(
                &mut form,
                "service_plan_id",
                id,
                RecordKind::Plan,
                new.member_id,
            )
            && p.program != new.program
        {
            form.fail("service_plan_id", "belongs to another program");
        }
        self.write_checked(
            form,
            RecordBody::DischargePlan(DischargePlan {
                member_id: new.member_id,
                program: new.program,
                enrollment_id,
                discharge_on: new.discharge_on,
                aftercare,
                recommendations: new.recommendations.trim().to_string(),
                crisis_plan_id: new.crisis_plan_id,
                service_plan_id: new.service_plan_id,
                written_at: Timestamp::now(),
                author,
            }),
        )
    }
}
