//! The client's one error type, with variants a shell can act on: retry later, sign in
//! again, wipe, update the app, or fix the configuration.

use fieldnote_protocol::ErrorCode;

/// Everything that can go wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server could not be reached or the connection broke; retry later.
    #[error("network: {0}")]
    Network(String),
    /// The server URL is refused: plain http is allowed only on loopback.
    #[error("insecure server URL {url}: use https (plain http is allowed only on this machine)")]
    InsecureUrl {
        /// The URL given.
        url: String,
    },
    /// The URL could not be understood.
    #[error("server URL: {0}")]
    BadUrl(String),
    /// Not signed in, or the credential is no longer valid: sign in again.
    #[error("not signed in: {0}")]
    Unauthenticated(String),
    /// The password was right; the account also needs its authenticator's code (or must
    /// enroll an authenticator in the console first). Ask for it and sign in again.
    #[error("{0}")]
    SecondFactorRequired(String),
    /// The server revoked this device: its store must be wiped.
    #[error("this device was revoked by the agency; its data must be wiped")]
    DeviceRevoked,
    /// The app is too old (or too new) for the server.
    #[error("{0}")]
    UpgradeRequired(String),
    /// The server refused the request.
    #[error("the server refused the request ({status}, {code:?}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Machine-readable reason.
        code: ErrorCode,
        /// The server's sentence.
        message: String,
    },
    /// The server answered something this client cannot read.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] fieldnote_core::Error),
}

impl Error {
    /// Whether trying again later may succeed (network trouble, server overload).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Network(_) => true,
            Error::Refused { status, code, .. } => {
                *status >= 500 || *code == ErrorCode::RateLimited
            }
            _ => false,
        }
    }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
