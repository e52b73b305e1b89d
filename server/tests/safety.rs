//! Lone-worker safety end to end, on a real server over loopback, on SQLite and PostgreSQL:
//! escalation tier by tier on a controllable clock, exactly-once timers across two server
//! processes, idempotent alarms and clear refusals, the alarm ahead of a backlog, an alarm
//! acknowledged while the same device's bulk upload is held open, dropped connections and
//! a server restart during delivery, and the live event stream.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Backend, TestServer, raw, raw_post};
use fieldnote_client::{
    Backoff, Client, Error as ClientError, HttpTransport, TlsOptions, Transport,
};
use fieldnote_core::Timestamp;
use fieldnote_core::store::SafetyStore;
use fieldnote_core::store::safety::AlarmStatus;
use fieldnote_protocol::ServerRole;
use fieldnote_protocol::safety::{
    AlarmKind, AlarmState, SafetySettings, SessionState, Tier, TierTarget,
};
use fieldnote_server::safety::{ManualClock, RecordingNotifier, Safety};

fn in_minutes(m: i64) -> Timestamp {
    Timestamp::from_millis(Timestamp::now().millis() + m * 60_000)
}

/// A server whose safety clock the test moves, recording its notices.
fn safety_server(backend: Backend) -> (TestServer, Arc<ManualClock>, Arc<RecordingNotifier>) {
    let clock = Arc::new(ManualClock::new(Timestamp::now().millis()));
    let notifier = Arc::new(RecordingNotifier::default());
    let server = TestServer::start_safety(
        backend,
        Safety {
            clock: clock.clone(),
            notifier: notifier.clone(),
            hub: Default::default(),
        },
    );
    (server, clock, notifier)
}

struct Team {
    id: String,
    supervisor: String,
    on_call: String,
    director: String,
}

fn team(server: &TestServer, name: &str) -> Team {
    let id = server.add_team(name);
    let s = format!("sup.{name}");
    let o = format!("oncall.{name}");
    let d = format!("dir.{name}");
    server.add_user(&format!("worker.{name}"), ServerRole::Worker, Some(&id));
    let supervisor = server.add_user(&s, ServerRole::Supervisor, Some(&id)).0;
    let on_call = server.add_user(&o, ServerRole::Worker, Some(&id)).0;
    let director = server
        .add_user(&d, ServerRole::ProgramDirector, Some(&id))
        .0;
    Team {
        id,
        supervisor,
        on_call,
        director,
    }
}

fn three_tier_ladder(t: &Team) -> SafetySettings {
    SafetySettings {
        grace_secs: 120,
        fallback_secs: 60,
        ladder: vec![
            Tier {
                label: "supervisor".into(),
                target: TierTarget::TeamSupervisors,
                ack_timeout_secs: 60,
            },
            Tier {
                label: "on-call".into(),
                target: TierTarget::Users(vec![t.on_call.clone()]),
                ack_timeout_secs: 60,
            },
            Tier {
                label: "director".into(),
                target: TierTarget::ProgramDirectors,
                ack_timeout_secs: 60,
            },
        ],
    }
}

fn put_settings(server: &TestServer, token: &str, team: &str, s: &SafetySettings) -> u16 {
    raw(
        &server.url,
        "PUT",
        &format!("/v1/teams/{team}/safety"),
        Some(token),
        Some(serde_json::to_vec(s).unwrap()),
        &[],
    )
    .0
}

