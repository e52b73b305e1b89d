//! The supervisor console over HTTP, as a browser speaks to it, on SQLite and PostgreSQL:
//! sign-in with a password and a TOTP code (enrollment on first use, codes never accepted
//! twice, the session replaced after the second factor), cookies and security headers,
//! CSRF and cross-origin posts refused, workers kept out, another team's alarms invisible,
//! record text escaped, idle sign-out, oversize forms refused, and alarms answered from the
//! console reaching the device.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::browser::{Browser, audited, between, code, enc, sign_in, team_with_supervisor};
use common::{Backend, TestServer, raw_post};
use fieldnote_protocol::ServerRole;
use fieldnote_server::auth::AuthConfig;

/// Raises a panic alarm from `worker`'s device at `place` (through a visit session).
fn raise(server: &TestServer, worker: &str, place: &str) -> String {
    let device = server.device(worker);
    let token = device.access_token();
    let now = fieldnote_core::Timestamp::now().millis();
    let (session, alarm) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    let body = serde_json::json!({
        "sent_at": now,
        "items": [
            { "type": "session", "event_id": uuid::Uuid::now_v7().to_string(),
              "session_id": session, "action": "start", "device_time": now,
              "place": place, "expected_end": now + 3_600_000 },
            { "type": "alarm", "id": alarm, "kind": "panic", "device_time": now,
              "session_id": session }
        ]
    });
    let (status, resp) = raw_post(&server.url, "/v1/safety", Some(&token), &body.to_string());
    assert_eq!(status, 200, "{resp}");
    alarm
}

fn sign_in_and_mfa(backend: Backend) {
    let server = TestServer::start(backend);
    let (_, sup) = team_with_supervisor(&server, "a");
    let mut b = Browser::new(&server.url);

    let login = b.get("/console/login");
    assert_eq!(login.status, 200);
    let csp = login
        .headers
        .iter()
        .find(|(k, _)| k == "content-security-policy")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));

    // Without a session, pages send the browser to sign-in.
    let p = b.get("/console/alarms");
    assert_eq!(
        (p.status, p.location.as_deref()),
        (303, Some("/console/login"))
    );

    // A wrong password: 401 and no cookie.
    let p = b.post("/console/login", &format!("username={sup}&password=wrong"));
    assert_eq!(p.status, 401);
    assert!(p.body.contains("wrong"));
    assert!(b.cookie.is_none());

    // The password step sets a session cookie that does not yet open anything.
    let p = b.post(
        "/console/login",
        &format!("username={sup}&password={}", enc(common::PASSWORD)),
    );
    assert_eq!(p.status, 303);
    let cookie = p.set_cookie.join(";");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    let pending = b.cookie.clone().unwrap();
    assert_eq!(b.get("/console/alarms").status, 303);

    // First sign-in: enrollment shows the key; a wrong code is refused.
    let mfa = b.get("/console/mfa");
    let secret = between(&mfa.body, "id=\"totp-secret\">", "<");
    assert!(mfa.body.contains("otpauth://totp/"));
    let csrf = Browser::csrf(&mfa);
    let bad = b.post("/console/mfa", &format!("csrf={csrf}&code=000000"));
    assert_eq!(bad.status, 401);
    assert!(bad.body.contains("not right"));
    // A good code without the CSRF token is refused.
    let p = b.post("/console/mfa", &format!("code={}", code(&secret, 0)));
    assert_eq!(p.status, 403);

    let good = code(&secret, 0);
    let p = b.post("/console/mfa", &format!("csrf={csrf}&code={good}"));
    assert_eq!(
        (p.status, p.location.as_deref()),
        (303, Some("/console/alarms"))
    );
    // The session was replaced: the pending cookie opens nothing now.
    assert_ne!(b.cookie.as_deref(), Some(pending.as_str()));
    let mut stale = Browser::new(&server.url);
    stale.cookie = Some(pending);
    assert_eq!(stale.get("/console/alarms").status, 303);
    let page = b.get("/console/alarms");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No open alarms"));

    // The same code is never accepted twice, even in a fresh sign-in.
    let mut again = Browser::new(&server.url);
    again.post(
        "/console/login",
        &format!("username={sup}&password={}", enc(common::PASSWORD)),
    );
    let mfa = again.get("/console/mfa");
    assert!(
        !mfa.body.contains("totp-secret"),
        "enrolled users are not shown the key again"
    );
    let p = again.post(
        "/console/mfa",
        &format!("csrf={}&code={good}", Browser::csrf(&mfa)),
    );
    assert_eq!(p.status, 401, "a replayed code");
    let p = again.post(
        "/console/mfa",
        &format!("csrf={}&code={}", Browser::csrf(&mfa), code(&secret, 1)),
    );
    assert_eq!(p.status, 303);

    // Workers use the app.
    let mut w = Browser::new(&server.url);
    let p = w.post(
        "/console/login",
        &format!("username=w.a&password={}", enc(common::PASSWORD)),
    );
    assert_eq!(p.status, 403);
    assert!(w.cookie.is_none());

    // Five wrong codes in the window (two above, three here), then no code is even checked,
    // the right one included (429).
    let mut guesser = Browser::new(&server.url);
    guesser.post(
        "/console/login",
        &format!("username={sup}&password={}", enc(common::PASSWORD)),
    );
    let csrf = Browser::csrf(&guesser.get("/console/mfa"));
    for _ in 0..3 {
        let p = guesser.post("/console/mfa", &format!("csrf={csrf}&code=000000"));
        assert_eq!(p.status, 401);
    }
    let p = guesser.post(
        "/console/mfa",
        &format!("csrf={csrf}&code={}", code(&secret, 0)),
    );
    assert_eq!(p.status, 429, "{}", p.body);

    // Sign-out ends the session.
    let page = b.get("/console/alarms");
    let p = b.post("/console/logout", &format!("csrf={}", Browser::csrf(&page)));
    assert_eq!(p.status, 303);
    assert_eq!(b.get("/console/alarms").status, 303);

    // Sign-in and sign-out are audited.
    assert_eq!(
        audited(&server, "console."),
        [
            "console.mfa_failed",
            "console.login",
            "console.mfa_failed", // the replayed code
            "console.login",
            "console.mfa_failed", // three guesses
            "console.mfa_failed",
            "console.mfa_failed",
            "console.logout"
        ]
    );
}

