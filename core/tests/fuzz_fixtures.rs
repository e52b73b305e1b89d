//! The document and attestation fuzz targets' kept inputs, replayed as ordinary tests through
//! the targets' own harnesses (`fuzz/src/document.rs` and `fuzz/src/attestation.rs`,
//! compiled here). Every file under `fuzz/fixtures/document_load/` and
//! `fuzz/fixtures/attestation/` (crashes a fuzzer found, and hostile inputs made by hand)
//! must be refused without a panic; every seed under `fuzz/seeds/` for those targets (real
//! records and events) must be accepted, which shows the harnesses reach past the first
//! check. The ignored `write_seeds_and_fixtures` regenerates the seeds and the hand-made
//! fixtures (`hand-*`) from synthetic data:
//! `cargo test -p fieldnote-core --test fuzz_fixtures -- --ignored`.
#![allow(clippy::unwrap_used)]

#[path = "../../fuzz/src/attestation.rs"]
mod attestation;
#[path = "../../fuzz/src/document.rs"]
mod document;
#[path = "../../fuzz/src/kept.rs"]
mod kept;

use std::panic::{AssertUnwindSafe, catch_unwind};

use fieldnote_core::document::{Document, MAX_INFLATED_BYTES};
use fieldnote_core::model::*;
use fieldnote_core::{Attestation, AttestationKind, Signer, synthetic};
use kept::{files, fuzz_dir};
use rand::SeedableRng;
use rand::rngs::StdRng;
use sha2::Digest;

