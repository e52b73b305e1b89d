//! `fieldnote-bench`: the device workloads of PERFORMANCE.md (W1 note write, W2 cold open to
//! the caseload, W7 a long-lived plan, W8 full-text search), each beside a baseline measured
//! in the same run, and a Markdown report of the figures and their ratios.
//!
//! Baseline (a) is plain rusqlite on the same SQLCipher build, same key handling, WAL and
//! `synchronous=FULL`: one JSON row per record, one transaction per write. W7 also runs
//! beside (c), the same plan as one automerge document saved and loaded whole.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use fieldnote_core::model::*;
use fieldnote_core::{Store, StoreKey, synthetic};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rusqlite::{Connection, params};

/// Device benchmarks with same-run baselines.
#[derive(Parser)]
struct Args {
    /// A short run for CI: fewer writes, stores of 1,000 and 10,000 notes.
    #[arg(long)]
    quick: bool,
    /// Working directory for the stores (on the disk being measured).
    #[arg(long, default_value = "target/bench-work")]
    dir: PathBuf,
    /// Where to write the Markdown report.
    #[arg(long, default_value = "target/bench-report.md")]
    out: PathBuf,
    /// Only the today view over a year of history (40 members across the programs, 5,000
    /// notes over 365 days) and the 100,000-note stress store (5,000 only with --quick).
    #[arg(long)]
    today: bool,
}