fn answering_alarms(backend: Backend) {
    let server = TestServer::start(backend);
    let (_, sup_a) = team_with_supervisor(&server, "a");
    let (_, sup_b) = team_with_supervisor(&server, "b");
    let alarm = raise(
        &server,
        "w.a",
        "Shelter <script>alert('x')</script> & \"annex\"",
    );
    let (mut a, _) = sign_in(&server, &sup_a, None);
    let (mut b, _) = sign_in(&server, &sup_b, None);

    // Team a sees it, with the place escaped; team b sees nothing of it.
    let page = a.get("/console/alarms");
    assert!(page.body.contains(&alarm));
    assert!(
        page.body
            .contains("Shelter &lt;script&gt;alert('x')&lt;/script&gt; &amp; &quot;annex&quot;")
    );
    assert!(!page.body.contains("<script>alert"));
    let other = b.get("/console/alarms");
    assert!(!other.body.contains(&alarm));
    let csrf_b = Browser::csrf(&other);
    let p = b.post(
        &format!("/console/alarms/{alarm}/acknowledge"),
        &format!("csrf={csrf_b}"),
    );
    assert!(matches!(p.status, 403 | 404), "other team: {}", p.status);
    assert_eq!(b.get(&format!("/console/alarms/{alarm}")).status, 404);

    // Forged, missing and cross-origin posts are refused with a clear message.
    let csrf = Browser::csrf(&page);
    let path = format!("/console/alarms/{alarm}/acknowledge");
    for form in ["", "csrf=", "csrf=0123456789abcdef"] {
        let p = a.post(&path, form);
        assert_eq!(p.status, 403, "form {form:?}");
        assert!(p.body.contains("security token"));
    }
    let p = a.send(
        "POST",
        &path,
        Some(&format!("csrf={csrf}")),
        &[("origin", "https://attacker.example")],
    );
    assert_eq!(p.status, 403);
    // An oversize form is refused before it is read.
    let big = format!("csrf={csrf}&outcome={}", "x".repeat(40 * 1024));
    let p = a.post(&format!("/console/alarms/{alarm}/resolve"), &big);
    assert_eq!(p.status, 413);

    // Acknowledged from the console: the device hears it.
    let p = a.post(&path, &format!("csrf={csrf}"));
    assert_eq!(
        (p.status, p.location.as_deref()),
        (303, Some("/console/alarms"))
    );
    let page = a.get("/console/alarms");
    assert!(page.body.contains("Acknowledged by sup a"));
    let worker = server.device("w.a");
    let (status, view) = common::raw(
        &server.url,
        "GET",
        &format!("/v1/alarms/{alarm}"),
        Some(&worker.access_token()),
        None,
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(view["state"], "acknowledged");
    assert_eq!(view["acknowledged_by_name"], "sup a");

    // Resolved with an outcome; the trail shows every step.
    let p = a.post(
        &format!("/console/alarms/{alarm}/resolve"),
        &format!(
            "csrf={csrf}&outcome={}&reportable=yes",
            enc("Worker safe; police attended")
        ),
    );
    assert_eq!(p.status, 303);
    let trail = a.get(&format!("/console/alarms/{alarm}"));
    assert_eq!(trail.status, 200);
    for action in ["alarm.raise", "alarm.acknowledge", "alarm.resolve"] {
        assert!(trail.body.contains(action), "{action} in the trail");
    }
    assert!(a.get("/console/alarms").body.contains("No open alarms"));
    // What the console showed is audited.
    let seen = audited(&server, "alarm.");
    assert!(seen.iter().any(|a| a == "alarm.list"));
    assert!(seen.iter().any(|a| a == "alarm.trail"));
}

fn team_view(backend: Backend) {
    let server = TestServer::start(backend);
    let (_, sup_a) = team_with_supervisor(&server, "a");
    let (_, sup_b) = team_with_supervisor(&server, "b");
    server.add_user(
        "w2.a",
        ServerRole::Worker,
        Some(
            &server
                .db
                .tx(|tx| {
                    Ok(tx.query_one(
                        "SELECT team_id FROM users WHERE username = 'w.a'",
                        fieldnote_server::params![],
                    )?[0]
                        .text())
                })
                .unwrap(),
        ),
    );
    // w.a syncs a member with an overdue first contact; w2.a never syncs.
    let mut phone = server.device("w.a");
    phone.add_member(7);
    phone.sync();
    let (mut a, _) = sign_in(&server, &sup_a, None);
    let page = a.get("/console/team");
    assert_eq!(page.status, 200, "{}", page.body);
    let workers = page.body.split("</table>").next().unwrap();
    let rows: Vec<&str> = workers.split("<tr").skip(2).collect();
    assert_eq!(rows.len(), 2, "{}", page.body);
    assert!(
        rows.iter()
            .any(|r| r.contains("w a") && !r.contains("never"))
    );
    let never = rows.iter().find(|r| r.contains("w2 a")).unwrap();
    assert!(never.contains("never") && never.contains("no sync in over a day"));
    // Team b's supervisor sees only team b.
    let (mut b, _) = sign_in(&server, &sup_b, None);
    let other = b.get("/console/team");
    assert!(other.body.contains("w b") && !other.body.contains("w a"));
    assert_eq!(audited(&server, "team.view").len(), 2);
}

fn idle_sign_out(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        AuthConfig {
            console_idle_secs: 1,
            ..AuthConfig::default()
        },
    );
    let (_, sup) = team_with_supervisor(&server, "a");
    let (mut b, _) = sign_in(&server, &sup, None);
    let page = b.get("/console/alarms");
    assert_eq!(page.status, 200);
    std::thread::sleep(std::time::Duration::from_millis(1_300));
    let p = b.get("/console/alarms");
    assert_eq!(
        (p.status, p.location.as_deref()),
        (303, Some("/console/login"))
    );
    let p = b.post("/console/logout", &format!("csrf={}", Browser::csrf(&page)));
    assert_eq!(p.status, 403);
    assert!(p.body.contains("sign in again"));
}

