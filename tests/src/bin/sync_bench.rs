//! `fieldnote-sync-bench`: the sync workloads of PERFORMANCE.md, each beside baselines
//! measured in the same run, written as a Markdown report.
//!
//! - **W3** first sync of a new device (40 members, 1,000 notes, 40 plans);
//! - **W4** reconnect after a day (20 notes edited, 5 new, 3 plans edited by the supervisor);
//! - **W5** server ingest, many devices syncing at once, on SQLite and (with `--pg-url`)
//!   PostgreSQL; the server runs in a child process so its memory is its own;
//! - **W9** distress press to the supervisor's live stream while those devices keep
//!   bulk-syncing, beside the same presses on an idle server.
//!
//! Baselines: (b) a naive JSON last-write-wins REST sync (a small axum server here: push
//! and pull whole records as gzip'd JSON); (c) automerge's per-document sync protocol over
//! the same documents, every document's messages multiplexed into one request per round
//! trip. Bytes are counted at the TCP level by a loopback proxy, so HTTP headers count for
//! every system.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::sync::SyncDoc;
use automerge::{AutoCommit, sync};
use clap::Parser;
use fieldnote_client::{Client, HttpTransport, TlsOptions, Transport};
use fieldnote_core::model::*;
use fieldnote_core::{Store, StoreKey, synthetic};
use fieldnote_protocol::ServerRole;
use fieldnote_server::admin::{NewUser, insert_user};
use fieldnote_server::db::{Db, DbConfig};
use rand::SeedableRng;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Sync benchmarks with same-run baselines.
#[derive(Parser)]
struct Args {
    /// A short run for CI.
    #[arg(long)]
    quick: bool,
    /// Also run W5 on PostgreSQL: a URL whose role may create databases (the bench makes a
    /// fresh one).
    #[arg(long, env = "FIELDNOTE_BENCH_PG_URL")]
    pg_url: Option<String>,
    /// Devices for W5 (default 200; 20 with --quick).
    #[arg(long)]
    devices: Option<usize>,
    /// Working directory.
    #[arg(long, default_value = "target/sync-bench-work")]
    dir: PathBuf,
    /// Where to write the Markdown report.
    #[arg(long, default_value = "target/sync-bench-report.md")]
    out: PathBuf,
    /// Internal: run a server in this process (used for W5's child process).
    #[arg(long, hide = true)]
    serve: bool,
    /// Internal: the child server's database URL.
    #[arg(long, hide = true)]
    serve_db: Option<String>,
}

const PASSWORD: &str = "benchmark password";

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    if args.serve {
        return serve_child(&args);
    }
    let _ = std::fs::remove_dir_all(&args.dir);
    std::fs::create_dir_all(&args.dir)?;
    let rt = tokio::runtime::Runtime::new()?;
    let mut report = vec![
        "| workload | Fieldnote | (b) JSON LWW REST | (c) automerge per-document sync | ratios | goal |"
            .to_string(),
        "|---|---|---|---|---|---|".to_string(),
    ];
    let (notes, members) = (1_000, 40);
    w3_w4(&rt, &args, members, notes, &mut report)?;
    let devices = args.devices.unwrap_or(if args.quick { 20 } else { 200 });
    let per_device = 25;
    let mut backends = vec![("SQLite".to_string(), None)];
    if let Some(url) = args.pg_url.as_ref().filter(|u| !u.is_empty()) {
        backends.push(("PostgreSQL".to_string(), Some(url.clone())));
    }
    for (name, url) in backends {
        let url = url.map(|u| fresh_database(&u)).transpose()?;
        w5(
            &args,
            &name,
            url.as_deref(),
            devices,
            per_device,
            &mut report,
        )?;
    }
    let text = report.join("\n") + "\n";
    std::fs::write(&args.out, &text)?;
    println!("{text}");
    Ok(())
}

/// Creates an empty database beside the one `base` names; returns its URL.
fn fresh_database(base: &str) -> Result<String, BoxError> {
    let name = format!("fieldnote_bench_{}", uuid::Uuid::new_v4().simple());
    let mut client = postgres::Client::connect(base, postgres::NoTls)?;
    client.batch_execute(&format!("CREATE DATABASE {name}"))?;
    let (prefix, _) = base
        .rsplit_once('/')
        .ok_or("the PostgreSQL URL names no database")?;
    Ok(format!("{prefix}/{name}"))
}

