//! Tokens and sessions under attack, on SQLite and PostgreSQL: expired, forged, altered,
//! `alg:none` and wrong-kind credentials get 401 with a reason while the device's local work
//! is kept and sync resumes after a new token; logout ends a device's tokens; bulk scraping
//! by a valid device is rate limited and audited once.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::browser::{sign_in, team_with_supervisor};
use common::{Backend, TestServer, raw};
use fieldnote_protocol::ServerRole;
use fieldnote_server::auth::AuthConfig;
use fieldnote_server::params;

fn me(server: &TestServer, token: &str) -> (u16, serde_json::Value) {
    raw(&server.url, "GET", "/v1/me", Some(token), None, &[])
}

fn credentials(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        AuthConfig {
            token_ttl_secs: 1,
            requests_per_minute: 40,
            ..AuthConfig::default()
        },
    );
    let (_, sup) = team_with_supervisor(&server, "a");
    let mut phone = server.device("w.a");
    let member = phone.add_member(5);
    phone.sync();
    let token = phone.access_token();
    assert_eq!(me(&server, &token).0, 200);

    // Credentials that are not an access token of ours: 401, each with a reason.
    let creds = phone.client.credentials().unwrap();
    let mut altered = token.clone();
    altered.replace_range(0..1, if token.starts_with('A') { "B" } else { "A" });
    let (mut console, _) = sign_in(&server, &sup, None);
    let cookie = console.cookie.clone().unwrap();
    let alg_none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.\
                    eyJzdWIiOiJyb290Iiwicm9sZSI6ImFkbWluaXN0cmF0b3IiLCJhdWQiOiJmaWVsZG5vdGUifQ.";
    for (what, bad) in [
        ("forged", "c2VjcmV0LXRva2VuLXRoYXQtd2FzLW5ldmVyLWlzc3VlZA"),
        ("altered", altered.as_str()),
        ("alg:none JWT", alg_none),
        (
            "the device's long-term secret",
            creds.device_secret.as_str(),
        ),
        ("a console session cookie", cookie.as_str()),
        ("empty", ""),
    ] {
        let (status, body) = me(&server, bad);
        assert_eq!(status, 401, "{what}: {body}");
        let reason = body["message"].as_str().unwrap_or_default();
        assert!(!reason.is_empty(), "{what}: a reason is given: {body}");
    }
    // A device token does not open the console either (the other audience).
    let page = console.send(
        "GET",
        "/console/alarms",
        None,
        &[("authorization", &format!("Bearer {token}"))],
    );
    assert_eq!(
        page.status, 200,
        "the cookie, not the bearer, signs the console in"
    );
    console.cookie = Some(token.clone());
    assert_eq!(
        console.get("/console/alarms").status,
        303,
        "a bearer token as a cookie"
    );

    // Expired: refused with the reason; the device's work is kept and sync resumes with a
    // fresh token from its device credential.
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    let (status, body) = me(&server, &token);
    assert_eq!(status, 401);
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    let note = phone.write_note(member, "Written while the token had expired.");
    phone.sync();
    let on_server = server
        .db
        .tx(|tx| {
            Ok(tx
                .query_opt(
                    "SELECT 1 FROM documents WHERE id = $1",
                    params![note.to_string()],
                )?
                .is_some())
        })
        .unwrap();
    assert!(on_server, "the note written meanwhile arrived");

    // Logout: the device's tokens and credential stop working.
    let fresh = phone.access_token();
    let (status, _) = raw(
        &server.url,
        "POST",
        "/v1/auth/logout",
        Some(&fresh),
        None,
        &[],
    );
    assert_eq!(status, 204);
    assert_eq!(me(&server, &fresh).0, 401);
    let body =
        serde_json::json!({"device_id": creds.device_id, "device_secret": creds.device_secret});
    let (status, body) = raw(
        &server.url,
        "POST",
        "/v1/auth/token",
        None,
        Some(body.to_string().into_bytes()),
        &[],
    );
    assert_eq!(status, 403, "a logged-out device gets no new token: {body}");
    assert_eq!(
        body["code"], "device_revoked",
        "and is told to wipe: {body}"
    );

    // Bulk scraping by a valid device: 429 past the per-minute limit, audited once.
    let scraper = server.device("w.a");
    let token = scraper.access_token();
    let statuses: Vec<u16> = (0..60).map(|_| me(&server, &token).0).collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(statuses.iter().take(30).all(|s| *s == 200));
    let audited = server
        .db
        .tx(|tx| {
            Ok(tx
                .query(
                    "SELECT 1 FROM audit WHERE action = 'request.rate_limited'",
                    params![],
                )?
                .len())
        })
        .unwrap();
    assert_eq!(
        audited, 1,
        "the refusal is audited once, not once per request"
    );
}

