//! Helpers shared by the core's integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use fieldnote_core::model::*;
use fieldnote_core::store::SyncApplied;
use fieldnote_core::synthetic;
use fieldnote_core::{Signer, Store, StoreKey};
use fieldnote_protocol::{Identity, Item, ItemKind, ServerRole, SignerKey, SyncResponse};
use rand::SeedableRng;
use rand::rngs::StdRng;

pub const KEY_HEX: &str = "4f1c2a9b7e3d5c6a8b0f1e2d3c4b5a69788796a5b4c3d2e1f001122334455667";

pub fn key() -> StoreKey {
    StoreKey::from_hex(KEY_HEX).unwrap()
}

/// A MassHealth ID no other member in this test process has (one member per ID on a device).
pub fn unique_masshealth_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(100_000_000_000);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        .to_string()
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
    /// A store a worker signed in on.
    pub fn new() -> Self {
        Self::signed_in_as(ServerRole::Worker)
    }

    /// A store a user in `role` signed in on (a device signs only as its user).
    pub fn signed_in_as(role: ServerRole) -> Self {
        Self::signed_in_with(role, key())
    }

    /// A store with its own key (so its own signing key) a user in `role` signed in on.
    pub fn signed_in_with(role: ServerRole, key: StoreKey) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), key).unwrap();
        let (worker, team) = (new_id(), new_id());
        store
            .set_identity(&Identity {
                user_id: new_id().to_string(),
                staff_id: worker.to_string(),
                display_name: "Jordan Alvarez".into(),
                role,
                team_id: team.to_string(),
            })
            .unwrap();
        Fixture {
            dir,
            store,
            worker,
            team,
        }
    }

    /// A signer for this store's user in `role` (their own name and staff id).
    pub fn staff_signer(&self, role: Role) -> Signer {
        Signer::staff(self.worker, "Jordan Alvarez", role)
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
        let mut m = synthetic::member(&mut rng());
        m.masshealth_id = unique_masshealth_id();
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

/// Delivers `from`'s attestations of `ids` to `to` as the server would: in a sync response
/// that says whose device holds `from`'s key.
pub fn deliver_attestations(from: &Store, to: &mut Store, ids: &[RecordId]) -> SyncApplied {
    let staff_id = from.identity().unwrap().map(|i| i.staff_id);
    let items = ids
        .iter()
        .flat_map(|id| from.get(*id).unwrap().attestations)
        .map(|a| Item {
            record_id: a.record_id.to_string(),
            kind: ItemKind::Attestation,
            payload: serde_json::to_vec(&a).unwrap(),
        })
        .collect();
    let response = SyncResponse {
        items,
        signer_keys: vec![SignerKey {
            key: from.device_public_key(),
            staff_id,
            revoked_at: None,
        }],
        ..Default::default()
    };
    to.apply_sync(&response).unwrap()
}

pub fn fields(err: &fieldnote_core::Error) -> Vec<String> {
    match err {
        fieldnote_core::Error::Invalid { errors, .. } => {
            errors.iter().map(|e| e.field.clone()).collect()
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}