const MEMBERS: usize = 40;
const WORDS: &[&str] = &[
    "housing",
    "pharmacy",
    "court",
    "probation",
    "budget",
    "pantry",
    "clinic",
    "therapy",
    "career",
    "crisis",
    "application",
    "benefits",
    "transportation",
    "medication",
    "coping",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let _ = std::fs::remove_dir_all(&args.dir);
    std::fs::create_dir_all(&args.dir)?;
    if args.today {
        let key = StoreKey::generate();
        let sizes: &[usize] = if args.quick {
            &[5_000]
        } else {
            &[5_000, 100_000]
        };
        let mut report = vec![
            "| workload | Fieldnote | baseline (b) every record loaded as a document | ratio | goal |".to_string(),
            "|---|---|---|---|---|".to_string(),
        ];
        for &notes in sizes {
            let dir = args.dir.join(format!("year-{notes}"));
            let started = Instant::now();
            seed_year(&dir, &key, notes)?;
            eprintln!(
                "seeded a year of {notes} notes in {:.1?}",
                started.elapsed()
            );
            let (ours, loaded) = today_view_median(&dir, &key)?;
            let (base, base_loaded) = today_baseline(&dir, &key)?;
            let goal = if notes <= 5_000 {
                "under 50 ms"
            } else {
                "under 500 ms"
            };
            report.push(format!(
                "| Today view, 40 members across the programs, {notes} notes over a year (median of 5; documents loaded: {loaded} vs {base_loaded}) | {} | {} | {:.3}x | {goal} |",
                ms(ours),
                ms(base),
                ratio(ours, base)
            ));
        }
        let text = report.join("\n");
        println!("{text}");
        std::fs::write(&args.out, text + "\n")?;
        return Ok(());
    }
    let key = StoreKey::generate();
    let mut report = vec![
        "| workload | Fieldnote | baseline (a) plain rusqlite | ratio | goal |".to_string(),
        "|---|---|---|---|---|".to_string(),
    ];

    // W1: durable note writes.
    let writes = if args.quick { 300 } else { 3000 };
    let ours = w1_ours(&args.dir.join("w1-store"), &key, writes)?;
    let base = w1_baseline(&args.dir.join("w1-plain.db"), &key, writes)?;
    for (label, q) in [("p50", 0.50), ("p99", 0.99), ("max", 1.0)] {
        let (o, b) = (pct(&ours, q), pct(&base, q));
        report.push(format!(
            "| W1 note write {label} ({writes} writes) | {} | {} | {:.2}x | at most 2x |",
            ms(o),
            ms(b),
            ratio(o, b)
        ));
    }

    // W7: a plan edited over its life.
    let changes = if args.quick { 500 } else { 5_000 };
    report.extend(w7(&args.dir, &key, changes)?);

    // W2 and W8 on stores of growing size.
    let sizes: &[usize] = if args.quick {
        &[1_000, 10_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    for &notes in sizes {
        let store_dir = args.dir.join(format!("store-{notes}"));
        let plain = args.dir.join(format!("plain-{notes}.db"));
        let seed_started = Instant::now();
        seed(&store_dir, &key, notes)?;
        seed_baseline(&plain, &key, notes)?;
        eprintln!("seeded {notes} notes in {:.1?}", seed_started.elapsed());

        let (open, loaded) = w2_ours(&store_dir, &key)?;
        let open_b = w2_baseline(&plain, &key)?;
        report.push(format!(
            "| W2 cold open to caseload, {notes} notes (median of 10; documents loaded: {loaded}) | {} | {} | {:.2}x | under 150 ms, none loaded |",
            ms(open), ms(open_b), ratio(open, open_b)
        ));

        let (today, loaded) = today_view(&store_dir, &key)?;
        report.push(format!(
            "| Today view (all rules, 40 members), {notes} notes (documents loaded: {loaded}) | {} | n/a | n/a | none set |",
            ms(today)
        ));

        let (q_ours, q_base) = w8(&store_dir, &plain, &key, if args.quick { 60 } else { 200 })?;
        report.push(format!(
            "| W8 full-text top-20, {notes} notes, p95 | {} | {} (LIKE scan) | {:.3}x | under 50 ms |",
            ms(pct(&q_ours, 0.95)), ms(pct(&q_base, 0.95)), ratio(pct(&q_ours, 0.95), pct(&q_base, 0.95))
        ));
    }
    report.push(String::new());
    report.push(format!(
        "Peak resident memory of the bench process: {} MiB.",
        peak_rss_mib()
    ));
    let text = report.join("\n");
    println!("{text}");
    std::fs::write(&args.out, text + "\n")?;
    Ok(())
}

/// W7: one plan edited `changes` times (a sentence added or reworded in its summary, the
/// review date moved, a goal's statement edited), then opened: load time (median of 20
/// cold loads from the store) and size on disk, beside the same plan as a JSON row (a) and
/// as one automerge document saved and loaded whole (c).
fn w7(
    dir: &Path,
    key: &StoreKey,
    changes: usize,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let store_dir = dir.join("w7-store");
    let mut store = Store::open(&store_dir, key.clone())?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let worker = new_id();
    let member = enrolled_member(&mut store, &mut rng, worker)?;
    let plan = store.create(RecordBody::Plan(synthetic::service_plan(
        member,
        Program::Csp,
        worker,
    )))?;
    for i in 0..changes {
        let word = *WORDS.choose(&mut rng).unwrap_or(&"housing");
        store.update(plan, |body| {
            if let RecordBody::Plan(p) = body {
                match i % 3 {
                    0 => {
                        let mut s = p.summary.as_str().to_string();
                        if s.len() > 2_000 {
                            s.drain(..s.find(". ").map_or(0, |k| k + 2));
                        }
                        s.push_str(&format!(" Discussed {word} on visit {i}."));
                        p.summary = CoText::from(s);
                    }
                    1 => {
                        p.next_review_on =
                            Day::parse(&format!("2027-{:02}-{:02}", i % 12 + 1, i % 28 + 1));
                    }
                    _ => {
                        if let Some(g) = p.goals.first_mut() {
                            g.statement = CoText::from(format!("Keep {word} stable ({i})."));
                        }
                    }
                }
            }
        })?;
    }
    store.checkpoint()?;
    let bytes = store.document_bytes(plan)?;
    let body = store.get(plan)?.body;
    drop(store);
    let mut ours = Vec::new();
    for _ in 0..20 {
        let store = Store::open(&store_dir, key.clone())?;
        let t = Instant::now();
        let got = store.get(plan)?;
        ours.push(t.elapsed());
        assert_eq!(got.body, body);
    }
    let json = serde_json::to_string(&body)?;
    let conn = plain_open(&dir.join("w7-plain.db"), key)?;
    conn.execute(
        "INSERT INTO notes (id, member_id, json) VALUES (?1, ?2, ?3)",
        params![plan.to_string(), member.to_string(), json],
    )?;
    drop(conn);
    let mut plain = Vec::new();
    for _ in 0..20 {
        let conn = plain_open(&dir.join("w7-plain.db"), key)?;
        let t = Instant::now();
        let text: String = conn.query_row(
            "SELECT json FROM notes WHERE id = ?1",
            [plan.to_string()],
            |r| r.get(0),
        )?;
        let parsed: RecordBody = serde_json::from_str(&text)?;
        plain.push(t.elapsed());
        assert_eq!(parsed, body);
    }
    let mut whole = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let doc = automerge::AutoCommit::load(&bytes)?;
        let parsed: RecordBody = autosurgeon::hydrate(&doc)?;
        whole.push(t.elapsed());
        assert_eq!(parsed, body);
    }
    let (o, a, c) = (pct(&ours, 0.5), pct(&plain, 0.5), pct(&whole, 0.5));
    Ok(vec![
        format!(
            "| W7 open a plan with {changes} changes (median of 20) | {} | {} (JSON row, history not kept) | {:.2}x (a), {:.2}x vs (c) automerge load + hydrate {} | none set |",
            ms(o),
            ms(a),
            ratio(o, a),
            ratio(o, c),
            ms(c)
        ),
        format!(
            "| W7 its size | {:.1} KB (document with its history) | {:.1} KB (JSON row, no history) | {:.2}x | none set |",
            bytes.len() as f64 / 1000.0,
            json.len() as f64 / 1000.0,
            bytes.len() as f64 / json.len().max(1) as f64
        ),
    ])
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn pct(samples: &[Duration], q: f64) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    s[((s.len() as f64 - 1.0) * q).round() as usize]
}

fn member_ids(n: usize) -> Vec<RecordId> {
    (0..n).map(|_| new_id()).collect()
}

fn note_json(
    rng: &mut impl Rng,
    member: RecordId,
    worker: StaffId,
    at: Timestamp,
) -> (RecordId, ContactNote, String) {
    let note = synthetic::note(rng, member, Program::Csp, worker, at, 120);
    let json = serde_json::to_string(&note).unwrap_or_default();
    (new_id(), note, json)
}

/// A synthetic member enrolled in CSP (notes and plans need the enrollment).
fn enrolled_member(
    store: &mut Store,
    rng: &mut rand::rngs::StdRng,
    worker: StaffId,
) -> Result<RecordId, Box<dyn std::error::Error>> {
    let member = store.create(RecordBody::Member(synthetic::member(rng)))?;
    store.create(RecordBody::Enrollment(synthetic::enrollment(
        member,
        Program::Csp,
        worker,
        new_id(),
        Timestamp::now(),
    )))?;
    Ok(member)
}

fn w1_ours(
    dir: &Path,
    key: &StoreKey,
    writes: usize,
) -> Result<Vec<Duration>, Box<dyn std::error::Error>> {
    let mut store = Store::open(dir, key.clone())?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let worker = new_id();
    let member = enrolled_member(&mut store, &mut rng, worker)?;
    let mut out = Vec::with_capacity(writes);
    for _ in 0..writes {
        let (_, note, _) = note_json(&mut rng, member, worker, Timestamp::now());
        let t = Instant::now();
        store.create(RecordBody::ContactNote(note))?;
        out.push(t.elapsed());
    }
    Ok(out)
}

fn plain_open(path: &Path, key: &StoreKey) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.to_hex().as_str()))?;
    conn.execute_batch("PRAGMA cipher_page_size = 2048;")?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY;
         CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY, member_id TEXT, json TEXT);",
    )?;
    Ok(conn)
}

