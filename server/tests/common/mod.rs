//! A real server on loopback for integration tests, over SQLite (in a temporary directory)
//! or PostgreSQL (a fresh database per server, on the PostgreSQL that `scripts/postgres`
//! starts; its URL comes from `FIELDNOTE_TEST_PG_URL`), and devices that are real encrypted
//! stores syncing through the real client.
#![allow(dead_code, missing_docs, clippy::unwrap_used)]

pub mod browser;
pub mod proxy;

use std::sync::Arc;

use fieldnote_client::{Client, SyncReport, TlsOptions};
use fieldnote_core::model::*;
use fieldnote_core::{Store, StoreKey, synthetic};
use fieldnote_protocol::ServerRole;
use fieldnote_server::admin::{NewUser, insert_user};
use fieldnote_server::auth::AuthConfig;
use fieldnote_server::db::{Db, DbConfig};
use fieldnote_server::{Config, Running, params};
use rand::SeedableRng;

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL URL for tests; the suite fails (never skips) without it.
pub fn pg_url() -> String {
    std::env::var("FIELDNOTE_TEST_PG_URL").expect(
        "FIELDNOTE_TEST_PG_URL is not set: run ./scripts/test, which starts PostgreSQL \
         (scripts/postgres) and sets it",
    )
}

/// A fresh, empty PostgreSQL database; returns its URL.
pub fn fresh_pg_database() -> String {
    let base = pg_url();
    let name = format!("fieldnote_test_{}", uuid::Uuid::new_v4().simple());
    let mut client = postgres::Client::connect(&base, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    format!("{prefix}/{name}")
}

pub struct TestServer {
    pub rt: tokio::runtime::Runtime,
    pub running: Option<Running>,
    pub url: String,
    pub db: Arc<Db>,
    pub config: Config,
    pub dir: tempfile::TempDir,
    pub backend: Backend,
    pub password_hash: String,
}

impl TestServer {
    pub fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, AuthConfig::default())
    }

    pub fn start_with(backend: Backend, auth: AuthConfig) -> TestServer {
        Self::start_configured(
            backend,
            auth,
            Default::default(),
            Some(std::time::Duration::from_secs(1)),
        )
    }

    /// A server whose safety timers run only when the test calls `run_timers`, on the
    /// clock the test gives.
    pub fn start_safety(backend: Backend, safety: fieldnote_server::safety::Safety) -> TestServer {
        Self::start_configured(backend, AuthConfig::default(), safety, None)
    }

    pub fn start_configured(
        backend: Backend,
        auth: AuthConfig,
        safety: fieldnote_server::safety::Safety,
        timer_interval: Option<std::time::Duration>,
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_pg_database()),
        };
        let config = Config {
            database_url,
            safety,
            timer_interval,
            auth,
            ..Config::loopback(dir.path().to_path_buf())
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let db = rt.block_on(fieldnote_server::open_db(&config)).unwrap();
        fieldnote_server::demo::bootstrap(&db).unwrap();
        let running = rt
            .block_on(fieldnote_server::start_with(&config, db.clone()))
            .unwrap();
        let url = running.url();
        TestServer {
            rt,
            running: Some(running),
            url,
            db,
            config,
            dir,
            backend,
            password_hash: fieldnote_server::auth::hash_password(PASSWORD).unwrap(),
        }
    }

    /// Another server process's worth of state on the same database (PostgreSQL).
    pub fn second_instance(&self) -> (Running, Arc<Db>) {
        self.second_instance_with(self.config.safety.clone())
    }

    /// Another server process on the same database, with its own safety runtime.
    pub fn second_instance_with(
        &self,
        safety: fieldnote_server::safety::Safety,
    ) -> (Running, Arc<Db>) {
        let config = Config {
            safety,
            ..self.config.clone()
        };
        let db = self
            .rt
            .block_on(fieldnote_server::open_db(&config))
            .unwrap();
        let running = self
            .rt
            .block_on(fieldnote_server::start_with(&config, db.clone()))
            .unwrap();
        (running, db)
    }

    pub fn db_config(&self) -> DbConfig {
        self.config.db_config()
    }

    pub fn add_team(&self, name: &str) -> String {
        self.db
            .tx(|tx| {
                let agency = tx
                    .query_one("SELECT id FROM agencies ORDER BY id LIMIT 1", params![])?[0]
                    .text();
                let id = uuid::Uuid::now_v7().to_string();
                tx.exec(
                    "INSERT INTO teams (id, agency_id, name) VALUES ($1, $2, $3)",
                    params![&id, &agency, name],
                )?;
                Ok(id)
            })
            .unwrap()
    }

    /// Adds a user; returns (user id, staff id).
    pub fn add_user(
        &self,
        username: &str,
        role: ServerRole,
        team: Option<&str>,
    ) -> (String, String) {
        let created = self
            .db
            .tx(|tx| {
                insert_user(
                    tx,
                    &NewUser {
                        username: username.into(),
                        display_name: username.replace('.', " "),
                        role,
                        team_id: team.map(str::to_string),
                        password: String::new(),
                        phone: None,
                    },
                    &self.password_hash,
                )
            })
            .unwrap();
        (created.id, created.staff_id.unwrap())
    }

    /// A device signed in as `username`: a supervisor or program director enrolls an
    /// authenticator (if the console has not) and gives its next unused code.
    pub fn device(&self, username: &str) -> Device {
        let code = self.second_factor(username);
        Device::login_with(&self.url, username, code.as_deref())
    }

    /// The next unused authenticator code of `username`, when their role needs one.
    pub fn second_factor(&self, username: &str) -> Option<String> {
        let (user_id, role, secret) = self
            .db
            .tx(|tx| {
                let r = tx.query_one(
                    "SELECT id, role, totp_secret FROM users WHERE username = $1",
                    params![username],
                )?;
                Ok((r[0].text(), r[1].text(), r[2].opt_text()))
            })
            .unwrap();
        if !matches!(role.as_str(), "supervisor" | "program_director") {
            return None;
        }
        let secret = secret.unwrap_or_else(|| {
            let s = fieldnote_server::console::new_totp_secret();
            self.db
                .tx(|tx| {
                    tx.exec(
                        "UPDATE users SET totp_secret = $1 WHERE id = $2",
                        params![&s, &user_id],
                    )
                })
                .unwrap();
            s
        });
        // Each 30-second step is accepted once per user, one step either side of now: the
        // next step after the last one the server took (by a device or the console), and
        // never one before the current step, so that a step boundary crossed before the
        // server checks leaves the code one step old, which it still accepts.
        let taken = self
            .db
            .tx(|tx| {
                Ok(tx.query_one(
                    "SELECT totp_last_step FROM users WHERE id = $1",
                    params![&user_id],
                )?[0]
                    .int())
            })
            .unwrap();
        let now = || fieldnote_core::Timestamp::now().millis() / 1000;
        let step = (taken + 1).max(now() / 30);
        while step > now() / 30 + 1 {
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let totp = totp_rs::Builder::new()
            .with_secret(totp_rs::Secret::try_from_base32(&secret).unwrap())
            .with_account_name("test")
            .build()
            .unwrap();
        Some(totp.generate((step * 30) as u64).to_string())
    }

    pub fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            self.rt.block_on(r.shutdown()).unwrap();
        }
    }

    /// Starts a stopped server again on `addr` (its old address), on the same database.
    pub fn start_again_on(&mut self, addr: std::net::SocketAddr) {
        self.config.listen = addr;
        self.restart();
        self.config.listen = "127.0.0.1:0".parse().unwrap();
    }

    /// Stops and starts the server again on a new port, on the same database.
    pub fn restart(&mut self) {
        self.stop();
        let db = self
            .rt
            .block_on(fieldnote_server::open_db(&self.config))
            .unwrap();
        let running = self
            .rt
            .block_on(fieldnote_server::start_with(&self.config, db.clone()))
            .unwrap();
        self.url = running.url();
        self.db = db;
        self.running = Some(running);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
        // Each PostgreSQL server has a database of its own; a leftover only takes disk, so
        // dropping it is best effort (scripts/postgres sweeps what a killed run leaves).
        if let Some((_, name)) = self
            .config
            .database_url
            .as_deref()
            .and_then(|url| url.rsplit_once('/'))
            && let Ok(mut client) = postgres::Client::connect(&pg_url(), postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

pub struct Device {
    pub store: Store,
    pub client: Client,
    pub dir: tempfile::TempDir,
    pub key: StoreKey,
    pub staff_id: StaffId,
    pub team_id: RecordId,
}

impl Device {
    pub fn login(url: &str, username: &str) -> Device {
        Device::login_with(url, username, None)
    }

    /// Signs in with an authenticator code (supervisors and program directors).
    pub fn login_with(url: &str, username: &str, second_factor: Option<&str>) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let key = StoreKey::generate();
        let mut store =
            Store::open(dir.path(), StoreKey::from_hex(&key.to_hex()).unwrap()).unwrap();
        let client = Client::connect(url, &TlsOptions::default()).unwrap();
        client
            .login(
                url,
                &mut store,
                username,
                PASSWORD,
                second_factor,
                "test device",
            )
            .unwrap();
        let identity = store.identity().unwrap().unwrap();
        Device {
            store,
            client,
            dir,
            key,
            staff_id: StaffId::parse_str(&identity.staff_id).unwrap(),
            team_id: RecordId::parse_str(&identity.team_id).unwrap_or_default(),
        }
    }

    pub fn sync(&mut self) -> SyncReport {
        self.client.sync(&mut self.store, &mut |_| {}).unwrap()
    }

    /// Adds a member with an enrollment; returns the member id.
    pub fn add_member(&mut self, seed: u64) -> RecordId {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let m = self
            .store
            .create(RecordBody::Member(synthetic::member(&mut rng)))
            .unwrap();
        self.store
            .create(RecordBody::Enrollment(synthetic::enrollment(
                m,
                Program::Csp,
                self.staff_id,
                self.team_id,
                Timestamp::now(),
            )))
            .unwrap();
        m
    }

    pub fn write_note(&mut self, member: RecordId, text: &str) -> RecordId {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut note = synthetic::note(
            &mut rng,
            member,
            Program::Csp,
            self.staff_id,
            Timestamp::now(),
            20,
        );
        note.narrative = text.to_string();
        self.store.create(RecordBody::ContactNote(note)).unwrap()
    }

    pub fn members(&self) -> Vec<RecordId> {
        let mut m: Vec<RecordId> = self
            .store
            .caseload()
            .unwrap()
            .into_iter()
            .map(|c| c.member_id)
            .collect();
        m.sort();
        m
    }

    pub fn access_token(&self) -> String {
        // A fresh token through the public token route.
        let creds = self.client.credentials().unwrap();
        let body =
            serde_json::json!({"device_id": creds.device_id, "device_secret": creds.device_secret});
        let resp: serde_json::Value =
            raw_post(&creds.server, "/v1/auth/token", None, &body.to_string()).1;
        resp["access_token"].as_str().unwrap().to_string()
    }
}

/// One upload sent as `token`'s device; returns the acknowledgement.
pub fn upload_one(
    server: &TestServer,
    token: &str,
    record: &str,
    kind: fieldnote_protocol::ItemKind,
    payload: Vec<u8>,
) -> serde_json::Value {
    let req = fieldnote_protocol::SyncRequest {
        protocol: fieldnote_protocol::PROTOCOL_VERSION,
        cursor: Default::default(),
        upload: vec![fieldnote_protocol::Upload {
            entry: 1,
            item: fieldnote_protocol::Item {
                record_id: record.to_string(),
                kind,
                payload,
            },
        }],
    };
    let (status, resp) = raw_post(
        &server.url,
        "/v1/sync",
        Some(token),
        &serde_json::to_string(&req).unwrap(),
    );
    assert_eq!(status, 200, "{resp}");
    resp["acks"][0].clone()
}

/// A plain JSON POST without the client; returns (status, parsed body or null).
pub fn raw_post(
    base: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    raw(
        base,
        "POST",
        path,
        token,
        Some(body.as_bytes().to_vec()),
        &[],
    )
}

/// Any request; returns (status, parsed body or null).
pub fn raw(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
    headers: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let url = format!("{base}{path}");
    let auth = token.map(|t| format!("Bearer {t}"));
    let result = match (method, body) {
        ("GET", _) => {
            let mut req = agent.get(&url);
            if let Some(a) = &auth {
                req = req.header("authorization", a);
            }
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.call()
        }
        (method, body) => {
            let req = if method == "PUT" {
                agent.put(&url)
            } else {
                agent.post(&url)
            };
            let mut req = req.header("content-type", "application/json");
            if let Some(a) = &auth {
                req = req.header("authorization", a);
            }
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.send(&body.unwrap_or_default()[..])
        }
    };
    let mut resp = result.unwrap();
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// Sends only the headers of a POST announcing `len` body bytes and returns the status the
/// server answers with before reading the body.
pub fn announce_body(base: &str, path: &str, token: &str, len: usize) -> u16 {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Sends a POST whose body comes chunked (no length announced) and keeps sending until
/// `total` bytes or until the server answers; returns the status it answers with.
pub fn chunked_post(base: &str, path: &str, token: &str, total: usize) -> u16 {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let head = format!("{:x}\r\n", chunk.len());
        if s.write_all(head.as_bytes()).is_err()
            || s.write_all(&chunk).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break; // the server stopped reading: its answer is waiting
        }
        sent += chunk.len();
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A `fieldnote-server` process started by a test; killed when dropped.
pub struct ServerProcess {
    /// The process.
    pub child: std::process::Child,
    /// Its URL, as it printed it.
    pub url: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the real `fieldnote-server` binary on `listen` over `server`'s database (its data
/// directory, and its PostgreSQL database when it has one), and waits until it listens.
pub fn spawn_server(server: &TestServer, listen: &str) -> ServerProcess {
    use std::io::BufRead;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fieldnote-server"));
    cmd.args(["--listen", listen])
        .arg("--data-dir")
        .arg(server.dir.path());
    if let Some(url) = &server.config.database_url {
        cmd.args(["--database-url", url]);
    }
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the server exited before listening")
            .unwrap();
        if let Some(url) = line.strip_prefix("Fieldnote server listening on ") {
            break url.trim().to_string();
        }
    };
    // Keep draining stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    ServerProcess { child, url }
}
