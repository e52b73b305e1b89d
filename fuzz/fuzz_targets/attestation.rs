//! Fuzzes reading an uploaded attestation (a signature or finalization event as JSON) and
//! verifying its content address, as the server does on ingest. Any outcome but a panic, a
//! hang or runaway memory is fine.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fieldnote_fuzz::attestation::run(data);
});
