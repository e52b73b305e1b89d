//! The console's handlers. Pages are rendered on the server; the one script only opens the
//! live stream and refreshes the alarm rows, so every action also works as a plain form.
//! Every response carries a strict Content-Security-Policy and is never cached.

use axum::extract::{Form, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use fieldnote_protocol::ServerRole;
use fieldnote_protocol::safety::ResolveRequest;
use maud::Markup;
use serde::Deserialize;

use super::{COOKIE, Session, pages};
use crate::app::{AppState, ClientIp, blocking, check_password, now_ms};
use crate::auth::{self, Principal};
use crate::error::Error;
use crate::safety::http::{StreamAuth, after_change, alarm_trail, last_event_id, stream_events};
use crate::{audit, params, policy};

/// The largest form the console accepts (16 KiB): anything bigger is refused with 413.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// Wrong second-factor codes allowed per user in the sign-in window.
const MFA_FAILURES: i64 = 5;

pub(super) const SECURITY_HEADERS: [(header::HeaderName, &str); 5] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::CACHE_CONTROL, "no-store"),
];

pub(super) fn page(status: StatusCode, markup: Markup) -> Response {
    (status, SECURITY_HEADERS, Html(markup.into_string())).into_response()
}

pub(super) fn see(to: &str) -> Response {
    (SECURITY_HEADERS, Redirect::to(to)).into_response()
}

/// An error as a page a person can read, with the status an API would give.
pub(super) fn error_page(e: Error) -> Response {
    let (status, body) = e.parts();
    if status.is_server_error() {
        tracing::error!(error = %e, "console request failed");
    }
    let title = match status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Already answered",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        s if s.is_client_error() => "Not accepted",
        _ => "Something went wrong",
    };
    page(status, pages::error(title, &body.message))
}

fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build((COOKIE, token))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.auth.secure_cookies)
        .build()
}

/// Refuses a form posted from another origin (browsers send `Origin` on every POST).
fn same_origin(headers: &HeaderMap) -> Result<(), Error> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
    if origin_host != host {
        return Err(Error::Forbidden(
            "forms can only be sent from the console's own pages".into(),
        ));
    }
    Ok(())
}

/// Checks a form posted in a session: same origin, and the session's CSRF token.
fn check_form(headers: &HeaderMap, session_token: &str, csrf: &str) -> Result<(), Error> {
    same_origin(headers)?;
    super::check_csrf(session_token, csrf)
}

/// The session of `token` if it is live and has passed the second factor.
fn signed_session(
    tx: &mut dyn crate::db::Tx,
    token: &str,
    cfg: &auth::AuthConfig,
    now: i64,
) -> Result<Option<Session>, Error> {
    Ok(
        super::load(tx, token, now, cfg.console_idle_secs, cfg.console_max_secs)?
            .filter(|s| s.mfa_done),
    )
}

/// A fully signed-in console user (password and second factor), for every page but sign-in.
/// Without one, a page redirects to sign-in and a form post is refused.
pub struct Signed {
    token: String,
    session: Session,
    principal: Principal,
    agency: Option<String>,
    from: String,
    raised_alarms: Option<usize>,
}

impl Signed {
    pub(super) fn csrf(&self) -> String {
        super::csrf_token(&self.token)
    }

    /// Who is acting, for work on a blocking thread.
    pub(super) fn actor(&self) -> Actor {
        Actor {
            principal: self.principal.clone(),
            agency: self.agency.clone(),
            from: self.from.clone(),
        }
    }

    /// The user's name, CSRF token, role and waiting alarms, for the page layout.
    pub(super) fn nav(&self) -> pages::Nav {
        pages::Nav {
            name: self.principal.display_name.clone(),
            csrf: self.csrf(),
            role: self.principal.role,
            raised_alarms: self.raised_alarms,
        }
    }

