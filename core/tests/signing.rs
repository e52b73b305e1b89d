//! A device stores a signature it receives only when a key the server registered to the
//! signer signed it: forged, unknown-key, wrong-user and revoked-device co-signatures never
//! count on the worker's phone. Offline, a device signs only as its own user.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use fieldnote_core::model::*;
use fieldnote_core::signing::{DeviceKey, check_signature};
use fieldnote_core::{Attestation, Error, Signer, Store, StoreKey};
use fieldnote_protocol::{Item, ItemKind, ServerRole, SignerKey, SyncResponse};

/// A worker's phone with a completed plan, and the supervisor's phone holding the same plan.
fn worker_and_supervisor() -> (Fixture, Fixture, RecordId) {
    let mut worker = Fixture::new();
    let m = worker.member(Program::Csp);
    let plan = worker.plan(m, Program::Csp);
    let mut sup = Fixture::signed_in_with(ServerRole::Supervisor, StoreKey::generate());
    sup.store
        .merge_remote(plan, &worker.store.document_bytes(plan).unwrap())
        .unwrap();
    (worker, sup, plan)
}

fn send(to: &mut Store, att: &Attestation, keys: Vec<SignerKey>) -> usize {
    let response = SyncResponse {
        items: vec![Item {
            record_id: att.record_id.to_string(),
            kind: ItemKind::Attestation,
            payload: serde_json::to_vec(att).unwrap(),
        }],
        signer_keys: keys,
        ..Default::default()
    };
    to.apply_sync(&response).unwrap().refused_signatures
}

fn holder(key: String, staff: Option<StaffId>, revoked_at: Option<i64>) -> SignerKey {
    SignerKey {
        key,
        staff_id: staff.map(|s| s.to_string()),
        revoked_at,
    }
}

fn supervisor_signed(worker: &Fixture, plan: RecordId) -> bool {
    worker
        .store
        .plan_signatures(plan)
        .unwrap()
        .roles
        .iter()
        .any(|(role, s)| *role == Role::Supervisor && s.current_since().is_some())
}

#[test]
fn a_cosignature_by_the_supervisors_registered_key_counts() {
    let (mut worker, mut sup, plan) = worker_and_supervisor();
    let att = sup
        .store
        .sign_plan(plan, sup.staff_signer(Role::Supervisor))
        .unwrap();
    assert!(check_signature(&att).is_ok());
    let key = sup.store.device_public_key();
    assert_eq!(
        send(
            &mut worker.store,
            &att,
            vec![holder(key, Some(sup.worker), None)]
        ),
        0
    );
    assert!(supervisor_signed(&worker, plan));
}

#[test]
fn a_forged_cosignature_is_refused() {
    let (mut worker, mut sup, plan) = worker_and_supervisor();
    let mut att = sup
        .store
        .sign_plan(plan, sup.staff_signer(Role::Supervisor))
        .unwrap();
    let key = sup.store.device_public_key();
    // The signature altered.
    let mut sig = att.signature.clone().unwrap().into_bytes();
    sig[10] = if sig[10] == b'a' { b'b' } else { b'a' };
    att.signature = Some(String::from_utf8(sig).unwrap());
    assert_eq!(
        send(
            &mut worker.store,
            &att,
            vec![holder(key.clone(), Some(sup.worker), None)]
        ),
        1
    );
    // Unsigned.
    att.signature = None;
    att.key = None;
    assert_eq!(
        send(
            &mut worker.store,
            &att,
            vec![holder(key, Some(sup.worker), None)]
        ),
        1
    );
    assert!(!supervisor_signed(&worker, plan));
    assert!(worker.store.get(plan).unwrap().attestations.is_empty());
}

