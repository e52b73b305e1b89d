//! The HTTP surface: one table of routes (which the authorization tests enumerate), the
//! request extractors that authenticate and parse bodies into clear errors, and the
//! handlers, each a thin shell over a service function run on a blocking thread.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use fieldnote_protocol::{self as proto, routes};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::auth::{self, AuthConfig, Principal};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::safety::http as safety;
use crate::{admin, audit, params, policy, sync};
use fieldnote_protocol::safety::routes as safety_routes;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Arc<Db>,
    /// Sign-in limits and token lifetimes.
    pub auth: Arc<AuthConfig>,
    /// Safety's clock, notifier and event hub.
    pub safety: crate::safety::Safety,
    /// When this process's safety timers last ran (reported by `/health`).
    pub timers: Arc<crate::safety::TimerWatch>,
}

/// Milliseconds since the epoch, server time.
pub fn now_ms() -> i64 {
    fieldnote_core::Timestamp::now().millis()
}

/// Runs database work on a blocking thread.
pub async fn blocking<R: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Db) -> Result<R> + Send + 'static,
) -> Result<R> {
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || f(&db))
        .await
        .map_err(|e| Error::Internal(format!("worker thread failed: {e}")))?
}

/// Who may call a route, for documentation and the authorization tests' cross-check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// Any signed-in user (the handler applies the policy).
    SignedIn,
    /// A console session (cookie, password and second factor); bearer tokens are not
    /// accepted. Pages without one redirect to sign-in; form posts are refused.
    Console,
}

/// One route.
pub struct RouteSpec {
    /// The method.
    pub method: Method,
    /// The path, with `{param}` segments.
    pub path: &'static str,
    /// Who may call it at all.
    pub access: Access,
    handler: MethodRouter<AppState>,
}

fn route(
    method: Method,
    path: &'static str,
    access: Access,
    handler: MethodRouter<AppState>,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        access,
        handler,
    }
}

/// Every route the server serves. The router is built from this list and nothing else.
pub fn route_specs() -> Vec<RouteSpec> {
    use Access::*;
    vec![
        route(Method::GET, routes::HEALTH, Public, get(health)),
        route(Method::POST, routes::LOGIN, Public, post(login)),
        route(Method::POST, routes::TOKEN, Public, post(token)),
        route(Method::POST, routes::LOGOUT, SignedIn, post(logout)),
        route(Method::GET, "/v1/me", SignedIn, get(me)),
        route(Method::POST, routes::SYNC, SignedIn, post(sync_handler)),
        route(
            Method::POST,
            "/v1/members/{id}/assign",
            SignedIn,
            post(admin::assign),
        ),
        route(
            Method::GET,
            "/v1/teams/{id}/members",
            SignedIn,
            get(admin::team_members),
        ),
        route(
            Method::GET,
            "/v1/teams/{id}/rollup",
            SignedIn,
            get(crate::rollup::get_team_rollup),
        ),
        route(
            Method::GET,
            "/v1/admin/users",
            SignedIn,
            get(admin::list_users),
        ),
        route(
            Method::POST,
            "/v1/admin/users",
            SignedIn,
            post(admin::create_user),
        ),
        route(
            Method::POST,
            "/v1/admin/users/{id}/disable",
            SignedIn,
            post(admin::disable_user),
        ),
        route(
            Method::POST,
            "/v1/admin/teams",
            SignedIn,
            post(admin::create_team),
        ),
        route(
            Method::GET,
            "/v1/admin/devices",
            SignedIn,
            get(admin::list_devices),
        ),
        route(
            Method::POST,
            "/v1/devices/{id}/revoke",
            SignedIn,
            post(admin::revoke_device),
        ),
        route(
            Method::GET,
            "/v1/admin/audit",
            SignedIn,
            get(admin::read_audit),
        ),
        route(
            Method::GET,
            "/v1/admin/audit/checkpoint",
            SignedIn,
            get(admin::audit_checkpoint),
        ),
        route(
            Method::POST,
            safety_routes::SAFETY,
            SignedIn,
            post(safety::post_safety),
        ),
        route(
            Method::GET,
            safety_routes::ALARMS,
            SignedIn,
            get(safety::list_alarms),
        ),
        route(
            Method::GET,
            safety_routes::ALARM,
            SignedIn,
            get(safety::get_alarm),
        ),
        route(
            Method::POST,
            safety_routes::ACKNOWLEDGE,
            SignedIn,
            post(safety::acknowledge),
        ),
        route(
            Method::POST,
            safety_routes::RESOLVE,
            SignedIn,
            post(safety::resolve),
        ),
        route(
            Method::GET,
            safety_routes::TRAIL,
            SignedIn,
            get(safety::trail),
        ),
        route(
            Method::GET,
            safety_routes::SESSIONS,
            SignedIn,
            get(safety::list_sessions),
        ),
        route(
            Method::GET,
            safety_routes::EVENTS,
            SignedIn,
            get(safety::events),
        ),
        route(
            Method::GET,
            safety_routes::TEAM_SAFETY,
            SignedIn,
            get(safety::get_team_settings),
        ),
        route(
            Method::PUT,
            safety_routes::TEAM_SAFETY,
            SignedIn,
            axum::routing::put(safety::put_team_settings),
        ),
    ]
    .into_iter()
    .chain(console_routes())
    .collect()
}

