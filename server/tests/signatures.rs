//! Signatures prove who signed, on both databases: the server refuses a finalization that is
//! unsigned, forged, signed with a key that is not the uploading device's (a signature taken
//! from another device before it synced), moved to another record, or sent by a device that
//! registered no key; a revoked device uploads nothing. What the server sends names whose
//! key signed it, so a supervisor's co-signature reaches the worker's device checked.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use fieldnote_core::model::{RecordBody, Role};
use fieldnote_core::signing::DeviceKey;
use fieldnote_core::{Attestation, Signer};
use fieldnote_protocol::{ItemKind, ServerRole};

fn reason(ack: &serde_json::Value) -> String {
    assert_eq!(ack["outcome"], "rejected", "{ack}");
    ack["reason"].as_str().unwrap().to_string()
}

fn upload(server: &TestServer, device: &Device, att: &Attestation) -> serde_json::Value {
    upload_one(
        server,
        &device.access_token(),
        &att.record_id.to_string(),
        ItemKind::Attestation,
        serde_json::to_vec(att).unwrap(),
    )
}

fn refusals(backend: Backend) {
    let server = TestServer::start(backend);
    let team = server.add_team("North");
    server.add_user("w1.north", ServerRole::Worker, Some(&team));
    server.add_user("sup.north", ServerRole::Supervisor, Some(&team));
    let mut phone = server.device("w1.north");
    let other_phone = server.device("w1.north");
    let m = phone.add_member(1);
    let note = phone.write_note(m, "Met at the library to plan the week.");
    let other_note = phone.write_note(m, "Second visit.");
    phone.sync();
    let mut other_phone = other_phone;
    other_phone.sync();
    let signed = phone
        .store
        .finalize_note(
            note,
            Signer::staff(phone.staff_id, "w1 north", Role::Worker),
        )
        .unwrap();
    assert!(signed.key.is_some() && signed.signature.is_some());

    // Unsigned.
    let mut unsigned = signed.clone();
    unsigned.key = None;
    unsigned.signature = None;
    assert!(reason(&upload(&server, &phone, &unsigned)).contains("not signed"));
    // Forged: the signature altered.
    let mut forged = signed.clone();
    let mut sig = forged.signature.clone().unwrap().into_bytes();
    sig[0] = if sig[0] == b'0' { b'1' } else { b'0' };
    forged.signature = Some(String::from_utf8(sig).unwrap());
    assert!(reason(&upload(&server, &phone, &forged)).contains("does not match"));
    // Signed with a key that is valid but not this device's.
    let mut wrong_key = signed.clone();
    DeviceKey::derive(b"some other device", b"label").sign(&mut wrong_key);
    assert!(reason(&upload(&server, &phone, &wrong_key)).contains("not this device's"));
    // Taken from the first phone before it synced, and sent by the user's other phone.
    assert!(reason(&upload(&server, &other_phone, &signed)).contains("not this device's"));
    // Moved to another record: the id changes, so the signature no longer matches.
    let mut moved = signed.clone();
    moved.record_id = other_note;
    let moved = Attestation {
        id: Attestation::new(
            other_note,
            moved.kind,
            moved.signer.clone(),
            moved.signed_at,
            &phone.store.get(other_note).unwrap().body,
        )
        .id,
        content_hash: fieldnote_core::attest::content_hash(
            &phone.store.get(other_note).unwrap().body,
        ),
        ..moved
    };
    assert!(reason(&upload(&server, &phone, &moved)).contains("does not match"));
    // None of these finalized the note on the server.
    let finalized = server
        .db
        .tx(|tx| {
            Ok(tx.query_one(
                "SELECT count(*) FROM attestations WHERE record_id = $1",
                fieldnote_server::params![note.to_string()],
            )?[0]
                .int())
        })
        .unwrap();
    assert_eq!(finalized, 0);

    // The real one, from the device that made it, is accepted; the other phone receives it
    // with its signer's key named, and stores it.
    let report = phone.sync();
    assert_eq!(report.progress.rejected, 0);
    other_phone.sync();
    let received = other_phone.store.get(note).unwrap();
    assert_eq!(received.attestations, vec![signed.clone()]);
    assert!(received.is_finalized());
    // Sending it again is harmless (a device that lost its outbox re-queues what it holds).
    assert_eq!(
        upload(&server, &other_phone, &signed)["outcome"],
        "accepted"
    );

    // A device that registered no key (signed in without one) syncs records but signs
    // nothing.
    let (status, login) = raw_post(
        &server.url,
        "/v1/auth/login",
        None,
        &serde_json::json!({"username": "w1.north", "password": PASSWORD,
            "device_name": "old app"})
        .to_string(),
    );
    assert_eq!(status, 200, "{login}");
    let keyless = login["access_token"].as_str().unwrap();
    let third = phone.write_note(m, "Third visit.");
    phone.sync();
    let mut att = phone
        .store
        .finalize_note(
            third,
            Signer::staff(phone.staff_id, "w1 north", Role::Worker),
        )
        .unwrap();
    att.signature = None;
    let ack = upload_one(
        &server,
        keyless,
        &third.to_string(),
        ItemKind::Attestation,
        serde_json::to_vec(&att).unwrap(),
    );
    assert!(reason(&ack).contains("registered no signing key"), "{ack}");
    // A key that is not an Ed25519 key is refused at sign-in, naming the field.
    let (status, bad) = raw_post(
        &server.url,
        "/v1/auth/login",
        None,
        &serde_json::json!({"username": "w1.north", "password": PASSWORD,
            "device_name": "bad key", "device_key": "zz"})
        .to_string(),
    );
    assert_eq!(status, 422, "{bad}");
    assert_eq!(bad["field"], "device_key", "{bad}");

    // A revoked device uploads nothing at all.
    let creds = phone.client.credentials().unwrap();
    let token = phone.access_token();
    let (status, _) = raw_post(
        &server.url,
        &format!("/v1/devices/{}/revoke", creds.device_id),
        Some(&token),
        "{}",
    );
    assert!(status == 200 || status == 204, "{status}");
    let (status, body) = raw_post(
        &server.url,
        "/v1/sync",
        Some(&token),
        &serde_json::json!({"protocol": fieldnote_protocol::PROTOCOL_VERSION,
            "cursor": {"feed": 0, "grant": 0}, "upload": []})
        .to_string(),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "device_revoked", "{body}");
}