    /// Checks a form posted in this session (origin and CSRF token).
    pub(super) fn check_form(&self, headers: &HeaderMap, csrf: &str) -> Result<(), Error> {
        check_form(headers, &self.token, csrf)
    }
}

/// A signed-in console user as handlers pass them to database work: who, their agency, and
/// the address they connect from (for the audit log).
#[derive(Clone)]
pub struct Actor {
    /// The user.
    pub principal: Principal,
    /// Their team's agency.
    pub agency: Option<String>,
    /// The client address the request came from.
    pub from: String,
}

impl Actor {
    /// Appends an audit entry of what this user did from where; `detail` is a JSON object
    /// of ids and counts (never PHI), to which `from` is added.
    pub fn audit(
        &self,
        tx: &mut dyn crate::db::Tx,
        action: &str,
        target: &str,
        mut detail: serde_json::Value,
    ) -> Result<i64, Error> {
        if let Some(map) = detail.as_object_mut() {
            map.insert("from".into(), self.from.clone().into());
        }
        audit::record(tx, &self.principal, action, target, &detail.to_string())
    }
}

fn cookie_token(parts: &Parts) -> Option<String> {
    CookieJar::from_headers(&parts.headers)
        .get(COOKIE)
        .map(|c| c.value().to_string())
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let refused = |parts: &Parts| {
            if parts.method == Method::GET {
                see("/console/login")
            } else {
                error_page(Error::Forbidden(
                    "your console session has ended; sign in again (what you typed is kept on the page)".into(),
                ))
            }
        };
        let Some(token) = cookie_token(parts) else {
            return Err(refused(parts));
        };
        let from =
            ClientIp::of(parts, state).map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        let cfg = state.auth.clone();
        let t = token.clone();
        let found = blocking(state, move |db| {
            db.tx(|tx| {
                let now = now_ms();
                let Some(s) = signed_session(tx, &t, &cfg, now)? else {
                    return Ok(None);
                };
                super::touch(tx, &s, now)?;
                let p = super::principal(tx, &s)?;
                let agency = policy::agency_of(tx, &p)?;
                let raised = crate::safety::raised_ids(tx, &p, agency.as_deref())?;
                Ok(Some((s, p, agency, raised.map(|r| r.len()))))
            })
        })
        .await
        .map_err(error_page)?;
        match found {
            Some((session, principal, agency, raised_alarms)) => Ok(Signed {
                token,
                session,
                principal,
                agency,
                from,
                raised_alarms,
            }),
            None => Err(refused(parts)),
        }
    }
}

/// A session that has passed the password but not yet the second factor.
pub struct Pending {
    token: String,
    session: Session,
}

impl FromRequestParts<AppState> for Pending {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = cookie_token(parts) else {
            return Err(see("/console/login"));
        };
        let cfg = state.auth.clone();
        let t = token.clone();
        let session = blocking(state, move |db| {
            db.tx(|tx| {
                super::load(
                    tx,
                    &t,
                    now_ms(),
                    cfg.console_idle_secs,
                    cfg.console_max_secs,
                )
            })
        })
        .await
        .map_err(error_page)?;
        match session {
            Some(session) if !session.mfa_done => Ok(Pending { token, session }),
            Some(_) => Err(see("/console/alarms")),
            None => Err(see("/console/login")),
        }
    }
}

/// `GET /console`.
pub async fn home() -> Response {
    see("/console/alarms")
}

