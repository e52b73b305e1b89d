//! One member's record, rendered for audits and MassHealth documentation requests: a CSV
//! table, a printable HTML page, a PDF and a FHIR R4 Bundle.
//!
//! This module only renders. What may be disclosed (consent filtering), who may ask, and the
//! accounting of the disclosure are decided by the caller, which hands over records that are
//! already filtered and says in [`Part2`] how substance-use (42 CFR Part 2) content was
//! treated. Every format carries the same statement about it: the redisclosure notice of
//! 42 CFR 2.32 with the consent it rests on, or the number of records left out. The withheld
//! statement deliberately names neither substance use nor Part 2, so that a recipient without
//! a Part 2 consent does not learn from it what kind of records exist.
//!
//! All four formats show the same records in the same order (the member first, then by the
//! record's time on the member's timeline, undated records last), with signature states
//! derived from the attestations as [`SignatureState`] derives them. Nothing here logs or
//! panics on record content.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use base64::Engine as _;
use fieldnote_core::attest::SignatureState;
use fieldnote_core::model::*;
use fieldnote_core::rules::calendar::local_display;
use fieldnote_core::{AttestationKind, Record};
use maud::{DOCTYPE, Markup, html};
use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str, TextStr};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::{Error, Result};

/// Whether substance-use (42 CFR Part 2) content is in the export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part2 {
    /// The member has no substance-use records.
    None,
    /// Substance-use records exist but no Part 2 consent covers the disclosure: they are left
    /// out; the export says how many.
    Withheld {
        /// How many records were left out.
        records: usize,
    },
    /// Disclosed under a Part 2 consent: the export carries the redisclosure notice.
    Disclosed {
        /// The consent the disclosure rests on.
        consent_id: RecordId,
        /// Who receives the export, as the consent names them.
        recipient: String,
    },
}

/// One member's export, already filtered.
#[derive(Clone, Debug)]
pub struct Export<'a> {
    /// The member.
    pub member_id: RecordId,
    /// The records to render: the member record itself (`RecordBody::Member`) and every
    /// other record the caller decided to disclose, in any order.
    pub records: &'a [Record],
    /// How substance-use content was treated.
    pub part2: Part2,
    /// When the export was made.
    pub generated_at: Timestamp,
    /// The display name of the supervisor who made it.
    pub generated_by: &'a str,
    /// The agency whose records these are.
    pub agency: &'a str,
}

/// The notice that accompanies every Part 2 disclosure (defined with the disclosure rules).
pub use fieldnote_core::disclosure::REDISCLOSURE_NOTICE;

/// The short statement of 42 CFR 2.32(a)(2), printed at the foot of every PDF page of a
/// Part 2 disclosure (the full notice is on the first page).
const SHORT_NOTICE: &str =
    "42 CFR part 2 prohibits unauthorized use or disclosure of these records.";

const NOTICE_TITLE: &str = "Notice of prohibition on redisclosure (42 CFR 2.32)";
const WITHHELD_TITLE: &str = "Records not included";

// ---------------------------------------------------------------------------------------
// The content every format shares
// ---------------------------------------------------------------------------------------

/// One labelled value of a record.
struct Field {
    label: String,
    value: String,
}

fn field(out: &mut Vec<Field>, label: impl Into<String>, value: impl Into<String>) {
    let value = value.into();
    if !value.trim().is_empty() {
        out.push(Field {
            label: label.into(),
            value,
        });
    }
}

/// The state of one signature line, for styling.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SigState {
    Current,
    Stale,
    Missing,
    /// A finalization or review event that covers the content as it is.
    Recorded,
    /// An event whose content no longer matches, or that does not verify.
    Broken,
}

impl SigState {
    fn class(self) -> &'static str {
        match self {
            SigState::Current => "sig-current",
            SigState::Stale => "sig-stale",
            SigState::Missing => "sig-missing",
            SigState::Recorded => "sig-recorded",
            SigState::Broken => "sig-broken",
        }
    }
}

struct Sig {
    state: SigState,
    text: String,
}

/// A record as every format shows it.
struct Row<'r> {
    rec: &'r Record,
    when: Option<Timestamp>,
    by: String,
    title: String,
    status: String,
    sigs: Vec<Sig>,
    fields: Vec<Field>,
}

/// What the rows need to know about the rest of the export: names of staff (from their own
/// signatures), goal statements (for progress on notes), titles of records referred to.
struct Context {
    staff: BTreeMap<StaffId, String>,
    goals: BTreeMap<RecordId, String>,
    titles: BTreeMap<RecordId, String>,
    generated_at: Timestamp,
}

impl Context {
    fn new(e: &Export<'_>) -> Self {
        let mut staff = BTreeMap::new();
        let mut goals = BTreeMap::new();
        let mut titles = BTreeMap::new();
        for r in e.records {
            for a in &r.attestations {
                if let Some(id) = a.signer.staff_id
                    && a.verify()
                    && !a.signer.name.trim().is_empty()
                {
                    staff.insert(id, a.signer.name.clone());
                }
            }
            if let RecordBody::Plan(p) = &r.body {
                for g in &p.goals {
                    goals.insert(g.id, g.statement.as_str().to_string());
                }
            }
            titles.insert(r.id, r.body.title());
        }
        Context {
            staff,
            goals,
            titles,
            generated_at: e.generated_at,
        }
    }

    fn staff(&self, id: StaffId) -> String {
        match self.staff.get(&id) {
            Some(name) => format!("{name} (staff {id})"),
            None => format!("staff {id}"),
        }
    }

    fn staff_name(&self, id: StaffId) -> Option<&str> {
        self.staff.get(&id).map(String::as_str)
    }

    fn record_ref(&self, id: RecordId) -> String {
        match self.titles.get(&id) {
            Some(t) => format!("{t} (record {id})"),
            None => format!("record {id}"),
        }
    }
}

fn program_name(p: Program) -> &'static str {
    match p {
        Program::Csp => "CSP (Community Support Program)",
        Program::CspJi => "CSP-JI (CSP for Individuals with Justice Involvement)",
        Program::Tm => "Therapeutic Mentoring",
        Program::Cares => "MassHealth CARES Kids",
        Program::BhCp => "Behavioral Health Community Partner",
        Program::LtssCp => "LTSS Community Partner",
    }
}

fn when(t: Timestamp) -> String {
    local_display(t)
}

fn opt_when(t: Option<Timestamp>) -> String {
    t.map(when).unwrap_or_default()
}

fn opt_day(d: Option<Day>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn contact(c: &Contact) -> String {
    let mut parts = vec![c.name.clone()];
    for v in [&c.organization, &c.phone, &c.email].into_iter().flatten() {
        if !v.trim().is_empty() {
            parts.push(v.clone());
        }
    }
    parts.join(", ")
}

fn member_name(m: &Member) -> String {
    let full = format!("{} {}", m.given_name, m.family_name);
    match &m.preferred_name {
        Some(p) if !p.trim().is_empty() && p != &m.given_name => format!("{full} (\"{p}\")"),
        _ => full,
    }
}

/// The member record of the export: the `Member` record whose id is the member's.
fn member_of<'r>(e: &Export<'r>) -> Option<(&'r Record, &'r Member)> {
    e.records.iter().find_map(|r| match &r.body {
        RecordBody::Member(m) if r.id == e.member_id => Some((r, m)),
        _ => None,
    })
}

fn is_the_member(r: &Record, e: &Export<'_>) -> bool {
    matches!(r.body, RecordBody::Member(_)) && r.id == e.member_id
}

fn display_name(e: &Export<'_>) -> String {
    member_of(e)
        .map(|(_, m)| member_name(m))
        .unwrap_or_else(|| format!("member {}", e.member_id))
}

fn by_of(body: &RecordBody) -> Option<StaffId> {
    Some(match body {
        RecordBody::Member(_) => return None,
        RecordBody::Enrollment(r) => r.assigned_worker,
        RecordBody::ContactNote(r) => r.author,
        RecordBody::EngagementAttempt(r) => r.by,
        RecordBody::DocumentDelivery(r) => r.by,
        RecordBody::NeedsAssessment(r) => r.assessor,
        RecordBody::Plan(r) => r.author,
        RecordBody::Consent(r) => r.recorded_by,
        RecordBody::ServiceReferral(r) => r.by,
        RecordBody::Incident(r) => r.reporter,
        RecordBody::CrisisPlan(r) => r.author,
        RecordBody::DischargePlan(r) => r.author,
        RecordBody::Supervision(r) => r.supervisor_id,
        RecordBody::Consultation(r) => r.requested_by,
        RecordBody::Training(r) => r.staff_id,
        RecordBody::Override(r) => r.by,
    })
}

fn status_of(rec: &Record, ctx: &Context) -> String {
    match &rec.body {
        RecordBody::ContactNote(_) if rec.is_finalized() => {
            if rec.finalized_content_intact() {
                "finalized".into()
            } else {
                "finalized; content changed after finalization".into()
            }
        }
        RecordBody::ContactNote(_) => "draft".into(),
        RecordBody::Plan(p) => words(&p.status),
        RecordBody::Enrollment(e) => words(&e.status),
        RecordBody::Consent(c) if c.refused => "refused".into(),
        RecordBody::Consent(c) if c.revoked_at.is_some_and(|r| r <= ctx.generated_at) => {
            "revoked".into()
        }
        RecordBody::Consent(c) if c.in_force(ctx.generated_at) => "in force".into(),
        RecordBody::Consent(c) if c.signed_at > ctx.generated_at => "not yet in force".into(),
        RecordBody::Consent(_) => "expired".into(),
        RecordBody::NeedsAssessment(a) if a.completed_at.is_some() => "completed".into(),
        RecordBody::NeedsAssessment(_) => "in progress".into(),
        _ => String::new(),
    }
}

fn signer_words(a: &fieldnote_core::Attestation, ctx: &Context) -> String {
    let mut s = a.signer.name.clone();
    if let Some(w) = a.signer.witness {
        let _ = write!(s, ", witnessed by {}", ctx.staff(w));
    }
    let _ = write!(s, ", {}", when(a.signed_at));
    s
}