/// The supervisor console's pages and forms.
fn console_routes() -> Vec<RouteSpec> {
    use crate::console::admin as a;
    use crate::console::http as c;
    use crate::console::records as r;
    use Access::*;
    // Console forms are small; anything larger is refused before it is read.
    let form = |r: MethodRouter<AppState>| {
        r.layer(axum::extract::DefaultBodyLimit::max(c::MAX_FORM_BYTES))
    };
    vec![
        route(Method::GET, "/console", Public, get(c::home)),
        route(Method::GET, "/console/login", Public, get(c::login_page)),
        route(Method::POST, "/console/login", Public, form(post(c::login))),
        route(Method::GET, "/console/mfa", Public, get(c::mfa_page)),
        route(Method::POST, "/console/mfa", Public, form(post(c::mfa))),
        route(
            Method::POST,
            "/console/logout",
            Console,
            form(post(c::logout)),
        ),
        route(Method::GET, "/console/alarms", Console, get(c::alarms)),
        route(Method::GET, "/console/team", Console, get(c::team)),
        route(
            Method::GET,
            "/console/alarms/rows",
            Console,
            get(c::alarm_rows),
        ),
        route(
            Method::GET,
            "/console/alarms/waiting",
            Console,
            get(c::waiting),
        ),
        route(Method::GET, "/console/visits", Console, get(c::visits)),
        route(
            Method::GET,
            "/console/visits/rows",
            Console,
            get(c::visit_rows),
        ),
        route(Method::GET, "/console/alarms/{id}", Console, get(c::alarm)),
        route(
            Method::POST,
            "/console/alarms/{id}/acknowledge",
            Console,
            form(post(c::acknowledge)),
        ),
        route(
            Method::POST,
            "/console/alarms/{id}/resolve",
            Console,
            form(post(c::resolve)),
        ),
        route(Method::GET, "/console/events", Console, get(c::events)),
        route(Method::GET, "/console/review", Console, get(r::queue)),
        route(Method::GET, "/console/admin", Console, get(a::overview)),
        route(
            Method::POST,
            "/console/admin/teams",
            Console,
            form(post(a::create_team)),
        ),
        route(
            Method::POST,
            "/console/admin/users",
            Console,
            form(post(a::create_user)),
        ),
        route(
            Method::POST,
            "/console/admin/users/{id}/disable",
            Console,
            form(post(a::disable_user)),
        ),
        route(
            Method::POST,
            "/console/admin/users/{id}/phone",
            Console,
            form(post(a::user_phone)),
        ),
        route(
            Method::POST,
            "/console/admin/devices/{id}/revoke",
            Console,
            form(post(a::revoke_device)),
        ),
        route(
            Method::GET,
            "/console/teams/{id}/safety",
            Console,
            get(a::safety_page),
        ),
        route(
            Method::POST,
            "/console/teams/{id}/safety",
            Console,
            form(post(a::save_safety)),
        ),
        route(Method::GET, "/console/audit", Console, get(a::audit_log)),
        route(
            Method::GET,
            "/console/records/{id}",
            Console,
            get(r::record),
        ),
        route(
            Method::POST,
            "/console/records/{id}/review",
            Console,
            form(post(r::review)),
        ),
        route(
            Method::GET,
            "/console/members/{id}",
            Console,
            get(r::member),
        ),
        route(
            Method::POST,
            "/console/members/{id}/emergency",
            Console,
            form(post(r::break_glass)),
        ),
        route(
            Method::GET,
            "/console/members/{id}/export",
            Console,
            get(r::export),
        ),
        route(
            Method::GET,
            "/console/static/console.js",
            Public,
            get(c::script),
        ),
        route(
            Method::GET,
            "/console/static/console.css",
            Public,
            get(c::stylesheet),
        ),
    ]
}

