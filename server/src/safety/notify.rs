//! Outbound alerts to people who are not looking at a screen: pager, SMS or phone gateways.
//!
//! Escalation writes a notice row in the same transaction that changes the alarm; a
//! deliverer then claims undelivered notices, hands them to the [`Notifier`] outside any
//! transaction, and marks them delivered, so a crash in between sends a notice again (after
//! the claim lapses) rather than never. Several server processes
//! share the work with row locks (`SKIP LOCKED` on PostgreSQL). Notices carry ids and a
//! reason, never record content.

use std::sync::Mutex;

use crate::db::Db;
use crate::error::Result;
use crate::params;

/// One alert to one person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The notice's id (a gateway can use it to drop duplicates).
    pub id: String,
    /// The alarm.
    pub alarm_id: String,
    /// Who is alerted (user id).
    pub user_id: String,
    /// The ladder tier (1 is the first); 0 for a final broadcast to everyone on the ladder.
    pub tier: u32,
    /// Why: `escalation` or `ladder_exhausted`.
    pub reason: String,
}

/// Where notices go. Implementations must not block for long: a gateway call should have
/// its own timeout. Returning an error leaves the notice undelivered for the next attempt.
pub trait Notifier: Send + Sync {
    /// Delivers one notice.
    fn notify(&self, notice: &Notice) -> std::result::Result<(), String>;
}

/// The default notifier: writes each notice (ids only) to the server log. Agencies plug a
/// real pager, SMS or voice gateway in its place.
#[derive(Debug, Default)]
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn notify(&self, n: &Notice) -> std::result::Result<(), String> {
        tracing::warn!(
            notice = %n.id, alarm = %n.alarm_id, user = %n.user_id, tier = n.tier,
            reason = %n.reason, "safety notice"
        );
        Ok(())
    }
}

/// A notifier that keeps every notice, for tests and demos.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    sent: Mutex<Vec<Notice>>,
}

impl RecordingNotifier {
    /// Every notice delivered so far, in order.
    pub fn sent(&self) -> Vec<Notice> {
        self.sent.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Notifier for RecordingNotifier {
    fn notify(&self, n: &Notice) -> std::result::Result<(), String> {
        if let Ok(mut v) = self.sent.lock() {
            v.push(n.clone());
        }
        Ok(())
    }
}

/// How long a process holds a notice it is handing to the gateway before another may.
const CLAIM_MS: i64 = 60_000;

/// Hands undelivered notices to `notifier`; returns how many were delivered. The notices
/// are claimed in one transaction, handed over outside it (a slow gateway holds no database
/// connection or lock), and marked in a second; a failed one is released at once for the
/// next attempt.
pub fn deliver(db: &Db, notifier: &dyn Notifier, now: i64) -> Result<usize> {
    let claimed = db.urgent_tx(|tx| {
        let lock = tx.skip_locked();

        let rows = tx.query(
            &format!(
                "SELECT id, alarm_id, user_id, tier, reason FROM notices
                 WHERE delivered_at IS NULL AND (claimed_until IS NULL OR claimed_until < $1)
                 ORDER BY created_at, id LIMIT 200{lock}"
            ),
            params![now],
        )?;
        let mut claimed = Vec::with_capacity(rows.len());
        for r in rows {
            let notice = Notice {
                id: r[0].text(),
                alarm_id: r[1].text(),
                user_id: r[2].text(),
                tier: r[3].int() as u32,
                reason: r[4].text(),
            };
            tx.exec(
                "UPDATE notices SET claimed_until = $1 WHERE id = $2",
                params![now + CLAIM_MS, &notice.id],
            )?;
            claimed.push(notice);
        }
        Ok(claimed)
    })?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let outcomes: Vec<(String, bool)> = claimed
        .iter()
        .map(|n| match notifier.notify(n) {
            Ok(()) => (n.id.clone(), true),
            Err(e) => {
                tracing::error!(notice = %n.id, error = %e, "notice not delivered");
                (n.id.clone(), false)
            }
        })
        .collect();
    db.urgent_tx(|tx| {
        for (id, ok) in &outcomes {
            if *ok {
                tx.exec(
                    "UPDATE notices SET delivered_at = $1 WHERE id = $2",
                    params![now, id],
                )?;
            } else {
                tx.exec(
                    "UPDATE notices SET claimed_until = NULL WHERE id = $1",
                    params![id],
                )?;
            }
        }
        Ok(())
    })?;
    Ok(outcomes.iter().filter(|(_, ok)| *ok).count())
}
