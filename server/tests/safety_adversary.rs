//! The safety protocol under hostile input, on SQLite and PostgreSQL: every field of an
//! alarm and of each session event replaced by hostile values (wrong types, empty, huge,
//! control characters, impossible numbers, ids of other people's things), sent by a signed-in
//! worker. Each answer is a 4xx naming the field, or a receipt that refuses the item naming
//! the field, or an accepted item with a warning naming the field; never a 5xx, never a
//! panic. Another worker's session answers exactly as one that does not exist, and nothing
//! of other people's alarms or sessions comes back. Afterwards nothing refused was stored.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{Backend, TestServer, raw_post};
use fieldnote_protocol::ServerRole;
use serde_json::{Value, json};

fn now() -> i64 {
    fieldnote_core::Timestamp::now().millis()
}

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The hostile values tried in a field: wrong types, empty, huge, control characters.
fn hostile_common() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!([]),
        json!({}),
        json!(""),
        json!(" "),
        json!("x".repeat(100_000)),
        json!("line\nbreak\u{1b}[31m"),
        json!(-1),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(1e300),
    ]
}

fn items(server: &TestServer, token: &str, items: Vec<Value>) -> (u16, Value) {
    raw_post(
        &server.url,
        "/v1/safety",
        Some(token),
        &json!({"sent_at": now(), "items": items}).to_string(),
    )
}

/// Whether an answer to a one-item request is a clean refusal or acceptance that names
/// `field` when it refuses or warns.
fn judged(status: u16, resp: &Value, field: &str) -> Result<&'static str, String> {
    match status {
        400 | 422 => Ok("refused request"),
        200 => {
            let r = &resp["receipts"][0];
            match r["outcome"].as_str() {
                Some("refused") if r["field"].as_str().is_some() => Ok("refused item"),
                Some("accepted") => {
                    let warned = r["warnings"].as_array().is_some_and(|w| {
                        w.iter()
                            .any(|w| w.as_str().unwrap_or("").starts_with(field))
                    });
                    Ok(if warned {
                        "accepted, warned"
                    } else {
                        "accepted"
                    })
                }
                _ => Err(format!("unexpected receipt {r}")),
            }
        }
        other => Err(format!("status {other}: {resp}")),
    }
}

fn count(server: &TestServer, sql: &str) -> i64 {
    server
        .db
        .tx(|tx| Ok(tx.query_one(sql, fieldnote_server::params![])?[0].int()))
        .unwrap()
}

