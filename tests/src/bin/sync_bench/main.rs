//! `fieldnote-sync-bench`: the sync workloads of PERFORMANCE.md, each beside baselines
//! measured in the same run, written as a Markdown report with SVG charts.
//!
//! - **W3** first sync of a new device (40 members, 1,000 notes, 40 plans) and **W4**
//!   reconnect after a day (20 notes edited, 5 new, 3 plans edited by the supervisor), on
//!   loopback and, as **W10**, over Slow 4G, EDGE, a 10% lossy link and a cut connection
//!   ([`shaped`]);
//! - **W6** worker and supervisor editing the same plan offline ([`conflict`]);
//! - **W5** server ingest with 200 real phones, and **W9** distress presses while they keep
//!   syncing ([`load`]); W5 again at 200, 1,000 and 5,000 devices on SQLite, PostgreSQL and
//!   two server processes on one PostgreSQL ([`scale`]).
//!
//! Baselines: (b) a naive JSON last-write-wins REST sync ([`lww`]); (c) automerge's
//! per-document sync protocol over the same documents, multiplexed on one connection
//! ([`am`]); (d) PouchDB replicating against a CouchDB-protocol server from npm ([`pouch`]).
//! Bytes are counted by the link every exchange passes through, so HTTP headers count for
//! every system.

mod am;
mod conflict;
mod load;
mod lww;
mod plot;
mod pouch;
mod scale;
mod shaped;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::sync::SyncDoc;
use automerge::{AutoCommit, sync};
use clap::Parser;
use fieldnote_client::{Client, HttpTransport, TlsOptions, Transport};
use fieldnote_core::model::*;
use fieldnote_core::{Store, StoreKey};
use fieldnote_protocol::ServerRole;
use fieldnote_server::admin::{NewUser, insert_user};
use fieldnote_server::db::Db;
use fieldnote_tests::link::Profile;
use fieldnote_tests::pg::{drop_database, fresh_database};
use shaped::System;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Sync benchmarks with same-run baselines.
#[derive(Parser)]
struct Args {
    /// A short run for CI: a smaller caseload, fewer devices and presses.
    #[arg(long)]
    quick: bool,
    /// Also run W5 on PostgreSQL: a URL whose role may create databases (the bench makes
    /// fresh ones).
    #[arg(long, env = "FIELDNOTE_BENCH_PG_URL")]
    pg_url: Option<String>,
    /// Devices for W5 with real phones and W9 (default 200; 20 with --quick).
    #[arg(long)]
    devices: Option<usize>,
    /// Device counts for the scale runs (default 200,1000,5000; 20,60 with --quick).
    #[arg(long, value_delimiter = ',')]
    scale: Vec<usize>,
    /// The PouchDB driver folder (its node_modules installed).
    #[arg(long, default_value = "tests/peers/pouchdb")]
    pouchdb: PathBuf,
    /// Working directory.
    #[arg(long, default_value = "target/sync-bench-work")]
    dir: PathBuf,
    /// Where to write the Markdown report; the charts go beside it.
    #[arg(long, default_value = "target/bench/sync.md")]
    out: PathBuf,
    /// Internal: run a server in this process (the W5 and scale runs' child processes).
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
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(&args.dir);
    std::fs::create_dir_all(&args.dir)?;
    let charts = args.out.parent().unwrap_or(Path::new(".")).to_path_buf();
    std::fs::create_dir_all(&charts)?;
    let rt = tokio::runtime::Runtime::new()?;
    let mut report = Vec::new();
    let (members, notes) = if args.quick { (8, 200) } else { (40, 1_000) };

    // W3, W4 and W10.
    let mut fx = shaped::Fixture::new(&rt, &args.dir, &args.pouchdb, members, notes)?;
    let profiles = [
        Profile::LOOPBACK,
        Profile::SLOW_4G,
        Profile::EDGE,
        Profile::LOSSY,
    ];
    let mut results = Vec::new();
    for profile in profiles {
        for system in System::ALL {
            eprintln!("W3/W4 {system:?} on {}", profile.name);
            let cut = profile == Profile::SLOW_4G;
            let pair = shaped::run(&rt, &mut fx, &args.dir, system, profile, cut)?;
            results.push((profile, system, pair));
        }
    }
    report.extend(report_w3_w4(members, notes, &results));
    report.extend(report_w10(&results));
    plot::w10(&charts.join("w10-time-to-floor.svg"), &results)?;

