//! A stolen phone exposes nothing: no file the store writes holds marker PHI in plain text,
//! base64 or hex, while the store is open (WAL present) or after it is locked.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use common::*;
use fieldnote_core::model::*;
use std::path::Path;

const MARKERS: &[&str] = &[
    "Quazzelbrook",
    "ZQ9988776655",
    "marker narrative about the Xyloquent clinic",
];

fn forms(marker: &str) -> Vec<Vec<u8>> {
    let mut out = vec![
        marker.as_bytes().to_vec(),
        hex::encode(marker).into_bytes(),
        hex::encode_upper(marker).into_bytes(),
    ];
    for skip in 0..3 {
        // base64 of the marker at each alignment; drop the edge characters that depend on
        // neighbouring bytes.
        let enc = base64::engine::general_purpose::STANDARD.encode(&marker.as_bytes()[skip..]);
        out.push(enc.as_bytes()[..enc.len().saturating_sub(4)].to_vec());
    }
    out.push(
        marker
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect(),
    );
    out
}

fn leaks(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap();
        for m in MARKERS {
            for form in forms(m) {
                if bytes.windows(form.len()).any(|w| w == form.as_slice()) {
                    found.push(format!("{} holds a form of {m:?}", entry.display()));
                }
            }
        }
    }
    found
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn the_scanner_finds_markers_it_is_meant_to_find() {
    let dir = tempfile::tempdir().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("xx{}", MARKERS[0]));
    std::fs::write(dir.path().join("a"), b64).unwrap();
    std::fs::write(dir.path().join("b"), hex::encode(MARKERS[1])).unwrap();
    assert_eq!(leaks(dir.path()).len(), 2);
}

#[test]
fn no_file_the_store_wrote_holds_phi() {
    let mut f = Fixture::new();
    let mut member = fieldnote_core::synthetic::member(&mut rng());
    member.family_name = MARKERS[0].into();
    member.masshealth_id = MARKERS[1].into();
    let m = f.store.create(RecordBody::Member(member)).unwrap();
    let e =
        fieldnote_core::synthetic::enrollment(m, Program::Csp, f.worker, f.team, Timestamp::now());
    f.store.create(RecordBody::Enrollment(e)).unwrap();
    for i in 0..40 {
        let id = f
            .store
            .create(RecordBody::ContactNote(f.note(
                m,
                Program::Csp,
                &format!("{} {i}", MARKERS[2]),
            )))
            .unwrap();
        f.store.finalize_note(id, f.worker_signer()).unwrap();
    }
    let mut plan = fieldnote_core::synthetic::service_plan(m, Program::Csp, f.worker);
    plan.summary = MARKERS[2].into();
    f.store.create(RecordBody::Plan(plan)).unwrap();
    assert_eq!(f.store.search("Xyloquent", 50).unwrap().len(), 40);
    let dir = f.dir.path().to_path_buf();
    assert!(
        dir.join("fieldnote.db-wal").exists(),
        "the WAL is scanned too"
    );
    assert_eq!(leaks(&dir), Vec::<String>::new());
    let f = f.reopen();
    f.store.search("Xyloquent", 5).unwrap();
    drop(f.store);
    assert_eq!(leaks(&dir), Vec::<String>::new());
}