/// The agency is never left without an administrator: the last enabled one cannot be
/// disabled, by itself or anyone else; with another present it can.
fn last_administrator_stays(backend: Backend) {
    let server = TestServer::start(backend);
    let (root, _) = server.add_user("root", fieldnote_protocol::ServerRole::Administrator, None);
    let token = server.device("root").access_token();
    let first: String = server
        .db
        .tx(|tx| {
            Ok(tx.query_one("SELECT id FROM users WHERE username = 'admin'", params![])?[0].text())
        })
        .unwrap();
    let disable = |id: &str| {
        raw(
            &server.url,
            "POST",
            &format!("/v1/admin/users/{id}/disable"),
            Some(&token),
            Some(b"{}".to_vec()),
            &[],
        )
    };
    assert_eq!(disable(&first).0, 204, "two administrators: one may go");
    let (status, body) = disable(&root);
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("only administrator"), "{body}");
    assert_eq!(me(&server, &token).0, 200, "still signed in");
}

fn login_at(server: &TestServer, user: &str, password: &str) -> (u16, serde_json::Value) {
    raw(
        &server.url,
        "POST",
        "/v1/auth/login",
        None,
        Some(
            serde_json::json!({"username": user, "password": password, "device_name": "t"})
                .to_string()
                .into_bytes(),
        ),
        &[],
    )
}

/// Sign-in limits that hold under attack: 40 simultaneous wrong passwords for one user get
/// at most the allowed number of password checks (the rest are refused before any check),
/// and the refusal says when to retry; the attacked name does not lock out another user at
/// the same address; enormous user names are counted under a short key; expired counters
/// are swept.
fn sign_in_limits_under_attack(backend: Backend) {
    let server = TestServer::start_with(
        backend,
        AuthConfig {
            login_window_secs: 120,
            ..AuthConfig::default()
        },
    );
    let (team, _) = team_with_supervisor(&server, "a");
    server.add_user("w2.a", ServerRole::Worker, Some(&team));
    let login = |user: &str, password: &str| login_at(&server, user, password);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let attempts: Vec<_> = (0..40)
            .map(|_| s.spawn(|| login("w.a", "wrong password, again").0))
            .collect();
        attempts.into_iter().map(|a| a.join().unwrap()).collect()
    });
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + refused, 40, "{statuses:?}");
    assert!(
        checked <= 5,
        "{checked} passwords checked of 40 at once: {statuses:?}"
    );
    let (status, body) = login("w.a", common::PASSWORD);
    assert_eq!(status, 429, "the attacked name waits: {body}");
    let text = body.to_string();
    let wait: u64 = text
        .split("retry in ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no wait in {text}"));
    assert!(
        (1..=120).contains(&wait),
        "the wait left in this window, not a fixed one: {text}"
    );
    assert_eq!(
        login("w2.a", common::PASSWORD).0,
        200,
        "a neighbour signs in"
    );

    // Names of a megabyte are counted under a key of fixed size.
    let huge = "x".repeat(1 << 20);
    for i in 0..5 {
        let (status, body) = login(&format!("{huge}{i}"), "nope");
        assert_eq!(status, 401, "checked and counted: {body}");
    }
    let longest = server
        .db
        .tx(|tx| Ok(tx.query_one("SELECT MAX(LENGTH(key)) FROM rate_limits", params![])?[0].int()))
        .unwrap();
    assert!(longest < 100, "a rate-limit key of {longest} bytes");
    // Once their window is over, a new failure sweeps the old counters away.
    let server = TestServer::start_with(
        backend,
        AuthConfig {
            login_window_secs: 1,
            ..AuthConfig::default()
        },
    );
    for i in 0..5 {
        login_at(&server, &format!("someone{i}"), "nope");
    }
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    login_at(&server, "nobody", "nope");
    let left = server
        .db
        .tx(|tx| {
            Ok(tx.query_one(
                "SELECT COUNT(*) FROM rate_limits WHERE key LIKE 'login:%'",
                params![],
            )?[0]
                .int())
        })
        .unwrap();
    assert!(left <= 2, "{left} login counters left after the window");
}

#[test]
fn sqlite_sign_in_limits_under_attack() {
    sign_in_limits_under_attack(Backend::Sqlite);
}

