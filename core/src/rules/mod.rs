//! Program rules: what is due, at risk and overdue, per member, offline. Every obligation of
//! `RULES.md` is an entry of [`catalog::RULES`] (data plus one small function), evaluated
//! from the member's local records with the calendar and clock semantics of `RULES.md`.
//! Extensions and waivers are records ([`crate::model::ObligationOverride`]) with who and why.

pub mod calendar;
pub mod case_rate;
pub mod catalog;
pub mod clock;
pub mod records;
pub mod rollup;
pub mod staff;

use serde::{Deserialize, Serialize};

pub use case_rate::{CaseRate, case_rate};
pub use clock::{Clock, Status, status};
pub use records::MemberRecords;

use crate::error::Result;
use crate::model::{OverrideKind, Program, RecordId, Timestamp};
use crate::store::Store;

/// One obligation of one member (or staff member), as it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Obligation {
    /// The rule id in `RULES.md`.
    pub rule_id: String,
    /// The program.
    pub program: Program,
    /// The obligation in the table's words.
    pub obligation: String,
    /// What satisfies it.
    pub satisfied_by: String,
    /// The specification section.
    pub citation: String,
    /// When the clock started.
    pub trigger: Option<Timestamp>,
    /// The deadline (`None` for obligations open until documented).
    pub due: Option<Timestamp>,
    /// Where it stands.
    pub status: Status,
    /// More for the worker (the case rate, what is missing).
    pub detail: Option<String>,
}

impl Obligation {
    /// Sort key: overdue first, then at risk, due, extended; sooner deadlines first.
    pub fn urgency(&self) -> (u8, i64) {
        let rank = match self.status {
            Status::Overdue => 0,
            Status::AtRisk => 1,
            Status::Due => 2,
            Status::Extended { .. } => 3,
            Status::NotYetDue => 4,
            Status::SatisfiedLate => 5,
            Status::Satisfied => 6,
            Status::Waived { .. } => 7,
            Status::NotApplicable => 8,
        };
        (rank, self.due.map_or(i64::MAX, |d| d.millis()))
    }

    /// Whether it needs the worker's attention (overdue, at risk or due).
    pub fn open(&self) -> bool {
        matches!(self.status, Status::Overdue | Status::AtRisk | Status::Due)
    }
}

/// Every obligation of a member's enrollments (discharged enrollments included: their
/// discharge duties), most urgent first.
pub fn evaluate_member(records: &MemberRecords, now: Timestamp) -> Vec<Obligation> {
    let mut out = Vec::new();
    for (enrollment_id, enrollment) in &records.enrollments {
        let ctx = catalog::Ctx {
            records,
            enrollment_id: *enrollment_id,
            enrollment,
            now,
        };
        for rule in catalog::RULES
            .iter()
            .filter(|r| catalog::applies(r, enrollment))
        {
            for w in (rule.eval)(&ctx) {
                let (status, due) = window_status(records, rule.id, enrollment.program, &w, now);
                out.push(Obligation {
                    rule_id: rule.id.into(),
                    program: enrollment.program,
                    obligation: rule.obligation.into(),
                    satisfied_by: rule.satisfied_by.into(),
                    citation: rule.citation.into(),
                    trigger: w.trigger,
                    due,
                    status,
                    detail: w.detail.clone(),
                });
            }
        }
    }
    out.sort_by_key(Obligation::urgency);
    out
}

fn window_status(
    records: &MemberRecords,
    rule_id: &str,
    program: Program,
    w: &catalog::Window,
    now: Timestamp,
) -> (Status, Option<Timestamp>) {
    let recorded = records
        .overrides
        .iter()
        .filter(|o| o.rule_id == rule_id && o.program == program)
        .filter(|o| catalog::allows_override(&o.rule_id, o.kind))
        .max_by_key(|o| o.recorded_at);
    if let Some(o) = recorded
        && o.kind == OverrideKind::Waiver
    {
        return (
            Status::Waived {
                by: o.by,
                reason: o.reason.clone(),
            },
            None,
        );
    }
    if let Some(decided) = &w.decided {
        let due = match (&w.extension, w.trigger, w.clock) {
            (Some((_, until)), _, _) => Some(*until),
            (None, Some(t), Some(clock)) => Some(clock.deadline(t)),
            _ => None,
        };
        return (decided.clone(), due);
    }
    let Some(clock) = w.clock else {
        let status = match (w.trigger, w.satisfied_at) {
            (None, _) => Status::NotYetDue,
            (Some(_), Some(_)) => Status::Satisfied,
            (Some(_), None) => Status::Due,
        };
        return (status, None);
    };
    let due = w.trigger.map(|t| clock.deadline(t));
    let extension = recorded
        .and_then(|o| {
            o.until
                .map(|u| (o.reason.clone(), calendar::end_of_day(u.0)))
        })
        .or_else(|| w.extension.clone());
    if let (Some(due_at), Some((reason, until))) = (due, extension)
        && until > due_at
    {
        return match w.satisfied_at {
            Some(done) if done <= until => (Status::Satisfied, Some(until)),
            Some(_) => (Status::SatisfiedLate, Some(until)),
            None if now <= until => (
                Status::Extended {
                    reason,
                    next_check: until,
                },
                Some(until),
            ),
            None => (Status::Overdue, Some(until)),
        };
    }
    (status(clock, w.trigger, w.satisfied_at, now), due)
}

/// One member on the today view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodayEntry {
    /// The member.
    pub member_id: RecordId,
    /// Name to show.
    pub display_name: String,
    /// Open obligations (overdue, at risk, due), most urgent first.
    pub open: Vec<Obligation>,
}

/// Every obligation of one member at `now`, satisfied ones included, most urgent first: a
/// member's compliance list. Refused with [`crate::Error::NotFound`] for a member not on the
/// device.
pub fn member_obligations(
    store: &Store,
    member: RecordId,
    now: Timestamp,
) -> Result<Vec<Obligation>> {
    Ok(evaluate_member(&MemberRecords::load(store, member)?, now))
}

/// The worker's caseload ordered by urgency: members with overdue obligations first, then at
/// risk, then due, each by nearest deadline. Members with nothing open come last.
pub fn today(store: &Store, now: Timestamp) -> Result<Vec<TodayEntry>> {
    let mut out = Vec::new();
    for c in store.caseload()? {
        let records = MemberRecords::load(store, c.member_id)?;
        let open = evaluate_member(&records, now)
            .into_iter()
            .filter(Obligation::open)
            .collect();
        out.push(TodayEntry {
            member_id: c.member_id,
            display_name: c.display_name,
            open,
        });
    }
    out.sort_by_key(|e| {
        e.open
            .first()
            .map_or((u8::MAX, i64::MAX), Obligation::urgency)
    });
    Ok(out)
}
