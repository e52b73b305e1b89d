//! Fuzzes the body of `POST /v1/sync` and `POST /v1/safety` as the server reads it: the
//! transport's gzip and body limit, then CBOR or JSON into a `SyncRequest` or
//! `SafetyRequest` with the protocol's checks (`fieldnote_fuzz::request` says how an input
//! maps to a request). Any outcome but a panic, a hang or runaway memory is fine.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fieldnote_fuzz::request::run(data);
});
