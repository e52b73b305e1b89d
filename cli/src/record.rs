//! `fieldnote record ...`: the forms for everything a worker records besides members, notes
//! and plans. Each subcommand maps its flags onto a core command (`fieldnote_core::commands`),
//! which decides everything; words and times that do not parse are reported together with
//! the core's own findings, each naming its field.

use clap::Subcommand;
use fieldnote_core::commands::{self, ReportedTo, WaitlistNotified};
use fieldnote_core::model::*;
use fieldnote_core::{Error, Store};

use crate::fields::Fields;

/// What `record` can write.
#[derive(Subcommand)]
pub enum RecordCmd {
    /// A consent or release of information, or a documented refusal (CSP-12).
    Consent {
        /// The member id.
        #[arg(long)]
        member: RecordId,
        /// The program.
        #[arg(long)]
        program: String,
        /// Who may receive information.
        #[arg(long)]
        recipient: String,
        /// The recipient's organization.
        #[arg(long)]
        organization: Option<String>,
        /// What may be shared, in the form's words.
        #[arg(long)]
        scope: String,
        /// Why it is shared.
        #[arg(long, default_value = "")]
        purpose: String,
        /// It covers substance-use disorder records (42 CFR Part 2).
        #[arg(long)]
        part2: bool,
        /// The member refused.
        #[arg(long)]
        refused: bool,
        /// Who signed or refused.
        #[arg(long)]
        signed_by: String,
        /// When it was signed on paper (RFC 3339, at most 30 days ago); defaults to now.
        #[arg(long)]
        signed_at: Option<String>,
        /// When it expires, YYYY-MM-DD.
        #[arg(long)]
        expires_on: Option<String>,
    },
    /// Record that a consent was revoked.
    RevokeConsent {
        /// The consent id.
        id: RecordId,
        /// When (RFC 3339); defaults to now.
        #[arg(long)]
        at: Option<String>,
    },
    /// A referral to another service or provider.
    Referral {
        /// The member id.
        #[arg(long)]
        member: RecordId,
        /// The program.
        #[arg(long)]
        program: String,
        /// The service.
        #[arg(long)]
        service: String,
        /// The provider.
        #[arg(long)]
        provider: String,
        /// The provider's organization.
        #[arg(long)]
        organization: Option<String>,
        /// Why.
        #[arg(long)]
        reason: String,
        /// An alternative for a member found ineligible at intake (JI-9).
        #[arg(long)]
        ineligible_alternative: bool,
        /// When it was made (RFC 3339); defaults to now.
        #[arg(long)]
        referred_at: Option<String>,
        /// When the referred service is scheduled (RFC 3339; CARES-5 counts from it).
        #[arg(long)]
        scheduled_for: Option<String>,
        /// The consent that allows sharing with the provider.
        #[arg(long)]
        consent: Option<RecordId>,
    },
    /// A follow-up on a referral.
    FollowUp {
        /// The referral id.
        referral: RecordId,
        /// What was learned (attended, waitlisted, declined...).
        #[arg(long)]
        outcome: String,
        /// When (RFC 3339); defaults to now.
        #[arg(long)]
        at: Option<String>,
    },
    /// Why a referral has no follow-up within 30 days (CARES-5).
    NoFollowUp {
        /// The referral id.
        referral: RecordId,
        /// The reason.
        #[arg(long)]
        reason: String,
    },
    /// A Reportable Adverse Incident.
    Incident {
        /// The member involved, if any.
        #[arg(long)]
        member: Option<RecordId>,
        /// The program.
        #[arg(long)]
        program: String,
        /// When it occurred (RFC 3339).
        #[arg(long)]
        occurred_at: String,
        /// Where.
        #[arg(long)]
        location: String,
        /// death, serious_injury, suicide_attempt, assault, abuse_allegation, missing_person,
        /// staff_safety, medication_error or other.
        #[arg(long)]
        category: String,
        /// What happened.
        #[arg(long)]
        description: String,
        /// Actions taken.
        #[arg(long, default_value = "")]
        actions: String,
        /// The distress alarm that led to it.
        #[arg(long)]
        alarm: Option<RecordId>,
    },
    /// When an incident was reported to the health plan or MassHealth.
    IncidentReported {
        /// The incident id.
        id: RecordId,
        /// health_plan or mass_health.
        #[arg(long)]
        to: String,
        /// When (RFC 3339); defaults to now.
        #[arg(long)]
        at: Option<String>,
    },
    /// An attempt to engage a member (JI-2, JI-3 count the unsuccessful ones).
    Attempt {
        /// The member id.
        #[arg(long)]
        member: RecordId,
        /// The program.
        #[arg(long)]
        program: String,
        /// in_person, phone, text, mail, email, fax, portal or video.
        #[arg(long)]
        channel: String,
        /// reached, no_answer, left_message, wrong_contact_info, not_found or declined.
        #[arg(long)]
        outcome: String,
        /// What it was for (first contact, assessment...).
        #[arg(long)]
        purpose: String,
        /// Details.
        #[arg(long)]
        note: Option<String>,
        /// When (RFC 3339); defaults to now.
        #[arg(long)]
        at: Option<String>,
    },
    /// A letter or document given or sent.
    Delivery {
        /// The member id.
        #[arg(long)]
        member: RecordId,
        /// The program.
        #[arg(long)]
        program: String,
        /// enrollment_letter, termination_letter, plan_copy, discharge_plan, crisis_plan or
        /// other.
        #[arg(long)]
        document: String,
        /// The plan, discharge plan or crisis plan delivered.
        #[arg(long)]
        record: Option<RecordId>,
        /// member, guardian, provider, community_supervision, referral_source or payer.
        #[arg(long)]
        recipient_kind: String,
        /// The recipient's name.
        #[arg(long)]
        recipient: String,
        /// in_person, phone, text, mail, email, fax, portal or video.
        #[arg(long)]
        channel: String,
        /// On paper.
        #[arg(long)]
        paper: bool,
        /// Electronically.
        #[arg(long)]
        electronic: bool,
        /// Language of the copy.
        #[arg(long, default_value = "English")]
        language: String,
        /// When it was delivered (RFC 3339, at most 30 days ago); defaults to now.
        #[arg(long)]
        delivered_at: Option<String>,
        /// The consent that allowed sharing it.
        #[arg(long)]
        consent: Option<RecordId>,
    },
    /// Place a youth on the TM waitlist (TM-2).
    Waitlist {
        /// The member id.
        #[arg(long)]
        member: RecordId,
        /// The program (tm).
        #[arg(long, default_value = "tm")]
        program: String,
        /// Why services cannot start within 14 days.
        #[arg(long)]
        reason: String,
        /// Since when (RFC 3339); defaults to now.
        #[arg(long)]
        since: Option<String>,
    },
    /// Record that the family or referral source was told of the waitlist (TM-2).
    WaitlistNotice {
        /// The member id.
        #[arg(long)]
        member: RecordId,
        /// The program (tm).
        #[arg(long, default_value = "tm")]
        program: String,
        /// family or referral_source.
        #[arg(long)]
        who: String,
        /// When (RFC 3339); defaults to now.
        #[arg(long)]
        at: Option<String>,
    },
    /// A written discharge plan.
    DischargePlan {
        /// The member id.
        #[arg(long)]
        member: RecordId,
        /// The program whose enrollment closes.
        #[arg(long)]
        program: String,
        /// Planned discharge date, YYYY-MM-DD.
        #[arg(long)]
        discharge_on: String,
        /// Services and supports after discharge.
        #[arg(long)]
        aftercare: String,
        /// Recommendations.
        #[arg(long, default_value = "")]
        recommendations: String,
        /// The crisis plan that goes with it.
        #[arg(long)]
        crisis_plan: Option<RecordId>,
        /// The updated service plan given with it (JI-10).
        #[arg(long)]
        service_plan: Option<RecordId>,
    },
    /// A supervision session (recorded by its supervisor or supervisee).
    Supervision {
        /// The supervisee's staff id; defaults to this device's worker.
        #[arg(long)]
        staff: Option<RecordId>,
        /// The supervisor's staff id.
        #[arg(long)]
        supervisor: RecordId,
        /// The program.
        #[arg(long)]
        program: String,
        /// A group session (the specs require individual supervision).
        #[arg(long)]
        group: bool,
        /// When (RFC 3339).
        #[arg(long)]
        held_at: String,
        /// Minutes.
        #[arg(long)]
        minutes: u32,
        /// Topics, without member details.
        #[arg(long)]
        topics: String,
    },
    /// A consultation request (TM-11, CARES-10).
    Consultation {
        /// The program.
        #[arg(long)]
        program: String,
        /// senior_clinician or senior_medical_professional.
        #[arg(long)]
        consultant: String,
        /// Topic, without member details.
        #[arg(long)]
        topic: String,
        /// When it was asked (RFC 3339); defaults to now.
        #[arg(long)]
        requested_at: Option<String>,
    },
    /// Who answered a consultation, and when.
    ConsultationAnswered {
        /// The consultation id.
        id: RecordId,
        /// The consultant's staff id.
        #[arg(long)]
        consultant: RecordId,
        /// When (RFC 3339); defaults to now.
        #[arg(long)]
        at: Option<String>,
    },
    /// A training (CARES-12).
    Training {
        /// The trainee's staff id; defaults to this device's worker.
        #[arg(long)]
        staff: Option<RecordId>,
        /// The program.
        #[arg(long)]
        program: String,
        /// First day of employment, YYYY-MM-DD.
        #[arg(long)]
        employment_started_on: String,
        /// Course.
        #[arg(long)]
        course: String,
        /// Part of the required initial training.
        #[arg(long)]
        required_initial: bool,
        /// Completion date, YYYY-MM-DD.
        #[arg(long)]
        completed_on: Option<String>,
    },
}

