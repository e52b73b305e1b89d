//! The one error type the shells see. Each variant is something a screen can act on (ask for
//! the key or PIN again, wait out a lockout, show the field problems, retry later, sign in,
//! wipe), and each carries a `reason` in words a worker or a support line can read.

use fieldnote_client::Error as ClientError;
use fieldnote_core::Error as CoreError;

/// A field and why its value was refused.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FieldProblem {
    /// The field's path, such as `narrative` or `goals[2].statement`.
    pub field: String,
    /// Why it was refused.
    pub reason: String,
}

/// Everything a call into Fieldnote can refuse or fail with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum FieldnoteError {
    /// The key does not open this store; nothing was changed. Ask the key provider again.
    #[error("wrong key: {reason}")]
    WrongKey {
        /// Why.
        reason: String,
    },
    /// The store is locked (by the user, or after the idle timeout). Unlock it; saved drafts
    /// are still there.
    #[error("locked: {reason}")]
    Locked {
        /// Why.
        reason: String,
    },
    /// The unlock PIN was wrong.
    #[error("PIN rejected: {reason}")]
    PinRejected {
        /// Why.
        reason: String,
        /// Attempts left before a lockout starts.
        attempts_left: u32,
    },
    /// Too many wrong PINs: no attempt is accepted until the lockout ends (it survives
    /// restarts).
    #[error("locked out: {reason}")]
    LockedOut {
        /// Why.
        reason: String,
        /// Seconds until the next attempt is accepted.
        retry_after_secs: u64,
    },
    /// The input was refused; nothing was stored. `problems` names each field.
    #[error("invalid input: {reason}")]
    Invalid {
        /// All problems in one sentence.
        reason: String,
        /// Each field and why.
        problems: Vec<FieldProblem>,
    },
    /// No such record, alarm or session on this device.
    #[error("not found: {reason}")]
    NotFound {
        /// What was looked for.
        reason: String,
    },
    /// The action is not allowed in the record's state (a finalized note, a signature in the
    /// wrong role, a wrong safety PIN).
    #[error("refused: {reason}")]
    Refused {
        /// Why.
        reason: String,
    },
    /// The device storage failed (full, damaged, unreadable). What was saved before is intact.
    #[error("storage: {reason}")]
    Storage {
        /// Why.
        reason: String,
    },
    /// The server could not be reached or the connection broke; everything stays queued.
    /// Retry later.
    #[error("offline: {reason}")]
    Offline {
        /// Why.
        reason: String,
    },
    /// The password was right; the account also needs the code from its authenticator app
    /// (supervisors and program directors), or must enroll one in the console first. Ask
    /// for the code and sign in again with it.
    #[error("{reason}")]
    SecondFactorRequired {
        /// What the server said (enter the code, or enroll first).
        reason: String,
    },
    /// Not signed in, or the sign-in is no longer valid: sign in again.
    #[error("sign-in required: {reason}")]
    SignInRequired {
        /// Why.
        reason: String,
    },
    /// The server refused the request or answered something unreadable (or the app needs an
    /// update).
    #[error("server: {reason}")]
    Server {
        /// Why.
        reason: String,
    },
    /// The agency revoked this device; its records were wiped from it.
    #[error("wiped: {reason}")]
    Wiped {
        /// Why.
        reason: String,
    },
    /// A bug in Fieldnote (a Rust panic, caught). The app keeps running; the call did nothing
    /// it could not undo.
    #[error("internal error: {reason}")]
    Internal {
        /// What failed.
        reason: String,
    },
}

/// Results of the FFI.
pub type Outcome<T> = std::result::Result<T, FieldnoteError>;

impl FieldnoteError {
    /// A refusal of one field.
    pub(crate) fn invalid(field: &str, reason: &str) -> FieldnoteError {
        FieldnoteError::Invalid {
            reason: format!("{field}: {reason}"),
            problems: vec![FieldProblem {
                field: field.into(),
                reason: reason.into(),
            }],
        }
    }
}

impl From<CoreError> for FieldnoteError {
    fn from(e: CoreError) -> Self {
        let reason = e.to_string();
        match e {
            CoreError::WrongKey | CoreError::BadKey { .. } => FieldnoteError::WrongKey { reason },
            CoreError::Locked => FieldnoteError::Locked { reason },
            CoreError::Invalid { errors, .. } => FieldnoteError::Invalid {
                reason,
                problems: errors
                    .into_iter()
                    .map(|f| FieldProblem {
                        field: f.field,
                        reason: f.reason,
                    })
                    .collect(),
            },
            CoreError::NotFound { .. } => FieldnoteError::NotFound { reason },
            CoreError::Finalized { .. }
            | CoreError::SignatureRefused { .. }
            | CoreError::WrongPin => FieldnoteError::Refused { reason },
            CoreError::Corrupt { .. }
            | CoreError::SchemaTooNew { .. }
            | CoreError::UnsupportedFormat { .. }
            | CoreError::DiskFull
            | CoreError::InUse { .. }
            | CoreError::KeptForLater { .. }
            | CoreError::Document { .. }
            | CoreError::Io { .. }
            | CoreError::Storage(_) => FieldnoteError::Storage { reason },
        }
    }
}

impl From<ClientError> for FieldnoteError {
    fn from(e: ClientError) -> Self {
        let reason = e.to_string();
        match e {
            ClientError::Store(core) => core.into(),
            ClientError::Network(_) => FieldnoteError::Offline { reason },
            ClientError::Refused { status, .. } if status >= 500 => {
                FieldnoteError::Offline { reason }
            }
            ClientError::InsecureUrl { .. } | ClientError::BadUrl(_) => {
                FieldnoteError::invalid("server_url", &reason)
            }
            ClientError::Unauthenticated(_) => FieldnoteError::SignInRequired { reason },
            ClientError::SecondFactorRequired(_) => FieldnoteError::SecondFactorRequired { reason },
            ClientError::DeviceRevoked => FieldnoteError::Wiped { reason },
            ClientError::UpgradeRequired(_)
            | ClientError::Refused { .. }
            | ClientError::Protocol(_) => FieldnoteError::Server { reason },
        }
    }
}

/// Runs `f`, turning a Rust panic into [`FieldnoteError::Internal`] so that a bug fails one
/// call instead of the app.
pub(crate) fn guard<T>(f: impl FnOnce() -> Outcome<T>) -> Outcome<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            Err(FieldnoteError::Internal { reason: what })
        }
    }
}
