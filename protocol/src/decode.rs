//! Reading request bodies: the one place a body's bytes (after the transport has undone its
//! gzip) become a message, in the format its `Content-Type` names, with the checks every
//! request of that kind must pass before anything else looks at it (the protocol version,
//! the number of items). The server calls these functions and nothing else to read a body,
//! and the fuzz targets under `fuzz/` call the same ones, so what is fuzzed is what runs.
//!
//! Nothing here panics on any input: every failure is a [`DecodeError`].

use serde::de::DeserializeOwned;

use crate::safety::{MAX_SAFETY_ITEMS, SafetyRequest};
use crate::{CBOR, MAX_UPLOAD_ITEMS, PROTOCOL_VERSION, SyncRequest};

/// The format of a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CBOR ([`CBOR`]): what devices send.
    Cbor,
    /// JSON: what people and tools send, and what a body without a `Content-Type` is taken
    /// to be.
    Json,
}

impl Format {
    /// The format a `Content-Type` header value names: CBOR when it starts with [`CBOR`],
    /// JSON otherwise (also when there is no header).
    pub fn of_content_type(content_type: Option<&str>) -> Format {
        if content_type.is_some_and(|v| v.starts_with(CBOR)) {
            Format::Cbor
        } else {
            Format::Json
        }
    }
}

/// Why a body was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The body is not a valid message (malformed, truncated, wrong types); the text says
    /// what is wrong, in the decoder's words.
    Malformed(String),
    /// The message names a protocol version other than [`PROTOCOL_VERSION`].
    UpgradeRequired {
        /// The version the message named.
        found: u32,
    },
    /// A field holds more than a request may carry.
    Invalid {
        /// The field.
        field: &'static str,
        /// Why, as a phrase following the field's name.
        reason: String,
    },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Malformed(detail) => {
                write!(f, "the request body is not a valid message: {detail}")
            }
            DecodeError::UpgradeRequired { found } => write!(
                f,
                "this app speaks sync protocol {found}; the server speaks {PROTOCOL_VERSION}"
            ),
            DecodeError::Invalid { field, reason } => write!(f, "{field}: {reason}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes a body of any message type in `format`, with no further checks.
pub fn decode_message<T: DeserializeOwned>(format: Format, body: &[u8]) -> Result<T, DecodeError> {
    match format {
        Format::Cbor => {
            ciborium::from_reader(body).map_err(|e| DecodeError::Malformed(e.to_string()))
        }
        Format::Json => {
            serde_json::from_slice(body).map_err(|e| DecodeError::Malformed(e.to_string()))
        }
    }
}

/// Decodes the body of `POST /v1/sync`: a [`SyncRequest`] of this protocol version with at
/// most [`MAX_UPLOAD_ITEMS`] uploads.
pub fn decode_sync_request(format: Format, body: &[u8]) -> Result<SyncRequest, DecodeError> {
    let req: SyncRequest = decode_message(format, body)?;
    if req.protocol != PROTOCOL_VERSION {
        return Err(DecodeError::UpgradeRequired {
            found: req.protocol,
        });
    }
    if req.upload.len() > MAX_UPLOAD_ITEMS {
        return Err(DecodeError::Invalid {
            field: "upload",
            reason: format!("at most {MAX_UPLOAD_ITEMS} items per request"),
        });
    }
    Ok(req)
}

/// Decodes the body of `POST /v1/safety`: a [`SafetyRequest`] with at most
/// [`MAX_SAFETY_ITEMS`] items.
pub fn decode_safety_request(format: Format, body: &[u8]) -> Result<SafetyRequest, DecodeError> {
    let req: SafetyRequest = decode_message(format, body)?;
    if req.items.len() > MAX_SAFETY_ITEMS {
        return Err(DecodeError::Invalid {
            field: "items",
            reason: format!("at most {MAX_SAFETY_ITEMS} per request"),
        });
    }
    Ok(req)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{Cursor, Item, ItemKind, Upload, to_cbor};

    fn request(protocol: u32, uploads: usize) -> SyncRequest {
        SyncRequest {
            protocol,
            cursor: Cursor { feed: 3, grant: 1 },
            upload: (0..uploads as i64)
                .map(|entry| Upload {
                    entry,
                    item: Item {
                        record_id: "r".into(),
                        kind: ItemKind::Change,
                        payload: vec![1, 2],
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn the_content_type_picks_the_format() {
        assert_eq!(Format::of_content_type(Some(CBOR)), Format::Cbor);
        assert_eq!(
            Format::of_content_type(Some("application/cbor; x=1")),
            Format::Cbor
        );
        assert_eq!(
            Format::of_content_type(Some("application/json")),
            Format::Json
        );
        assert_eq!(Format::of_content_type(None), Format::Json);
    }

    #[test]
    fn both_formats_decode_and_are_checked() {
        let req = request(PROTOCOL_VERSION, 2);
        let cbor = decode_sync_request(Format::Cbor, &to_cbor(&req)).unwrap();
        assert_eq!(cbor.upload, req.upload);
        let json = serde_json::to_vec(&req).unwrap();
        assert_eq!(
            decode_sync_request(Format::Json, &json).unwrap().upload,
            req.upload
        );
        // The wrong format is malformed, not misread.
        assert!(matches!(
            decode_sync_request(Format::Json, &to_cbor(&req)),
            Err(DecodeError::Malformed(_))
        ));
        assert_eq!(
            decode_sync_request(Format::Cbor, &to_cbor(&request(7, 0))).unwrap_err(),
            DecodeError::UpgradeRequired { found: 7 }
        );
        let err = decode_sync_request(Format::Cbor, &to_cbor(&request(1, MAX_UPLOAD_ITEMS + 1)))
            .unwrap_err();
        assert_eq!(err.to_string(), "upload: at most 5000 items per request");
        let err = decode_sync_request(Format::Json, b"{not json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the request body is not a valid message: "),
            "{err}"
        );
    }
}