/// The (method, path) of every route.
pub fn route_table() -> Vec<(Method, &'static str, Access)> {
    route_specs()
        .into_iter()
        .map(|r| (r.method, r.path, r.access))
        .collect()
}

/// Builds the router with its layers: raw and decompressed body limits, gzip both ways,
/// request tracing (method, path and status only).
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for spec in route_specs() {
        router = router.route(spec.path, spec.handler);
    }
    router
        .layer(axum::extract::DefaultBodyLimit::max(proto::MAX_REQUEST_BYTES))
        .layer(tower_http::decompression::RequestDecompressionLayer::new())
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            proto::MAX_REQUEST_BYTES,
        ))
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |req: &axum::http::Request<_>| {
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                },
            ),
        )
        .with_state(state)
}

/// The address a request came from, as [`auth::client_address`] reads it with this
/// deployment's trusted proxies.
pub struct ClientIp(pub std::net::IpAddr);

impl ClientIp {
    /// The address of the request whose parts these are, if the connection has one.
    pub fn of(parts: &Parts, state: &AppState) -> Option<std::net::IpAddr> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Some(auth::client_address(
            peer,
            &forwarded,
            &state.auth.trusted_proxies,
        ))
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        ClientIp::of(parts, state)
            .map(ClientIp)
            .ok_or_else(|| Error::Internal("no peer address".into()))
    }
}

/// The bearer token of a request, not yet checked.
pub struct Bearer(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| Bearer(t.to_string()))
            .ok_or_else(|| Error::Unauthenticated("no access token".into()))
    }
}

/// Checks a token and counts the request against its device's (or user's) limit.
pub(crate) fn authenticate_counted(
    tx: &mut dyn crate::db::Tx,
    token: &str,
    limit: i64,
    now: i64,
) -> Result<Principal> {
    let p = auth::authenticate(tx, token, now)?;
    let key = format!(
        "req:{}",
        p.device_id.as_deref().unwrap_or(p.user_id.as_str())
    );
    auth::rate_limit(tx, &key, limit, 60, now)?;
    Ok(p)
}

/// Audits a request refused by the rate limit, once per device (or user) per minute so a
/// flood of requests cannot flood the audit log.
fn audit_rate_limited(db: &crate::db::Db, token: &str) {
    let noted = db.tx(|tx| {
        let now = now_ms();
        let p = auth::authenticate(tx, token, now)?;
        let key = format!(
            "audited:req:{}",
            p.device_id.as_deref().unwrap_or(p.user_id.as_str())
        );
        if auth::rate_limit(tx, &key, 1, 60, now).is_ok() {
            audit::record(tx, &p, "request.rate_limited", &p.user_id, "{}")?;
        }
        Ok(())
    });
    if let Err(e) = noted {
        tracing::warn!(error = %e, "could not audit a rate-limited request");
    }
}

