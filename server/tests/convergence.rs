//! Convergence under faults: several devices (a worker's two phones and their supervisor's)
//! make random offline edits and sync in random orders while the network drops requests,
//! loses responses, duplicates and replays old requests. Afterwards every replica, and a
//! fresh device that downloads the server's state, holds the same documents and the same
//! SQL projections, and nothing is left unacknowledged.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::VecDeque;
use std::sync::Mutex;

use common::{Backend, TestServer};
use fieldnote_client::{Client, HttpTransport, TlsOptions, Transport};
use fieldnote_core::model::*;
use fieldnote_core::{Signer, Store, StoreKey, synthetic};
use fieldnote_protocol::{ServerRole, routes};
use proptest::prelude::*;
use rand::SeedableRng;

#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    DropRequest,
    DropResponse,
    Duplicate,
    ReplayOld,
}

/// A transport that misbehaves on sync requests as scripted.
struct Faulty {
    inner: HttpTransport,
    next: Mutex<VecDeque<Fault>>,
    sent: Mutex<Vec<Vec<u8>>>,
}

impl Transport for Faulty {
    fn send(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: Option<&[u8]>,
    ) -> fieldnote_client::Result<Vec<u8>> {
        if path != routes::SYNC {
            return self.inner.send(path, bearer, body);
        }
        let fault = self.next.lock().unwrap().pop_front().unwrap_or(Fault::None);
        let b = body.unwrap_or_default();
        let old = {
            let mut sent = self.sent.lock().unwrap();
            sent.push(b.to_vec());
            sent.first().cloned()
        };
        let lost = || Err(fieldnote_client::Error::Network("connection cut".into()));
        match fault {
            Fault::None => self.inner.send(path, bearer, body),
            Fault::DropRequest => lost(),
            Fault::DropResponse => {
                let _ = self.inner.send(path, bearer, body);
                lost()
            }
            Fault::Duplicate => {
                let _ = self.inner.send(path, bearer, body);
                self.inner.send(path, bearer, body)
            }
            Fault::ReplayOld => {
                if let Some(old) = old {
                    let _ = self.inner.send(path, bearer, Some(&old));
                }
                self.inner.send(path, bearer, body)
            }
        }
    }
}

struct Replica {
    store: Store,
    client: Client<Faulty>,
    staff: StaffId,
    _dir: tempfile::TempDir,
}

fn replica(server: &TestServer, user: &str) -> Replica {
    let url = server.url.as_str();
    let code = server.second_factor(user);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), StoreKey::generate()).unwrap();
    let client = Client::with_transport(Faulty {
        inner: HttpTransport::new(url, &TlsOptions::default()).unwrap(),
        next: Mutex::new(VecDeque::new()),
        sent: Mutex::new(Vec::new()),
    });
    client
        .login(
            url,
            &mut store,
            user,
            common::PASSWORD,
            code.as_deref(),
            "replica",
        )
        .unwrap();
    let staff = StaffId::parse_str(&store.identity().unwrap().unwrap().staff_id).unwrap();
    Replica {
        store,
        client,
        staff,
        _dir: dir,
    }
}