/// `GET /console/login`.
pub async fn login_page() -> Response {
    page(StatusCode::OK, pages::login(None))
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

/// `POST /console/login`: the password step. Workers use the app, not the console.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(addr): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Err(e) = same_origin(&headers) {
        return error_page(e);
    }
    let candidate = match check_password(&state, &form.username, &form.password, addr).await {
        Ok(c) => c,
        Err(Error::Unauthenticated(_)) => {
            return page(
                StatusCode::UNAUTHORIZED,
                pages::login(Some(
                    "The user name or password is wrong, or the account is disabled.",
                )),
            );
        }
        Err(e) => return error_page(e),
    };
    let started = blocking(&state, move |db| {
        db.tx(|tx| {
            let p = auth::principal_of(tx, &candidate.user_id, None)?;
            if p.role == ServerRole::Worker {
                return Ok(None);
            }
            Ok(Some(super::create(tx, &p.user_id, false, now_ms())?))
        })
    })
    .await;
    match started {
        Ok(Some(token)) => {
            (jar.add(session_cookie(&state, token)), see("/console/mfa")).into_response()
        }
        Ok(None) => page(
            StatusCode::FORBIDDEN,
            pages::login(Some(
                "The console is for supervisors, program directors and administrators; workers use the Fieldnote app.",
            )),
        ),
        Err(e) => error_page(e),
    }
}

/// `GET /console/mfa`: the code form, with the key to enroll on first sign-in.
pub async fn mfa_page(State(state): State<AppState>, pending: Pending) -> Response {
    let csrf = super::csrf_token(&pending.token);
    let session = pending.session.clone();
    let enroll = blocking(&state, move |db| {
        db.tx(|tx| {
            if super::totp_secret(tx, &session.user_id)?.is_some() {
                return Ok(None);
            }
            let secret = match session.totp_pending.clone() {
                Some(s) => s,
                None => {
                    let s = super::new_totp_secret();
                    tx.exec(
                        "UPDATE console_sessions SET totp_pending = $1 WHERE id_hash = $2",
                        params![&s, &session.id_hash],
                    )?;
                    s
                }
            };
            let account = tx.query_one(
                "SELECT username FROM users WHERE id = $1",
                params![&session.user_id],
            )?[0]
                .text();
            let url = super::totp_url(&secret, &account)?;
            Ok(Some((secret, url)))
        })
    })
    .await;
    match enroll {
        Ok(e) => page(
            StatusCode::OK,
            pages::mfa(
                &csrf,
                e.as_ref().map(|(s, u)| (s.as_str(), u.as_str())),
                None,
            ),
        ),
        Err(e) => error_page(e),
    }
}

/// The second-factor form.
#[derive(Deserialize)]
pub struct MfaForm {
    #[serde(default)]
    csrf: String,
    code: String,
}

/// `POST /console/mfa`: checks the code (confirming enrollment on first use), then replaces
/// the session with a fully signed-in one.
pub async fn mfa(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    pending: Pending,
    Form(form): Form<MfaForm>,
) -> Response {
    if let Err(e) = check_form(&headers, &pending.token, &form.csrf) {
        return error_page(e);
    }
    let window = state.auth.login_window_secs;
    let session = pending.session.clone();
    let outcome = blocking(&state, move |db| {
        db.tx(|tx| {
            let now = now_ms();
            let key = format!("mfa:user:{}", session.user_id);
            if auth::failures(tx, &key, window, now)? >= MFA_FAILURES {
                return Err(Error::RateLimited {
                    retry_after: window as u64,
                });
            }
            let stored = super::totp_secret(tx, &session.user_id)?;
            let (secret, enrolling) = match (stored, session.totp_pending.clone()) {
                (Some(s), _) => (s, false),
                (None, Some(p)) => (p, true),
                (None, None) => return Ok(None),
            };
            if !super::check_totp(tx, &session.user_id, &secret, &form.code, now)? {
                let _ = auth::rate_limit(tx, &key, i64::MAX, window, now);
                let p = super::principal(tx, &session)?;
                audit::record(tx, &p, "console.mfa_failed", &p.user_id, "{}")?;
                return Ok(None);
            }
            if enrolling {
                tx.exec(
                    "UPDATE users SET totp_secret = $1 WHERE id = $2",
                    params![&secret, &session.user_id],
                )?;
            }
            super::end(tx, &session, now)?;
            let token = super::create(tx, &session.user_id, true, now)?;
            let p = super::principal(tx, &session)?;
            let detail = if enrolling {
                "{\"mfa\":\"totp\",\"enrolled\":true}"
            } else {
                "{\"mfa\":\"totp\"}"
            };
            audit::record(tx, &p, "console.login", &p.user_id, detail)?;
            Ok(Some(token))
        })
    })
    .await;
    match outcome {
        Ok(Some(token)) => (
            jar.add(session_cookie(&state, token)),
            see("/console/alarms"),
        )
            .into_response(),
        Ok(None) => page(
            StatusCode::UNAUTHORIZED,
            pages::mfa(
                &super::csrf_token(&pending.token),
                None,
                Some(
                    "That code is not right or was already used. Wait for the next code and try again.",
                ),
            ),
        ),
        Err(e) => error_page(e),
    }
}

