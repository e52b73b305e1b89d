//! Two `fieldnote-server` processes on one PostgreSQL: writers sync through both at once
//! while a supervisor's device keeps syncing through one of them. Feed sequence numbers
//! commit in order, so the supervisor's cursor never skips a change: after the writers stop,
//! one more sync brings every note.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{Backend, Device, TestServer, spawn_server};
use fieldnote_protocol::ServerRole;

#[test]
fn two_server_processes_share_one_postgres() {
    let harness = TestServer::start(Backend::Postgres);
    let team = harness.add_team("T");
    for i in 0..4 {
        harness.add_user(&format!("w{i}"), ServerRole::Worker, Some(&team));
    }
    harness.add_user("sup", ServerRole::Supervisor, Some(&team));
    let a = spawn_server(&harness, "127.0.0.1:0");
    let b = spawn_server(&harness, "127.0.0.1:0");

    let writers: Vec<_> = (0..4)
        .map(|i| {
            let urls = [a.url.clone(), b.url.clone()];
            std::thread::spawn(move || {
                // Each worker signs in through one process and syncs through both (a load
                // balancer may send each request anywhere).
                let mut d = Device::login(&urls[i % 2], &format!("w{i}"));
                let m = d.add_member(i as u64);
                for n in 0..25 {
                    d.write_note(m, &format!("Visit {n} by worker {i}."));
                    let server = &urls[n % 2];
                    let creds = d.client.credentials().unwrap();
                    let client = fieldnote_client::Client::connect(server, &Default::default())
                        .unwrap()
                        .with_credentials(creds);
                    client.sync(&mut d.store, &mut |_| {}).unwrap();
                }
                m
            })
        })
        .collect();
    let code = harness.second_factor("sup");
    let mut sup = Device::login_with(&b.url, "sup", code.as_deref());
    let mut rounds = 0;
    while writers.iter().any(|w| !w.is_finished()) {
        sup.sync();
        rounds += 1;
    }
    let members: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    sup.sync();
    assert!(
        rounds > 1,
        "the supervisor synced while writers were writing"
    );
    for m in members {
        assert_eq!(sup.store.note_facts(m).unwrap().len(), 25, "member {m}");
    }
    // The audit chain written by both processes is one unbroken chain.
    let v = harness
        .db
        .tx(|tx| fieldnote_server::audit::verify(tx))
        .unwrap();
    assert_eq!(v.first_broken, None);
    assert!(v.entries > 100);
}