fn sigs_of(rec: &Record, ctx: &Context) -> Vec<Sig> {
    let mut out = Vec::new();
    // Role signatures: the roles a plan needs, then any other role someone signed in.
    let mut roles: Vec<Role> = match &rec.body {
        RecordBody::Plan(p) => {
            let mut r = p.kind.required_signers(p.program);
            if p.youth_signs {
                r.push(Role::Youth);
            }
            r
        }
        _ => Vec::new(),
    };
    for a in &rec.attestations {
        if a.kind == AttestationKind::Sign && !roles.contains(&a.signer.role) {
            roles.push(a.signer.role);
        }
    }
    for role in roles {
        let label = capitalized(&words(&role));
        out.push(
            match SignatureState::of(&rec.attestations, role, &rec.body) {
                SignatureState::Missing => Sig {
                    state: SigState::Missing,
                    text: format!("{label}: not signed"),
                },
                SignatureState::Current { attestation } => Sig {
                    state: SigState::Current,
                    text: format!(
                        "{label}: signed, current ({})",
                        signer_words(&attestation, ctx)
                    ),
                },
                SignatureState::Stale { attestation } => Sig {
                    state: SigState::Stale,
                    text: format!(
                        "{label}: signed, stale: the content changed after this signature ({})",
                        signer_words(&attestation, ctx)
                    ),
                },
            },
        );
    }
    // Every other event (finalization, reviews): shown as recorded, flagged when broken.
    for a in &rec.attestations {
        if a.kind == AttestationKind::Sign {
            continue;
        }
        let what = match a.kind {
            AttestationKind::Finalize => "Finalized".to_string(),
            k => capitalized(&words(&k)),
        };
        let (state, note) = if !a.verify() {
            (SigState::Broken, "; this event does not verify")
        } else if a.is_stale(&rec.body) {
            (SigState::Broken, "; the content changed after this event")
        } else {
            (SigState::Recorded, "")
        };
        let comment = a
            .comment
            .as_deref()
            .map(|c| format!("; comment: {c}"))
            .unwrap_or_default();
        out.push(Sig {
            state,
            text: format!(
                "{what} by {} ({}){note}{comment}",
                signer_words(a, ctx),
                words(&a.signer.role)
            ),
        });
    }
    out
}

fn goal_text(i: usize, g: &Goal, ctx: &Context) -> String {
    let mut s = format!("{}. {}", i + 1, g.statement.as_str());
    if !g.addresses_criminogenic.is_empty() {
        let list: Vec<String> = g.addresses_criminogenic.iter().map(words).collect();
        let _ = write!(s, "\nAddresses criminogenic needs: {}", list.join(", "));
    }
    for o in &g.objectives {
        let _ = write!(
            s,
            "\nObjective: {}; measured by {}",
            o.description.as_str(),
            o.measure
        );
        if let Some(t) = o.target_on {
            let _ = write!(s, "; target {t}");
        }
    }
    for iv in &g.interventions {
        let _ = write!(s, "\nIntervention: {}", iv.description);
        if let Some(f) = &iv.frequency {
            let _ = write!(s, "; {f}");
        }
        if let Some(r) = iv.responsible {
            let _ = write!(s, "; by {}", ctx.staff(r));
        }
    }
    for t in &g.tasks {
        let _ = write!(s, "\nTask: {}; {}", t.description, t.timeframe);
        if let Some(d) = t.due_on {
            let _ = write!(s, "; due {d}");
        }
        if let Some(m) = &t.modality {
            let _ = write!(s, "; {m}");
        }
        if let Some(l) = &t.location {
            let _ = write!(s, "; at {l}");
        }
        let _ = write!(
            s,
            "; responsible: {}; {}",
            t.responsible,
            if t.done { "done" } else { "open" }
        );
    }
    s
}

fn fields_of(rec: &Record, ctx: &Context) -> Vec<Field> {
    let mut f = Vec::new();
    let o = &mut f;
    if let Some(p) = rec.body.program() {
        field(o, "Program", program_name(p));
    }
    match &rec.body {
        RecordBody::Member(m) => {
            field(o, "Name", format!("{} {}", m.given_name, m.family_name));
            field(
                o,
                "Preferred name",
                m.preferred_name.clone().unwrap_or_default(),
            );
            field(o, "Date of birth", m.date_of_birth.to_string());
            field(o, "Primary language", m.primary_language.clone());
            field(o, "MassHealth ID", m.masshealth_id.clone());
            field(o, "Phone", m.phone.clone().unwrap_or_default());
            field(o, "Location", m.location.clone().unwrap_or_default());
            if let Some(p) = &m.pcp {
                field(o, "Primary care", contact(p));
            }
            if let Some(g) = &m.guardian {
                field(
                    o,
                    "Guardian",
                    format!(
                        "{} ({}); legal authority to consent: {}",
                        contact(&g.contact),
                        g.relationship,
                        yes_no(g.legal_authority)
                    ),
                );
            }
        }
        RecordBody::Enrollment(e) => {
            field(o, "Status", words(&e.status));
            field(o, "Referral received", when(e.referral.received_at));
            field(o, "Referral source", words(&e.referral.source));
            if let Some(r) = &e.referral.referrer {
                field(o, "Referred by", contact(r));
            }
            field(
                o,
                "Facility",
                e.referral.facility.clone().unwrap_or_default(),
            );
            field(
                o,
                "Referral reason",
                e.referral.reason.clone().unwrap_or_default(),
            );
            field(o, "Intake", opt_when(e.intake_at));
            field(o, "Effective", opt_day(e.effective_on));
            if let Some(d) = &e.later_first_appointment_requested {
                field(
                    o,
                    "Later first appointment requested",
                    format!(
                        "on {} for {}: {}",
                        when(d.requested_at),
                        when(d.requested_for),
                        d.reason
                    ),
                );
            }
            if let Some(s) = &e.supervision {
                let mut v = words(&s.kind);
                if let Some(off) = &s.officer {
                    let _ = write!(v, "; officer {}", contact(off));
                }
                if let Some(end) = s.ends_on {
                    let _ = write!(v, "; ends {end}");
                }
                let _ = write!(v, "\nConditions: {}", s.plan_conditions);
                field(o, "Community supervision", v);
            }
            field(o, "Assigned worker", ctx.staff(e.assigned_worker));
            if let Some(w) = &e.waitlist {
                field(
                    o,
                    "Waitlist",
                    format!(
                        "since {}: {}\nFamily notified: {}\nReferral source notified: {}",
                        when(w.since),
                        w.reason,
                        opt_when(w.family_notified_at),
                        opt_when(w.referral_source_notified_at)
                    ),
                );
            }
            let history: Vec<String> = e
                .status_history
                .iter()
                .map(|s| {
                    format!(
                        "{}: {} ({}), by {}",
                        when(s.at),
                        words(&s.status),
                        s.reason,
                        ctx.staff(s.by)
                    )
                })
                .collect();
            field(o, "Status history", history.join("\n"));
            let changes: Vec<String> = e
                .significant_changes
                .iter()
                .map(|c| format!("{}: {}", when(c.at), c.description))
                .collect();
            field(o, "Significant changes", changes.join("\n"));
            if let Some(d) = &e.discharge {
                field(
                    o,
                    "Discharge",
                    format!(
                        "{} ({}), last service {}: {}",
                        d.discharged_on,
                        if d.planned { "planned" } else { "unplanned" },
                        d.last_service_on,
                        d.reason
                    ),
                );
            }
        }
        RecordBody::ContactNote(n) => {
            if let Some(orig) = n.addendum_to {
                field(o, "Addendum to", ctx.record_ref(orig));
            }
            field(o, "Author", ctx.staff(n.author));
            field(o, "Started", when(n.started_at));
            field(o, "Duration", format!("{} min", n.duration_minutes));
            field(o, "Modality", words(&n.modality));
            field(o, "Place", words(&n.place));
            field(
                o,
                "Telehealth reason",
                n.telehealth_reason.clone().unwrap_or_default(),
            );
            if let Some(c) = &n.collateral {
                field(o, "Collateral contact", contact(c));
            }
            field(o, "Member engaged", yes_no(n.member_engaged));
            let purposes: Vec<String> = n.purposes.iter().map(words).collect();
            field(o, "Purposes", purposes.join(", "));
            field(
                o,
                "Planned activity",
                n.planned_activity.clone().unwrap_or_default(),
            );
            field(
                o,
                "Goal targeted",
                n.goal_targeted.clone().unwrap_or_default(),
            );
            field(
                o,
                "Member response",
                n.member_response.clone().unwrap_or_default(),
            );
            let progress: Vec<String> = n
                .progress
                .iter()
                .map(|p| {
                    let goal = ctx
                        .goals
                        .get(&p.goal_id)
                        .cloned()
                        .unwrap_or_else(|| format!("goal {}", p.goal_id));
                    format!("{goal}: {} ({})", words(&p.rating), p.comment)
                })
                .collect();
            field(o, "Progress", progress.join("\n"));
            field(o, "Narrative", n.narrative.clone());
        }
        RecordBody::EngagementAttempt(a) => {
            field(o, "By", ctx.staff(a.by));
            field(o, "At", when(a.at));
            field(o, "Channel", words(&a.channel));
            field(o, "Outcome", words(&a.outcome));
            field(o, "Purpose", a.purpose.clone());
            field(o, "Note", a.note.clone().unwrap_or_default());
        }
        RecordBody::DocumentDelivery(d) => {
            field(o, "Document", words(&d.document));
            if let Some(id) = d.document_record_id {
                field(o, "Record delivered", ctx.record_ref(id));
            }
            field(
                o,
                "Recipient",
                format!("{} ({})", contact(&d.recipient), words(&d.recipient_kind)),
            );
            field(o, "Channel", words(&d.channel));
            let form = match (d.paper, d.electronic) {
                (true, true) => "paper and electronic",
                (true, false) => "paper",
                (false, true) => "electronic",
                (false, false) => "",
            };
            field(o, "Form", form);
            field(o, "Language", d.language.clone());
            field(o, "Delivered", when(d.delivered_at));
            if let Some(c) = d.consent_id {
                field(o, "Consent", ctx.record_ref(c));
            }
            field(o, "By", ctx.staff(d.by));
        }
        RecordBody::NeedsAssessment(a) => {
            field(o, "Kind", words(&a.kind));
            field(o, "Assessor", ctx.staff(a.assessor));
            field(o, "Started", when(a.started_at));
            field(o, "Completed", opt_when(a.completed_at));
            field(
                o,
                "Prompted by a significant change",
                yes_no(a.significant_change),
            );
            for d in &a.domains {
                field(
                    o,
                    format!("Domain: {}", d.domain),
                    format!(
                        "Needs: {}\nStrengths: {}\nBarriers: {}",
                        d.needs, d.strengths, d.barriers
                    ),
                );
            }
            let needs: Vec<String> = a
                .criminogenic_needs
                .iter()
                .map(|c| format!("{}: {} ({})", words(&c.factor), words(&c.level), c.notes))
                .collect();
            field(o, "Criminogenic needs", needs.join("\n"));
            field(o, "Summary", a.summary.clone());
        }
        RecordBody::Plan(p) => {
            field(o, "Kind", words(&p.kind));
            field(o, "Status", words(&p.status));
            if let Some(prev) = p.revision_of {
                field(o, "Revision of", ctx.record_ref(prev));
            }
            field(o, "Completed", opt_when(p.completed_at));
            field(o, "Last reviewed", opt_day(p.last_reviewed_on));
            field(o, "Next review", opt_day(p.next_review_on));
            field(o, "Problems and needs", p.problems_and_needs.as_str());
            field(o, "Strengths", p.strengths.as_str());
            field(o, "Summary", p.summary.as_str());
            for (i, g) in p.goals.iter().enumerate() {
                field(o, format!("Goal {}", i + 1), goal_text(i, g, ctx));
            }
            if p.program == Program::CspJi {
                field(
                    o,
                    "Checked against supervision conditions",
                    yes_no(p.supervision_conflict_checked),
                );
            }
            field(o, "Youth signs", yes_no(p.youth_signs));
            field(o, "Responsible staff", ctx.staff(p.author));
        }
        RecordBody::Consent(c) => {
            field(o, "Recipient", contact(&c.recipient));
            field(o, "Scope", c.scope.clone());
            field(o, "Purpose", c.purpose.clone());
            field(o, "42 CFR Part 2", yes_no(c.substance_use_part2));
            let (by, at) = if c.refused {
                ("Refused by", "Refused")
            } else {
                ("Signed by", "Signed")
            };
            field(o, by, c.signed_by.clone());
            field(o, at, when(c.signed_at));
            field(o, "Expires", opt_day(c.expires_on));
            field(o, "Revoked", opt_when(c.revoked_at));
            field(o, "Recorded by", ctx.staff(c.recorded_by));
        }
        RecordBody::ServiceReferral(r) => {
            field(o, "Service", r.service.clone());
            field(o, "Provider", contact(&r.provider));
            field(o, "Reason", r.reason.clone());
            if r.alternative_for_ineligible {
                field(o, "Alternative after ineligibility", "yes");
            }
            field(o, "Referred", when(r.referred_at));
            field(o, "Scheduled for", opt_when(r.scheduled_for));
            let fu: Vec<String> = r
                .follow_ups
                .iter()
                .map(|f| format!("{}: {}, by {}", when(f.at), f.outcome, ctx.staff(f.by)))
                .collect();
            field(o, "Follow-ups", fu.join("\n"));
            field(
                o,
                "No follow-up because",
                r.no_follow_up_reason.clone().unwrap_or_default(),
            );
            if let Some(c) = r.consent_id {
                field(o, "Consent", ctx.record_ref(c));
            }
            field(o, "By", ctx.staff(r.by));
        }
        RecordBody::Incident(i) => {
            field(o, "Occurred", when(i.occurred_at));
            field(o, "Location", i.location.clone());
            field(o, "Category", words(&i.category));
            field(o, "Description", i.description.clone());
            field(o, "Actions taken", i.actions_taken.clone());
            field(
                o,
                "Reported to the health plan",
                opt_when(i.reported_to_plan_at),
            );
            field(
                o,
                "Reported to MassHealth",
                opt_when(i.reported_to_masshealth_at),
            );
            if let Some(a) = i.alarm_id {
                field(o, "Alarm", a.to_string());
            }
            field(o, "Reporter", ctx.staff(i.reporter));
        }
        RecordBody::CrisisPlan(p) => {
            field(o, "Written", when(p.written_at));
            field(o, "Given to the member", opt_when(p.given_to_member_at));
            field(o, "Warning signs", p.warning_signs.join("\n"));
            field(o, "Coping strategies", p.coping_strategies.join("\n"));
            field(o, "Supports", p.supports.join("\n"));
            field(
                o,
                "Professional contacts",
                p.professional_contacts.join("\n"),
            );
            field(o, "Means safety", p.means_safety.clone());
            field(o, "Author", ctx.staff(p.author));
        }
        RecordBody::DischargePlan(p) => {
            field(o, "Enrollment", ctx.record_ref(p.enrollment_id));
            field(o, "Discharge on", p.discharge_on.to_string());
            field(o, "Aftercare", p.aftercare.clone());
            field(o, "Recommendations", p.recommendations.clone());
            if let Some(c) = p.crisis_plan_id {
                field(o, "Crisis plan", ctx.record_ref(c));
            }
            if let Some(s) = p.service_plan_id {
                field(o, "Service plan", ctx.record_ref(s));
            }
            field(o, "Written", when(p.written_at));
            field(o, "Author", ctx.staff(p.author));
        }
        RecordBody::Supervision(s) => {
            field(o, "Supervisee", ctx.staff(s.staff_id));
            field(o, "Supervisor", ctx.staff(s.supervisor_id));
            field(o, "Individual", yes_no(s.individual));
            field(o, "Held", when(s.held_at));
            field(o, "Duration", format!("{} min", s.duration_minutes));
            field(o, "Topics", s.topics.clone());
        }
        RecordBody::Consultation(c) => {
            field(o, "Requested by", ctx.staff(c.requested_by));
            field(o, "Requested", when(c.requested_at));
            field(o, "Consultant", words(&c.consultant_kind));
            if let Some(s) = c.consultant {
                field(o, "Answered by", ctx.staff(s));
            }
            field(o, "Answered", opt_when(c.responded_at));
            field(o, "Topic", c.topic.clone());
        }
        RecordBody::Training(t) => {
            field(o, "Trainee", ctx.staff(t.staff_id));
            field(o, "Course", t.course.clone());
            field(o, "Required initial training", yes_no(t.required_initial));
            field(o, "Employment started", t.employment_started_on.to_string());
            field(o, "Completed", opt_day(t.completed_on));
        }
        RecordBody::Override(v) => {
            field(o, "Rule", v.rule_id.clone());
            field(o, "Kind", words(&v.kind));
            field(o, "Until", opt_day(v.until));
            field(o, "Reason", v.reason.clone());
            field(o, "By", ctx.staff(v.by));
            field(o, "Recorded", when(v.recorded_at));
        }
    }
    f
}