/// A form that only carries its CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /console/logout`.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    user: Signed,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(e) = check_form(&headers, &user.token, &form.csrf) {
        return error_page(e);
    }
    let done = blocking(&state, move |db| {
        db.tx(|tx| {
            super::end(tx, &user.session, now_ms())?;
            audit::record(
                tx,
                &user.principal,
                "console.logout",
                &user.principal.user_id,
                "{}",
            )
        })
    })
    .await;
    match done {
        Ok(_) => (
            jar.remove(Cookie::build(COOKIE).path("/console")),
            see("/console/login"),
        )
            .into_response(),
        Err(e) => error_page(e),
    }
}

/// The name of the member an alarm or a visit names, if it names one.
fn member_name_of(
    tx: &mut dyn crate::db::Tx,
    member: Option<&String>,
) -> Result<Option<String>, Error> {
    member
        .map(|m| super::records::member_name(tx, m))
        .transpose()
}

/// The console's view of alarms: each with its member's name.
fn alarm_rows_of(
    tx: &mut dyn crate::db::Tx,
    list: Vec<fieldnote_protocol::safety::AlarmView>,
) -> Result<Vec<pages::AlarmRow>, Error> {
    list.into_iter()
        .map(|alarm| {
            let member_name = member_name_of(tx, alarm.member_id.as_ref())?;
            Ok(pages::AlarmRow { alarm, member_name })
        })
        .collect()
}

/// The alarms in the user's scope: open ones, and with `closed` also those resolved in the
/// last week (apart). Audited.
async fn alarms_in_scope(
    state: &AppState,
    user: &Signed,
    closed: bool,
) -> Result<(Vec<pages::AlarmRow>, Vec<pages::AlarmRow>), Error> {
    let who = user.actor();
    let clock = state.safety.clock.clone();
    blocking(state, move |db| {
        db.tx(|tx| {
            let list = crate::safety::list_alarms(
                tx,
                &who.principal,
                who.agency.as_deref(),
                closed,
                clock.now_ms(),
            )?;
            who.audit(
                tx,
                "alarm.list",
                "console",
                serde_json::json!({ "alarms": list.len() }),
            )?;
            let (done, open): (Vec<_>, Vec<_>) = list
                .into_iter()
                .partition(|a| a.state == fieldnote_protocol::safety::AlarmState::Resolved);
            Ok((alarm_rows_of(tx, open)?, alarm_rows_of(tx, done)?))
        })
    })
    .await
}

/// `GET /console/alarms`: the alarms panel.
pub async fn alarms(State(state): State<AppState>, user: Signed) -> Response {
    match alarms_in_scope(&state, &user, true).await {
        Ok((open, closed)) => page(
            StatusCode::OK,
            pages::alarms(&user.nav(), &open, &closed, None, now_ms()),
        ),
        Err(e) => error_page(e),
    }
}

/// `GET /console/alarms/rows`: the table's rows alone, fetched by the page when the live
/// stream reports a change (or, while the stream is down, every few seconds).
pub async fn alarm_rows(State(state): State<AppState>, user: Signed) -> Response {
    match alarms_in_scope(&state, &user, false).await {
        Ok((open, _)) => page(
            StatusCode::OK,
            pages::alarm_rows(&open, &user.csrf(), now_ms()),
        ),
        Err(e) => error_page(e),
    }
}

