//! The typed forms for everything a worker records besides members, notes and plans:
//! consents, referrals and follow-ups, incidents and their reports, engagement attempts,
//! document deliveries, the TM waitlist, discharge plans, and the staff records. Each maps its
//! fields onto the core's command (`fieldnote_core::commands`), which decides everything;
//! ids and times that do not parse are reported together, naming each field.

use fieldnote_core::commands as cmd;
use fieldnote_core::commands::{ReportedTo, WaitlistNotified};
use fieldnote_core::model::{
    AttemptOutcome, Channel, ConsultantKind, Contact, Day, DocumentKind, IncidentCategory, Program,
    RecipientKind, RecordId, StaffId, Timestamp,
};

use crate::error::{FieldProblem, FieldnoteError, Outcome};
use crate::store::{FieldnoteStore, worker};
use crate::types::timestamp;

/// Reads ids, times and dates from a form, keeping every problem so all are reported at once.
#[derive(Default)]
pub(crate) struct Parsed {
    problems: Vec<FieldProblem>,
}

impl Parsed {
    fn fail(&mut self, field: &str, reason: &str) {
        self.problems.push(FieldProblem {
            field: field.into(),
            reason: reason.into(),
        });
    }

    /// A record id (the nil id, with a problem, when it does not parse).
    pub(crate) fn id(&mut self, field: &str, s: &str) -> RecordId {
        RecordId::parse_str(s.trim()).unwrap_or_else(|_| {
            self.fail(field, "is not a record id (a UUID)");
            RecordId::nil()
        })
    }

    /// An optional record id; blank is none.
    pub(crate) fn opt_id(&mut self, field: &str, s: Option<String>) -> Option<RecordId> {
        s.filter(|s| !s.trim().is_empty())
            .map(|s| self.id(field, &s))
    }

    /// A time in milliseconds since 1970.
    pub(crate) fn at(&mut self, field: &str, ms: i64) -> Timestamp {
        timestamp(field, ms).unwrap_or_else(|_| {
            self.fail(
                field,
                "must be milliseconds since 1970 and before year 10000",
            );
            Timestamp::from_millis(0)
        })
    }

    /// An optional time.
    pub(crate) fn opt_at(&mut self, field: &str, ms: Option<i64>) -> Option<Timestamp> {
        ms.map(|ms| self.at(field, ms))
    }

    /// A date, `YYYY-MM-DD`.
    pub(crate) fn day(&mut self, field: &str, s: &str) -> Day {
        Day::parse(s.trim()).unwrap_or_else(|| {
            self.fail(field, "use YYYY-MM-DD");
            Day(Default::default())
        })
    }

    /// An optional date; blank is none.
    pub(crate) fn opt_day(&mut self, field: &str, s: Option<String>) -> Option<Day> {
        s.filter(|s| !s.trim().is_empty())
            .map(|s| self.day(field, &s))
    }

    /// Refuses with every problem found, when there is one.
    pub(crate) fn finish(self) -> Outcome<()> {
        if self.problems.is_empty() {
            return Ok(());
        }
        let reason = self
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.reason))
            .collect::<Vec<_>>()
            .join("; ");
        Err(FieldnoteError::Invalid {
            reason,
            problems: self.problems,
        })
    }
}

/// A consent or release of information, or a documented refusal (CSP-12).
#[derive(Clone, Debug, uniffi::Record)]
pub struct NewConsent {
    /// The member.
    pub member_id: String,
    /// The program.
    pub program: Program,
    /// Who may receive information.
    pub recipient: Contact,
    /// What may be shared, in the form's words.
    pub scope: String,
    /// Why it is shared.
    pub purpose: String,
    /// Covers substance-use disorder records (42 CFR Part 2).
    #[uniffi(default = false)]
    pub substance_use_part2: bool,
    /// The member refused.
    #[uniffi(default = false)]
    pub refused: bool,
    /// Who signed or refused.
    pub signed_by: String,
    /// When it was signed on paper (ms); now when absent; at most 30 days ago.
    #[uniffi(default = None)]
    pub signed_at_ms: Option<i64>,
    /// When it expires, `YYYY-MM-DD`.
    #[uniffi(default = None)]
    pub expires_on: Option<String>,
}

/// A referral to another service or provider.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NewReferral {
    /// The member.
    pub member_id: String,
    /// The program.
    pub program: Program,
    /// The service.
    pub service: String,
    /// The provider.
    pub provider: Contact,
    /// Why.
    pub reason: String,
    /// An alternative for a member found ineligible at intake (JI-9).
    #[uniffi(default = false)]
    pub alternative_for_ineligible: bool,
    /// When it was made (ms); now when absent.
    #[uniffi(default = None)]
    pub referred_at_ms: Option<i64>,
    /// When the referred service is scheduled (ms); CARES-5 counts from it.
    #[uniffi(default = None)]
    pub scheduled_for_ms: Option<i64>,
    /// The consent that allows sharing with the provider.
    #[uniffi(default = None)]
    pub consent_id: Option<String>,
}

