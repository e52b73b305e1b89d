//! The safety routes: the device's safety path, alarm answering, sessions, team settings
//! and the live event stream.
//!
//! The safety path authenticates without counting against the request rate limit: a phone
//! that has used up its sync allowance must still be able to raise an alarm.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use fieldnote_protocol::safety::{
    self as proto, AlarmView, ResolveRequest, ResolveResponse, SafetyRequest, SafetyResponse,
    SafetySettings, SessionView,
};
use serde::Deserialize;

use super::{Items, events};
use crate::app::{
    AppState, Authed, Bearer, IdPath, Wire, blocking, body_bytes, body_format, check_version,
    decode, now_ms, path_id,
};
use crate::auth::{self, Principal};
use crate::error::{Error, Result};
use crate::policy;
use crate::{audit, params};

/// After a change: wake live subscribers, hand notices to the notifier, then append the
/// audit entries of new alarms.
pub(crate) async fn after_change(state: &AppState) {
    state.safety.hub.wake(0);
    let safety = state.safety.clone();
    let done = blocking(state, move |db| {
        super::notify::deliver(db, safety.notifier.as_ref(), safety.clock.now_ms())?;
        super::audit_raised(db)
    })
    .await;
    if let Err(e) = done {
        tracing::error!(error = %e, "safety follow-up failed; the timer loop retries");
    }
}

/// `POST /v1/safety`: a device's alarms and session events.
pub async fn post_safety(
    State(state): State<AppState>,
    headers: HeaderMap,
    Bearer(token): Bearer,
    body: std::result::Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Wire<SafetyResponse>> {
    check_version(&headers)?;
    let decoded: Result<SafetyRequest> = body_bytes(body).and_then(|b| {
        Ok(fieldnote_protocol::decode_safety_request(
            body_format(&headers),
            &b,
        )?)
    });
    let clock = state.safety.clock.clone();
    let receipts = blocking(&state, move |db| {
        // Alarms first, in a transaction of their own that nothing else in the batch can
        // hold back; then the session events, in order.
        let (p, agency, req, mut receipts) = db.urgent_tx(|tx| {
            let now = clock.now_ms();
            let p = auth::authenticate(tx, &token, now_ms())?;
            // Judged only after the token, like the sync body (its item count included).
            let req = decoded.clone()?;
            if p.device_id.is_none() {
                return Err(Error::Forbidden(
                    "only a registered device raises alarms".into(),
                ));
            }
            let agency = policy::agency_of(tx, &p)?;
            let alarms = super::ingest(tx, &p, agency.as_deref(), &req, Items::Alarms, now)?;
            Ok((p, agency, req, alarms))
        })?;
        if req.items.len() > receipts.len() {
            receipts.extend(db.tx(|tx| {
                let now = clock.now_ms();
                super::ingest(tx, &p, agency.as_deref(), &req, Items::Sessions, now)
            })?);
        }
        receipts.sort_by_key(|(i, _)| *i);
        Ok(receipts.into_iter().map(|(_, r)| r).collect::<Vec<_>>())
    })
    .await?;
    after_change(&state).await;
    Ok(Wire::answer(&headers, SafetyResponse { receipts }))
}

/// Which alarms to list.
#[derive(Deserialize)]
pub struct AlarmQuery {
    /// Include those closed in the last week.
    #[serde(default)]
    pub all: bool,
}

async fn principal_tx<R: Send + 'static>(
    state: &AppState,
    p: Principal,
    f: impl Fn(&mut dyn crate::db::Tx, &Principal, Option<&str>, i64) -> Result<R> + Send + 'static,
) -> Result<R> {
    let clock = state.safety.clock.clone();
    blocking(state, move |db| {
        db.tx(|tx| {
            let agency = policy::agency_of(tx, &p)?;
            f(tx, &p, agency.as_deref(), clock.now_ms())
        })
    })
    .await
}