    // W6.
    let mut w6 = Vec::new();
    for system in System::ALL {
        eprintln!("W6 {system:?}");
        w6.push((system, conflict::run(&rt, &mut fx, &args.dir, system)?));
    }
    report.extend(report_w6(&w6));
    fx.shutdown(&rt);

    // W5 with real phones, and W9.
    let devices = args.devices.unwrap_or(if args.quick { 20 } else { 200 });
    let mut backends = vec![("SQLite".to_string(), None)];
    if let Some(url) = args.pg_url.as_ref().filter(|u| !u.is_empty()) {
        backends.push(("PostgreSQL".to_string(), Some(url.clone())));
    }
    report.push(String::new());
    report.push("## W5 and W9 with real phones".into());
    report.push(String::new());
    report.push("| workload | Fieldnote | same presses, idle server | | ratio | goal |".into());
    report.push("|---|---|---|---|---|---|".into());
    let mut press_series = Vec::new();
    for (name, url) in &backends {
        eprintln!("W5/W9 on {name}");
        let db = url.as_deref().map(fresh_database).transpose()?;
        let p = load::w5(
            &args.dir,
            args.quick,
            name,
            db.as_deref(),
            devices,
            25,
            &mut report,
        )?;
        if let (Some(base), Some(db)) = (url, db) {
            drop_database(base, &db);
        }
        press_series.push((format!("{name}, idle"), p.idle));
        press_series.push((format!("{name}, {devices} devices syncing"), p.loaded));
    }
    plot::cdf(
        &charts.join("w9-press-latency.svg"),
        "W9: distress press to supervisor screen",
        &press_series,
    )?;

    // W5 at scale.
    let scale = if args.scale.is_empty() {
        if args.quick {
            vec![20, 60]
        } else {
            vec![200, 1_000, 5_000]
        }
    } else {
        args.scale.clone()
    };
    let mut points = Vec::new();
    let mut runs: Vec<(String, Option<String>, usize)> = vec![("SQLite".into(), None, 1)];
    if let Some((_, Some(url))) = backends.get(1) {
        runs.push(("PostgreSQL".into(), Some(url.clone()), 1));
        runs.push(("PostgreSQL, 2 servers".into(), Some(url.clone()), 2));
    }
    for (name, url, servers) in &runs {
        for &n in &scale {
            eprintln!("W5 scale: {n} devices on {name}");
            let db = url.as_deref().map(fresh_database).transpose()?;
            points.push(scale::run(&args.dir, name, db.as_deref(), n, 10, *servers)?);
            if let (Some(base), Some(db)) = (url, db) {
                drop_database(base, &db);
            }
        }
    }
    report.extend(report_scale(&points));
    for p in points.iter().filter(|p| p.errors > 0) {
        report.push(format!(
            "\n{} with {} devices: {} requests failed; the first said: {}",
            p.backend,
            p.devices,
            p.errors,
            p.first_error.as_deref().unwrap_or("nothing")
        ));
    }
    plot::scaling(&charts.join("w5-scaling.svg"), &points)?;
    let ack_series: Vec<(String, Vec<Duration>)> = points
        .iter()
        .map(|p| {
            (
                format!("{}, {} devices", p.backend, p.devices),
                p.acks.clone(),
            )
        })
        .collect();
    plot::cdf(
        &charts.join("w5-ack-latency.svg"),
        "W5: time from sending to the server's answer",
        &ack_series,
    )?;

