//! Child process for the kill -9 harness: opens a store, writes notes (finalizing every
//! third, changing every fifth) as fast as it can, and prints `ACK <id> <n> END` after each
//! operation returns, which is the moment the app would tell a person "saved".
//! `crash-writer --open DIR` only opens the store (running its migrations) and prints
//! `OPENED`.

use std::io::Write;

use fieldnote_core::model::*;
use fieldnote_core::{Signer, Store, StoreKey, synthetic};
use fieldnote_tests::{ACK, KEY_ENV};
use rand::SeedableRng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: crash-writer DIR ROUND")?;
    if dir == "--open" {
        let dir = args.next().ok_or("usage: crash-writer --open DIR")?;
        let key = StoreKey::from_hex(&std::env::var(KEY_ENV)?)?;
        Store::open(&dir, key)?;
        println!("OPENED");
        return Ok(());
    }
    let round: u64 = args
        .next()
        .ok_or("usage: crash-writer DIR ROUND")?
        .parse()?;
    let key = StoreKey::from_hex(&std::env::var(KEY_ENV)?)?;
    let mut store = Store::open(&dir, key)?;
    let worker = uuid::Uuid::from_u128(7);
    let member = match store.caseload()?.first() {
        Some(c) => c.member_id,
        None => {
            let mut rng = rand::rngs::StdRng::seed_from_u64(1);
            store.create(RecordBody::Member(synthetic::member(&mut rng)))?
        }
    };
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