fn hostile_fields(backend: Backend) {
    let server = TestServer::start(backend);
    let a = server.add_team("a");
    let b = server.add_team("b");
    server.add_user("w.a", ServerRole::Worker, Some(&a));
    server.add_user("w2.a", ServerRole::Worker, Some(&a));
    server.add_user("w.b", ServerRole::Worker, Some(&b));
    server.add_user("s.a", ServerRole::Supervisor, Some(&a));
    let owner = server.device("w.a").access_token();

    // The owner's alarm and session, whose ids the others then use.
    let (alarm_id, session_id) = (id(), id());
    let (status, resp) = items(
        &server,
        &owner,
        vec![
            json!({"type": "session", "event_id": id(), "session_id": session_id,
                   "action": "start", "place": "home visit", "expected_end": now() + 3_600_000,
                   "device_time": now(),
                   "location": {"latitude": 42.36, "longitude": -71.06}}),
            json!({"type": "alarm", "id": alarm_id, "kind": "discreet", "device_time": now(),
                   "session_id": session_id}),
        ],
    );
    assert_eq!(status, 200, "{resp}");
    let stored = |server: &TestServer| {
        (
            count(server, "SELECT COUNT(*) FROM alarms"),
            count(server, "SELECT COUNT(*) FROM visit_sessions"),
            count(server, "SELECT COUNT(*) FROM session_events"),
        )
    };
    let before = stored(&server);

    // Others using the owner's ids: nothing of the owner's comes back, events on the
    // owner's session read as for a session that does not exist, and nothing changes.
    for who in ["w2.a", "w.b", "s.a"] {
        let token = server.device(who).access_token();
        for action in [
            json!({"action": "check_in"}),
            json!({"action": "extend", "until": now() + 7_200_000}),
            json!({"action": "check_out"}),
        ] {
            let mut event = json!({"type": "session", "event_id": id(), "device_time": now()});
            event
                .as_object_mut()
                .unwrap()
                .extend(action.as_object().unwrap().clone());
            let mut theirs = event.clone();
            theirs["session_id"] = json!(session_id);
            let mut nobodys = event;
            nobodys["session_id"] = json!(id());
            let (s1, r1) = items(&server, &token, vec![theirs]);
            let (s2, r2) = items(&server, &token, vec![nobodys]);
            assert_eq!((s1, s2), (200, 200));
            assert_eq!(r1, r2, "{who}: another's session tells it exists");
            assert_eq!(r1["receipts"][0]["outcome"], "refused", "{r1}");
            assert!(
                !r1.to_string().contains("42.36"),
                "{who} got a location: {r1}"
            );
        }
        let (_, r) = items(
            &server,
            &token,
            vec![json!({"type": "alarm", "id": alarm_id, "kind": "panic", "device_time": now()})],
        );
        assert_eq!(r["receipts"][0]["outcome"], "refused", "{who}: {r}");
        assert_eq!(r["receipts"][0]["field"], "id", "{r}");
        assert!(
            r["receipts"][0].get("alarm").is_none(),
            "{who} got the alarm: {r}"
        );
    }
    assert_eq!(stored(&server), before, "nothing of the owner's changed");

    // Every field of every item, hostile. Templates are valid items; each case replaces one
    // field (or removes it).
    let worker = server.device("w2.a").access_token();
    let alarm = || json!({"type": "alarm", "id": id(), "kind": "panic", "device_time": now()});
    let start = || {
        json!({"type": "session", "event_id": id(), "session_id": id(), "action": "start",
               "place": "outreach", "expected_end": now() + 3_600_000, "device_time": now()})
    };
    let own_session = id();
    let (_, r) = items(
        &server,
        &worker,
        vec![{
            let mut s = start();
            s["session_id"] = json!(own_session);
            s
        }],
    );
    assert_eq!(r["receipts"][0]["outcome"], "accepted", "{r}");
    let on_own = |action: &str| {
        let mut e = json!({"type": "session", "event_id": id(), "session_id": own_session,
                           "action": action, "device_time": now()});
        if action == "extend" {
            e["until"] = json!(now() + 7_200_000);
        }
        e
    };
    type Template<'a> = Box<dyn Fn() -> Value + 'a>;
    let templates: Vec<(&str, Template<'_>, Vec<&str>)> = vec![
        (
            "alarm",
            Box::new(alarm),
            vec![
                "type",
                "id",
                "kind",
                "device_time",
                "member_id",
                "session_id",
                "location",
            ],
        ),
        (
            "start",
            Box::new(start),
            vec![
                "event_id",
                "session_id",
                "action",
                "place",
                "expected_end",
                "device_time",
                "member_id",
                "location",
            ],
        ),
        (
            "check_in",
            Box::new(|| on_own("check_in")),
            vec!["event_id", "session_id", "device_time", "location"],
        ),
        (
            "extend",
            Box::new(|| on_own("extend")),
            vec!["event_id", "until", "device_time"],
        ),
    ];
    let mut cases = 0;
    let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
    let alarms_before = count(&server, "SELECT COUNT(*) FROM alarms");
    let mut accepted_alarms = 0;
    for (name, template, fields) in &templates {
        for field in fields {
            let mut values = hostile_common();
            values.push(json!(uuid::Uuid::now_v7().to_string().to_uppercase()));
            values.push(json!({"latitude": 91.0, "longitude": 0.0}));
            values.push(json!({"latitude": 0.0, "longitude": -181.0, "accuracy_m": -5.0}));
            for value in values.into_iter().map(Some).chain([None]) {
                let mut item = template();
                match &value {
                    Some(v) => item[*field] = v.clone(),
                    None => {
                        item.as_object_mut().unwrap().remove(*field);
                    }
                }
                let (status, resp) = items(&server, &worker, vec![item.clone()]);
                let verdict = judged(status, &resp, field)
                    .unwrap_or_else(|e| panic!("{name}.{field} = {value:?}: {e}"));
                if verdict.starts_with("refused item") {
                    let named = resp["receipts"][0]["field"].as_str().unwrap();
                    assert!(
                        [
                            "id",
                            "kind",
                            "event_id",
                            "session_id",
                            "place",
                            "expected_end",
                            "until"
                        ]
                        .contains(&named),
                        "{name}.{field}: refused naming {named}"
                    );
                }
                // What may pass without a word: a missing or null optional field, an id in
                // upper case, any text as a place, and device times (server time rules).
                if verdict == "accepted" {
                    let harmless = value.as_ref().is_none_or(Value::is_null)
                        || value
                            .as_ref()
                            .and_then(Value::as_str)
                            .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())
                        || *field == "device_time";
                    assert!(
                        harmless,
                        "{name}.{field} = {value:?} accepted without a word"
                    );
                }
                if *name == "alarm" && verdict.starts_with("accepted") {
                    accepted_alarms += 1;
                }
                *outcomes.entry(verdict).or_default() += 1;
                cases += 1;
            }
        }
    }
    assert!(cases > 300, "{cases} cases");
    // Stored alarms are exactly the accepted ones (refused alarms left nothing), and each
    // stored location is a real position or none.
    assert_eq!(
        count(&server, "SELECT COUNT(*) FROM alarms") - alarms_before,
        accepted_alarms,
        "{outcomes:?}"
    );
    let bad_places = count(
        &server,
        "SELECT COUNT(*) FROM visit_sessions WHERE place = '' OR LENGTH(place) > 200",
    );
    assert_eq!(bad_places, 0);
    eprintln!("safety fields: {cases} hostile items: {outcomes:?}");
}

#[test]
fn sqlite_hostile_safety_fields() {
    hostile_fields(Backend::Sqlite);
}

#[test]
fn postgres_hostile_safety_fields() {
    hostile_fields(Backend::Postgres);
}
