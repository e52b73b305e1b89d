//! What a worker records, as typed requests, turned into records in one place. The FFI and
//! the command line map their fields onto these and decide nothing themselves: the
//! defaults (place of service by modality, the plan kind of a program, the team a new
//! member joins) and the checks live here, once. Nothing here invents content: a record
//! holds exactly what was entered (`crate::synthetic` is for the demo and tests only).
//!
//! Every command refuses a bad request with [`Error::Invalid`] listing each field and its
//! reason, all of them at once, and then writes nothing.

mod care;
mod note;
mod staff;

pub use care::*;
pub use note::*;
pub use staff::*;

use crate::error::{Error, Result};
use crate::model::*;
use crate::store::Store;

/// How far back a signature or delivery may be dated when it is entered after the fact
/// (a paper plan signed at a visit, a letter handed over and typed in later): 30 days. The
/// record keeps both times, so an audit sees when it happened and when it was entered.
pub const BACKDATE_LIMIT_DAYS: i64 = 30;

/// How far ahead of this device's clock a time may lie before it counts as the future (five
/// minutes, for phones whose clocks drift).
pub const CLOCK_SKEW_MS: i64 = 5 * 60_000;

/// Collects every problem with a request before anything is written.
#[derive(Debug)]
pub(crate) struct Form {
    pub(crate) errors: Vec<FieldError>,
    pub(crate) now: Timestamp,
}

impl Form {
    pub(crate) fn new() -> Self {
        Form {
            errors: Vec::new(),
            now: Timestamp::now(),
        }
    }

    pub(crate) fn fail(&mut self, field: &str, reason: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            reason: reason.into(),
        });
    }

    /// Required text, trimmed.
    pub(crate) fn text(&mut self, field: &str, value: String) -> String {
        let value = value.trim().to_string();
        if value.is_empty() {
            self.fail(field, "is required");
        }
        value
    }

    /// Optional text, trimmed; blank is none.
    pub(crate) fn optional(value: Option<String>) -> Option<String> {
        value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// When something happened: now when not given; never in the future.
    pub(crate) fn past(&mut self, field: &str, at: Option<Timestamp>) -> Timestamp {
        let at = at.unwrap_or(self.now);
        if at.millis() > self.now.millis() + CLOCK_SKEW_MS {
            self.fail(field, "must not be in the future");
        }
        at
    }

    /// When a signature or delivery happened: now when not given, never in the future, and
    /// at most [`BACKDATE_LIMIT_DAYS`] ago.
    pub(crate) fn backdated(&mut self, field: &str, at: Option<Timestamp>) -> Timestamp {
        let at = self.past(field, at);
        if at.millis() < self.now.millis() - BACKDATE_LIMIT_DAYS * 86_400_000 {
            self.fail(
                field,
                format!("may be at most {BACKDATE_LIMIT_DAYS} days ago"),
            );
        }
        at
    }

    /// `at` must not be before `earlier` (`what` names it).
    pub(crate) fn not_before(
        &mut self,
        field: &str,
        at: Timestamp,
        earlier: Timestamp,
        what: &str,
    ) {
        if at < earlier {
            self.fail(field, format!("must not be before {what}"));
        }
    }

    /// A refusal naming one field.
    pub(crate) fn refusal(kind: &'static str, field: &str, reason: impl Into<String>) -> Error {
        let mut form = Form::new();
        form.fail(field, reason);
        Error::Invalid {
            kind,
            errors: form.errors,
        }
    }

    /// Refuses with every problem, when there is one.
    pub(crate) fn finish(self, kind: &'static str) -> Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid {
                kind,
                errors: self.errors,
            })
        }
    }
}

/// Where a contact happened when nobody said: remote for a call, video or text with the
/// member, the community otherwise (a worker records a home, shelter or court visit by
/// editing the note).
pub fn place_of_service(modality: Modality) -> PlaceOfService {
    if modality.with_member() && modality != Modality::InPerson {
        PlaceOfService::Remote
    } else {
        PlaceOfService::Community
    }
}

