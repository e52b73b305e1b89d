//! The server's one error type. Each variant maps to an HTTP status and a machine-readable
//! [`ErrorBody`]; internal details are logged (never with PHI) and not sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fieldnote_protocol::{ErrorBody, ErrorCode};

/// Everything that can go wrong in the server.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// Bad configuration (flags, environment, files).
    #[error("configuration: {0}")]
    Config(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(String),
    /// PostgreSQL aborted the transaction (deadlock, serialization); it is retried.
    #[error("transaction must be retried: {0}")]
    Retry(String),
    /// A bug or an impossible state.
    #[error("internal: {0}")]
    Internal(String),
    /// The request body could not be read.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A field holds an invalid value.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// Missing, expired or unknown credentials.
    #[error("not signed in: {0}")]
    Unauthenticated(String),
    /// The password was right; the account's second factor is missing (ask for the code,
    /// or enroll an authenticator in the console first).
    #[error("{0}")]
    SecondFactorRequired(String),
    /// Signed in but not allowed.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// No such thing, or not visible to the caller.
    #[error("not found: {0}")]
    NotFound(String),
    /// Too many requests.
    #[error("too many requests; retry in {retry_after} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The device speaks another protocol version.
    #[error(
        "this app speaks sync protocol {found}; the server speaks {supported}. Update the app."
    )]
    UpgradeRequired {
        /// The device's version.
        found: String,
        /// The server's.
        supported: u32,
    },
    /// The request conflicts with the current state (an alarm someone else owns).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The device was revoked.
    #[error("this device was revoked; its data must be wiped")]
    DeviceRevoked,
    /// The request body is larger than the server accepts.
    #[error(
        "the request body is larger than {} bytes",
        fieldnote_protocol::MAX_REQUEST_BYTES
    )]
    TooLarge,
}

/// The server's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A field error.
    pub fn invalid(field: &str, reason: impl Into<String>) -> Error {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Checks one line of text a person typed (a name, a label, an outcome): trimmed, 1 to
    /// `max_chars` characters, and no control characters (terminal escapes, line breaks),
    /// which can only hide or forge what is shown. Returns it trimmed; the error names the
    /// field.
    pub fn plain_text<'a>(field: &str, value: &'a str, max_chars: usize) -> Result<&'a str> {
        let v = value.trim();
        if v.is_empty() || v.chars().count() > max_chars {
            return Err(Error::invalid(
                field,
                format!("must be 1 to {max_chars} characters"),
            ));
        }
        if v.chars().any(char::is_control) {
            return Err(Error::invalid(field, "must not contain control characters"));
        }
        Ok(v)
    }

    /// The HTTP status and the body sent for this error.
    pub fn parts(&self) -> (StatusCode, ErrorBody) {
        let body = |code, message: String| ErrorBody {
            code,
            field: None,
            message,
        };
        match self {
            Error::Config(_) | Error::Database(_) | Error::Retry(_) | Error::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                body(
                    ErrorCode::Internal,
                    "the server failed; try again later".into(),
                ),
            ),
            Error::BadRequest(m) => (
                StatusCode::BAD_REQUEST,
                body(ErrorCode::BadRequest, m.clone()),
            ),
            Error::Invalid { field, reason } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorBody {
                    code: ErrorCode::Invalid,
                    field: Some(field.clone()),
                    message: format!("{field}: {reason}"),
                },
            ),
            Error::Unauthenticated(m) => (
                StatusCode::UNAUTHORIZED,
                body(ErrorCode::Unauthenticated, m.clone()),
            ),
            Error::SecondFactorRequired(m) => (
                StatusCode::UNAUTHORIZED,
                body(ErrorCode::SecondFactorRequired, m.clone()),
            ),
            Error::Forbidden(m) => (StatusCode::FORBIDDEN, body(ErrorCode::Forbidden, m.clone())),
            Error::NotFound(m) => (StatusCode::NOT_FOUND, body(ErrorCode::NotFound, m.clone())),
            Error::Conflict(m) => (StatusCode::CONFLICT, body(ErrorCode::Conflict, m.clone())),
            Error::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                body(ErrorCode::RateLimited, self.to_string()),
            ),
            Error::UpgradeRequired { .. } => (
                StatusCode::UPGRADE_REQUIRED,
                body(ErrorCode::UpgradeRequired, self.to_string()),
            ),
            Error::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                body(ErrorCode::TooLarge, self.to_string()),
            ),
            Error::DeviceRevoked => (
                StatusCode::FORBIDDEN,
                body(ErrorCode::DeviceRevoked, self.to_string()),
            ),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, body) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut resp = (status, axum::Json(body)).into_response();
        if let Error::RateLimited { retry_after } = self
            && let Ok(v) = retry_after.to_string().parse()
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<fieldnote_protocol::DecodeError> for Error {
    /// A body that could not be read is a 400, another protocol version a 426, too many
    /// items a 422 naming the field.
    fn from(e: fieldnote_protocol::DecodeError) -> Self {
        use fieldnote_protocol::DecodeError;
        match e {
            DecodeError::Malformed(_) => Error::BadRequest(e.to_string()),
            DecodeError::UpgradeRequired { found } => Error::UpgradeRequired {
                found: found.to_string(),
                supported: fieldnote_protocol::PROTOCOL_VERSION,
            },
            DecodeError::Invalid { field, reason } => Error::invalid(field, reason),
        }
    }
}

impl From<fieldnote_core::Error> for Error {
    fn from(e: fieldnote_core::Error) -> Self {
        Error::Internal(e.to_string())
    }
}
