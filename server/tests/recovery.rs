//! Recovery, on SQLite and PostgreSQL: the server process killed with SIGKILL while it ingests
//! a phone's upload (every note arrives once after restarts, one audit entry each, the chain
//! unbroken); a reply lost after the server committed (the resend is deduplicated: one note,
//! one audit entry); and a phone restored from an older copy of its database (its outbox is
//! sent again, what it missed is pulled again, nothing is lost or doubled).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::Duration;

use common::proxy::{Fault, Proxy};
use common::{Backend, Device, TestServer, spawn_server};
use fieldnote_core::model::*;
use fieldnote_core::{Store, StoreKey};
use fieldnote_protocol::ServerRole;
use fieldnote_server::params;
use rand::{Rng, SeedableRng};

/// Notes on the server, and audit `sync.write` entries naming `id`.
fn on_server(server: &TestServer, id: RecordId) -> (usize, usize) {
    server
        .db
        .tx(|tx| {
            let docs = tx
                .query(
                    "SELECT 1 FROM documents WHERE id = $1",
                    params![id.to_string()],
                )?
                .len();
            let audits = tx
                .query(
                    "SELECT 1 FROM audit WHERE action = 'sync.write' AND target LIKE $1",
                    params![format!("%{id}%")],
                )?
                .len();
            Ok((docs, audits))
        })
        .unwrap()
}

fn lost_reply_is_deduplicated(backend: Backend) {
    let server = TestServer::start(backend);
    let team = server.add_team("r");
    server.add_user("w.r", ServerRole::Worker, Some(&team));
    let proxy = Proxy::start(&server.url);
    let mut phone = Device::login(&proxy.url, "w.r");
    let member = phone.add_member(1);
    phone.sync();
    let note = phone.write_note(member, "A note whose acknowledgement is lost.");
    proxy.set(Fault::DropReply);
    // Let the proxy close the phone's kept-alive connection, so the sync opens a new one.
    std::thread::sleep(Duration::from_millis(200));
    assert!(phone.client.sync(&mut phone.store, &mut |_| {}).is_err());
    assert_eq!(on_server(&server, note), (1, 1), "the server applied it");
    proxy.set(Fault::Pass);
    phone.sync();
    assert_eq!(phone.store.outbox_len().unwrap(), 0);
    assert_eq!(on_server(&server, note), (1, 1), "the resend added nothing");
}

fn restored_older_copy(backend: Backend) {
    let server = TestServer::start(backend);
    let team = server.add_team("r");
    server.add_user("w.r", ServerRole::Worker, Some(&team));
    let mut phone = server.device("w.r");
    let member = phone.add_member(2);
    let a = phone.write_note(member, "Synced before the backup.");
    phone.sync();
    let b = phone.write_note(member, "In the outbox when the backup was taken.");
    let backup = tempfile::tempdir().unwrap();
    phone.store.checkpoint().unwrap();
    for e in std::fs::read_dir(phone.dir.path()).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), backup.path().join(e.file_name())).unwrap();
        }
    }
    phone.sync();
    let c = phone.write_note(member, "Written and synced after the backup.");
    phone.sync();

    // The phone is restored from the older copy (a device backup, a replaced handset).
    let restored = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(backup.path()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), restored.path().join(e.file_name())).unwrap();
    }
    let key = StoreKey::from_hex(&phone.key.to_hex()).unwrap();
    let mut store = Store::open(restored.path(), key).unwrap();
    assert!(store.get(c).is_err(), "the copy predates note c");
    assert_eq!(
        store.outbox_len().unwrap(),
        1,
        "note b waits in the restored outbox"
    );
    phone.client.sync(&mut store, &mut |_| {}).unwrap();
    for (id, name) in [(a, "a"), (b, "b"), (c, "c")] {
        assert!(
            store.get(id).is_ok(),
            "note {name} is on the restored phone"
        );
        assert_eq!(
            on_server(&server, id),
            (1, 1),
            "note {name}: once, one audit entry"
        );
    }
    assert_eq!(store.outbox_len().unwrap(), 0);
}

fn killed_during_ingest(backend: Backend) {
    let mut server = TestServer::start(backend);
    let team = server.add_team("r");
    server.add_user("w.r", ServerRole::Worker, Some(&team));
    server.stop();
    let mut process = spawn_server(&server, "127.0.0.1:0");
    let listen = process.url.trim_start_matches("http://").to_string();
    let mut phone = Device::login(&process.url, "w.r");
    let member = phone.add_member(3);
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut written = Vec::new();
    let mut killed_mid_sync = 0;
    for round in 0..5 {
        for n in 0..150 {
            written.push(phone.write_note(member, &format!("Round {round} note {n}.")));
        }
        // Kill the server while it ingests this sync.
        let wait = Duration::from_millis(rng.random_range(5..150));
        let killer = std::thread::spawn(move || {
            std::thread::sleep(wait);
            let _ = process.child.kill();
            let _ = process.child.wait();
            process
        });
        let finished = phone.client.sync(&mut phone.store, &mut |_| {}).is_ok();
        drop(killer.join().unwrap());
        killed_mid_sync += usize::from(!finished);
        // Restart on the same address; the phone syncs until its outbox is empty.
        process = spawn_server(&server, &listen);
        for _ in 0..5 {
            if phone.store.outbox_len().unwrap() == 0 {
                break;
            }
            let _ = phone.client.sync(&mut phone.store, &mut |_| {});
        }
        assert_eq!(phone.store.outbox_len().unwrap(), 0, "round {round}");
    }
    drop(process);
    for id in &written {
        assert_eq!(
            on_server(&server, *id),
            (1, 1),
            "note {id}: once, one audit entry"
        );
    }
    let audit = server
        .db
        .tx(|tx| fieldnote_server::audit::verify(tx))
        .unwrap();
    assert_eq!(audit.first_broken, None);
    println!(
        "server kill -9 during ingest: 5 rounds, {} notes, {killed_mid_sync} syncs cut by the kill, 0 lost, 0 doubled",
        written.len()
    );
}

macro_rules! on_both {
    ($($name:ident),*) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::Backend::Sqlite); } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(super::Backend::Postgres); } )*
        }
    };
}

on_both!(
    lost_reply_is_deduplicated,
    restored_older_copy,
    killed_during_ingest
);
