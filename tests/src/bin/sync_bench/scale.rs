//! W5 at scale: 200, 1,000 and 5,000 devices reconnecting at once, on SQLite, on
//! PostgreSQL, and on two server processes sharing one PostgreSQL.
//!
//! Each device is real up to its request: a SQLCipher store that signs in, writes a member
//! and notes and prepares its sync request. The store is then closed, and what is kept is
//! the device's signed-in transport, access token and encoded request, so that thousands of
//! devices fit in one process and the 2 cores go to the server while the requests land
//! together. To say where ingest stops scaling, the run records the CPU the server
//! processes and PostgreSQL used, and samples what PostgreSQL's busy sessions waited on.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use fieldnote_client::{Client, HttpTransport, TlsOptions, Transport};
use fieldnote_core::model::*;
use fieldnote_core::{Store, StoreKey, synthetic};
use fieldnote_protocol as proto;
use rand::SeedableRng;

use super::{BoxError, PASSWORD, ServerChild, team_database};

/// One scale point.
#[derive(Clone, Debug, Default)]
pub struct Point {
    /// "SQLite", "PostgreSQL" or "PostgreSQL, 2 servers".
    pub backend: String,
    /// Devices reconnecting at once.
    pub devices: usize,
    /// Changes merged per second of wall time, first request to last answer.
    pub rate: f64,
    /// Every device's time from sending to its answer, sorted.
    pub acks: Vec<Duration>,
    /// Requests that failed.
    pub errors: usize,
    /// The first failure's message, if any failed.
    pub first_error: Option<String>,
    /// Peak resident memory of the server processes, summed.
    pub rss_mib: u64,
    /// Cores the server processes kept busy on average.
    pub server_cores: f64,
    /// Cores PostgreSQL kept busy on average (0 on SQLite).
    pub db_cores: f64,
    /// What PostgreSQL's busy sessions waited on, most common first, as shares.
    pub waits: Vec<(String, f64)>,
}

/// A device ready to reconnect: its transport, token and request.
struct Ready {
    client: Client<HttpTransport>,
    token: String,
    body: Vec<u8>,
    changes: usize,
}

fn prepare(
    url: &str,
    dir: &Path,
    user: &str,
    changes: usize,
    seed: u64,
) -> Result<Ready, BoxError> {
    let mut store = Store::open(dir, StoreKey::generate())?;
    let client = Client::connect(url, &TlsOptions::default())?;
    client.login(url, &mut store, user, PASSWORD, None, "bench")?;
    let id = store.identity()?.ok_or("no identity")?;
    let staff = StaffId::parse_str(&id.staff_id)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let member = store.create(RecordBody::Member(synthetic::member(&mut rng)))?;
    // Notes need the member's enrollment; member, enrollment and notes make `changes`.
    let team = RecordId::parse_str(&id.team_id).unwrap_or_default();
    let e = synthetic::enrollment(member, Program::Csp, staff, team, Timestamp::now());
    store.create(RecordBody::Enrollment(e))?;
    for _ in 2..changes {
        let note = synthetic::note(&mut rng, member, Program::Csp, staff, Timestamp::now(), 120);
        store.create(RecordBody::ContactNote(note))?;
    }
    let request = store.prepare_sync()?.request;
    let creds = client.credentials().ok_or("no credentials")?;
    let answer = client.transport().send(
        proto::routes::TOKEN,
        None,
        Some(&proto::to_cbor(&proto::TokenRequest {
            device_id: creds.device_id,
            device_secret: creds.device_secret,
        })),
    )?;
    let token: proto::TokenResponse = proto::from_cbor(&answer)?;
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
    Ok(Ready {
        client,
        token: token.access_token,
        body: proto::to_cbor(&request),
        changes: request.upload.len(),
    })
}

/// CPU seconds a process has used (user and system).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, so indexes 11 and 12 of the fields
    // after the name; Linux counts them in 100ths of a second (USER_HZ).
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds every PostgreSQL process on the machine has used.
fn postgres_cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(cpu_seconds)
        .sum()
}