/// A Reportable Adverse Incident.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NewIncident {
    /// The member involved, if any.
    pub member_id: Option<String>,
    /// The program.
    pub program: Program,
    /// When it occurred (ms).
    pub occurred_at_ms: i64,
    /// Where.
    pub location: String,
    /// Category.
    pub category: IncidentCategory,
    /// What happened.
    pub description: String,
    /// Actions taken.
    pub actions_taken: String,
    /// Reported to the health plan at (ms).
    #[uniffi(default = None)]
    pub reported_to_plan_at_ms: Option<i64>,
    /// Reported to MassHealth at (ms).
    #[uniffi(default = None)]
    pub reported_to_masshealth_at_ms: Option<i64>,
    /// The alarm that led to it.
    #[uniffi(default = None)]
    pub alarm_id: Option<String>,
}

/// An engagement attempt.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NewAttempt {
    /// The member.
    pub member_id: String,
    /// The program.
    pub program: Program,
    /// When (ms); now when absent.
    #[uniffi(default = None)]
    pub at_ms: Option<i64>,
    /// By what means.
    pub channel: Channel,
    /// What happened.
    pub outcome: AttemptOutcome,
    /// What it was for.
    pub purpose: String,
    /// Details.
    #[uniffi(default = None)]
    pub note: Option<String>,
}

/// A letter or document given or sent.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NewDelivery {
    /// The member it concerns.
    pub member_id: String,
    /// The program.
    pub program: Program,
    /// What was delivered.
    pub document: DocumentKind,
    /// The plan, discharge plan or crisis plan delivered.
    #[uniffi(default = None)]
    pub document_record_id: Option<String>,
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
    /// When it was delivered (ms); now when absent; at most 30 days ago.
    #[uniffi(default = None)]
    pub delivered_at_ms: Option<i64>,
    /// The consent that allowed sharing it.
    #[uniffi(default = None)]
    pub consent_id: Option<String>,
}

/// A written discharge plan.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NewDischargePlan {
    /// The member.
    pub member_id: String,
    /// The program whose enrollment closes.
    pub program: Program,
    /// Planned discharge date, `YYYY-MM-DD`.
    pub discharge_on: String,
    /// Services and supports after discharge.
    pub aftercare: String,
    /// Recommendations.
    pub recommendations: String,
    /// The crisis plan that goes with it.
    #[uniffi(default = None)]
    pub crisis_plan_id: Option<String>,
    /// The updated service plan given with it (JI-10).
    #[uniffi(default = None)]
    pub service_plan_id: Option<String>,
}

/// A supervision session.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NewSupervision {
    /// The supervisee's staff id.
    pub staff_id: String,
    /// The supervisor's staff id.
    pub supervisor_id: String,
    /// The program.
    pub program: Program,
    /// Individual or group.
    pub individual: bool,
    /// When (ms).
    pub held_at_ms: i64,
    /// Minutes.
    pub duration_minutes: u32,
    /// Topics, without member details.
    pub topics: String,
}

/// A consultation request.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NewConsultation {
    /// The program.
    pub program: Program,
    /// When it was asked (ms); now when absent.
    #[uniffi(default = None)]
    pub requested_at_ms: Option<i64>,
    /// Whom it was asked of.
    pub consultant_kind: ConsultantKind,
    /// Topic, without member details.
    pub topic: String,
}

/// A training.
#[derive(Clone, Debug, uniffi::Record)]
pub struct NewTraining {
    /// The trainee's staff id.
    pub staff_id: String,
    /// The program.
    pub program: Program,
    /// First day of employment, `YYYY-MM-DD`.
    pub employment_started_on: String,
    /// Course.
    pub course: String,
    /// Part of the required initial training.
    pub required_initial: bool,
    /// Completion date, `YYYY-MM-DD`; absent while enrolled.
    #[uniffi(default = None)]
    pub completed_on: Option<String>,
}

/// Writes with the signed-in worker: parses the form (`parse` reports every bad field), then
/// hands the typed request to `run`.
fn with_form<T, R>(
    store: &FieldnoteStore,
    parse: impl FnOnce(&mut Parsed) -> T,
    run: impl FnOnce(&mut fieldnote_core::Store, T, StaffId) -> fieldnote_core::Result<R>,
) -> Outcome<R> {
    store.write(|s| {
        let mut p = Parsed::default();
        let request = parse(&mut p);
        p.finish()?;
        let (me, _) = worker(s)?;
        Ok(run(s, request, me)?)
    })
}

