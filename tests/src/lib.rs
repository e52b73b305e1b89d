//! Shared pieces of Fieldnote's end-to-end harnesses: the child process the kill -9 test
//! runs, the emulated network link the benchmarks run over, throwaway PostgreSQL databases
//! ([`pg`]), and the shipped binaries run as processes ([`process`]). The tests themselves
//! live in `tests/tests/`.

/// The line prefix the crash writer prints once a note is durably saved.
pub const ACK: &str = "ACK";
/// The environment variable that carries the store key (hex) to the crash writer.
pub const KEY_ENV: &str = "FIELDNOTE_TEST_KEY";

pub mod link;
pub mod pg;
pub mod process;