#[test]
fn postgres_sign_in_limits_under_attack() {
    sign_in_limits_under_attack(Backend::Postgres);
}

fn login_via(server: &TestServer, user: &str, password: &str, forwarded: &str) -> u16 {
    raw(
        &server.url,
        "POST",
        "/v1/auth/login",
        None,
        Some(
            serde_json::json!({"username": user, "password": password, "device_name": "t"})
                .to_string()
                .into_bytes(),
        ),
        &[("x-forwarded-for", forwarded)],
    )
    .0
}

/// Behind a trusted proxy every phone arrives from the proxy's address: the address that
/// counts is the one the proxy forwarded, one attacker spraying guesses behind the proxy
/// does not lock out the other phones, and a user nobody attacked signs in even from the
/// attacker's own address. Without the proxy trusted, a forged header changes nothing.
fn one_client_behind_a_proxy_locks_out_no_one(backend: Backend) {
    // Two failures per name, eight per address, eighty per address at the most.
    let auth = |trusted: Vec<ipnet::IpNet>| AuthConfig {
        login_window_secs: 300,
        login_failures: 2,
        trusted_proxies: trusted,
        ..AuthConfig::default()
    };
    let server = TestServer::start_with(backend, auth(vec!["127.0.0.1/32".parse().unwrap()]));
    let (team, _) = team_with_supervisor(&server, "a");
    server.add_user("w2.a", ServerRole::Worker, Some(&team));
    let attacker = "203.0.113.9, 127.0.0.1";
    let address_count = |server: &TestServer, ip: &str| {
        let key = format!("login:ip:{ip}");
        server
            .db
            .tx(|tx| {
                Ok(tx
                    .query_opt(
                        "SELECT count FROM rate_limits WHERE key = $1",
                        params![&key],
                    )?
                    .map_or(0, |r| r[0].int()))
            })
            .unwrap()
    };
    // One guess at each of 20 names: past the address's eight, still checked (each name is
    // unattacked), and counted under the forwarded address, not the proxy's.
    for i in 0..20 {
        assert_eq!(
            login_via(&server, &format!("guess{i}"), "wrong password", attacker),
            401
        );
    }
    assert_eq!(address_count(&server, "203.0.113.9"), 20);
    assert_eq!(
        address_count(&server, "127.0.0.1"),
        0,
        "the proxy is not the client"
    );
    assert_eq!(
        login_via(&server, "guess0", "wrong password", attacker),
        429,
        "past the address's limit, a name already failed waits"
    );
    // Another phone behind the same proxy is counted under its own address.
    assert_eq!(
        login_via(&server, "w.a", common::PASSWORD, "198.51.100.7"),
        200
    );
    // A user with no failures of their own signs in even from the attacker's address.
    assert_eq!(
        login_via(&server, "w2.a", common::PASSWORD, attacker),
        200,
        "a correct password of an unattacked user is not locked out"
    );
    // Past the hard ceiling the attacker's address waits, whatever name it tries, and
    // the other phones behind the proxy still sign in.
    let statuses: Vec<u16> = (20..100)
        .map(|i| login_via(&server, &format!("guess{i}"), "wrong password", attacker))
        .collect();
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert_eq!(
        login_via(&server, "w.a", common::PASSWORD, "198.51.100.8"),
        200
    );

    // Without trusting the proxy, a forged header is ignored: every attempt counts against
    // the connection's own address, whatever the header claims.
    let server = TestServer::start_with(backend, auth(Vec::new()));
    team_with_supervisor(&server, "a");
    for i in 0..10 {
        let forged = format!("198.51.100.{i}");
        login_via(&server, &format!("guess{i}"), "wrong password", &forged);
    }
    assert_eq!(address_count(&server, "127.0.0.1"), 10);
    assert_eq!(address_count(&server, "198.51.100.1"), 0);
}

#[test]
fn sqlite_one_client_behind_a_proxy_locks_out_no_one() {
    one_client_behind_a_proxy_locks_out_no_one(Backend::Sqlite);
}

#[test]
fn postgres_one_client_behind_a_proxy_locks_out_no_one() {
    one_client_behind_a_proxy_locks_out_no_one(Backend::Postgres);
}

fn login_with_code(
    server: &TestServer,
    user: &str,
    code: Option<&str>,
) -> (u16, serde_json::Value) {
    raw(
        &server.url,
        "POST",
        "/v1/auth/login",
        None,
        Some(
            serde_json::json!({"username": user, "password": common::PASSWORD,
                "device_name": "t", "second_factor": code})
            .to_string()
            .into_bytes(),
        ),
        &[],
    )
}