// ---- a byte-counting loopback proxy ----

/// Forwards connections to `target`, counting every byte both ways.
struct Proxy {
    addr: String,
    bytes: Arc<AtomicU64>,
}

impl Proxy {
    fn start(target: std::net::SocketAddr) -> Result<Proxy, BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?.to_string();
        let bytes = Arc::new(AtomicU64::new(0));
        let counter = bytes.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ]
                .into_iter()
                .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
                {
                    let counter = counter.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                            counter.fetch_add(n as u64, Ordering::Relaxed);
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Ok(Proxy { addr, bytes })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn take(&self) -> u64 {
        self.bytes.swap(0, Ordering::Relaxed)
    }
}

// ---- W3 and W4 ----

struct Server {
    running: fieldnote_server::Running,
    db: Arc<Db>,
}

fn start_server(rt: &tokio::runtime::Runtime, dir: &Path) -> Result<Server, BoxError> {
    let config = server_config(dir, None);
    let db = rt.block_on(fieldnote_server::open_db(&config))?;
    fieldnote_server::demo::bootstrap(&db)?;
    let running = rt.block_on(fieldnote_server::start_with(&config, db.clone()))?;
    Ok(Server { running, db })
}

fn server_config(dir: &Path, url: Option<String>) -> fieldnote_server::Config {
    fieldnote_server::Config {
        database_url: url,
        auth: fieldnote_server::auth::AuthConfig {
            requests_per_minute: 1_000_000,
            login_failures: 1_000_000,
            ..Default::default()
        },
        ..fieldnote_server::Config::loopback(dir.to_path_buf())
    }
}

/// Creates a team with one supervisor and `workers` workers; returns the team id.
fn add_team(db: &Db, workers: usize) -> Result<String, BoxError> {
    let hash = fieldnote_server::auth::hash_password(PASSWORD)?;
    Ok(db.tx(|tx| {
        let agency = tx.query_one(
            "SELECT id FROM agencies LIMIT 1",
            fieldnote_server::params![],
        )?[0]
            .text();
        let team = uuid::Uuid::now_v7().to_string();
        tx.exec(
            "INSERT INTO teams (id, agency_id, name) VALUES ($1, $2, 'Bench')",
            fieldnote_server::params![&team, &agency],
        )?;
        let mut add = |name: String, role| {
            insert_user(
                tx,
                &NewUser {
                    username: name.clone(),
                    display_name: name,
                    role,
                    team_id: Some(team.clone()),
                    password: String::new(),
                },
                &hash,
            )
        };
        add("sup".into(), ServerRole::Supervisor)?;
        for i in 0..workers {
            add(format!("w{i}"), ServerRole::Worker)?;
        }
        Ok(team)
    })?)
}

struct Device {
    store: Store,
    client: Client<Counting>,
    staff: StaffId,
    team: RecordId,
}

/// Counts round trips and times each request.
struct Counting {
    inner: HttpTransport,
    requests: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
}

impl Transport for Counting {
    fn send(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: Option<&[u8]>,
    ) -> fieldnote_client::Result<Vec<u8>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let t = Instant::now();
        let r = self.inner.send(path, bearer, body);
        if let Ok(mut l) = self.latencies.lock() {
            l.push(t.elapsed());
        }
        r
    }

    fn open_stream(
        &self,
        path: &str,
        bearer: &str,
        last_event_id: Option<i64>,
    ) -> fieldnote_client::Result<Box<dyn Read + Send>> {
        self.inner.open_stream(path, bearer, last_event_id)
    }
}

fn device(url: &str, dir: &Path, user: &str) -> Result<Device, BoxError> {
    let mut store = Store::open(dir, StoreKey::generate())?;
    let client = Client::with_transport(Counting {
        inner: HttpTransport::new(url, &TlsOptions::default())?,
        requests: AtomicU64::new(0),
        latencies: Mutex::new(Vec::new()),
    });
    client.login(url, &mut store, user, PASSWORD, "bench")?;
    let id = store.identity()?.ok_or("no identity")?;
    Ok(Device {
        store,
        client,
        staff: StaffId::parse_str(&id.staff_id)?,
        team: RecordId::parse_str(&id.team_id)?,
    })
}

