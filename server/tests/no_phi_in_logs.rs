//! No PHI in logs or panic messages: every log line the server, the client and the core emit
//! with the server's log filter at its most verbose (`RUST_LOG=trace`), and every panic
//! message, during a full scenario on SQLite and PostgreSQL
//! (enrollment, notes, sync, refused input, search, alarms, the console's review, emergency
//! access and exports), is captured and searched for marker PHI in plain text, hex and
//! base64. None may appear. The server's database holds PHI by design; what protects it is
//! in the README.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use common::browser::{Browser, enc, sign_in, team_with_supervisor};
use common::{Backend, TestServer, raw_post};
use fieldnote_core::Signer;
use fieldnote_core::model::*;
use fieldnote_protocol::ServerRole;

const NAME: &str = "Quazzelbrook";
const NARRATIVE: &str = "marker narrative about the Xyloquent clinic";
const PLACE: &str = "Vintermoor Shelter";
const COMMENT: &str = "Plumquist follow-up missing";
const REASON: &str = "Covering Zorblatt on-call emergency";
const MARKERS: &[&str] = &[NAME, NARRATIVE, PLACE, COMMENT, REASON, "ZQ9988776655"];

/// Everything logged or panicked in this process.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        // The server's own filter, as if an administrator set RUST_LOG=trace.
        tracing_subscriber::fmt()
            .with_env_filter(fieldnote_server::log_filter(Some("trace")))
            .with_ansi(false)
            .with_writer(move || Capture(writer.clone()))
            .init();
        let panics = buf.clone();
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            panics
                .lock()
                .unwrap()
                .extend_from_slice(format!("PANIC {info}\n").as_bytes());
            default(info);
        }));
        buf
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn forms(marker: &str) -> Vec<Vec<u8>> {
    let mut out = vec![
        marker.as_bytes().to_vec(),
        hex::encode(marker).into_bytes(),
        hex::encode_upper(marker).into_bytes(),
    ];
    for skip in 0..3 {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&marker.as_bytes()[skip..]);
        out.push(b64.as_bytes()[..b64.len().saturating_sub(4)].to_vec());
    }
    out
}

fn scenario(backend: Backend) {
    let server = TestServer::start(backend);
    let (_, sup) = team_with_supervisor(&server, "a");
    server.add_user("sup.b", ServerRole::Supervisor, Some(&server.add_team("b")));

    // A member named with a marker, a note with a marker narrative, synced and searched.
    let mut phone = server.device("w.a");
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(9);
    let mut m = fieldnote_core::synthetic::member(&mut rng);
    m.family_name = NAME.into();
    m.masshealth_id = "ZQ9988776655".into();
    let member = phone.store.create(RecordBody::Member(m)).unwrap();
    phone
        .store
        .create(RecordBody::Enrollment(
            fieldnote_core::synthetic::enrollment(
                member,
                Program::Csp,
                phone.staff_id,
                phone.team_id,
                Timestamp::now(),
            ),
        ))
        .unwrap();
    let note = phone.write_note(member, NARRATIVE);
    phone
        .store
        .finalize_note(note, Signer::staff(phone.staff_id, "w a", Role::Worker))
        .unwrap();
    phone.sync();
    assert!(!phone.store.search("Xyloquent", 5).unwrap().is_empty());

    // Refused input carrying markers: a malformed upload, a note for another team's member.
    let token = phone.access_token();
    let (status, _) = raw_post(
        &server.url,
        "/v1/sync",
        Some(&token),
        &format!("{{\"protocol\": 1, \"upload\": \"{NARRATIVE}\"}}"),
    );
    assert_eq!(status, 400);

    // An alarm at a marked place, answered from the console with a marked outcome.
    let now = Timestamp::now().millis();
    let session = uuid::Uuid::now_v7().to_string();
    let body = serde_json::json!({
        "sent_at": now,
        "items": [
            { "type": "session", "event_id": uuid::Uuid::now_v7().to_string(),
              "session_id": session, "action": "start",
              "device_time": now, "place": PLACE, "expected_end": now + 3_600_000 },
            { "type": "alarm", "id": uuid::Uuid::now_v7().to_string(), "kind": "panic",
              "device_time": now, "session_id": session }
        ]
    });
    let (status, _) = raw_post(&server.url, "/v1/safety", Some(&token), &body.to_string());
    assert_eq!(status, 200);

    // The console: alarms, review with a marked comment, exports, emergency access.
    let (mut b, _) = sign_in(&server, &sup, None);
    let alarms = b.get("/console/alarms");
    assert!(alarms.body.contains(PLACE));
    let page = b.get(&format!("/console/records/{note}"));
    let csrf = Browser::csrf(&page);
    let p = b.post(
        &format!("/console/records/{note}/review"),
        &format!("csrf={csrf}&decision=return&comment={}", enc(COMMENT)),
    );
    assert_eq!(p.status, 303);
    for format in ["html", "pdf", "csv", "fhir"] {
        let e = b.get(&format!("/console/members/{member}/export?format={format}"));
        assert_eq!(e.status, 200);
    }
    let (mut other, _) = sign_in(&server, "sup.b", None);
    let page = other.get(&format!("/console/members/{member}"));
    let csrf = Browser::csrf(&page);
    let p = other.post(
        &format!("/console/members/{member}/emergency"),
        &format!("csrf={csrf}&reason={}&minutes=5", enc(REASON)),
    );
    assert_eq!(p.status, 303);
    phone.sync();

    let logs = captured().lock().unwrap().clone();
    assert!(
        logs.len() > 1_000,
        "the scenario logged ({} bytes): the capture works",
        logs.len()
    );
    let mut leaks = Vec::new();
    for m in MARKERS {
        for form in forms(m) {
            if let Some(at) = logs.windows(form.len()).position(|w| w == form.as_slice()) {
                // Show the line, with the marker itself masked.
                let start = logs[..at]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1);
                let end = logs[at..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(logs.len(), |i| at + i);
                let line = String::from_utf8_lossy(&logs[start..end]).replace(m, "<marker>");
                leaks.push(format!(
                    "a form of {m:?} in: {}",
                    &line[..line.len().min(300)]
                ));
            }
        }
    }
    assert!(leaks.is_empty(), "PHI in logs or panics: {leaks:?}");
}

#[test]
fn no_phi_in_logs_or_panics() {
    captured();
    scenario(Backend::Sqlite);
    scenario(Backend::Postgres);
}
