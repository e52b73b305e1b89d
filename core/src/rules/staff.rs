//! Staff obligations, evaluated per staff member: weekly individual supervision (TM-10,
//! CARES-11), consultation answered in time (TM-11 within 1 hour, CARES-10 within 1 business
//! day), and required initial training within 3 months of starting (CARES-12).

use super::Obligation;
use super::calendar::start_of_day;
use super::clock::{Clock, status};
use crate::error::Result;
use crate::model::*;
use crate::store::Store;

/// Staff rule ids, with their words and citations.
pub const STAFF_RULES: &[(&str, Program, &str, &str)] = &[
    (
        "TM-10",
        Program::Tm,
        "weekly individual supervision of each mentor",
        "TM Staffing 3",
    ),
    (
        "TM-11",
        Program::Tm,
        "senior licensed clinician consultation within 1 hour",
        "TM Staffing 4",
    ),
    (
        "CARES-10",
        Program::Cares,
        "senior medical professional consultation within 1 business day",
        "CARES IV.A.2",
    ),
    (
        "CARES-11",
        Program::Cares,
        "weekly individual supervision of care coordinators",
        "CARES IV.B.2.b.5",
    ),
    (
        "CARES-12",
        Program::Cares,
        "required initial training within 3 months of employment",
        "CARES V.A, V.B",
    ),
];

fn obligation(
    id: &str,
    trigger: Option<Timestamp>,
    done: Option<Timestamp>,
    clock: Clock,
    now: Timestamp,
) -> Obligation {
    let (_, program, words, citation) = STAFF_RULES
        .iter()
        .find(|r| r.0 == id)
        .copied()
        .unwrap_or(("", Program::Tm, "", ""));
    Obligation {
        rule_id: id.into(),
        program,
        obligation: words.into(),
        satisfied_by: "staff record".into(),
        citation: citation.into(),
        trigger,
        due: trigger.map(|t| clock.deadline(t)),
        status: status(clock, trigger, done, now),
        detail: None,
    }
}

/// The staff obligations of `staff_id` in `programs`, as of `now`.
pub fn evaluate_staff(
    store: &Store,
    staff_id: StaffId,
    programs: &[Program],
    now: Timestamp,
) -> Result<Vec<Obligation>> {
    let mut supervision = Vec::new();
    let mut consultations = Vec::new();
    let mut training = Vec::new();
    for kind in [
        RecordKind::Supervision,
        RecordKind::Consultation,
        RecordKind::Training,
    ] {
        for id in store.ids_of_kind(kind)? {
            match store.get(id)?.body {
                RecordBody::Supervision(s) if s.staff_id == staff_id && s.individual => {
                    supervision.push(s)
                }
                RecordBody::Consultation(c) if c.requested_by == staff_id => consultations.push(c),
                RecordBody::Training(t) if t.staff_id == staff_id => training.push(t),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for (id, program, ..) in STAFF_RULES {
        if !programs.contains(program) {
            continue;
        }
        match *id {
            "TM-10" | "CARES-11" => {
                // Every week from the first the records know of (the first supervision, or
                // the start of employment on a training record), so a missed week stays
                // visible as missed; with neither, this week.
                let held: Vec<Timestamp> = supervision
                    .iter()
                    .filter(|s| s.program == *program)
                    .map(|s| s.held_at)
                    .collect();
                let started = training
                    .iter()
                    .filter(|t| t.program == *program)
                    .map(|t| start_of_day(t.employment_started_on.0));
                let start = held
                    .iter()
                    .copied()
                    .chain(started)
                    .min()
                    .unwrap_or(now)
                    .min(now);
                for w in super::catalog::weekly(start, now, &held) {
                    out.push(obligation(
                        id,
                        w.trigger,
                        w.satisfied_at,
                        Clock::Weekly,
                        now,
                    ));
                }
            }
            "TM-11" | "CARES-10" => {
                let (kind, clock) = if *id == "TM-11" {
                    (ConsultantKind::SeniorClinician, Clock::Hours(1))
                } else {
                    (
                        ConsultantKind::SeniorMedicalProfessional,
                        Clock::BusinessDays(1),
                    )
                };
                for c in consultations
                    .iter()
                    .filter(|c| c.consultant_kind == kind && c.program == *program)
                {
                    out.push(obligation(
                        id,
                        Some(c.requested_at),
                        c.responded_at,
                        clock,
                        now,
                    ));
                }
            }
            _ => {
                for t in training
                    .iter()
                    .filter(|t| t.required_initial && t.program == *program)
                {
                    // "by December 31, 2023, or within three months of employment, whichever
                    // comes later".
                    let start = start_of_day(t.employment_started_on.0);
                    let done = t.completed_on.map(|d| start_of_day(d.0));
                    let floor = chrono::NaiveDate::from_ymd_opt(2023, 12, 31).map(start_of_day);
                    match floor {
                        Some(f)
                            if Clock::Months(3).deadline(start) < Clock::Days(0).deadline(f) =>
                        {
                            out.push(obligation(id, Some(f), done, Clock::Days(0), now))
                        }
                        _ => out.push(obligation(id, Some(start), done, Clock::Months(3), now)),
                    }
                }
            }
        }
    }
    out.sort_by_key(Obligation::urgency);
    Ok(out)
}