/// A new member and their enrollment in one program, written together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMember {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth.
    pub date_of_birth: Day,
    /// MassHealth ID (12 characters), or empty when not yet known.
    pub masshealth_id: String,
    /// Primary language.
    pub primary_language: String,
    /// The program they are referred to.
    pub program: Program,
    /// When the referral was received; now when not given.
    pub referred_at: Option<Timestamp>,
    /// Who referred them.
    pub referral_source: ReferralSource,
    /// Why, when the referral says.
    pub referral_reason: Option<String>,
    /// The correctional facility, for a referral from one (required then: CSP-JI in-reach,
    /// JI-6).
    pub referral_facility: Option<String>,
}

impl NewMember {
    /// The member and enrollment records this request makes.
    fn records(
        &self,
        member_id: RecordId,
        worker: StaffId,
        team: RecordId,
    ) -> (RecordBody, RecordBody) {
        let member = RecordBody::Member(Member {
            given_name: self.given_name.clone(),
            family_name: self.family_name.clone(),
            preferred_name: None,
            date_of_birth: self.date_of_birth,
            primary_language: self.primary_language.clone(),
            masshealth_id: self.masshealth_id.clone(),
            pcp: None,
            guardian: None,
            phone: None,
            location: None,
        });
        let enrollment = RecordBody::Enrollment(Enrollment {
            member_id,
            program: self.program,
            referral: Referral {
                received_at: self.referred_at.unwrap_or_else(Timestamp::now),
                source: self.referral_source.clone(),
                referrer: None,
                facility: Form::optional(self.referral_facility.clone()),
                reason: self.referral_reason.clone(),
            },
            intake_at: None,
            effective_on: None,
            later_first_appointment_requested: None,
            supervision: None,
            assigned_worker: worker,
            team_id: team,
            status: EnrollmentStatus::Active,
            status_history: Vec::new(),
            waitlist: None,
            significant_changes: Vec::new(),
            discharge: None,
        });
        (member, enrollment)
    }

    /// Every problem with the request's fields, of the member and the enrollment alike (an
    /// edge that parsed some fields itself adds these to its own, to report all at once).
    pub fn field_errors(&self) -> Vec<FieldError> {
        let (member, enrollment) = self.records(RecordId::nil(), RecordId::nil(), RecordId::nil());
        let mut errors = member.validate();
        errors.extend(enrollment.validate());
        errors
    }
}

/// The ids a new member was written under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberAdded {
    /// The member.
    pub member_id: RecordId,
    /// Their enrollment.
    pub enrollment_id: RecordId,
}

/// A completed plan with its real content, ready to sign: a service plan in CSP and CSP-JI,
/// an individual action plan in TM, an individual care plan in CARES, a care plan in the
/// Community Partners programs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPlan {
    /// The member.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// Problems and needs, as assessed.
    pub problems_and_needs: String,
    /// The member's strengths.
    pub strengths: String,
    /// A summary worker and supervisor may both edit.
    pub summary: String,
    /// The goals, at least one.
    pub goals: Vec<NewGoal>,
    /// CSP-JI: the plan was checked against the probation or parole plan (JI-4). Only what
    /// the worker says: never assumed.
    pub supervision_conflict_checked: bool,
    /// TM: the youth signs the action plan too.
    pub youth_signs: bool,
    /// Which plan; the program's service plan when not given. CARES also keeps a
    /// transition-to-adulthood plan (CARES-7) and an aftercare plan (CARES-8).
    pub kind: Option<PlanKind>,
}

impl NewPlan {
    /// The plan kinds `program` keeps.
    pub fn kinds_of(program: Program) -> Vec<PlanKind> {
        let mut kinds = vec![PlanKind::service_plan_of(program)];
        if program == Program::Cares {
            kinds.extend([PlanKind::TransitionToAdulthoodPlan, PlanKind::AftercarePlan]);
        }
        kinds
    }
}

/// One goal of a new plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewGoal {
    /// What the member wants to reach.
    pub statement: String,
    /// CSP-JI: the criminogenic needs it addresses.
    pub addresses_criminogenic: Vec<CriminogenicFactor>,
}

