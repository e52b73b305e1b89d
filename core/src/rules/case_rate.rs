//! The CSP-JI case rate (JI-1): in the rolling 30 days up to now, at least 4 connections or
//! instances of case-related work, of which at least 1 is a connection with the member. A
//! contact counts as a connection only when the member was engaged and responsive, for every
//! modality; collateral contacts and case-related work without the member count as
//! case-related work.

use serde::{Deserialize, Serialize};

use super::records::MemberRecords;
use crate::model::{Modality, Program, Timestamp};

const WINDOW_MS: i64 = 30 * 86_400_000;

/// The case rate as it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRate {
    /// Connections with the member in the window.
    pub connections: u32,
    /// Case-related work (collateral contacts, work without the member) in the window.
    pub case_work: u32,
    /// More of either still needed.
    pub needed: u32,
    /// Whether at least one of those must be a connection.
    pub connection_needed: bool,
    /// When the oldest counted contact leaves the window (what must be replaced by then).
    pub oldest_expires: Option<Timestamp>,
}

impl CaseRate {
    /// Whether the requirement is met today.
    pub fn met(&self) -> bool {
        self.needed == 0 && !self.connection_needed
    }

    /// A sentence for the worker.
    pub fn describe(&self) -> String {
        let have = format!(
            "{} connection(s), {} case-related work in the last 30 days",
            self.connections, self.case_work
        );
        if self.met() {
            return have;
        }
        let mut need = format!(
            "{have}; {} more needed",
            self.needed.max(u32::from(self.connection_needed))
        );
        if self.connection_needed {
            need.push_str(", at least 1 a connection with the member");
        }
        need
    }
}

/// The CSP-JI case rate of a member as of `now`.
pub fn case_rate(records: &MemberRecords, now: Timestamp) -> CaseRate {
    let from = now.millis() - WINDOW_MS;
    let mut connections = 0;
    let mut case_work = 0;
    let mut oldest: Option<Timestamp> = None;
    for n in records.notes_of(Program::CspJi) {
        if n.started_at.millis() <= from || n.started_at > now {
            continue;
        }
        let counted = if n.modality.with_member() {
            if n.member_engaged {
                connections += 1;
                true
            } else {
                false
            }
        } else {
            matches!(n.modality, Modality::Collateral | Modality::CaseRelatedWork) && {
                case_work += 1;
                true
            }
        };
        if counted {
            oldest = Some(oldest.map_or(n.started_at, |o| o.min(n.started_at)));
        }
    }
    CaseRate {
        connections,
        case_work,
        needed: 4u32.saturating_sub(connections + case_work),
        connection_needed: connections == 0,
        oldest_expires: oldest.map(|o| Timestamp::from_millis(o.millis() + WINDOW_MS)),
    }
}
