//! Who made an attestation, provable offline.
//!
//! An attestation's id proves its content was not altered; it does not prove who made it.
//! Each device therefore has an Ed25519 signing key, registered with the server for the
//! signed-in user at sign-in, and signs the id of every finalization, signature and review it
//! makes. The key is derived from the store key (HMAC-SHA256 under a label of its own), which
//! the platform keystore holds through the shells' key provider: it is created on the device,
//! never leaves it, and is never written anywhere.
//!
//! The server accepts an attestation only when it is signed by the registered key of the
//! device uploading it, and the signer is that device's user (or, for a member's or
//! guardian's signature, the witnessing worker). Every device checks what it receives
//! against the server's record of who holds each key ([`check_signer`]), so a supervisor's
//! co-signature on a worker's phone is checked cryptographically. The server's own key
//! signs what a supervisor does in the console, where the server authenticated them.
//!
//! The signed message is `fieldnote/attestation-signature/v1\n` followed by the id.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use fieldnote_protocol::SignerKey;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::attest::Attestation;

const MESSAGE_DOMAIN: &[u8] = b"fieldnote/attestation-signature/v1\n";

/// A signing key (a device's, or the server's for the console).
pub struct DeviceKey(SigningKey);

impl DeviceKey {
    /// The key derived from `secret` (a store key, or the server's key) under `label`:
    /// the same secret and label always give the same key.
    pub fn derive(secret: &[u8], label: &[u8]) -> DeviceKey {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length");
        mac.update(label);
        let seed: [u8; 32] = mac.finalize().into_bytes().into();
        DeviceKey(SigningKey::from_bytes(&seed))
    }

    /// The public key, as 64 hexadecimal characters.
    pub fn public_key(&self) -> String {
        hex::encode(self.0.verifying_key().to_bytes())
    }

    /// Signs `att`: sets its key and its signature of the id.
    pub fn sign(&self, att: &mut Attestation) {
        let signature = self.0.sign(&message(&att.id));
        att.key = Some(self.public_key());
        att.signature = Some(hex::encode(signature.to_bytes()));
    }
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKey({})", self.public_key())
    }
}

fn message(id: &str) -> Vec<u8> {
    [MESSAGE_DOMAIN, id.as_bytes()].concat()
}

/// Parses a public key written as 64 hexadecimal characters.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes)
        .map_err(|_| "a public key is 64 hexadecimal characters".to_string())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not an Ed25519 public key".to_string())
}

/// Whether `att` carries a valid signature of its id by the key it names. Says nothing
/// about whose key that is ([`check_signer`] does).
pub fn check_signature(att: &Attestation) -> Result<(), String> {
    let (Some(key), Some(signature)) = (&att.key, &att.signature) else {
        return Err("the signature event is not signed by a device".into());
    };
    let key = parse_public_key(key)?;
    let mut bytes = [0u8; 64];
    hex::decode_to_slice(signature, &mut bytes)
        .map_err(|_| "the device signature is not 128 hexadecimal characters".to_string())?;
    key.verify_strict(&message(&att.id), &Signature::from_bytes(&bytes))
        .map_err(|_| "the device signature does not match the event".to_string())
}

/// Whether `att` is signed by a key the server registered to its signer: a valid signature
/// (see [`check_signature`]) by `holder`'s key, made before the key's device was revoked, by
/// the signer's own device (or, for a member's or guardian's signature, the witness's), or
/// by the server's key. `holder` is the server's entry for `att.key`, `None` when it has
/// none.
pub fn check_signer(att: &Attestation, holder: Option<&SignerKey>) -> Result<(), String> {
    check_signature(att)?;
    let Some(holder) = holder.filter(|h| Some(&h.key) == att.key.as_ref()) else {
        return Err("signed by a key the server has not registered".into());
    };
    if holder
        .revoked_at
        .is_some_and(|revoked| att.signed_at.millis() >= revoked)
    {
        return Err("signed by a device after it was revoked".into());
    }
    let Some(holder_staff) = &holder.staff_id else {
        return Ok(());
    };
    let who = if att.signer.role.is_witnessed() {
        att.signer.witness
    } else {
        att.signer.staff_id
    };
    if who.map(|s| s.to_string()).as_ref() != Some(holder_staff) {
        return Err("signed by another user's device".into());
    }
    Ok(())
}
