//! Administration in the console: teams, users and roles, devices (revoke and wipe), each
//! team's escalation ladder, and the audit log with its hash-chain check. The rules and the
//! audit entries are those of the HTTP administration (`crate::admin`, `crate::safety`);
//! this module only turns forms into those calls and results into pages.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fieldnote_protocol::ServerRole;
use fieldnote_protocol::safety::{SafetySettings, Tier, TierTarget};
use serde::Deserialize;

use super::http::{Signed, error_page, page, see};
use super::pages;
use crate::admin::{NewUser, add_team, disable, insert_user, revoke, set_phone};
use crate::app::{AppState, blocking, now_ms};
use crate::auth;
use crate::error::Error;
use crate::params;
use crate::policy::{self, Action};

/// Audit entries per page.
const AUDIT_PAGE: i64 = 100;

fn require_admin(user: &Signed) -> Result<(), Error> {
    if policy::allowed(&user.actor().principal, None, &Action::ManageUsers) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "administration is for the agency's administrators".into(),
        ))
    }
}

/// `GET /console/admin`: teams, users and devices.
pub async fn overview(State(state): State<AppState>, user: Signed) -> Response {
    if let Err(e) = require_admin(&user) {
        return error_page(e);
    }
    let who = user.actor();
    let view = blocking(&state, move |db| {
        db.tx(|tx| {
            let teams = tx
                .query("SELECT id, name FROM teams ORDER BY name", params![])?
                .into_iter()
                .map(|r| (r[0].text(), r[1].text()))
                .collect();
            let users = tx
                .query(
                    "SELECT u.id, u.username, u.display_name, u.role, t.name, u.disabled, u.phone
                     FROM users u LEFT JOIN teams t ON t.id = u.team_id ORDER BY u.username",
                    params![],
                )?
                .into_iter()
                .map(|r| pages::UserRow {
                    id: r[0].text(),
                    username: r[1].text(),
                    name: r[2].text(),
                    role: r[3].text(),
                    team: r[4].opt_text().unwrap_or_default(),
                    disabled: r[5].int() != 0,
                    phone: r[6].opt_text().unwrap_or_default(),
                })
                .collect();
            let devices = tx
                .query(
                    "SELECT d.id, u.username, d.name, d.last_sync_at, d.revoked_at
                     FROM devices d JOIN users u ON u.id = d.user_id ORDER BY u.username, d.created_at",
                    params![],
                )?
                .into_iter()
                .map(|r| pages::DeviceRow {
                    id: r[0].text(),
                    user: r[1].text(),
                    name: r[2].text(),
                    last_sync: r[3].opt_int(),
                    revoked: r[4].opt_int().is_some(),
                })
                .collect();
            who.audit(tx, "admin.view", "-", serde_json::json!({}))?;
            Ok(pages::AdminView {
                teams,
                users,
                devices,
            })
        })
    })
    .await;
    match view {
        Ok(v) => page(StatusCode::OK, pages::admin(&user.nav(), &v)),
        Err(e) => error_page(e),
    }
}

/// The new-team form.
#[derive(Deserialize)]
pub struct TeamForm {
    #[serde(default)]
    csrf: String,
    name: String,
}

/// `POST /console/admin/teams`.
pub async fn create_team(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Signed,
    Form(form): Form<TeamForm>,
) -> Response {
    if let Err(e) = user.check_form(&headers, &form.csrf) {
        return error_page(e);
    }
    let p = user.actor().principal;
    match blocking(&state, move |db| db.tx(|tx| add_team(tx, &p, &form.name))).await {
        Ok(_) => see("/console/admin"),
        Err(e) => error_page(e),
    }
}

/// The new-user form.
#[derive(Deserialize)]
pub struct UserForm {
    #[serde(default)]
    csrf: String,
    username: String,
    display_name: String,
    role: String,
    #[serde(default)]
    team: String,
    password: String,
    #[serde(default)]
    phone: String,
}