/// An alarm's audit trail, as the people answering see it.
fn trail(server: &TestServer, token: &str, id: &str) -> Vec<serde_json::Value> {
    let (status, body) = raw(
        &server.url,
        "GET",
        &format!("/v1/alarms/{id}/trail"),
        Some(token),
        None,
        &[],
    );
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

fn notices(n: &RecordingNotifier) -> Vec<(u32, String, String)> {
    n.sent()
        .into_iter()
        .map(|x| (x.tier, x.user_id, x.reason))
        .collect()
}

fn escalation(backend: Backend) {
    let (server, clock, notifier) = safety_server(backend);
    let t = team(&server, "east");
    let sup = server.device("sup.east");
    assert_eq!(
        put_settings(&server, &sup.access_token(), &t.id, &three_tier_ladder(&t)),
        200
    );
    let mut bad = three_tier_ladder(&t);
    bad.ladder[1].target = TierTarget::Users(vec![uuid::Uuid::new_v4().to_string()]);
    assert_eq!(put_settings(&server, &sup.access_token(), &t.id, &bad), 422);

    let mut worker = server.device("worker.east");
    let member = worker.add_member(1);
    worker.sync();
    let safety = worker.store.safety();
    let session = safety
        .start_session(Some(member), "home visit", in_minutes(30), None)
        .unwrap();
    worker.client.send_safety(safety).unwrap();
    // The phone goes silent. Nothing fires before the deadline (end + 120 s grace).
    clock.advance_secs(30 * 60 + 110);
    assert_eq!(
        server
            .running
            .as_ref()
            .unwrap()
            .run_timers()
            .unwrap()
            .missed,
        0
    );
    clock.advance_secs(20);
    let run = |s: &TestServer| s.running.as_ref().unwrap().run_timers().unwrap();
    let r = run(&server);
    assert_eq!((r.missed, r.notices), (1, 1));
    assert_eq!(run(&server).missed, 0, "a timer fires once");
    assert_eq!(
        notices(&notifier),
        vec![(1, t.supervisor.clone(), "escalation".into())]
    );
    let alarms = sup.client.alarms(false).unwrap();
    assert_eq!(alarms.len(), 1);
    let alarm = alarms[0].clone();
    assert_eq!(alarm.kind, AlarmKind::MissedCheckIn);
    assert_eq!(alarm.session_id.as_deref(), Some(session.as_str()));
    assert_eq!(alarm.member_id, Some(member.to_string()));
    assert_eq!((alarm.tier, alarm.tier_label.as_str()), (1, "supervisor"));

    // Tier by tier, each after its own timeout.
    clock.advance_secs(59);
    assert_eq!(run(&server).escalated, 0);
    clock.advance_secs(2);
    assert_eq!(run(&server).escalated, 1);
    clock.advance_secs(61);
    assert_eq!(run(&server).escalated, 1);
    clock.advance_secs(61);
    let r = run(&server);
    assert_eq!((r.escalated, r.exhausted), (0, 1));
    let mut everyone = vec![t.supervisor.clone(), t.on_call.clone(), t.director.clone()];
    everyone.sort();
    let sent = notices(&notifier);
    assert_eq!(sent[1], (2, t.on_call.clone(), "escalation".into()));
    assert_eq!(sent[2], (3, t.director.clone(), "escalation".into()));
    let mut last: Vec<String> = sent[3..]
        .iter()
        .map(|(tier, u, reason)| {
            assert_eq!((*tier, reason.as_str()), (0, "ladder_exhausted"));
            u.clone()
        })
        .collect();
    last.sort();
    assert_eq!(
        last, everyone,
        "when the ladder runs out, everyone on it is alerted"
    );
    clock.advance_secs(3600);
    assert_eq!(run(&server), Default::default(), "nothing more fires");

    // The first acknowledgement takes ownership; the second is told who has it.
    let view = sup.client.acknowledge(&alarm.id).unwrap();
    assert_eq!(view.state, AlarmState::Acknowledged);
    assert_eq!(view.acknowledged_by_name.as_deref(), Some("sup east"));
    let director = server.device("dir.east");
    match director.client.acknowledge(&alarm.id) {
        Err(ClientError::Refused {
            status: 409,
            message,
            ..
        }) => {
            assert!(message.contains("sup east"), "{message}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // A worker cannot acknowledge, even on their own team.
    assert!(worker.client.acknowledge(&alarm.id).is_err());
    // Resolution records the outcome and the incident report's deadline.
    let resolved = director
        .client
        .resolve(&alarm.id, "worker reached by phone; safe", true)
        .unwrap();
    assert_eq!(resolved.alarm.state, AlarmState::Resolved);
    let due = resolved.incident_report_due.unwrap();
    assert_eq!(
        due,
        fieldnote_core::rules::clock::Clock::BusinessDays(1)
            .deadline(Timestamp::from_millis(alarm.raised_at))
            .millis()
    );
    let sessions = sup.client.sessions().unwrap();
    assert!(sessions.is_empty(), "the session closed with its alarm");

    // Every step is in the hash-chained audit log, with server and device time.
    server.add_user("root", ServerRole::Administrator, None);
    let root = server.device("root");
    let trail = trail(&server, &director.access_token(), &alarm.id);
    let actions: Vec<&str> = trail
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "session.start",
            "alarm.raise.missed_check_in",
            "alarm.escalate",
            "alarm.escalate",
            "alarm.ladder_exhausted",
            "alarm.acknowledge",
            "alarm.resolve"
        ]
    );
    let start: serde_json::Value =
        serde_json::from_str(trail[0]["detail"].as_str().unwrap()).unwrap();
    assert!(start["device_time"].is_i64() && start["server_time"].is_i64());
    let (status, verified) = raw(
        &server.url,
        "GET",
        "/v1/admin/audit?verify=true",
        Some(&root.access_token()),
        None,
        &[],
    );
    assert_eq!(status, 200);
    assert!(
        verified["verification"]["first_broken"].is_null(),
        "{verified}"
    );
}

#[test]
fn escalation_sqlite() {
    escalation(Backend::Sqlite);
}

#[test]
fn escalation_postgres() {
    escalation(Backend::Postgres);
}

fn bad_input_and_idempotence(backend: Backend) {
    let (server, clock, _) = safety_server(backend);
    team(&server, "west");
    let worker = server.device("worker.west");
    let token = worker.access_token();
    let now = Timestamp::now().millis();
    let post = |body: serde_json::Value| {
        raw_post(&server.url, "/v1/safety", Some(&token), &body.to_string())
    };
    let alarm_id = uuid::Uuid::now_v7().to_string();
    let alarm = serde_json::json!({"type": "alarm", "id": alarm_id, "kind": "panic",
        "device_time": now, "member_id": uuid::Uuid::new_v4().to_string()});
    // The same alarm three times, once in a batch with itself: one alarm.
    for items in [vec![alarm.clone()], vec![alarm.clone(), alarm.clone()]] {
        let (status, resp) = post(serde_json::json!({"sent_at": now, "items": items}));
        assert_eq!(status, 200);
        for r in resp["receipts"].as_array().unwrap() {
            assert_eq!(r["outcome"], "accepted");
            assert_eq!(r["alarm"]["id"], alarm_id.as_str());
        }
    }
    let sup = server.device("sup.west");
    let alarms = sup.client.alarms(false).unwrap();
    assert_eq!(alarms.len(), 1, "never a second alarm");
    // An unknown member is left out, with a warning; the alarm stands.
    assert_eq!(alarms[0].member_id, None);
    let (_, again) = post(
        serde_json::json!({"sent_at": now, "items": [{"type": "alarm",
        "id": uuid::Uuid::now_v7().to_string(), "kind": "discreet", "device_time": now,
        "member_id": "not-an-id"}]}),
    );
    assert!(
        again["receipts"][0]["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("member_id:"),
        "{again}"
    );
    // Refusals name the field.
    let session = uuid::Uuid::now_v7().to_string();
    let cases = [
        (
            serde_json::json!({"type": "alarm", "id": "x", "kind": "panic", "device_time": now}),
            "id",
        ),
        (
            serde_json::json!({"type": "alarm", "id": uuid::Uuid::now_v7().to_string(),
            "kind": "missed_check_in", "device_time": now}),
            "kind",
        ),
        (
            serde_json::json!({"type": "session", "event_id": uuid::Uuid::now_v7().to_string(),
            "session_id": session, "action": "start", "place": "home",
            "expected_end": now - 60_000, "device_time": now}),
            "expected_end",
        ),
        (
            serde_json::json!({"type": "session", "event_id": uuid::Uuid::now_v7().to_string(),
            "session_id": session, "action": "start", "place": " ",
            "expected_end": now + 60_000, "device_time": now}),
            "place",
        ),
        (
            serde_json::json!({"type": "session", "event_id": uuid::Uuid::now_v7().to_string(),
            "session_id": uuid::Uuid::now_v7().to_string(), "action": "check_in",
            "device_time": now}),
            "session_id",
        ),
    ];
    for (item, field) in cases {
        let (status, resp) = post(serde_json::json!({"sent_at": now, "items": [item]}));
        assert_eq!(status, 200);
        assert_eq!(resp["receipts"][0]["outcome"], "refused", "{resp}");
        assert_eq!(resp["receipts"][0]["field"], field, "{resp}");
    }
    // Whole-request errors.
    let (status, resp) = raw_post(&server.url, "/v1/safety", Some(&token), "{not json");
    assert_eq!((status, resp["code"].as_str()), (400, Some("bad_request")));
    let many: Vec<_> = (0..201).map(|_| alarm.clone()).collect();
    let (status, resp) = post(serde_json::json!({"sent_at": now, "items": many}));
    assert_eq!((status, resp["field"].as_str()), (422, Some("items")));
    let (status, _) = raw_post(&server.url, "/v1/safety", None, "{}");
    assert_eq!(status, 401);
    assert_eq!(sup.client.alarms(false).unwrap().len(), 2);

    // A phone whose clock is three hours slow: server time drives the timers.
    let skew = 3 * 3_600_000;
    let phone_now = now - skew;
    let slow = uuid::Uuid::now_v7().to_string();
    let (_, resp) = post(serde_json::json!({"sent_at": phone_now, "items": [
        {"type": "session", "event_id": uuid::Uuid::now_v7().to_string(), "session_id": slow,
         "action": "start", "place": "street outreach", "expected_end": phone_now + 1_800_000,
         "device_time": phone_now}]}));
    let s = &resp["receipts"][0]["session"];
    let server_now = clock.now();
    assert!(
        (s["expected_end"].as_i64().unwrap() - (server_now + 1_800_000)).abs() < 10_000,
        "{s}"
    );
    assert!(
        (s["started_at"].as_i64().unwrap() - server_now).abs() < 10_000,
        "{s}"
    );
}

trait Now {
    fn now(&self) -> i64;
}

impl Now for ManualClock {
    fn now(&self) -> i64 {
        fieldnote_server::safety::Clock::now_ms(self)
    }
}

/// Attacker-shaped safety input: an alarm id in upper case is the same alarm as its
/// canonical form, and can be answered by either; a flood of new alarms from one phone stops
/// at the cap while its first alarm can still be resent; an extension to the end of time
/// never wraps into a deadline in the past.
fn ids_floods_and_overflow(backend: Backend) {
    let (server, clock, _) = safety_server(backend);
    team(&server, "north");
    let worker = server.device("worker.north");
    let token = worker.access_token();
    let now = Timestamp::now().millis();
    let post = |items: serde_json::Value| {
        let (status, resp) = raw_post(
            &server.url,
            "/v1/safety",
            Some(&token),
            &serde_json::json!({"sent_at": now, "items": items}).to_string(),
        );
        assert_eq!(status, 200, "{resp}");
        resp["receipts"].clone()
    };
    let id = uuid::Uuid::now_v7().to_string();
    let upper = id.to_uppercase();
    let r = post(
        serde_json::json!([{"type": "alarm", "id": upper, "kind": "panic",
        "device_time": now}]),
    );
    assert_eq!(
        r[0]["alarm"]["id"],
        id.as_str(),
        "stored in its canonical form"
    );
    let r = post(
        serde_json::json!([{"type": "alarm", "id": id, "kind": "panic",
        "device_time": now}]),
    );
    assert_eq!(r[0]["outcome"], "accepted");
    let sup = server.device("sup.north");
    assert_eq!(
        sup.client.alarms(false).unwrap().len(),
        1,
        "one alarm, not two"
    );
    let (status, view) = raw(
        &server.url,
        "POST",
        &format!("/v1/alarms/{upper}/acknowledge"),
        Some(&sup.access_token()),
        Some(b"{}".to_vec()),
        &[],
    );
    assert_eq!(status, 200, "acknowledged by its upper-case id: {view}");
    assert_eq!(view["state"], "acknowledged");

    // A flood: new alarms stop at the cap; a resend of one already raised still goes in.
    let cap = fieldnote_server::safety::MAX_OPEN_ALARMS_PER_DEVICE;
    let flood: Vec<serde_json::Value> = (0..cap + 5)
        .map(|_| {
            serde_json::json!({"type": "alarm", "id": uuid::Uuid::now_v7().to_string(),
                "kind": "panic", "device_time": now})
        })
        .collect();
    let r = post(serde_json::Value::Array(flood.clone()));
    let accepted = r
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["outcome"] == "accepted")
        .count() as i64;
    assert_eq!(accepted, cap - 1, "the first alarm is open too: {r}");
    let refused = r.as_array().unwrap().last().unwrap();
    assert_eq!(refused["field"], "id", "{refused}");
    let r = post(serde_json::json!([flood[0].clone()]));
    assert_eq!(r[0]["outcome"], "accepted", "a resend is never capped");

    // An extension to the end of time: refused or bounded, never a deadline in the past.
    let session = uuid::Uuid::now_v7().to_string();
    let r = post(serde_json::json!([
        {"type": "session", "event_id": uuid::Uuid::now_v7().to_string(),
         "session_id": session, "action": "start", "device_time": now,
         "place": "Court", "expected_end": now + 3_600_000},
        {"type": "session", "event_id": uuid::Uuid::now_v7().to_string(),
         "session_id": session, "action": "extend", "device_time": i64::MAX - 10,
         "until": i64::MAX}
    ]));
    assert_eq!(r[0]["outcome"], "accepted", "{r}");
    clock.advance_secs(60);
    let report = server.running.as_ref().unwrap().run_timers().unwrap();
    assert_eq!(report.missed, 0, "no missed check-in fires at once: {r}");
}

/// An administrator never answers or sees an alarm: a ladder naming one is refused, and one
/// stored before that rule (or written by hand) alerts them of nothing and shows them
/// nothing of the alarm.
fn administrators_never_answer(backend: Backend) {
    let (server, clock, notifier) = safety_server(backend);
    let t = team(&server, "south");
    let (admin, _) = server.add_user("admin.south", ServerRole::Administrator, Some(&t.id));
    let sup = server.device("sup.south");
    let mut ladder = three_tier_ladder(&t);
    ladder.ladder[0].target = TierTarget::Users(vec![admin.clone()]);
    let (status, body) = raw(
        &server.url,
        "PUT",
        &format!("/v1/teams/{}/safety", t.id),
        Some(&sup.access_token()),
        Some(serde_json::to_vec(&ladder).unwrap()),
        &[],
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "ladder[0].target", "{body}");
    // Written by hand, as an old database might hold it.
    let json = serde_json::to_string(&ladder).unwrap();
    server
        .db
        .tx(|tx| {
            tx.exec(
                "INSERT INTO team_safety (team_id, settings, updated_at) VALUES ($1, $2, 0)",
                fieldnote_server::params![&t.id, &json],
            )
        })
        .unwrap();
    let worker = server.device("worker.south");
    let now = Timestamp::now().millis();
    let id = uuid::Uuid::now_v7().to_string();
    let (status, _) = raw_post(
        &server.url,
        "/v1/safety",
        Some(&worker.access_token()),
        &serde_json::json!({"sent_at": now, "items": [{"type": "alarm", "id": id,
            "kind": "panic", "device_time": now,
            "location": {"latitude": 42.3, "longitude": -71.1}}]})
        .to_string(),
    );
    assert_eq!(status, 200);
    clock.advance_secs(61);
    server.running.as_ref().unwrap().run_timers().unwrap();
    let root = server.device("admin.south");
    let token = root.access_token();
    let (status, body) = raw(
        &server.url,
        "GET",
        &format!("/v1/alarms/{id}"),
        Some(&token),
        None,
        &[],
    );
    assert_eq!(status, 404, "{body}");
    let (status, body) = raw(
        &server.url,
        "POST",
        &format!("/v1/alarms/{id}/acknowledge"),
        Some(&token),
        Some(b"{}".to_vec()),
        &[],
    );
    assert!(matches!(status, 403 | 404), "{status} {body}");
    assert!(!body.to_string().contains("42.3"));
    assert!(
        notices(&notifier).iter().all(|(_, user, _)| *user != admin),
        "no notice goes to an administrator"
    );
}

#[test]
fn administrators_never_answer_sqlite() {
    administrators_never_answer(Backend::Sqlite);
}

#[test]
fn administrators_never_answer_postgres() {
    administrators_never_answer(Backend::Postgres);
}

#[test]
fn ids_floods_and_overflow_sqlite() {
    ids_floods_and_overflow(Backend::Sqlite);
}

#[test]
fn ids_floods_and_overflow_postgres() {
    ids_floods_and_overflow(Backend::Postgres);
}

#[test]
fn bad_input_and_idempotence_sqlite() {
    bad_input_and_idempotence(Backend::Sqlite);
}

#[test]
fn bad_input_and_idempotence_postgres() {
    bad_input_and_idempotence(Backend::Postgres);
}

/// A transport that records the path of every request.
struct Recording {
    inner: HttpTransport,
    paths: Mutex<Vec<String>>,
}

impl Transport for Recording {
    fn send(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: Option<&[u8]>,
    ) -> fieldnote_client::Result<Vec<u8>> {
        self.paths.lock().unwrap().push(path.to_string());
        self.inner.send(path, bearer, body)
    }
}

#[test]
fn an_alarm_raised_offline_goes_first_ahead_of_a_backlog() {
    let server = TestServer::start(Backend::Sqlite);
    team(&server, "north");
    let mut worker = server.device("worker.north");
    let creds = worker.client.credentials().unwrap();
    let member = worker.add_member(3);
    // Offline: 300 notes pile up, then the alarm.
    for i in 0..300 {
        worker.write_note(member, &format!("visit {i}: discussed housing search"));
    }
    let id = worker
        .store
        .safety()
        .raise_alarm(AlarmKind::Panic, None)
        .unwrap();
    let client = Client::with_transport(Recording {
        inner: HttpTransport::new(&server.url, &TlsOptions::default()).unwrap(),
        paths: Mutex::new(Vec::new()),
    })
    .with_credentials(creds);
    let report = client.sync(&mut worker.store, &mut |_| {}).unwrap();
    assert_eq!(report.safety_sent, 1);
    assert!(report.progress.sent >= 301);
    let paths = client.transport().paths.lock().unwrap().clone();
    let first_data = paths.iter().find(|p| *p != "/v1/auth/token").unwrap();
    assert_eq!(
        first_data, "/v1/safety",
        "the alarm goes before any bulk data: {paths:?}"
    );
    assert_eq!(
        worker.store.safety().alarm(&id).unwrap().unwrap().status,
        AlarmStatus::Raised
    );
}

fn ack_while_upload_held(backend: Backend) {
    let server = TestServer::start(backend);
    team(&server, "south");
    let worker = server.device("worker.south");
    let token = worker.access_token();
    // The device's bulk upload: headers and half the body, then held open.
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut held = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        held,
        "POST /v1/sync HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    .unwrap();
    held.write_all(&[b' '; 50_000]).unwrap();
    held.flush().unwrap();
    // Meanwhile, on the same device, the alarm thread has its own handle and client.
    let safety = SafetyStore::open(worker.dir.path(), &worker.key).unwrap();
    let id = safety.raise_alarm(AlarmKind::Panic, None).unwrap();
    let alarm_client = Client::connect(&server.url, &TlsOptions::default())
        .unwrap()
        .with_credentials(worker.client.credentials().unwrap());
    alarm_client.send_safety(&safety).unwrap();
    let sup = server.device("sup.south");
    sup.client.acknowledge(&id).unwrap();
    let view = alarm_client.refresh_alarm(&safety, &id).unwrap();
    assert_eq!(view.state, AlarmState::Acknowledged);
    let local = safety.alarm(&id).unwrap().unwrap();
    assert_eq!(local.status, AlarmStatus::Acknowledged);
    assert_eq!(
        local.acknowledged_by.as_deref(),
        Some("sup south"),
        "help is coming"
    );
    drop(held);
}

#[test]
fn ack_while_upload_held_sqlite() {
    ack_while_upload_held(Backend::Sqlite);
}

#[test]
fn ack_while_upload_held_postgres() {
    ack_while_upload_held(Backend::Postgres);
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// The request never leaves.
    Drop,
    /// The server does the work; the answer is lost.
    LoseResponse,
}

/// A transport that injects the planned faults, then passes requests through.
struct Flaky {
    inner: HttpTransport,
    plan: Mutex<VecDeque<Fault>>,
}

impl Transport for Flaky {
    fn send(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: Option<&[u8]>,
    ) -> fieldnote_client::Result<Vec<u8>> {
        let fault = if path == "/v1/safety" {
            self.plan.lock().unwrap().pop_front()
        } else {
            None
        };
        match fault {
            Some(Fault::Drop) => Err(ClientError::Network("connection reset".into())),
            Some(Fault::LoseResponse) => {
                self.inner.send(path, bearer, body)?;
                Err(ClientError::Network("connection reset".into()))
            }
            None => self.inner.send(path, bearer, body),
        }
    }
}

fn faults_and_restart(backend: Backend) {
    let mut server = TestServer::start(backend);
    team(&server, "harbor");
    let worker = server.device("worker.harbor");
    let creds = worker.client.credentials().unwrap();
    let safety = worker.store.safety();
    let client = Client::with_transport(Flaky {
        inner: HttpTransport::new(&server.url, &TlsOptions::default()).unwrap(),
        plan: Mutex::new(VecDeque::from([
            Fault::Drop,
            Fault::LoseResponse,
            Fault::Drop,
        ])),
    })
    .with_credentials(creds.clone());
    let first = safety.raise_alarm(AlarmKind::Panic, None).unwrap();
    let fast = Backoff {
        first: Duration::from_millis(5),
        max: Duration::from_millis(20),
    };
    let applied = client
        .deliver_safety(safety, fast, Duration::from_secs(30))
        .unwrap();
    assert_eq!(applied.accepted, 1);
    assert_eq!(safety.pending_len().unwrap(), 0);

    // The server restarts while the second alarm is being delivered.
    let second = safety.raise_alarm(AlarmKind::Discreet, None).unwrap();
    let url = server.url.clone();
    let addr = server.running.as_ref().unwrap().addr;
    server.stop();
    let plain = Client::connect(&url, &TlsOptions::default())
        .unwrap()
        .with_credentials(creds);
    let err = plain
        .deliver_safety(safety, fast, Duration::from_millis(100))
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(
        safety.pending_len().unwrap(),
        1,
        "kept for the next attempt"
    );
    server.start_again_on(addr);
    plain
        .deliver_safety(safety, fast, Duration::from_secs(30))
        .unwrap();
    let sup = server.device("sup.harbor");
    let mut ids: Vec<String> = sup
        .client
        .alarms(false)
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    ids.sort();
    let mut want = vec![first, second];
    want.sort();
    assert_eq!(ids, want, "each alarm exactly once");
}

#[test]
fn faults_and_restart_sqlite() {
    faults_and_restart(Backend::Sqlite);
}

#[test]
fn faults_and_restart_postgres() {
    faults_and_restart(Backend::Postgres);
}

fn live_stream(backend: Backend) {
    let server = TestServer::start(backend);
    team(&server, "bay");
    team(&server, "hill");
    let sup = server.device("sup.bay");
    let mut stream = sup.client.events(None).unwrap();
    let other_team = server.device("worker.hill");
    other_team
        .store
        .safety()
        .raise_alarm(AlarmKind::Panic, None)
        .unwrap();
    other_team
        .client
        .send_safety(other_team.store.safety())
        .unwrap();
    let worker = server.device("worker.bay");
    let safety = worker.store.safety();
    let id = safety.raise_alarm(AlarmKind::Duress, None).unwrap();
    worker.client.send_safety(safety).unwrap();
    // The first event the supervisor receives is their own worker's alarm: the other
    // team's alarm is not in their scope.
    let event = stream.next().unwrap().unwrap();
    let alarm = event.alarm.unwrap();
    assert_eq!(
        (alarm.id.as_str(), alarm.kind),
        (id.as_str(), AlarmKind::Duress)
    );
    sup.client.acknowledge(&id).unwrap();
    let event = stream.next().unwrap().unwrap();
    assert_eq!(event.alarm.unwrap().state, AlarmState::Acknowledged);
    // Reconnecting with the last id seen resumes after it.
    let before = event.seq;
    worker.client.resolve(&id, "x", false).unwrap_err();
    sup.client
        .resolve(&id, "false alarm; called back", false)
        .unwrap();
    let mut resumed = sup.client.events(Some(before)).unwrap();
    let event = resumed.next().unwrap().unwrap();
    assert!(event.seq > before);
    assert_eq!(event.alarm.unwrap().state, AlarmState::Resolved);
    // The raise reached the audit log (appended just after the alarm committed).
    let trail = trail(&server, &sup.access_token(), &id);
    let actions: Vec<&str> = trail
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec!["alarm.raise.duress", "alarm.acknowledge", "alarm.resolve"]
    );
    // Sessions stream too.
    let session = safety
        .start_session(None, "court", in_minutes(20), None)
        .unwrap();
    worker.client.send_safety(safety).unwrap();
    let event = resumed.next().unwrap().unwrap();
    let s = event.session.unwrap();
    assert_eq!(
        (s.id.as_str(), s.state),
        (session.as_str(), SessionState::Active)
    );
}

#[test]
fn live_stream_sqlite() {
    live_stream(Backend::Sqlite);
}

#[test]
fn live_stream_postgres() {
    live_stream(Backend::Postgres);
}

/// Two server processes on one PostgreSQL: timers race on both and fire once; an alarm
/// raised through one reaches a supervisor streaming from the other.
#[test]
fn two_processes_fire_each_timer_once_and_share_the_stream() {
    let (server, clock, notifier_a) = safety_server(Backend::Postgres);
    let notifier_b = Arc::new(RecordingNotifier::default());
    let (b, _db_b) = server.second_instance_with(Safety {
        clock: clock.clone(),
        notifier: notifier_b.clone(),
        hub: Default::default(),
    });
    let t = team(&server, "river");
    let sup = server.device("sup.river");
    assert_eq!(
        put_settings(&server, &sup.access_token(), &t.id, &three_tier_ladder(&t)),
        200
    );
    let worker = common::Device::login(&b.url(), "worker.river");
    let safety = worker.store.safety();
    for i in 0..5 {
        safety
            .start_session(None, &format!("visit {i}"), in_minutes(10), None)
            .unwrap();
        safety.check_out(None).unwrap();
    }
    safety
        .start_session(None, "last visit", in_minutes(10), None)
        .unwrap();
    worker.client.send_safety(safety).unwrap();
    let a = server.running.as_ref().unwrap();
    for _ in 0..4 {
        clock.advance_secs(10 * 60 + 121);
        std::thread::scope(|s| {
            let x = s.spawn(|| a.run_timers().unwrap());
            let y = s.spawn(|| b.run_timers().unwrap());
            x.join().unwrap();
            y.join().unwrap();
        });
    }
    let alarms = sup.client.alarms(false).unwrap();
    assert_eq!(alarms.len(), 1, "one missed check-in, not one per process");
    assert!(alarms[0].exhausted);
    let mut all = notices(&notifier_a);
    all.extend(notices(&notifier_b));
    let tiers: Vec<u32> = {
        let mut t: Vec<u32> = all.iter().map(|n| n.0).collect();
        t.sort();
        t
    };
    assert_eq!(tiers, vec![0, 0, 0, 1, 2, 3], "each notice delivered once");

    // The supervisor streams from process A; the alarm is raised through process B.
    let mut stream = sup.client.events(None).unwrap();
    let id = safety.raise_alarm(AlarmKind::Panic, None).unwrap();
    worker.client.send_safety(safety).unwrap();
    let got = stream
        .find_map(|e| e.unwrap().alarm.filter(|a| a.id == id))
        .unwrap();
    assert_eq!(got.state, AlarmState::Raised);
    server.rt.block_on(b.shutdown()).unwrap();
}

fn edges(backend: Backend) {
    let (server, clock, notifier) = safety_server(backend);
    let t = team(&server, "glen");
    let sup = server.device("sup.glen");
    let worker = server.device("worker.glen");
    let safety = worker.store.safety();
    let run = || server.running.as_ref().unwrap().run_timers().unwrap();

    // Offline, a visit starts and the panic button is pressed in it: one batch carries the
    // alarm first and the session's start after. The session opens in alarm, with no timer
    // of its own, so no second (missed check-in) alarm follows.
    let panic_session = safety
        .start_session(None, "riverside apartments", in_minutes(20), None)
        .unwrap();
    let panic = safety.raise_alarm(AlarmKind::Panic, None).unwrap();
    worker.client.send_safety(safety).unwrap();
    let alarm = sup.client.refresh_alarm(safety, &panic).unwrap();
    assert_eq!(alarm.session_id.as_deref(), Some(panic_session.as_str()));
    assert_eq!(alarm.place.as_deref(), Some("riverside apartments"));
    let sessions = sup.client.sessions().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        (sessions[0].state, sessions[0].deadline),
        (SessionState::Alarm, None)
    );
    clock.advance_secs(3600);
    assert_eq!(run().missed, 0);
    sup.client.resolve(&panic, "worker safe", false).unwrap();

    // A missed check-in, then the worker checks in: resolving the alarm leaves the resumed
    // visit running, with its timer.
    let visit = safety
        .start_session(None, "library", in_minutes(30), None)
        .unwrap();
    worker.client.send_safety(safety).unwrap();
    clock.advance_secs(30 * 60 + 601);
    assert_eq!(run().missed, 1);
    safety.check_in(None).unwrap();
    worker.client.send_safety(safety).unwrap();
    let missed = sup.client.alarms(false).unwrap();
    assert_eq!(missed.len(), 1);
    sup.client
        .resolve(&missed[0].id, "late; fine", false)
        .unwrap();
    let sessions = sup.client.sessions().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        (sessions[0].id.as_str(), sessions[0].state),
        (visit.as_str(), SessionState::Active)
    );
    assert!(sessions[0].deadline.is_some());
    safety.check_out(None).unwrap();
    worker.client.send_safety(safety).unwrap();

    // A silent alarm stays off the worker's own list; the supervisor has it. The worker in
    // distress cannot acknowledge it, and a supervisor in distress is not paged about
    // their own alarm.
    let discreet = safety.raise_alarm(AlarmKind::Discreet, None).unwrap();
    worker.client.send_safety(safety).unwrap();
    assert!(worker.client.alarms(false).unwrap().is_empty());
    assert_eq!(sup.client.alarms(false).unwrap()[0].id, discreet);
    assert!(worker.client.acknowledge(&discreet).is_err());
    let before = notifier.sent().len();
    let own = sup
        .store
        .safety()
        .raise_alarm(AlarmKind::Panic, None)
        .unwrap();
    sup.client.send_safety(sup.store.safety()).unwrap();
    let paged: Vec<_> = notifier.sent()[before..]
        .iter()
        .filter(|n| n.alarm_id == own)
        .map(|n| n.user_id.clone())
        .collect();
    assert!(!paged.contains(&t.supervisor), "{paged:?}");
    assert!(sup.client.acknowledge(&own).is_err());

    // A place with a control character is refused on the device and on the server.
    assert!(
        safety
            .start_session(None, "a\u{0}b", in_minutes(5), None)
            .is_err()
    );
    let now = Timestamp::now().millis();
    let (_, resp) = raw_post(
        &server.url,
        "/v1/safety",
        Some(&worker.access_token()),
        &serde_json::json!({"sent_at": now, "items": [
            {"type": "alarm", "id": uuid::Uuid::now_v7().to_string(), "kind": "panic",
             "device_time": now, "session_id": "x\u{0}"},
            {"type": "session", "event_id": uuid::Uuid::now_v7().to_string(),
             "session_id": uuid::Uuid::now_v7().to_string(), "action": "start",
             "place": "a\u{0}b", "expected_end": now + 60_000, "device_time": i64::MIN}]})
        .to_string(),
    );
    assert_eq!(resp["receipts"][0]["outcome"], "accepted", "{resp}");
    assert_eq!(resp["receipts"][1]["field"], "place", "{resp}");
}

#[test]
fn edges_sqlite() {
    edges(Backend::Sqlite);
}

#[test]
fn edges_postgres() {
    edges(Backend::Postgres);
}