#[test]
fn a_cosignature_by_a_key_the_server_did_not_register_to_the_signer_is_refused() {
    let (mut worker, mut sup, plan) = worker_and_supervisor();
    let att = sup
        .store
        .sign_plan(plan, sup.staff_signer(Role::Supervisor))
        .unwrap();
    let key = sup.store.device_public_key();
    // Nobody registered the key.
    assert_eq!(send(&mut worker.store, &att, vec![]), 1);
    // The key is registered, but to another user (the worker forging their supervisor).
    assert_eq!(
        send(
            &mut worker.store,
            &att,
            vec![holder(key.clone(), Some(worker.worker), None)]
        ),
        1
    );
    // A key the worker made up, signing in the supervisor's name.
    let mut forged = Attestation::new(
        plan,
        fieldnote_core::AttestationKind::Sign,
        Signer::staff(sup.worker, "Supervisor Dunmore", Role::Supervisor),
        Timestamp::now(),
        &worker.store.get(plan).unwrap().body,
    );
    let made_up = DeviceKey::derive(b"made up", b"label");
    made_up.sign(&mut forged);
    assert_eq!(send(&mut worker.store, &forged, vec![]), 1);
    assert!(!supervisor_signed(&worker, plan));
}

#[test]
fn a_cosignature_dated_after_its_device_was_revoked_is_refused() {
    let (mut worker, mut sup, plan) = worker_and_supervisor();
    let att = sup
        .store
        .sign_plan(plan, sup.staff_signer(Role::Supervisor))
        .unwrap();
    let key = sup.store.device_public_key();
    let signed = att.signed_at.millis();
    assert_eq!(
        send(
            &mut worker.store,
            &att,
            vec![holder(key.clone(), Some(sup.worker), Some(signed - 1))]
        ),
        1
    );
    assert!(!supervisor_signed(&worker, plan));
    // Signed before the revocation: it stands.
    assert_eq!(
        send(
            &mut worker.store,
            &att,
            vec![holder(key, Some(sup.worker), Some(signed + 60_000))]
        ),
        0
    );
    assert!(supervisor_signed(&worker, plan));
}

#[test]
fn the_servers_key_vouches_for_what_the_console_signed() {
    let (mut worker, sup, plan) = worker_and_supervisor();
    let server = DeviceKey::derive(b"the server's key", b"label");
    let mut att = Attestation::new(
        plan,
        fieldnote_core::AttestationKind::Sign,
        Signer::staff(sup.worker, "Supervisor Dunmore", Role::Supervisor),
        Timestamp::now(),
        &worker.store.get(plan).unwrap().body,
    );
    server.sign(&mut att);
    assert_eq!(
        send(
            &mut worker.store,
            &att,
            vec![holder(server.public_key(), None, None)]
        ),
        0
    );
    assert!(supervisor_signed(&worker, plan));
}

#[test]
fn offline_a_device_signs_only_as_its_own_user() {
    let (mut worker, _sup, plan) = worker_and_supervisor();
    // Not in another staff member's name, nor in a role the user does not hold.
    let someone = Signer::staff(new_id(), "Supervisor Dunmore", Role::Supervisor);
    assert!(matches!(
        worker.store.sign_plan(plan, someone),
        Err(Error::SignatureRefused { .. })
    ));
    assert!(matches!(
        worker
            .store
            .sign_plan(plan, worker.staff_signer(Role::Supervisor)),
        Err(Error::SignatureRefused { .. })
    ));
    assert!(!supervisor_signed(&worker, plan));

    // A device nobody signed in on signs nothing at all.
    let dir = tempfile::tempdir().unwrap();
    let mut blank = Store::open(dir.path(), StoreKey::generate()).unwrap();
    blank
        .merge_remote(plan, &worker.store.document_bytes(plan).unwrap())
        .unwrap();
    for role in [Role::Worker, Role::Supervisor] {
        let err = blank
            .sign_plan(plan, Signer::staff(new_id(), "Supervisor Dunmore", role))
            .unwrap_err();
        assert!(err.to_string().contains("sign in first"), "{err}");
    }
}
