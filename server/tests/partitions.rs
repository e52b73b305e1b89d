//! A Jepsen-style set check through a fault-injecting TCP proxy, on SQLite and PostgreSQL:
//! three workers' phones each write unique notes and sync while the link between them and
//! the server is cut mid-upload, loses replies after the server committed, holds requests,
//! refuses connections, crawls like a slow mobile link (150 ms round trip, 1.6 Mbit/s), and
//! comes back (a flapping link). Afterwards, with the link healed,
//! the server holds exactly the union of everything written (every acknowledged note, each
//! once and whole, nothing half-applied), and a supervisor's fresh device receives the same.
//! The schedule comes from a seed (`PARTITION_SEED`), printed so a failure can be replayed;
//! `PARTITION_ROUNDS` sets the length (default 60).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::proxy::{Fault, Proxy};
use common::{Backend, Device, TestServer};
use fieldnote_core::model::*;
use fieldnote_protocol::ServerRole;
use fieldnote_server::params;
use rand::{Rng, SeedableRng};

fn set_check(backend: Backend) {
    let seed: u64 = std::env::var("PARTITION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    let rounds: usize = std::env::var("PARTITION_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    println!("partition schedule: PARTITION_SEED={seed} PARTITION_ROUNDS={rounds}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let server = TestServer::start(backend);
    let team = server.add_team("p");
    server.add_user("sup.p", ServerRole::Supervisor, Some(&team));
    let proxy = Proxy::start(&server.url);
    let mut phones: Vec<(Device, RecordId)> = (0..3)
        .map(|i| {
            let user = format!("w{i}.p");
            server.add_user(&user, ServerRole::Worker, Some(&team));
            let mut phone = Device::login(&proxy.url, &user);
            let member = phone.add_member(i);
            phone.sync();
            (phone, member)
        })
        .collect();

    // note id -> (phone, its text); acknowledged ids (the phone's sync returned with an
    // empty outbox after the note was written).
    let mut written: BTreeMap<RecordId, (usize, String)> = BTreeMap::new();
    let mut acknowledged = std::collections::BTreeSet::new();
    let mut failed_syncs = 0;
    for round in 0..rounds {
        let fault = match rng.random_range(0..11) {
            0..=3 => Fault::Pass,
            10 => Fault::Shaped {
                rtt_ms: 150,
                bytes_per_sec: 200_000,
            },
            4 | 5 => Fault::CutRequestAfter(rng.random_range(1..4000)),
            6 | 7 => Fault::DropReply,
            8 => Fault::Hold(Duration::from_millis(300)),
            _ => Fault::Refuse,
        };
        proxy.set(fault);
        let d = rng.random_range(0..phones.len());
        let (phone, member) = &mut phones[d];
        for k in 0..rng.random_range(1..4) {
            let text = format!("phone {d} round {round} note {k}");
            let id = phone.write_note(*member, &text);
            written.insert(id, (d, text));
        }
        match phone.client.sync(&mut phone.store, &mut |_| {}) {
            Ok(_) if phone.store.outbox_len().unwrap() == 0 => {
                acknowledged.extend(
                    written
                        .iter()
                        .filter(|(_, (p, _))| *p == d)
                        .map(|(id, _)| *id),
                );
            }
            Ok(_) => {}
            Err(e) => {
                assert!(e.is_retryable(), "round {round} ({fault:?}): {e}");
                failed_syncs += 1;
            }
        }
    }

    // Heal the link; every phone empties its outbox.
    proxy.set(Fault::Pass);
    for (phone, _) in &mut phones {
        for _ in 0..5 {
            if phone.store.outbox_len().unwrap() == 0 {
                break;
            }
            let _ = phone.client.sync(&mut phone.store, &mut |_| {});
        }
        assert_eq!(
            phone.store.outbox_len().unwrap(),
            0,
            "an outbox did not drain"
        );
    }
    let (connections, faulted) = proxy.counts();

    // The server holds every note written, once, whole.
    let stored: Vec<String> = server
        .db
        .tx(|tx| {
            Ok(tx
                .query(
                    "SELECT id FROM documents WHERE kind = 'contact_note' ORDER BY id",
                    params![],
                )?
                .into_iter()
                .map(|r| r[0].text())
                .collect())
        })
        .unwrap();
    let expected: Vec<String> = written.keys().map(|id| id.to_string()).collect();
    assert_eq!(
        stored, expected,
        "seed {seed}: the server's notes are not the union of writes"
    );
    let mut supervisor = server.device("sup.p");
    supervisor.sync();
    for (id, (_, text)) in &written {
        let got = supervisor.store.get(*id).unwrap();
        let RecordBody::ContactNote(n) = got.body else {
            panic!("{id} is not a note");
        };
        assert_eq!(&n.narrative, text, "seed {seed}: note {id} arrived altered");
    }
    assert!(acknowledged.iter().all(|id| written.contains_key(id)));
    let audit = server
        .db
        .tx(|tx| fieldnote_server::audit::verify(tx))
        .unwrap();
    assert_eq!(audit.first_broken, None);
    println!(
        "set check: {rounds} rounds, {} notes written, {} acknowledged under faults, 0 lost, \
         0 duplicated; {failed_syncs} syncs failed; {faulted} of {connections} connections faulted",
        written.len(),
        acknowledged.len()
    );
}

#[test]
fn sqlite_union_of_acknowledged_writes() {
    set_check(Backend::Sqlite);
}

#[test]
fn postgres_union_of_acknowledged_writes() {
    set_check(Backend::Postgres);
}