    let mut text = vec![
        "# Sync benchmarks".to_string(),
        String::new(),
        format!(
            "Run of {} s on {} cores{}. Charts: `w10-time-to-floor.svg`, `w9-press-latency.svg`, `w5-scaling.svg`, `w5-ack-latency.svg`.",
            started.elapsed().as_secs(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            if args.quick { " (--quick)" } else { "" }
        ),
    ];
    text.extend(report);
    let text = text.join("\n") + "\n";
    std::fs::write(&args.out, &text)?;
    println!("{text}");
    let _ = std::fs::remove_dir_all(&args.dir);
    Ok(())
}

/// Prepares the database of a run with server child processes (SQLite under `dir`, or the
/// fresh PostgreSQL database `pg_url`): the demo agency and a bench team of `workers`.
fn team_database(dir: &Path, pg_url: Option<&str>, workers: usize) -> Result<(), BoxError> {
    let db = Db::open(&server_config(dir, pg_url.map(str::to_string)).db_config())?;
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
        return Err("the database already holds bench users; give an empty one".into());
    }
    add_team(&db, workers)?;
    Ok(())
}

/// A server in a child process of this binary, so that its memory and CPU are its own.
struct ServerChild {
    child: std::process::Child,
    url: String,
}

impl ServerChild {
    fn spawn(dir: &Path, pg_url: Option<&str>) -> Result<ServerChild, BoxError> {
        let mut cmd = std::process::Command::new(std::env::current_exe()?);
        cmd.args(["--serve", "--dir"]).arg(dir);
        if let Some(u) = pg_url {
            cmd.args(["--serve-db", u]);
        }
        // The child's own log (warnings and above) stays beside its data, for a failed run.
        let log = std::fs::File::create(dir.join("server-child.log"))?;
        let mut child = cmd
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()?;
        let mut line = String::new();
        let out = child.stdout.as_mut().ok_or("no stdout")?;
        let mut byte = [0u8; 1];
        while out.read(&mut byte)? == 1 && byte[0] != b'\n' {
            line.push(byte[0] as char);
        }
        if line.is_empty() {
            let _ = child.kill();
            return Err("the server child did not start".into());
        }
        Ok(ServerChild {
            child,
            url: line.trim().to_string(),
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's peak resident memory so far.
    fn peak_rss_mib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .map_or(0, |kb| kb / 1024)
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_child(args: &Args) -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(fieldnote_server::log_filter(
            std::env::var("RUST_LOG").ok().as_deref(),
        ))
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Runtime::new()?;
    let config = server_config(&args.dir, args.serve_db.clone());
    let db = rt.block_on(fieldnote_server::open_db(&config))?;
    let running = rt.block_on(fieldnote_server::start_with(&config, db))?;
    println!("{}", running.url());
    std::io::stdout().flush()?;
    rt.block_on(running.wait())?;
    Ok(())
}

// ---- the Fieldnote server and phones ----

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
                    phone: None,
                },
                &hash,
            )
        };
        // Supervisors register devices with an authenticator code, each 30-second code
        // once per account: the bench's supervisor devices take turns over a few accounts.
        for i in 0..SUPERVISOR_ACCOUNTS {
            add(format!("sup{i}"), ServerRole::Supervisor)?;
        }
        for i in 0..workers {
            add(format!("w{i}"), ServerRole::Worker)?;
        }
        tx.exec(
            "UPDATE users SET totp_secret = $1 WHERE role = 'supervisor' AND team_id = $2",
            fieldnote_server::params![BENCH_TOTP, &team],
        )?;
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

