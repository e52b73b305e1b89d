//! The sync schedule and the distress follow loop for the shells: the core's pure state
//! machines (`fieldnote_core::policy`) behind a mutex each, so that the Kotlin and Swift
//! shells keep only their timers and platform calls (sleeping, the network calls, the
//! dialer) and make no decision of their own. Nothing here reads a clock: the shells pass
//! `now_ms` with every call.

use std::sync::{Arc, Mutex};

use fieldnote_core::policy::{AlarmFollow, SyncPolicy};
pub use fieldnote_core::policy::{
    AlarmFollowConfig, AlarmProgress, FollowState, FollowStep, SyncDecision, SyncPolicyConfig,
};

use crate::safety::AlarmState;
use crate::store::lock;

/// An agency's tuning of the sync schedule; [`default_sync_policy_config`] gives the
/// defaults. Durations are milliseconds; a negative one counts as 0.
#[uniffi::remote(Record)]
pub struct SyncPolicyConfig {
    /// Wait this long after a write before syncing, so a burst of edits goes in one sync.
    /// Default 5000 (5 s).
    #[uniffi(default = 5000)]
    pub after_write_ms: i64,
    /// Sync at least this often while online. Default 900000 (15 minutes).
    #[uniffi(default = 900000)]
    pub periodic_ms: i64,
    /// The backoff after the first failed sync; it doubles with each further failure.
    /// Default 5000 (5 s).
    #[uniffi(default = 5000)]
    pub first_backoff_ms: i64,
    /// The longest backoff, and the wait after a failure retrying cannot fix (sign-in
    /// needed). Default 900000 (15 minutes).
    #[uniffi(default = 900000)]
    pub max_backoff_ms: i64,
    /// Up to this share of each backoff, in percent (0 to 100), is cut at random so that
    /// phones that failed together do not retry together: the wait lies in
    /// `[backoff × (1 − jitter), backoff]`. Default 20.
    #[uniffi(default = 20)]
    pub jitter_percent: u8,
}

/// What the sync scheduler should do now.
#[uniffi::remote(Enum)]
pub enum SyncDecision {
    /// Start a sync now, then report its outcome.
    SyncNow,
    /// Sleep until `at_ms`, or until a write or a connectivity change wakes the scheduler,
    /// and ask again.
    WaitUntil {
        /// When the next sync is due (ms).
        at_ms: i64,
    },
    /// Offline: sleep until a connectivity change wakes the scheduler.
    WaitForNetwork,
}

/// How often a followed alarm is looked at; [`default_alarm_follow_config`] gives the
/// default.
#[uniffi::remote(Record)]
pub struct AlarmFollowConfig {
    /// Milliseconds between two looks at the alarm (and between two delivery attempts while
    /// it is not sent). Default 2000 (2 s).
    #[uniffi(default = 2000)]
    pub poll_ms: i64,
}

/// Where an alarm stands, as the safety store or the server reports it (an
/// [`AlarmState`]'s `status`).
#[uniffi::remote(Enum)]
pub enum AlarmProgress {
    /// Saved on the phone, not yet received by the server (`pending`).
    Pending,
    /// The server has it and is escalating (`raised`).
    Sent,
    /// Someone took ownership: help is coming (`acknowledged`).
    Acknowledged,
    /// Closed by a supervisor (`resolved`); counts as acknowledged.
    Resolved,
    /// The server refused it (`refused`): the safety store reports its fallback due at once.
    Refused,
}

/// What the shell following an alarm should do next.
#[uniffi::remote(Enum)]
pub enum FollowStep {
    /// Send the alarm now (one attempt, `deliver_safety(0)`), then report `delivered` or
    /// `delivery_failed`.
    Deliver,
    /// At `at_ms` (now, if that has passed), look at the alarm: `refresh_alarm` (the device's
    /// `alarm` when that fails) and report `observed_alarm`; then, if `fallbacks_due` lists
    /// the alarm, report `fallback_due`.
    Poll {
        /// When to look (ms).
        at_ms: i64,
    },
    /// Place the fallback now: a text without sound or screen when `silent`, else a call.
    /// Then `fallback_taken` on the store and on the machine.
    FallBack {
        /// Discreet and duress alarms: nothing may show or sound.
        silent: bool,
    },
    /// Following is over: acknowledged (by `acknowledged_by`, when the server named
    /// someone), or the fallback was placed (`acknowledged_by` absent).
    Done {
        /// Who acknowledged the alarm.
        acknowledged_by: Option<String>,
    },
}

/// Where a followed alarm stands, as the distress screen shows it.
#[uniffi::remote(Enum)]
pub enum FollowState {
    /// Saved on the phone; not yet on the server.
    Saved,
    /// The server has it; supervisors are being paged.
    Sent,
    /// Someone acknowledged (or closed) it: help is coming. Final.
    Acknowledged {
        /// Who, when the server named someone.
        acknowledged_by: Option<String>,
    },
    /// Nobody acknowledged in time (or the server refused it): the fallback was placed.
    /// Final.
    FellBack {
        /// Whether it was the silent fallback (a text, not a call).
        silent: bool,
    },
}

/// The documented sync defaults: 5 s after a write, every 15 minutes while online, and
/// after failures 5 s doubling to 15 minutes, up to 20 % shorter at random.
#[uniffi::export]
pub fn default_sync_policy_config() -> SyncPolicyConfig {
    SyncPolicyConfig::default()
}

/// The documented distress default: look at a followed alarm every 2 seconds.
#[uniffi::export]
pub fn default_alarm_follow_config() -> AlarmFollowConfig {
    AlarmFollowConfig::default()
}

