//! The closed set of record kinds, and the rules every record obeys before it is stored:
//! field-level validation with size limits.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::*;

/// The largest note narrative accepted, in bytes (64 KiB). A longer note is refused with
/// [`crate::Error::Invalid`] naming `narrative`.
pub const MAX_NARRATIVE_BYTES: usize = 64 * 1024;
/// The largest value accepted in any other text field, in bytes (16 KiB).
pub const MAX_FIELD_BYTES: usize = 16 * 1024;
/// The most items accepted in any list in a record (goals, tasks, progress entries).
pub const MAX_LIST_ITEMS: usize = 500;

/// One record, of any kind. Each record is one automerge document whose root holds this enum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
#[serde(tag = "kind", content = "body", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)]
pub enum RecordBody {
    /// A member.
    Member(Member),
    /// A program enrollment.
    Enrollment(Enrollment),
    /// A contact note or an addendum.
    ContactNote(ContactNote),
    /// An engagement attempt.
    EngagementAttempt(EngagementAttempt),
    /// A letter or document delivery.
    DocumentDelivery(DocumentDelivery),
    /// A needs assessment.
    NeedsAssessment(NeedsAssessment),
    /// A plan of any kind.
    Plan(Plan),
    /// A consent or release of information.
    Consent(Consent),
    /// A referral to another service.
    ServiceReferral(ServiceReferral),
    /// A Reportable Adverse Incident.
    Incident(Incident),
    /// A crisis prevention / safety plan.
    CrisisPlan(CrisisPlan),
    /// A discharge plan.
    DischargePlan(DischargePlan),
    /// A supervision record (staff obligation).
    Supervision(SupervisionRecord),
    /// A consultation record (staff obligation).
    Consultation(ConsultationRecord),
    /// A training record (staff obligation).
    Training(TrainingRecord),
    /// An extension or waiver of a program obligation.
    Override(ObligationOverride),
}

/// The kind of a record, as stored in projections (`member`, `contact_note`...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum RecordKind {
    Member,
    Enrollment,
    ContactNote,
    EngagementAttempt,
    DocumentDelivery,
    NeedsAssessment,
    Plan,
    Consent,
    ServiceReferral,
    Incident,
    CrisisPlan,
    DischargePlan,
    Supervision,
    Consultation,
    Training,
    Override,
}

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 16] = [
        RecordKind::Member,
        RecordKind::Enrollment,
        RecordKind::ContactNote,
        RecordKind::EngagementAttempt,
        RecordKind::DocumentDelivery,
        RecordKind::NeedsAssessment,
        RecordKind::Plan,
        RecordKind::Consent,
        RecordKind::ServiceReferral,
        RecordKind::Incident,
        RecordKind::CrisisPlan,
        RecordKind::DischargePlan,
        RecordKind::Supervision,
        RecordKind::Consultation,
        RecordKind::Training,
        RecordKind::Override,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Member => "member",
            RecordKind::Enrollment => "enrollment",
            RecordKind::ContactNote => "contact_note",
            RecordKind::EngagementAttempt => "engagement_attempt",
            RecordKind::DocumentDelivery => "document_delivery",
            RecordKind::NeedsAssessment => "needs_assessment",
            RecordKind::Plan => "plan",
            RecordKind::Consent => "consent",
            RecordKind::ServiceReferral => "service_referral",
            RecordKind::Incident => "incident",
            RecordKind::CrisisPlan => "crisis_plan",
            RecordKind::DischargePlan => "discharge_plan",
            RecordKind::Supervision => "supervision",
            RecordKind::Consultation => "consultation",
            RecordKind::Training => "training",
            RecordKind::Override => "override",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One field that failed validation, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field's path, such as `narrative` or `goals[2].statement`.
    pub field: String,
    /// Why it was refused, in words a worker understands.
    pub reason: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Collects field errors while a record is checked.
#[derive(Default)]
pub(crate) struct Checker {
    pub(crate) errors: Vec<FieldError>,
}

impl Checker {
    pub(crate) fn fail(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            reason: reason.into(),
        });
    }

    fn required(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.fail(field, "is required");
        }
        self.size(field, value, MAX_FIELD_BYTES);
    }

    fn size(&mut self, field: &str, value: &str, limit: usize) {
        // Long text keeps its line breaks and tabs; nothing else that is a control character
        // (terminal escapes, bells) belongs in a record.
        let long = limit > MAX_FIELD_BYTES;
        if value
            .chars()
            .any(|ch| ch.is_control() && !(long && matches!(ch, '\n' | '\t' | '\r')))
        {
            self.fail(
                field,
                "must not contain control characters (terminal escapes, bells)",
            );
        }
        if value.len() > limit {
            self.fail(
                field,
                format!("is {} bytes; the limit is {limit} bytes", value.len()),
            );
        }
    }

    fn optional(&mut self, field: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.size(field, v, MAX_FIELD_BYTES);
        }
    }

    fn list<T>(&mut self, field: &str, items: &[T]) {
        if items.len() > MAX_LIST_ITEMS {
            self.fail(
                field,
                format!("has {} items; the limit is {MAX_LIST_ITEMS}", items.len()),
            );
        }
    }

    fn order(&mut self, field: &str, start: Timestamp, end: Option<Timestamp>, what: &str) {
        if let Some(end) = end
            && end < start
        {
            self.fail(field, format!("is before {what}"));
        }
    }

    fn contact(&mut self, field: &str, c: &Contact) {
        self.required(&format!("{field}.name"), &c.name);
        self.optional(&format!("{field}.organization"), &c.organization);
        self.optional(&format!("{field}.phone"), &c.phone);
        self.optional(&format!("{field}.email"), &c.email);
    }
}