/// Supervisor accounts of the bench team, and their authenticator secret (base32).
const SUPERVISOR_ACCOUNTS: usize = 8;
const BENCH_TOTP: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// A device signed in as `user`; `sup` is the team's supervisor (one of its accounts, in
/// turn, with its authenticator code).
fn device(url: &str, dir: &Path, user: &str) -> Result<Device, BoxError> {
    static NEXT_SUPERVISOR: AtomicU64 = AtomicU64::new(0);
    let (user, code) = if user == "sup" {
        let i = NEXT_SUPERVISOR.fetch_add(1, Ordering::Relaxed) as usize % SUPERVISOR_ACCOUNTS;
        let name = format!("sup{i}");
        let code = fieldnote_tests::process::authenticator_code(url, &name, BENCH_TOTP);
        (name, Some(code))
    } else {
        (user.to_string(), None)
    };
    let user = user.as_str();
    let mut store = Store::open(dir, StoreKey::generate())?;
    let client = Client::with_transport(Counting {
        inner: HttpTransport::new(url, &TlsOptions::default())?,
        requests: AtomicU64::new(0),
        latencies: Mutex::new(Vec::new()),
    });
    client.login(url, &mut store, user, PASSWORD, code.as_deref(), "bench")?;
    let id = store.identity()?.ok_or("no identity")?;
    Ok(Device {
        store,
        client,
        staff: StaffId::parse_str(&id.staff_id)?,
        team: RecordId::parse_str(&id.team_id)?,
    })
}

// ---- the report ----

fn find(results: &[(Profile, System, shaped::Pair)], p: Profile, s: System) -> shaped::Pair {
    results
        .iter()
        .find(|(q, t, _)| *q == p && *t == s)
        .map(|(.., pair)| *pair)
        .unwrap_or_default()
}

fn report_w3_w4(
    members: usize,
    notes: usize,
    results: &[(Profile, System, shaped::Pair)],
) -> Vec<String> {
    let at = |s| find(results, Profile::LOOPBACK, s);
    let (f, b, c, d) = (
        at(System::Fieldnote),
        at(System::Lww),
        at(System::Automerge),
        at(System::Pouch),
    );
    let t = |r: &shaped::Run| r.time;
    let bytes = |r: &shaped::Run| r.totals.bytes();
    let times = |x: fn(&shaped::Pair) -> &shaped::Run| {
        format!(
            "{:.2}x (b), {:.2}x (c), {:.2}x (d)",
            ratio(t(x(&f)), t(x(&b))),
            ratio(t(x(&f)), t(x(&c))),
            ratio(t(x(&f)), t(x(&d)))
        )
    };
    let sizes = |x: fn(&shaped::Pair) -> &shaped::Run| {
        let r = |o: &shaped::Pair| bytes(x(&f)) as f64 / bytes(x(o)).max(1) as f64;
        format!("{:.2}x (b), {:.2}x (c), {:.2}x (d)", r(&b), r(&c), r(&d))
    };
    fn w3(p: &shaped::Pair) -> &shaped::Run {
        &p.w3
    }
    fn w4(p: &shaped::Pair) -> &shaped::Run {
        &p.w4
    }
    let row = |name: String, cell: &dyn Fn(&shaped::Pair) -> String, ratios: String, goal: &str| {
        format!(
            "| {name} | {} | {} | {} | {} | {ratios} | {goal} |",
            cell(&f),
            cell(&b),
            cell(&c),
            cell(&d)
        )
    };
    vec![
        String::new(),
        "## W3 and W4 on loopback".into(),
        String::new(),
        "| workload | Fieldnote | (b) JSON LWW REST | (c) automerge per-document | (d) PouchDB / CouchDB protocol | ratios (Fieldnote / each) | goal |".into(),
        "|---|---|---|---|---|---|---|".into(),
        row(
            format!("W3 first sync, {members} members / {notes} notes / {members} plans: time"),
            &|p| ms(p.w3.time),
            times(w3),
            "faster than (c) and (d)",
        ),
        row("W3: bytes on the wire".into(), &|p| kb(bytes(&p.w3)), sizes(w3), "at most 1.2x (b)"),
        row("W3: requests".into(), &|p| p.w3.totals.requests.to_string(), String::new(), "few"),
        row(
            "W4 reconnect after a day (20 edited, 5 new, 3 plans by the supervisor): bytes".into(),
            &|p| {
                if p.raw > 0 {
                    format!(
                        "{} ({:.2}x raw changes of {})",
                        kb(bytes(&p.w4)),
                        bytes(&p.w4) as f64 / p.raw as f64,
                        kb(p.raw)
                    )
                } else {
                    kb(bytes(&p.w4))
                }
            },
            sizes(w4),
            "at most 2x raw + 1 KB",
        ),
        row(
            "W4: requests, time".into(),
            &|p| format!("{}, {}", p.w4.totals.requests, ms(p.w4.time)),
            times(w4),
            "at most 3 requests",
        ),
    ]
}