fn w1_baseline(
    path: &Path,
    key: &StoreKey,
    writes: usize,
) -> Result<Vec<Duration>, Box<dyn std::error::Error>> {
    let mut conn = plain_open(path, key)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let member = new_id();
    let worker = new_id();
    let mut out = Vec::with_capacity(writes);
    for _ in 0..writes {
        let (id, _, json) = note_json(&mut rng, member, worker, Timestamp::now());
        let t = Instant::now();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO notes VALUES (?1, ?2, ?3)",
            params![id.to_string(), member.to_string(), json],
        )?;
        tx.commit()?;
        out.push(t.elapsed());
    }
    Ok(out)
}

fn seed(dir: &Path, key: &StoreKey, notes: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut store = Store::open(dir, key.clone())?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let worker = new_id();
    let team = new_id();
    let members: Vec<RecordBody> = (0..MEMBERS)
        .map(|_| RecordBody::Member(synthetic::member(&mut rng)))
        .collect();
    let ids = store.create_batch(members)?;
    let enrollments = ids
        .iter()
        .map(|m| {
            RecordBody::Enrollment(synthetic::enrollment(
                *m,
                Program::Csp,
                worker,
                team,
                Timestamp::now(),
            ))
        })
        .collect();
    store.create_batch(enrollments)?;
    let start = Timestamp::now().millis() - notes as i64 * 60_000;
    let mut written = 0;
    while written < notes {
        let batch: Vec<RecordBody> = (written..(written + 1000).min(notes))
            .map(|i| {
                let m = ids[i % ids.len()];
                let (_, n, _) = note_json(
                    &mut rng,
                    m,
                    worker,
                    Timestamp::from_millis(start + i as i64 * 60_000),
                );
                RecordBody::ContactNote(n)
            })
            .collect();
        written += batch.len();
        store.create_batch(batch)?;
    }
    Ok(())
}

