//! The request fuzz target's kept inputs, replayed as ordinary tests through the target's own
//! harness (`fuzz/src/request.rs`, compiled here): every file under
//! `fuzz/fixtures/sync_request/` (crashes the fuzzer found, and hostile inputs made by hand)
//! must be refused without a panic, and every seed under `fuzz/seeds/sync_request/` (real
//! messages) accepted, which shows the harness reaches the decoder. The ignored
//! `write_seeds_and_fixtures` regenerates the seeds and the hand-made fixtures (`hand-*`);
//! the seeds' payloads are the document and attestation seeds, which
//! `core/tests/fuzz_fixtures.rs` writes, so run that one first:
//! `cargo test -p fieldnote-protocol --test fuzz_fixtures -- --ignored`.
#![allow(clippy::unwrap_used)]

#[path = "../../fuzz/src/kept.rs"]
mod kept;
#[allow(dead_code)]
#[path = "../../fuzz/src/request.rs"]
mod request;

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

use fieldnote_protocol::safety::{
    AlarmKind, Location, MAX_SAFETY_ITEMS, RaiseAlarm, SafetyItem, SafetyRequest, SessionAction,
    SessionEvent,
};
use fieldnote_protocol::{
    Cursor, Item, ItemKind, MAX_REQUEST_BYTES, MAX_UPLOAD_ITEMS, SyncRequest, Upload, to_cbor,
};
use kept::{files, fuzz_dir};
use request::{Input, Refusal};

#[test]
fn request_fixtures_are_refused_without_a_panic() {
    let inputs = files(&fuzz_dir().join("fixtures/sync_request"));
    assert!(!inputs.is_empty(), "no fixtures");
    let mut wrong = Vec::new();
    for (name, bytes) in &inputs {
        match catch_unwind(AssertUnwindSafe(|| request::run(bytes))) {
            Err(_) => wrong.push(format!("{name}: panicked")),
            Ok(Ok(m)) => wrong.push(format!("{name}: accepted as {m:?}")),
            Ok(Err(_)) => {}
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn request_seeds_are_accepted() {
    let inputs = files(&fuzz_dir().join("seeds/sync_request"));
    assert!(!inputs.is_empty(), "no seeds");
    for (name, bytes) in &inputs {
        assert!(request::run(bytes).is_ok(), "{name}: refused");
    }
}

/// The hand-made fixtures that show each limit are refused for that limit.
#[test]
fn limits_are_the_reasons() {
    let dir = fuzz_dir().join("fixtures/sync_request");
    let refusal = |name: &str| request::run(&std::fs::read(dir.join(name)).unwrap()).unwrap_err();
    assert!(matches!(refusal("hand-gzip-bomb"), Refusal::TooLarge));
    assert!(matches!(
        refusal("hand-gzip-truncated"),
        Refusal::Unreadable(_)
    ));
    let text = |r: Refusal| match r {
        Refusal::Decode(e) => e.to_string(),
        other => format!("{other:?}"),
    };
    assert_eq!(
        text(refusal("hand-too-many-uploads")),
        "upload: at most 5000 items per request"
    );
    assert_eq!(
        text(refusal("hand-safety-too-many-items")),
        "items: at most 200 per request"
    );
    assert!(text(refusal("hand-wrong-protocol-version")).contains("sync protocol 2"));
    for name in ["hand-cbor-deep-nesting", "hand-json-deep-nesting"] {
        assert!(
            text(refusal(name)).starts_with("the request body is not a valid message"),
            "{name}"
        );
    }
}

// ---- Generating the seeds and the hand-made fixtures -------------------------------------

fn write(kind: &str, name: &str, bytes: &[u8]) {
    let dir = fuzz_dir().join(kind).join("sync_request");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn input(cbor: bool, gzip: bool, safety: bool, body: &[u8]) -> Vec<u8> {
    Input {
        cbor,
        gzip,
        safety,
        body,
    }
    .to_bytes()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A CBOR head: major type and argument, in the shortest form unless `long`.
fn head(major: u8, n: u64, long: bool) -> Vec<u8> {
    let m = major << 5;
    match n {
        _ if long => [&[m | 27][..], &n.to_be_bytes()].concat(),
        0..=23 => vec![m | n as u8],
        24..=0xff => vec![m | 24, n as u8],
        0x100..=0xffff => [&[m | 25][..], &(n as u16).to_be_bytes()].concat(),
        0x1_0000..=0xffff_ffff => [&[m | 26][..], &(n as u32).to_be_bytes()].concat(),
        _ => [&[m | 27][..], &n.to_be_bytes()].concat(),
    }
}

fn text(s: &str) -> Vec<u8> {
    [head(3, s.len() as u64, false), s.as_bytes().to_vec()].concat()
}

/// A CBOR sync request, with `upload` as its (already encoded) upload array.
fn cbor_request(upload: &[u8]) -> Vec<u8> {
    [
        head(5, 3, false),
        text("protocol"),
        head(0, 1, false),
        text("cursor"),
        head(5, 2, false),
        text("feed"),
        head(0, 0, false),
        text("grant"),
        head(0, 0, false),
        text("upload"),
        upload.to_vec(),
    ]
    .concat()
}

/// One CBOR upload whose payload is `payload` (already encoded), with `extra` entries.
fn cbor_upload(payload: &[u8], extra: &[u8], extra_entries: u64) -> Vec<u8> {
    [
        head(5, 4 + extra_entries, false),
        text("entry"),
        head(0, 1, false),
        text("record_id"),
        text("0193aaaa-0000-7000-8000-000000000001"),
        text("kind"),
        text("change"),
        text("payload"),
        payload.to_vec(),
        extra.to_vec(),
    ]
    .concat()
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

fn seed_payload(target: &str, name: &str) -> Vec<u8> {
    let path = fuzz_dir().join("seeds").join(target).join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run core's write_seeds_and_fixtures first",
            path.display()
        )
    });
    // Document seeds start with the harness's flags byte.
    if target == "document_load" {
        bytes[1..].to_vec()
    } else {
        bytes
    }
}

fn upload(entry: i64, record: u128, kind: ItemKind, payload: Vec<u8>) -> Upload {
    Upload {
        entry,
        item: Item {
            record_id: uuid::Uuid::from_u128(record).to_string(),
            kind,
            payload,
        },
    }
}

fn alarm(n: u128) -> SafetyItem {
    SafetyItem::Alarm(RaiseAlarm {
        id: uuid::Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_1000 + n).to_string(),
        kind: AlarmKind::Panic,
        member_id: None,
        session_id: Some(
            uuid::Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_2000).to_string(),
        ),
        device_time: 1_764_099_999_000,
        location: Some(Location {
            latitude: 42.33,
            longitude: -71.08,
            accuracy_m: Some(12.0),
        }),
    })
}

fn session(n: u128, action: SessionAction) -> SafetyItem {
    SafetyItem::Session(SessionEvent {
        event_id: uuid::Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_3000 + n).to_string(),
        session_id: uuid::Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_2000).to_string(),
        action,
        device_time: 1_764_099_000_000,
        location: None,
    })
}