/// Parses the flags a form shares, keeping every problem.
struct Form(Fields);

impl Form {
    fn program(&mut self, code: &str) -> Program {
        self.0.program(code).unwrap_or(Program::Csp)
    }

    fn when(&mut self, field: &str, text: Option<String>) -> Option<Timestamp> {
        text.and_then(|t| self.0.instant(field, &t))
    }

    fn day(&mut self, field: &'static str, text: &str) -> Day {
        self.0
            .day(field, field, text)
            .unwrap_or(Day(chrono::NaiveDate::MIN))
    }

    fn word<T: serde::de::DeserializeOwned>(
        &mut self,
        field: &'static str,
        words: &str,
        w: &str,
        or: T,
    ) -> T {
        self.0.word(field, &format!("use {words}"), w).unwrap_or(or)
    }

    /// Stops with every parse problem before the core is asked.
    fn ready(self, kind: &'static str) -> Result<(), Error> {
        self.0.finish(kind)
    }
}

fn contact(name: String, organization: Option<String>) -> Contact {
    Contact {
        name,
        organization,
        ..Default::default()
    }
}

const CHANNELS: &str = "in_person, phone, text, mail, email, fax, portal or video";
const CATEGORIES: &str = "death, serious_injury, suicide_attempt, assault, abuse_allegation, missing_person, staff_safety, medication_error or other";
const OUTCOMES: &str =
    "reached, no_answer, left_message, wrong_contact_info, not_found or declined";
