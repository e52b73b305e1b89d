//! Outbound alerts to people who are not looking at a screen: pager, SMS or phone gateways.
//!
//! Escalation writes a notice row in the same transaction that changes the alarm; a
//! deliverer then hands undelivered notices to the [`Notifier`] and marks them delivered, so
//! a crash between the two sends a notice again rather than never. Several server processes
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

/// Hands undelivered notices to `notifier`; returns how many were delivered.
pub fn deliver(db: &Db, notifier: &dyn Notifier, now: i64) -> Result<usize> {
    db.urgent_tx(|tx| {
        let lock = if tx.for_update().is_empty() {
            ""
        } else {
            " FOR UPDATE SKIP LOCKED"
        };
        let rows = tx.query(
            &format!(
                "SELECT id, alarm_id, user_id, tier, reason FROM notices
                 WHERE delivered_at IS NULL ORDER BY created_at, id LIMIT 200{lock}"
            ),
            params![],
        )?;
        let mut delivered = 0;
        for r in rows {
            let notice = Notice {
                id: r[0].text(),
                alarm_id: r[1].text(),
                user_id: r[2].text(),
                tier: r[3].int() as u32,
                reason: r[4].text(),
            };
            match notifier.notify(&notice) {
                Ok(()) => {
                    tx.exec(
                        "UPDATE notices SET delivered_at = $1 WHERE id = $2",
                        params![now, &notice.id],
                    )?;
                    delivered += 1;
                }
                Err(e) => {
                    tracing::error!(notice = %notice.id, error = %e, "notice not delivered")
                }
            }
        }
        Ok(delivered)
    })
}
