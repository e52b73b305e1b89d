//! Files the command-line device keeps beside its store (the key, the device credential):
//! written whole or not at all, and readable by their owner only, since each is as good as
//! the data it opens.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use fieldnote_core::Error;

use crate::io_err;

/// Writes `bytes` to `path` as a new version: a temporary file beside it (mode 0600) is
/// written and synced, then renamed over `path`, and the directory synced. A crash leaves
/// either the old file or the new one, never an empty or half-written one, and a file that
/// existed with a wider mode ends up 0600.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".writing");
    let tmp = PathBuf::from(tmp);
    let _ = fs::remove_file(&tmp);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io_err(path))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))?;
    }
    Ok(())
}

/// A warning when a secret file can be read by other users of the machine.
pub fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            eprintln!(
                "warning: {} can be read by other users (mode {:o}); run `chmod 600 {}`",
                path.display(),
                meta.permissions().mode() & 0o777,
                path.display()
            );
        }
    }
}