const DOCUMENTS: &str =
    "enrollment_letter, termination_letter, plan_copy, discharge_plan, crisis_plan or other";
const RECIPIENTS: &str =
    "member, guardian, provider, community_supervision, referral_source or payer";
const CONSULTANTS: &str = "senior_clinician or senior_medical_professional";

/// Runs one `record` subcommand as `me`; returns the id written (or changed) and what it is.
pub fn run(
    store: &mut Store,
    cmd: RecordCmd,
    me: StaffId,
) -> Result<(RecordId, &'static str), Error> {
    let mut f = Form(Fields::default());
    Ok(match cmd {
        RecordCmd::Consent {
            member,
            program,
            recipient,
            organization,
            scope,
            purpose,
            part2,
            refused,
            signed_by,
            signed_at,
            expires_on,
        } => {
            let new = commands::NewConsent {
                member_id: member,
                program: f.program(&program),
                recipient: contact(recipient, organization),
                scope,
                purpose,
                substance_use_part2: part2,
                refused,
                signed_by,
                signed_at: f.when("signed_at", signed_at),
                expires_on: expires_on.map(|d| f.day("expires_on", &d)),
            };
            f.ready("consent")?;
            (store.record_consent(new, me)?, "consent")
        }
        RecordCmd::RevokeConsent { id, at } => {
            let at = f.when("at", at);
            f.ready("consent")?;
            store.revoke_consent(id, at)?;
            (id, "consent")
        }
        RecordCmd::Referral {
            member,
            program,
            service,
            provider,
            organization,
            reason,
            ineligible_alternative,
            referred_at,
            scheduled_for,
            consent,
        } => {
            let new = commands::NewReferral {
                member_id: member,
                program: f.program(&program),
                service,
                provider: contact(provider, organization),
                reason,
                alternative_for_ineligible: ineligible_alternative,
                referred_at: f.when("referred_at", referred_at),
                scheduled_for: f.when("scheduled_for", scheduled_for),
                consent_id: consent,
            };
            f.ready("service_referral")?;
            (store.make_referral(new, me)?, "referral")
        }
        RecordCmd::FollowUp {
            referral,
            outcome,
            at,
        } => {
            let at = f.when("at", at);
            f.ready("service_referral")?;
            store.follow_up_referral(
                commands::NewFollowUp {
                    referral_id: referral,
                    at,
                    outcome,
                },
                me,
            )?;
            (referral, "referral")
        }
        RecordCmd::NoFollowUp { referral, reason } => {
            store.explain_missing_follow_up(referral, reason)?;
            (referral, "referral")
        }
        RecordCmd::Incident {
            member,
            program,
            occurred_at,
            location,
            category,
            description,
            actions,
            alarm,
        } => {
            let new = commands::NewIncident {
                member_id: member,
                program: f.program(&program),
                occurred_at: f
                    .when("occurred_at", Some(occurred_at))
                    .unwrap_or_else(Timestamp::now),
                location,
                category: f.word("category", CATEGORIES, &category, IncidentCategory::Other),
                description,
                actions_taken: actions,
                reported_to_plan_at: None,
                reported_to_masshealth_at: None,
                alarm_id: alarm,
            };
            f.ready("incident")?;
            (store.report_incident(new, me)?, "incident")
        }
        RecordCmd::IncidentReported { id, to, at } => {
            let to = match to.replace('-', "_").as_str() {
                "health_plan" => Some(ReportedTo::HealthPlan),
                "mass_health" | "masshealth" => Some(ReportedTo::MassHealth),
                _ => None,
            };
            let to = f.0.check("to", "to", "use health_plan or mass_health", to);
            let at = f.when("at", at);
            f.ready("incident")?;
            store.incident_reported(id, to.unwrap_or(ReportedTo::HealthPlan), at)?;
            (id, "incident")
        }
        RecordCmd::Attempt {
            member,
            program,
            channel,
            outcome,
            purpose,
            note,
            at,
        } => {
            let new = commands::NewAttempt {
                member_id: member,
                program: f.program(&program),
                at: f.when("at", at),
                channel: f.word("channel", CHANNELS, &channel, Channel::Phone),
                outcome: f.word("outcome", OUTCOMES, &outcome, AttemptOutcome::Reached),
                purpose,
                note,
            };
            f.ready("engagement_attempt")?;
            (store.record_attempt(new, me)?, "engagement attempt")
        }
        RecordCmd::Delivery {
            member,
            program,
            document,
            record,
            recipient_kind,
            recipient,
            channel,
            paper,
            electronic,
            language,
            delivered_at,
            consent,
        } => {
            let new = commands::NewDelivery {
                member_id: member,
                program: f.program(&program),
                document: f.word("document", DOCUMENTS, &document, DocumentKind::Other),
                document_record_id: record,
                recipient_kind: f.word(
                    "recipient_kind",
                    RECIPIENTS,
                    &recipient_kind,
                    RecipientKind::Member,
                ),
                recipient: contact(recipient, None),
                channel: f.word("channel", CHANNELS, &channel, Channel::InPerson),
                paper,
                electronic,
                language,
                delivered_at: f.when("delivered_at", delivered_at),
                consent_id: consent,
            };
            f.ready("document_delivery")?;
            (store.record_delivery(new, me)?, "delivery")
        }
        RecordCmd::Waitlist {
            member,
            program,
            reason,
            since,
        } => {
            let new = commands::NewWaitlist {
                member_id: member,
                program: f.program(&program),
                since: f.when("since", since),
                reason,
            };
            f.ready("enrollment")?;
            (store.place_on_waitlist(new, me)?, "enrollment")
        }
        RecordCmd::WaitlistNotice {
            member,
            program,
            who,
            at,
        } => {
            let program = f.program(&program);
            let who = match who.replace('-', "_").as_str() {
                "family" => Some(WaitlistNotified::Family),
                "referral_source" => Some(WaitlistNotified::ReferralSource),
                _ => None,
            };
            let who =
                f.0.check("who", "who", "use family or referral_source", who);
            let at = f.when("at", at);
            f.ready("enrollment")?;
            store.waitlist_notice(member, program, who.unwrap_or(WaitlistNotified::Family), at)?;
            (member, "member")
        }
        RecordCmd::DischargePlan {
            member,
            program,
            discharge_on,
            aftercare,
            recommendations,
            crisis_plan,
            service_plan,
        } => {
            let new = commands::NewDischargePlan {
                member_id: member,
                program: f.program(&program),
                discharge_on: f.day("discharge_on", &discharge_on),
                aftercare,
                recommendations,
                crisis_plan_id: crisis_plan,
                service_plan_id: service_plan,
            };
            f.ready("discharge_plan")?;
            (store.write_discharge_plan(new, me)?, "discharge plan")
        }
        RecordCmd::Supervision {
            staff,
            supervisor,
            program,
            group,
            held_at,
            minutes,
            topics,
        } => {
            let new = commands::NewSupervision {
                staff_id: staff.unwrap_or(me),
                supervisor_id: supervisor,
                program: f.program(&program),
                individual: !group,
                held_at: f
                    .when("held_at", Some(held_at))
                    .unwrap_or_else(Timestamp::now),
                duration_minutes: minutes,
                topics,
            };
            f.ready("supervision")?;
            (store.record_supervision(new, me)?, "supervision")
        }
        RecordCmd::Consultation {
            program,
            consultant,
            topic,
            requested_at,
        } => {
            let new = commands::NewConsultation {
                program: f.program(&program),
                requested_at: f.when("requested_at", requested_at),
                consultant_kind: f.word(
                    "consultant",
                    CONSULTANTS,
                    &consultant,
                    ConsultantKind::SeniorClinician,
                ),
                topic,
            };
            f.ready("consultation")?;
            (store.request_consultation(new, me)?, "consultation")
        }
        RecordCmd::ConsultationAnswered { id, consultant, at } => {
            let at = f.when("at", at);
            f.ready("consultation")?;
            store.consultation_answered(id, consultant, at)?;
            (id, "consultation")
        }
        RecordCmd::Training {
            staff,
            program,
            employment_started_on,
            course,
            required_initial,
            completed_on,
        } => {
            let new = commands::NewTraining {
                staff_id: staff.unwrap_or(me),
                program: f.program(&program),
                employment_started_on: f.day("employment_started_on", &employment_started_on),
                course,
                required_initial,
                completed_on: completed_on.map(|d| f.day("completed_on", &d)),
            };
            f.ready("training")?;
            (store.record_training(new)?, "training")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::vocabulary;

    #[test]
    fn every_word_list_names_real_words() {
        // The words a refusal offers must be words the parser takes.
        let words = |list: &str| -> Vec<String> {
            list.split([',', ' '])
                .filter(|w| !w.is_empty() && *w != "or")
                .map(str::to_string)
                .collect()
        };
        fn all<T: serde::de::DeserializeOwned>(list: &[String]) -> bool {
            list.iter().all(|w| vocabulary::<T>(w).is_some())
        }
        for (list, count, known) in [
            (CHANNELS, 8, all::<Channel> as fn(&[String]) -> bool),
            (CATEGORIES, 9, all::<IncidentCategory>),
            (OUTCOMES, 6, all::<AttemptOutcome>),
            (DOCUMENTS, 6, all::<DocumentKind>),
            (RECIPIENTS, 6, all::<RecipientKind>),
            (CONSULTANTS, 2, all::<ConsultantKind>),
        ] {
            let w = words(list);
            assert_eq!(w.len(), count, "{list}");
            assert!(known(&w), "{list}");
        }
    }
}
