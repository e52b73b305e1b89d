//! The safety event log and its live delivery.
//!
//! Every alarm and session change appends an event (the alarm or session as it now stands)
//! in the transaction that makes the change, numbered by the `safety_events` counter row so
//! that numbers commit in order across processes. Subscribers read the log after the last
//! number they saw; the [`Hub`] only wakes them. A change committed by this process wakes
//! them directly; on PostgreSQL a change committed by another process arrives through
//! `LISTEN`/`NOTIFY`, so every process's subscribers hear of every change at once.

use fieldnote_protocol::ServerRole;
use fieldnote_protocol::safety::SafetyEvent;

use crate::auth::Principal;
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::params;

/// The PostgreSQL notification channel.
pub const CHANNEL: &str = "fieldnote_safety";

/// Wakes subscribers when the event log grows.
#[derive(Debug)]
pub struct Hub {
    tx: tokio::sync::watch::Sender<i64>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            tx: tokio::sync::watch::channel(0).0,
        }
    }
}

impl Hub {
    /// Tells subscribers the log reached `seq` (0 when unknown: they read to find out).
    pub fn wake(&self, seq: i64) {
        self.tx.send_modify(|v| *v = (*v + 1).max(seq));
    }

    /// A receiver that changes whenever [`Hub::wake`] is called.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.tx.subscribe()
    }
}

/// Appends an event within `tx` and returns its number.
pub fn append(
    tx: &mut dyn Tx,
    at: i64,
    team_id: &str,
    worker_id: &str,
    event: &SafetyEvent,
) -> Result<i64> {
    let seq = tx.next_counter("safety_events", 1)?;
    let mut event = event.clone();
    event.seq = seq;
    let body = serde_json::to_string(&event).map_err(|e| Error::Internal(e.to_string()))?;
    tx.exec(
        "INSERT INTO safety_events (seq, at, team_id, worker_id, body) VALUES ($1, $2, $3, $4, $5)",
        params![seq, at, team_id, worker_id, body],
    )?;
    if !tx.for_update().is_empty() {
        // Delivered by PostgreSQL on commit, to every listening process.
        tx.exec(
            "SELECT pg_notify($1, $2)",
            params![CHANNEL, seq.to_string()],
        )?;
    }
    Ok(seq)
}

/// The SQL condition (on columns `team_id` and `worker_id`) and its parameter that limit
/// alarms, sessions and events to what `p` may see (the columns prefixed with `alias`, such
/// as `a.`), bound to `$1`: their own (worker), their team's
/// (supervisor), their agency's (director); administrators see none.
pub fn scope(p: &Principal, agency: Option<&str>, alias: &str) -> (String, String) {
    match p.role {
        ServerRole::Worker => (format!("{alias}worker_id = $1"), p.user_id.clone()),
        ServerRole::Supervisor => (
            format!("{alias}team_id = $1"),
            p.team_id.clone().unwrap_or_default(),
        ),
        ServerRole::ProgramDirector => (
            format!("{alias}team_id IN (SELECT id FROM teams WHERE agency_id = $1)"),
            agency.unwrap_or_default().to_string(),
        ),
        ServerRole::Administrator => ("1 = 0 AND $1 = ''".into(), String::new()),
    }
}

/// Events after `after` that `p` may see, oldest first, at most `limit`.
pub fn read_after(
    tx: &mut dyn Tx,
    p: &Principal,
    agency: Option<&str>,
    after: i64,
    limit: i64,
) -> Result<Vec<SafetyEvent>> {
    let (cond, arg) = scope(p, agency, "");
    let rows = tx.query(
        &format!("SELECT body FROM safety_events WHERE {cond} AND seq > $2 ORDER BY seq LIMIT $3"),
        params![arg, after, limit],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let event: SafetyEvent = serde_json::from_str(&r[0].text())
            .map_err(|e| Error::Internal(format!("stored safety event unreadable: {e}")))?;
        // A worker's own stream never shows their silent alarms.
        let silent = event.alarm.as_ref().is_some_and(|a| a.kind.is_silent());
        if !(silent && p.role == ServerRole::Worker) {
            out.push(event);
        }
    }
    Ok(out)
}

/// The newest event number.
pub fn latest(tx: &mut dyn Tx) -> Result<i64> {
    Ok(tx.query_one(
        "SELECT value FROM counters WHERE name = 'safety_events'",
        params![],
    )?[0]
        .int())
}

/// Listens on PostgreSQL for events committed by any process and wakes `hub`, on a thread
/// of its own that reconnects after a lost connection and ends when the hub is dropped.
pub fn listen_postgres(url: String, hub: &std::sync::Arc<Hub>) {
    let hub = std::sync::Arc::downgrade(hub);
    let spawned = std::thread::Builder::new()
        .name("safety-listen".into())
        .spawn(move || {
            while hub.strong_count() > 0 {
                match postgres::Client::connect(&url, postgres::NoTls) {
                    Ok(mut client) => match client.batch_execute(&format!("LISTEN {CHANNEL}")) {
                        Ok(()) => listen(&mut client, &hub),
                        Err(e) => tracing::error!(error = %e, "safety LISTEN failed"),
                    },
                    Err(e) => tracing::warn!(error = %e, "safety LISTEN cannot connect"),
                }
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the safety listener");
    }
}

/// Relays notifications to `hub` until the connection is lost or the hub is dropped.
fn listen(client: &mut postgres::Client, hub: &std::sync::Weak<Hub>) {
    use postgres::fallible_iterator::FallibleIterator;
    let wake = |seq| {
        if let Some(h) = hub.upgrade() {
            h.wake(seq);
        }
    };
    // Anything committed while disconnected is read from the log.
    wake(0);
    // A quiet second ends each wait, to notice a dropped hub or a closed connection.
    while hub.strong_count() > 0 && !client.is_closed() {
        let mut notifications = client.notifications();
        let mut it = notifications.timeout_iter(std::time::Duration::from_secs(1));
        loop {
            match it.next() {
                Ok(Some(n)) => wake(n.payload().parse().unwrap_or(0)),
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "safety LISTEN connection lost");
                    return;
                }
            }
        }
    }
}