/// The alarm row names the member and the worker's phone, warns on silent alarms, counts
/// down to the next tier; a reportable resolution stays listed with its deadline; "Out now"
/// lists the team's visits and no other team's; the waiting count reaches every page.
fn responder_view(backend: Backend) {
    let server = TestServer::start(backend);
    let (_, sup_a) = team_with_supervisor(&server, "a");
    let (_, sup_b) = team_with_supervisor(&server, "b");
    server
        .db
        .tx(|tx| {
            tx.exec(
                "UPDATE users SET phone = '617-555-0142' WHERE username = 'w.a'",
                fieldnote_server::params![],
            )
        })
        .unwrap();
    let mut phone = server.device("w.a");
    let member = phone.add_member(3);
    phone.sync();
    let member_name = phone.store.get(member).unwrap().body.title();
    let token = phone.access_token();
    let now = fieldnote_core::Timestamp::now().millis();
    let (session, panic, discreet) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    let body = serde_json::json!({
        "sent_at": now,
        "items": [
            { "type": "session", "event_id": uuid::Uuid::now_v7().to_string(),
              "session_id": session, "action": "start", "device_time": now,
              "member_id": member.to_string(), "place": "Court, Brockton",
              "expected_end": now + 3_600_000 },
            { "type": "alarm", "id": discreet, "kind": "discreet", "device_time": now }
        ]
    });
    let (status, resp) = raw_post(&server.url, "/v1/safety", Some(&token), &body.to_string());
    assert_eq!(status, 200, "{resp}");

    let (mut a, _) = sign_in(&server, &sup_a, None);
    let (mut b, _) = sign_in(&server, &sup_b, None);
    // Out now: the visit, with member, place and the time to a missed check-in.
    let visits = a.get("/console/visits");
    assert_eq!(visits.status, 200);
    let row = between(
        &visits.body,
        &format!("data-session=\"{session}\""),
        "</tr>",
    );
    assert!(
        row.contains(&member_name) && row.contains("Court, Brockton"),
        "{row}"
    );
    assert!(
        row.contains("Missed check-in <time") && row.contains(">in 1 h "),
        "{row}"
    );
    assert!(!b.get("/console/visits").body.contains(&session));
    assert!(!b.get("/console/visits/rows").body.contains(&session));

    // A panic in the visit.
    let body = serde_json::json!({
        "sent_at": now,
        "items": [{ "type": "alarm", "id": panic, "kind": "panic", "device_time": now,
                    "session_id": session }]
    });
    assert_eq!(
        raw_post(&server.url, "/v1/safety", Some(&token), &body.to_string()).0,
        200
    );
    let page = a.get("/console/alarms");
    let row = between(&page.body, &format!("data-alarm=\"{panic}\""), "</tr>");
    assert!(
        row.contains(&format!("Visiting <strong class=\"member\">{member_name}")),
        "{row}"
    );
    assert!(
        !row.contains(&member.to_string()),
        "the member by name, not id"
    );
    assert!(row.contains("Court, Brockton"));
    assert!(row.contains("href=\"tel:617-555-0142\""), "{row}");
    assert!(
        row.contains("Next tier") && row.contains("data-until"),
        "{row}"
    );
    assert!(
        row.contains(" ago") && (row.contains(" EST)") || row.contains(" EDT)")),
        "{row}"
    );
    assert!(!row.contains("Do not call"));
    let silent = between(&page.body, &format!("data-alarm=\"{discreet}\""), "</tr>");
    assert!(silent.contains("Do not call: silent alarm"), "{silent}");
    assert!(!silent.contains("tel:"), "no call link on a silent alarm");
    // The waiting count, on every page and as JSON.
    assert!(
        a.get("/console/team")
            .body
            .contains("id=\"alarm-count\" data-count=\"2\"")
    );
    let waiting = a.get("/console/alarms/waiting");
    let ids: serde_json::Value = serde_json::from_str(&waiting.body).unwrap();
    assert_eq!(ids["raised"].as_array().unwrap().len(), 2);
    let other: serde_json::Value =
        serde_json::from_str(&b.get("/console/alarms/waiting").body).unwrap();
    assert_eq!(
        other["raised"].as_array().unwrap().len(),
        0,
        "another team's alarms"
    );
    assert!(b.get("/console/alarms").body.contains("data-count=\"0\""));

    // A reportable resolution stays listed, with the report's deadline.
    let csrf = Browser::csrf(&page);
    let p = a.post(
        &format!("/console/alarms/{panic}/resolve"),
        &format!(
            "csrf={csrf}&outcome={}&reportable=yes",
            enc("Police attended")
        ),
    );
    assert_eq!(p.status, 303);
    let page = a.get("/console/alarms");
    let closed = between(&page.body, "id=\"closed-alarms\"", "</table>");
    let row = between(closed.as_str(), &format!("data-alarm=\"{panic}\""), "</tr>");
    assert!(
        row.contains("Police attended") && row.contains("Reportable: report due"),
        "{row}"
    );
    assert!(
        !page.body.contains(&format!("id=\"outcome-{panic}\"")),
        "no longer open"
    );
}

