//! A stolen phone exposes nothing, through the shells' door: after the FFI object has
//! written a member, a note, an app PIN (`unlock-gate.json`), safety PINs, a visit with its
//! place and locations, check-ins and an alarm with a location, no file in the store's
//! directory holds any of it in plain text, hex, base64 or UTF-16: not the records, not
//! `safety.db` and its log, not the unlock gate, not the reserve for distress.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use base64::Engine;
use fieldnote_ffi::{
    DistressKind, FieldnoteStore, GeoPoint, Modality, NewMember, NewNote, Program, ReferralSource,
    default_store_config,
};

const MARKERS: &[&str] = &[
    "Quazzelbrook",
    "ZQ9988776655",
    "marker narrative about the Xyloquent clinic",
    "Vorpenhallow Street shelter",
    // The app PIN and the two safety PINs.
    "48291375",
    "73619284",
    "19283746",
    // The visit's and the alarm's coordinates as text.
    "42.3617283",
    "-71.0581277",
];

const LATITUDE: f64 = 42.3617283;
const LONGITUDE: f64 = -71.0581277;

fn forms(marker: &str) -> Vec<Vec<u8>> {
    let mut out = vec![
        marker.as_bytes().to_vec(),
        hex::encode(marker).into_bytes(),
        hex::encode_upper(marker).into_bytes(),
        marker
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect(),
    ];
    for skip in 0..3 {
        let enc = base64::engine::general_purpose::STANDARD.encode(&marker.as_bytes()[skip..]);
        out.push(enc.as_bytes()[..enc.len().saturating_sub(4)].to_vec());
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn leaks(dir: &Path) -> Vec<String> {
    let mut patterns: Vec<(String, Vec<u8>)> = MARKERS
        .iter()
        .flat_map(|m| forms(m).into_iter().map(move |f| (m.to_string(), f)))
        .collect();
    // The coordinates as the eight bytes of a double, either order.
    for v in [LATITUDE, LONGITUDE] {
        patterns.push((format!("{v} (f64 LE)"), v.to_le_bytes().to_vec()));
        patterns.push((format!("{v} (f64 BE)"), v.to_be_bytes().to_vec()));
    }
    let mut found = Vec::new();
    for file in walk(dir) {
        let bytes = std::fs::read(&file).unwrap();
        for (name, form) in &patterns {
            if bytes.windows(form.len()).any(|w| w == form.as_slice()) {
                found.push(format!("{} holds a form of {name:?}", file.display()));
            }
        }
    }
    found
}

fn here() -> Option<GeoPoint> {
    Some(GeoPoint {
        latitude: LATITUDE,
        longitude: LONGITUDE,
        accuracy_m: Some(12.0),
    })
}

#[test]
fn the_scanner_finds_what_it_looks_for() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), LATITUDE.to_le_bytes()).unwrap();
    std::fs::write(dir.path().join("b"), hex::encode(MARKERS[3])).unwrap();
    std::fs::write(
        dir.path().join("c"),
        format!("{{\"pin\":\"{}\"}}", MARKERS[4]),
    )
    .unwrap();
    assert_eq!(leaks(dir.path()).len(), 3, "{:?}", leaks(dir.path()));
}

#[test]
fn no_file_the_ffi_writes_holds_phi_pins_or_places() {
    let dir = tempfile::tempdir().unwrap();
    {
        // The identity a sign-in leaves (the shell signs in against a server).
        let mut core =
            fieldnote_core::Store::open(dir.path(), fieldnote_core::StoreKey::from_bytes([9; 32]))
                .unwrap();
        core.set_identity(&fieldnote_protocol::Identity {
            user_id: "worker.scan".into(),
            staff_id: "00000000-0000-4000-8000-000000000041".into(),
            display_name: "W. Scanner".into(),
            role: fieldnote_protocol::ServerRole::Worker,
            team_id: "00000000-0000-4000-8000-000000000042".into(),
        })
        .unwrap();
    }
    let store = FieldnoteStore::new(
        dir.path().to_string_lossy().into_owned(),
        default_store_config(),
    )
    .unwrap();
    store.unlock(vec![9; 32], None).unwrap();
    store.set_unlock_pin(Some(MARKERS[4].into())).unwrap();
    let member = store
        .add_member(NewMember {
            given_name: "Arlo".into(),
            family_name: MARKERS[0].into(),
            date_of_birth: "1990-02-03".into(),
            masshealth_id: MARKERS[1].into(),
            primary_language: "English".into(),
            program: Program::Csp,
            referred_at_ms: None,
            referral_source: ReferralSource::SelfReferral,
            referral_reason: None,
            referral_facility: None,
        })
        .unwrap();
    for i in 0..10 {
        store
            .draft_note(NewNote {
                member_id: member.clone(),
                program: Program::Csp,
                modality: Modality::InPerson,
                started_at_ms: fieldnote_core::Timestamp::now().millis() - 3_600_000,
                duration_minutes: 30,
                narrative: format!("{} {i}", MARKERS[2]),
                telehealth_reason: None,
                member_engaged: true,
                purposes: vec![fieldnote_core::model::ContactPurpose::DischargePlanning],
                place: None,
                collateral: None,
                planned_activity: None,
                goal_targeted: None,
                member_response: None,
            })
            .unwrap();
    }
    store
        .set_safety_pins(MARKERS[5].into(), MARKERS[6].into())
        .unwrap();
    store
        .start_visit(
            Some(member.clone()),
            MARKERS[3].into(),
            fieldnote_core::Timestamp::now().millis() + 3_600_000,
            here(),
        )
        .unwrap();
    store.check_in(here()).unwrap();
    store.raise_alarm(DistressKind::Panic, here()).unwrap();
    assert_eq!(store.search("Xyloquent".into(), 50).unwrap().len(), 10);

    let gate = dir.path().join("unlock-gate.json");
    assert!(gate.exists(), "the unlock gate is scanned");
    assert!(
        dir.path().join("safety.db-wal").exists(),
        "the safety database's log is scanned"
    );
    assert_eq!(leaks(dir.path()), Vec::<String>::new(), "while unlocked");
    store.lock();
    assert_eq!(leaks(dir.path()), Vec::<String>::new(), "once locked");
    drop(store);
    assert_eq!(leaks(dir.path()), Vec::<String>::new(), "once closed");
}