/// Runs `f` in a transaction; a refusal by the rate limit is audited before it is returned.
fn counted<R>(
    db: &crate::db::Db,
    token: &str,
    f: impl FnMut(&mut dyn crate::db::Tx) -> Result<R>,
) -> Result<R> {
    let result = db.tx(f);
    if let Err(Error::RateLimited { .. }) = &result {
        audit_rate_limited(db, token);
    }
    result
}

/// An authenticated request: bearer token checked, request rate limit counted.
pub struct Authed(pub Principal);

impl FromRequestParts<AppState> for Authed {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let Bearer(token) = Bearer::from_request_parts(parts, state).await?;
        let limit = state.auth.requests_per_minute;
        let p = blocking(state, move |db| {
            counted(db, &token, |tx| {
                authenticate_counted(tx, &token, limit, now_ms())
            })
        })
        .await?;
        Ok(Authed(p))
    }
}

/// Parses a JSON body into `T`, or a 400 naming what is wrong.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    Ok(proto::decode_message(proto::Format::Json, body)?)
}

/// Whether the request speaks CBOR (devices do; people and tools use JSON).
fn wants_cbor(headers: &HeaderMap) -> bool {
    let is = |h| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(proto::CBOR))
    };
    is(axum::http::header::CONTENT_TYPE) || is(axum::http::header::ACCEPT)
}