/// Runs `run` on every file of `fuzz/<kind>/<target>/`, collecting the names of those whose
/// outcome is not `expect_ok` (a panic counts as neither).
fn replay<T, E: std::fmt::Debug>(
    kind: &str,
    target: &str,
    expect_ok: bool,
    run: fn(&[u8]) -> Result<T, E>,
) {
    let inputs = files(&fuzz_dir().join(kind).join(target));
    assert!(!inputs.is_empty(), "no {kind} for {target}");
    let mut wrong = Vec::new();
    for (name, bytes) in &inputs {
        match catch_unwind(AssertUnwindSafe(|| run(bytes))) {
            Err(_) => wrong.push(format!("{name}: panicked")),
            Ok(Ok(_)) if !expect_ok => wrong.push(format!("{name}: accepted")),
            Ok(Err(e)) if expect_ok => wrong.push(format!("{name}: refused: {e:?}")),
            Ok(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{target} {kind}: {wrong:#?}");
}

#[test]
fn document_fixtures_are_refused_without_a_panic() {
    replay("fixtures", "document_load", false, document::run);
}

#[test]
fn document_seeds_are_accepted() {
    replay("seeds", "document_load", true, document::run);
}

#[test]
fn attestation_fixtures_are_refused_without_a_panic() {
    replay("fixtures", "attestation", false, attestation::run);
}

#[test]
fn attestation_seeds_are_accepted() {
    replay("seeds", "attestation", true, attestation::run);
}

// ---- Generating the seeds and the hand-made fixtures -------------------------------------

fn write(kind: &str, target: &str, name: &str, bytes: &[u8]) {
    let dir = fuzz_dir().join(kind).join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn uleb(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn sleb(v: i64, out: &mut Vec<u8>) {
    let mut v = v;
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0) {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A chunk of `data` with a valid header and checksum, as automerge writes one.
fn chunk(chunk_type: u8, data: &[u8]) -> Vec<u8> {
    let mut typed = vec![chunk_type];
    uleb(data.len() as u64, &mut typed);
    let hash = sha2::Sha256::new()
        .chain_update(&typed)
        .chain_update(data)
        .finalize();
    let mut out = document::MAGIC.to_vec();
    out.extend_from_slice(&hash[..4]);
    out.extend_from_slice(&typed);
    out.extend_from_slice(data);
    out
}

/// The body of a change by a made-up actor whose operations are `columns`.
fn change_body(columns: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut d = Vec::new();
    uleb(0, &mut d); // no dependencies
    uleb(16, &mut d);
    d.extend_from_slice(&[7; 16]); // actor
    uleb(1, &mut d); // seq
    uleb(1, &mut d); // start op
    sleb(0, &mut d); // time
    uleb(0, &mut d); // no message
    uleb(0, &mut d); // no other actors
    uleb(columns.len() as u64, &mut d);
    for (spec, data) in columns {
        uleb(*spec, &mut d);
        uleb(data.len() as u64, &mut d);
    }
    for (_, data) in columns {
        d.extend_from_slice(data);
    }
    d
}

/// The operation columns of `n` identical map assignments (`root.a = null`), each column one
/// run: a few dozen bytes however large `n` is.
fn repeated_ops(n: u64, preds_each: u64) -> Vec<(u64, Vec<u8>)> {
    let nulls = |n: u64| {
        let mut v = Vec::new();
        sleb(0, &mut v);
        uleb(n, &mut v);
        v
    };
    let run = |n: u64, value: u64| {
        let mut v = Vec::new();
        sleb(n as i64, &mut v);
        uleb(value, &mut v);
        v
    };
    let mut key = Vec::new();
    sleb(n as i64, &mut key);
    uleb(1, &mut key);
    key.push(b'a');
    let mut insert = Vec::new();
    uleb(n, &mut insert);
    vec![
        (0x11, nulls(n)),              // key actor
        (0x13, nulls(n)),              // key counter
        (0x15, key),                   // key string
        (0x34, insert),                // insert: all false
        (0x42, run(n, 1)),             // action: set
        (0x56, run(n, 0)),             // value: null
        (0x70, run(n, preds_each)),    // predecessors per operation
        (0x71, nulls(n * preds_each)), // predecessor actors
        (0x73, nulls(n * preds_each)), // predecessor counters
    ]
}

fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Deterministic noise.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn flip(mut bytes: Vec<u8>, at: usize) -> Vec<u8> {
    bytes[at] ^= 0x5a;
    bytes
}

#[test]
#[ignore = "writes fuzz/seeds and fuzz/fixtures; run by hand when the formats change"]
fn write_seeds_and_fixtures() {
    let mut rng = StdRng::seed_from_u64(11);
    let worker = RecordId::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001);
    let team = RecordId::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0002);
    let at = Timestamp::from_millis(1_764_100_000_000);
    let actor = b"fuzz-seed-device";

    // A member, created and then edited: its whole history as stored.
    let member_id = RecordId::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0010);
    let mut member = synthetic::member(&mut rng);
    let mut doc = Document::create(member_id, actor, &RecordBody::Member(member.clone())).unwrap();
    member.location = Some("Day program on Main Street".into());
    let member_change = doc.update(&RecordBody::Member(member.clone())).unwrap();
    let member_history = doc.save_uncompressed();
    write(
        "seeds",
        "document_load",
        "member-history",
        &document::join(0, &[&member_history]),
    );

    // A contact note: its first save stored, then a change applied as an upload.
    let note_id = RecordId::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0020);
    let mut note = synthetic::note(&mut rng, member_id, Program::Csp, worker, at, 60);
    let mut doc = Document::create(note_id, actor, &RecordBody::ContactNote(note.clone())).unwrap();
    let first = doc.save_uncompressed();
    note.duration_minutes += 15;
    let note_change = doc.update(&RecordBody::ContactNote(note.clone())).unwrap();
    write(
        "seeds",
        "document_load",
        "note-stored-then-change",
        &document::join(document::FLAG_APPLY_LAST, &[&first, &note_change]),
    );
    let note_snapshot = doc.save();
    write(
        "seeds",
        "document_load",
        "note-snapshot",
        &document::join(0, &[&note_snapshot]),
    );

    // A plan whose co-edited summary changed twice.
    let plan_id = RecordId::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0030);
    let mut plan = synthetic::service_plan(member_id, Program::Csp, worker);
    let mut doc = Document::create(plan_id, actor, &RecordBody::Plan(plan.clone())).unwrap();
    plan.summary = "Housing first; then benefits.".into();
    doc.update(&RecordBody::Plan(plan.clone())).unwrap();
    plan.summary = "Housing first; then benefits and a clinic visit.".into();
    doc.update(&RecordBody::Plan(plan.clone())).unwrap();
    let plan_history = doc.save_uncompressed();
    write(
        "seeds",
        "document_load",
        "plan-history",
        &document::join(0, &[&plan_history]),
    );

    // Attestations of the note and the plan, as uploaded.
    let body = RecordBody::ContactNote(note.clone());
    let finalize = Attestation::new(
        note_id,
        AttestationKind::Finalize,
        Signer::staff(worker, "Worker One", Role::Worker),
        at,
        &body,
    );
    let finalize_json = serde_json::to_vec(&finalize).unwrap();
    write("seeds", "attestation", "finalize", &finalize_json);
    let plan_body = RecordBody::Plan(plan.clone());
    let witnessed = Attestation::new(
        plan_id,
        AttestationKind::Sign,
        Signer::witnessed("Member Signer", Role::Member, worker),
        at,
        &plan_body,
    );
    write(
        "seeds",
        "attestation",
        "sign-witnessed",
        &serde_json::to_vec(&witnessed).unwrap(),
    );
    let returned = Attestation::review(
        plan_id,
        false,
        Signer::staff(team, "Supervisor One", Role::Supervisor),
        at,
        &plan_body,
        Some("Add a target date to the second goal.".into()),
    );
    write(
        "seeds",
        "attestation",
        "review-returned",
        &serde_json::to_vec(&returned).unwrap(),
    );

    // Hand-made hostile documents. Each is refused; none may panic or run away.
    let fx = |name: &str, bytes: &[u8]| write("fixtures", "document_load", name, bytes);
    fx("hand-random-bytes", &noise(1, 600));
    fx("hand-flags-only", &[0]);
    fx("hand-magic-only", &document::join(0, &[&document::MAGIC]));
    let mut checksum = member_history.clone();
    checksum[5] ^= 0xff;
    let keep = document::FLAG_KEEP_CHECKSUMS;
    fx(
        "hand-change-bad-checksum",
        &document::join(keep, &[&checksum]),
    );
    let mut checksum = note_snapshot.clone();
    checksum[4] ^= 0xff;
    fx(
        "hand-snapshot-bad-checksum",
        &document::join(keep, &[&checksum]),
    );
    let middle = note_snapshot.len() / 2;
    fx(
        "hand-snapshot-flipped-byte",
        &document::join(keep, &[&flip(note_snapshot.clone(), middle)]),
    );
    fx(
        "hand-snapshot-truncated",
        &document::join(0, &[&note_snapshot[..middle]]),
    );
    fx(
        "hand-change-truncated",
        &document::join(0, &[&member_change[..member_change.len() - 3]]),
    );
    // A header declaring a chunk of 2^62 bytes.
    let mut huge = document::MAGIC.to_vec();
    huge.extend_from_slice(&[0, 0, 0, 0, 1]);
    uleb(1 << 62, &mut huge);
    huge.extend_from_slice(&noise(2, 40));
    fx("hand-huge-chunk-length", &document::join(0, &[&huge]));
    // Unknown chunk type.
    fx(
        "hand-unknown-chunk-type",
        &document::join(0, &[&chunk(9, &noise(3, 40))]),
    );
    // A bundle, which Fieldnote never writes.
    fx(
        "hand-bundle-chunk",
        &document::join(0, &[&chunk(3, &noise(4, 40))]),
    );
    // A change of a billion operations in about eighty bytes, with a valid checksum.
    let billion = chunk(1, &change_body(&repeated_ops(1_000_000_000, 0)));
    fx("hand-change-billion-ops", &document::join(0, &[&billion]));
    // The same, applied to a stored record as an upload.
    fx(
        "hand-upload-billion-ops",
        &document::join(document::FLAG_APPLY_LAST, &[&member_history, &billion]),
    );
    // A thousand operations claiming a million predecessors each.
    let preds = chunk(1, &change_body(&repeated_ops(1_000, 1_000_000)));
    fx("hand-change-huge-pred-count", &document::join(0, &[&preds]));
    // A compressed change that inflates past the budget (a deflate bomb).
    let bomb = deflate(&vec![0; MAX_INFLATED_BYTES + 1024]);
    fx(
        "hand-compressed-change-bomb",
        &document::join(0, &[&chunk(2, &bomb)]),
    );
    // A compressed change that does not inflate.
    fx(
        "hand-compressed-change-garbage",
        &document::join(0, &[&chunk(2, &noise(5, 200))]),
    );
    // A valid automerge document that is not a record.
    let mut other = automerge::AutoCommit::new();
    automerge::transaction::Transactable::put(&mut other, automerge::ROOT, "hello", "world")
        .unwrap();
    fx("hand-not-a-record", &document::join(0, &[&other.save()]));
    // A record whose fields do not validate.
    let mut bad = member.clone();
    bad.masshealth_id = "??".into();
    let mut doc = Document::create(member_id, actor, &RecordBody::Member(bad)).unwrap();
    fx(
        "hand-invalid-member",
        &document::join(0, &[&doc.save_uncompressed()]),
    );
    // A change whose history is missing, uploaded alone.
    fx(
        "hand-change-missing-history",
        &document::join(document::FLAG_APPLY_LAST, &[&member_change]),
    );

    // Hand-made hostile attestations.
    let fx = |name: &str, bytes: &[u8]| write("fixtures", "attestation", name, bytes);
    fx("hand-random-bytes", &noise(6, 300));
    let mut altered = finalize.clone();
    altered.signer.name = "Someone Else".into();
    fx(
        "hand-altered-signer",
        &serde_json::to_vec(&altered).unwrap(),
    );
    fx("hand-truncated", &finalize_json[..finalize_json.len() / 2]);
    fx(
        "hand-deep-nesting",
        format!("{{\"x\":{}", "[".repeat(5_000)).as_bytes(),
    );
    let wrong = String::from_utf8(finalize_json.clone())
        .unwrap()
        .replace("\"finalize\"", "17");
    fx("hand-wrong-type", wrong.as_bytes());
    fx("hand-empty", b"");
}