/// When to sync: the core's `SyncPolicy`. The scheduler reports writes, connectivity and
/// sync outcomes with the time, and sleeps as [`SyncScheduleMachine::step`] says.
#[derive(uniffi::Object)]
pub struct SyncScheduleMachine {
    policy: Mutex<SyncPolicy>,
}

#[uniffi::export]
impl SyncScheduleMachine {
    /// A schedule with `config`, online, with a sync due at once. `seed` drives the jitter:
    /// give each phone a random one (the same seed gives the same waits).
    #[uniffi::constructor]
    pub fn new(config: SyncPolicyConfig, seed: u64) -> Arc<Self> {
        Arc::new(SyncScheduleMachine {
            policy: Mutex::new(SyncPolicy::new(config, seed)),
        })
    }

    /// The link changed; coming back online forgets the failures and makes a sync due at
    /// once.
    pub fn on_connectivity(&self, online: bool, now_ms: i64) {
        lock(&self.policy).on_connectivity(online, now_ms);
    }

    /// Something was saved locally: a sync is due `after_write_ms` later.
    pub fn on_write(&self, now_ms: i64) {
        lock(&self.policy).on_write(now_ms);
    }

    /// A sync finished; the backoff starts again from the beginning.
    pub fn on_sync_succeeded(&self, now_ms: i64) {
        lock(&self.policy).on_sync_succeeded(now_ms);
    }

    /// A sync failed; `retryable` is false when retrying cannot help (sign-in needed), and
    /// then the wait is the longest backoff.
    pub fn on_sync_failed(&self, now_ms: i64, retryable: bool) {
        lock(&self.policy).on_sync_failed(now_ms, retryable);
    }

    /// The backoff for the failures so far, before jitter (0 with none).
    pub fn backoff_ms(&self) -> i64 {
        lock(&self.policy).backoff_ms()
    }

    /// The wait after the last failure, jitter included (0 with none).
    pub fn retry_wait_ms(&self) -> i64 {
        lock(&self.policy).retry_wait_ms()
    }

    /// When the next sync should start (ms), or none while offline.
    pub fn next_sync_at_ms(&self, now_ms: i64) -> Option<i64> {
        lock(&self.policy).next_sync_at_ms(now_ms)
    }

    /// Whether a sync should start now.
    pub fn should_sync_now(&self, now_ms: i64) -> bool {
        lock(&self.policy).should_sync_now(now_ms)
    }

    /// What to do now: sync, sleep until a time, or sleep until the network returns.
    pub fn step(&self, now_ms: i64) -> SyncDecision {
        lock(&self.policy).step(now_ms)
    }
}

/// Follows one alarm to "help is coming" or the fallback: the core's `AlarmFollow`. The
/// shell asks [`AlarmFollowMachine::next`], does what it says (see [`FollowStep`]) and
/// reports what happened with the time.
#[derive(uniffi::Object)]
pub struct AlarmFollowMachine {
    follow: Mutex<AlarmFollow>,
}

#[uniffi::export]
impl AlarmFollowMachine {
    /// Starts following an alarm saved on the phone; the first step is to send it.
    #[uniffi::constructor]
    pub fn new(config: AlarmFollowConfig) -> Arc<Self> {
        Arc::new(AlarmFollowMachine {
            follow: Mutex::new(AlarmFollow::new(config)),
        })
    }

    /// What to do next.
    pub fn next(&self, now_ms: i64) -> FollowStep {
        lock(&self.follow).next(now_ms)
    }

    /// Where the alarm stands.
    pub fn state(&self) -> FollowState {
        lock(&self.follow).state().clone()
    }

    /// Whether following is over (acknowledged, or the fallback placed).
    pub fn is_done(&self) -> bool {
        lock(&self.follow).is_done()
    }

    /// The server recorded the alarm (`deliver_safety` returned).
    pub fn delivered(&self, now_ms: i64) {
        lock(&self.follow).delivered(now_ms);
    }

    /// The alarm could not be sent now; it is tried again after the next look.
    pub fn delivery_failed(&self, now_ms: i64) {
        lock(&self.follow).delivery_failed(now_ms);
    }

    /// How the alarm stands, and who acknowledged it.
    pub fn observed(&self, progress: AlarmProgress, acknowledged_by: Option<String>, now_ms: i64) {
        lock(&self.follow).observed(progress, acknowledged_by, now_ms);
    }

    /// How the alarm stands, from the store's view of it (`alarm` or `refresh_alarm`).
    pub fn observed_alarm(&self, alarm: AlarmState, now_ms: i64) {
        lock(&self.follow).observed(alarm.status, alarm.acknowledged_by, now_ms);
    }

    /// `fallbacks_due` lists the alarm (`silent` as it says).
    pub fn fallback_due(&self, silent: bool, now_ms: i64) {
        lock(&self.follow).fallback_due(silent, now_ms);
    }

    /// The shell placed the fallback and recorded it with the store's `fallback_taken`.
    pub fn fallback_taken(&self, now_ms: i64) {
        lock(&self.follow).fallback_taken(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machines_follow_the_core() {
        let sync = SyncScheduleMachine::new(default_sync_policy_config(), 1);
        assert_eq!(sync.step(0), SyncDecision::SyncNow);
        sync.on_connectivity(false, 1);
        assert_eq!(sync.step(1), SyncDecision::WaitForNetwork);

        let follow = AlarmFollowMachine::new(default_alarm_follow_config());
        assert_eq!(follow.next(0), FollowStep::Deliver);
        follow.delivered(0);
        follow.observed(AlarmProgress::Acknowledged, Some("sam".into()), 10);
        assert!(follow.is_done());
        assert_eq!(
            follow.state(),
            FollowState::Acknowledged {
                acknowledged_by: Some("sam".into())
            }
        );
    }
}
