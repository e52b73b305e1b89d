//! Child process for the kill -9 harness: opens a store, writes notes (finalizing every
//! third, changing every fifth) as fast as it can, and prints `ACK <id> <n> END` after each
//! operation returns, which is the moment the app would tell a person "saved".
//! `crash-writer --open DIR` only opens the store (running its migrations) and prints
//! `OPENED`. `crash-writer --alarms DIR` raises panic alarms through the safety database's
//! own handle (as the phone's distress button does while a sync holds the store) and
//! prints `ALARM <id> END` after each. A store held by another process ends the writer
//! with the error's message on standard error and exit code 3.

use std::io::Write;

use fieldnote_core::model::*;
use fieldnote_core::{Signer, Store, StoreKey, synthetic};
use fieldnote_tests::{ACK, KEY_ENV};
use rand::SeedableRng;

fn main() {
    match run() {
        Ok(()) => {}
        Err(e) => {
            eprintln!("{e}");
            let held = e
                .downcast_ref::<fieldnote_core::Error>()
                .is_some_and(|e| matches!(e, fieldnote_core::Error::InUse { .. }));
            std::process::exit(if held { 3 } else { 1 });
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: crash-writer DIR ROUND")?;
    if dir == "--open" {
        let dir = args.next().ok_or("usage: crash-writer --open DIR")?;
        let key = StoreKey::from_hex(&std::env::var(KEY_ENV)?)?;
        Store::open(&dir, key)?;
        println!("OPENED");
        return Ok(());
    }
    if dir == "--alarms" {
        let dir = args.next().ok_or("usage: crash-writer --alarms DIR")?;
        let key = StoreKey::from_hex(&std::env::var(KEY_ENV)?)?;
        let safety = fieldnote_core::store::SafetyStore::open(&dir, &key)?;
        let out = std::io::stdout();
        loop {
            let id = safety.raise_alarm(fieldnote_protocol::safety::AlarmKind::Panic, None)?;
            let mut lock = out.lock();
            writeln!(lock, "ALARM {id} END")?;
            lock.flush()?;
        }
    }
    let round: u64 = args
        .next()
        .ok_or("usage: crash-writer DIR ROUND")?
        .parse()?;
    let key = StoreKey::from_hex(&std::env::var(KEY_ENV)?)?;
    let mut store = Store::open(&dir, key)?;
    let worker = uuid::Uuid::from_u128(7);
    // A device signs only as the user signed in on it.
    if store.identity()?.is_none() {
        store.set_identity(&fieldnote_protocol::Identity {
            user_id: "crash-worker".into(),
            staff_id: worker.to_string(),
            display_name: "Crash Worker".into(),
            role: fieldnote_protocol::ServerRole::Worker,
            team_id: uuid::Uuid::from_u128(8).to_string(),
        })?;
    }
    let first = store.caseload()?.into_iter().next();
    let member = match &first {
        Some(c) => c.member_id,
        None => {
            let mut rng = rand::rngs::StdRng::seed_from_u64(1);
            store.create(RecordBody::Member(synthetic::member(&mut rng)))?
        }
    };
    // Notes need the member's enrollment (a kill may have come between the two writes).
    if first.is_none_or(|c| c.enrollments.is_empty()) {
        store.create(RecordBody::Enrollment(synthetic::enrollment(
            member,
            Program::Csp,
            worker,
            uuid::Uuid::from_u128(8),
            Timestamp::now(),
        )))?;
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(round);
    let out = std::io::stdout();
    for n in 0.. {
        let mut note =
            synthetic::note(&mut rng, member, Program::Csp, worker, Timestamp::now(), 40);
        note.narrative = format!("round {round} note {n} {}", note.narrative);
        let id = store.create(RecordBody::ContactNote(note))?;
        if n % 5 == 4 {
            store.update(id, |b| {
                if let RecordBody::ContactNote(c) = b {
                    c.narrative.push_str(" amended");
                }
            })?;
        }
        if n % 3 == 2 {
            let signer = Signer {
                staff_id: Some(worker),
                name: "Crash Worker".into(),
                role: Role::Worker,
                witness: None,
            };
            store.finalize_note(id, signer)?;
        }
        let mut lock = out.lock();
        writeln!(lock, "{ACK} {id} {round} {n} {} END", n % 5 == 4)?;
        lock.flush()?;
    }
    Ok(())
}
