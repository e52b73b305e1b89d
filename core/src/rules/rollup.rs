//! The supervisor roll-up: per worker and per team, obligations due this week and overdue,
//! CSP-JI case-rate status, and staff obligations. A pure aggregation over evaluated
//! obligations, so that the server (which holds every worker's synced records) and any other
//! host compute it the same way.

use std::collections::BTreeMap;

use chrono::{Datelike, Days};
use serde::{Deserialize, Serialize};

use super::calendar::{end_of_day, local_day};
use super::{Obligation, Status};
use crate::model::{RecordId, StaffId, Timestamp};

/// One member's evaluated obligations, with whom the member is assigned to.
#[derive(Clone, Debug)]
pub struct MemberObligations {
    /// The member.
    pub member_id: RecordId,
    /// The assigned worker.
    pub worker: StaffId,
    /// The worker's team.
    pub team: RecordId,
    /// Every obligation of the member.
    pub obligations: Vec<Obligation>,
}

/// One worker's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRollup {
    /// The worker.
    pub worker: StaffId,
    /// Members assigned.
    pub members: usize,
    /// Open obligations whose deadline falls before the end of this week (Sunday).
    pub due_this_week: usize,
    /// Overdue obligations.
    pub overdue: usize,
    /// CSP-JI members whose 30-day case rate is met.
    pub case_rate_met: usize,
    /// CSP-JI members whose 30-day case rate is not met.
    pub case_rate_unmet: usize,
    /// The worker's own staff obligations that are open (supervision, consultation, training).
    pub staff_open: Vec<Obligation>,
}

/// One team's workers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRollup {
    /// The team.
    pub team: RecordId,
    /// Its workers, most overdue first.
    pub workers: Vec<WorkerRollup>,
    /// Overdue obligations across the team.
    pub overdue: usize,
    /// Open obligations due this week across the team.
    pub due_this_week: usize,
}

/// Aggregates evaluated obligations into team and worker figures as of `now`. `staff` holds
/// each worker's staff obligations (from [`super::staff::evaluate_staff`]).
pub fn rollup(
    members: &[MemberObligations],
    staff: &BTreeMap<StaffId, Vec<Obligation>>,
    now: Timestamp,
) -> Vec<TeamRollup> {
    let today = local_day(now);
    let sunday = today + Days::new(u64::from(6 - today.weekday().num_days_from_monday()));
    let week_end = end_of_day(sunday);
    let mut teams: BTreeMap<RecordId, BTreeMap<StaffId, WorkerRollup>> = BTreeMap::new();
    for m in members {
        let w = teams
            .entry(m.team)
            .or_default()
            .entry(m.worker)
            .or_insert_with(|| WorkerRollup {
                worker: m.worker,
                staff_open: staff
                    .get(&m.worker)
                    .map(|obs| obs.iter().filter(|o| o.open()).cloned().collect())
                    .unwrap_or_default(),
                ..WorkerRollup::default()
            });
        w.members += 1;
        for o in &m.obligations {
            match o.status {
                Status::Overdue => w.overdue += 1,
                Status::Due | Status::AtRisk if o.due.is_some_and(|d| d <= week_end) => {
                    w.due_this_week += 1
                }
                _ => {}
            }
            if o.rule_id == "JI-1" {
                if o.status == Status::Satisfied {
                    w.case_rate_met += 1;
                } else {
                    w.case_rate_unmet += 1;
                }
            }
        }
    }
    teams
        .into_iter()
        .map(|(team, workers)| {
            let mut workers: Vec<WorkerRollup> = workers.into_values().collect();
            workers.sort_by_key(|w| std::cmp::Reverse((w.overdue, w.due_this_week)));
            TeamRollup {
                team,
                overdue: workers.iter().map(|w| w.overdue).sum(),
                due_this_week: workers.iter().map(|w| w.due_this_week).sum(),
                workers,
            }
        })
        .collect()
}
