//! W5 with real phones (200 devices, each with its SQLCipher store, syncing at once) and
//! W9 (distress presses timed to the supervisor's live stream, on an idle server and while
//! those phones keep writing and bulk-syncing).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fieldnote_core::model::*;
use fieldnote_core::synthetic;
use rand::SeedableRng;

use super::{BoxError, Device, ServerChild, device, ms, ratio, team_database};

/// W9's press times, sorted.
pub struct Presses {
    /// On an idle server.
    pub idle: Vec<Duration>,
    /// While the phones bulk-sync.
    pub loaded: Vec<Duration>,
}

/// W5 with real phones, then W9 while they keep syncing; returns W9's press times (idle,
/// loaded) for the plots.
pub fn w5(
    base: &Path,
    quick: bool,
    backend: &str,
    pg_url: Option<&str>,
    devices: usize,
    per_device: usize,
    report: &mut Vec<String>,
) -> Result<Presses, BoxError> {
    let dir = base.join(format!("w5-{backend}"));
    std::fs::create_dir_all(&dir)?;
    // One more worker than devices: the W9 presser.
    team_database(&dir, pg_url, devices + 1)?;
    let child = ServerChild::spawn(&dir, pg_url)?;
    let url = child.url.clone();
    (|| -> Result<Presses, BoxError> {
        let mut phones = Vec::new();
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for i in 0..devices {
            let mut d = device(&url, &dir.join(format!("phone{i}")), &format!("w{i}"))?;
            let m = d
                .store
                .create(RecordBody::Member(synthetic::member(&mut rng)))?;
            // Notes need the member's enrollment: the member, the enrollment and the notes
            // make up the device's changes.
            let e = synthetic::enrollment(m, Program::Csp, d.staff, d.team, Timestamp::now());
            d.store.create(RecordBody::Enrollment(e))?;
            for _ in 0..per_device.saturating_sub(2) {
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
            child.peak_rss_mib()
        ));
        let presses = if quick { 10 } else { 50 };
        w9(&url, &dir, backend, phones, devices, presses, report)
    })()
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
            let (got, at) = events.recv_timeout(Duration::from_secs(30)).map_err(|_| {
                format!("W9: alarm {id} did not reach the supervisor's stream in 30 s")
            })?;
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
) -> Result<Presses, BoxError> {
    let presser = device(url, &dir.join("presser"), &format!("w{devices}"))?;
    let sup = device(url, &dir.join("supervisor"), "sup")?;
    // The supervisor's app follows the stream as the console does: when it drops, it
    // reconnects from the last event it saw (each reconnect is reported).
    let first = sup.client.events(None)?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut stream = Some(first);
        let mut last = None;
        loop {
            let events = match stream.take() {
                Some(s) => s,
                None => match sup.client.events(last) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("W9: reconnecting the supervisor's stream failed: {e}");
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    }
                },
            };
            for event in events {
                let event = match event {
                    Ok(e) => e,
                    Err(e) => {
                        eprintln!("W9: the supervisor's stream dropped ({e}); reconnecting");
                        break;
                    }
                };
                last = Some(event.seq);
                if let Some(a) = event.alarm
                    && tx.send((a.id, Instant::now())).is_err()
                {
                    return;
                }
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
            // A member and a program they are enrolled in (a note under another program
            // would be refused and write nothing).
            let member = d.store.caseload().ok().and_then(|c| {
                c.iter().find_map(|m| {
                    let program = m
                        .enrollments
                        .iter()
                        .find_map(|(code, _)| Program::from_code(code))?;
                    Some((m.member_id, program))
                })
            });
            let seed: u64 = rand::Rng::random(&mut rng);
            std::thread::spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                let mut rounds = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if let Some((m, program)) = member {
                        for _ in 0..10 {
                            let note = synthetic::note(
                                &mut rng,
                                m,
                                program,
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
    Ok(Presses { idle, loaded })
}
