//! The supervisor console over HTTP, as a browser speaks to it, on SQLite and PostgreSQL:
//! sign-in with a password and a TOTP code (enrollment on first use, codes never accepted
//! twice, the session replaced after the second factor), cookies and security headers,
//! CSRF and cross-origin posts refused, workers kept out, another team's alarms invisible,
//! record text escaped, idle sign-out, oversize forms refused, and alarms answered from the
//! console reaching the device.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{Backend, TestServer, raw_post};
use fieldnote_protocol::ServerRole;
use fieldnote_server::auth::AuthConfig;

/// What a browser would get back.
struct Page {
    status: u16,
    location: Option<String>,
    set_cookie: Vec<String>,
    headers: Vec<(String, String)>,
    body: String,
}

/// A cookie-keeping client that does not follow redirects (so tests see them).
struct Browser {
    base: String,
    cookie: Option<String>,
}

impl Browser {
    fn new(base: &str) -> Browser {
        Browser {
            base: base.to_string(),
            cookie: None,
        }
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        form: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Page {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent();
        let url = format!("{}{path}", self.base);
        let cookie = self
            .cookie
            .as_ref()
            .map(|c| format!("fieldnote_console={c}"));
        let result = if method == "GET" {
            let mut req = agent.get(&url);
            if let Some(c) = &cookie {
                req = req.header("cookie", c);
            }
            for (k, v) in extra {
                req = req.header(*k, *v);
            }
            req.call()
        } else {
            let mut req = agent
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded");
            if let Some(c) = &cookie {
                req = req.header("cookie", c);
            }
            for (k, v) in extra {
                req = req.header(*k, *v);
            }
            req.send(form.unwrap_or_default().as_bytes())
        };
        let mut resp = result.unwrap();
        let header = |name: &str| {
            resp.headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect::<Vec<_>>()
        };
        let set_cookie = header("set-cookie");
        let location = header("location").into_iter().next();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        for c in &set_cookie {
            if let Some(v) = c.strip_prefix("fieldnote_console=") {
                let v = v.split(';').next().unwrap_or_default();
                self.cookie = (!v.is_empty()).then(|| v.to_string());
            }
        }
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        Page {
            status,
            location,
            set_cookie,
            headers,
            body,
        }
    }

    fn get(&mut self, path: &str) -> Page {
        self.send("GET", path, None, &[])
    }

    fn post(&mut self, path: &str, form: &str) -> Page {
        self.send("POST", path, Some(form), &[])
    }

    /// The CSRF token of the page's first form.
    fn csrf(page: &Page) -> String {
        between(&page.body, "name=\"csrf\" value=\"", "\"")
    }
}

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in page"))
        + start.len();
    text[from..][..text[from..].find(end).unwrap()].to_string()
}

/// Form encoding of a value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The code an authenticator shows for `secret` `steps_ahead` steps from now.
fn code(secret: &str, steps_ahead: i64) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .with_account_name("test")
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    totp.generate((now + steps_ahead * 30) as u64).to_string()
}

/// Signs `username` in through both steps; returns the browser and the TOTP secret.
fn sign_in(server: &TestServer, username: &str, secret: Option<&str>) -> (Browser, String) {
    let mut b = Browser::new(&server.url);
    let p = b.post(
        "/console/login",
        &format!("username={username}&password={}", enc(common::PASSWORD)),
    );
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/console/mfa"));
    let mfa = b.get("/console/mfa");
    assert_eq!(mfa.status, 200);
    let secret = match secret {
        Some(s) => s.to_string(),
        None => between(&mfa.body, "id=\"totp-secret\">", "<"),
    };
    let csrf = Browser::csrf(&mfa);
    let done = b.post(
        "/console/mfa",
        &format!("csrf={csrf}&code={}", code(&secret, 0)),
    );
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/console/alarms"));
    (b, secret)
}

/// The audit actions recorded so far whose name starts with `prefix`, in order.
fn audited(server: &TestServer, prefix: &str) -> Vec<String> {
    server
        .db
        .tx(|tx| {
            Ok(tx
                .query(
                    "SELECT action FROM audit WHERE action LIKE $1 ORDER BY seq",
                    fieldnote_server::params![format!("{prefix}%")],
                )?
                .into_iter()
                .map(|r| r[0].text())
                .collect())
        })
        .unwrap()
}

fn team_with_supervisor(server: &TestServer, name: &str) -> (String, String) {
    let team = server.add_team(name);
    let sup = format!("sup.{name}");
    server.add_user(&sup, ServerRole::Supervisor, Some(&team));
    server.add_user(&format!("w.{name}"), ServerRole::Worker, Some(&team));
    (team, sup)
}

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
    let rows: Vec<&str> = page.body.split("<tr").skip(2).collect();
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