#[uniffi::export]
impl FieldnoteStore {
    /// Records a consent or refusal. Returns its id.
    pub fn record_consent(&self, consent: NewConsent) -> Outcome<String> {
        with_form(
            self,
            |p| cmd::NewConsent {
                member_id: p.id("member_id", &consent.member_id),
                program: consent.program,
                recipient: consent.recipient,
                scope: consent.scope,
                purpose: consent.purpose,
                substance_use_part2: consent.substance_use_part2,
                refused: consent.refused,
                signed_by: consent.signed_by,
                signed_at: p.opt_at("signed_at_ms", consent.signed_at_ms),
                expires_on: p.opt_day("expires_on", consent.expires_on),
            },
            |s, new, me| s.record_consent(new, me).map(|id| id.to_string()),
        )
    }

    /// Records that consent `consent_id` was revoked (now when `at_ms` is absent).
    pub fn revoke_consent(&self, consent_id: String, at_ms: Option<i64>) -> Outcome<()> {
        with_form(
            self,
            |p| (p.id("consent_id", &consent_id), p.opt_at("at_ms", at_ms)),
            |s, (id, at), _| s.revoke_consent(id, at),
        )
    }

    /// Records a referral. Returns its id.
    pub fn make_referral(&self, referral: NewReferral) -> Outcome<String> {
        with_form(
            self,
            |p| cmd::NewReferral {
                member_id: p.id("member_id", &referral.member_id),
                program: referral.program,
                service: referral.service,
                provider: referral.provider,
                reason: referral.reason,
                alternative_for_ineligible: referral.alternative_for_ineligible,
                referred_at: p.opt_at("referred_at_ms", referral.referred_at_ms),
                scheduled_for: p.opt_at("scheduled_for_ms", referral.scheduled_for_ms),
                consent_id: p.opt_id("consent_id", referral.consent_id),
            },
            |s, new, me| s.make_referral(new, me).map(|id| id.to_string()),
        )
    }

    /// Adds a follow-up to a referral (now when `at_ms` is absent).
    pub fn follow_up_referral(
        &self,
        referral_id: String,
        outcome: String,
        at_ms: Option<i64>,
    ) -> Outcome<()> {
        with_form(
            self,
            |p| cmd::NewFollowUp {
                referral_id: p.id("referral_id", &referral_id),
                at: p.opt_at("at_ms", at_ms),
                outcome,
            },
            |s, new, me| s.follow_up_referral(new, me),
        )
    }

    /// Documents why a referral has no follow-up within 30 days (CARES-5).
    pub fn explain_missing_follow_up(&self, referral_id: String, reason: String) -> Outcome<()> {
        with_form(
            self,
            |p| p.id("referral_id", &referral_id),
            |s, id, _| s.explain_missing_follow_up(id, reason),
        )
    }

    /// Records an incident. Returns its id.
    pub fn report_incident(&self, incident: NewIncident) -> Outcome<String> {
        with_form(
            self,
            |p| cmd::NewIncident {
                member_id: p.opt_id("member_id", incident.member_id),
                program: incident.program,
                occurred_at: p.at("occurred_at_ms", incident.occurred_at_ms),
                location: incident.location,
                category: incident.category,
                description: incident.description,
                actions_taken: incident.actions_taken,
                reported_to_plan_at: p
                    .opt_at("reported_to_plan_at_ms", incident.reported_to_plan_at_ms),
                reported_to_masshealth_at: p.opt_at(
                    "reported_to_masshealth_at_ms",
                    incident.reported_to_masshealth_at_ms,
                ),
                alarm_id: p.opt_id("alarm_id", incident.alarm_id),
            },
            |s, new, me| s.report_incident(new, me).map(|id| id.to_string()),
        )
    }

    /// Records when incident `incident_id` was reported to `to` (now when `at_ms` is absent).
    pub fn incident_reported(
        &self,
        incident_id: String,
        to: ReportedTo,
        at_ms: Option<i64>,
    ) -> Outcome<()> {
        with_form(
            self,
            |p| (p.id("incident_id", &incident_id), p.opt_at("at_ms", at_ms)),
            |s, (id, at), _| s.incident_reported(id, to, at),
        )
    }

    /// Records an engagement attempt. Returns its id.
    pub fn record_attempt(&self, attempt: NewAttempt) -> Outcome<String> {
        with_form(
            self,
            |p| cmd::NewAttempt {
                member_id: p.id("member_id", &attempt.member_id),
                program: attempt.program,
                at: p.opt_at("at_ms", attempt.at_ms),
                channel: attempt.channel,
                outcome: attempt.outcome,
                purpose: attempt.purpose,
                note: attempt.note,
            },
            |s, new, me| s.record_attempt(new, me).map(|id| id.to_string()),
        )
    }