fn report_w10(results: &[(Profile, System, shaped::Pair)]) -> Vec<String> {
    let mut out = vec![
        String::new(),
        "## W10: shaped, lossy and cut links".into(),
        String::new(),
        "Floor: the exchange's bytes at the link's rates plus one round trip per request. Resent: bytes TCP sent twice on the lossy link; for the cut run, the bytes beyond the clean run.".into(),
        String::new(),
        "| link | workload | system | time | floor | time / floor | bytes | requests | largest message | resent | attempts |".into(),
        "|---|---|---|---|---|---|---|---|---|---|---|".into(),
    ];
    for (profile, system, pair) in results.iter().filter(|(p, ..)| *p != Profile::LOOPBACK) {
        let mut runs = vec![
            ("W3", pair.w3, pair.w3.totals.retransmitted),
            ("W4", pair.w4, pair.w4.totals.retransmitted),
        ];
        if let Some(cut) = pair.w3_cut {
            runs.push((
                "W3, cut halfway",
                cut,
                cut.totals.bytes().saturating_sub(pair.w3.totals.bytes()),
            ));
        }
        for (w, run, resent) in runs {
            let floor = profile.floor(&run.totals);
            out.push(format!(
                "| {} | {w} | {} | {} | {} | {:.2} | {} | {} | {} | {} | {} |",
                profile.name,
                system.label(),
                ms(run.time),
                ms(floor),
                ratio(run.time, floor),
                kb(run.totals.bytes()),
                run.totals.requests,
                kb(run.totals.largest),
                kb(resent),
                run.attempts
            ));
        }
    }
    out
}

fn report_w6(rows: &[(System, conflict::Outcome)]) -> Vec<String> {
    let mut out = vec![
        String::new(),
        "## W6: worker and supervisor edit the same plan offline".into(),
        String::new(),
        "Six edits: both sides add to the summary and set the next review date (to different days); the worker adds a strength, the supervisor checks the supervision conditions.".into(),
        String::new(),
        "| system | merge time | edits in the merged plan | shown to a person as a conflict | kept but hidden | lost | not in the merged plan |".into(),
        "|---|---|---|---|---|---|---|".into(),
    ];
    for (s, o) in rows {
        out.push(format!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            s.label(),
            ms(o.time),
            o.merged,
            o.shown,
            o.hidden,
            o.lost,
            o.missing.join(", ")
        ));
    }
    out
}

fn report_scale(points: &[scale::Point]) -> Vec<String> {
    let mut out = vec![
        String::new(),
        "## W5 at scale: devices reconnecting at once, 10 changes each".into(),
        String::new(),
        "| backend | devices | changes merged/s | ack p50 | ack p99 | server cores busy | PostgreSQL cores busy | server peak RSS | errors | PostgreSQL sessions waited on |".into(),
        "|---|---|---|---|---|---|---|---|---|---|".into(),
    ];
    for p in points {
        let q = |x: f64| {
            p.acks
                .get(((p.acks.len().max(1) - 1) as f64 * x) as usize)
                .copied()
                .unwrap_or_default()
        };
        let waits: Vec<String> = p
            .waits
            .iter()
            .take(3)
            .map(|(w, share)| format!("{w} {:.0}%", share * 100.0))
            .collect();
        out.push(format!(
            "| {} | {} | {:.0} | {} | {} | {:.2} | {:.2} | {} MiB | {} | {} |",
            p.backend,
            p.devices,
            p.rate,
            ms(q(0.5)),
            ms(q(0.99)),
            p.server_cores,
            p.db_cores,
            p.rss_mib,
            p.errors,
            if waits.is_empty() {
                "n/a".into()
            } else {
                waits.join(", ")
            }
        ));
    }
    out
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

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(b);
    e.finish().unwrap_or_default()
}