#[test]
fn sqlite_forged_replayed_wrong_key_unsigned_and_revoked_signatures_are_refused() {
    refusals(Backend::Sqlite);
}

#[test]
fn postgres_forged_replayed_wrong_key_unsigned_and_revoked_signatures_are_refused() {
    refusals(Backend::Postgres);
}

/// Whatever the server sends a device says whose key signed it: a co-signature made on the
/// supervisor's phone counts on the worker's.
fn keys_travel_with_signatures(backend: Backend) {
    let server = TestServer::start(backend);
    let team = server.add_team("North");
    server.add_user("w1.north", ServerRole::Worker, Some(&team));
    server.add_user("sup.north", ServerRole::Supervisor, Some(&team));
    let mut phone = server.device("w1.north");
    let mut sup = server.device("sup.north");
    let m = phone.add_member(2);
    let plan = phone
        .store
        .create(RecordBody::Plan({
            let mut p = fieldnote_core::synthetic::service_plan(
                m,
                fieldnote_core::model::Program::Csp,
                phone.staff_id,
            );
            p.status = fieldnote_core::model::PlanStatus::Completed;
            p
        }))
        .unwrap();
    phone
        .store
        .sign_plan(
            plan,
            Signer::staff(phone.staff_id, "w1 north", Role::Worker),
        )
        .unwrap();
    phone.sync();
    sup.sync();
    // The supervisor may not co-sign in the worker's name, even offline.
    assert!(
        sup.store
            .sign_plan(
                plan,
                Signer::staff(phone.staff_id, "w1 north", Role::Supervisor)
            )
            .is_err()
    );
    let cosign = sup
        .store
        .sign_plan(
            plan,
            Signer::staff(sup.staff_id, "sup north", Role::Supervisor),
        )
        .unwrap();
    sup.sync();
    let report = phone.sync();
    assert_eq!(report.refused_signatures, 0);
    let on_phone = phone.store.get(plan).unwrap();
    assert!(on_phone.attestations.contains(&cosign));
    let sigs = phone.store.plan_signatures(plan).unwrap();
    assert!(
        sigs.roles
            .iter()
            .any(|(role, s)| *role == Role::Supervisor && s.current_since().is_some()),
        "{sigs:?}"
    );
}

#[test]
fn sqlite_keys_travel_with_signatures() {
    keys_travel_with_signatures(Backend::Sqlite);
}

#[test]
fn postgres_keys_travel_with_signatures() {
    keys_travel_with_signatures(Backend::Postgres);
}

/// A device key speaks for one user. The same store signing out and in again keeps its key,
/// and what it signs afterwards is taken by the others (the key is reported with its live
/// registration, not the revoked one); another user's sign-in cannot claim it.
fn one_key_one_user_across_sign_ins(backend: Backend) {
    let server = TestServer::start(backend);
    let team = server.add_team("North");
    server.add_user("w1.north", ServerRole::Worker, Some(&team));
    server.add_user("w2.north", ServerRole::Worker, Some(&team));
    server.add_user("sup.north", ServerRole::Supervisor, Some(&team));
    let mut phone = server.device("w1.north");
    let mut sup = server.device("sup.north");
    let m = phone.add_member(3);
    let note = phone.write_note(m, "Before signing out.");
    phone.sync();
    phone.client.logout().unwrap();
    phone
        .client
        .login(
            &server.url,
            &mut phone.store,
            "w1.north",
            PASSWORD,
            None,
            "same phone",
        )
        .unwrap();
    let signed = phone
        .store
        .finalize_note(
            note,
            Signer::staff(phone.staff_id, "w1 north", Role::Worker),
        )
        .unwrap();
    assert_eq!(phone.sync().progress.rejected, 0);
    let report = sup.sync();
    assert_eq!(
        report.refused_signatures, 0,
        "signed after signing in again"
    );
    assert!(sup.store.get(note).unwrap().attestations.contains(&signed));

    let (status, body) = raw_post(
        &server.url,
        "/v1/auth/login",
        None,
        &serde_json::json!({"username": "w2.north", "password": PASSWORD,
            "device_name": "claims a key", "device_key": phone.store.device_public_key()})
        .to_string(),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "device_key", "{body}");
}

#[test]
fn sqlite_one_key_one_user_across_sign_ins() {
    one_key_one_user_across_sign_ins(Backend::Sqlite);
}

#[test]
fn postgres_one_key_one_user_across_sign_ins() {
    one_key_one_user_across_sign_ins(Backend::Postgres);
}