fn rows<'r>(e: &Export<'r>, ctx: &Context) -> Vec<Row<'r>> {
    let mut out: Vec<Row<'r>> = e
        .records
        .iter()
        .map(|rec| {
            let at = rec.body.timeline_at();
            let when =
                (!matches!(rec.body, RecordBody::Member(_)) && at.millis() != 0).then_some(at);
            Row {
                rec,
                when,
                by: by_of(&rec.body).map(|s| ctx.staff(s)).unwrap_or_default(),
                title: rec.body.title(),
                status: status_of(rec, ctx),
                sigs: sigs_of(rec, ctx),
                fields: fields_of(rec, ctx),
            }
        })
        .collect();
    out.sort_by_key(|r| {
        let rank = match (&r.rec.body, r.when) {
            _ if is_the_member(r.rec, e) => 0,
            (RecordBody::Member(_), _) => 1,
            (_, Some(_)) => 2,
            (_, None) => 3,
        };
        (rank, r.when, r.rec.id)
    });
    out
}

/// The statement about substance-use content: a heading and its paragraphs.
fn part2_statement(e: &Export<'_>) -> Option<(&'static str, Vec<String>)> {
    match &e.part2 {
        Part2::None => None,
        Part2::Withheld { records } => Some((WITHHELD_TITLE, vec![withheld_text(*records)])),
        Part2::Disclosed {
            consent_id,
            recipient,
        } => {
            let mut paras: Vec<String> = REDISCLOSURE_NOTICE.lines().map(str::to_string).collect();
            paras.push(format!(
                "This export is disclosed to {recipient} with the written consent of the member (consent record {consent_id})."
            ));
            let consent = e.records.iter().find_map(|r| match &r.body {
                RecordBody::Consent(c) if r.id == *consent_id => Some(c),
                _ => None,
            });
            if let Some(c) = consent {
                let mut s = format!(
                    "Scope of the consent: {}. Purpose: {}. Signed by {} on {}",
                    c.scope.trim_end_matches('.'),
                    c.purpose.trim_end_matches('.'),
                    c.signed_by,
                    when(c.signed_at)
                );
                if let Some(x) = c.expires_on {
                    let _ = write!(s, "; expires {x}");
                }
                s.push('.');
                paras.push(s);
            }
            Some((NOTICE_TITLE, paras))
        }
    }
}

fn withheld_text(records: usize) -> String {
    let n = if records == 1 {
        "1 record is".to_string()
    } else {
        format!("{records} records are")
    };
    format!(
        "{n} not included in this export: disclosing them needs the member's specific written consent, and no such consent covers this disclosure."
    )
}

fn generated_line(e: &Export<'_>) -> String {
    format!(
        "Generated {} by {} for {}.",
        when(e.generated_at),
        e.generated_by,
        e.agency
    )
}

// ---------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------

/// A cell as written: text that a spreadsheet would read as a formula (starting with `=`,
/// `+`, `-`, `@`, a tab or a carriage return) gets a leading apostrophe.
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn fields_text(fields: &[Field]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.label, f.value))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The export as CSV (UTF-8, a header row, one row per record, fields quoted where needed).
/// The columns are `record_id, kind, when, by, title, status, signatures, text`: `when` is
/// RFC 3339 in UTC, `text` holds every field as `Label: value` lines. A first row of kind
/// `export` says who generated it, when and for which agency; a row of kind `part2_notice`
/// (disclosed under a Part 2 consent) or `withheld` follows when [`Part2`] asks for it.
/// Cells a spreadsheet would read as formulas start with an apostrophe.
pub fn csv(e: &Export<'_>) -> Result<Vec<u8>> {
    let ctx = Context::new(e);
    let rows = rows(e, &ctx);
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let err = |e: ::csv::Error| Error::Internal(format!("writing the CSV export failed: {e}"));
    w.write_record([
        "record_id",
        "kind",
        "when",
        "by",
        "title",
        "status",
        "signatures",
        "text",
    ])
    .map_err(err)?;
    let generated = e.generated_at.to_string();
    w.write_record([
        "",
        "export",
        generated.as_str(),
        &cell(e.generated_by),
        &cell(&format!("Record of {}", display_name(e))),
        "",
        "",
        &cell(&format!(
            "{}\nMember record id: {}\nRecords: {}",
            generated_line(e),
            e.member_id,
            rows.len()
        )),
    ])
    .map_err(err)?;
    if let Some((title, paras)) = part2_statement(e) {
        let kind = match e.part2 {
            Part2::Withheld { .. } => "withheld",
            _ => "part2_notice",
        };
        w.write_record([
            "",
            kind,
            generated.as_str(),
            "",
            title,
            "",
            "",
            &cell(&paras.join("\n")),
        ])
        .map_err(err)?;
    }
    for r in &rows {
        let sigs: Vec<&str> = r.sigs.iter().map(|s| s.text.as_str()).collect();
        w.write_record([
            r.rec.id.to_string().as_str(),
            r.rec.body.kind().as_str(),
            &r.when.map(|t| t.to_string()).unwrap_or_default(),
            &cell(&r.by),
            &cell(&r.title),
            &cell(&r.status),
            &cell(&sigs.join("\n")),
            &cell(&fields_text(&r.fields)),
        ])
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| Error::Internal(format!("writing the CSV export failed: {}", e.error())))
}

// ---------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------

fn paragraphs(text: &str) -> Markup {
    html! {
        @for line in text.lines().filter(|l| !l.trim().is_empty()) {
            p { (line) }
        }
    }
}

fn dl(fields: &[Field]) -> Markup {
    html! {
        dl.fields {
            @for f in fields {
                dt { (f.label) }
                dd { (paragraphs(&f.value)) }
            }
        }
    }
}

/// One record's fields, labelled as in the exports, for the console's record page. `e`
/// supplies the names of staff (from the signatures among its records) and plan goals.
pub fn record_fields(e: &Export<'_>, rec: &Record) -> Markup {
    dl(&fields_of(rec, &Context::new(e)))
}