/// What every console page polls while its live stream is down, and reads after each alarm
/// event: the ids of the alarms waiting for acknowledgement (no PHI, so not audited).
#[derive(serde::Serialize)]
struct Waiting {
    raised: Vec<String>,
}

/// `GET /console/alarms/waiting`: the waiting alarms' ids, as JSON.
pub async fn waiting(user: Signed, State(state): State<AppState>) -> Response {
    let who = user.actor();
    let found = blocking(&state, move |db| {
        db.read_tx(|tx| crate::safety::raised_ids(tx, &who.principal, who.agency.as_deref()))
    })
    .await;
    match found {
        Ok(raised) => (
            SECURITY_HEADERS,
            axum::Json(Waiting {
                raised: raised.unwrap_or_default(),
            }),
        )
            .into_response(),
        Err(e) => error_page(e),
    }
}

/// The visit sessions under way in the user's scope, with names. Audited.
async fn visits_in_scope(state: &AppState, user: &Signed) -> Result<Vec<pages::VisitRow>, Error> {
    let who = user.actor();
    blocking(state, move |db| {
        db.tx(|tx| {
            let sessions = crate::safety::list_sessions(tx, &who.principal, who.agency.as_deref())?;
            let mut names: std::collections::HashMap<String, String> = Default::default();
            let mut rows = Vec::with_capacity(sessions.len());
            for session in sessions {
                let worker_name = match names.get(&session.worker_id) {
                    Some(n) => n.clone(),
                    None => {
                        let n = tx
                            .query_opt(
                                "SELECT display_name FROM users WHERE id = $1",
                                params![&session.worker_id],
                            )?
                            .map_or_else(String::new, |r| r[0].text());
                        names.insert(session.worker_id.clone(), n.clone());
                        n
                    }
                };
                let member_name = member_name_of(tx, session.member_id.as_ref())?;
                rows.push(pages::VisitRow {
                    session,
                    worker_name,
                    member_name,
                });
            }
            who.audit(
                tx,
                "session.list",
                "console",
                serde_json::json!({ "sessions": rows.len() }),
            )?;
            Ok(rows)
        })
    })
    .await
}

/// `GET /console/visits`: who is out on a visit now.
pub async fn visits(State(state): State<AppState>, user: Signed) -> Response {
    match visits_in_scope(&state, &user).await {
        Ok(rows) => page(StatusCode::OK, pages::visits(&user.nav(), &rows, now_ms())),
        Err(e) => error_page(e),
    }
}

/// `GET /console/visits/rows`: that table's rows alone, for live updates.
pub async fn visit_rows(State(state): State<AppState>, user: Signed) -> Response {
    match visits_in_scope(&state, &user).await {
        Ok(rows) => page(StatusCode::OK, pages::visit_rows(&rows, now_ms())),
        Err(e) => error_page(e),
    }
}

/// A worker stands out when no device of theirs has synced for this long (24 hours).
const STALE_SYNC_MS: i64 = 24 * 3600 * 1000;

/// Which team a page is about (`?team=`): a director chooses among their agency's teams; a
/// supervisor's is their own.
#[derive(Deserialize, Default)]
pub struct TeamQuery {
    pub(super) team: Option<String>,
}

