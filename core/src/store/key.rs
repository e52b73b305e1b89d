//! The store key and the key-check file.
//!
//! The host (Android Keystore, iOS Keychain, the CLI's key file) supplies a random 256-bit
//! key; SQLCipher uses it raw, with no passphrase derivation. SQLCipher reports a wrong key
//! and a damaged file alike ("file is not a database"), so a small file beside the database
//! holds an HMAC of a fixed label under the key: it tells the two apart and reveals nothing
//! about the key.

use std::fs;
use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

const KEYCHECK_LABEL: &[u8] = b"fieldnote/keycheck/v1";

/// The on-disk format of a store: SQLCipher 4 defaults but for 2,048-byte pages. It is written
/// on the first line of the key-check file, so that a store in another format is refused
/// with a clear error instead of being taken for a damaged file.
pub(crate) const STORE_FORMAT: &str = "fieldnote-store-format 1 (sqlcipher 4, page 2048)";

/// What the key-check file says about a key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyCheck {
    /// No key-check file: a new store (or one whose file was lost).
    Missing,
    /// The key opens this store.
    Matches,
    /// The key does not open this store.
    Mismatch,
    /// The store was written in another format.
    OtherFormat(String),
}

/// A 256-bit store key. Its bytes are wiped from memory when it is dropped.
#[derive(Clone)]
pub struct StoreKey(Zeroizing<[u8; 32]>);

impl StoreKey {
    /// Wraps 32 key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        StoreKey(Zeroizing::new(bytes))
    }

    /// Parses 64 hex characters.
    pub fn from_hex(hex_key: &str) -> Result<Self> {
        let hex_key = hex_key.trim();
        if hex_key.len() != 64 {
            return Err(Error::BadKey {
                reason: format!("got {} characters", hex_key.len()),
            });
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(hex_key, bytes.as_mut()).map_err(|_| Error::BadKey {
            reason: "not hexadecimal".into(),
        })?;
        Ok(StoreKey(bytes))
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(bytes.as_mut());
        StoreKey(bytes)
    }

    /// The key as 64 hex characters (for the host to keep in its secure storage).
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_ref()))
    }

    /// The key's bytes (for a host that derives other secrets from it).
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The statement that gives SQLCipher this key as a raw key.
    pub fn pragma(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("PRAGMA key = \"x'{}'\";", self.to_hex().as_str()))
    }

    fn check_value(&self) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref())
            .expect("HMAC accepts keys of any length");
        mac.update(KEYCHECK_LABEL);
        hex::encode(mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

/// What the key-check file at `path` says about `key`.
pub(crate) fn keycheck(path: &Path, key: &StoreKey) -> Result<KeyCheck> {
    match fs::read_to_string(path) {
        Ok(s) => {
            let mut lines = s.lines();
            let format = lines.next().unwrap_or_default();
            if format != STORE_FORMAT {
                return Ok(KeyCheck::OtherFormat(format.to_string()));
            }
            let mac = lines.next().unwrap_or_default();
            Ok(if mac.trim() == key.check_value() {
                KeyCheck::Matches
            } else {
                KeyCheck::Mismatch
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeyCheck::Missing),
        Err(e) => Err(Error::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Records `key`'s check value at `path`, durably (write, sync, rename).
pub(crate) fn write_keycheck(path: &Path, key: &StoreKey) -> Result<()> {
    let io = |e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(io)?;
    f.write_all(format!("{STORE_FORMAT}\n{}\n", key.check_value()).as_bytes())
        .map_err(io)?;
    f.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}