impl RecordBody {
    /// The kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            RecordBody::Member(_) => RecordKind::Member,
            RecordBody::Enrollment(_) => RecordKind::Enrollment,
            RecordBody::ContactNote(_) => RecordKind::ContactNote,
            RecordBody::EngagementAttempt(_) => RecordKind::EngagementAttempt,
            RecordBody::DocumentDelivery(_) => RecordKind::DocumentDelivery,
            RecordBody::NeedsAssessment(_) => RecordKind::NeedsAssessment,
            RecordBody::Plan(_) => RecordKind::Plan,
            RecordBody::Consent(_) => RecordKind::Consent,
            RecordBody::ServiceReferral(_) => RecordKind::ServiceReferral,
            RecordBody::Incident(_) => RecordKind::Incident,
            RecordBody::CrisisPlan(_) => RecordKind::CrisisPlan,
            RecordBody::DischargePlan(_) => RecordKind::DischargePlan,
            RecordBody::Supervision(_) => RecordKind::Supervision,
            RecordBody::Consultation(_) => RecordKind::Consultation,
            RecordBody::Training(_) => RecordKind::Training,
            RecordBody::Override(_) => RecordKind::Override,
        }
    }

    /// The member the record belongs to; `None` for staff records and member-less incidents.
    pub fn member_id(&self) -> Option<RecordId> {
        match self {
            RecordBody::Member(_) => None,
            RecordBody::Enrollment(r) => Some(r.member_id),
            RecordBody::ContactNote(r) => Some(r.member_id),
            RecordBody::EngagementAttempt(r) => Some(r.member_id),
            RecordBody::DocumentDelivery(r) => Some(r.member_id),
            RecordBody::NeedsAssessment(r) => Some(r.member_id),
            RecordBody::Plan(r) => Some(r.member_id),
            RecordBody::Consent(r) => Some(r.member_id),
            RecordBody::ServiceReferral(r) => Some(r.member_id),
            RecordBody::Incident(r) => r.member_id,
            RecordBody::CrisisPlan(r) => Some(r.member_id),
            RecordBody::DischargePlan(r) => Some(r.member_id),
            RecordBody::Override(r) => Some(r.member_id),
            RecordBody::Supervision(_) | RecordBody::Consultation(_) | RecordBody::Training(_) => {
                None
            }
        }
    }

    /// The member and program a record must have an enrollment for: contact notes and
    /// plans are written under a program the member is enrolled in (any status), on the
    /// device and on the server alike.
    pub fn enrollment_needed(&self) -> Option<(RecordId, Program)> {
        match self {
            RecordBody::ContactNote(r) => Some((r.member_id, r.program)),
            RecordBody::Plan(r) => Some((r.member_id, r.program)),
            _ => None,
        }
    }

    /// Why a record that needs an enrollment in `program` (see
    /// [`RecordBody::enrollment_needed`]) was refused; reported on the field `program`.
    pub fn not_enrolled_reason(program: Program) -> String {
        format!(
            "the member is not enrolled in {}; enroll them first",
            program.code()
        )
    }

    /// The program, where the record has one.
    pub fn program(&self) -> Option<Program> {
        match self {
            RecordBody::Member(_) => None,
            RecordBody::Enrollment(r) => Some(r.program),
            RecordBody::ContactNote(r) => Some(r.program),
            RecordBody::EngagementAttempt(r) => Some(r.program),
            RecordBody::DocumentDelivery(r) => Some(r.program),
            RecordBody::NeedsAssessment(r) => Some(r.program),
            RecordBody::Plan(r) => Some(r.program),
            RecordBody::Consent(r) => Some(r.program),
            RecordBody::ServiceReferral(r) => Some(r.program),
            RecordBody::Incident(r) => Some(r.program),
            RecordBody::CrisisPlan(r) => Some(r.program),
            RecordBody::DischargePlan(r) => Some(r.program),
            RecordBody::Supervision(r) => Some(r.program),
            RecordBody::Consultation(r) => Some(r.program),
            RecordBody::Training(r) => Some(r.program),
            RecordBody::Override(r) => Some(r.program),
        }
    }

    /// The instant the record sits at on a member's timeline.
    pub fn timeline_at(&self) -> Timestamp {
        match self {
            RecordBody::Member(_) => Timestamp::from_millis(0),
            RecordBody::Enrollment(r) => r.referral.received_at,
            RecordBody::ContactNote(r) => r.started_at,
            RecordBody::EngagementAttempt(r) => r.at,
            RecordBody::DocumentDelivery(r) => r.delivered_at,
            RecordBody::NeedsAssessment(r) => r.started_at,
            RecordBody::Plan(r) => r
                .completed_at
                .unwrap_or_else(|| Timestamp::from_millis(r.last_reviewed_on.map_or(0, day_ms))),
            RecordBody::Consent(r) => r.signed_at,
            RecordBody::ServiceReferral(r) => r.referred_at,
            RecordBody::Incident(r) => r.occurred_at,
            RecordBody::CrisisPlan(r) => r.written_at,
            RecordBody::DischargePlan(r) => r.written_at,
            RecordBody::Supervision(r) => r.held_at,
            RecordBody::Consultation(r) => r.requested_at,
            RecordBody::Override(r) => r.recorded_at,
            RecordBody::Training(r) => Timestamp::from_millis(
                r.completed_on
                    .map_or_else(|| day_ms(r.employment_started_on), day_ms),
            ),
        }
    }

    /// A one-line title for lists and timelines, in words ("In person contact, 45 min").
    /// Contains no narrative text.
    pub fn title(&self) -> String {
        match self {
            RecordBody::Member(m) => m.display_name(),
            RecordBody::Enrollment(e) => {
                format!("{} enrollment ({})", e.program.code(), words(&e.status))
            }
            RecordBody::ContactNote(n) if n.addendum_to.is_some() => "Addendum".to_string(),
            RecordBody::ContactNote(n) => capitalized(&format!(
                "{} contact, {} min",
                words(&n.modality),
                n.duration_minutes
            )),
            RecordBody::EngagementAttempt(a) => {
                format!("Engagement attempt: {}", words(&a.outcome))
            }
            RecordBody::DocumentDelivery(d) => {
                capitalized(&format!("{} delivered", words(&d.document)))
            }
            RecordBody::NeedsAssessment(a) => {
                capitalized(&format!("{} needs assessment", words(&a.kind)))
            }
            RecordBody::Plan(p) => {
                capitalized(&format!("{} ({})", words(&p.kind), words(&p.status)))
            }
            RecordBody::Consent(c) if c.refused => "Consent refused".to_string(),
            RecordBody::Consent(c) if c.substance_use_part2 => "Consent (42 CFR Part 2)".into(),
            RecordBody::Consent(_) => "Consent".to_string(),
            RecordBody::ServiceReferral(r) => format!("Referral: {}", r.service),
            RecordBody::Incident(i) => format!("Incident: {}", words(&i.category)),
            RecordBody::CrisisPlan(_) => "Crisis prevention plan".to_string(),
            RecordBody::DischargePlan(_) => "Discharge plan".to_string(),
            RecordBody::Supervision(_) => "Supervision".to_string(),
            RecordBody::Consultation(c) => format!("Consultation: {}", words(&c.consultant_kind)),
            RecordBody::Training(t) => format!("Training: {}", t.course),
            RecordBody::Override(o) => capitalized(&format!("{} of {}", words(&o.kind), o.rule_id)),
        }
    }

    /// Checks the record for storing (drafts included). Returns every problem found.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::default();
        match self {
            RecordBody::Member(m) => {
                c.required("given_name", &m.given_name);
                c.required("family_name", &m.family_name);
                c.optional("preferred_name", &m.preferred_name);
                c.required("primary_language", &m.primary_language);
                let id = m.masshealth_id.trim();
                if id.len() != 12 || !id.chars().all(|ch| ch.is_ascii_alphanumeric()) {
                    c.fail("masshealth_id", "must be 12 letters or digits");
                }
                if m.date_of_birth.0 > chrono::Utc::now().date_naive() {
                    c.fail("date_of_birth", "is in the future");
                }
                if m.date_of_birth.0
                    < chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default()
                {
                    c.fail("date_of_birth", "is before 1900");
                }
                if let Some(p) = &m.pcp {
                    c.contact("pcp", p);
                }
                if let Some(g) = &m.guardian {
                    c.contact("guardian.contact", &g.contact);
                    c.required("guardian.relationship", &g.relationship);
                }
                c.optional("phone", &m.phone);
                c.optional("location", &m.location);
            }
            RecordBody::Enrollment(e) => {
                c.optional("referral.facility", &e.referral.facility);
                c.optional("referral.reason", &e.referral.reason);
                if e.referral.source == ReferralSource::CorrectionalFacility
                    && e.referral
                        .facility
                        .as_deref()
                        .is_none_or(|f| f.trim().is_empty())
                {
                    c.fail(
                        "referral.facility",
                        "is required for a correctional facility referral",
                    );
                }
                c.order(
                    "intake_at",
                    e.referral.received_at,
                    e.intake_at,
                    "the referral",
                );
                c.list("status_history", &e.status_history);
                for (i, s) in e.status_history.iter().enumerate() {
                    c.required(&format!("status_history[{i}].reason"), &s.reason);
                }
                if let Some(d) = &e.later_first_appointment_requested {
                    c.required("later_first_appointment_requested.reason", &d.reason);
                }
                if let Some(s) = &e.supervision {
                    c.required("supervision.plan_conditions", &s.plan_conditions);
                }
                if let Some(w) = &e.waitlist {
                    c.required("waitlist.reason", &w.reason);
                }
                c.list("significant_changes", &e.significant_changes);
                if let Some(d) = &e.discharge {
                    c.required("discharge.reason", &d.reason);
                    if d.last_service_on > d.discharged_on {
                        c.fail("discharge.last_service_on", "is after the discharge date");
                    }
                }
                if e.status == EnrollmentStatus::Discharged && e.discharge.is_none() {
                    c.fail("discharge", "is required when the status is discharged");
                }
            }
            RecordBody::ContactNote(n) => validate_note(&mut c, n),
            RecordBody::EngagementAttempt(a) => {
                c.required("purpose", &a.purpose);
                c.optional("note", &a.note);
            }
            RecordBody::DocumentDelivery(d) => {
                c.contact("recipient", &d.recipient);
                c.required("language", &d.language);
                if !d.paper && !d.electronic {
                    c.fail("paper", "a delivery is on paper, electronic, or both");
                }
            }
            RecordBody::NeedsAssessment(a) => {
                c.order("completed_at", a.started_at, a.completed_at, "the start");
                c.size("summary", &a.summary, MAX_NARRATIVE_BYTES);
                c.list("domains", &a.domains);
                c.list("criminogenic_needs", &a.criminogenic_needs);
                for (i, d) in a.domains.iter().enumerate() {
                    c.required(&format!("domains[{i}].domain"), &d.domain);
                }
                if a.program == Program::CspJi
                    && a.completed_at.is_some()
                    && matches!(
                        a.kind,
                        AssessmentKind::Comprehensive | AssessmentKind::Update
                    )
                    && a.criminogenic_needs.is_empty()
                {
                    c.fail(
                        "criminogenic_needs",
                        "a completed CSP-JI assessment must determine them",
                    );
                }
            }
            RecordBody::Plan(p) => {
                c.size(
                    "problems_and_needs",
                    p.problems_and_needs.as_str(),
                    MAX_NARRATIVE_BYTES,
                );
                c.size("strengths", p.strengths.as_str(), MAX_NARRATIVE_BYTES);
                c.size("summary", p.summary.as_str(), MAX_NARRATIVE_BYTES);
                c.list("goals", &p.goals);
                for (i, g) in p.goals.iter().enumerate() {
                    c.required(&format!("goals[{i}].statement"), g.statement.as_str());
                    c.list(&format!("goals[{i}].tasks"), &g.tasks);
                    for (j, o) in g.objectives.iter().enumerate() {
                        c.required(&format!("goals[{i}].objectives[{j}].measure"), &o.measure);
                    }
                    for (j, t) in g.tasks.iter().enumerate() {
                        c.required(
                            &format!("goals[{i}].tasks[{j}].description"),
                            &t.description,
                        );
                        c.required(
                            &format!("goals[{i}].tasks[{j}].responsible"),
                            &t.responsible,
                        );
                    }
                }
                if p.status == PlanStatus::Completed && p.goals.is_empty() {
                    c.fail("goals", "a completed plan needs at least one goal");
                }
            }
            RecordBody::Consent(k) => {
                c.contact("recipient", &k.recipient);
                c.required("scope", &k.scope);
                c.required("signed_by", &k.signed_by);
                c.order("revoked_at", k.signed_at, k.revoked_at, "the signature");
                if let Some(e) = k.expires_on
                    && e.0 < k.signed_at.0.date_naive()
                {
                    c.fail("expires_on", "is before the signature");
                }
            }
            RecordBody::ServiceReferral(r) => {
                c.required("service", &r.service);
                c.contact("provider", &r.provider);
                c.list("follow_ups", &r.follow_ups);
                for (i, f) in r.follow_ups.iter().enumerate() {
                    c.order(
                        &format!("follow_ups[{i}].at"),
                        r.referred_at,
                        Some(f.at),
                        "the referral",
                    );
                    c.required(&format!("follow_ups[{i}].outcome"), &f.outcome);
                }
            }
            RecordBody::Incident(i) => {
                c.required("location", &i.location);
                c.required("description", &i.description);
                c.order(
                    "reported_to_plan_at",
                    i.occurred_at,
                    i.reported_to_plan_at,
                    "the incident",
                );
                c.order(
                    "reported_to_masshealth_at",
                    i.occurred_at,
                    i.reported_to_masshealth_at,
                    "the incident",
                );
            }
            RecordBody::CrisisPlan(p) => {
                c.list("warning_signs", &p.warning_signs);
                c.list("coping_strategies", &p.coping_strategies);
                c.order(
                    "given_to_member_at",
                    p.written_at,
                    p.given_to_member_at,
                    "writing",
                );
            }
            RecordBody::DischargePlan(p) => {
                c.required("aftercare", &p.aftercare);
            }
            RecordBody::Supervision(s) => {
                if s.duration_minutes == 0 {
                    c.fail("duration_minutes", "must be more than 0");
                }
            }
            RecordBody::Consultation(k) => {
                c.order(
                    "responded_at",
                    k.requested_at,
                    k.responded_at,
                    "the request",
                );
            }
            RecordBody::Training(t) => {
                c.required("course", &t.course);
            }
            RecordBody::Override(o) => {
                c.required("rule_id", &o.rule_id);
                c.required("reason", &o.reason);
                if o.kind == OverrideKind::Extension && o.until.is_none() {
                    c.fail("until", "an extension needs a new last day");
                }
            }
        }
        c.errors
    }
}