/// The export as a standalone, printable HTML page. It loads only the console's stylesheet
/// (the console's Content-Security-Policy allows no inline style) and no script; maud
/// escapes every value. The Part 2 notice or the withheld statement comes first, then the
/// member, then each record in time order with its fields and signatures.
pub fn html(e: &Export<'_>) -> Markup {
    let ctx = Context::new(e);
    let rows = rows(e, &ctx);
    let name = display_name(e);
    let (member_rows, record_rows): (Vec<&Row<'_>>, Vec<&Row<'_>>) =
        rows.iter().partition(|r| is_the_member(r.rec, e));
    let statement = part2_statement(e);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { "Record of " (name) " · Fieldnote" }
                link rel="stylesheet" href="/console/static/console.css";
            }
            body.export {
                main id="main" {
                    div.export-head {
                        p.export-agency { (e.agency) }
                        h1 { "Record of " (name) }
                        p.export-generated { (generated_line(e)) " Member record id " code { (e.member_id) } "." }
                    }
                    @if let Some((title, paras)) = &statement {
                        @let class = if matches!(e.part2, Part2::Disclosed { .. }) { "notice part2-notice" } else { "notice part2-withheld" };
                        section class=(class) role="note" aria-labelledby="part2-title" {
                            h2 id="part2-title" { (title) }
                            @for p in paras { p { (p) } }
                        }
                    }
                    section.export-member aria-labelledby="member-title" {
                        h2 id="member-title" { "Member" }
                        @if member_rows.is_empty() {
                            p { "No member record is included." }
                        }
                        @for r in &member_rows { (dl(&r.fields)) }
                    }
                    section.export-records aria-labelledby="records-title" {
                        h2 id="records-title" { "Records (" (record_rows.len()) ")" }
                        @if record_rows.is_empty() {
                            p { "No records are included." }
                        }
                        @for r in &record_rows {
                            article.export-record id=(format!("record-{}", r.rec.id)) {
                                h3 { (r.title) }
                                p.export-meta {
                                    (capitalized(&words(&r.rec.body.kind())))
                                    @if let Some(t) = r.when { " · " (when(t)) }
                                    @if !r.status.is_empty() { " · " (r.status) }
                                    " · record " code { (r.rec.id) }
                                }
                                (dl(&r.fields))
                                @if !r.sigs.is_empty() {
                                    h4 { "Signatures" }
                                    ul.signatures {
                                        @for s in &r.sigs {
                                            li class=(s.state.class()) { (s.text) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    p.export-end { "End of the record of " (name) "." }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// PDF
// ---------------------------------------------------------------------------------------

/// Helvetica's advance widths (1/1000 em) for WinAnsiEncoding codes 32 to 255.
const HELVETICA: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
    0, 556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, 0, 222, 222,
    333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667, 278, 333, 556, 556, 556, 556,
    260, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333, 556, 537, 278, 333,
    333, 365, 556, 834, 834, 834, 611, 667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667,
    278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667,
    611, 556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, 556, 556,
    556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// Helvetica-Bold's advance widths (1/1000 em) for WinAnsiEncoding codes 32 to 255.
const HELVETICA_BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
    0, 556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, 0, 278, 278,
    500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667, 278, 333, 556, 556, 556, 556,
    280, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333, 611, 556, 278, 333,
    333, 365, 556, 834, 834, 834, 611, 722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667,
    278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667,
    611, 556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, 611, 611,
    611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

/// A character in WinAnsiEncoding; anything outside it becomes `?`, tabs and other
/// whitespace a space, other control characters nothing.
fn win_ansi(c: char) -> Option<u8> {
    let code = c as u32;
    Some(match c {
        ' '..='~' => code as u8,
        '\u{a0}'..='\u{ff}' => code as u8,
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8a,
        '‹' => 0x8b,
        'Œ' => 0x8c,
        'Ž' => 0x8e,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9a,
        '›' => 0x9b,
        'œ' => 0x9c,
        'ž' => 0x9e,
        'Ÿ' => 0x9f,
        c if c.is_whitespace() => b' ',
        c if c.is_control() => return None,
        // Combining marks and zero-width characters print as nothing rather than `?`.
        '\u{300}'..='\u{36f}' | '\u{200b}'..='\u{200f}' | '\u{feff}' => return None,
        _ => b'?',
    })
}

fn encode(s: &str) -> Vec<u8> {
    s.chars().filter_map(win_ansi).collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Face {
    Regular,
    Bold,
}

impl Face {
    fn name(self) -> Name<'static> {
        match self {
            Face::Regular => Name(b"F1"),
            Face::Bold => Name(b"F2"),
        }
    }

    fn width(self, bytes: &[u8], size: f32) -> f32 {
        let table = match self {
            Face::Regular => &HELVETICA,
            Face::Bold => &HELVETICA_BOLD,
        };
        let units: u32 = bytes
            .iter()
            .map(|&b| {
                b.checked_sub(32)
                    .and_then(|i| table.get(usize::from(i)))
                    .map_or(556, |&w| u32::from(w))
            })
            .sum();
        units as f32 * size / 1000.0
    }
}

/// A run of text in one face on one line.
struct Run {
    face: Face,
    text: Vec<u8>,
}

/// One laid-out line: its runs, where it starts, its size and the space it takes.
struct Line {
    x: f32,
    size: f32,
    runs: Vec<Run>,
    /// Space above the line's baseline, from the previous line's baseline.
    advance: f32,
    /// Keep this line on the same page as the next `keep` lines.
    keep: usize,
}

const PAGE_W: f32 = 612.0;
const PAGE_H: f32 = 792.0;
const MARGIN: f32 = 54.0;
const TOP: f32 = PAGE_H - MARGIN;
const BOTTOM: f32 = MARGIN + 30.0;
const BODY: f32 = 10.0;
const LEADING: f32 = 1.3;

struct Layout {
    lines: Vec<Line>,
}

impl Layout {
    /// Breaks `text` into lines no wider than the text column minus `indent`. The first line
    /// may start with a bold `label` (then the text continues after it, and following lines
    /// hang by `hang`).
    #[allow(clippy::too_many_arguments)]
    fn text(
        &mut self,
        label: Option<&str>,
        text: &str,
        face: Face,
        size: f32,
        indent: f32,
        hang: f32,
        space_before: f32,
        keep: usize,
    ) {
        let full = PAGE_W - 2.0 * MARGIN - indent;
        let label = label.map(|l| encode(&format!("{l}: ")));
        let label_w = label.as_deref().map_or(0.0, |l| Face::Bold.width(l, size));
        if label_w > full * 0.4 {
            // A label too long to share a line with its value gets lines of its own.
            let label = String::from_utf8_lossy(label.as_deref().unwrap_or_default()).into_owned();
            self.text(
                None,
                &label,
                Face::Bold,
                size,
                indent,
                hang,
                space_before,
                keep + 1,
            );
            self.text(None, text, face, size, indent + hang, 0.0, 0.0, 0);
            return;
        }
        let mut first = true;
        let mut pending_label = label;
        let mut paragraphs: Vec<&str> = text.split('\n').collect();
        if paragraphs.is_empty() {
            paragraphs.push("");
        }
        for para in paragraphs {
            let words: Vec<Vec<u8>> = para
                .split([' ', '\t'])
                .filter(|w| !w.is_empty())
                .map(encode)
                .filter(|w| !w.is_empty())
                .collect();
            let mut current: Vec<u8> = Vec::new();
            let mut lines_of_para: Vec<Vec<u8>> = Vec::new();
            let mut avail = if first { full - label_w } else { full - hang };
            for w in words {
                let candidate_w = if current.is_empty() {
                    face.width(&w, size)
                } else {
                    face.width(&current, size) + face.width(b" ", size) + face.width(&w, size)
                };
                if candidate_w <= avail {
                    if !current.is_empty() {
                        current.push(b' ');
                    }
                    current.extend_from_slice(&w);
                    continue;
                }
                if !current.is_empty() {
                    lines_of_para.push(std::mem::take(&mut current));
                    avail = full - hang;
                }
                // A word longer than a line is cut where it no longer fits.
                let mut rest = w.as_slice();
                while !rest.is_empty() && face.width(rest, size) > avail {
                    let mut cut = 0;
                    while cut < rest.len() && face.width(&rest[..=cut], size) <= avail {
                        cut += 1;
                    }
                    let cut = cut.max(1);
                    lines_of_para.push(rest[..cut].to_vec());
                    rest = &rest[cut..];
                    avail = full - hang;
                }
                current.extend_from_slice(rest);
            }
            lines_of_para.push(current);
            for l in lines_of_para {
                let mut runs = Vec::new();
                let x;
                if let Some(lab) = pending_label.take() {
                    runs.push(Run {
                        face: Face::Bold,
                        text: lab,
                    });
                    x = MARGIN + indent;
                } else if first {
                    x = MARGIN + indent;
                } else {
                    x = MARGIN + indent + hang;
                }
                if !l.is_empty() {
                    runs.push(Run { face, text: l });
                }
                self.lines.push(Line {
                    x,
                    size,
                    runs,
                    advance: size * LEADING + if first { space_before } else { 0.0 },
                    keep: if first { keep } else { 0 },
                });
                first = false;
            }
        }
    }
}

fn layout(e: &Export<'_>) -> Layout {
    let ctx = Context::new(e);
    let rows = rows(e, &ctx);
    let name = display_name(e);
    let mut l = Layout { lines: Vec::new() };
    l.text(None, e.agency, Face::Regular, BODY, 0.0, 0.0, 0.0, 0);
    l.text(
        None,
        &format!("Record of {name}"),
        Face::Bold,
        16.0,
        0.0,
        0.0,
        4.0,
        0,
    );
    l.text(
        None,
        &format!("{} Member record id {}.", generated_line(e), e.member_id),
        Face::Regular,
        9.0,
        0.0,
        0.0,
        2.0,
        0,
    );
    if let Some((title, paras)) = part2_statement(e) {
        l.text(None, title, Face::Bold, 12.0, 0.0, 0.0, 12.0, 2);
        for p in paras {
            l.text(None, &p, Face::Regular, 9.0, 0.0, 0.0, 3.0, 0);
        }
    }
    for r in &rows {
        let is_member = is_the_member(r.rec, e);
        let heading = if is_member {
            "Member".to_string()
        } else {
            r.title.clone()
        };
        l.text(None, &heading, Face::Bold, 12.0, 0.0, 0.0, 14.0, 3);
        if !is_member {
            let mut meta = capitalized(&words(&r.rec.body.kind()));
            if let Some(t) = r.when {
                let _ = write!(meta, " · {}", when(t));
            }
            if !r.status.is_empty() {
                let _ = write!(meta, " · {}", r.status);
            }
            let _ = write!(meta, " · record {}", r.rec.id);
            l.text(None, &meta, Face::Regular, 8.5, 0.0, 0.0, 0.0, 1);
        }
        for f in &r.fields {
            l.text(
                Some(&f.label),
                &f.value,
                Face::Regular,
                BODY,
                0.0,
                12.0,
                2.0,
                0,
            );
        }
        if !r.sigs.is_empty() {
            l.text(None, "Signatures", Face::Bold, BODY, 0.0, 0.0, 4.0, 1);
            for s in &r.sigs {
                let mark = match s.state {
                    SigState::Current | SigState::Recorded => "",
                    SigState::Stale | SigState::Broken => "! ",
                    SigState::Missing => "- ",
                };
                l.text(
                    None,
                    &format!("{mark}{}", s.text),
                    Face::Regular,
                    9.0,
                    12.0,
                    12.0,
                    1.0,
                    0,
                );
            }
        }
    }
    l.text(
        None,
        &format!("End of the record of {name}."),
        Face::Regular,
        9.0,
        0.0,
        0.0,
        14.0,
        0,
    );
    l
}

/// Splits laid-out lines into pages: a line that would cross the bottom margin starts a new
/// page, and so does a heading without room for the lines it must stay with.
fn paginate(lines: Vec<Line>) -> Vec<Vec<(f32, Line)>> {
    let mut pages: Vec<Vec<(f32, Line)>> = vec![Vec::new()];
    let mut y = TOP;
    let count = lines.len();
    let advances: Vec<f32> = lines.iter().map(|l| l.advance).collect();
    for (i, line) in lines.into_iter().enumerate() {
        let on_fresh_page = pages.last().is_none_or(Vec::is_empty);
        let advance = if on_fresh_page {
            line.size
        } else {
            line.advance
        };
        let mut need = advance;
        for a in advances.iter().skip(i + 1).take(line.keep.min(count)) {
            need += a;
        }
        if !on_fresh_page && y - need < BOTTOM {
            pages.push(Vec::new());
            y = TOP;
            let advance = line.size;
            y -= advance;
        } else {
            y -= advance;
        }
        if let Some(p) = pages.last_mut() {
            p.push((y, line));
        }
    }
    pages
}

fn show_line(c: &mut Content, x: f32, y: f32, size: f32, runs: &[Run]) {
    if runs.iter().all(|r| r.text.is_empty()) {
        return;
    }
    c.begin_text();
    c.next_line(x, y);
    for r in runs {
        c.set_font(r.face.name(), size);
        c.show(Str(&r.text));
    }
    c.end_text();
}

/// The export as a PDF (US Letter, Helvetica in WinAnsiEncoding, nothing embedded): the same
/// text as [`html`], wrapped to the page, with the member's name, the agency and "page N of
/// M" at the foot of every page (and the short Part 2 statement when Part 2 content is
/// disclosed). Characters WinAnsiEncoding lacks print as `?`.
pub fn pdf(e: &Export<'_>) -> Vec<u8> {
    let pages = paginate(layout(e).lines);
    let total = pages.len();
    let name = display_name(e);
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let first_page = 6;
    let page_ref = |i: usize| Ref::new(first_page + 2 * i32::try_from(i).unwrap_or(0));
    let content_ref = |i: usize| Ref::new(first_page + 2 * i32::try_from(i).unwrap_or(0) + 1);
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids((0..total).map(page_ref))
        .count(i32::try_from(total).unwrap_or(i32::MAX));
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info)
        .title(TextStr("Member record export"))
        .producer(TextStr("Fieldnote"));
    let footer_left = encode(&format!("Record of {name} · {}", e.agency));
    let short = encode(SHORT_NOTICE);
    for (i, lines) in pages.iter().enumerate() {
        let mut c = Content::new();
        for (y, line) in lines {
            show_line(&mut c, line.x, *y, line.size, &line.runs);
        }
        // The foot of the page.
        let size = 8.0;
        let mut left = footer_left.clone();
        let page_no = encode(&format!("page {} of {}", i + 1, total));
        let right_w = Face::Regular.width(&page_no, size);
        let max_left = PAGE_W - 2.0 * MARGIN - right_w - 12.0;
        while !left.is_empty() && Face::Regular.width(&left, size) > max_left {
            left.pop();
        }
        show_line(
            &mut c,
            MARGIN,
            MARGIN,
            size,
            &[Run {
                face: Face::Regular,
                text: left,
            }],
        );
        show_line(
            &mut c,
            PAGE_W - MARGIN - right_w,
            MARGIN,
            size,
            &[Run {
                face: Face::Regular,
                text: page_no,
            }],
        );
        if matches!(e.part2, Part2::Disclosed { .. }) {
            show_line(
                &mut c,
                MARGIN,
                MARGIN + 11.0,
                size,
                &[Run {
                    face: Face::Bold,
                    text: short.clone(),
                }],
            );
        }
        let mut page = pdf.page(page_ref(i));
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .parent(tree)
            .contents(content_ref(i));
        let mut resources = page.resources();
        resources
            .fonts()
            .pair(Face::Regular.name(), regular)
            .pair(Face::Bold.name(), bold);
        drop(resources);
        drop(page);
        pdf.stream(content_ref(i), &c.finish());
    }
    pdf.finish()
}

// ---------------------------------------------------------------------------------------
// FHIR
// ---------------------------------------------------------------------------------------

const MEMBER_SYSTEM: &str = "urn:fieldnote:member";
const STAFF_SYSTEM: &str = "urn:fieldnote:staff";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const PART2_POLICY: &str = "https://www.ecfr.gov/current/title-42/chapter-I/subchapter-A/part-2";

/// Text as FHIR strings and XHTML take it: no control characters but tab and newlines.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|&c| {
            (matches!(c, '\t' | '\n' | '\r') || !c.is_control())
                && !matches!(c, '\u{fffe}' | '\u{ffff}')
        })
        .collect()
}

/// Sets `obj[key]` to the cleaned string when it is not blank (FHIR has no empty strings).
fn put_str(obj: &mut Value, key: &str, s: &str) {
    let s = clean(s);
    if !s.trim().is_empty()
        && let Some(m) = obj.as_object_mut()
    {
        m.insert(key.to_string(), Value::String(s));
    }
}

fn urn(id: RecordId) -> String {
    format!("urn:uuid:{id}")
}

fn security_labels() -> Value {
    json!([
        { "system": ACT_CODE, "code": "42CFRPart2", "display": "42 CFR Part2" },
        { "system": ACT_CODE, "code": "NORDSCLCD", "display": "no redisclosure without consent directive" }
    ])
}

/// What a resource's narrative shows of a row: its status, its fields, its signatures.
fn row_narrative(r: &Row<'_>, status: &str) -> Value {
    let mut all = Vec::with_capacity(r.fields.len() + r.sigs.len() + 1);
    field(&mut all, "Status", r.status.clone());
    all.extend(r.fields.iter().map(|f| Field {
        label: f.label.clone(),
        value: f.value.clone(),
    }));
    for s in &r.sigs {
        field(&mut all, "Signature", s.text.clone());
    }
    narrative(&all, status)
}

/// A resource's narrative: its fields as an XHTML definition list.
fn narrative(fields: &[Field], status: &str) -> Value {
    let div = html! {
        div xmlns="http://www.w3.org/1999/xhtml" {
            @if fields.is_empty() {
                p { "No details recorded." }
            } @else {
                dl {
                    @for f in fields {
                        dt { (clean(&f.label)) }
                        dd {
                            @for line in f.value.lines().filter(|l| !l.trim().is_empty()) {
                                p { (clean(line)) }
                            }
                        }
                    }
                }
            }
        }
    };
    json!({ "status": status, "div": div.into_string() })
}

fn text_concept(s: &str) -> Value {
    let mut v = json!({});
    put_str(&mut v, "text", s);
    v
}

fn patient_ref(member: RecordId) -> Value {
    json!({ "reference": urn(member), "type": "Patient" })
}

fn staff_ref(id: StaffId, ctx: &Context) -> Value {
    let mut v = json!({
        "type": "Practitioner",
        "identifier": { "system": STAFF_SYSTEM, "value": id.to_string() }
    });
    if let Some(n) = ctx.staff_name(id) {
        put_str(&mut v, "display", n);
    }
    v
}

fn display_ref(s: &str) -> Value {
    let mut v = json!({});
    put_str(&mut v, "display", s);
    v
}

fn patient(e: &Export<'_>, member: Option<(&Record, &Member)>, ctx: &Context) -> Value {
    let mut p = json!({
        "resourceType": "Patient",
        "id": e.member_id.to_string(),
        "identifier": [{ "system": MEMBER_SYSTEM, "value": e.member_id.to_string() }],
    });
    let Some((rec, m)) = member else {
        return p;
    };
    p["text"] = narrative(&fields_of(rec, ctx), "generated");
    if !m.masshealth_id.trim().is_empty()
        && let Some(ids) = p["identifier"].as_array_mut()
    {
        ids.push(json!({
            "type": { "text": "MassHealth member ID" },
            "value": clean(m.masshealth_id.trim()),
        }));
    }
    let mut names = Vec::new();
    let mut official = json!({ "use": "official" });
    put_str(&mut official, "family", &m.family_name);
    if !m.given_name.trim().is_empty() {
        official["given"] = json!([clean(&m.given_name)]);
    }
    put_str(
        &mut official,
        "text",
        &format!("{} {}", m.given_name, m.family_name),
    );
    names.push(official);
    if let Some(pref) = m.preferred_name.as_deref().filter(|p| !p.trim().is_empty()) {
        let mut usual = json!({ "use": "usual", "given": [clean(pref)] });
        put_str(&mut usual, "family", &m.family_name);
        names.push(usual);
    }
    p["name"] = Value::Array(names);
    p["birthDate"] = json!(m.date_of_birth.to_string());
    if let Some(phone) = m.phone.as_deref().filter(|s| !s.trim().is_empty()) {
        p["telecom"] = json!([{ "system": "phone", "value": clean(phone) }]);
    }
    if let Some(loc) = m.location.as_deref().filter(|s| !s.trim().is_empty()) {
        p["address"] = json!([{ "text": clean(loc) }]);
    }
    if !m.primary_language.trim().is_empty() {
        p["communication"] = json!([{
            "language": text_concept(&m.primary_language),
            "preferred": true,
        }]);
    }
    if let Some(pcp) = &m.pcp {
        p["generalPractitioner"] = json!([display_ref(&contact(pcp))]);
    }
    if let Some(g) = &m.guardian {
        let mut c = json!({
            "relationship": [text_concept(&g.relationship)],
            "name": { "text": clean(&g.contact.name) },
        });
        let mut telecom = Vec::new();
        if let Some(ph) = g.contact.phone.as_deref().filter(|s| !s.trim().is_empty()) {
            telecom.push(json!({ "system": "phone", "value": clean(ph) }));
        }
        if let Some(em) = g.contact.email.as_deref().filter(|s| !s.trim().is_empty()) {
            telecom.push(json!({ "system": "email", "value": clean(em) }));
        }
        if !telecom.is_empty() {
            c["telecom"] = Value::Array(telecom);
        }
        if g.contact.name.trim().is_empty()
            && let Some(m) = c.as_object_mut()
        {
            m.remove("name");
        }
        // A contact needs a name, telecom, address or organization (pat-1).
        if c.get("name").is_some() || c.get("telecom").is_some() {
            p["contact"] = json!([c]);
        }
    }
    p
}

/// The v3 ActEncounterCode of a contact: virtual for remote contacts, home health at home,
/// field for the street, shelters and the community, ambulatory elsewhere.
fn encounter_class(n: &ContactNote) -> (&'static str, &'static str) {
    match (n.modality, n.place) {
        (Modality::Telehealth | Modality::Phone | Modality::Text, _)
        | (_, PlaceOfService::Remote) => ("VR", "virtual"),
        (_, PlaceOfService::Home) => ("HH", "home health"),
        (_, PlaceOfService::Street | PlaceOfService::Community | PlaceOfService::Shelter) => {
            ("FLD", "field")
        }
        _ => ("AMB", "ambulatory"),
    }
}

fn encounter(r: &Row<'_>, n: &ContactNote, member: RecordId, ctx: &Context) -> Value {
    let (code, display) = encounter_class(n);
    let end = Timestamp::from_millis(
        n.started_at
            .millis()
            .saturating_add(i64::from(n.duration_minutes).saturating_mul(60_000)),
    );
    let mut kind = capitalized(&words(&n.modality));
    let _ = write!(kind, " contact, {}", words(&n.place));
    if n.addendum_to.is_some() {
        kind = format!("Addendum: {kind}");
    }
    json!({
        "resourceType": "Encounter",
        "id": r.rec.id.to_string(),
        "text": row_narrative(r, "additional"),
        "status": if r.rec.is_finalized() { "finished" } else { "in-progress" },
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": code,
            "display": display,
        },
        "type": [text_concept(&kind)],
        "serviceType": text_concept(program_name(n.program)),
        "subject": patient_ref(member),
        "participant": [{
            "type": [{ "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": "PPRF",
                "display": "primary performer",
            }] }],
            "individual": staff_ref(n.author, ctx),
        }],
        "period": { "start": n.started_at.to_string(), "end": end.to_string() },
    })
}

fn care_plan(
    r: &Row<'_>,
    p: &Plan,
    member: RecordId,
    present: &BTreeSet<RecordId>,
    ctx: &Context,
) -> Value {
    let status = match p.status {
        PlanStatus::Draft => "draft",
        PlanStatus::Completed => "active",
        PlanStatus::Superseded => "revoked",
    };
    let mut notes = Vec::new();
    for (label, text) in [
        ("Problems and needs", p.problems_and_needs.as_str()),
        ("Strengths", p.strengths.as_str()),
    ] {
        if !text.trim().is_empty() {
            notes.push(json!({ "text": clean(&format!("{label}: {text}")) }));
        }
    }
    for (i, g) in p.goals.iter().enumerate() {
        notes.push(json!({ "text": clean(&format!("Goal {}", goal_text(i, g, ctx))) }));
    }
    let activities: Vec<Value> = p
        .goals
        .iter()
        .flat_map(|g| g.tasks.iter())
        .filter(|t| !t.description.trim().is_empty())
        .map(|t| {
            let mut detail = json!({
                "status": if t.done { "completed" } else { "not-started" },
            });
            let mut desc = t.description.clone();
            let _ = write!(desc, " (responsible: {})", t.responsible);
            put_str(&mut detail, "description", &desc);
            put_str(&mut detail, "scheduledString", &t.timeframe);
            json!({ "detail": detail })
        })
        .collect();
    let mut c = json!({
        "resourceType": "CarePlan",
        "id": r.rec.id.to_string(),
        "text": row_narrative(r, "generated"),
        "status": status,
        "intent": "plan",
        "title": clean(&format!("{} ({})", capitalized(&words(&p.kind)), program_name(p.program))),
        "subject": patient_ref(member),
        "author": staff_ref(p.author, ctx),
    });
    put_str(&mut c, "description", p.summary.as_str());
    if let Some(t) = p.completed_at {
        c["created"] = json!(t.to_string());
    }
    if let Some(prev) = p.revision_of.filter(|id| present.contains(id)) {
        c["replaces"] = json!([{ "reference": urn(prev), "type": "CarePlan" }]);
    }
    if !notes.is_empty() {
        c["note"] = Value::Array(notes);
    }
    if !activities.is_empty() {
        c["activity"] = Value::Array(activities);
    }
    c
}

fn consent(r: &Row<'_>, k: &Consent, member: RecordId, e: &Export<'_>) -> Value {
    let status = if k.refused {
        "rejected"
    } else if k.in_force(e.generated_at) {
        "active"
    } else {
        "inactive"
    };
    let mut period = json!({ "start": k.signed_at.to_string() });
    if let Some(rev) = k.revoked_at {
        period["end"] = json!(rev.to_string());
    } else if let Some(x) = k.expires_on {
        period["end"] = json!(x.to_string());
    }
    let mut provision = json!({
        "type": if k.refused { "deny" } else { "permit" },
        "period": period,
    });
    let recipient = contact(&k.recipient);
    if !recipient.trim().is_empty() {
        provision["actor"] = json!([{
            "role": { "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": "IRCP",
                "display": "information recipient",
            }] },
            "reference": display_ref(&recipient),
        }]);
    }
    let mut c = json!({
        "resourceType": "Consent",
        "id": r.rec.id.to_string(),
        "text": row_narrative(r, "generated"),
        "status": status,
        "scope": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/consentscope",
            "code": "patient-privacy",
            "display": "Privacy Consent",
        }] },
        "category": [{ "coding": [{
            "system": "http://loinc.org",
            "code": "59284-0",
            "display": "Patient Consent",
        }] }],
        "patient": patient_ref(member),
        "dateTime": k.signed_at.to_string(),
        "provision": provision,
    });
    if !k.signed_by.trim().is_empty() {
        c["performer"] = json!([display_ref(&k.signed_by)]);
    }
    if !e.agency.trim().is_empty() {
        c["organization"] = json!([display_ref(e.agency)]);
    }
    if k.substance_use_part2 {
        c["policy"] = json!([{ "authority": "https://www.ecfr.gov", "uri": PART2_POLICY }]);
    } else {
        c["policyRule"] = json!({ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/consentpolicycodes",
            "code": "hipaa-auth",
            "display": "HIPAA Authorization",
        }] });
    }
    c
}