fn w3_w4(
    rt: &tokio::runtime::Runtime,
    args: &Args,
    members: usize,
    notes: usize,
    report: &mut Vec<String>,
) -> Result<(), BoxError> {
    let server = start_server(rt, &args.dir.join("w3-server"))?;
    add_team(&server.db, 1)?;
    let direct = server.running.url();
    // The worker's first phone writes the caseload and syncs it up.
    let mut a = device(&direct, &args.dir.join("w3-a"), "w0")?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut bodies = Vec::new();
    let mut plans = Vec::new();
    for _ in 0..members {
        let member = a
            .store
            .create(RecordBody::Member(synthetic::member(&mut rng)))?;
        let e = synthetic::enrollment(member, Program::Csp, a.staff, a.team, Timestamp::now());
        a.store.create(RecordBody::Enrollment(e))?;
        let plan = synthetic::service_plan(member, Program::Csp, a.staff);
        plans.push(a.store.create(RecordBody::Plan(plan))?);
        for n in 0..notes / members {
            let at = Timestamp::from_millis(Timestamp::now().millis() - (n as i64 + 1) * 3_600_000);
            let note = synthetic::note(&mut rng, member, Program::Csp, a.staff, at, 120);
            bodies.push(a.store.create(RecordBody::ContactNote(note))?);
        }
    }
    a.client.sync(&mut a.store, &mut |_| {})?;
    let all_ids: Vec<RecordId> = RecordKind::ALL
        .iter()
        .flat_map(|k| a.store.ids_of_kind(*k).unwrap_or_default())
        .collect();

    // W3, ours: a new phone of the same worker, through the counting proxy.
    let proxy = Proxy::start(server.running.addr)?;
    let dir_b = args.dir.join("w3-b");
    let mut b = device(&proxy.url(), &dir_b, "w0")?;
    proxy.take();
    let requests_before = b.client.transport().requests.load(Ordering::Relaxed);
    let t = Instant::now();
    b.client.sync(&mut b.store, &mut |_| {})?;
    let ours_time = t.elapsed();
    let ours_bytes = proxy.take();
    let ours_trips = b.client.transport().requests.load(Ordering::Relaxed) - requests_before;
    assert_eq!(b.store.ids_of_kind(RecordKind::ContactNote)?.len(), notes);

    // (b) JSON LWW REST over the same records.
    let json_records: Vec<(String, String)> = all_ids
        .iter()
        .map(|id| {
            let body = a.store.get(*id).map(|r| r.body).expect("record");
            (id.to_string(), serde_json::to_string(&body).expect("json"))
        })
        .collect();
    let lww = rt.block_on(lww::start(json_records.clone()))?;
    let lww_proxy = Proxy::start(lww)?;
    lww_proxy.take();
    let t = Instant::now();
    let pulled = lww::pull(&lww_proxy.url(), 0)?;
    let lww_time = t.elapsed();
    let lww_bytes = lww_proxy.take();
    assert_eq!(pulled, json_records.len());

    // (c) automerge per-document sync, multiplexed.
    let docs: Vec<Vec<u8>> = all_ids
        .iter()
        .map(|id| a.store.document_bytes(*id).expect("document"))
        .collect();
    let am_server = rt.block_on(am::start(docs.clone()))?;
    let am_proxy = Proxy::start(am_server.addr)?;
    let mut am_client = am::Client::new(docs.len());
    am_proxy.take();
    let t = Instant::now();
    let am_trips = am_client.sync(&am_proxy.url())?;
    let am_time = t.elapsed();
    let am_bytes = am_proxy.take();
    report.push(format!(
        "| W3 first sync, {members} members / {notes} notes / {members} plans: time | {} | {} | {} | {:.2}x (b), {:.2}x (c) | faster than (c) |",
        ms(ours_time),
        ms(lww_time),
        ms(am_time),
        ratio(ours_time, lww_time),
        ratio(ours_time, am_time)
    ));
    report.push(format!(
        "| W3 first sync: bytes on the wire | {} | {} | {} | {:.2}x (b), {:.2}x (c) | at most 1.2x (b) |",
        kb(ours_bytes),
        kb(lww_bytes),
        kb(am_bytes),
        ours_bytes as f64 / lww_bytes as f64,
        ours_bytes as f64 / am_bytes as f64
    ));
    report.push(format!(
        "| W3 first sync: round trips | {ours_trips} | 1 | {am_trips} | | few |"
    ));

    // W4: a day's work. The worker's phone edits 20 notes and writes 5; the supervisor
    // edits 3 plans and syncs first.
    let mut sup = device(&direct, &args.dir.join("w4-sup"), "sup")?;
    sup.client.sync(&mut sup.store, &mut |_| {})?;
    for plan in plans.iter().take(3) {
        sup.store.update(*plan, |body| {
            if let RecordBody::Plan(p) = body {
                p.summary = CoText::from(format!(
                    "{} Supervisor: add a weekly check-in.",
                    p.summary.as_str()
                ));
            }
        })?;
    }
    let sup_raw: usize = sup
        .store
        .prepare_sync()?
        .request
        .upload
        .iter()
        .map(|u| u.item.payload.len())
        .sum();
    sup.client.sync(&mut sup.store, &mut |_| {})?;
    let mut edited = Vec::new();
    for id in bodies.iter().take(20) {
        b.store.update(*id, |body| {
            if let RecordBody::ContactNote(n) = body {
                n.narrative
                    .push_str(" Called back to confirm the appointment.");
            }
        })?;
        edited.push(*id);
    }
    let first_member = b.store.caseload()?[0].member_id;
    for i in 0..5 {
        let note = synthetic::note(
            &mut rng,
            first_member,
            Program::Csp,
            b.staff,
            Timestamp::now(),
            120,
        );
        let _ = i;
        b.store.create(RecordBody::ContactNote(note))?;
    }
    let dev_raw: usize = b
        .store
        .prepare_sync()?
        .request
        .upload
        .iter()
        .map(|u| u.item.payload.len())
        .sum();
    let raw = (sup_raw + dev_raw) as u64;
    proxy.take();
    let before = b.client.transport().requests.load(Ordering::Relaxed);
    let t = Instant::now();
    b.client.sync(&mut b.store, &mut |_| {})?;
    let w4_time = t.elapsed();
    let w4_bytes = proxy.take();
    let w4_trips = b.client.transport().requests.load(Ordering::Relaxed) - before;

    // (c) for W4: the client holds the device's documents, the server the server's; a
    // reconnect starts new sync states, as a new connection does.
    for (i, id) in all_ids.iter().enumerate() {
        if edited.contains(id) {
            am_client.replace(i, &b.store.document_bytes(*id)?)?;
        }
    }
    am_server.replace_where(&all_ids, &plans, |id| sup.store.document_bytes(id).ok())?;
    am_proxy.take();
    let am_w4_trips = am_client.sync(&am_proxy.url())?;
    let am_w4_bytes = am_proxy.take();

    // (b) for W4: push 25 changed records, pull the 3 changed plans.
    lww_proxy.take();
    let changed: Vec<(String, String)> = json_records.iter().take(25).cloned().collect();
    lww::push(&lww_proxy.url(), &changed)?;
    lww::pull(&lww_proxy.url(), json_records.len() as u64)?;
    let lww_w4_bytes = lww_proxy.take();

    report.push(format!(
        "| W4 reconnect after a day (20 edited, 5 new, 3 plans by the supervisor): bytes | {} ({:.2}x raw changes of {}) | {} | {} | {:.2}x (c) | at most 2x raw + 1 KB |",
        kb(w4_bytes),
        w4_bytes as f64 / raw as f64,
        kb(raw),
        kb(lww_w4_bytes),
        kb(am_w4_bytes),
        w4_bytes as f64 / am_w4_bytes as f64
    ));
    report.push(format!(
        "| W4: round trips, time | {w4_trips}, {} | 2 | {am_w4_trips} | | at most 3 |",
        ms(w4_time)
    ));
    let _ = rt.block_on(server.running.shutdown());
    Ok(())
}