/// The format the request's `Content-Type` names (CBOR, or JSON by default).
pub(crate) fn body_format(headers: &HeaderMap) -> proto::Format {
    proto::Format::of_content_type(
        headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// Parses a body in the format its `Content-Type` names (CBOR or JSON).
pub(crate) fn decode<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T> {
    Ok(proto::decode_message(body_format(headers), body)?)
}

/// A response in the format the request used.
pub struct Wire<T> {
    /// Whether to answer in CBOR.
    pub cbor: bool,
    /// The answer.
    pub value: T,
}

impl<T> Wire<T> {
    /// `value`, in the format the request named (its `Content-Type` or `Accept`).
    pub fn answer(headers: &HeaderMap, value: T) -> Wire<T> {
        Wire {
            cbor: wants_cbor(headers),
            value,
        }
    }
}

impl<T: Serialize> IntoResponse for Wire<T> {
    fn into_response(self) -> Response {
        if self.cbor {
            (
                [(axum::http::header::CONTENT_TYPE, proto::CBOR)],
                proto::to_cbor(&self.value),
            )
                .into_response()
        } else {
            axum::Json(self.value).into_response()
        }
    }
}

/// Checks the protocol version header, when present.
pub(crate) fn check_version(headers: &HeaderMap) -> Result<()> {
    if let Some(v) = headers.get(proto::VERSION_HEADER) {
        let found = v.to_str().unwrap_or("?").to_string();
        if found != proto::PROTOCOL_VERSION.to_string() {
            return Err(Error::UpgradeRequired {
                found,
                supported: proto::PROTOCOL_VERSION,
            });
        }
    }
    Ok(())
}

/// The body, or a machine-readable 413 / 400.
pub(crate) fn body_bytes(
    body: std::result::Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Bytes> {
    body.map_err(|e| {
        // A body sent chunked meets the limit while it streams in, and that error arrives
        // wrapped (by the decompression layer) rather than as axum's own 413.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        let mut too_large = e.status() == StatusCode::PAYLOAD_TOO_LARGE;
        while let Some(c) = cause {
            too_large |= c.is::<http_body_util::LengthLimitError>();
            cause = c.source();
        }
        if too_large {
            Error::TooLarge
        } else {
            Error::BadRequest(format!("the request body could not be read: {e}"))
        }
    })
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    database: &'static str,
    protocol: u32,
    safety_timers: crate::safety::TimerHealth,
    #[serde(skip_serializing_if = "Option::is_none")]
    safety_timers_last_run_ms_ago: Option<i64>,
}

async fn health(State(state): State<AppState>) -> Result<Response> {
    let database = if state.db.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    blocking(&state, |db| {
        db.tx(|tx| {
            tx.query("SELECT 1", params![])?;
            Ok(())
        })
    })
    .await?;
    // A process whose safety timers have stopped cannot escalate an alarm or raise a missed
    // check-in: it answers 503 so that a load balancer or a monitor takes it out and says so.
    let now = now_ms();
    let timers = state.timers.health(now);
    let stalled = timers == crate::safety::TimerHealth::Stalled;
    let body = axum::Json(Health {
        status: if stalled { "degraded" } else { "ok" },
        database,
        protocol: proto::PROTOCOL_VERSION,
        safety_timers: timers,
        safety_timers_last_run_ms_ago: state.timers.since_last_run(now),
    });
    let status = if stalled {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    Ok((status, body).into_response())
}

/// Checks a user name and password for any sign-in (device or console): refuses early when
/// the user's or the address's failure count is exhausted (before spending time on argon2),
/// counts and audits a failure, and returns the user on success.
pub(crate) async fn check_password(
    state: &AppState,
    username: &str,
    password: &str,
    addr: std::net::IpAddr,
) -> Result<auth::LoginCandidate> {
    let cfg = state.auth.clone();
    let user_key = auth::login_user_key(username);
    let ip_key = format!("login:ip:{addr}");
    // Every attempt is counted before the password is checked, in one statement per counter,
    // so simultaneous attempts cannot all slip under the limit; a right password gives its
    // attempt back. Past the limit, no password is even checked (no time spent on argon2).
    let username = username.to_string();
    let reserved = blocking(state, {
        let (user_key, ip_key, cfg) = (user_key.clone(), ip_key.clone(), cfg.clone());
        move |db| {
            db.tx(|tx| {
                let now = now_ms();
                let window = cfg.login_window_secs;
                // A name already locked out adds nothing to its address's count, so one
                // attacked account does not lock out its neighbours.
                match auth::rate_limit(tx, &user_key, cfg.login_failures, window, now) {
                    Err(Error::RateLimited { retry_after }) => return Ok(Err(retry_after)),
                    other => other?,
                }
                match auth::rate_limit(tx, &ip_key, cfg.login_failures * 4, window, now) {
                    // An address past its limit (a shared proxy, a clinic's NAT) still lets a
                    // user whose own name has no failure in the window try their password,
                    // up to a hard ceiling ten times higher: one attacker spraying guesses
                    // from behind a shared address does not lock everyone else out.
                    Err(Error::RateLimited { .. })
                        if auth::failures(tx, &user_key, window, now)? <= 1
                            && auth::failures(tx, &ip_key, window, now)?
                                <= cfg.login_failures * 40 =>
                    {
                        Ok(Ok(auth::find_login(tx, &username)?))
                    }
                    Err(Error::RateLimited { retry_after }) => {
                        auth::refund(tx, &user_key, window, now)?;
                        Ok(Err(retry_after))
                    }
                    other => {
                        other?;
                        Ok(Ok(auth::find_login(tx, &username)?))
                    }
                }
            })
        }
    })
    .await?;
    let candidate = match reserved {
        Ok(candidate) => candidate,
        Err(retry_after) => return Err(Error::RateLimited { retry_after }),
    };
    let password = password.to_string();
    let ok = match &candidate {
        Some(c) if !c.disabled => {
            let hash = c.password_hash.clone();
            tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
                .await
                .unwrap_or(false)
        }
        _ => false,
    };
    let Some(candidate) = candidate.filter(|_| ok) else {
        blocking(state, move |db| {
            db.tx(|tx| {
                let now = now_ms();
                auth::sweep_rate_limits(tx, "login:", cfg.login_window_secs, now)?;
                audit::anonymous(tx, now, "login.failed")?;
                Ok(())
            })
        })
        .await?;
        return Err(Error::Unauthenticated(
            "the user name or password is wrong, or the account is disabled".into(),
        ));
    };
    blocking(state, move |db| {
        db.tx(|tx| {
            let now = now_ms();
            auth::refund(tx, &user_key, cfg.login_window_secs, now)?;
            auth::refund(tx, &ip_key, cfg.login_window_secs, now)
        })
    })
    .await?;
    Ok(candidate)
}

async fn login(
    State(state): State<AppState>,
    ClientIp(addr): ClientIp,
    headers: HeaderMap,
    body: std::result::Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Wire<proto::LoginResponse>> {
    check_version(&headers)?;
    let req: proto::LoginRequest = decode(&headers, &body_bytes(body)?)?;
    Error::plain_text("device_name", &req.device_name, 100)?;
    if let Some(key) = &req.device_key {
        fieldnote_core::signing::parse_public_key(key).map_err(|reason| Error::Invalid {
            field: "device_key".into(),
            reason,
        })?;
    }
    let cfg = state.auth.clone();
    let candidate = check_password(&state, &req.username, &req.password, addr).await?;
    let device_name = req.device_name.clone();
    let user_key = auth::login_user_key(&req.username);
    let resp = blocking(&state, move |db| {
        db.tx(|tx| {
            let now = now_ms();
            // A device that will hold a team's or an agency's records is registered only
            // with the account's second factor, as the console is entered.
            if let Err(e) = auth::check_second_factor(
                tx,
                &candidate.user_id,
                req.second_factor.as_deref(),
                now,
            )? {
                if matches!(e, Error::Unauthenticated(_)) {
                    // A wrong code counts as a failed sign-in of the name.
                    let window = cfg.login_window_secs;
                    match auth::rate_limit(tx, &user_key, cfg.login_failures, window, now) {
                        Ok(()) | Err(Error::RateLimited { .. }) => {}
                        Err(other) => return Err(other),
                    }
                    audit::append(
                        tx,
                        &audit::Entry {
                            at: now,
                            actor: &candidate.user_id,
                            device: None,
                            action: "login.second_factor_failed",
                            target: &candidate.user_id,
                            detail: "{}",
                        },
                    )?;
                }
                return Ok(Err(e));
            }
            // A signing key speaks for one user: the same store signing in again keeps its
            // key, another user's device may not claim it.
            if let Some(key) = &req.device_key
                && tx
                    .query_opt(
                        "SELECT 1 FROM devices WHERE signing_key = $1 AND user_id <> $2",
                        params![key, &candidate.user_id],
                    )?
                    .is_some()
            {
                return Ok(Err(Error::Invalid {
                    field: "device_key".into(),
                    reason: "this key is registered to another user; sign in from the device's own store".into(),
                }));
            }
            let device_id = uuid::Uuid::now_v7().to_string();
            let secret = auth::new_secret();
            tx.exec(
                "INSERT INTO devices (id, user_id, name, secret_hash, created_at, signing_key)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                params![
                    &device_id,
                    &candidate.user_id,
                    &device_name,
                    auth::secret_hash(&secret),
                    now,
                    req.device_key.clone()
                ],
            )?;
            let token = auth::issue_token(
                tx,
                &candidate.user_id,
                Some(&device_id),
                cfg.token_ttl_secs,
                now,
            )?;
            let p = auth::principal_of(tx, &candidate.user_id, Some(&device_id))?;
            audit::append(
                tx,
                &audit::Entry {
                    at: now,
                    actor: &p.user_id,
                    device: Some(&device_id),
                    action: "login",
                    target: &p.user_id,
                    detail: "{}",
                },
            )?;
            Ok(Ok(proto::LoginResponse {
                device_id,
                device_secret: secret,
                access_token: token,
                expires_in: cfg.token_ttl_secs,
                identity: p.identity(),
            }))
        })
    })
    .await??;
    Ok(Wire::answer(&headers, resp))
}

/// Token refreshes allowed per device id per minute (a phone needs one per token lifetime).
const TOKENS_PER_MINUTE: i64 = 60;

async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Wire<proto::TokenResponse>> {
    check_version(&headers)?;
    let req: proto::TokenRequest = decode(&headers, &body_bytes(body)?)?;
    let cfg = state.auth.clone();
    // Every refresh is counted in a transaction of its own, so a refused one counts too; the
    // key is a hash, whatever length of id was sent.
    let key = format!("token:{}", auth::secret_hash(&req.device_id));
    blocking(&state, move |db| {
        db.tx(|tx| auth::rate_limit(tx, &key, TOKENS_PER_MINUTE, 60, now_ms()))
    })
    .await?;
    let resp = blocking(&state, move |db| {
        db.tx(|tx| {
            let now = now_ms();
            // An unknown device and a wrong credential get the same answer.
            let refused = || Error::Unauthenticated("unknown device or wrong credential".into());
            let row = tx
                .query_opt(
                    "SELECT d.user_id, d.secret_hash, d.revoked_at, u.disabled FROM devices d
                     JOIN users u ON u.id = d.user_id WHERE d.id = $1",
                    params![&req.device_id],
                )?
                .ok_or_else(refused)?;
            if row[1].text() != auth::secret_hash(&req.device_secret) {
                return Err(refused());
            }
            if row[2].opt_int().is_some() {
                return Err(Error::DeviceRevoked);
            }
            if row[3].int() != 0 {
                return Err(Error::Unauthenticated("account disabled".into()));
            }
            let token = auth::issue_token(
                tx,
                &row[0].text(),
                Some(&req.device_id),
                cfg.token_ttl_secs,
                now,
            )?;
            Ok(proto::TokenResponse {
                access_token: token,
                expires_in: cfg.token_ttl_secs,
            })
        })
    })
    .await;
    if let Err(Error::Unauthenticated(_)) = &resp {
        // Audited (without the id sent, which is the caller's text), and old counters swept.
        blocking(&state, |db| {
            db.tx(|tx| {
                let now = now_ms();
                auth::sweep_rate_limits(tx, "token:", 60, now)?;
                audit::anonymous(tx, now, "token.failed")?;
                Ok(())
            })
        })
        .await?;
    }
    Ok(Wire::answer(&headers, resp?))
}

async fn logout(State(state): State<AppState>, Authed(p): Authed) -> Result<StatusCode> {
    blocking(&state, move |db| {
        db.tx(|tx| {
            let now = now_ms();
            match &p.device_id {
                Some(d) => {
                    auth::revoke_device(tx, d, now)?;
                    tx.exec("DELETE FROM tokens WHERE device_id = $1", params![d])?;
                }
                None => {
                    tx.exec(
                        "DELETE FROM tokens WHERE user_id = $1 AND device_id IS NULL",
                        params![&p.user_id],
                    )?;
                }
            }
            audit::record(tx, &p, "logout", &p.user_id, "{}")?;
            Ok(())
        })
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(Authed(p): Authed) -> axum::Json<proto::Identity> {
    axum::Json(p.identity())
}

async fn sync_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    Bearer(token): Bearer,
    body: std::result::Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Wire<proto::SyncResponse>> {
    check_version(&headers)?;
    // The body is read now but judged only after the token is: an unauthenticated caller
    // learns nothing about what the server accepts.
    let decoded: Result<proto::SyncRequest> =
        body_bytes(body).and_then(|b| Ok(proto::decode_sync_request(body_format(&headers), &b)?));
    let (req, refusal) = match decoded {
        Ok(req) => (req, None),
        Err(e) => (
            proto::SyncRequest {
                protocol: proto::PROTOCOL_VERSION,
                cursor: proto::Cursor::default(),
                upload: Vec::new(),
            },
            Some(e),
        ),
    };
    let refusal = std::sync::Mutex::new(refusal);
    let limit = state.auth.requests_per_minute;
    let response = blocking(&state, move |db| {
        let mut parsed = sync::preparse(&req.upload);
        // Authenticate, count, ingest and audit the writes.
        let write = |tx: &mut dyn crate::db::Tx, parsed: &mut [sync::Parsed]| {
            let now = now_ms();
            let p = authenticate_counted(tx, &token, limit, now)?;
            if let Some(e) = refusal.lock().ok().and_then(|mut r| r.take()) {
                return Err(e);
            }
            if p.device_id.is_none() {
                return Err(Error::Forbidden("only a registered device syncs".into()));
            }
            let agency = policy::agency_of(tx, &p)?;
            let ingested = if req.upload.is_empty() {
                sync::Ingested::default()
            } else {
                sync::ingest(tx, &p, agency.as_deref(), &req.upload, parsed, now)?
            };
            if !ingested.disclosed.is_empty() {
                audit_records(tx, &p, "sync.refused_state", &ingested.disclosed)?;
            }
            if !ingested.written.is_empty() {
                audit_records(tx, &p, "sync.write", &ingested.written)?;
            }
            Ok((p, agency, ingested))
        };
        // Compute the download and audit the reads.
        let read = |tx: &mut dyn crate::db::Tx, p: &Principal, agency: Option<&str>| {
            let now = now_ms();
            let download = sync::download(tx, p, agency, req.cursor, now)?;
            if !download.read.is_empty() {
                audit_records(tx, p, "sync.read", &download.read)?;
            }
            Ok::<_, Error>(download.response)
        };
        // Name who holds every key that signed what goes back.
        let with_keys = |tx: &mut dyn crate::db::Tx, mut response: proto::SyncResponse| {
            response.signer_keys = sync::signer_keys(tx, &response)?;
            Ok::<_, Error>(response)
        };
        // The response is sent only after its audit entries are committed. SQLite takes one
        // transaction (one durable commit); PostgreSQL two, so that the feed counter's lock
        // is not held while the download is computed.
        if db.is_postgres() {
            let (p, agency, ingested) = counted(db, &token, |tx| write(tx, &mut parsed))?;
            db.tx(|tx| {
                let mut response = read(tx, &p, agency.as_deref())?;
                response.acks = ingested.acks.clone();
                with_keys(tx, response)
            })
        } else {
            counted(db, &token, |tx| {
                let (p, agency, ingested) = write(tx, &mut parsed)?;
                let mut response = read(tx, &p, agency.as_deref())?;
                response.acks = ingested.acks;
                with_keys(tx, response)
            })
        }
    })
    .await?;
    Ok(Wire::answer(&headers, response))
}

fn audit_records(
    tx: &mut dyn crate::db::Tx,
    p: &Principal,
    action: &str,
    ids: &std::collections::BTreeSet<String>,
) -> Result<()> {
    let target = ids.iter().cloned().collect::<Vec<_>>().join(",");
    let detail = format!("{{\"records\":{}}}", ids.len());
    audit::record(tx, p, action, &target, &detail).map(|_| ())
}

/// An id in a URL path, checked to be a uuid.
#[derive(Deserialize)]
pub struct IdPath {
    /// The id.
    pub id: String,
}

/// Extracts and checks `{id}`.
pub fn path_id(Path(p): Path<IdPath>) -> Result<String> {
    uuid::Uuid::parse_str(&p.id)
        .map(|u| u.to_string())
        .map_err(|_| Error::invalid("id", "is not a valid id"))
}