/// Samples PostgreSQL's active sessions until `stop`; returns each wait's share.
fn sample_waits(url: String, stop: Arc<AtomicBool>) -> Vec<(String, f64)> {
    let Ok(mut c) = postgres::Client::connect(&url, postgres::NoTls) else {
        return Vec::new();
    };
    let mut tally: HashMap<String, u64> = HashMap::new();
    let mut total = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if let Ok(rows) = c.query(
            "SELECT coalesce(wait_event_type || ':' || wait_event, 'on CPU') FROM pg_stat_activity \
             WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            &[],
        ) {
            for r in rows {
                *tally.entry(r.get(0)).or_default() += 1;
                total += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out: Vec<(String, f64)> = tally
        .into_iter()
        .map(|(k, n)| (k, n as f64 / total.max(1) as f64))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// Runs one scale point: `devices` devices with `changes` changes each against `servers`
/// server processes on a fresh database (`pg_url`, or SQLite when none).
pub fn run(
    dir: &Path,
    backend: &str,
    pg_url: Option<&str>,
    devices: usize,
    changes: usize,
    servers: usize,
) -> Result<Point, BoxError> {
    let dir = dir.join(format!("scale-{backend}-{devices}").replace([' ', ','], "_"));
    std::fs::create_dir_all(&dir)?;
    team_database(&dir, pg_url, devices)?;
    let children = (0..servers)
        .map(|_| ServerChild::spawn(&dir, pg_url))
        .collect::<Result<Vec<_>, _>>()?;
    // Devices are prepared on two threads (the machine's cores).
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let urls: Vec<String> = children.iter().map(|c| c.url.clone()).collect();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (next, urls, dir) = (next.clone(), urls.clone(), dir.clone());
            std::thread::spawn(move || -> Result<Vec<Ready>, String> {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= devices {
                        return Ok(out);
                    }
                    let url = &urls[i % urls.len()];
                    out.push(
                        prepare(
                            url,
                            &dir.join(format!("d{i}")),
                            &format!("w{i}"),
                            changes,
                            i as u64,
                        )
                        .map_err(|e| format!("device {i}: {e}"))?,
                    );
                }
            })
        })
        .collect();
    let mut ready = Vec::with_capacity(devices);
    for w in workers {
        ready.extend(w.join().map_err(|_| "a preparing thread panicked")??);
    }

    let barrier = Arc::new(Barrier::new(devices + 1));
    let handles = ready
        .into_iter()
        .map(|r| {
            let barrier = barrier.clone();
            std::thread::Builder::new().stack_size(256 * 1024).spawn(
                move || -> Result<(Duration, usize), String> {
                    barrier.wait();
                    let t = Instant::now();
                    let answer = r
                        .client
                        .transport()
                        .send(proto::routes::SYNC, Some(&r.token), Some(&r.body))
                        .map_err(|e| e.to_string())?;
                    let took = t.elapsed();
                    let resp: proto::SyncResponse =
                        proto::from_cbor(&answer).map_err(|e| e.to_string())?;
                    let accepted = resp
                        .acks
                        .iter()
                        .filter(|o| matches!(o.outcome, proto::Outcome::Accepted))
                        .count();
                    if accepted != r.changes {
                        return Err(format!("{accepted} of {} accepted", r.changes));
                    }
                    Ok((took, accepted))
                },
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = pg_url.map(|u| {
        let (u, stop) = (u.to_string(), stop.clone());
        std::thread::spawn(move || sample_waits(u, stop))
    });
    let cpu_before: f64 = children.iter().map(|c| cpu_seconds(c.pid())).sum();
    let db_before = if pg_url.is_some() {
        postgres_cpu_seconds()
    } else {
        0.0
    };
    barrier.wait();
    let t = Instant::now();
    let mut acks = Vec::with_capacity(devices);
    let mut errors = 0;
    let mut first_error = None;
    let mut merged = 0;
    for h in handles {
        match h.join() {
            Ok(Ok((d, n))) => {
                acks.push(d);
                merged += n;
            }
            Ok(Err(e)) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
            Err(_) => {
                errors += 1;
                first_error.get_or_insert_with(|| "a device thread panicked".into());
            }
        }
    }
    let wall = t.elapsed().as_secs_f64();
    let server_cpu = children.iter().map(|c| cpu_seconds(c.pid())).sum::<f64>() - cpu_before;
    let db_cpu = if pg_url.is_some() {
        postgres_cpu_seconds() - db_before
    } else {
        0.0
    };
    stop.store(true, Ordering::Relaxed);
    let waits = sampler.and_then(|s| s.join().ok()).unwrap_or_default();
    acks.sort();
    let rss_mib = children.iter().map(|c| c.peak_rss_mib()).sum();
    drop(children);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Point {
        backend: backend.to_string(),
        devices,
        rate: merged as f64 / wall.max(1e-9),
        acks,
        errors,
        first_error,
        rss_mib,
        server_cores: server_cpu / wall.max(1e-9),
        db_cores: db_cpu / wall.max(1e-9),
        waits,
    })
}
