//! Administration over HTTP: teams, users, devices, caseload assignment and the audit log.
//! Every handler asks the policy module first and writes an audit entry for what it does.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use fieldnote_protocol::ServerRole;
use serde::{Deserialize, Serialize};

use crate::app::{AppState, Authed, IdPath, blocking, now_ms, parse_body, path_id};
use crate::auth::{self, Principal};
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::policy::{self, Action};
use crate::{audit, params, sync};

fn record(tx: &mut dyn Tx, p: &Principal, action: &str, target: &str) -> Result<()> {
    audit::record(tx, p, action, target, "{}").map(|_| ())
}

fn require(p: &Principal, agency: Option<&str>, action: &Action<'_>) -> Result<()> {
    if policy::allowed(p, agency, action) {
        Ok(())
    } else {
        Err(Error::Forbidden("your role does not allow this".into()))
    }
}

/// Refuses, as "not found", a team the caller may not read (supervisors their own team,
/// directors their agency's).
pub fn require_team_read(tx: &mut dyn Tx, p: &Principal, team: &str) -> Result<()> {
    let agency = policy::agency_of(tx, p)?;
    let team_agency =
        policy::team_agency(tx, team)?.ok_or_else(|| Error::NotFound("no such team".into()))?;
    let action = Action::ReadTeam {
        team_id: team,
        agency_id: &team_agency,
    };
    if policy::allowed(p, agency.as_deref(), &action) {
        Ok(())
    } else {
        Err(Error::NotFound("no such team".into()))
    }
}

/// Body of `POST /v1/members/{id}/assign`.
#[derive(Deserialize)]
struct AssignRequest {
    worker_id: String,
}

