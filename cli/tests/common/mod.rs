//! A real server on loopback with a team of one worker and one supervisor, and a way to run
//! the `fieldnote` binary against it.
#![allow(clippy::unwrap_used, dead_code)]

use std::process::Command;
use std::sync::Arc;

use fieldnote_protocol::ServerRole;
use fieldnote_server::admin::{NewUser, insert_user};
use fieldnote_server::db::Db;
use fieldnote_server::params;

pub const PASSWORD: &str = "a long test password";

/// Runs `fieldnote --store <store> args...`; returns (success, stdout, stderr).
pub fn fieldnote(store: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fieldnote"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env("FIELDNOTE_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The supervisor's authenticator secret (base32).
pub const SUPERVISOR_TOTP: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// The supervisor's authenticator code for the current 30-second step.
pub fn supervisor_code() -> String {
    totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(SUPERVISOR_TOTP).unwrap())
        .with_account_name("supervisor")
        .build()
        .unwrap()
        .generate_current()
        .to_string()
}

pub struct Server {
    pub rt: tokio::runtime::Runtime,
    pub running: Option<fieldnote_server::Running>,
    pub db: Arc<Db>,
    pub url: String,
}

impl Server {
    /// Starts a server in `dir` with users `worker` and `supervisor` on team `t`.
    pub fn start(dir: &std::path::Path) -> Server {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let config = fieldnote_server::Config::loopback(dir.join("server"));
        let db = rt.block_on(fieldnote_server::open_db(&config)).unwrap();
        fieldnote_server::demo::bootstrap(&db).unwrap();
        let hash = fieldnote_server::auth::hash_password(PASSWORD).unwrap();
        db.tx(|tx| {
            let agency = tx.query_one("SELECT id FROM agencies", params![])?[0].text();
            tx.exec(
                "INSERT INTO teams (id, agency_id, name) VALUES ('t', $1, 'T')",
                params![agency],
            )?;
            for (username, display_name, role) in [
                ("worker", "Test Worker", ServerRole::Worker),
                ("supervisor", "Test Supervisor", ServerRole::Supervisor),
            ] {
                insert_user(
                    tx,
                    &NewUser {
                        username: username.into(),
                        display_name: display_name.into(),
                        role,
                        team_id: Some("t".into()),
                        password: String::new(),
                        phone: None,
                    },
                    &hash,
                )?;
            }
            // The supervisor has enrolled an authenticator (as in the console).
            tx.exec(
                "UPDATE users SET totp_secret = $1 WHERE username = 'supervisor'",
                params![SUPERVISOR_TOTP],
            )?;
            Ok(())
        })
        .unwrap();
        let running = rt
            .block_on(fieldnote_server::start_with(&config, db.clone()))
            .unwrap();
        let url = running.url();
        Server {
            rt,
            running: Some(running),
            db,
            url,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            let _ = self.rt.block_on(r.shutdown());
        }
    }
}