/// A device that receives a team's or an agency's records is registered only with the
/// account's second factor: a supervisor or director without an authenticator is told to
/// enroll one in the console, one without a code is asked for it, a wrong or replayed code
/// is refused, audited and counted like a wrong password; workers and administrators (who
/// hold no PHI on a device) are not asked.
fn supervisors_register_devices_with_a_second_factor(backend: Backend) {
    let server = TestServer::start(backend);
    let team = server.add_team("a");
    server.add_user("w.a", ServerRole::Worker, Some(&team));
    server.add_user("s.a", ServerRole::Supervisor, Some(&team));
    server.add_user("d.a", ServerRole::ProgramDirector, Some(&team));
    server.add_user("root", ServerRole::Administrator, None);
    for who in ["s.a", "d.a"] {
        let (status, body) = login_with_code(&server, who, Some("123456"));
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["code"], "second_factor_required", "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("console"),
            "{body}"
        );
    }
    // Enrolled (here directly; the console enrolls on first sign-in).
    let code = server.second_factor("s.a").unwrap();
    let (status, body) = login_with_code(&server, "s.a", None);
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("second_factor_required"))
    );
    assert!(
        body["message"].as_str().unwrap().contains("6-digit"),
        "{body}"
    );
    let (status, body) = login_with_code(&server, "s.a", Some("not a code"));
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthenticated")),
        "{body}"
    );
    let (status, body) = login_with_code(&server, "s.a", Some(&code));
    assert_eq!(status, 200, "{body}");
    let (status, body) = login_with_code(&server, "s.a", Some(&code));
    assert_eq!(status, 401, "a code is taken once: {body}");
    let failed = server
        .db
        .tx(|tx| {
            Ok(tx.query_one(
                "SELECT COUNT(*) FROM audit WHERE action = 'login.second_factor_failed'",
                params![],
            )?[0]
                .int())
        })
        .unwrap();
    assert_eq!(failed, 2, "the wrong and the replayed code are audited");
    // Wrong codes count against the name like wrong passwords: past the limit, even the
    // right password and code wait.
    for _ in 0..5 {
        login_with_code(&server, "s.a", Some("000001"));
    }
    let code = server.second_factor("s.a").unwrap();
    assert_eq!(login_with_code(&server, "s.a", Some(&code)).0, 429);
    // Workers and administrators are not asked.
    for who in ["w.a", "root"] {
        assert_eq!(login_with_code(&server, who, None).0, 200, "{who}");
    }
}

#[test]
fn sqlite_supervisors_register_devices_with_a_second_factor() {
    supervisors_register_devices_with_a_second_factor(Backend::Sqlite);
}

#[test]
fn postgres_supervisors_register_devices_with_a_second_factor() {
    supervisors_register_devices_with_a_second_factor(Backend::Postgres);
}

