//! The commands that talk to a server: sign in, sync, status, rejected drafts, sign out.
//! (Safety commands are in `safety`.)
//! Device credentials live in `<store>.device` (readable only by its owner) beside the store;
//! a phone keeps them in its keystore instead.

use std::fs;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use fieldnote_client::{Client, DeviceCredentials, TlsOptions};
use fieldnote_core::{Error, Store};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::files::write_private;
use crate::{CliError, io_err, output, print_json};

/// What the CLI keeps about its server.
#[derive(Serialize, Deserialize)]
struct Saved {
    credentials: DeviceCredentials,
    ca_pem: Option<String>,
}

fn saved_path(store_dir: &Path) -> PathBuf {
    let mut p = store_dir.to_path_buf().into_os_string();
    p.push(".device");
    PathBuf::from(p)
}

fn load_saved(store_dir: &Path) -> Result<Saved, CliError> {
    let path = saved_path(store_dir);
    let bytes = fs::read(&path).map_err(|_| {
        fieldnote_client::Error::Unauthenticated(
            "this store is not signed in; run `fieldnote login` first".into(),
        )
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| CliError::Core(Error::Storage(format!("{}: {e}", path.display()))))
}

fn tls(ca_pem: &Option<String>) -> TlsOptions {
    TlsOptions {
        ca_pem: ca_pem.as_ref().map(|s| s.clone().into_bytes()),
    }
}

/// The password: `FIELDNOTE_PASSWORD`; else, when standard input is a terminal, typed
/// without echo (`rpassword` reads the terminal with echo off); else the first line of
/// standard input (a pipe, for scripts).
fn read_password() -> Result<String, CliError> {
    if let Ok(p) = std::env::var("FIELDNOTE_PASSWORD") {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("password: ")
            .map_err(|e| CliError::Core(Error::Storage(format!("reading the password: {e}"))));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Core(Error::Storage(format!("reading the password: {e}"))))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// `fieldnote login`.
pub fn login(
    store_dir: &Path,
    store: &mut Store,
    server: &str,
    user: &str,
    ca_file: Option<PathBuf>,
    code: Option<&str>,
    device_name: &str,
) -> Result<(), CliError> {
    let ca_pem = ca_file
        .map(|p| fs::read_to_string(&p).map_err(io_err(&p)))
        .transpose()?;
    let client = Client::connect(server, &tls(&ca_pem))?;
    let password = read_password()?;
    let credentials = client.login(server, store, user, &password, code, device_name)?;
    let saved = Saved {
        credentials,
        ca_pem,
    };
    let bytes = serde_json::to_vec(&saved).map_err(|e| Error::Storage(e.to_string()))?;
    write_private(&saved_path(store_dir), &bytes)?;
    let who = store
        .identity()?
        .map(|i| i.display_name)
        .unwrap_or_default();
    if output::json() {
        print_json(&serde_json::json!({"signed_in_as": who, "device_registered": true}));
    } else {
        out!("signed in as {who}; device registered");
    }
    Ok(())
}

/// A client of the server this store is signed in to.
pub fn signed_in_client(store_dir: &Path) -> Result<Client, CliError> {
    let saved = load_saved(store_dir)?;
    Ok(
        Client::connect(&saved.credentials.server, &tls(&saved.ca_pem))?
            .with_credentials(saved.credentials),
    )
}

/// `fieldnote sync`.
pub fn sync(store_dir: &Path, mut store: Store, json: bool) -> Result<(), CliError> {
    let client = signed_in_client(store_dir)?;
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    if json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let report = client.sync(&mut store, &mut |p| {
        bar.set_message(format!(
            "round {}: sent {}, received {}, refused {}, {} waiting",
            p.rounds, p.sent, p.received, p.rejected, p.pending
        ));
        bar.tick();
    })?;
    bar.finish_and_clear();
    if report.wipe_required {
        store.wipe()?;
        let _ = fs::remove_file(saved_path(store_dir));
        let said = "this device was revoked by the agency; its store was wiped";
        if json {
            print_json(&serde_json::json!({"wiped": true, "message": said}));
        } else {
            out!("{said}");
        }
        return Ok(());
    }
    if json {
        print_json(&report);
    } else {
        let p = &report.progress;
        out!(
            "synced in {} rounds: sent {}, received {}, refused {} (see `fieldnote rejected`), removed {} records of members no longer on the caseload",
            p.rounds,
            p.sent,
            p.received,
            p.rejected,
            report.purged
        );
        if report.refused_signatures > 0 {
            out!(
                "warning: {} signatures received were not signed by a key the server registered to their signer; they were not stored",
                report.refused_signatures
            );
        }
    }
    Ok(())
}

/// `fieldnote status`.
pub fn status(store: &Store, json: bool) -> Result<(), CliError> {
    let status = store.sync_status()?;
    let identity = store.identity()?;
    let safety_waiting = store.safety().pending_len()?;
    if json {
        print_json(&serde_json::json!({
            "identity": identity, "sync": status, "safety_waiting": safety_waiting,
            "repairs": store.open_report().notices(),
        }));
        return Ok(());
    }
    match identity {
        Some(i) => out!("signed in as {} ({})", i.display_name, i.role.as_str()),
        None => out!("not signed in"),
    }
    out!(
        "{} waiting to be sent, {} refused, last sync {}",
        status.pending,
        status.rejected,
        output::when_or_never(status.last_synced_at)
    );
    if safety_waiting > 0 {
        out!(
            "{safety_waiting} alarm or visit messages waiting to be sent (sent first at the next connection)"
        );
    }
    Ok(())
}

/// `fieldnote rejected`.
pub fn rejected(store: &Store, json: bool) -> Result<(), CliError> {
    let drafts = store.rejected_drafts()?;
    if json {
        print_json(&drafts);
        return Ok(());
    }
    out!("{} rejected drafts", drafts.len());
    for d in drafts {
        out!(
            "  #{} {} {} at {}: {}",
            d.id,
            d.record_id,
            d.entry_kind,
            output::when(d.rejected_at),
            d.reason
        );
    }
    Ok(())
}

/// `fieldnote logout`.
pub fn logout(store_dir: &Path) -> Result<(), CliError> {
    let saved = load_saved(store_dir)?;
    let client = Client::connect(&saved.credentials.server, &tls(&saved.ca_pem))?
        .with_credentials(saved.credentials);
    client.logout()?;
    let _ = fs::remove_file(saved_path(store_dir));
    if output::json() {
        print_json(&serde_json::json!({"signed_out": true}));
    } else {
        out!("signed out; this device's credential is revoked");
    }
    Ok(())
}