/// An open live stream renews the console session at each heartbeat (a third of the idle
/// limit), so the alarm page never signs out from idleness; a session without one lapses;
/// the stream without a session is a 401.
fn stream_keeps_the_session(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        AuthConfig {
            console_idle_secs: 3,
            ..AuthConfig::default()
        },
    );
    let (team, sup) = team_with_supervisor(&server, "a");
    server.add_user("sup2.a", ServerRole::Supervisor, Some(&team));
    let (mut watching, _) = sign_in(&server, &sup, None);
    let (mut idle, _) = sign_in(&server, "sup2.a", None);
    let cookie = format!("fieldnote_console={}", watching.cookie.clone().unwrap());
    let url = format!("{}/console/events", server.url);
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut resp = agent.get(&url).header("cookie", &cookie).call().unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let started = std::time::Instant::now();
        let mut beats = 0;
        let mut lines = std::io::BufReader::new(resp.body_mut().as_reader()).lines();
        while started.elapsed() < std::time::Duration::from_secs(6) {
            match lines.next() {
                Some(Ok(l)) if l == "event: heartbeat" => beats += 1,
                Some(Ok(_)) => {}
                _ => break,
            }
        }
        beats
    });
    let beats = reader.join().unwrap();
    assert!(beats >= 4, "a heartbeat about every second: {beats}");
    let p = watching.get("/console/team");
    assert_eq!(p.status, 200, "the watched session is still signed in");
    let p = idle.get("/console/team");
    assert_eq!(
        p.location.as_deref(),
        Some("/console/login"),
        "the idle one lapsed"
    );
    let p = idle.get("/console/events");
    assert_eq!(p.status, 401, "the stream refuses without redirecting");
}

#[test]
fn sqlite_responder_view() {
    responder_view(Backend::Sqlite);
}

#[test]
fn postgres_responder_view() {
    responder_view(Backend::Postgres);
}

#[test]
fn sqlite_stream_keeps_the_session() {
    stream_keeps_the_session(Backend::Sqlite);
}

#[test]
fn postgres_stream_keeps_the_session() {
    stream_keeps_the_session(Backend::Postgres);
}

#[test]
fn sqlite_sign_in_and_mfa() {
    sign_in_and_mfa(Backend::Sqlite);
}

#[test]
fn postgres_sign_in_and_mfa() {
    sign_in_and_mfa(Backend::Postgres);
}

#[test]
fn sqlite_answering_alarms() {
    answering_alarms(Backend::Sqlite);
}

#[test]
fn postgres_answering_alarms() {
    answering_alarms(Backend::Postgres);
}

#[test]
fn sqlite_team_view() {
    team_view(Backend::Sqlite);
}

#[test]
fn postgres_team_view() {
    team_view(Backend::Postgres);
}

#[test]
fn sqlite_idle_sign_out() {
    idle_sign_out(Backend::Sqlite);
}

#[test]
fn postgres_idle_sign_out() {
    idle_sign_out(Backend::Postgres);
}