/// `GET /v1/alarms`: alarms in the caller's scope.
pub async fn list_alarms(
    State(state): State<AppState>,
    Authed(p): Authed,
    headers: HeaderMap,
    Query(q): Query<AlarmQuery>,
) -> Result<Wire<Vec<AlarmView>>> {
    let alarms = principal_tx(&state, p, move |tx, p, agency, now| {
        let list = super::list_alarms(tx, p, agency, q.all, now)?;
        if !list.is_empty() {
            audit::record(
                tx,
                p,
                "alarm.list",
                "-",
                &format!("{{\"alarms\":{}}}", list.len()),
            )?;
        }
        Ok(list)
    })
    .await?;
    Ok(Wire::answer(&headers, alarms))
}

/// `GET /v1/alarms/{id}`: one alarm (its worker may read it: "help is coming").
pub async fn get_alarm(
    State(state): State<AppState>,
    Authed(p): Authed,
    headers: HeaderMap,
    path: Path<IdPath>,
) -> Result<Wire<AlarmView>> {
    let id = path_id(path)?;
    let alarm = principal_tx(&state, p, move |tx, p, agency, _| {
        let a = super::visible_alarm(tx, p, agency, &id)?;
        audit::record(tx, p, "alarm.read", &id, "{}")?;
        Ok(a)
    })
    .await?;
    Ok(Wire::answer(&headers, alarm))
}

/// `POST /v1/alarms/{id}/acknowledge`.
pub async fn acknowledge(
    State(state): State<AppState>,
    Authed(p): Authed,
    headers: HeaderMap,
    path: Path<IdPath>,
) -> Result<Wire<AlarmView>> {
    let id = path_id(path)?;
    let alarm = principal_tx(&state, p, move |tx, p, agency, now| {
        super::acknowledge(tx, p, agency, &id, now)
    })
    .await?;
    after_change(&state).await;
    Ok(Wire::answer(&headers, alarm))
}

