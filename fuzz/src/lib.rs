//! Harnesses of Fieldnote's fuzz targets: how one fuzz input becomes a call into the code
//! the server runs on what devices send. Each target under `fuzz_targets/` is one line over
//! one of these modules, and the crates' `tests/fuzz_fixtures.rs` compile the same module
//! files to replay every kept input under `fixtures/` as an ordinary test, so a fixture
//! means the same thing to the fuzzer and to `cargo test`.

pub mod attestation;
pub mod document;
pub mod request;
