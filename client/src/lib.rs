//! The network client: signs in, registers the device, keeps an access token fresh, and runs
//! sync rounds between a local [`Store`] and the server until neither side has more. It sits
//! beside the pure core (which builds requests and applies responses) and is shared by the
//! CLI and the FFI.

mod error;
pub mod safety;
mod transport;

use std::sync::Mutex;

use fieldnote_core::Store;
use fieldnote_core::store::SyncApplied;
use fieldnote_protocol::{self as proto, routes};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use error::{Error, Result};
pub use safety::{Backoff, EventStream};
pub use transport::{HttpTransport, TlsOptions, Transport, check_url, refusal};

/// Rounds in one sync at most (a safety stop; a normal sync takes a few).
const MAX_ROUNDS: usize = 10_000;

/// What a device keeps to talk to its server (the shell stores it in the platform keystore;
/// the CLI in a file readable only by its owner).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCredentials {
    /// The server's base URL.
    pub server: String,
    /// The device id.
    pub device_id: String,
    /// The device credential.
    pub device_secret: String,
}

/// Progress of a sync, reported after every round.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncProgress {
    /// Rounds done.
    pub rounds: usize,
    /// Entries the server accepted so far.
    pub sent: usize,
    /// Entries refused so far (kept as rejected drafts).
    pub rejected: usize,
    /// Items received so far.
    pub received: usize,
    /// Entries still waiting to be sent.
    pub pending: usize,
}

/// How a sync ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// The totals.
    pub progress: SyncProgress,
    /// Records removed because members left the caseload.
    pub purged: usize,
    /// The server revoked this device: call [`Store::wipe`] now.
    pub wipe_required: bool,
    /// Safety items (alarms, session events) the server recorded before the records synced.
    pub safety_sent: usize,
    /// Signatures received that no key the server registered to their signer signed: not
    /// stored.
    pub refused_signatures: usize,
}

/// A client of one server.
pub struct Client<T: Transport = HttpTransport> {
    transport: T,
    credentials: Mutex<Option<DeviceCredentials>>,
    token: Mutex<Option<String>>,
}

impl Client<HttpTransport> {
    /// A client of the server at `url` (https, or http on loopback only).
    pub fn connect(url: &str, tls: &TlsOptions) -> Result<Self> {
        Ok(Client::with_transport(HttpTransport::new(url, tls)?))
    }
}

impl<T: Transport> Client<T> {
    /// A client over any transport (tests inject faults this way).
    pub fn with_transport(transport: T) -> Self {
        Client {
            transport,
            credentials: Mutex::new(None),
            token: Mutex::new(None),
        }
    }

    /// Uses stored device credentials (no request is made until needed).
    pub fn with_credentials(self, credentials: DeviceCredentials) -> Self {
        *lock(&self.credentials) = Some(credentials);
        self
    }

    /// The device credentials, once signed in.
    pub fn credentials(&self) -> Option<DeviceCredentials> {
        lock(&self.credentials).clone()
    }

    /// The transport, for tests that count or shape traffic.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Signs in with a password (and, for supervisors and program directors, the code of
    /// their authenticator app), registers this device and records the signed-in user in
    /// `store`. Returns the credentials to keep.
    pub fn login(
        &self,
        server: &str,
        store: &mut Store,
        username: &str,
        password: &str,
        second_factor: Option<&str>,
        device_name: &str,
    ) -> Result<DeviceCredentials> {
        let resp: proto::LoginResponse = self.call(
            routes::LOGIN,
            None,
            &proto::LoginRequest {
                username: username.into(),
                password: password.into(),
                device_name: device_name.into(),
                second_factor: second_factor.map(str::to_string),
                device_key: Some(store.device_public_key()),
            },
        )?;
        store.set_identity(&resp.identity)?;
        let creds = DeviceCredentials {
            server: server.to_string(),
            device_id: resp.device_id,
            device_secret: resp.device_secret,
        };
        *lock(&self.credentials) = Some(creds.clone());
        *lock(&self.token) = Some(resp.access_token);
        Ok(creds)
    }

    /// Signs out: the server revokes this device's credential.
    pub fn logout(&self) -> Result<()> {
        let token = self.access_token()?;
        self.transport
            .send(routes::LOGOUT, Some(&token), Some(&proto::to_cbor(&())))?;
        *lock(&self.token) = None;
        *lock(&self.credentials) = None;
        Ok(())
    }

    /// Syncs `store` with the server: sends the safety outbox, then everything pending
    /// (incidents and crisis plans first), and
    /// receives everything new for the caseload, in as many rounds as needed, calling
    /// `progress` after each. A sync cut short can simply be run again: nothing is lost or
    /// applied twice.
    pub fn sync(
        &self,
        store: &mut Store,
        progress: &mut dyn FnMut(&SyncProgress),
    ) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        // Alarms and session events go first, whatever the backlog of records.
        match self.send_safety(store.safety()) {
            Ok(applied) => report.safety_sent = applied.accepted + applied.refused,
            Err(Error::DeviceRevoked) => {
                report.wipe_required = true;
                return Ok(report);
            }
            Err(e) => return Err(e),
        }
        for _ in 0..MAX_ROUNDS {
            let prepared = store.prepare_sync()?;
            let response: proto::SyncResponse =
                match self.authed_call(routes::SYNC, &prepared.request) {
                    Err(Error::DeviceRevoked) => {
                        report.wipe_required = true;
                        return Ok(report);
                    }
                    other => other?,
                };
            let applied: SyncApplied = store.apply_sync(&response)?;
            let p = &mut report.progress;
            p.rounds += 1;
            p.sent += applied.accepted;
            p.rejected += applied.rejected;
            p.received += applied.received;
            p.pending = store.outbox_len()?;
            report.purged += applied.purged;
            report.refused_signatures += applied.refused_signatures;
            progress(p);
            if applied.wipe {
                report.wipe_required = true;
                return Ok(report);
            }
            let sent_nothing = applied.accepted + applied.rejected == 0;
            let more_to_send = prepared.more_to_send || (p.pending > 0 && !sent_nothing);
            if !response.more && !more_to_send {
                break;
            }
        }
        Ok(report)
    }

    // ---- internals ----

    fn access_token(&self) -> Result<String> {
        if let Some(t) = lock(&self.token).clone() {
            return Ok(t);
        }
        self.refresh_token()
    }

    fn refresh_token(&self) -> Result<String> {
        let creds = lock(&self.credentials)
            .clone()
            .ok_or_else(|| Error::Unauthenticated("this device is not signed in".into()))?;
        let resp: proto::TokenResponse = self.call(
            routes::TOKEN,
            None,
            &proto::TokenRequest {
                device_id: creds.device_id,
                device_secret: creds.device_secret,
            },
        )?;
        *lock(&self.token) = Some(resp.access_token.clone());
        Ok(resp.access_token)
    }

    /// A call with the access token, refreshing it once if it expired.
    fn authed_call<B: Serialize, R: DeserializeOwned>(&self, path: &str, body: &B) -> Result<R> {
        let token = self.access_token()?;
        match self.call(path, Some(&token), body) {
            Err(Error::Unauthenticated(_)) => {
                let token = self.refresh_token()?;
                self.call(path, Some(&token), body)
            }
            other => other,
        }
    }

    fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &B,
    ) -> Result<R> {
        let resp = self
            .transport
            .send(path, token, Some(&proto::to_cbor(body)))?;
        proto::from_cbor(&resp).map_err(Error::Protocol)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