/// `POST /console/admin/users`: a new user with a first password.
pub async fn create_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Signed,
    Form(form): Form<UserForm>,
) -> Response {
    if let Err(e) = user
        .check_form(&headers, &form.csrf)
        .and_then(|_| require_admin(&user))
    {
        return error_page(e);
    }
    let role = match form.role.as_str() {
        "worker" => ServerRole::Worker,
        "supervisor" => ServerRole::Supervisor,
        "program_director" => ServerRole::ProgramDirector,
        "administrator" => ServerRole::Administrator,
        _ => {
            return error_page(Error::invalid(
                "role",
                "must be worker, supervisor, program_director or administrator",
            ));
        }
    };
    if let Err(e) = auth::check_password_strength(&form.password) {
        return error_page(e);
    }
    let new = NewUser {
        username: form.username,
        display_name: form.display_name,
        role,
        team_id: Some(form.team).filter(|t| !t.is_empty()),
        password: form.password,
        phone: Some(form.phone),
    };
    let password = new.password.clone();
    let hash = match tokio::task::spawn_blocking(move || auth::hash_password(&password)).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return error_page(e),
        Err(e) => return error_page(Error::Internal(e.to_string())),
    };
    let who = user.actor();
    let done = blocking(&state, move |db| {
        db.tx(|tx| {
            let created = insert_user(tx, &new, &hash)?;
            who.audit(tx, "user.create", &created.id, serde_json::json!({}))
        })
    })
    .await;
    match done {
        Ok(_) => see("/console/admin"),
        Err(e) => error_page(e),
    }
}

/// A form that carries only its CSRF token.
#[derive(Deserialize)]
pub struct Plain {
    #[serde(default)]
    csrf: String,
}

/// Runs an administration form that names one thing by id (`action` checks the policy and
/// audits), then returns to the administration page.
async fn act_on(
    state: &AppState,
    headers: &HeaderMap,
    user: &Signed,
    csrf: &str,
    id: String,
    action: fn(&mut dyn crate::db::Tx, &crate::auth::Principal, &str) -> Result<(), Error>,
) -> Response {
    if let Err(e) = user.check_form(headers, csrf) {
        return error_page(e);
    }
    let p = user.actor().principal;
    match blocking(state, move |db| db.tx(|tx| action(tx, &p, &id))).await {
        Ok(()) => see("/console/admin"),
        Err(e) => error_page(e),
    }
}

/// `POST /console/admin/users/{id}/disable`.
pub async fn disable_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Signed,
    Path(id): Path<String>,
    Form(form): Form<Plain>,
) -> Response {
    act_on(&state, &headers, &user, &form.csrf, id, disable).await
}

/// The phone form.
#[derive(Deserialize)]
pub struct PhoneForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    phone: String,
}

/// `POST /console/admin/users/{id}/phone`: the number the people answering the user's alarms
/// call (empty clears it).
pub async fn user_phone(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Signed,
    Path(id): Path<String>,
    Form(form): Form<PhoneForm>,
) -> Response {
    if let Err(e) = user.check_form(&headers, &form.csrf) {
        return error_page(e);
    }
    let p = user.actor().principal;
    let done = blocking(&state, move |db| {
        db.tx(|tx| set_phone(tx, &p, &id, &form.phone))
    })
    .await;
    match done {
        Ok(()) => see("/console/admin"),
        Err(e) => error_page(e),
    }
}

/// `POST /console/admin/devices/{id}/revoke`: the device's credential stops working and it
/// wipes its data at its next contact.
pub async fn revoke_device(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Signed,
    Path(id): Path<String>,
    Form(form): Form<Plain>,
) -> Response {
    act_on(&state, &headers, &user, &form.csrf, id, revoke).await
}

/// `GET /console/teams/{id}/safety`: the team's grace period, fallback time and escalation
/// ladder, for its supervisor, its director or an administrator.
pub async fn safety_page(
    State(state): State<AppState>,
    user: Signed,
    Path(team): Path<String>,
) -> Response {
    let who = user.actor();
    let t = team.clone();
    let settings = blocking(&state, move |db| {
        db.tx(|tx| {
            crate::safety::require_configure(tx, &who.principal, who.agency.as_deref(), &t)?;
            crate::safety::settings_for(tx, &t)
        })
    })
    .await;
    match settings {
        Ok(s) => page(
            StatusCode::OK,
            pages::safety_settings(&user.nav(), &team, &s, None),
        ),
        Err(e) => error_page(e),
    }
}

/// The ladder form: up to [`pages::LADDER_ROWS`] tiers; rows without a label are ignored.
#[derive(Deserialize)]
pub struct SafetyForm {
    #[serde(default)]
    csrf: String,
    grace_secs: String,
    fallback_secs: String,
    #[serde(default)]
    label: Vec<String>,
    #[serde(default)]
    target: Vec<String>,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    timeout: Vec<String>,
}