// ---- W5 ----

fn serve_child(args: &Args) -> Result<(), BoxError> {
    let rt = tokio::runtime::Runtime::new()?;
    let config = server_config(&args.dir, args.serve_db.clone());
    let db = rt.block_on(fieldnote_server::open_db(&config))?;
    let running = rt.block_on(fieldnote_server::start_with(&config, db))?;
    println!("{}", running.url());
    std::io::stdout().flush()?;
    rt.block_on(running.wait())?;
    Ok(())
}

fn peak_rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

fn w5(
    args: &Args,
    backend: &str,
    pg_url: Option<&str>,
    devices: usize,
    per_device: usize,
    report: &mut Vec<String>,
) -> Result<(), BoxError> {
    let dir = args.dir.join(format!("w5-{backend}"));
    std::fs::create_dir_all(&dir)?;
    let db_config = match pg_url {
        Some(u) => DbConfig::Postgres(u.to_string()),
        None => DbConfig::Sqlite(fieldnote_server::db::sqlite_path(&dir)),
    };
    {
        let db = Db::open(&db_config)?;
        fieldnote_server::demo::bootstrap(&db)?;
        if db
            .tx(|tx| {
                tx.query_opt(
                    "SELECT 1 FROM users WHERE username = 'w0'",
                    fieldnote_server::params![],
                )
            })?
            .is_some()
        {
            return Err("the W5 database already holds bench users; give an empty one".into());
        }
        // One more worker than devices: the W9 presser.
        add_team(&db, devices + 1)?;
    }
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(["--serve", "--dir"]).arg(&dir);
    if let Some(u) = pg_url {
        cmd.args(["--serve-db", u]);
    }
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let mut line = String::new();
    {
        let out = child.stdout.as_mut().ok_or("no stdout")?;
        let mut byte = [0u8; 1];
        while out.read(&mut byte)? == 1 && byte[0] != b'\n' {
            line.push(byte[0] as char);
        }
    }
    let url = line.trim().to_string();
    let result = (|| -> Result<(), BoxError> {
        let mut phones = Vec::new();
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for i in 0..devices {
            let mut d = device(&url, &dir.join(format!("phone{i}")), &format!("w{i}"))?;
            let m = d
                .store
                .create(RecordBody::Member(synthetic::member(&mut rng)))?;
            for _ in 0..per_device - 1 {
                let note =
                    synthetic::note(&mut rng, m, Program::Csp, d.staff, Timestamp::now(), 120);
                d.store.create(RecordBody::ContactNote(note))?;
            }
            phones.push(d);
        }
        let barrier = Arc::new(std::sync::Barrier::new(devices + 1));
        let handles: Vec<_> = phones
            .into_iter()
            .map(|mut d| {
                let barrier = barrier.clone();
                std::thread::spawn(move || -> Result<(usize, Vec<Duration>, Device), String> {
                    barrier.wait();
                    let r = d
                        .client
                        .sync(&mut d.store, &mut |_| {})
                        .map_err(|e| e.to_string())?;
                    let lat = d
                        .client
                        .transport()
                        .latencies
                        .lock()
                        .map(|l| l.clone())
                        .unwrap_or_default();
                    Ok((r.progress.sent, lat[1..].to_vec(), d))
                })
            })
            .collect();
        barrier.wait();
        let t = Instant::now();
        let mut sent = 0;
        let mut errors = 0;
        let mut latencies = Vec::new();
        let mut phones = Vec::new();
        for h in handles {
            match h.join() {
                Ok(Ok((s, l, d))) => {
                    sent += s;
                    latencies.extend(l);
                    phones.push(d);
                }
                _ => errors += 1,
            }
        }
        let wall = t.elapsed();
        latencies.sort();
        let p = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
        report.push(format!(
            "| W5 ingest, {devices} devices x {per_device} changes at once, {backend} | {:.0} changes/s; ack p50 {} p99 {}; server peak RSS {} MiB; {errors} errors | | | | at least 5,000 changes/s |",
            sent as f64 / wall.as_secs_f64(),
            ms(p(0.5)),
            ms(p(0.99)),
            peak_rss_mib(child.id())
        ));
        let presses = if args.quick { 10 } else { 50 };
        w9(&url, &dir, backend, phones, devices, presses, report)?;
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

// ---- W9 ----

/// Presses a panic alarm `n` times, one after another; times each from the press to the
/// supervisor's stream delivering it, and from the alarm being durable on the phone to the
/// same event (sorted, each).
fn presses(
    presser: &Device,
    events: &std::sync::mpsc::Receiver<(String, Instant)>,
    n: usize,
) -> Result<(Vec<Duration>, Vec<Duration>), BoxError> {
    let (mut total, mut after_save) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let pressed = Instant::now();
        let id = presser
            .store
            .safety()
            .raise_alarm(fieldnote_protocol::safety::AlarmKind::Panic, None)?;
        let saved = Instant::now();
        presser.client.send_safety(presser.store.safety())?;
        loop {
            let (got, at) = events.recv_timeout(Duration::from_secs(30))?;
            if got == id {
                total.push(at - pressed);
                after_save.push(at - saved);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    total.sort();
    after_save.sort();
    Ok((total, after_save))
}

fn w9(
    url: &str,
    dir: &Path,
    backend: &str,
    phones: Vec<Device>,
    devices: usize,
    n: usize,
    report: &mut Vec<String>,
) -> Result<(), BoxError> {
    let presser = device(url, &dir.join("presser"), &format!("w{devices}"))?;
    let sup = device(url, &dir.join("supervisor"), "sup")?;
    let stream = sup.client.events(None)?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for event in stream {
            let Ok(event) = event else { break };
            if let Some(a) = event.alarm
                && tx.send((a.id, Instant::now())).is_err()
            {
                break;
            }
        }
    });
    let (idle, _) = presses(&presser, &rx, n)?;
    // Every other device keeps writing and bulk-syncing until the presses are done.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let load: Vec<_> = phones
        .into_iter()
        .map(|mut d| {
            let stop = stop.clone();
            let member = d
                .store
                .caseload()
                .ok()
                .and_then(|c| c.first().map(|m| m.member_id));
            let seed: u64 = rand::Rng::random(&mut rng);
            std::thread::spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                let mut rounds = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if let Some(m) = member {
                        for _ in 0..10 {
                            let note = synthetic::note(
                                &mut rng,
                                m,
                                Program::Csp,
                                d.staff,
                                Timestamp::now(),
                                120,
                            );
                            let _ = d.store.create(RecordBody::ContactNote(note));
                        }
                    }
                    if d.client.sync(&mut d.store, &mut |_| {}).is_ok() {
                        rounds += 1;
                    }
                }
                rounds
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let loaded = presses(&presser, &rx, n);
    stop.store(true, Ordering::Relaxed);
    let syncs: u64 = load.into_iter().filter_map(|h| h.join().ok()).sum();
    let (loaded, after_save) = loaded?;
    let p = |v: &[Duration], q: f64| v[((v.len() - 1) as f64 * q) as usize];
    report.push(format!(
        "| W9 distress press to supervisor stream event, {n} presses while {devices} devices bulk-sync ({syncs} syncs), {backend} | p50 {} p99 {} (from saved on the phone: p50 {} p99 {}) | idle server: p50 {} p99 {} | | {:.2}x idle at p99 | p99 under 250 ms |",
        ms(p(&loaded, 0.5)),
        ms(p(&loaded, 0.99)),
        ms(p(&after_save, 0.5)),
        ms(p(&after_save, 0.99)),
        ms(p(&idle, 0.5)),
        ms(p(&idle, 0.99)),
        ratio(p(&loaded, 0.99), p(&idle, 0.99)),
    ));
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn kb(b: u64) -> String {
    format!("{:.1} KB", b as f64 / 1000.0)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

/// Baseline (b): whole records as JSON, last writer wins, over REST.
mod lww {
    use super::*;
    use axum::extract::{Query, State};
    use axum::routing::{get, post};

    /// (version, id, JSON) rows.
    type Rows = Vec<(u64, String, String)>;

    #[derive(Clone, Default)]
    struct Records(Arc<Mutex<(u64, Rows)>>);

    #[derive(serde::Deserialize)]
    struct Since {
        since: u64,
    }

    /// Starts the baseline server with `records`; returns its address.
    pub async fn start(records: Vec<(String, String)>) -> Result<std::net::SocketAddr, BoxError> {
        let n = records.len() as u64;
        let state = Records(Arc::new(Mutex::new((
            n,
            records
                .into_iter()
                .enumerate()
                .map(|(i, (id, json))| (i as u64 + 1, id, json))
                .collect(),
        ))));
        let app = axum::Router::new()
            .route("/pull", get(pull_handler))
            .route("/push", post(push_handler))
            .layer(tower_http::compression::CompressionLayer::new())
            .layer(tower_http::decompression::RequestDecompressionLayer::new())
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(addr)
    }

    async fn pull_handler(State(s): State<Records>, Query(q): Query<Since>) -> String {
        let guard = s.0.lock().expect("lock");
        let rows: Vec<String> = guard
            .1
            .iter()
            .filter(|(v, ..)| *v > q.since)
            .map(|(v, id, json)| format!("{{\"id\":\"{id}\",\"version\":{v},\"record\":{json}}}"))
            .collect();
        format!("[{}]", rows.join(","))
    }

    async fn push_handler(State(s): State<Records>, body: String) -> &'static str {
        let pushed: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap_or_default();
        let mut guard = s.0.lock().expect("lock");
        for p in pushed {
            guard.0 += 1;
            let v = guard.0;
            let id = p["id"].as_str().unwrap_or_default().to_string();
            let json = p["record"].to_string();
            // Last writer wins: the whole record is replaced.
            if let Some(row) = guard.1.iter_mut().find(|(_, i, _)| *i == id) {
                *row = (v, id, json);
            } else {
                guard.1.push((v, id, json));
            }
        }
        "ok"
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder().build().new_agent()
    }

    /// Pulls everything newer than `since`; returns how many records came.
    pub fn pull(base: &str, since: u64) -> Result<usize, BoxError> {
        let body = agent()
            .get(&format!("{base}/pull?since={since}"))
            .call()?
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()?;
        let rows: Vec<serde_json::Value> = serde_json::from_str(&body)?;
        Ok(rows.len())
    }

    /// Pushes whole records.
    pub fn push(base: &str, records: &[(String, String)]) -> Result<(), BoxError> {
        let rows: Vec<String> = records
            .iter()
            .map(|(id, json)| format!("{{\"id\":\"{id}\",\"record\":{json}}}"))
            .collect();
        let body = gzip(format!("[{}]", rows.join(",")).as_bytes());
        agent()
            .post(&format!("{base}/push"))
            .header("content-encoding", "gzip")
            .send(&body[..])?;
        Ok(())
    }
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(b);
    e.finish().unwrap_or_default()
}

/// Baseline (c): automerge's sync protocol per document, every document's messages of a
/// round multiplexed into one request (frames of doc index, length, message).
mod am {
    use super::*;
    use axum::extract::State;
    use axum::routing::post;

    type Docs = Arc<Mutex<(Vec<AutoCommit>, HashMap<usize, sync::State>)>>;

    /// The running baseline server.
    pub struct AmServer {
        pub addr: std::net::SocketAddr,
        docs: Docs,
    }

    impl AmServer {
        /// Replaces plans' documents with newer versions (the supervisor's edits) and starts
        /// new sync states (a reconnect).
        pub fn replace_where(
            &self,
            ids: &[RecordId],
            plans: &[RecordId],
            newer: impl Fn(RecordId) -> Option<Vec<u8>>,
        ) -> Result<(), BoxError> {
            let mut g = self.docs.lock().map_err(|_| "lock")?;
            for (i, id) in ids.iter().enumerate() {
                if plans[..3].contains(id)
                    && let Some(bytes) = newer(*id)
                {
                    g.0[i].load_incremental(&bytes)?;
                }
            }
            g.1.clear();
            Ok(())
        }
    }

    pub async fn start(docs: Vec<Vec<u8>>) -> Result<AmServer, BoxError> {
        let docs: Vec<AutoCommit> = docs
            .iter()
            .map(|b| AutoCommit::load(b))
            .collect::<Result<_, _>>()?;
        let state: Docs = Arc::new(Mutex::new((docs, HashMap::new())));
        let app = axum::Router::new()
            .route("/sync", post(handler))
            .layer(tower_http::compression::CompressionLayer::new())
            .layer(tower_http::decompression::RequestDecompressionLayer::new())
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(AmServer { addr, docs: state })
    }

    pub fn frames(body: &[u8]) -> Vec<(usize, &[u8])> {
        let mut out = Vec::new();
        let mut i = 0;
        while i + 8 <= body.len() {
            let idx = u32::from_be_bytes(body[i..i + 4].try_into().unwrap_or_default()) as usize;
            let len =
                u32::from_be_bytes(body[i + 4..i + 8].try_into().unwrap_or_default()) as usize;
            out.push((idx, &body[i + 8..i + 8 + len]));
            i += 8 + len;
        }
        out
    }

    fn frame(out: &mut Vec<u8>, idx: usize, msg: &[u8]) {
        out.extend_from_slice(&(idx as u32).to_be_bytes());
        out.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        out.extend_from_slice(msg);
    }

    async fn handler(State(s): State<Docs>, body: axum::body::Bytes) -> Vec<u8> {
        let mut g = s.lock().expect("lock");
        let (docs, states) = &mut *g;
        let mut out = Vec::new();
        for (idx, msg) in frames(&body) {
            let state = states.entry(idx).or_default();
            if let Ok(m) = sync::Message::decode(msg) {
                let _ = docs[idx].sync().receive_sync_message(state, m);
            }
        }
        for (idx, doc) in docs.iter_mut().enumerate() {
            let state = states.entry(idx).or_default();
            if let Some(m) = doc.sync().generate_sync_message(state) {
                frame(&mut out, idx, &m.encode());
            }
        }
        out
    }

    /// The baseline client: one document and sync state per record.
    pub struct Client {
        docs: Vec<AutoCommit>,
        states: Vec<sync::State>,
    }

    impl Client {
        pub fn new(n: usize) -> Client {
            Client {
                docs: (0..n).map(|_| AutoCommit::new()).collect(),
                states: (0..n).map(|_| sync::State::new()).collect(),
            }
        }

        /// Merges a newer local version of document `i` (a local edit).
        pub fn replace(&mut self, i: usize, bytes: &[u8]) -> Result<(), BoxError> {
            self.docs[i].load_incremental(bytes)?;
            Ok(())
        }

        /// Runs rounds until neither side has anything to say; returns round trips. New
        /// sync states, as on a new connection.
        pub fn sync(&mut self, url: &str) -> Result<u64, BoxError> {
            for s in self.states.iter_mut() {
                *s = sync::State::new();
            }
            let agent = ureq::Agent::config_builder().build().new_agent();
            let mut trips = 0;
            loop {
                let mut out = Vec::new();
                for (i, doc) in self.docs.iter_mut().enumerate() {
                    if let Some(m) = doc.sync().generate_sync_message(&mut self.states[i]) {
                        frame(&mut out, i, &m.encode());
                    }
                }
                if out.is_empty() && trips > 0 {
                    return Ok(trips);
                }
                trips += 1;
                let resp = agent
                    .post(&format!("{url}/sync"))
                    .header("content-encoding", "gzip")
                    .send(&gzip(&out)[..])?
                    .body_mut()
                    .with_config()
                    .limit(1 << 30)
                    .read_to_vec()?;
                if resp.is_empty() && out.is_empty() {
                    return Ok(trips);
                }
                for (idx, msg) in frames(&resp) {
                    let m = sync::Message::decode(msg)?;
                    self.docs[idx]
                        .sync()
                        .receive_sync_message(&mut self.states[idx], m)?;
                }
                if trips > 50 {
                    return Err("automerge sync did not settle".into());
                }
            }
        }
    }
}