/// Moves a member to another worker. The old worker's device is told to purge the member's
/// records at its next sync; the new worker's device receives them.
pub async fn assign(
    State(state): State<AppState>,
    Authed(p): Authed,
    path: Path<IdPath>,
    body: axum::body::Bytes,
) -> Result<StatusCode> {
    let member = path_id(path)?;
    let req: AssignRequest = parse_body(&body)?;
    blocking(&state, move |db| {
        db.tx(|tx| {
            let agency = policy::agency_of(tx, &p)?;
            // Members outside the caller's reach are not acknowledged to exist: the
            // caller's reach over the member is settled before the new worker is looked
            // at, so no answer differs between an unknown member and another team's.
            let hidden = || Error::NotFound("no such member".into());
            let from = policy::owner_of(tx, &member)?.ok_or_else(hidden)?;
            let may_move_from = Action::Reassign {
                from: &from,
                to: &from,
            };
            if !policy::allowed(&p, agency.as_deref(), &may_move_from) {
                return Err(hidden());
            }
            let to = sync::owner_for_worker(tx, &req.worker_id)?
                .ok_or_else(|| Error::invalid("worker_id", "no such active worker"))?;
            if !policy::allowed(
                &p,
                agency.as_deref(),
                &Action::Reassign {
                    from: &from,
                    to: &to,
                },
            ) {
                return Err(Error::invalid(
                    "worker_id",
                    "not a worker you may assign this member to",
                ));
            }
            tx.exec(
                "UPDATE assignments SET worker_id = $1, team_id = $2, assigned_at = $3
                 WHERE member_id = $4",
                params![&to.user_id, &to.team_id, now_ms(), &member],
            )?;
            record(tx, &p, "member.assign", &member)
        })
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One member of a team's caseload.
#[derive(Serialize, Deserialize)]
pub struct TeamMember {
    /// The member.
    pub member_id: String,
    /// The assigned worker (user id).
    pub worker_id: String,
}

/// The members of a team and their workers (ids only).
pub async fn team_members(
    State(state): State<AppState>,
    Authed(p): Authed,
    path: Path<IdPath>,
) -> Result<Json<Vec<TeamMember>>> {
    let team = path_id(path)?;
    let out = blocking(&state, move |db| {
        db.tx(|tx| {
            require_team_read(tx, &p, &team)?;
            let rows = tx.query(
                "SELECT member_id, worker_id FROM assignments WHERE team_id = $1
                 ORDER BY member_id",
                params![&team],
            )?;
            record(tx, &p, "team.read", &team)?;
            Ok(rows
                .into_iter()
                .map(|r| TeamMember {
                    member_id: r[0].text(),
                    worker_id: r[1].text(),
                })
                .collect())
        })
    })
    .await?;
    Ok(Json(out))
}

/// A user as administrators see them.
#[derive(Serialize)]
pub struct UserView {
    id: String,
    username: String,
    display_name: String,
    role: String,
    team_id: Option<String>,
    staff_id: String,
    disabled: bool,
}

/// Every user.
pub async fn list_users(
    State(state): State<AppState>,
    Authed(p): Authed,
) -> Result<Json<Vec<UserView>>> {
    let out = blocking(&state, move |db| {
        db.tx(|tx| {
            require(&p, None, &Action::ManageUsers)?;
            Ok(tx
                .query(
                    "SELECT id, username, display_name, role, team_id, staff_id, disabled
                     FROM users ORDER BY username",
                    params![],
                )?
                .into_iter()
                .map(|r| UserView {
                    id: r[0].text(),
                    username: r[1].text(),
                    display_name: r[2].text(),
                    role: r[3].text(),
                    team_id: r[4].opt_text(),
                    staff_id: r[5].text(),
                    disabled: r[6].int() != 0,
                })
                .collect())
        })
    })
    .await?;
    Ok(Json(out))
}

/// Body of `POST /v1/admin/users`.
#[derive(Clone, Debug, Deserialize)]
pub struct NewUser {
    /// Sign-in name.
    pub username: String,
    /// Name shown and used in signatures.
    pub display_name: String,
    /// Role.
    pub role: ServerRole,
    /// Team (required except for administrators).
    pub team_id: Option<String>,
    /// Initial password (12 characters or more).
    pub password: String,
    /// A phone number the people answering the user's alarms can call (7 to 15 digits,
    /// with `+`, spaces, dots, dashes or parentheses).
    #[serde(default)]
    pub phone: Option<String>,
}

/// A phone number as stored: trimmed, `None` when empty; refused unless it holds 7 to 15
/// digits and nothing but digits, `+`, spaces, dots, dashes and parentheses.
pub fn check_phone(phone: Option<&str>) -> Result<Option<String>> {
    let Some(p) = phone.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let digits = p.chars().filter(char::is_ascii_digit).count();
    let allowed = p
        .chars()
        .all(|c| c.is_ascii_digit() || " +-.()".contains(c));
    if !allowed || !(7..=15).contains(&digits) || p.len() > 32 {
        return Err(Error::invalid(
            "phone",
            "must be 7 to 15 digits, with only +, spaces, dots, dashes or parentheses",
        ));
    }
    Ok(Some(p.to_string()))
}

/// The created user's ids.
#[derive(Serialize, Deserialize)]
pub struct Created {
    /// The new id.
    pub id: String,
    /// For users: their staff id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_id: Option<String>,
}

/// Checks and stores a new user (the password is hashed by the caller's thread).
pub fn insert_user(tx: &mut dyn Tx, u: &NewUser, password_hash: &str) -> Result<Created> {
    let username = Error::plain_text("username", &u.username, 64)?;
    if username.contains(char::is_whitespace) {
        return Err(Error::invalid(
            "username",
            "must be 1 to 64 characters without spaces",
        ));
    }
    let display_name = Error::plain_text("display_name", &u.display_name, 200)?;
    let phone = check_phone(u.phone.as_deref())?;
    if u.role != ServerRole::Administrator && u.team_id.is_none() {
        return Err(Error::invalid("team_id", "is required for this role"));
    }
    if let Some(team) = &u.team_id
        && tx
            .query_opt("SELECT 1 FROM teams WHERE id = $1", params![team])?
            .is_none()
    {
        return Err(Error::invalid("team_id", "no such team"));
    }
    if tx
        .query_opt("SELECT 1 FROM users WHERE username = $1", params![username])?
        .is_some()
    {
        return Err(Error::invalid("username", "is already taken"));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let staff_id = uuid::Uuid::now_v7().to_string();
    tx.exec(
        "INSERT INTO users (id, username, display_name, role, team_id, staff_id, password_hash,
             disabled, created_at, phone)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9)",
        params![
            &id,
            username,
            display_name,
            u.role.as_str(),
            u.team_id.clone(),
            &staff_id,
            password_hash,
            now_ms(),
            phone
        ],
    )?;
    Ok(Created {
        id,
        staff_id: Some(staff_id),
    })
}

/// Creates a user.
pub async fn create_user(
    State(state): State<AppState>,
    Authed(p): Authed,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Created>)> {
    if !policy::allowed(&p, None, &Action::ManageUsers) {
        return Err(Error::Forbidden("your role does not allow this".into()));
    }
    let req: NewUser = parse_body(&body)?;
    auth::check_password_strength(&req.password)?;
    let password = req.password.clone();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
    let created = blocking(&state, move |db| {
        db.tx(|tx| {
            let c = insert_user(tx, &req, &hash)?;
            record(tx, &p, "user.create", &c.id)?;
            Ok(c)
        })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Disables a user (sign-in refused, tokens revoked), for administrators; audited.
pub fn disable(tx: &mut dyn Tx, p: &Principal, user: &str) -> Result<()> {
    require(p, None, &Action::ManageUsers)?;
    // The agency must never be left without anyone who can administer it.
    let admins = tx.query(
        "SELECT id FROM users WHERE role = 'administrator' AND disabled = 0",
        params![],
    )?;
    if admins.len() == 1 && admins[0][0].text() == user {
        return Err(Error::Conflict(
            "this is the only administrator: create another before disabling it".into(),
        ));
    }
    if !auth::disable_user(tx, user)? {
        return Err(Error::NotFound("no such user".into()));
    }
    record(tx, p, "user.disable", user)
}

/// Records (or, with an empty `phone`, clears) the number the people answering a user's
/// alarms call; for administrators; audited without the number.
pub fn set_phone(tx: &mut dyn Tx, p: &Principal, user: &str, phone: &str) -> Result<()> {
    require(p, None, &Action::ManageUsers)?;
    let phone = check_phone(Some(phone))?;
    if tx.exec(
        "UPDATE users SET phone = $1 WHERE id = $2",
        params![phone, user],
    )? == 0
    {
        return Err(Error::NotFound("no such user".into()));
    }
    record(tx, p, "user.phone", user)
}

/// Disables a user: sign-in refused, tokens revoked.
pub async fn disable_user(
    State(state): State<AppState>,
    Authed(p): Authed,
    path: Path<IdPath>,
) -> Result<StatusCode> {
    let user = path_id(path)?;
    blocking(&state, move |db| db.tx(|tx| disable(tx, &p, &user))).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /v1/admin/teams`.
#[derive(Deserialize)]
struct NewTeam {
    name: String,
}

/// Creates a team named `name` in the administrator's agency; audited.
pub fn add_team(tx: &mut dyn Tx, p: &Principal, name: &str) -> Result<Created> {
    require(p, None, &Action::ManageUsers)?;
    let name = Error::plain_text("name", name, 100)?;
    let agency = match policy::agency_of(tx, p)? {
        Some(a) => a,
        None => tx.query_one("SELECT id FROM agencies ORDER BY id LIMIT 1", params![])?[0].text(),
    };
    let id = uuid::Uuid::now_v7().to_string();
    tx.exec(
        "INSERT INTO teams (id, agency_id, name) VALUES ($1, $2, $3)",
        params![&id, &agency, name],
    )?;
    record(tx, p, "team.create", &id)?;
    Ok(Created { id, staff_id: None })
}

/// Creates a team in the administrator's agency.
pub async fn create_team(
    State(state): State<AppState>,
    Authed(p): Authed,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Created>)> {
    let req: NewTeam = parse_body(&body)?;
    let created = blocking(&state, move |db| db.tx(|tx| add_team(tx, &p, &req.name))).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// A device as administrators see it.
#[derive(Serialize)]
pub struct DeviceView {
    id: String,
    user_id: String,
    name: String,
    created_at: i64,
    last_sync_at: Option<i64>,
    revoked: bool,
}

/// Every device.
pub async fn list_devices(
    State(state): State<AppState>,
    Authed(p): Authed,
) -> Result<Json<Vec<DeviceView>>> {
    let out = blocking(&state, move |db| {
        db.tx(|tx| {
            require(&p, None, &Action::ManageUsers)?;
            Ok(tx
                .query(
                    "SELECT id, user_id, name, created_at, last_sync_at, revoked_at FROM devices
                     ORDER BY created_at",
                    params![],
                )?
                .into_iter()
                .map(|r| DeviceView {
                    id: r[0].text(),
                    user_id: r[1].text(),
                    name: r[2].text(),
                    created_at: r[3].int(),
                    last_sync_at: r[4].opt_int(),
                    revoked: r[5].opt_int().is_some(),
                })
                .collect())
        })
    })
    .await?;
    Ok(Json(out))
}

/// Revokes a device if `p` may (the user themself, their team's supervisor, their agency's
/// director, an administrator); audited. Its credential stops working and at its next
/// contact it is told to wipe its data.
pub fn revoke(tx: &mut dyn Tx, p: &Principal, device: &str) -> Result<()> {
    let agency = policy::agency_of(tx, p)?;
    let owner_user = tx
        .query_opt("SELECT user_id FROM devices WHERE id = $1", params![device])?
        .map(|r| r[0].text())
        .ok_or_else(|| Error::NotFound("no such device".into()))?;
    let staff = tx.query_one(
        "SELECT staff_id FROM users WHERE id = $1",
        params![&owner_user],
    )?[0]
        .text();
    let owner = policy::owner_of(tx, &policy::staff_scope(&staff))?;
    let allowed = match &owner {
        Some(o) => policy::allowed(p, agency.as_deref(), &Action::RevokeDevice(o)),
        // A user without a team (an administrator): only administrators.
        None => policy::allowed(p, None, &Action::ManageUsers),
    };
    if !allowed {
        return Err(Error::NotFound("no such device".into()));
    }
    auth::revoke_device(tx, device, now_ms())?;
    record(tx, p, "device.revoke", device)
}

/// Revokes a device: its credential stops working and at its next contact it is told to
/// wipe its data.
pub async fn revoke_device(
    State(state): State<AppState>,
    Authed(p): Authed,
    path: Path<IdPath>,
) -> Result<StatusCode> {
    let device = path_id(path)?;
    blocking(&state, move |db| db.tx(|tx| revoke(tx, &p, &device))).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The audit log's newest entries and the chain's verification.
#[derive(Serialize)]
pub struct AuditView {
    verification: audit::Verification,
    recent: Vec<audit::Stored>,
}

/// Reads and verifies the audit log.
pub async fn read_audit(
    State(state): State<AppState>,
    Authed(p): Authed,
) -> Result<Json<AuditView>> {
    let out = blocking(&state, move |db| {
        db.tx(|tx| {
            require(&p, None, &Action::ReadAudit)?;
            let verification = audit::verify(tx)?;
            let recent = audit::recent(tx, 100)?;
            record(tx, &p, "audit.read", "-")?;
            Ok(AuditView {
                verification,
                recent,
            })
        })
    })
    .await?;
    Ok(Json(out))
}

/// Signs the audit chain's current head, for the auditor to keep outside the server
/// (`fieldnote-server audit verify --checkpoint` checks it later). Administrators only.
pub async fn audit_checkpoint(
    State(state): State<AppState>,
    Authed(p): Authed,
) -> Result<Json<audit::Checkpoint>> {
    let out = blocking(&state, move |db| {
        db.tx(|tx| {
            require(&p, None, &Action::ReadAudit)?;
            let c = audit::checkpoint(tx)?;
            let detail = serde_json::json!({ "seq": c.seq }).to_string();
            audit::record(tx, &p, "audit.checkpoint", "-", &detail)?;
            Ok(c)
        })
    })
    .await?;
    Ok(Json(out))
}