    /// Records a document delivery. Returns its id.
    pub fn record_delivery(&self, delivery: NewDelivery) -> Outcome<String> {
        with_form(
            self,
            |p| cmd::NewDelivery {
                member_id: p.id("member_id", &delivery.member_id),
                program: delivery.program,
                document: delivery.document,
                document_record_id: p.opt_id("document_record_id", delivery.document_record_id),
                recipient_kind: delivery.recipient_kind,
                recipient: delivery.recipient,
                channel: delivery.channel,
                paper: delivery.paper,
                electronic: delivery.electronic,
                language: delivery.language,
                delivered_at: p.opt_at("delivered_at_ms", delivery.delivered_at_ms),
                consent_id: p.opt_id("consent_id", delivery.consent_id),
            },
            |s, new, me| s.record_delivery(new, me).map(|id| id.to_string()),
        )
    }

    /// Places a youth on the TM waitlist (TM-2). Returns the enrollment's id.
    pub fn place_on_waitlist(
        &self,
        member_id: String,
        program: Program,
        reason: String,
        since_ms: Option<i64>,
    ) -> Outcome<String> {
        with_form(
            self,
            |p| cmd::NewWaitlist {
                member_id: p.id("member_id", &member_id),
                program,
                since: p.opt_at("since_ms", since_ms),
                reason,
            },
            |s, new, me| s.place_on_waitlist(new, me).map(|id| id.to_string()),
        )
    }

    /// Records that the family or referral source was told of the waitlist (TM-2).
    pub fn waitlist_notice(
        &self,
        member_id: String,
        program: Program,
        who: WaitlistNotified,
        at_ms: Option<i64>,
    ) -> Outcome<()> {
        with_form(
            self,
            |p| (p.id("member_id", &member_id), p.opt_at("at_ms", at_ms)),
            |s, (member, at), _| s.waitlist_notice(member, program, who, at),
        )
    }

    /// Writes a discharge plan. Returns its id.
    pub fn write_discharge_plan(&self, plan: NewDischargePlan) -> Outcome<String> {
        with_form(
            self,
            |p| cmd::NewDischargePlan {
                member_id: p.id("member_id", &plan.member_id),
                program: plan.program,
                discharge_on: p.day("discharge_on", &plan.discharge_on),
                aftercare: plan.aftercare,
                recommendations: plan.recommendations,
                crisis_plan_id: p.opt_id("crisis_plan_id", plan.crisis_plan_id),
                service_plan_id: p.opt_id("service_plan_id", plan.service_plan_id),
            },
            |s, new, me| s.write_discharge_plan(new, me).map(|id| id.to_string()),
        )
    }

    /// Records a supervision session (by its supervisor or supervisee). Returns its id.
    pub fn record_supervision(&self, session: NewSupervision) -> Outcome<String> {
        with_form(
            self,
            |p| cmd::NewSupervision {
                staff_id: p.id("staff_id", &session.staff_id),
                supervisor_id: p.id("supervisor_id", &session.supervisor_id),
                program: session.program,
                individual: session.individual,
                held_at: p.at("held_at_ms", session.held_at_ms),
                duration_minutes: session.duration_minutes,
                topics: session.topics,
            },
            |s, new, me| s.record_supervision(new, me).map(|id| id.to_string()),
        )
    }

    /// Records a consultation request by the signed-in worker. Returns its id.
    pub fn request_consultation(&self, request: NewConsultation) -> Outcome<String> {
        with_form(
            self,
            |p| cmd::NewConsultation {
                program: request.program,
                requested_at: p.opt_at("requested_at_ms", request.requested_at_ms),
                consultant_kind: request.consultant_kind,
                topic: request.topic,
            },
            |s, new, me| s.request_consultation(new, me).map(|id| id.to_string()),
        )
    }

    /// Records who answered consultation `consultation_id`, and when (now when absent).
    pub fn consultation_answered(
        &self,
        consultation_id: String,
        consultant_id: String,
        at_ms: Option<i64>,
    ) -> Outcome<()> {
        with_form(
            self,
            |p| {
                (
                    p.id("consultation_id", &consultation_id),
                    p.id("consultant_id", &consultant_id),
                    p.opt_at("at_ms", at_ms),
                )
            },
            |s, (id, consultant, at), _| s.consultation_answered(id, consultant, at),
        )
    }

    /// Records a training. Returns its id.
    pub fn record_training(&self, training: NewTraining) -> Outcome<String> {
        with_form(
            self,
            |p| cmd::NewTraining {
                staff_id: p.id("staff_id", &training.staff_id),
                program: training.program,
                employment_started_on: p
                    .day("employment_started_on", &training.employment_started_on),
                course: training.course,
                required_initial: training.required_initial,
                completed_on: p.opt_day("completed_on", training.completed_on),
            },
            |s, new, _| s.record_training(new).map(|id| id.to_string()),
        )
    }
}
