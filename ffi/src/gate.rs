//! The unlock gate: an optional app PIN whose failed attempts are counted in a file beside
//! the store, so a lockout survives the app being killed and restarted. The store key itself
//! comes from the platform keystore (the shells' key provider); the PIN only decides whether
//! this process may use it.
//!
//! The file (`unlock-gate.json`) holds an argon2 hash of the PIN, the count of failures
//! since the last success and the end of the current lockout. It is written to a temporary
//! file, synced and renamed, so a crash leaves the old or the new state, never a torn one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};

use crate::error::{FieldnoteError, Outcome};

const GATE_FILE: &str = "unlock-gate.json";

/// How the gate counts failures.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GatePolicy {
    /// Wrong PINs accepted before the first lockout.
    pub free_attempts: u32,
    /// The first lockout; each further failure doubles it.
    pub first_lockout_secs: u64,
    /// The longest lockout.
    pub max_lockout_secs: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct GateState {
    pin_hash: Option<String>,
    failures: u32,
    locked_until_ms: i64,
}

/// The gate of one store directory.
pub(crate) struct Gate {
    path: PathBuf,
    policy: GatePolicy,
}

fn storage(path: &Path, e: impl std::fmt::Display) -> FieldnoteError {
    FieldnoteError::Storage {
        reason: format!("{}: {e}", path.display()),
    }
}

impl Gate {
    pub(crate) fn new(dir: &Path, policy: GatePolicy) -> Gate {
        Gate {
            path: dir.join(GATE_FILE),
            policy,
        }
    }

    fn read(&self) -> Outcome<GateState> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| storage(&self.path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(GateState::default()),
            Err(e) => Err(storage(&self.path, e)),
        }
    }

    fn write(&self, state: &GateState) -> Outcome<()> {
        let tmp = self.path.with_extension("tmp");
        let bytes = serde_json::to_vec(state).map_err(|e| storage(&tmp, e))?;
        let mut f = fs::File::create(&tmp).map_err(|e| storage(&tmp, e))?;
        f.write_all(&bytes).map_err(|e| storage(&tmp, e))?;
        f.sync_all().map_err(|e| storage(&tmp, e))?;
        fs::rename(&tmp, &self.path).map_err(|e| storage(&self.path, e))
    }

    /// Whether a PIN is set.
    pub(crate) fn has_pin(&self) -> Outcome<bool> {
        Ok(self.read()?.pin_hash.is_some())
    }

    /// Sets (or with `None` removes) the PIN and clears the failure count.
    pub(crate) fn set_pin(&self, pin: Option<&str>) -> Outcome<()> {
        let pin_hash = match pin {
            Some(pin) => {
                if !(4..=12).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(FieldnoteError::invalid("pin", "must be 4 to 12 digits"));
                }
                let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
                    .map_err(|e| storage(&self.path, e))?;
                Some(
                    Argon2::default()
                        .hash_password(pin.as_bytes(), &salt)
                        .map_err(|e| storage(&self.path, e))?
                        .to_string(),
                )
            }
            None => None,
        };
        self.write(&GateState {
            pin_hash,
            failures: 0,
            locked_until_ms: 0,
        })
    }

    /// Checks `pin` at `now_ms`. A lockout in force refuses every attempt without looking at
    /// the PIN; a wrong PIN is counted (durably) before the answer is given.
    pub(crate) fn check(&self, pin: Option<&str>, now_ms: i64) -> Outcome<()> {
        let mut state = self.read()?;
        let Some(hash) = state.pin_hash.clone() else {
            return Ok(());
        };
        if state.locked_until_ms > now_ms {
            return Err(locked_out(state.locked_until_ms, now_ms));
        }
        let Some(pin) = pin else {
            return Err(FieldnoteError::invalid(
                "pin",
                "this store has a PIN; enter it",
            ));
        };
        let matches = PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(pin.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        if matches {
            if state.failures > 0 || state.locked_until_ms > 0 {
                state.failures = 0;
                state.locked_until_ms = 0;
                self.write(&state)?;
            }
            return Ok(());
        }
        state.failures = state.failures.saturating_add(1);
        let p = self.policy;
        if state.failures >= p.free_attempts {
            let doublings = (state.failures - p.free_attempts).min(20);
            let secs = p
                .first_lockout_secs
                .saturating_mul(1u64 << doublings)
                .min(p.max_lockout_secs);
            state.locked_until_ms = now_ms.saturating_add((secs as i64).saturating_mul(1000));
            self.write(&state)?;
            return Err(locked_out(state.locked_until_ms, now_ms));
        }
        self.write(&state)?;
        Err(FieldnoteError::PinRejected {
            reason: "the PIN is wrong".into(),
            attempts_left: p.free_attempts - state.failures,
        })
    }
}

fn locked_out(until_ms: i64, now_ms: i64) -> FieldnoteError {
    let secs = ((until_ms - now_ms).max(0) as u64).div_ceil(1000);
    FieldnoteError::LockedOut {
        reason: format!("too many wrong PINs; try again in {secs} s"),
        retry_after_secs: secs,
    }
}