/// The team a page shows: the one asked for, else the user's own, else (a director without
/// a team) the first of their agency's.
pub(super) fn chosen_team(
    tx: &mut dyn crate::db::Tx,
    who: &Actor,
    asked: Option<String>,
) -> Result<(String, Vec<(String, String)>), Error> {
    let teams: Vec<(String, String)> = match &who.agency {
        Some(agency) if who.principal.role == ServerRole::ProgramDirector => tx
            .query(
                "SELECT id, name FROM teams WHERE agency_id = $1 ORDER BY name",
                params![agency],
            )?
            .into_iter()
            .map(|r| (r[0].text(), r[1].text()))
            .collect(),
        _ => Vec::new(),
    };
    let team = asked
        .filter(|t| !t.is_empty())
        .or_else(|| who.principal.team_id.clone())
        .or_else(|| teams.first().map(|t| t.0.clone()))
        .ok_or_else(|| {
            Error::NotFound("you belong to no team; the team view shows a team's workers".into())
        })?;
    crate::admin::require_team_read(tx, &who.principal, &team)?;
    Ok((team, teams))
}

/// `GET /console/team`: each worker of a team with the compliance figures the rules engine
/// gives (overdue first), the last sync of any of their devices, the team's charts, and the
/// user's notices.
pub async fn team(
    State(state): State<AppState>,
    user: Signed,
    axum::extract::Query(q): axum::extract::Query<TeamQuery>,
) -> Response {
    let who = user.actor();
    let view = blocking(&state, move |db| {
        db.tx(|tx| {
            let (team, teams) = chosen_team(tx, &who, q.team.clone())?;
            let now = now_ms();
            let rollup =
                crate::rollup::team_rollup(tx, &team, fieldnote_core::Timestamp::from_millis(now))?;
            let workers = tx.query(
                "SELECT u.staff_id, u.display_name, MAX(d.last_sync_at)
                 FROM users u LEFT JOIN devices d ON d.user_id = u.id AND d.revoked_at IS NULL
                 WHERE u.team_id = $1 AND u.role = 'worker' AND u.disabled = 0
                 GROUP BY u.staff_id, u.display_name",
                params![&team],
            )?;
            let mut rows: Vec<pages::TeamRow> = workers
                .into_iter()
                .map(|w| {
                    let staff = w[0].text();
                    let figures = rollup
                        .iter()
                        .flat_map(|t| t.workers.iter())
                        .find(|r| r.worker.to_string() == staff);
                    let last_sync = w[2].opt_int();
                    pages::TeamRow {
                        name: w[1].text(),
                        members: figures.map_or(0, |f| f.members),
                        overdue: figures.map_or(0, |f| f.overdue),
                        due_this_week: figures.map_or(0, |f| f.due_this_week),
                        case_rate_unmet: figures.map_or(0, |f| f.case_rate_unmet),
                        last_sync,
                        stale: last_sync.is_none_or(|t| now - t > STALE_SYNC_MS),
                    }
                })
                .collect();
            rows.sort_by(|a, b| (b.overdue, b.stale, &a.name).cmp(&(a.overdue, a.stale, &b.name)));
            let charts = super::charts::team_charts(tx, &team, now)?;
            let notices = super::records::notices(tx, &who.principal.user_id, now)?;
            who.audit(
                tx,
                "team.view",
                &team,
                serde_json::json!({ "workers": rows.len() }),
            )?;
            Ok(pages::TeamView {
                team,
                teams,
                rows,
                charts,
                notices,
            })
        })
    })
    .await;
    match view {
        Ok(view) => page(StatusCode::OK, pages::team(&user.nav(), &view)),
        Err(e) => error_page(e),
    }
}

/// `GET /console/alarms/{id}`: one alarm's audit trail.
pub async fn alarm(
    State(state): State<AppState>,
    user: Signed,
    Path(id): Path<String>,
) -> Response {
    let (p, agency) = (user.principal.clone(), user.agency.clone());
    let found = blocking(&state, move |db| {
        db.tx(|tx| alarm_trail(tx, &p, agency.as_deref(), &id))
    })
    .await;
    match found {
        Ok((a, trail)) => page(StatusCode::OK, pages::alarm_trail(&user.nav(), &a, &trail)),
        Err(e) => error_page(e),
    }
}