/// `POST /v1/alarms/{id}/resolve`.
pub async fn resolve(
    State(state): State<AppState>,
    Authed(p): Authed,
    headers: HeaderMap,
    path: Path<IdPath>,
    body: std::result::Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Wire<ResolveResponse>> {
    let id = path_id(path)?;
    let req: ResolveRequest = decode(&headers, &body_bytes(body)?)?;
    let resp = principal_tx(&state, p, move |tx, p, agency, now| {
        super::resolve(tx, p, agency, &id, &req, now)
    })
    .await?;
    after_change(&state).await;
    Ok(Wire::answer(&headers, resp))
}

/// An alarm and its audit entries (and its session's), for the people answering it; the
/// reading is itself audited.
pub(crate) fn alarm_trail(
    tx: &mut dyn crate::db::Tx,
    p: &Principal,
    agency: Option<&str>,
    id: &str,
) -> Result<(AlarmView, Vec<audit::Stored>)> {
    let a = super::visible_alarm(tx, p, agency, id)?;
    if a.worker_id == p.user_id && p.role == fieldnote_protocol::ServerRole::Worker {
        return Err(Error::NotFound("no such alarm".into()));
    }
    let session = a.session_id.clone().unwrap_or_default();
    let rows = tx.query(
        "SELECT seq, at, actor, device, action, target, detail, prev_hash, hash
         FROM audit WHERE target = $1 OR target = $2 ORDER BY seq",
        params![&a.id, &session],
    )?;
    audit::record(tx, p, "alarm.trail", &a.id, "{}")?;
    Ok((a, rows.into_iter().map(audit::stored).collect()))
}

/// `GET /v1/alarms/{id}/trail`: the alarm's audit entries, for the people answering.
pub async fn trail(
    State(state): State<AppState>,
    Authed(p): Authed,
    path: Path<IdPath>,
) -> Result<axum::Json<Vec<audit::Stored>>> {
    let id = path_id(path)?;
    let entries = principal_tx(&state, p, move |tx, p, agency, _| {
        Ok(alarm_trail(tx, p, agency, &id)?.1)
    })
    .await?;
    Ok(axum::Json(entries))
}

/// `GET /v1/sessions`: sessions under way in the caller's scope.
pub async fn list_sessions(
    State(state): State<AppState>,
    Authed(p): Authed,
    headers: HeaderMap,
) -> Result<Wire<Vec<SessionView>>> {
    let sessions = principal_tx(&state, p, move |tx, p, agency, _| {
        let list = super::list_sessions(tx, p, agency)?;
        if !list.is_empty() {
            audit::record(
                tx,
                p,
                "session.list",
                "-",
                &format!("{{\"sessions\":{}}}", list.len()),
            )?;
        }
        Ok(list)
    })
    .await?;
    Ok(Wire::answer(&headers, sessions))
}

/// `GET /v1/teams/{id}/safety`: the team's settings (its own or the defaults).
pub async fn get_team_settings(
    State(state): State<AppState>,
    Authed(p): Authed,
    path: Path<IdPath>,
) -> Result<axum::Json<SafetySettings>> {
    let team = path_id(path)?;
    let settings = principal_tx(&state, p, move |tx, p, agency, _| {
        super::require_configure(tx, p, agency, &team)?;
        super::settings_for(tx, &team)
    })
    .await?;
    Ok(axum::Json(settings))
}

/// `PUT /v1/teams/{id}/safety`: replaces the team's settings.
pub async fn put_team_settings(
    State(state): State<AppState>,
    Authed(p): Authed,
    headers: HeaderMap,
    path: Path<IdPath>,
    body: std::result::Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<axum::Json<SafetySettings>> {
    let team = path_id(path)?;
    let settings: SafetySettings = decode(&headers, &body_bytes(body)?)?;
    let saved = principal_tx(&state, p, move |tx, p, agency, now| {
        super::require_configure(tx, p, agency, &team)?;
        super::put_settings(tx, p, &team, &settings, now)?;
        Ok(settings.clone())
    })
    .await?;
    Ok(axum::Json(saved))
}

/// Who a stream is for, checked again before every read so the stream ends when the
/// credential stops being valid (a bearer token expires, a console session times out).
pub(crate) type StreamAuth =
    std::sync::Arc<dyn Fn(&mut dyn crate::db::Tx, i64) -> Result<Principal> + Send + Sync>;

/// Renews a stream's credential at `now` (milliseconds), failing once it has ended.
pub(crate) type Renew =
    std::sync::Arc<dyn Fn(&mut dyn crate::db::Tx, i64) -> Result<()> + Send + Sync>;

/// A stream that proves it is alive: every `every` without an event it checks and renews the
/// credential with `renew` (a console page left open on the alarms keeps its session) and
/// sends a `heartbeat` event, so a page can tell a quiet stream from a dead one.
#[derive(Clone)]
pub(crate) struct Heartbeat {
    /// The longest silence on the stream.
    pub every: std::time::Duration,
    /// Renews the credential, failing when it has ended (the stream then closes).
    pub renew: Renew,
}

/// The data of a `heartbeat` event: the server's time and the longest silence to expect.
#[derive(serde::Serialize)]
struct Beat {
    at: i64,
    every_ms: u64,
}

fn heartbeat_event(every: std::time::Duration) -> Event {
    Event::default()
        .event("heartbeat")
        .retry(std::time::Duration::from_secs(3))
        .json_data(Beat {
            at: now_ms(),
            every_ms: u64::try_from(every.as_millis()).unwrap_or(u64::MAX),
        })
        .unwrap_or_else(|_| Event::default().comment("heartbeat"))
}

struct Subscription {
    state: AppState,
    auth: StreamAuth,
    heartbeat: Option<Heartbeat>,
    beat_now: bool,
    last: i64,
    rx: tokio::sync::watch::Receiver<i64>,
    buffer: VecDeque<proto::SafetyEvent>,
}

fn sse_event(e: &proto::SafetyEvent) -> Event {
    let name = if e.alarm.is_some() {
        "alarm"
    } else {
        "session"
    };
    Event::default()
        .id(e.seq.to_string())
        .event(name)
        .json_data(e)
        .unwrap_or_else(|_| Event::default().comment("unserializable event"))
}

/// `GET /v1/events`: alarm and session changes in the caller's scope, pushed as they commit.
/// `Last-Event-ID` resumes after a reconnect; the stream ends when the token stops being
/// valid (expired, signed out, revoked), and the client reconnects with a fresh one.
pub async fn events(
    State(state): State<AppState>,
    Bearer(token): Bearer,
    headers: HeaderMap,
) -> Result<Sse<impl futures_util::Stream<Item = std::result::Result<Event, Infallible>>>> {
    let auth: StreamAuth = std::sync::Arc::new(move |tx, now| auth::authenticate(tx, &token, now));
    stream_events(state, auth, None, last_event_id(&headers)).await
}

/// The `Last-Event-ID` a reconnecting stream sends.
pub(crate) fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The live stream of safety events for whoever `auth` names, after event `resume` or from
/// now, with a heartbeat when one is given (its first beat goes out at once). Shared by the
/// device route and the console.
pub(crate) async fn stream_events(
    state: AppState,
    auth: StreamAuth,
    heartbeat: Option<Heartbeat>,
    resume: Option<i64>,
) -> Result<Sse<impl futures_util::Stream<Item = std::result::Result<Event, Infallible>>>> {
    let first_auth = auth.clone();
    let last = blocking(&state, move |db| {
        db.tx(|tx| {
            let p = first_auth(tx, now_ms())?;
            if p.role == fieldnote_protocol::ServerRole::Administrator {
                return Err(Error::Forbidden(
                    "administrators do not receive alarms".into(),
                ));
            }
            audit::record(tx, &p, "safety.stream", "-", "{}")?;
            match resume {
                Some(seq) => Ok(seq),
                None => events::latest(tx),
            }
        })
    })
    .await?;
    let sub = Subscription {
        rx: state.safety.hub.subscribe(),
        state,
        auth,
        beat_now: heartbeat.is_some(),
        heartbeat,
        last,
        buffer: VecDeque::new(),
    };
    let stream = futures_util::stream::unfold(sub, |mut sub| async move {
        loop {
            if sub.beat_now
                && let Some(hb) = sub.heartbeat.clone()
            {
                sub.beat_now = false;
                let renew = hb.renew.clone();
                let renewed = blocking(&sub.state, move |db| db.tx(|tx| renew(tx, now_ms()))).await;
                if renewed.is_err() {
                    // The credential ended: close, and the page says so.
                    return None;
                }
                return Some((Ok(heartbeat_event(hb.every)), sub));
            }
            if let Some(e) = sub.buffer.pop_front() {
                let event = sse_event(&e);
                return Some((Ok(event), sub));
            }
            // Mark the current wake as seen before reading, so a change committed during
            // the read wakes the wait below.
            sub.rx.borrow_and_update();
            let (auth, last) = (sub.auth.clone(), sub.last);
            let read = blocking(&sub.state, move |db| {
                db.read_tx(|tx| {
                    let p = auth(tx, now_ms())?;
                    let agency = policy::agency_of(tx, &p)?;
                    events::read_after(tx, &p, agency.as_deref(), last, 100)
                })
            })
            .await;
            match read {
                Ok(list) if !list.is_empty() => {
                    sub.last = list.last().map_or(sub.last, |e| e.seq);
                    sub.buffer.extend(list);
                    continue;
                }
                Ok(_) => {}
                // The credential ended: close; the client signs in again.
                Err(Error::Unauthenticated(_) | Error::Forbidden(_) | Error::DeviceRevoked) => {
                    return None;
                }
                // Anything else (a busy database under load) is passing: a supervisor's
                // alarm stream must not drop for it. Read again shortly.
                Err(e) => {
                    tracing::warn!(error = %e, "reading the event stream failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                    continue;
                }
            }
            let changed = match &sub.heartbeat {
                None => sub.rx.changed().await.is_ok(),
                Some(hb) => match tokio::time::timeout(hb.every, sub.rx.changed()).await {
                    Ok(changed) => changed.is_ok(),
                    Err(_silent) => {
                        sub.beat_now = true;
                        true
                    }
                },
            };
            if !changed {
                return None;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