impl Store {
    /// Writes the new record `body` when neither the command's own checks (`form`) nor the
    /// store's find a problem; otherwise refuses with all of them and writes nothing. A field
    /// the form already faulted is not reported twice.
    pub(crate) fn write_checked(&mut self, mut form: Form, body: RecordBody) -> Result<RecordId> {
        let id = new_id();
        // Everything a worker records about a member is recorded under a program the member
        // is enrolled in (the store holds notes and plans to this on its own).
        if body.enrollment_needed().is_none()
            && let (Some(member), Some(program)) = (body.member_id(), body.program())
            && self.exists_member(member)?
            && self.enrollment_in(member, program).is_err()
        {
            form.fail("program", RecordBody::not_enrolled_reason(program));
        }
        for e in self.problems_of_new(id, &body)? {
            if !form.errors.iter().any(|f| f.field == e.field) {
                form.errors.push(e);
            }
        }
        form.finish(body.kind().as_str())?;
        self.insert_new(id, body)?;
        Ok(id)
    }

    /// The record `id` when it is a `kind` record of `member` on this device; otherwise a
    /// problem with `field` on the form.
    pub(crate) fn record_of(
        &self,
        form: &mut Form,
        field: &str,
        id: RecordId,
        kind: RecordKind,
        member: RecordId,
    ) -> Option<RecordBody> {
        match self.get(id) {
            Ok(r) if r.body.kind() == kind && r.body.member_id() == Some(member) => Some(r.body),
            Ok(_) => {
                form.fail(
                    field,
                    format!(
                        "is not a {} of this member",
                        kind.as_str().replace('_', " ")
                    ),
                );
                None
            }
            Err(_) => {
                form.fail(field, "no such record on this device");
                None
            }
        }
    }

    /// The team a record written on this device belongs to: the signed-in user's team as
    /// the server assigned it; the nil id on a device nobody has signed in on (the server
    /// files the member under the uploader's team at the first sync).
    fn my_team(&self) -> Result<RecordId> {
        Ok(match self.identity()? {
            Some(i) => RecordId::parse_str(&i.team_id).unwrap_or_else(|_| {
                RecordId::new_v5(&RecordId::NAMESPACE_OID, i.team_id.as_bytes())
            }),
            None => RecordId::nil(),
        })
    }

    /// Adds a member and enrolls them, both records checked before either is written and
    /// written in one batch; `worker` is the worker assigned. Every bad field of either is
    /// reported at once.
    pub fn add_member(&mut self, new: NewMember, worker: StaffId) -> Result<MemberAdded> {
        let errors = new.field_errors();
        if !errors.is_empty() {
            return Err(Error::Invalid {
                kind: "member",
                errors,
            });
        }
        let member_id = new_id();
        let (member, enrollment) = new.records(member_id, worker, self.my_team()?);
        let enrollment_id = new_id();
        self.create_batch_with_ids(vec![(member_id, member), (enrollment_id, enrollment)])?;
        Ok(MemberAdded {
            member_id,
            enrollment_id,
        })
    }

    /// Creates a completed plan from what the worker entered, written by `author`.
    pub fn create_plan(&mut self, new: NewPlan, author: StaffId) -> Result<RecordId> {
        let mut form = Form::new();
        if new.goals.is_empty() {
            form.fail("goals", "a plan needs at least one goal");
        }
        let kind = new
            .kind
            .unwrap_or_else(|| PlanKind::service_plan_of(new.program));
        if !NewPlan::kinds_of(new.program).contains(&kind) {
            form.fail("kind", "this program keeps no plan of this kind");
        }
        form.finish("plan")?;
        let plan = Plan {
            member_id: new.member_id,
            program: new.program,
            kind,
            status: PlanStatus::Completed,
            revision_of: None,
            completed_at: Some(Timestamp::now()),
            last_reviewed_on: None,
            next_review_on: None,
            problems_and_needs: new.problems_and_needs.into(),
            strengths: new.strengths.into(),
            summary: new.summary.into(),
            goals: new
                .goals
                .into_iter()
                .map(|g| Goal {
                    id: new_id(),
                    statement: g.statement.into(),
                    addresses_criminogenic: g.addresses_criminogenic,
                    objectives: Vec::new(),
                    interventions: Vec::new(),
                    tasks: Vec::new(),
                })
                .collect(),
            supervision_conflict_checked: new.supervision_conflict_checked,
            youth_signs: new.youth_signs,
            author,
        };
        self.create(RecordBody::Plan(plan))
    }
}