fn number(field: &str, s: &str) -> Result<u64, Error> {
    s.trim()
        .parse()
        .map_err(|_| Error::invalid(field, "must be a whole number of seconds"))
}

impl SafetyForm {
    fn settings(&self) -> Result<SafetySettings, Error> {
        let mut ladder = Vec::new();
        for (i, label) in self.label.iter().enumerate() {
            if label.trim().is_empty() {
                continue;
            }
            let get = |v: &Vec<String>| v.get(i).cloned().unwrap_or_default();
            let target = match get(&self.target).as_str() {
                "team_supervisors" => TierTarget::TeamSupervisors,
                "program_directors" => TierTarget::ProgramDirectors,
                "users" => TierTarget::Users(
                    get(&self.users)
                        .split([',', ' ', '\n'])
                        .map(str::trim)
                        .filter(|u| !u.is_empty())
                        .map(String::from)
                        .collect(),
                ),
                _ => {
                    return Err(Error::invalid(
                        &format!("ladder[{i}].target"),
                        "choose who this tier alerts",
                    ));
                }
            };
            ladder.push(Tier {
                label: label.trim().to_string(),
                target,
                ack_timeout_secs: number(
                    &format!("ladder[{i}].ack_timeout_secs"),
                    &get(&self.timeout),
                )?,
            });
        }
        Ok(SafetySettings {
            grace_secs: number("grace_secs", &self.grace_secs)?,
            fallback_secs: number("fallback_secs", &self.fallback_secs)?,
            ladder,
        })
    }
}

/// `POST /console/teams/{id}/safety`: replaces the team's settings after checking them; a
/// refused form is shown again with the reason and what was typed.
pub async fn save_safety(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Signed,
    Path(team): Path<String>,
    axum_extra::extract::Form(form): axum_extra::extract::Form<SafetyForm>,
) -> Response {
    if let Err(e) = user.check_form(&headers, &form.csrf) {
        return error_page(e);
    }
    let settings = match form.settings() {
        Ok(s) => s,
        Err(e) => return error_page(e),
    };
    let who = user.actor();
    let (t, s) = (team.clone(), settings.clone());
    let saved = blocking(&state, move |db| {
        db.tx(|tx| {
            crate::safety::require_configure(tx, &who.principal, who.agency.as_deref(), &t)?;
            crate::safety::put_settings(tx, &who.principal, &t, &s, now_ms())
        })
    })
    .await;
    match saved {
        Ok(()) => page(
            StatusCode::OK,
            pages::safety_settings(&user.nav(), &team, &settings, Some("Saved.")),
        ),
        Err(Error::Invalid { field, reason }) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::safety_settings(
                &user.nav(),
                &team,
                &settings,
                Some(&format!("Not saved. {field}: {reason}")),
            ),
        ),
        Err(e) => error_page(e),
    }
}

/// Which audit entries to show.
#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    before: Option<i64>,
}

/// `GET /console/audit`: the audit log, newest first, filtered by action or target, with the
/// verification of the whole hash chain. Administrators only; reading it is itself audited.
pub async fn audit_log(
    State(state): State<AppState>,
    user: Signed,
    Query(q): Query<AuditQuery>,
) -> Response {
    let who = user.actor();
    if !policy::allowed(&who.principal, None, &Action::ReadAudit) {
        return error_page(Error::Forbidden(
            "the audit log is read by the agency's administrators".into(),
        ));
    }
    let view = blocking(&state, move |db| {
        db.tx(|tx| {
            let verification = crate::audit::verify(tx)?;
            let entries = tx
                .query(
                    "SELECT seq, at, actor, device, action, target, detail, prev_hash, hash
                     FROM audit WHERE seq < $1 AND ($2 = '' OR action = $2)
                       AND ($3 = '' OR target = $3)
                     ORDER BY seq DESC LIMIT $4",
                    params![
                        q.before.unwrap_or(i64::MAX),
                        q.action.trim(),
                        q.target.trim(),
                        AUDIT_PAGE
                    ],
                )?
                .into_iter()
                .map(crate::audit::stored)
                .collect::<Vec<_>>();
            who.audit(
                tx,
                "audit.read",
                "-",
                serde_json::json!({ "entries": entries.len() }),
            )?;
            Ok(pages::AuditView {
                verification,
                entries,
                action: q.action.clone(),
                target: q.target.clone(),
            })
        })
    })
    .await;
    match view {
        Ok(v) => page(StatusCode::OK, pages::audit_log(&user.nav(), &v)),
        Err(e) => error_page(e),
    }
}
