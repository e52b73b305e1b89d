//! The safety path: sending alarms and session events ahead of everything else, retrying
//! with backoff until the server acknowledges; asking after an alarm ("help is coming");
//! answering alarms (supervisors); and the live event stream.

use std::io::{BufRead, BufReader, Read};
use std::time::{Duration, Instant};

use fieldnote_core::store::SafetyStore;
use fieldnote_core::store::safety::SafetyApplied;
use fieldnote_protocol::safety::{
    AlarmView, ResolveRequest, ResolveResponse, SafetyEvent, SafetyResponse, SessionView, routes,
};

use crate::error::{Error, Result};
use crate::transport::Transport;
use crate::{Client, lock};

/// How long to wait between attempts: doubling from `first` up to `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    /// 1 s, doubling to 30 s: an alarm is retried often, without draining the battery.
    fn default() -> Self {
        Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait before attempt `n` (0 is the first retry): the core's doubling
    /// ([`fieldnote_core::policy::doubled_backoff_ms`]), the one the sync schedule uses.
    pub fn wait(&self, n: u32) -> Duration {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let wait = fieldnote_core::policy::doubled_backoff_ms(
            ms(self.first),
            ms(self.max),
            n.saturating_add(1),
        );
        Duration::from_millis(u64::try_from(wait).unwrap_or(0))
    }
}

impl<T: Transport> Client<T> {
    /// Sends everything in the safety outbox (alarms first) until it is empty. Returns what
    /// the server recorded; an error leaves the rest in the outbox for the next attempt.
    pub fn send_safety(&self, safety: &SafetyStore) -> Result<SafetyApplied> {
        let mut total = SafetyApplied::default();
        while let Some(prepared) = safety.prepare_send()? {
            let response: SafetyResponse = self.authed_call(routes::SAFETY, &prepared.request)?;
            let applied = safety.apply_receipts(&prepared, &response)?;
            total.accepted += applied.accepted;
            total.refused += applied.refused;
            total.pending = applied.pending;
        }
        Ok(total)
    }

    /// Sends the safety outbox, retrying retryable failures with `backoff` until it is empty
    /// or `give_up_after` has passed (the caller tries again when a link returns).
    pub fn deliver_safety(
        &self,
        safety: &SafetyStore,
        backoff: Backoff,
        give_up_after: Duration,
    ) -> Result<SafetyApplied> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            match self.send_safety(safety) {
                Ok(applied) => return Ok(applied),
                Err(e) if e.is_retryable() && started.elapsed() < give_up_after => {
                    std::thread::sleep(
                        backoff
                            .wait(attempt)
                            .min(give_up_after.saturating_sub(started.elapsed())),
                    );
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Asks the server where an alarm stands and records the answer on the device.
    pub fn refresh_alarm(&self, safety: &SafetyStore, id: &str) -> Result<AlarmView> {
        let view: AlarmView = self.authed_get(&routes::with_id(routes::ALARM, id))?;
        safety.record_alarm_view(&view)?;
        Ok(view)
    }

    /// Open alarms in the signed-in user's scope (with `all`, also the last week's closed
    /// ones).
    pub fn alarms(&self, all: bool) -> Result<Vec<AlarmView>> {
        let path = if all {
            format!("{}?all=true", routes::ALARMS)
        } else {
            routes::ALARMS.to_string()
        };
        self.authed_get(&path)
    }

    /// Visit sessions under way in the signed-in user's scope.
    pub fn sessions(&self) -> Result<Vec<SessionView>> {
        self.authed_get(routes::SESSIONS)
    }

    /// Takes ownership of an alarm (the first acknowledgement wins).
    pub fn acknowledge(&self, id: &str) -> Result<AlarmView> {
        self.authed_call(&routes::with_id(routes::ACKNOWLEDGE, id), &())
    }

    /// Closes an alarm with an outcome.
    pub fn resolve(
        &self,
        id: &str,
        outcome: &str,
        reportable_incident: bool,
    ) -> Result<ResolveResponse> {
        self.authed_call(
            &routes::with_id(routes::RESOLVE, id),
            &ResolveRequest {
                outcome: outcome.to_string(),
                reportable_incident,
            },
        )
    }

    /// Opens the live event stream, resuming after `last_event_id` when given.
    pub fn events(&self, last_event_id: Option<i64>) -> Result<EventStream> {
        let token = self.access_token()?;
        let reader = match self
            .transport
            .open_stream(routes::EVENTS, &token, last_event_id)
        {
            Err(Error::Unauthenticated(_)) => {
                let token = self.refresh_token()?;
                self.transport
                    .open_stream(routes::EVENTS, &token, last_event_id)?
            }
            other => other?,
        };
        Ok(EventStream {
            reader: BufReader::new(reader),
        })
    }

    fn authed_get<R: serde::de::DeserializeOwned>(&self, path: &str) -> Result<R> {
        let get = |token: &str| {
            let bytes = self.transport.send(path, Some(token), None)?;
            fieldnote_protocol::from_cbor(&bytes).map_err(Error::Protocol)
        };
        match get(&self.access_token()?) {
            Err(Error::Unauthenticated(_)) => {
                *lock(&self.token) = None;
                get(&self.refresh_token()?)
            }
            other => other,
        }
    }
}

/// Server-Sent Events from `GET /v1/events`, parsed into [`SafetyEvent`]s. Iteration blocks
/// until the next event; it ends when the server closes the stream.
pub struct EventStream {
    reader: BufReader<Box<dyn Read + Send>>,
}

impl Iterator for EventStream {
    type Item = Result<SafetyEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut data = String::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(Error::Network(e.to_string()))),
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if data.is_empty() {
                    continue;
                }
                return Some(
                    serde_json::from_str(&data)
                        .map_err(|e| Error::Protocol(format!("an event could not be read: {e}"))),
                );
            }
            if let Some(d) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
            // `id:`, `event:` and comments (keep-alives) need nothing: the id travels in
            // the data as `seq`.
        }
    }
}