/// A referral as a ServiceRequest: the service asked for, why, from whom, when.
fn service_request(r: &Row<'_>, s: &ServiceReferral, member: RecordId, ctx: &Context) -> Value {
    let mut v = json!({
        "resourceType": "ServiceRequest",
        "id": r.rec.id.to_string(),
        "text": row_narrative(r, "generated"),
        "status": "active",
        "intent": "order",
        "code": text_concept(&s.service),
        "subject": patient_ref(member),
        "authoredOn": s.referred_at.to_string(),
        "requester": staff_ref(s.by, ctx),
        "reasonCode": [text_concept(&s.reason)],
    });
    let provider = contact(&s.provider);
    if !provider.trim().is_empty() {
        v["performer"] = json!([display_ref(&provider)]);
    }
    if let Some(at) = s.scheduled_for {
        v["occurrenceDateTime"] = json!(at.to_string());
    }
    v
}

/// The Part 2 statement as a DocumentReference: the notice (or the withheld statement) as
/// readable narrative and as a plain-text attachment.
fn statement_document(
    e: &Export<'_>,
    title: &str,
    paras: &[String],
    present: &BTreeSet<RecordId>,
) -> (Uuid, Value) {
    let id = Uuid::new_v5(
        &e.member_id,
        format!("part2-statement/{}", e.generated_at.millis()).as_bytes(),
    );
    let text = paras.join("\n");
    let fields = [Field {
        label: title.to_string(),
        value: text.clone(),
    }];
    let mut d = json!({
        "resourceType": "DocumentReference",
        "id": id.to_string(),
        "text": narrative(&fields, "generated"),
        "status": "current",
        "type": text_concept(title),
        "subject": patient_ref(e.member_id),
        "date": e.generated_at.to_string(),
        "description": clean(title),
        "content": [{ "attachment": {
            "contentType": "text/plain; charset=utf-8",
            "language": "en",
            "data": base64::engine::general_purpose::STANDARD.encode(clean(&text)),
            "title": clean(title),
        } }],
    });
    if let Part2::Disclosed { consent_id, .. } = &e.part2
        && present.contains(consent_id)
    {
        d["context"] = json!({ "related": [{ "reference": urn(*consent_id), "type": "Consent" }] });
    }
    (id, d)
}

