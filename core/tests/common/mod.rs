//! Helpers shared by the core's integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use fieldnote_core::model::*;
use fieldnote_core::synthetic;
use fieldnote_core::{Signer, Store, StoreKey};
use rand::SeedableRng;
use rand::rngs::StdRng;

pub const KEY_HEX: &str = "4f1c2a9b7e3d5c6a8b0f1e2d3c4b5a69788796a5b4c3d2e1f001122334455667";

pub fn key() -> StoreKey {
    StoreKey::from_hex(KEY_HEX).unwrap()
}

pub fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub worker: StaffId,
    pub team: RecordId,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), key()).unwrap();
        Fixture {
            dir,
            store,
            worker: new_id(),
            team: new_id(),
        }
    }

    pub fn reopen(self) -> Self {
        let Fixture {
            dir,
            store,
            worker,
            team,
        } = self;
        store.lock();
        let store = Store::open(dir.path(), key()).unwrap();
        Fixture {
            dir,
            store,
            worker,
            team,
        }
    }

    pub fn member(&mut self, program: Program) -> RecordId {
        let m = synthetic::member(&mut rng());
        let id = self.store.create(RecordBody::Member(m)).unwrap();
        let e = synthetic::enrollment(id, program, self.worker, self.team, Timestamp::now());
        self.store.create(RecordBody::Enrollment(e)).unwrap();
        id
    }

    pub fn plan(&mut self, member: RecordId, program: Program) -> RecordId {
        let plan = synthetic::service_plan(member, program, self.worker);
        self.store.create(RecordBody::Plan(plan)).unwrap()
    }

    pub fn note(&self, member: RecordId, program: Program, narrative: &str) -> ContactNote {
        let mut n = synthetic::note(
            &mut rng(),
            member,
            program,
            self.worker,
            Timestamp::now(),
            5,
        );
        n.narrative = narrative.to_string();
        n
    }

    pub fn worker_signer(&self) -> Signer {
        Signer {
            staff_id: Some(self.worker),
            name: "Worker Ambervale".into(),
            role: Role::Worker,
            witness: None,
        }
    }
}

pub fn fields(err: &fieldnote_core::Error) -> Vec<String> {
    match err {
        fieldnote_core::Error::Invalid { errors, .. } => {
            errors.iter().map(|e| e.field.clone()).collect()
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}
