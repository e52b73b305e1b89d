//! The authorization matrix: every route enumerated from the router, and the sync feed, for
//! each role against its own team and another team. The expected outcomes are written here
//! by hand from the access rules in the README, not derived from the policy module, so a
//! change to the policy that leaks shows up as a failure. A route without an expectation
//! fails the test.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{Backend, Device, TestServer, raw};
use fieldnote_protocol::ServerRole;
use fieldnote_server::app::{Access, route_table};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rel {
    Own,
    Other,
}

/// What each role may do, per route, written independently of the policy module.
fn expected(route: &str, role: ServerRole, rel: Rel) -> bool {
    use ServerRole::*;
    match route {
        "GET /health"
        | "POST /v1/auth/login"
        | "POST /v1/auth/token"
        | "POST /v1/auth/logout"
        | "GET /v1/me"
        | "POST /v1/sync" => true,
        "POST /v1/members/{id}/assign"
        | "GET /v1/teams/{id}/members"
        | "GET /v1/teams/{id}/rollup" => match role {
            Supervisor => rel == Rel::Own,
            ProgramDirector => true,
            Worker | Administrator => false,
        },
        "POST /v1/devices/{id}/revoke" => match role {
            Supervisor => rel == Rel::Own,
            ProgramDirector | Administrator => true,
            Worker => false,
        },
        // Every signed-in device may raise alarms; lists are filtered to the caller's scope.
        "POST /v1/safety" | "GET /v1/alarms" | "GET /v1/sessions" => true,
        "GET /v1/events" => role != Administrator,
        // The alarm of a worker of the `rel` team.
        "GET /v1/alarms/{id}" => match role {
            Worker | Supervisor => rel == Rel::Own,
            ProgramDirector => true,
            Administrator => false,
        },
        "POST /v1/alarms/{id}/acknowledge"
        | "POST /v1/alarms/{id}/resolve"
        | "GET /v1/alarms/{id}/trail" => match role {
            Supervisor => rel == Rel::Own,
            ProgramDirector => true,
            Worker | Administrator => false,
        },
        "GET /v1/teams/{id}/safety" | "PUT /v1/teams/{id}/safety" => match role {
            Supervisor => rel == Rel::Own,
            ProgramDirector | Administrator => true,
            Worker => false,
        },
        "GET /v1/admin/users"
        | "POST /v1/admin/users"
        | "POST /v1/admin/users/{id}/disable"
        | "POST /v1/admin/teams"
        | "GET /v1/admin/devices"
        | "GET /v1/admin/audit"
        | "GET /v1/admin/audit/checkpoint" => role == Administrator,
        other => panic!("no expectation written for route {other}: add one to this test"),
    }
}

/// Whether a device of `role` receives a member of `rel` team in its sync feed.
fn expected_feed(role: ServerRole, rel: Rel) -> bool {
    match role {
        ServerRole::Worker | ServerRole::Supervisor => rel == Rel::Own,
        ServerRole::ProgramDirector => true,
        ServerRole::Administrator => false,
    }
}

struct World {
    server: TestServer,
    team: [String; 2],
    member: [String; 2],
    other_worker: [String; 2],
    /// Access tokens of the first worker of each team (w.a, w.b), who raise alarms.
    raisers: [String; 2],
    actors: Vec<(ServerRole, Device)>,
}

fn world(backend: Backend) -> World {
    let server = TestServer::start(backend);
    let a = server.add_team("A");
    let b = server.add_team("B");
    server.add_user("w.a", ServerRole::Worker, Some(&a));
    let (wa2, _) = server.add_user("w2.a", ServerRole::Worker, Some(&a));
    server.add_user("s.a", ServerRole::Supervisor, Some(&a));
    server.add_user("d.a", ServerRole::ProgramDirector, Some(&a));
    server.add_user("w.b", ServerRole::Worker, Some(&b));
    let (wb2, _) = server.add_user("w2.b", ServerRole::Worker, Some(&b));
    server.add_user("s.b", ServerRole::Supervisor, Some(&b));
    server.add_user("root", ServerRole::Administrator, None);
    let mut wa = server.device("w.a");
    let ma = wa.add_member(1);
    wa.sync();
    let mut wb = server.device("w.b");
    let mb = wb.add_member(2);
    wb.sync();
    let raisers = [wa.access_token(), wb.access_token()];
    let actors = vec![
        (ServerRole::Worker, wa),
        (ServerRole::Supervisor, server.device("s.a")),
        (ServerRole::ProgramDirector, server.device("d.a")),
        (ServerRole::Administrator, server.device("root")),
    ];
    World {
        server,
        raisers,
        team: [a, b],
        member: [ma.to_string(), mb.to_string()],
        other_worker: [wa2, wb2],
        actors,
    }
}

