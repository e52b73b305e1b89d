//! The console's authorization matrix, on SQLite and PostgreSQL: every console route from
//! the route table, requested by a signed-in supervisor of the team that owns the object, a
//! supervisor of another team of the agency, the agency's program director, an administrator,
//! and a browser with no session. The expected outcome of each cell is written here by hand
//! from the rules (supervisors see their team, directors their agency, administrators no PHI
//! but all administration), not derived from the policy module; a console route without an
//! expectation fails the test, so a new route must be placed in the matrix.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use axum::http::Method;
use common::browser::{Browser, enc, sign_in};
use common::{Backend, TestServer, raw_post};
use fieldnote_core::Signer;
use fieldnote_core::model::*;
use fieldnote_protocol::ServerRole;
use fieldnote_server::app::{Access, route_table};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    OwnSupervisor,
    OtherSupervisor,
    Director,
    Administrator,
    NoSession,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// 200, a redirect that is not to sign-in, or 409 (allowed, but already done).
    Allowed,
    /// 403 or 404, with a page saying why.
    Denied,
    /// Sent to sign-in (pages) or refused (forms) for want of a session.
    SignIn,
}

use Outcome::*;
use Who::*;

/// The expected outcome of `route` for `who`, by hand.
fn expected(route: &str, who: Who) -> Option<Outcome> {
    if who == NoSession {
        return Some(SignIn);
    }
    let team_work = |who| match who {
        OwnSupervisor | Director => Allowed,
        _ => Denied,
    };
    let admin_only = |who| {
        if who == Administrator {
            Allowed
        } else {
            Denied
        }
    };
    Some(match route {
        // Lists scoped to the user: everyone signed in gets their own (for an administrator,
        // empty) list; the live stream of alarm details is for those who answer alarms.
        "GET /console/alarms"
        | "GET /console/alarms/rows"
        | "GET /console/alarms/waiting"
        | "GET /console/visits"
        | "GET /console/visits/rows" => Allowed,
        "GET /console/events" => match who {
            Administrator => Denied,
            _ => Allowed,
        },
        // A team's figures and review queue: supervisors and directors, never administrators.
        "GET /console/team" | "GET /console/review" => match who {
            Administrator => Denied,
            _ => Allowed,
        },
        // One of team A's objects.
        "GET /console/alarms/{id}"
        | "POST /console/alarms/{id}/acknowledge"
        | "POST /console/alarms/{id}/resolve"
        | "GET /console/records/{id}"
        | "POST /console/records/{id}/review"
        | "GET /console/members/{id}"
        | "GET /console/members/{id}/export" => team_work(who),
        // Emergency access is asked for by a supervisor or director (a no-op on one's own).
        "POST /console/members/{id}/emergency" => match who {
            Administrator => Denied,
            _ => Allowed,
        },
        // Team A's escalation ladder: its supervisor, the director, administrators.
        "GET /console/teams/{id}/safety" | "POST /console/teams/{id}/safety" => match who {
            OtherSupervisor => Denied,
            _ => Allowed,
        },
        // Revoking a phone of team A: its supervisor, the director, administrators.
        "POST /console/admin/devices/{id}/revoke" => match who {
            OtherSupervisor => Denied,
            _ => Allowed,
        },
        "GET /console/admin"
        | "POST /console/admin/teams"
        | "POST /console/admin/users"
        | "POST /console/admin/users/{id}/disable"
        | "POST /console/admin/users/{id}/phone"
        | "GET /console/audit" => admin_only(who),
        _ => return None,
    })
}

struct World {
    server: TestServer,
    team_a: String,
    member: RecordId,
    note: RecordId,
    alarm: String,
    device: String,
    spare_user: String,
}

fn world(backend: Backend) -> World {
    let server = TestServer::start(backend);
    let team_a = server.add_team("a");
    let team_b = server.add_team("b");
    server.add_user("sup.a", ServerRole::Supervisor, Some(&team_a));
    server.add_user("sup.b", ServerRole::Supervisor, Some(&team_b));
    server.add_user("director", ServerRole::ProgramDirector, Some(&team_b));
    server.add_user("root", ServerRole::Administrator, None);
    server.add_user("w.a", ServerRole::Worker, Some(&team_a));
    server.add_user("spare.a", ServerRole::Worker, Some(&team_a));
    let mut phone = server.device("w.a");
    let member = phone.add_member(1);
    let note = phone.write_note(member, "A visit.");
    phone
        .store
        .finalize_note(note, Signer::staff(phone.staff_id, "w a", Role::Worker))
        .unwrap();
    phone.sync();
    let spare_phone = server.device("spare.a");
    let device = spare_phone.client.credentials().unwrap().device_id;
    let spare_user = server
        .db
        .tx(|tx| {
            Ok(tx.query_one(
                "SELECT id FROM users WHERE username = 'spare.a'",
                fieldnote_server::params![],
            )?[0]
                .text())
        })
        .unwrap();
    let now = Timestamp::now().millis();
    let alarm = uuid::Uuid::now_v7().to_string();
    let body = serde_json::json!({
        "sent_at": now,
        "items": [{ "type": "alarm", "id": alarm, "kind": "panic", "device_time": now }]
    });
    let (status, _) = raw_post(
        &server.url,
        "/v1/safety",
        Some(&phone.access_token()),
        &body.to_string(),
    );
    assert_eq!(status, 200);
    World {
        server,
        team_a,
        member,
        note,
        alarm,
        device,
        spare_user,
    }
}