fn seed_baseline(
    path: &Path,
    key: &StoreKey,
    notes: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut conn = plain_open(path, key)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let members = member_ids(MEMBERS);
    let worker = new_id();
    let tx = conn.transaction()?;
    for i in 0..notes {
        let m = members[i % members.len()];
        let (id, _, json) = note_json(
            &mut rng,
            m,
            worker,
            Timestamp::from_millis(i as i64 * 60_000),
        );
        tx.execute(
            "INSERT INTO notes VALUES (?1, ?2, ?3)",
            params![id.to_string(), m.to_string(), json],
        )?;
    }
    tx.commit()?;
    Ok(())
}

fn w2_ours(dir: &Path, key: &StoreKey) -> Result<(Duration, u64), Box<dyn std::error::Error>> {
    let mut times = Vec::new();
    let mut loaded = 0;
    for _ in 0..10 {
        let t = Instant::now();
        let store = Store::open(dir, key.clone())?;
        let caseload = store.caseload()?;
        times.push(t.elapsed());
        assert_eq!(caseload.len(), MEMBERS);
        loaded = loaded.max(store.documents_loaded());
    }
    Ok((pct(&times, 0.5), loaded))
}

fn w2_baseline(path: &Path, key: &StoreKey) -> Result<Duration, Box<dyn std::error::Error>> {
    let mut times = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let conn = plain_open(path, key)?;
        let rows: Vec<(String, i64)> = conn
            .prepare("SELECT member_id, max(json_extract(json, '$.started_at')) FROM notes GROUP BY member_id")?
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<String>>(1)?.map_or(0, |s| s.len() as i64))))?
            .collect::<rusqlite::Result<_>>()?;
        times.push(t.elapsed());
        assert_eq!(rows.len(), MEMBERS);
    }
    Ok(pct(&times, 0.5))
}

fn today_view(dir: &Path, key: &StoreKey) -> Result<(Duration, u64), Box<dyn std::error::Error>> {
    let store = Store::open(dir, key.clone())?;
    let t = Instant::now();
    let today = fieldnote_core::rules::today(&store, Timestamp::now())?;
    let elapsed = t.elapsed();
    assert_eq!(today.len(), MEMBERS);
    Ok((elapsed, store.documents_loaded()))
}

/// A year of a 40-member caseload: members across the six programs, each referred a year
/// ago, with `notes` notes spread evenly over the year under their program (a mix of
/// modalities and purposes from the synthetic generator), and a plan per member.
fn seed_year(dir: &Path, key: &StoreKey, notes: usize) -> Result<(), Box<dyn std::error::Error>> {
    const PROGRAMS: [Program; 6] = [
        Program::Csp,
        Program::CspJi,
        Program::Tm,
        Program::Cares,
        Program::BhCp,
        Program::LtssCp,
    ];
    let mut store = Store::open(dir, key.clone())?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let worker = new_id();
    let team = new_id();
    let year_ms = 365 * 86_400_000_i64;
    let now = Timestamp::now().millis();
    let members: Vec<RecordBody> = (0..MEMBERS)
        .map(|_| RecordBody::Member(synthetic::member(&mut rng)))
        .collect();
    let ids = store.create_batch(members)?;
    let program = |i: usize| PROGRAMS[i % PROGRAMS.len()];
    let enrollments = ids
        .iter()
        .enumerate()
        .map(|(i, m)| {
            RecordBody::Enrollment(synthetic::enrollment(
                *m,
                program(i),
                worker,
                team,
                Timestamp::from_millis(now - year_ms),
            ))
        })
        .collect();
    store.create_batch(enrollments)?;
    let plans = ids
        .iter()
        .enumerate()
        .map(|(i, m)| RecordBody::Plan(synthetic::service_plan(*m, program(i), worker)))
        .collect();
    store.create_batch(plans)?;
    let step = year_ms / notes.max(1) as i64;
    let mut written = 0;
    while written < notes {
        let batch: Vec<RecordBody> = (written..(written + 1000).min(notes))
            .map(|i| {
                let m = i % ids.len();
                let at = Timestamp::from_millis(now - year_ms + i as i64 * step);
                RecordBody::ContactNote(synthetic::note(
                    &mut rng,
                    ids[m],
                    program(m),
                    worker,
                    at,
                    120,
                ))
            })
            .collect();
        written += batch.len();
        store.create_batch(batch)?;
    }
    Ok(())
}