#[test]
#[ignore = "writes fuzz/seeds and fuzz/fixtures; run by hand when the formats change"]
fn write_seeds_and_fixtures() {
    // Seeds: messages as devices and tools send them.
    let sync = SyncRequest {
        protocol: 1,
        cursor: Cursor {
            feed: 1042,
            grant: 3,
        },
        upload: vec![
            upload(
                17,
                0x10,
                ItemKind::Change,
                seed_payload("document_load", "member-history"),
            ),
            upload(
                18,
                0x20,
                ItemKind::Change,
                seed_payload("document_load", "note-snapshot"),
            ),
            upload(
                19,
                0x20,
                ItemKind::Attestation,
                seed_payload("attestation", "finalize"),
            ),
        ],
    };
    let sync_cbor = to_cbor(&sync);
    write(
        "seeds",
        "sync-cbor-gzip",
        &input(true, true, false, &gzip(&sync_cbor)),
    );
    let one = SyncRequest {
        protocol: 1,
        cursor: Cursor::default(),
        upload: vec![upload(
            1,
            0x30,
            ItemKind::Change,
            seed_payload("document_load", "plan-history"),
        )],
    };
    write(
        "seeds",
        "sync-json",
        &input(false, false, false, &serde_json::to_vec(&one).unwrap()),
    );
    let first = SyncRequest {
        protocol: 1,
        cursor: Cursor::default(),
        upload: Vec::new(),
    };
    write(
        "seeds",
        "sync-cbor-first",
        &input(true, false, false, &to_cbor(&first)),
    );
    let safety = SafetyRequest {
        sent_at: 1_764_100_000_000,
        items: vec![
            alarm(1),
            session(
                1,
                SessionAction::Start {
                    member_id: Some(uuid::Uuid::from_u128(0x10).to_string()),
                    place: "home visit".into(),
                    expected_end: 1_764_102_700_000,
                },
            ),
        ],
    };
    write(
        "seeds",
        "safety-cbor-gzip",
        &input(true, true, true, &gzip(&to_cbor(&safety))),
    );
    let safety = SafetyRequest {
        sent_at: 1_764_100_000_000,
        items: vec![
            session(2, SessionAction::CheckIn),
            session(
                3,
                SessionAction::Extend {
                    until: 1_764_103_000_000,
                },
            ),
            session(4, SessionAction::CheckOut),
        ],
    };
    write(
        "seeds",
        "safety-json",
        &input(false, false, true, &serde_json::to_vec(&safety).unwrap()),
    );

    // Hand-made hostile bodies. Each is refused; none may panic or run away.
    let fx = |name: &str, bytes: &[u8]| write("fixtures", name, bytes);
    let gz = gzip(&sync_cbor);
    fx(
        "hand-gzip-truncated",
        &input(true, true, false, &gz[..gz.len() / 2]),
    );
    fx("hand-gzip-not-gzip", &input(true, true, false, &sync_cbor));
    // A few kilobytes that inflate past the body limit.
    let bomb = gzip(&vec![b' '; MAX_REQUEST_BYTES + 64 * 1024]);
    fx("hand-gzip-bomb", &input(false, true, false, &bomb));
    // A byte string declaring 2^63 bytes, and an array, a map and an upload list declaring
    // billions of items, none of them there.
    let huge_bytes = [head(2, 1 << 63, true), b"abc".to_vec()].concat();
    fx(
        "hand-cbor-huge-byte-string",
        &input(
            true,
            false,
            false,
            &cbor_request(&[head(4, 1, false), cbor_upload(&huge_bytes, &[], 0)].concat()),
        ),
    );
    fx(
        "hand-cbor-huge-array",
        &input(
            true,
            false,
            false,
            &cbor_request(&head(4, u64::from(u32::MAX), true)),
        ),
    );
    fx(
        "hand-cbor-huge-map",
        &input(true, false, false, &head(5, u64::MAX, true)),
    );
    let huge_text = [head(3, u64::MAX, true), b"r".to_vec()].concat();
    fx(
        "hand-cbor-huge-text",
        &input(
            true,
            false,
            true,
            &[
                head(5, 2, false),
                text("sent_at"),
                head(0, 1, false),
                text("items"),
                head(4, 1, false),
                head(5, 1, false),
                text("type"),
                huge_text,
            ]
            .concat(),
        ),
    );
    // Nesting far deeper than any message, at the top and inside an upload's unknown field
    // (which a flattened struct buffers whole).
    let deep_cbor = [vec![0x81; 2_000], vec![0x00]].concat();
    fx(
        "hand-cbor-deep-nesting",
        &input(true, false, false, &deep_cbor),
    );
    let extra = [text("x"), deep_cbor.clone()].concat();
    fx(
        "hand-cbor-deep-nesting-in-upload",
        &input(
            true,
            false,
            false,
            &cbor_request(
                &[
                    head(4, 1, false),
                    cbor_upload(&head(2, 0, false), &extra, 1),
                ]
                .concat(),
            ),
        ),
    );
    fx(
        "hand-cbor-many-tags",
        &input(
            true,
            false,
            false,
            &[vec![0xc6; 2_000], vec![0x01]].concat(),
        ),
    );
    // A payload of indefinite length whose end never comes.
    let unterminated = [
        vec![0x5f],
        [head(2, 3, false), b"abc".to_vec()].concat().repeat(50),
    ]
    .concat();
    fx(
        "hand-cbor-indefinite-unterminated",
        &input(
            true,
            false,
            false,
            &cbor_request(&[head(4, 1, false), cbor_upload(&unterminated, &[], 0)].concat()),
        ),
    );
    fx(
        "hand-json-deep-nesting",
        &input(false, false, false, "[".repeat(2_000).as_bytes()),
    );
    let deep_json = format!(
        r#"{{"protocol":1,"cursor":{{"feed":0,"grant":0}},"upload":[{{"entry":1,"record_id":"r","kind":"change","payload":"AA==","x":{}1{}}}]}}"#,
        "[".repeat(2_000),
        "]".repeat(2_000)
    );
    fx(
        "hand-json-deep-nesting-in-upload",
        &input(false, false, false, deep_json.as_bytes()),
    );
    fx(
        "hand-json-huge-number",
        &input(
            false,
            false,
            false,
            br#"{"protocol":1,"cursor":{"feed":1e400,"grant":0},"upload":[]}"#,
        ),
    );
    fx(
        "hand-json-bad-base64",
        &input(false, false, false, br#"{"protocol":1,"cursor":{"feed":0,"grant":0},"upload":[{"entry":1,"record_id":"r","kind":"change","payload":"!!"}]}"#),
    );
    // Well-formed, but more than a request may carry (gzip keeps them small).
    let many = SyncRequest {
        protocol: 1,
        cursor: Cursor::default(),
        upload: (0..=MAX_UPLOAD_ITEMS as i64)
            .map(|_| Upload {
                entry: 1,
                item: Item {
                    record_id: "r".into(),
                    kind: ItemKind::Change,
                    payload: vec![0],
                },
            })
            .collect(),
    };
    fx(
        "hand-too-many-uploads",
        &input(true, true, false, &gzip(&to_cbor(&many))),
    );
    let many = SafetyRequest {
        sent_at: 1,
        items: (0..=MAX_SAFETY_ITEMS as u128).map(alarm).collect(),
    };
    fx(
        "hand-safety-too-many-items",
        &input(true, true, true, &gzip(&to_cbor(&many))),
    );
    let other_version = SyncRequest {
        protocol: 2,
        ..first.clone()
    };
    fx(
        "hand-wrong-protocol-version",
        &input(true, false, false, &to_cbor(&other_version)),
    );
    fx(
        "hand-safety-body-on-sync",
        &input(true, false, false, &to_cbor(&safety)),
    );
    for (flags, name) in [(0u8, "json"), (1, "cbor"), (3, "gzip"), (5, "safety")] {
        let mut bytes = vec![flags];
        bytes.extend(noise(u64::from(flags) + 10, 400));
        fx(&format!("hand-random-{name}"), &bytes);
    }
}