/// The route's path with its id filled in, plus a query, and a form for posts.
fn request(w: &World, path: &str, who: Who) -> (String, String) {
    let id = if path.starts_with("/console/alarms/") {
        w.alarm.clone()
    } else if path.starts_with("/console/records/") {
        w.note.to_string()
    } else if path.starts_with("/console/members/") {
        w.member.to_string()
    } else if path.starts_with("/console/teams/") {
        w.team_a.clone()
    } else if path.starts_with("/console/admin/devices/") {
        w.device.clone()
    } else {
        w.spare_user.clone()
    };
    let mut url = path.replace("{id}", &id);
    if url.ends_with("/export") {
        url.push_str("?format=csv");
    }
    let form = if path.ends_with("/review") {
        "decision=approve&comment=".to_string()
    } else if path.ends_with("/resolve") {
        "outcome=Called+the+worker".to_string()
    } else if path.ends_with("/emergency") {
        format!(
            "reason={}&minutes=5",
            enc("Covering the on-call phone tonight")
        )
    } else if path.ends_with("/safety") {
        "grace_secs=600&fallback_secs=120&label=on-call&target=team_supervisors&users=&timeout=180"
            .to_string()
    } else if path.ends_with("/phone") {
        "phone=617-555-0123".to_string()
    } else if path == "/console/admin/teams" {
        format!("name=Team+{who:?}")
    } else if path == "/console/admin/users" {
        format!(
            "username=new.{who:?}&display_name=New+User&role=worker&team={}&password={}",
            w.team_a,
            enc("a long enough password")
        )
    } else {
        String::new()
    };
    (url, form)
}

/// The status of a GET without reading its body (the event stream never ends).
fn head_status(b: &Browser, url: &str) -> (u16, Option<String>) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    let mut req = agent.get(&format!("{}{url}", b.base));
    if let Some(c) = &b.cookie {
        req = req.header("cookie", format!("fieldnote_console={c}"));
    }
    let resp = req.call().unwrap();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (resp.status().as_u16(), location)
}

fn outcome(status: u16, location: Option<&str>) -> Outcome {
    match (status, location) {
        // 401: the live stream without a session (an EventSource cannot follow a redirect
        // to a page).
        (303, Some("/console/login")) | (401, _) => SignIn,
        (403, _) | (404, _) => Denied,
        // 409: allowed, but someone answered the alarm first.
        (200, _) | (303, _) | (409, _) => Allowed,
        (s, l) => panic!("unexpected status {s} (location {l:?})"),
    }
}

fn matrix(backend: Backend) {
    let w = world(backend);
    let mut routes: Vec<(Method, &str)> = route_table()
        .into_iter()
        .filter(|(_, p, a)| p.starts_with("/console") && *a == Access::Console)
        .filter(|(_, p, _)| *p != "/console/logout")
        .map(|(m, p, _)| (m, p))
        .collect();
    // Pages first, then forms, emergency access last (it opens team A's member to the other
    // supervisor).
    routes.sort_by_key(|(m, p)| (*m != Method::GET, p.ends_with("/emergency"), *p));
    let mut cells = 0;
    for who in [
        OwnSupervisor,
        OtherSupervisor,
        Director,
        Administrator,
        NoSession,
    ] {
        let mut b = match who {
            OwnSupervisor => sign_in(&w.server, "sup.a", None).0,
            OtherSupervisor => sign_in(&w.server, "sup.b", None).0,
            Director => sign_in(&w.server, "director", None).0,
            Administrator => sign_in(&w.server, "root", None).0,
            NoSession => Browser::new(&w.server.url),
        };
        let csrf = match who {
            NoSession => String::new(),
            _ => Browser::csrf(&b.get("/console/alarms")),
        };
        for (method, path) in &routes {
            let route = format!("{method} {path}");
            let want = expected(&route, who)
                .unwrap_or_else(|| panic!("{route} has no expectation in the console matrix"));
            let (url, form) = request(&w, path, who);
            let (status, location) = if *method == Method::GET {
                head_status(&b, &url)
            } else {
                let body = if form.is_empty() {
                    format!("csrf={csrf}")
                } else {
                    format!("csrf={csrf}&{form}")
                };
                let p = b.post(&url, &body);
                (p.status, p.location)
            };
            let mut got = outcome(status, location.as_deref());
            if who == NoSession && *method == Method::POST && got == Denied {
                got = SignIn; // a form without a session is refused, not redirected
            }
            assert_eq!(got, want, "{route} as {who:?}: status {status}");
            cells += 1;
        }
    }
    println!("console authorization matrix: {cells} cells");
    assert!(cells >= 5 * 20, "{cells} cells");
}

#[test]
fn sqlite_console_matrix() {
    matrix(Backend::Sqlite);
}

#[test]
fn postgres_console_matrix() {
    matrix(Backend::Postgres);
}