/// The today view's median of 5 runs on one open store, and the documents it loaded.
fn today_view_median(
    dir: &Path,
    key: &StoreKey,
) -> Result<(Duration, u64), Box<dyn std::error::Error>> {
    let store = Store::open(dir, key.clone())?;
    let mut times = Vec::new();
    let mut loaded = 0;
    for _ in 0..5 {
        let before = store.documents_loaded();
        let t = Instant::now();
        let today = fieldnote_core::rules::today(&store, Timestamp::now())?;
        times.push(t.elapsed());
        loaded = store.documents_loaded() - before;
        assert_eq!(today.len(), MEMBERS);
    }
    // Where the time goes: loading each member's records, and evaluating the rules.
    let (mut load, mut eval) = (Duration::ZERO, Duration::ZERO);
    for c in store.caseload()? {
        let t = Instant::now();
        let records = fieldnote_core::rules::MemberRecords::load(&store, c.member_id)?;
        load += t.elapsed();
        let t = Instant::now();
        let _ = fieldnote_core::rules::evaluate_member(&records, Timestamp::now());
        eval += t.elapsed();
    }
    eprintln!(
        "  of which loading records {} and evaluating rules {}",
        ms(load),
        ms(eval)
    );
    Ok((pct(&times, 0.5), loaded))
}

/// Baseline (b): the same rules over every record loaded as its document (notes included),
/// as a store without projections would have to.
fn today_baseline(
    dir: &Path,
    key: &StoreKey,
) -> Result<(Duration, u64), Box<dyn std::error::Error>> {
    let store = Store::open(dir, key.clone())?;
    let now = Timestamp::now();
    let t = Instant::now();
    let mut open = 0;
    for c in store.caseload()? {
        let mut records = vec![store.get(c.member_id)?];
        for e in store.timeline(c.member_id)? {
            records.push(store.get(e.record_id)?);
        }
        let member = fieldnote_core::rules::MemberRecords::from_records(c.member_id, records);
        open += fieldnote_core::rules::evaluate_member(&member, now)
            .iter()
            .filter(|o| o.open())
            .count();
    }
    let elapsed = t.elapsed();
    assert!(open > 0);
    Ok((elapsed, store.documents_loaded()))
}

fn w8(
    dir: &Path,
    plain: &Path,
    key: &StoreKey,
    queries: usize,
) -> Result<(Vec<Duration>, Vec<Duration>), Box<dyn std::error::Error>> {
    let store = Store::open(dir, key.clone())?;
    let conn = plain_open(plain, key)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for i in 0..queries {
        let a = *WORDS.choose(&mut rng).unwrap_or(&"housing");
        let b = *WORDS.choose(&mut rng).unwrap_or(&"court");
        let text = if i % 2 == 0 {
            a.to_string()
        } else {
            format!("{a} {b}")
        };
        let t = Instant::now();
        let hits = store.search(&text, 20)?;
        ours.push(t.elapsed());
        std::hint::black_box(hits);
        let t = Instant::now();
        let like = format!("%{a}%");
        let rows: Vec<String> = conn
            .prepare_cached("SELECT id FROM notes WHERE json LIKE ?1 LIMIT 20")?
            .query_map([like], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        base.push(t.elapsed());
        std::hint::black_box(rows);
    }
    Ok((ours, base))
}

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