#[derive(Clone, Debug)]
enum Op {
    Note {
        device: usize,
    },
    Edit {
        device: usize,
        pick: usize,
        minutes: u32,
    },
    Finalize {
        device: usize,
        pick: usize,
    },
    Sync {
        device: usize,
        fault: Fault,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let fault = prop_oneof![
        3 => Just(Fault::None),
        1 => Just(Fault::DropRequest),
        1 => Just(Fault::DropResponse),
        1 => Just(Fault::Duplicate),
        1 => Just(Fault::ReplayOld),
    ];
    prop_oneof![
        3 => (0..3usize).prop_map(|device| Op::Note { device }),
        3 => (0..3usize, any::<usize>(), 1..120u32)
            .prop_map(|(device, pick, minutes)| Op::Edit { device, pick, minutes }),
        1 => (0..2usize, any::<usize>()).prop_map(|(device, pick)| Op::Finalize { device, pick }),
        4 => (0..3usize, fault).prop_map(|(device, fault)| Op::Sync { device, fault }),
    ]
}

/// Everything a replica shows, documents and projections.
fn snapshot(store: &Store) -> String {
    let mut out = Vec::new();
    for entry in store.caseload().unwrap() {
        out.push(format!("{:?}", entry.member_id));
        for t in store.timeline(entry.member_id).unwrap() {
            let r = store.get(t.record_id).unwrap();
            let mut atts: Vec<String> = r.attestations.iter().map(|a| a.id.clone()).collect();
            atts.sort();
            out.push(format!("{t:?} {:?} {atts:?}", r.body));
        }
        out.push(format!("{:?}", store.note_facts(entry.member_id).unwrap()));
    }
    out.push(format!("{:?}", store.search("visit", 100).unwrap().len()));
    out.join("\n")
}

fn run(ops: Vec<Op>, backend: Backend) {
    let server = TestServer::start(backend);
    let team = server.add_team("T");
    server.add_user("w", ServerRole::Worker, Some(&team));
    server.add_user("s", ServerRole::Supervisor, Some(&team));
    let mut devices = [
        replica(&server, "w"),
        replica(&server, "w"),
        replica(&server, "s"),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let member = devices[0]
        .store
        .create(RecordBody::Member(synthetic::member(&mut rng)))
        .unwrap();
    let team_id = devices[0].store.identity().unwrap().unwrap().team_id;
    let enrollment = synthetic::enrollment(
        member,
        Program::Csp,
        devices[0].staff,
        fieldnote_core::model::RecordId::parse_str(&team_id).unwrap_or_default(),
        Timestamp::now(),
    );
    devices[0]
        .store
        .create(RecordBody::Enrollment(enrollment))
        .unwrap();
    for d in devices.iter_mut() {
        d.client.sync(&mut d.store, &mut |_| {}).unwrap();
    }
    for op in ops {
        match op {
            Op::Note { device } => {
                let d = &mut devices[device];
                let note = synthetic::note(
                    &mut rng,
                    member,
                    Program::Csp,
                    d.staff,
                    Timestamp::now(),
                    12,
                );
                d.store.create(RecordBody::ContactNote(note)).unwrap();
            }
            Op::Edit {
                device,
                pick,
                minutes,
            } => {
                let d = &mut devices[device];
                let notes = d.store.note_facts(member).unwrap();
                let open: Vec<_> = notes.iter().filter(|n| !n.finalized).collect();
                if let Some(n) = (!open.is_empty()).then(|| open[pick % open.len()]) {
                    d.store
                        .update(n.id, |b| {
                            if let RecordBody::ContactNote(c) = b {
                                c.duration_minutes = minutes;
                                c.narrative.push_str(" Follow-up visit planned.");
                            }
                        })
                        .unwrap();
                }
            }
            Op::Finalize { device, pick } => {
                let d = &mut devices[device];
                let staff = d.staff;
                let mine: Vec<_> = d
                    .store
                    .note_facts(member)
                    .unwrap()
                    .into_iter()
                    .filter(|n| !n.finalized)
                    .filter(|n| {
                        matches!(d.store.get(n.id).unwrap().body,
                            RecordBody::ContactNote(ref c) if c.author == staff)
                    })
                    .collect();
                if !mine.is_empty() {
                    let id = mine[pick % mine.len()].id;
                    d.store
                        .finalize_note(id, Signer::staff(staff, "w", Role::Worker))
                        .unwrap();
                }
            }
            Op::Sync { device, fault } => {
                let d = &mut devices[device];
                d.client.transport().next.lock().unwrap().push_back(fault);
                // A cut sync fails; the next one resumes.
                let _ = d.client.sync(&mut d.store, &mut |_| {});
            }
        }
    }
    // Heal: everyone syncs until nothing moves.
    for _ in 0..3 {
        for d in devices.iter_mut() {
            d.client.sync(&mut d.store, &mut |_| {}).unwrap();
        }
    }
    let fresh = replica(&server, "s");
    let mut fresh = fresh;
    fresh.client.sync(&mut fresh.store, &mut |_| {}).unwrap();
    let expected = snapshot(&fresh.store);
    for (i, d) in devices.iter().enumerate() {
        assert_eq!(
            d.store.outbox_len().unwrap(),
            0,
            "device {i} has unacknowledged work"
        );
        assert_eq!(
            snapshot(&d.store),
            expected,
            "device {i} diverged from the server"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, max_shrink_iters: 20, .. ProptestConfig::default() })]

    #[test]
    fn replicas_converge_under_faults_sqlite(ops in prop::collection::vec(op(), 1..40)) {
        run(ops, Backend::Sqlite);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, max_shrink_iters: 10, .. ProptestConfig::default() })]

    #[test]
    fn replicas_converge_under_faults_postgres(ops in prop::collection::vec(op(), 1..40)) {
        run(ops, Backend::Postgres);
    }
}
