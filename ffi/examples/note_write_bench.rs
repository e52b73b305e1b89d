//! The Rust side of the FFI overhead benchmark: the same `FieldnoteStore` calls the Kotlin
//! benchmark makes through the generated bindings, made directly from Rust. Run by
//! `scripts/ffi-bench`, which starts the server and compares the two.
//!
//! Usage: `note_write_bench <server-url> <store-dir> <notes>`; prints one `name=ns` line per
//! measurement.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use fieldnote_ffi::{
    FieldnoteStore, Modality, NewMember, NewNote, Program, ReferralSource, default_store_config,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, dir, notes] = args.as_slice() else {
        eprintln!("usage: note_write_bench <server-url> <store-dir> <notes>");
        std::process::exit(2);
    };
    let notes: usize = notes.parse().unwrap();
    let store = FieldnoteStore::new(dir.clone(), default_store_config()).unwrap();
    store.unlock(vec![7; 32], None).unwrap();
    block_on(store.clone().sign_in(
        url.clone(),
        "worker1.north".into(),
        "fieldnote-demo-password".into(),
        None,
        "rust-bench".into(),
    ))
    .unwrap();
    let member = store
        .add_member(NewMember {
            given_name: "Bench".into(),
            family_name: "Member".into(),
            date_of_birth: "1990-04-01".into(),
            masshealth_id: "100200300400".into(),
            primary_language: "English".into(),
            program: Program::Csp,
            referred_at_ms: None,
            referral_source: ReferralSource::HealthPlan,
            referral_reason: None,
            referral_facility: None,
        })
        .unwrap();
    let note = |i: usize| NewNote {
        member_id: member.clone(),
        program: Program::Csp,
        modality: Modality::InPerson,
        started_at_ms: 1_780_000_000_000 + i as i64 * 60_000,
        duration_minutes: 45,
        narrative: NARRATIVE.into(),
        telehealth_reason: None,
        member_engaged: true,
        purposes: Vec::new(),
        place: None,
        collateral: None,
        planned_activity: None,
        goal_targeted: None,
        member_response: None,
    };
    // Warm up the same way the Kotlin side does.
    let mut ids = Vec::new();
    for i in 0..notes / 10 {
        ids.push(store.draft_note(note(i)).unwrap());
    }
    for id in &ids {
        std::hint::black_box(store.note(id.clone()).unwrap());
    }
    let start = Instant::now();
    for i in 0..notes {
        ids.push(store.draft_note(note(i)).unwrap());
    }
    println!(
        "write_note_ns={}",
        start.elapsed().as_nanos() / notes as u128
    );
    let start = Instant::now();
    for id in ids.iter().skip(notes / 10) {
        std::hint::black_box(store.note(id.clone()).unwrap());
    }
    println!(
        "read_note_ns={}",
        start.elapsed().as_nanos() / notes as u128
    );
}

/// The narrative both sides write (about 600 bytes, a typical note).
const NARRATIVE: &str = "Met the member at the day shelter. Reviewed the housing application \
    checklist together; the member brought two of the three documents the housing authority \
    asked for and will request the birth certificate from the registry this week. Discussed \
    the upcoming court date and confirmed transportation with the probation officer. The \
    member reported sleeping better since the medication change and attending two recovery \
    meetings. Practiced the phone call to the landlord reference. Next steps: accompany the \
    member to the registry on Thursday, follow up with the housing search worker about the \
    voucher, and check in by phone on Monday.";

/// Drives one future to completion on this thread (the FFI's async calls need no runtime:
/// they finish on a thread of their own).
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