/// `POST /console/alarms/{id}/acknowledge`.
pub async fn acknowledge(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Signed,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(e) = check_form(&headers, &user.token, &form.csrf) {
        return error_page(e);
    }
    let (p, agency) = (user.principal.clone(), user.agency.clone());
    let clock = state.safety.clock.clone();
    let done = blocking(&state, move |db| {
        db.tx(|tx| crate::safety::acknowledge(tx, &p, agency.as_deref(), &id, clock.now_ms()))
    })
    .await;
    after_change(&state).await;
    match done {
        Ok(_) => see("/console/alarms"),
        Err(e) => error_page(e),
    }
}

/// The resolve form.
#[derive(Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    csrf: String,
    outcome: String,
    reportable: Option<String>,
}

/// `POST /console/alarms/{id}/resolve`.
pub async fn resolve(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Signed,
    Path(id): Path<String>,
    Form(form): Form<ResolveForm>,
) -> Response {
    if let Err(e) = check_form(&headers, &user.token, &form.csrf) {
        return error_page(e);
    }
    let (p, agency) = (user.principal.clone(), user.agency.clone());
    let clock = state.safety.clock.clone();
    let req = ResolveRequest {
        outcome: form.outcome,
        reportable_incident: form.reportable.is_some(),
    };
    let done = blocking(&state, move |db| {
        db.tx(|tx| crate::safety::resolve(tx, &p, agency.as_deref(), &id, &req, clock.now_ms()))
    })
    .await;
    after_change(&state).await;
    match done {
        Ok(_) => see("/console/alarms"),
        Err(e) => error_page(e),
    }
}

/// The longest silence on a console page's live stream: a third of the idle limit, at most
/// 15 seconds, so an open page renews its session well before it would lapse.
fn heartbeat_every(cfg: &auth::AuthConfig) -> std::time::Duration {
    let third_ms = cfg.console_idle_secs.max(3).saturating_mul(1000) / 3;
    std::time::Duration::from_millis(third_ms.clamp(1000, 15_000) as u64)
}

/// `GET /console/events`: the live stream of alarm and session changes for the session's
/// user, with a heartbeat. An open stream is a person with the page open: each heartbeat
/// renews the session, so the alarm page never signs out from idleness (the absolute limit
/// still holds). It ends when the session does; without a session it answers 401 (not a
/// redirect), which the page reports.
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Result<Signed, Response>,
) -> Response {
    let Ok(user) = user else {
        return (
            StatusCode::UNAUTHORIZED,
            SECURITY_HEADERS,
            "the console session has ended; sign in again",
        )
            .into_response();
    };
    // The session as it stands at each read and each heartbeat; an ended one ends the stream.
    let cfg = state.auth.clone();
    let token = user.token.clone();
    let live = std::sync::Arc::new(move |tx: &mut dyn crate::db::Tx, now| {
        signed_session(tx, &token, &cfg, now)?
            .ok_or_else(|| Error::Unauthenticated("the console session ended".into()))
    });
    let session = live.clone();
    let auth: StreamAuth = std::sync::Arc::new(move |tx, now| {
        let s = session(tx, now)?;
        super::principal(tx, &s)
    });
    let heartbeat = crate::safety::http::Heartbeat {
        every: heartbeat_every(&state.auth),
        renew: std::sync::Arc::new(move |tx, now| {
            let s = live(tx, now)?;
            super::touch(tx, &s, now)
        }),
    };
    match stream_events(state, auth, Some(heartbeat), last_event_id(&headers)).await {
        Ok(sse) => (SECURITY_HEADERS, sse).into_response(),
        Err(e) => error_page(e),
    }
}

/// `GET /console/static/console.js`.
pub async fn script() -> Response {
    (
        SECURITY_HEADERS,
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("console.js"),
    )
        .into_response()
}

/// `GET /console/static/console.css`.
pub async fn stylesheet() -> Response {
    (
        SECURITY_HEADERS,
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("console.css"),
    )
        .into_response()
}