/// A significant change in a member's needs, recorded on their enrollment in one program: it
/// brings that program's plan review or reassessment forward (CSP-8, JI-5, CARES-3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSignificantChange {
    /// The member.
    pub member_id: RecordId,
    /// The program whose enrollment it is recorded on.
    pub program: Program,
    /// When it was recognized; now when not given.
    pub at: Option<Timestamp>,
    /// What changed.
    pub description: String,
}

/// An extension or a waiver of one rule for one member, granted by the signed-in supervisor
/// or program director (see [`crate::rules::catalog::allows_override`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOverride {
    /// The member.
    pub member_id: RecordId,
    /// The program.
    pub program: Program,
    /// The rule id from `RULES.md`.
    pub rule_id: String,
    /// Extension or waiver.
    pub kind: OverrideKind,
    /// For an extension: the new last day (required); for a waiver: none.
    pub until: Option<Day>,
    /// Why.
    pub reason: String,
}

impl Store {
    /// The id and content of the member's enrollment in `program`.
    pub(crate) fn enrollment_in(
        &self,
        member: RecordId,
        program: Program,
    ) -> Result<(RecordId, Enrollment)> {
        for entry in self.timeline(member)? {
            if entry.kind != RecordKind::Enrollment.as_str() {
                continue;
            }
            if let RecordBody::Enrollment(e) = self.get(entry.record_id)?.body
                && e.program == program
            {
                return Ok((entry.record_id, e));
            }
        }
        Err(Form::refusal(
            "enrollment",
            "program",
            RecordBody::not_enrolled_reason(program),
        ))
    }

    /// Records a significant change on the member's enrollment in its program; returns the
    /// enrollment's id. The description is required (at most 2,000 characters, no control
    /// characters); the time may not be in the future or before the referral.
    pub fn record_significant_change(&mut self, change: NewSignificantChange) -> Result<RecordId> {
        let mut form = Form::new();
        let description = change.description.trim().to_string();
        if description.is_empty() || description.chars().count() > 2000 {
            form.fail("description", "must be 1 to 2,000 characters");
        } else if description.chars().any(|c| c.is_control() && c != '\n') {
            form.fail("description", "must not contain control characters");
        }
        let at = form.past("at", change.at);
        let (id, enrollment) = self.enrollment_in(change.member_id, change.program)?;
        form.not_before("at", at, enrollment.referral.received_at, "the referral");
        form.finish("significant change")?;
        self.update(id, |body| {
            if let RecordBody::Enrollment(e) = body {
                e.significant_changes
                    .push(SignificantChange { at, description });
            }
        })?;
        Ok(id)
    }

    /// Grants an extension or waiver in the signed-in user's name. Refused by field when
    /// nobody is signed in, the user may not grant one, the rule takes none of that kind, an
    /// extension has no last day (or a waiver has one), or no reason is given.
    pub fn grant_override(&mut self, o: NewOverride) -> Result<RecordId> {
        let Some(author) = self.author()? else {
            return Err(Form::refusal(
                "override",
                "by",
                "sign in as a supervisor or program director to grant an extension or waiver",
            ));
        };
        let mut form = Form::new();
        match (o.kind, o.until) {
            (OverrideKind::Extension, None) => {
                form.fail("until", "an extension needs its new last day")
            }
            (OverrideKind::Waiver, Some(_)) => form.fail("until", "a waiver has no last day"),
            _ => {}
        }
        if o.reason.trim().is_empty() {
            form.fail("reason", "say why");
        }
        form.finish("override")?;
        self.create(RecordBody::Override(ObligationOverride {
            member_id: o.member_id,
            program: o.program,
            rule_id: o.rule_id.trim().to_uppercase(),
            kind: o.kind,
            until: o.until,
            by: author.staff_id,
            reason: o.reason.trim().to_string(),
            recorded_at: Timestamp::now(),
        }))
    }
}
