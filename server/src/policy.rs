//! The one place that decides who may do what. Every route asks [`allowed`]; the sync feed
//! asks [`sync_scopes`] what a device receives and [`allowed`] with [`Action::WriteScope`]
//! for every change it accepts.
//!
//! The rules:
//! - a field worker reads and writes the members assigned to them, and their own staff
//!   records;
//! - a supervisor, everything of their team;
//! - a program director, everything of their agency's teams;
//! - an administrator manages teams, users, devices, escalation ladders and the audit log,
//!   and reads no PHI by
//!   role alone (caseload moves are a supervisor's or director's call).

use fieldnote_protocol::ServerRole;

use crate::auth::Principal;
use crate::db::Tx;
use crate::error::Result;
use crate::params;

/// Who a scope (a member, or a staff member's own records) belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The team.
    pub team_id: String,
    /// The agency of that team.
    pub agency_id: String,
    /// The assigned worker (user id), or the staff member for staff records.
    pub user_id: String,
}

/// Something a principal wants to do.
#[derive(Clone, Debug)]
pub enum Action<'a> {
    /// Sync a device (receive their scopes, upload changes).
    Sync,
    /// Read or write records in a scope owned by `Owner`.
    WriteScope(&'a Owner),
    /// Create a member (assigned to the creator).
    CreateMember,
    /// See a team's roll-up and members.
    ReadTeam {
        /// The team.
        team_id: &'a str,
        /// Its agency.
        agency_id: &'a str,
    },
    /// Move a member from one worker to another.
    Reassign {
        /// Current owner.
        from: &'a Owner,
        /// New owner.
        to: &'a Owner,
    },
    /// Create teams and users, disable users.
    ManageUsers,
    /// Revoke a device of a user in `owner`'s team.
    RevokeDevice(&'a Owner),
    /// Read and verify the audit log.
    ReadAudit,
    /// Read or change a team's safety settings (grace period, fallback, ladder).
    ConfigureSafety {
        /// The team.
        team_id: &'a str,
        /// Its agency.
        agency_id: &'a str,
    },
}

/// Whether `p` may do `action`.
pub fn allowed(p: &Principal, p_agency: Option<&str>, action: &Action<'_>) -> bool {
    use ServerRole::*;
    let same_team = |team: &str| p.team_id.as_deref() == Some(team);
    let same_agency = |agency: &str| p_agency == Some(agency);
    match action {
        Action::Sync => true,
        Action::WriteScope(o) => match p.role {
            Worker => o.user_id == p.user_id,
            Supervisor => same_team(&o.team_id),
            ProgramDirector => same_agency(&o.agency_id),
            Administrator => false,
        },
        Action::CreateMember => matches!(p.role, Worker | Supervisor),
        Action::ReadTeam { team_id, agency_id } => match p.role {
            Worker | Administrator => false,
            Supervisor => same_team(team_id),
            ProgramDirector => same_agency(agency_id),
        },
        // Administrators manage accounts, never caseloads: moving a member would tell
        // them who the member is with.
        Action::Reassign { from, to } => match p.role {
            Worker | Administrator => false,
            Supervisor => same_team(&from.team_id) && same_team(&to.team_id),
            ProgramDirector => same_agency(&from.agency_id) && same_agency(&to.agency_id),
        },
        Action::ManageUsers | Action::ReadAudit => p.role == Administrator,
        Action::ConfigureSafety { team_id, agency_id } => match p.role {
            Worker => false,
            Supervisor => same_team(team_id),
            ProgramDirector => same_agency(agency_id),
            Administrator => true,
        },
        Action::RevokeDevice(o) => match p.role {
            Worker => o.user_id == p.user_id,
            Supervisor => same_team(&o.team_id),
            ProgramDirector => same_agency(&o.agency_id),
            Administrator => true,
        },
    }
}

/// The agency of a principal's team.
pub fn agency_of(tx: &mut dyn Tx, p: &Principal) -> Result<Option<String>> {
    match &p.team_id {
        Some(team) => team_agency(tx, team),
        None => Ok(None),
    }
}

/// The agency of a team, if the team exists.
pub fn team_agency(tx: &mut dyn Tx, team: &str) -> Result<Option<String>> {
    Ok(tx
        .query_opt("SELECT agency_id FROM teams WHERE id = $1", params![team])?
        .map(|r| r[0].text()))
}

/// The scope key of a staff member's own records.
pub fn staff_scope(staff_id: &str) -> String {
    format!("staff:{staff_id}")
}

/// Who owns a scope, if anyone.
pub fn owner_of(tx: &mut dyn Tx, scope: &str) -> Result<Option<Owner>> {
    let row = if let Some(staff) = scope.strip_prefix("staff:") {
        tx.query_opt(
            "SELECT u.team_id, t.agency_id, u.id FROM users u JOIN teams t ON t.id = u.team_id
             WHERE u.staff_id = $1",
            params![staff],
        )?
    } else {
        tx.query_opt(
            "SELECT a.team_id, t.agency_id, a.worker_id FROM assignments a
             JOIN teams t ON t.id = a.team_id WHERE a.member_id = $1",
            params![scope],
        )?
    };
    Ok(row.map(|r| Owner {
        team_id: r[0].text(),
        agency_id: r[1].text(),
        user_id: r[2].text(),
    }))
}

/// Every scope a device of `p` holds: their caseload (worker), their team (supervisor), their
/// agency (director), nothing (administrator).
pub fn sync_scopes(tx: &mut dyn Tx, p: &Principal, agency: Option<&str>) -> Result<Vec<String>> {
    let (members, staff) = match p.role {
        ServerRole::Worker => (
            tx.query(
                "SELECT member_id FROM assignments WHERE worker_id = $1 ORDER BY member_id",
                params![&p.user_id],
            )?,
            vec![vec![p.staff_id.clone().into()]],
        ),
        ServerRole::Supervisor => {
            let team = p.team_id.clone().unwrap_or_default();
            (
                tx.query(
                    "SELECT member_id FROM assignments WHERE team_id = $1 ORDER BY member_id",
                    params![&team],
                )?,
                tx.query(
                    "SELECT staff_id FROM users WHERE team_id = $1 ORDER BY staff_id",
                    params![&team],
                )?,
            )
        }
        ServerRole::ProgramDirector => {
            let agency = agency.unwrap_or_default().to_string();
            (
                tx.query(
                    "SELECT a.member_id FROM assignments a JOIN teams t ON t.id = a.team_id
                     WHERE t.agency_id = $1 ORDER BY a.member_id",
                    params![&agency],
                )?,
                tx.query(
                    "SELECT u.staff_id FROM users u JOIN teams t ON t.id = u.team_id
                     WHERE t.agency_id = $1 ORDER BY u.staff_id",
                    params![&agency],
                )?,
            )
        }
        ServerRole::Administrator => (Vec::new(), Vec::new()),
    };
    let mut out: Vec<String> = members.into_iter().map(|r| r[0].text()).collect();
    out.extend(staff.into_iter().map(|r| staff_scope(&r[0].text())));
    Ok(out)
}