/// The export as a FHIR R4 Bundle of type `collection`: the member as a Patient (identifier
/// `urn:fieldnote:member`), one Encounter per contact note (addenda included), one CarePlan
/// per plan, one Consent per consent record, each with its fields as narrative. Entries are
/// addressed `urn:uuid:<record id>` and every reference between them resolves inside the
/// Bundle (staff appear as identifier-only references). The Part 2 notice or the withheld
/// statement is a DocumentReference entry; a Part 2 disclosure also labels the Bundle and
/// every resource with the v3 ActCode security labels `42CFRPart2` and `NORDSCLCD`. Other
/// record kinds are carried by the other formats only.
pub fn fhir(e: &Export<'_>) -> Value {
    let ctx = Context::new(e);
    let rows = rows(e, &ctx);
    let present: BTreeSet<RecordId> = e.records.iter().map(|r| r.id).collect();
    let disclosed = matches!(e.part2, Part2::Disclosed { .. });
    let member = member_of(e);
    let mut resources: Vec<(Uuid, Value)> = vec![(e.member_id, patient(e, member, &ctx))];
    if let Some((title, paras)) = part2_statement(e) {
        resources.push(statement_document(e, title, &paras, &present));
    }
    for r in &rows {
        let res = match &r.rec.body {
            RecordBody::ContactNote(n) => encounter(r, n, e.member_id, &ctx),
            RecordBody::Plan(p) => care_plan(r, p, e.member_id, &present, &ctx),
            RecordBody::Consent(k) => consent(r, k, e.member_id, e),
            RecordBody::ServiceReferral(s) => service_request(r, s, e.member_id, &ctx),
            _ => continue,
        };
        resources.push((r.rec.id, res));
    }
    let entries: Vec<Value> = resources
        .into_iter()
        .map(|(id, mut res)| {
            if disclosed {
                res["meta"] = json!({ "security": security_labels() });
            }
            json!({ "fullUrl": urn(id), "resource": res })
        })
        .collect();
    let mut meta = json!({ "lastUpdated": e.generated_at.to_string() });
    if disclosed {
        meta["security"] = security_labels();
    }
    json!({
        "resourceType": "Bundle",
        "id": Uuid::new_v5(&e.member_id, format!("bundle/{}", e.generated_at.millis()).as_bytes()).to_string(),
        "meta": meta,
        "type": "collection",
        "timestamp": e.generated_at.to_string(),
        "entry": entries,
    })
}

