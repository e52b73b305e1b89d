//! The sync protocol: every message that passes between a device and the server, defined
//! once and used by both sides (the device's sync engine in `fieldnote-core`, the network
//! client, and the server). Messages are JSON, gzip-compressed on the wire; binary payloads
//! (automerge changes) are base64 inside the JSON. `PROTOCOL.md` at the repository root
//! describes the exchange.
//!
//! A sync is a few round trips of one request each: the device sends its cursor and a batch
//! of pending changes, the server answers with acknowledgements and a batch of what the
//! device lacks. When either side had more than fit, `more` asks for another round.

use serde::{Deserialize, Serialize};

mod decode;
pub mod safety;

pub use decode::{DecodeError, Format, decode_message, decode_safety_request, decode_sync_request};

/// The protocol version this build speaks. A server refuses other versions with
/// [`ErrorCode::UpgradeRequired`].
pub const PROTOCOL_VERSION: u32 = 1;
/// The HTTP header carrying [`PROTOCOL_VERSION`] on every request.
pub const VERSION_HEADER: &str = "fieldnote-protocol";
/// The largest request body the server reads (8 MiB, before decompression and after);
/// larger bodies get 413.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;
/// The payload bytes a device puts in one sync request, at most (a batch; more goes next
/// round).
pub const UPLOAD_BATCH_BYTES: usize = 2 * 1024 * 1024;
/// The payload bytes the server puts in one sync response, at most.
pub const DOWNLOAD_BATCH_BYTES: usize = 2 * 1024 * 1024;
/// Items in one sync request, at most.
pub const MAX_UPLOAD_ITEMS: usize = 5_000;

/// Routes, relative to the server's base URL.
pub mod routes {
    /// `GET`: liveness and readiness.
    pub const HEALTH: &str = "/health";
    /// `POST` [`super::LoginRequest`] → [`super::LoginResponse`].
    pub const LOGIN: &str = "/v1/auth/login";
    /// `POST` [`super::TokenRequest`] → [`super::TokenResponse`].
    pub const TOKEN: &str = "/v1/auth/token";
    /// `POST`: revokes the device credential and its tokens.
    pub const LOGOUT: &str = "/v1/auth/logout";
    /// `POST` [`super::SyncRequest`] → [`super::SyncResponse`].
    pub const SYNC: &str = "/v1/sync";
}

/// The media type of binary (CBOR) bodies. Devices send and accept CBOR; JSON is accepted
/// and answered too, for people and tools.
pub const CBOR: &str = "application/cbor";

/// Encodes a message as CBOR.
pub fn to_cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and every message serializes.
    let _ = ciborium::into_writer(value, &mut out);
    out
}

/// Decodes a CBOR message, with a sentence saying what is wrong.
pub fn from_cbor<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    ciborium::from_reader(bytes).map_err(|e| format!("not a valid message: {e}"))
}

/// Binary data: a byte string in CBOR, base64 (standard alphabet, padded) in JSON.
pub mod bytes_b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserializer, Serializer};

    /// Serializes bytes.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&STANDARD.encode(bytes))
        } else {
            s.serialize_bytes(bytes)
        }
    }

    struct Visitor;

    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("bytes or a base64 string")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
            STANDARD
                .decode(v.as_bytes())
                .map_err(|e| E::custom(format!("invalid base64: {e}")))
        }

        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
    }

    /// Deserializes bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        if d.is_human_readable() {
            d.deserialize_str(Visitor)
        } else {
            d.deserialize_byte_buf(Visitor)
        }
    }
}

/// A user's role on the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerRole {
    /// Field worker: sees their own caseload.
    Worker,
    /// Supervisor: sees their team.
    Supervisor,
    /// Program director: sees their agency's teams.
    ProgramDirector,
    /// Administrator: manages users, teams and devices; reads no PHI by role alone.
    Administrator,
}

impl ServerRole {
    /// The role's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerRole::Worker => "worker",
            ServerRole::Supervisor => "supervisor",
            ServerRole::ProgramDirector => "program_director",
            ServerRole::Administrator => "administrator",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<ServerRole> {
        [
            ServerRole::Worker,
            ServerRole::Supervisor,
            ServerRole::ProgramDirector,
            ServerRole::Administrator,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// Sign in with a password and register this device.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoginRequest {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
    /// A name for the device, shown to administrators (no PHI).
    pub device_name: String,
    /// The code from the user's authenticator app. Required of supervisors and program
    /// directors, whose devices receive a whole team's or agency's records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_factor: Option<String>,
    /// The device's Ed25519 public key (64 hexadecimal characters), registered for the user
    /// at sign-in: the server accepts a finalization, signature or review from this device
    /// only when it is signed with this key. A device that registers none may sync records
    /// but not signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<String>,
}

/// Who signed in, and the credentials the device keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoginResponse {
    /// The registered device.
    pub device_id: String,
    /// The long-lived, revocable device credential; exchanged for access tokens.
    pub device_secret: String,
    /// A short-lived access token.
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Who the user is.
    pub identity: Identity,
}

/// The signed-in user as the device needs to know them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The user id.
    pub user_id: String,
    /// The staff id that records and signatures carry.
    pub staff_id: String,
    /// The display name used in signatures.
    pub display_name: String,
    /// The role.
    pub role: ServerRole,
    /// The team.
    pub team_id: String,
}

/// Exchange a device credential for a new access token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenRequest {
    /// The device.
    pub device_id: String,
    /// Its credential.
    pub device_secret: String,
}

