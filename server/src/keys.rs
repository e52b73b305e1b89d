//! The server's two secrets, each kept outside the database it protects: the key that
//! encrypts the embedded database (SQLCipher, raw key) and the key that chains and signs the
//! audit log. A key is 32 random bytes written as 64 hexadecimal characters, in a file only
//! the server's user may read, or in an environment variable.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A 256-bit key, the same kind the device's store uses; its bytes are wiped from memory
/// when it is dropped.
pub use fieldnote_core::StoreKey as Key;

/// Parses 64 hexadecimal characters; `what` names the setting in the error.
pub fn parse(what: &str, text: &str) -> Result<Key> {
    Key::from_hex(text).map_err(|e| {
        Error::Config(format!(
            "{what}: a key is 64 hexadecimal characters (32 random bytes): {e}"
        ))
    })
}

/// Where a key comes from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A file holding the key; created (mode 0600) when the server makes a new key.
    File(PathBuf),
    /// The key itself (from an environment variable).
    Value(Key),
}

impl KeySource {
    /// The key, or `None` when its file does not exist yet. `what` names the setting.
    pub fn load(&self, what: &str) -> Result<Option<Key>> {
        match self {
            KeySource::Value(k) => Ok(Some(k.clone())),
            KeySource::File(path) => match fs::read_to_string(path) {
                Ok(text) => {
                    let text = Zeroizing::new(text);
                    parse(&format!("{what} ({})", path.display()), &text).map(Some)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::Config(format!(
                    "{what}: cannot read {}: {e}",
                    path.display()
                ))),
            },
        }
    }

    /// Makes a new key and writes it to the file, readable by the server's user only. Never
    /// overwrites a file; a key given as a value is returned as it is.
    pub fn create(&self, what: &str) -> Result<Key> {
        match self {
            KeySource::Value(k) => Ok(k.clone()),
            KeySource::File(path) => {
                let key = Key::generate();
                write_new(path, key.to_hex().as_bytes()).map_err(|e| {
                    Error::Config(format!("{what}: cannot create {}: {e}", path.display()))
                })?;
                Ok(key)
            }
        }
    }

    /// Where the key lives, for messages.
    pub fn describe(&self) -> String {
        match self {
            KeySource::File(p) => p.display().to_string(),
            KeySource::Value(_) => "the environment".into(),
        }
    }
}

/// Writes a new file durably (written, synced, then its directory synced), failing if it
/// exists.
fn write_new(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(contents)?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
