//! The attestation harness: one fuzz input as the payload of an uploaded signature or
//! finalization event, read the way the server reads one (JSON into an [`Attestation`], then
//! its content address verified). `fuzz/fixtures/attestation/` holds inputs;
//! `core/tests/fuzz_fixtures.rs` compiles this file to replay them.

use fieldnote_core::Attestation;

/// Reads one fuzz input as an uploaded attestation; the event if it is well-formed and
/// unaltered, otherwise why not.
pub fn run(data: &[u8]) -> Result<Attestation, String> {
    let att: Attestation = serde_json::from_slice(data)
        .map_err(|e| format!("the signature event could not be read: {e}"))?;
    if !att.verify() {
        return Err("the signature event was altered".into());
    }
    Ok(att)
}