/// A new access token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The token.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// Where a device is in the server's feed. Opaque to the device: it stores the cursor it was
/// last given and sends it back. `feed` is the last feed position received; `grant` the last
/// caseload change received (members added or removed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Last feed sequence number received.
    pub feed: i64,
    /// Last caseload grant received.
    pub grant: i64,
}

/// What an item carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// Automerge changes (or a whole document) for a record.
    Change,
    /// An attestation event (finalization, signature) as JSON.
    Attestation,
}

/// One unit of replicated data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The record it belongs to.
    pub record_id: String,
    /// What it is.
    pub kind: ItemKind,
    /// The bytes.
    #[serde(with = "bytes_b64")]
    pub payload: Vec<u8>,
}

/// One pending local entry the device uploads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// The device's own number for the entry; acknowledgements refer to it.
    pub entry: i64,
    /// The data.
    #[serde(flatten)]
    pub item: Item,
}

/// A sync round.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SyncRequest {
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// Where the device is in the feed.
    pub cursor: Cursor,
    /// Pending local entries, safety records first, then in the order they were written.
    pub upload: Vec<Upload>,
}

/// What became of an uploaded entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Stored (or already held: duplicates are acknowledged the same way).
    Accepted,
    /// Refused. The device keeps its edits as a rejected draft and takes `server_state`.
    Rejected {
        /// Why, in words a worker can act on.
        reason: String,
        /// The record as the server holds it (whole document), or none if the server has
        /// no such record.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_b64")]
        server_state: Option<Vec<u8>>,
        /// The server's attestations of the record, as JSON events.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        server_attestations: Vec<String>,
    },
}

/// Optional binary data, base64 in JSON.
mod opt_b64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => super::bytes_b64::serialize(b, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::bytes_b64")] Vec<u8>);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

/// The acknowledgement of one uploaded entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The device's entry number.
    pub entry: i64,
    /// The record.
    pub record_id: String,
    /// What became of it.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The server's answer to a sync round.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SyncResponse {
    /// The cursor to send next time (store it only after applying everything below).
    pub cursor: Cursor,
    /// One acknowledgement per uploaded entry.
    pub acks: Vec<Ack>,
    /// Data the device lacks: whole documents of members newly on its caseload, then
    /// changes in feed order.
    pub items: Vec<Item>,
    /// Members no longer on the device's caseload: remove them and their records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purge: Vec<String>,
    /// The device was revoked: remove everything.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wipe: bool,
    /// More is waiting: sync again at once.
    pub more: bool,
    /// Who holds each key that signed an attestation in this response (items and refusals),
    /// so that the device checks every signature it receives against the user the server
    /// registered the key to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signer_keys: Vec<SignerKey>,
}

/// A signing key and whom the server registered it to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerKey {
    /// The Ed25519 public key, 64 hexadecimal characters.
    pub key: String,
    /// The staff id of the user whose device holds the key; `None` for the server's own key,
    /// which signs what a supervisor does in the console and vouches for the signer it
    /// authenticated there.
    pub staff_id: Option<String>,
    /// When the server revoked the device (milliseconds since the epoch, server time):
    /// a signature dated after it is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

/// Why a request failed, machine-readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body could not be read (malformed, truncated, wrong types).
    BadRequest,
    /// A field has an invalid value; `field` names it.
    Invalid,
    /// No or a bad credential.
    Unauthenticated,
    /// The password was right, and this account also needs the code from its
    /// authenticator app (or must enroll one in the console first): ask for it.
    SecondFactorRequired,
    /// Signed in, but not allowed.
    Forbidden,
    /// No such thing (or not visible to you).
    NotFound,
    /// The body is too large.
    TooLarge,
    /// Too many requests; wait and retry.
    RateLimited,
    /// The device's protocol version is not supported: update the app.
    UpgradeRequired,
    /// The device was revoked: wipe local data.
    DeviceRevoked,
    /// The request conflicts with the current state (an alarm someone else already owns).
    Conflict,
    /// The server failed; retry later.
    Internal,
}

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What kind of failure.
    pub code: ErrorCode,
    /// The field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A sentence a person can read.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let resp = SyncResponse {
            cursor: Cursor { feed: 4, grant: 1 },
            acks: vec![Ack {
                entry: 7,
                record_id: "r".into(),
                outcome: Outcome::Rejected {
                    reason: "finalized".into(),
                    server_state: Some(vec![1, 2, 3]),
                    server_attestations: vec![],
                },
            }],
            items: vec![Item {
                record_id: "r".into(),
                kind: ItemKind::Change,
                payload: vec![0, 255],
            }],
            purge: vec![],
            wipe: false,
            more: true,
            signer_keys: vec![],
        };
        let json = serde_json::to_string(&resp).expect("serializes");
        let back: SyncResponse = serde_json::from_str(&json).expect("parses");
        assert_eq!(back.acks, resp.acks);
        assert_eq!(back.items, resp.items);
        assert!(!json.contains("wipe"), "false flags are omitted: {json}");
        let cbor = to_cbor(&resp);
        let back: SyncResponse = from_cbor(&cbor).expect("parses");
        assert_eq!(back.items, resp.items);
        assert!(cbor.len() < json.len());
        assert!(from_cbor::<SyncResponse>(&cbor[..cbor.len() / 2]).is_err());
    }

    #[test]
    fn bad_base64_is_a_clear_error() {
        let err =
            serde_json::from_str::<Item>(r#"{"record_id":"r","kind":"change","payload":"@@@"}"#)
                .expect_err("rejected");
        assert!(err.to_string().contains("invalid base64"), "{err}");
    }
}