/// Calls one route as `token` against the `rel` team's target; returns the status.
fn call(w: &World, method: &str, path: &str, rel: Rel, token: Option<&str>) -> u16 {
    call_full(w, method, path, rel, token, false).0
}

/// [`call`] with the answer's body; with `unknown`, the path's id is replaced by one that
/// names nothing (the same body is sent).
fn call_full(
    w: &World,
    method: &str,
    path: &str,
    rel: Rel,
    token: Option<&str>,
    unknown: bool,
) -> (u16, serde_json::Value) {
    let i = (rel == Rel::Other) as usize;
    let url = &w.server.url;
    let team_names = ["w2.a", "w2.b"];
    let (concrete, body): (String, String) = match path {
        "/v1/members/{id}/assign" => (
            format!("/v1/members/{}/assign", w.member[i]),
            serde_json::json!({ "worker_id": w.other_worker[i] }).to_string(),
        ),
        "/v1/teams/{id}/members" => (format!("/v1/teams/{}/members", w.team[i]), String::new()),
        "/v1/teams/{id}/rollup" => (format!("/v1/teams/{}/rollup", w.team[i]), String::new()),
        "/v1/admin/users/{id}/disable" => {
            let name = format!("tmp.{}", uuid::Uuid::new_v4().simple());
            let (id, _) = w
                .server
                .add_user(&name, ServerRole::Worker, Some(&w.team[i]));
            (format!("/v1/admin/users/{id}/disable"), "{}".into())
        }
        "/v1/devices/{id}/revoke" => {
            let d = Device::login(url, team_names[i]);
            let id = d.client.credentials().unwrap().device_id;
            (format!("/v1/devices/{id}/revoke"), "{}".into())
        }
        "/v1/admin/users" => (
            path.into(),
            serde_json::json!({
                "username": format!("new.{}", uuid::Uuid::new_v4().simple()),
                "display_name": "New Worker", "role": "worker",
                "team_id": w.team[i], "password": "a long enough password"
            })
            .to_string(),
        ),
        "/v1/admin/teams" => (path.into(), r#"{"name":"C"}"#.into()),
        "/v1/sync" => (
            path.into(),
            r#"{"protocol":1,"cursor":{"feed":0,"grant":0},"upload":[]}"#.into(),
        ),
        "/v1/auth/logout" => (path.into(), "{}".into()),
        "/v1/safety" => (path.into(), alarm_body(&uuid::Uuid::now_v7().to_string())),
        "/v1/alarms/{id}"
        | "/v1/alarms/{id}/acknowledge"
        | "/v1/alarms/{id}/resolve"
        | "/v1/alarms/{id}/trail" => {
            let id = uuid::Uuid::now_v7().to_string();
            if !unknown {
                let (status, ack) =
                    common::raw_post(url, "/v1/safety", Some(&w.raisers[i]), &alarm_body(&id));
                assert_eq!(status, 200, "raising the alarm the route is checked on");
                assert_eq!(ack["receipts"][0]["outcome"], "accepted", "{ack}");
            }
            (path.replace("{id}", &id), r#"{"outcome":"checked"}"#.into())
        }
        "/v1/teams/{id}/safety" => (
            path.replace("{id}", &w.team[i]),
            serde_json::to_string(&fieldnote_protocol::safety::SafetySettings::default()).unwrap(),
        ),
        "/v1/events" => return (stream_status(url, token), serde_json::Value::Null),
        other => (other.into(), "{}".into()),
    };
    let concrete = if unknown {
        // The segment where the template has `{id}` names nothing.
        path.split('/')
            .zip(concrete.split('/'))
            .map(|(t, c)| {
                if t == "{id}" {
                    uuid::Uuid::now_v7().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    } else {
        concrete
    };
    let body = (method != "GET").then(|| body.into_bytes());
    raw(url, method, &concrete, token, body, &[])
}

/// A safety request raising one panic alarm.
fn alarm_body(id: &str) -> String {
    let now = fieldnote_core::Timestamp::now().millis();
    serde_json::json!({
        "sent_at": now,
        "items": [{ "type": "alarm", "id": id, "kind": "panic", "device_time": now }]
    })
    .to_string()
}

/// The status of the event stream, read without waiting for a body that never ends.
fn stream_status(url: &str, token: Option<&str>) -> u16 {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut req = agent.get(format!("{url}/v1/events"));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    req.call().unwrap().status().as_u16()
}

/// The status of a request with a bearer token, without following redirects.
fn unfollowed(url: &str, method: &str, path: &str, token: &str) -> u16 {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    let url = format!("{url}{path}");
    let auth = format!("Bearer {token}");
    let resp = if method == "GET" {
        agent.get(&url).header("authorization", &auth).call()
    } else {
        agent
            .post(&url)
            .header("authorization", &auth)
            .header("content-type", "application/x-www-form-urlencoded")
            .send(&b"csrf="[..])
    };
    resp.unwrap().status().as_u16()
}

fn matrix(backend: Backend) {
    let w = world(backend);
    let mut checked = 0;
    let mut id_cells = 0;
    for (method, path, access) in route_table() {
        let route = format!("{method} {path}");
        if matches!(
            path,
            "/v1/auth/login" | "/v1/auth/token" | "/v1/auth/logout"
        ) {
            continue; // credential routes: checked below with real credentials
        }
        if path.starts_with("/console") {
            // Console pages take a cookie session with a second factor, never a bearer
            // token (tests/console.rs checks them with sessions). No token opens one here.
            if access == Access::Console {
                for (role, device) in &w.actors {
                    let status =
                        unfollowed(&w.server.url, method.as_str(), path, &device.access_token());
                    // 303 to sign-in for pages, 403 for forms, 401 for the live stream.
                    assert!(
                        matches!(status, 303 | 403 | 401),
                        "{route} with a bearer token as {role:?}: status {status}"
                    );
                    checked += 1;
                }
            }
            continue;
        }
        if access == Access::SignedIn {
            let status = call(&w, method.as_str(), path, Rel::Own, None);
            assert_eq!(status, 401, "{route} without a token");
        }
        for (role, device) in &w.actors {
            let token = device.access_token();
            for rel in [Rel::Own, Rel::Other] {
                let there = call_full(&w, method.as_str(), path, rel, Some(&token), false);
                let status = there.0;
                let allowed = (200..300).contains(&status);
                let want = expected(&route, *role, rel);
                assert_eq!(
                    allowed, want,
                    "{route} as {role:?} on {rel:?} team: status {status}"
                );
                if !allowed {
                    assert!(
                        matches!(status, 403 | 404),
                        "{route}: denial status {status}"
                    );
                    // A refusal over something that exists reads exactly like the answer
                    // about an id that names nothing: no route tells what exists outside
                    // the caller's scope.
                    if path.contains("{id}") && rel == Rel::Other {
                        let nothing = call_full(&w, method.as_str(), path, rel, Some(&token), true);
                        assert_eq!(
                            there, nothing,
                            "{route} as {role:?}: a refusal tells an existing id from none"
                        );
                        id_cells += 1;
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 60, "only {checked} cells checked");
    assert!(
        id_cells >= 20,
        "only {id_cells} refusals compared with unknown ids"
    );

    // The sync feed, with members created now (the matrix above moved the first ones).
    let fresh = |name: &str, seed: u64| {
        let mut d = w.server.device(name);
        let m = d.add_member(seed);
        d.sync();
        m.to_string()
    };
    let members = [fresh("w.a", 10), fresh("w.b", 11)];
    for (i, role) in [
        ServerRole::Worker,
        ServerRole::Supervisor,
        ServerRole::ProgramDirector,
        ServerRole::Administrator,
    ]
    .into_iter()
    .enumerate()
    {
        let name = ["w.a", "s.a", "d.a", "root"][i];
        let mut d = w.server.device(name);
        d.sync();
        let held: Vec<String> = d.members().iter().map(|m| m.to_string()).collect();
        for (rel, member) in [(Rel::Own, &members[0]), (Rel::Other, &members[1])] {
            assert_eq!(
                held.contains(member),
                expected_feed(role, rel),
                "feed of {role:?} for the {rel:?} team's member"
            );
        }
    }

    // Credential routes with real credentials, and logout ends the device's access.
    for (_, device) in &w.actors {
        let token = device.access_token();
        assert_eq!(
            call(&w, "POST", "/v1/auth/logout", Rel::Own, Some(&token)),
            204
        );
        assert_eq!(
            call(&w, "GET", "/v1/me", Rel::Own, Some(&token)),
            401,
            "token revoked"
        );
        let creds = device.client.credentials().unwrap();
        let body = serde_json::json!({
            "device_id": creds.device_id, "device_secret": creds.device_secret
        });
        let (status, resp) =
            common::raw_post(&w.server.url, "/v1/auth/token", None, &body.to_string());
        assert_eq!(
            (status, resp["code"].as_str()),
            (403, Some("device_revoked"))
        );
    }
}

#[test]
fn matrix_sqlite() {
    matrix(Backend::Sqlite);
}

#[test]
fn matrix_postgres() {
    matrix(Backend::Postgres);
}