#[cfg(test)]
mod tests {
    use fieldnote_core::synthetic;
    use fieldnote_core::{Attestation, Signer};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    const NARRATIVE: &str = "Met at the library, then walked to the \"new\" pharmacy.\nMember said: \"I'm fine, really.\"\n<script>alert('x')</script> done";

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).expect("a valid instant")
    }

    struct Fixture {
        member_id: RecordId,
        records: Vec<Record>,
        note_id: RecordId,
        plan_id: RecordId,
        part2_consent: RecordId,
    }

    fn record(id: RecordId, body: RecordBody, attestations: Vec<Attestation>) -> Record {
        Record {
            id,
            body,
            attestations,
        }
    }

    /// A member with a finalized note, a draft telehealth note, a plan with one current and
    /// one stale signature, a Part 2 consent and a refused consent.
    fn fixture() -> Fixture {
        let mut rng = StdRng::seed_from_u64(7);
        let worker = new_id();
        let supervisor_id = new_id();
        let member_id = new_id();
        let mut member = synthetic::member(&mut rng);
        member.given_name = "Posy".into();
        member.family_name = "Larkspur".into();
        let mut records = vec![record(member_id, RecordBody::Member(member), Vec::new())];

        let enrollment = synthetic::enrollment(
            member_id,
            Program::Csp,
            worker,
            new_id(),
            at("2026-01-05T14:00:00Z"),
        );
        records.push(record(
            new_id(),
            RecordBody::Enrollment(enrollment),
            Vec::new(),
        ));

        let note_id = new_id();
        let mut note = synthetic::note(
            &mut rng,
            member_id,
            Program::Csp,
            worker,
            at("2026-03-02T15:00:00Z"),
            40,
        );
        note.narrative = NARRATIVE.into();
        let body = RecordBody::ContactNote(note);
        let fin = Attestation::new(
            note_id,
            AttestationKind::Finalize,
            Signer::staff(worker, "Wren Hollowell", Role::Worker),
            at("2026-03-02T17:00:00Z"),
            &body,
        );
        records.push(record(note_id, body, vec![fin]));

        let mut draft = synthetic::note(
            &mut rng,
            member_id,
            Program::Csp,
            worker,
            at("2026-03-09T15:00:00Z"),
            20,
        );
        draft.modality = Modality::Telehealth;
        draft.place = PlaceOfService::Remote;
        draft.telehealth_reason = Some("Member had no bus fare".into());
        records.push(record(new_id(), RecordBody::ContactNote(draft), Vec::new()));

        let plan_id = new_id();
        let mut plan = synthetic::service_plan(member_id, Program::Csp, worker);
        plan.completed_at = Some(at("2026-02-01T15:00:00Z"));
        let before = RecordBody::Plan(plan.clone());
        let member_sig = Attestation::new(
            plan_id,
            AttestationKind::Sign,
            Signer::witnessed("Posy Larkspur", Role::Member, worker),
            at("2026-02-01T16:00:00Z"),
            &before,
        );
        plan.summary = "Focus on housing, primary care and a budget".into();
        let body = RecordBody::Plan(plan);
        let worker_sig = Attestation::new(
            plan_id,
            AttestationKind::Sign,
            Signer::staff(worker, "Wren Hollowell", Role::Worker),
            at("2026-02-02T16:00:00Z"),
            &body,
        );
        records.push(record(plan_id, body, vec![member_sig, worker_sig]));

        let consent = |part2: bool, refused: bool| Consent {
            member_id,
            program: Program::Csp,
            recipient: Contact {
                name: "Harbor Recovery Clinic".into(),
                organization: Some("Harbor Recovery".into()),
                phone: None,
                email: None,
            },
            scope: "Treatment plan, contact notes and attendance".into(),
            purpose: "Coordination of care".into(),
            substance_use_part2: part2,
            refused,
            signed_by: "Posy Larkspur".into(),
            signed_at: at("2026-01-20T15:00:00Z"),
            expires_on: Day::parse("2027-01-20"),
            revoked_at: None,
            recorded_by: supervisor_id,
        };
        let part2_consent = new_id();
        records.push(record(
            part2_consent,
            RecordBody::Consent(consent(true, false)),
            Vec::new(),
        ));
        records.push(record(
            new_id(),
            RecordBody::Consent(consent(false, true)),
            Vec::new(),
        ));
        Fixture {
            member_id,
            records,
            note_id,
            plan_id,
            part2_consent,
        }
    }

    fn export<'a>(f: &'a Fixture, part2: Part2) -> Export<'a> {
        Export {
            member_id: f.member_id,
            records: &f.records,
            part2,
            generated_at: at("2026-04-01T13:00:00Z"),
            generated_by: "Rowan Stillwater",
            agency: "Harborview Community Services",
        }
    }

    fn disclosed(f: &Fixture) -> Part2 {
        Part2::Disclosed {
            consent_id: f.part2_consent,
            recipient: "Harbor Recovery Clinic".into(),
        }
    }

    fn csv_rows(bytes: &[u8]) -> Vec<::csv::StringRecord> {
        let mut r = ::csv::Reader::from_reader(bytes);
        assert_eq!(
            r.headers().expect("a header row"),
            vec![
                "record_id",
                "kind",
                "when",
                "by",
                "title",
                "status",
                "signatures",
                "text"
            ]
        );
        r.records().map(|r| r.expect("a CSV row")).collect()
    }

    fn pdf_text(bytes: &[u8]) -> (usize, String) {
        let doc = lopdf::Document::load_mem(bytes).expect("a PDF lopdf reads");
        let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
        let text = doc.extract_text(&pages).expect("text");
        (
            pages.len(),
            text.split_whitespace().collect::<Vec<_>>().join(" "),
        )
    }

    /// The PDF's text without the page feet, pages joined, whitespace squashed.
    fn pdf_body(bytes: &[u8]) -> String {
        let doc = lopdf::Document::load_mem(bytes).expect("a PDF lopdf reads");
        let mut out = Vec::new();
        for page in doc.get_pages().keys() {
            let text = doc.extract_text(&[*page]).expect("text");
            out.extend(
                text.lines()
                    .filter(|l| {
                        let l = l.trim();
                        !(l == SHORT_NOTICE
                            || (l.starts_with("page ") && l.contains(" of "))
                            || (l.starts_with("Record of ") && l.contains(" · ")))
                    })
                    .map(str::to_string),
            );
        }
        squash(&out.join(" "))
    }

    fn squash(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn csv_has_a_row_per_record_and_keeps_commas_quotes_and_newlines() {
        let f = fixture();
        let rows = csv_rows(&csv(&export(&f, Part2::None)).expect("csv"));
        // The export row, then one row per record.
        assert_eq!(rows.len(), 1 + f.records.len());
        assert_eq!(&rows[0][1], "export");
        assert!(rows[0][7].contains("Rowan Stillwater"));
        assert_eq!(&rows[1][0], f.member_id.to_string());
        assert_eq!(&rows[1][1], "member");
        let note = rows
            .iter()
            .find(|r| r[0] == f.note_id.to_string())
            .expect("the note's row");
        assert_eq!(&note[1], "contact_note");
        assert_eq!(&note[2], "2026-03-02T15:00:00Z");
        assert!(note[3].contains("Wren Hollowell"));
        assert_eq!(&note[5], "finalized");
        assert!(note[6].starts_with("Finalized by Wren Hollowell"));
        assert!(note[7].contains(&format!("Narrative: {NARRATIVE}")));
        let plan = rows
            .iter()
            .find(|r| r[0] == f.plan_id.to_string())
            .expect("the plan's row");
        assert!(plan[6].contains("Worker: signed, current"));
        assert!(plan[6].contains("Member: signed, stale"));
        assert!(plan[6].contains("Supervisor: not signed"));
        // Rows follow the timeline: enrollment (January) before the note (March).
        let kinds: Vec<&str> = rows.iter().map(|r| r.get(1).unwrap_or("")).collect();
        let pos = |k: &str| kinds.iter().position(|x| *x == k).unwrap_or(usize::MAX);
        assert!(pos("enrollment") < pos("contact_note"));
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        let mut f = fixture();
        for r in &mut f.records {
            if let RecordBody::ContactNote(n) = &mut r.body {
                n.narrative = "=HYPERLINK(\"http://example.invalid\")".into();
            }
            if let RecordBody::Member(m) = &mut r.body {
                m.given_name = "@Sable".into();
            }
        }
        let e = Export {
            generated_by: "+Rowan",
            ..export(&f, Part2::None)
        };
        for row in csv_rows(&csv(&e).expect("csv")) {
            for cell in row.iter() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@']),
                    "a cell starts a formula: {cell}"
                );
            }
        }
    }

    #[test]
    fn html_escapes_record_text_and_needs_no_inline_style_or_script() {
        let f = fixture();
        let page = html(&export(&f, Part2::None)).into_string();
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("&lt;script&gt;alert"));
        assert!(page.contains(r#"href="/console/static/console.css""#));
        assert!(!page.contains("<style"));
        assert!(!page.contains("style="));
        assert!(!page.contains("<script"));
        assert!(page.contains("Record of Posy Larkspur"));
        assert!(page.contains("sig-stale"));
        assert!(page.contains("sig-current"));
        assert!(page.contains("sig-missing"));
        // Records in time order: the enrollment, the plan, then the notes.
        let enrollment = page.find("csp enrollment").expect("enrollment");
        let note = page.find("In person contact").expect("note");
        let draft = page.find("Telehealth contact").expect("draft");
        assert!(enrollment < note && note < draft);
    }

    #[test]
    fn pdf_parses_and_carries_the_name_and_the_narrative() {
        let f = fixture();
        let bytes = pdf(&export(&f, Part2::None));
        assert!(bytes.starts_with(b"%PDF-"));
        let (pages, text) = pdf_text(&bytes);
        assert!(pages >= 1);
        assert!(text.contains("Record of Posy Larkspur"));
        assert!(text.contains(&squash(
            "Met at the library, then walked to the \"new\" pharmacy."
        )));
        assert!(text.contains(&format!("page 1 of {pages}")));
    }

    #[test]
    fn pdf_of_a_long_record_runs_over_several_numbered_pages() {
        let mut f = fixture();
        let mut rng = StdRng::seed_from_u64(11);
        for i in 0..6 {
            let note = synthetic::note(
                &mut rng,
                f.member_id,
                Program::Csp,
                new_id(),
                Timestamp::from_millis(at("2026-03-10T15:00:00Z").millis() + i * 86_400_000),
                1_500,
            );
            f.records
                .push(record(new_id(), RecordBody::ContactNote(note), Vec::new()));
        }
        // One word longer than a line is cut, not lost.
        if let Some(RecordBody::ContactNote(n)) = f.records.last_mut().map(|r| &mut r.body) {
            n.narrative.push_str(&" x".repeat(3));
            n.narrative.push_str(&format!(" {}", "w".repeat(400)));
        }
        let bytes = pdf(&export(&f, Part2::None));
        let (pages, text) = pdf_text(&bytes);
        assert!(pages > 1, "{pages} page(s)");
        assert!(text.contains(&format!("page 1 of {pages}")));
        assert!(text.contains(&format!("page {pages} of {pages}")));
        assert!(pdf_body(&bytes).replace(' ', "").contains(&"w".repeat(400)));
    }

    #[test]
    fn pdf_replaces_what_winansi_lacks_and_never_panics() {
        let mut f = fixture();
        for r in &mut f.records {
            match &mut r.body {
                RecordBody::Member(m) => {
                    m.given_name = "Nguyễn".into();
                    m.family_name = "Zoë 李".into();
                }
                RecordBody::ContactNote(n) => {
                    n.narrative = "مرحبا 你好 😀 naïve café – “quoted” \u{0}\u{7}\tend".into();
                }
                _ => {}
            }
        }
        let bytes = pdf(&export(&f, disclosed(&f)));
        let (_, text) = pdf_text(&bytes);
        assert!(text.contains("Nguy?n Zoë ?"));
        assert!(text.contains("naïve café – “quoted”"));
        // The other formats take any text too.
        assert!(csv(&export(&f, Part2::None)).is_ok());
        assert!(
            html(&export(&f, Part2::None))
                .into_string()
                .contains("Nguyễn")
        );
        let b = fhir(&export(&f, Part2::None));
        assert_eq!(b["entry"][0]["resource"]["name"][0]["given"][0], "Nguyễn");
        assert!(!b.to_string().contains("\\u0000"));
    }

    #[test]
    fn pdf_gives_labels_longer_than_a_line_lines_of_their_own() {
        let mut f = fixture();
        let domain = format!("housing {}", "and more ".repeat(200));
        let assessment = NeedsAssessment {
            member_id: f.member_id,
            program: Program::Csp,
            kind: AssessmentKind::Initial,
            assessor: new_id(),
            started_at: at("2026-02-10T15:00:00Z"),
            completed_at: None,
            domains: vec![DomainNeed {
                domain: domain.clone(),
                needs: "A lease in the member's name".into(),
                strengths: String::new(),
                barriers: String::new(),
            }],
            criminogenic_needs: Vec::new(),
            summary: "x".repeat(5_000),
            significant_change: false,
        };
        f.records.push(record(
            new_id(),
            RecordBody::NeedsAssessment(assessment),
            Vec::new(),
        ));
        let text = pdf_body(&pdf(&export(&f, Part2::None)));
        // The label, wrapped over lines of its own, then its value.
        assert!(text.contains(&squash(&format!("Domain: {domain}: Needs: A lease"))));
        assert!(text.replace(' ', "").contains(&"x".repeat(5_000)));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn any_text_renders_in_every_format(
            narrative in "\\PC{0,400}",
            name in "\\PC{0,40}",
            label in proptest::prelude::any::<String>(),
        ) {
            let mut f = fixture();
            for r in &mut f.records {
                match &mut r.body {
                    RecordBody::Member(m) => {
                        m.given_name = name.clone();
                        m.preferred_name = Some(label.clone());
                    }
                    RecordBody::ContactNote(n) => n.narrative = format!("{narrative}\n{label}"),
                    RecordBody::Plan(p) => p.summary = label.as_str().into(),
                    _ => {}
                }
            }
            for part2 in [Part2::None, Part2::Withheld { records: 2 }, disclosed(&f)] {
                let e = Export { generated_by: &label, ..export(&f, part2) };
                let rows = csv_rows(&csv(&e).expect("csv"));
                proptest::prop_assert!(rows.len() > f.records.len());
                let _ = html(&e).into_string();
                let (pages, _) = pdf_text(&pdf(&e));
                proptest::prop_assert!(pages >= 1);
                let b = fhir(&e);
                proptest::prop_assert_eq!(b["entry"][0]["resource"]["resourceType"].as_str(), Some("Patient"));
            }
        }
    }

    #[test]
    fn nothing_to_render_still_renders() {
        let member_id = new_id();
        let e = Export {
            member_id,
            records: &[],
            part2: Part2::Withheld { records: 0 },
            generated_at: at("2026-04-01T13:00:00Z"),
            generated_by: "",
            agency: "",
        };
        assert_eq!(csv_rows(&csv(&e).expect("csv")).len(), 2);
        assert!(html(&e).into_string().contains("No records are included."));
        assert_eq!(pdf_text(&pdf(&e)).0, 1);
        let b = fhir(&e);
        assert_eq!(b["entry"][0]["resource"]["resourceType"], "Patient");
    }

    fn references(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if k == "reference"
                        && let Value::String(s) = v
                    {
                        out.push(s.clone());
                    }
                    references(v, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| references(v, out)),
            _ => {}
        }
    }

    fn resources<'v>(b: &'v Value, kind: &str) -> Vec<&'v Value> {
        b["entry"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| &e["resource"])
                    .filter(|r| r["resourceType"] == kind)
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn fhir_bundle_has_a_resource_per_record_and_every_reference_resolves() {
        let f = fixture();
        let b = fhir(&export(&f, Part2::None));
        assert_eq!(b["resourceType"], "Bundle");
        assert_eq!(b["type"], "collection");
        let count = |k: fn(&RecordBody) -> bool| f.records.iter().filter(|r| k(&r.body)).count();
        let patients = resources(&b, "Patient");
        assert_eq!(patients.len(), 1);
        assert_eq!(
            patients[0]["identifier"][0]["system"],
            "urn:fieldnote:member"
        );
        assert_eq!(
            patients[0]["identifier"][0]["value"],
            f.member_id.to_string()
        );
        assert_eq!(patients[0]["name"][0]["family"], "Larkspur");
        assert_eq!(patients[0]["name"][0]["given"][0], "Posy");
        let encounters = resources(&b, "Encounter");
        assert_eq!(
            encounters.len(),
            count(|b| matches!(b, RecordBody::ContactNote(_)))
        );
        assert_eq!(
            resources(&b, "CarePlan").len(),
            count(|b| matches!(b, RecordBody::Plan(_)))
        );
        assert_eq!(
            resources(&b, "Consent").len(),
            count(|b| matches!(b, RecordBody::Consent(_)))
        );
        assert!(resources(&b, "DocumentReference").is_empty());

        let finalized = encounters
            .iter()
            .find(|e| e["id"] == f.note_id.to_string())
            .expect("the note's encounter");
        assert_eq!(finalized["status"], "finished");
        assert_eq!(finalized["class"]["code"], "FLD");
        assert_eq!(finalized["period"]["start"], "2026-03-02T15:00:00Z");
        assert!(
            finalized["text"]["div"]
                .as_str()
                .unwrap_or("")
                .contains("&lt;script&gt;")
        );
        let draft = encounters
            .iter()
            .find(|e| e["id"] != f.note_id.to_string())
            .expect("the draft's encounter");
        assert_eq!(draft["status"], "in-progress");
        assert_eq!(draft["class"]["code"], "VR");

        let consents = resources(&b, "Consent");
        let statuses: BTreeSet<&str> = consents
            .iter()
            .filter_map(|c| c["status"].as_str())
            .collect();
        assert_eq!(statuses, BTreeSet::from(["active", "rejected"]));
        for c in &consents {
            assert_eq!(c["scope"]["coding"][0]["code"], "patient-privacy");
            assert_eq!(c["category"][0]["coding"][0]["code"], "59284-0");
            assert!(c.get("policy").is_some() || c.get("policyRule").is_some());
        }

        let entries = b["entry"].as_array().expect("entries");
        let full_urls: BTreeSet<&str> = entries
            .iter()
            .filter_map(|e| e["fullUrl"].as_str())
            .collect();
        assert_eq!(full_urls.len(), entries.len(), "fullUrls are unique");
        for e in entries {
            let id = e["resource"]["id"]
                .as_str()
                .expect("every resource has an id");
            assert_eq!(e["fullUrl"], format!("urn:uuid:{id}"));
        }
        let mut refs = Vec::new();
        references(&b, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            assert!(full_urls.contains(r.as_str()), "unresolved reference {r}");
        }
    }

    #[test]
    fn part2_disclosure_carries_the_notice_in_every_format() {
        let f = fixture();
        let e = export(&f, disclosed(&f));
        let first_line = REDISCLOSURE_NOTICE.lines().next().unwrap_or("");

        let rows = csv_rows(&csv(&e).expect("csv"));
        assert_eq!(rows.len(), 2 + f.records.len());
        assert_eq!(&rows[1][1], "part2_notice");
        assert!(rows[1][7].contains(REDISCLOSURE_NOTICE));
        assert!(rows[1][7].contains("Harbor Recovery Clinic"));
        assert!(rows[1][7].contains("Scope of the consent: Treatment plan"));

        let page = html(&e).into_string();
        assert!(page.contains("part2-notice"));
        assert!(page.contains(first_line));
        assert!(page.find(first_line) < page.find("member-title"));

        let (pages, text) = pdf_text(&pdf(&e));
        assert!(text.contains(&squash(first_line)));
        assert_eq!(text.matches(SHORT_NOTICE).count(), pages);

        let b = fhir(&e);
        let labels: Vec<&str> = b["meta"]["security"]
            .as_array()
            .map(|a| a.iter().filter_map(|l| l["code"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(labels, ["42CFRPart2", "NORDSCLCD"]);
        assert_eq!(
            b["meta"]["security"][0]["system"],
            "http://terminology.hl7.org/CodeSystem/v3-ActCode"
        );
        for entry in b["entry"].as_array().expect("entries") {
            assert_eq!(entry["resource"]["meta"]["security"], b["meta"]["security"]);
        }
        let docs = resources(&b, "DocumentReference");
        assert_eq!(docs.len(), 1);
        let data = docs[0]["content"][0]["attachment"]["data"]
            .as_str()
            .unwrap_or("");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64");
        assert!(String::from_utf8_lossy(&decoded).contains(REDISCLOSURE_NOTICE));
        assert_eq!(
            docs[0]["context"]["related"][0]["reference"],
            format!("urn:uuid:{}", f.part2_consent)
        );
    }

    #[test]
    fn part2_withheld_states_the_count_in_every_format() {
        let f = fixture();
        let e = export(&f, Part2::Withheld { records: 3 });
        let says = "3 records are not included in this export";

        let rows = csv_rows(&csv(&e).expect("csv"));
        assert_eq!(rows.len(), 2 + f.records.len());
        assert_eq!(&rows[1][1], "withheld");
        assert!(rows[1][7].contains(says));

        let page = html(&e).into_string();
        assert!(page.contains(says));
        assert!(!page.contains(first_words(REDISCLOSURE_NOTICE)));

        let (_, text) = pdf_text(&pdf(&e));
        assert!(text.contains(says));
        assert!(!text.contains(SHORT_NOTICE));

        let b = fhir(&e);
        assert!(b["meta"].get("security").is_none());
        let docs = resources(&b, "DocumentReference");
        assert_eq!(docs.len(), 1);
        assert!(docs[0]["text"]["div"].as_str().unwrap_or("").contains(says));
        // The statement names neither substance use nor Part 2.
        let statement = withheld_text(3).to_lowercase();
        assert!(!statement.contains("substance") && !statement.contains("part 2"));
        assert!(withheld_text(1).starts_with("1 record is"));
    }

    fn first_words(s: &str) -> &str {
        s.get(..40).unwrap_or(s)
    }
}