fn validate_note(c: &mut Checker, n: &ContactNote) {
    c.size("narrative", &n.narrative, MAX_NARRATIVE_BYTES);
    if n.duration_minutes > 24 * 60 {
        c.fail("duration_minutes", "is longer than a day");
    }
    c.optional("telehealth_reason", &n.telehealth_reason);
    c.optional("planned_activity", &n.planned_activity);
    c.optional("goal_targeted", &n.goal_targeted);
    c.optional("member_response", &n.member_response);
    c.list("progress", &n.progress);
    c.list("purposes", &n.purposes);
    if let Some(col) = &n.collateral {
        c.contact("collateral", col);
    }
    if n.modality == Modality::Collateral && n.collateral.is_none() {
        c.fail("collateral", "is required for a collateral contact");
    }
    if n.started_at > Timestamp::from_millis(Timestamp::now().millis() + 24 * 3_600_000) {
        c.fail("started_at", "is more than a day in the future");
    }
}

impl ContactNote {
    fn session_fields(&self) -> [(&'static str, Option<&str>); 3] {
        [
            ("planned_activity", self.planned_activity.as_deref()),
            ("goal_targeted", self.goal_targeted.as_deref()),
            ("member_response", self.member_response.as_deref()),
        ]
    }

    /// Whether the note records planned activity, goal targeted and member response (TM-5).
    pub fn session_fields_complete(&self) -> bool {
        self.session_fields()
            .iter()
            .all(|(_, v)| v.is_some_and(|v| !v.trim().is_empty()))
    }

    /// Whether a reason for telehealth is written (TM-7).
    pub fn telehealth_reason_given(&self) -> bool {
        self.telehealth_reason
            .as_deref()
            .is_some_and(|r| !r.trim().is_empty())
    }

    /// Checks what finalizing requires beyond storing a draft: a narrative, a duration, and
    /// the program's documentation duties (TM-5 planned activity, goal and response; TM-7 and
    /// every program: the reason for telehealth).
    pub fn validate_for_finalize(&self) -> Vec<FieldError> {
        let mut c = Checker::default();
        validate_note(&mut c, self);
        if self.narrative.trim().is_empty() {
            c.fail("narrative", "is required to finalize a note");
        }
        if self.duration_minutes == 0 {
            c.fail("duration_minutes", "must be more than 0 to finalize a note");
        }
        if self.modality == Modality::Telehealth && !self.telehealth_reason_given() {
            c.fail(
                "telehealth_reason",
                "is required for a telehealth contact (TM-7)",
            );
        }
        if self.program == Program::Tm && self.modality.with_member() && self.addendum_to.is_none()
        {
            for (field, value) in self.session_fields() {
                if value.is_none_or(|v| v.trim().is_empty()) {
                    c.fail(field, "is required on every TM session note (TM-5)");
                }
            }
        }
        c.errors
    }
}

fn day_ms(d: Day) -> i64 {
    d.0.and_hms_opt(12, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis())
}

/// A value's serialized name in words: `in_person` becomes `in person`.
pub fn words<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s.replace('_', " "),
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// The text with its first letter in upper case.
pub fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