/// Names, labels and outcomes with control characters (terminal escapes, bells, line
/// breaks that forge log or screen lines) are refused, naming the field, and nothing is
/// stored.
fn control_characters_refused_by_field(backend: Backend) {
    let server = TestServer::start(backend);
    let (team, _) = team_with_supervisor(&server, "a");
    server.add_user("root", fieldnote_protocol::ServerRole::Administrator, None);
    let token = server.device("root").access_token();
    let post = |path: &str, body: serde_json::Value| {
        raw(
            &server.url,
            "POST",
            path,
            Some(&token),
            Some(body.to_string().into_bytes()),
            &[],
        )
    };
    let cases = [
        (
            "/v1/admin/users",
            serde_json::json!({"username": "eve", "display_name": "Eve\u{1b}[31m admin",
                "role": "worker", "team_id": team, "password": "a long enough password"}),
            "display_name",
        ),
        (
            "/v1/admin/users",
            serde_json::json!({"username": "eve\u{7}", "display_name": "Eve",
                "role": "worker", "team_id": team, "password": "a long enough password"}),
            "username",
        ),
        (
            "/v1/admin/teams",
            serde_json::json!({"name": "Team\nFake line"}),
            "name",
        ),
        (
            "/v1/auth/login",
            serde_json::json!({"username": "w.a", "password": common::PASSWORD,
                "device_name": "phone\u{1b}]0;owned\u{7}"}),
            "device_name",
        ),
    ];
    for (path, body, field) in cases {
        let (status, resp) = post(path, body);
        assert_eq!(status, 422, "{path}: {resp}");
        assert_eq!(resp["field"], field, "{path}: {resp}");
    }
    let (status, resp) = raw(
        &server.url,
        "PUT",
        &format!("/v1/teams/{team}/safety"),
        Some(&token),
        Some(
            serde_json::json!({"grace_secs": 600, "fallback_secs": 120, "ladder": [
                {"label": "on\u{1b}[8mcall", "target": "team_supervisors", "ack_timeout_secs": 60}]})
            .to_string()
            .into_bytes(),
        ),
        &[],
    );
    assert_eq!(status, 422, "{resp}");
    assert_eq!(resp["field"], "ladder[0].label", "{resp}");
    // An alarm's outcome, as the supervisor resolves it.
    let worker = server.device("w.a").access_token();
    let alarm = uuid::Uuid::now_v7().to_string();
    let now = fieldnote_core::Timestamp::now().millis();
    let (status, resp) = raw(
        &server.url,
        "POST",
        "/v1/safety",
        Some(&worker),
        Some(
            serde_json::json!({"sent_at": now, "items": [{"type": "alarm", "id": alarm,
                "kind": "panic", "device_time": now}]})
            .to_string()
            .into_bytes(),
        ),
        &[],
    );
    assert_eq!(status, 200, "{resp}");
    let (status, resp) = raw(
        &server.url,
        "POST",
        &format!("/v1/alarms/{alarm}/resolve"),
        Some(&server.device("sup.a").access_token()),
        Some(
            serde_json::json!({"outcome": "safe\u{1b}[2J\u{1b}[H all clear"})
                .to_string()
                .into_bytes(),
        ),
        &[],
    );
    assert_eq!(status, 422, "{resp}");
    assert_eq!(resp["field"], "outcome", "{resp}");
    let stored = server
        .db
        .tx(|tx| {
            Ok(tx.query_one(
                "SELECT COUNT(*) FROM users WHERE username LIKE 'eve%'",
                params![],
            )?[0]
                .int())
        })
        .unwrap();
    assert_eq!(stored, 0);
}

#[test]
fn sqlite_control_characters_refused_by_field() {
    control_characters_refused_by_field(Backend::Sqlite);
}

#[test]
fn postgres_control_characters_refused_by_field() {
    control_characters_refused_by_field(Backend::Postgres);
}

/// Refused token refreshes are counted (and audited): past the per-minute limit a device id
/// gets 429; an unknown id and a wrong credential get the same answer.
fn token_refresh_failures_count(backend: Backend) {
    let server = TestServer::start(backend);
    team_with_supervisor(&server, "a");
    let phone = server.device("w.a");
    let creds = phone.client.credentials().unwrap();
    let refresh = |id: &str, secret: &str| {
        raw(
            &server.url,
            "POST",
            "/v1/auth/token",
            None,
            Some(
                serde_json::json!({"device_id": id, "device_secret": secret})
                    .to_string()
                    .into_bytes(),
            ),
            &[],
        )
    };
    let (status, wrong) = refresh(&creds.device_id, "not the secret");
    assert_eq!(status, 401, "{wrong}");
    let (status, unknown) = refresh(&uuid::Uuid::now_v7().to_string(), "not the secret");
    assert_eq!(status, 401, "{unknown}");
    assert_eq!(
        wrong["message"], unknown["message"],
        "an id's existence is not told"
    );
    let statuses: Vec<u16> = (0..65)
        .map(|_| refresh(&creds.device_id, "still not the secret").0)
        .collect();
    assert!(
        statuses.contains(&429),
        "refused refreshes count: {statuses:?}"
    );
    let failed = server
        .db
        .tx(|tx| {
            Ok(tx.query_one(
                "SELECT COUNT(*) FROM audit WHERE action = 'token.failed'",
                params![],
            )?[0]
                .int())
        })
        .unwrap();
    assert!(failed >= 59, "{failed} refused refreshes audited");
}

#[test]
fn sqlite_token_refresh_failures_count() {
    token_refresh_failures_count(Backend::Sqlite);
}

#[test]
fn postgres_token_refresh_failures_count() {
    token_refresh_failures_count(Backend::Postgres);
}

#[test]
fn sqlite_last_administrator_stays() {
    last_administrator_stays(Backend::Sqlite);
}

#[test]
fn postgres_last_administrator_stays() {
    last_administrator_stays(Backend::Postgres);
}

#[test]
fn sqlite_credentials() {
    credentials(Backend::Sqlite);
}

#[test]
fn postgres_credentials() {
    credentials(Backend::Postgres);
}
