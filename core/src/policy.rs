//! When to sync, and how to see one distress alarm through, as two small state machines with
//! no I/O.
//!
//! Both shells used to carry their own copy of these decisions (a Kotlin and a Swift
//! `SyncPolicy`, a Kotlin and a Swift distress follow loop). They live here once, exported by
//! `fieldnote-ffi`, and the shells keep only their timers and platform calls. Nothing in this
//! module reads a clock, sleeps, spawns a thread or touches the network: every input carries
//! the caller's `now_ms` (milliseconds since the Unix epoch), and every output says what to do
//! next and when, so the decisions are tested exactly.
//!
//! - [`SyncPolicy`] decides when the next sync runs: soon after a write, at once when the
//!   network returns, periodically while online, and after failures with a doubling backoff
//!   shortened by a seeded random jitter, so that phones that failed at the same moment (a
//!   server restart) do not all retry at the same moment.
//! - [`AlarmFollow`] follows one alarm: send it, ask after it until someone acknowledges it,
//!   and fall back to a call or SMS when the safety store says the team's fallback time has
//!   passed (or the server refused the alarm).

/// An agency's tuning of the sync schedule. Durations are milliseconds; a negative duration
/// counts as 0, and a `jitter_percent` above 100 counts as 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncPolicyConfig {
    /// Wait this long after a write before syncing, so a burst of edits goes in one sync.
    /// Default 5 000 (5 s).
    pub after_write_ms: i64,
    /// Sync at least this often while online. Default 900 000 (15 minutes).
    pub periodic_ms: i64,
    /// The backoff after the first failed sync; it doubles with each further failure.
    /// Default 5 000 (5 s).
    pub first_backoff_ms: i64,
    /// The longest backoff, and the wait after a failure that retrying cannot fix (sign-in
    /// needed). Default 900 000 (15 minutes).
    pub max_backoff_ms: i64,
    /// Up to this share of each backoff (in percent) is cut at random, so the wait after a
    /// failure lies in `[backoff × (1 − jitter), backoff]`. 0 turns jitter off; 50 is the
    /// usual "equal jitter", 100 "full jitter". Default 20.
    pub jitter_percent: u8,
}

impl Default for SyncPolicyConfig {
    /// 5 s after a write; every 15 minutes while online; after failures 5 s doubling to 15
    /// minutes, up to 20 % shorter at random.
    fn default() -> Self {
        SyncPolicyConfig {
            after_write_ms: 5_000,
            periodic_ms: 15 * 60_000,
            first_backoff_ms: 5_000,
            max_backoff_ms: 15 * 60_000,
            jitter_percent: 20,
        }
    }
}

/// What the sync scheduler should do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncDecision {
    /// Start a sync now, then report its outcome.
    SyncNow,
    /// Sleep until `at_ms`, or until woken by a write or a connectivity change, and ask again.
    WaitUntil {
        /// When the next sync is due (ms).
        at_ms: i64,
    },
    /// Offline: sleep until a connectivity change wakes the scheduler.
    WaitForNetwork,
}

/// The backoff after `failures` consecutive failures: none after none, `first_ms` after one,
/// doubling with each further failure and never above `max_ms` (negative values count as 0).
/// The same doubling as the client's `Backoff` (whose attempt `n` is `failures = n + 1`).
pub fn doubled_backoff_ms(first_ms: i64, max_ms: i64, failures: u32) -> i64 {
    if failures == 0 {
        return 0;
    }
    let doublings = (failures - 1).min(62);
    first_ms
        .max(0)
        .saturating_mul(1i64 << doublings)
        .min(max_ms.max(0))
}

/// A failure count that keeps the backoff at its maximum (a failure retrying cannot fix).
const GIVE_UP_FAILURES: u32 = u32::MAX / 2;

/// Decides when the next sync runs. Pure: the scheduler feeds it what happened, with the
/// time, and asks [`SyncPolicy::step`] what to do.
///
/// - A write makes a sync due `after_write_ms` later (the first write of a burst counts).
/// - While online a sync is due `periodic_ms` after the last success (at once if none yet).
/// - After a failure nothing runs before the failure's wait has passed: the doubled backoff
///   ([`doubled_backoff_ms`]) shortened by a random cut of up to `jitter_percent`, drawn once
///   per failure from a generator seeded at construction. A failure retrying cannot fix
///   waits exactly `max_backoff_ms`.
/// - Offline nothing runs; coming back online forgets the failures and makes a sync due at
///   once.
#[derive(Clone, Debug)]
pub struct SyncPolicy {
    config: SyncPolicyConfig,
    rng: SplitMix64,
    online: bool,
    last_success_ms: Option<i64>,
    dirty_since_ms: Option<i64>,
    failures: u32,
    last_failure_ms: Option<i64>,
    retry_wait_ms: i64,
}

impl SyncPolicy {
    /// A policy with `config`, online, with nothing synced yet (so a sync is due at once).
    /// `seed` drives the jitter: give each phone its own (random) seed; the same seed gives
    /// the same waits.
    pub fn new(config: SyncPolicyConfig, seed: u64) -> SyncPolicy {
        let config = SyncPolicyConfig {
            after_write_ms: config.after_write_ms.max(0),
            periodic_ms: config.periodic_ms.max(0),
            first_backoff_ms: config.first_backoff_ms.max(0),
            max_backoff_ms: config.max_backoff_ms.max(0),
            jitter_percent: config.jitter_percent.min(100),
        };
        SyncPolicy {
            config,
            rng: SplitMix64(seed),
            online: true,
            last_success_ms: None,
            dirty_since_ms: None,
            failures: 0,
            last_failure_ms: None,
            retry_wait_ms: 0,
        }
    }

    /// The configuration in use (after the clamping [`SyncPolicyConfig`] describes).
    pub fn config(&self) -> SyncPolicyConfig {
        self.config
    }

    /// The link changed. Coming back online forgets the failures and makes a sync due at once
    /// (pending work or not: the server may have news).
    pub fn on_connectivity(&mut self, online: bool, now_ms: i64) {
        if online && !self.online {
            self.failures = 0;
            self.last_failure_ms = None;
            self.retry_wait_ms = 0;
            self.dirty_since_ms = self.dirty_since_ms.or(Some(now_ms));
            self.last_success_ms = None;
        }
        self.online = online;
    }

    /// Something was saved locally: a sync is due `after_write_ms` after the first unsynced
    /// write.
    pub fn on_write(&mut self, now_ms: i64) {
        self.dirty_since_ms = self.dirty_since_ms.or(Some(now_ms));
    }

    /// A sync finished: the next is due `periodic_ms` later (or sooner after a write), and
    /// the backoff starts again from the beginning.
    pub fn on_sync_succeeded(&mut self, now_ms: i64) {
        self.last_success_ms = Some(now_ms);
        self.dirty_since_ms = None;
        self.failures = 0;
        self.last_failure_ms = None;
        self.retry_wait_ms = 0;
    }

    /// A sync failed. `retryable` is false when retrying cannot help (sign-in needed): then
    /// the wait is exactly `max_backoff_ms`. Otherwise the wait is this failure's doubled
    /// backoff less a random cut of up to `jitter_percent` of it.
    pub fn on_sync_failed(&mut self, now_ms: i64, retryable: bool) {
        self.last_failure_ms = Some(now_ms);
        if retryable {
            self.failures = self.failures.saturating_add(1);
            let backoff = self.backoff_ms();
            self.retry_wait_ms = backoff - self.jitter_cut(backoff);
        } else {
            self.failures = GIVE_UP_FAILURES;
            self.retry_wait_ms = self.backoff_ms();
        }
    }

    /// The backoff for the failures so far, before jitter: 0 with none, then
    /// `first_backoff_ms` doubling up to `max_backoff_ms`.
    pub fn backoff_ms(&self) -> i64 {
        doubled_backoff_ms(
            self.config.first_backoff_ms,
            self.config.max_backoff_ms,
            self.failures,
        )
    }

    /// The wait after the last failure, jitter included (0 with no failure since the last
    /// success or reconnection). Lies in `[backoff_ms × (1 − jitter), backoff_ms]`.
    pub fn retry_wait_ms(&self) -> i64 {
        self.retry_wait_ms
    }

    /// When the next sync should start (ms), or `None` while offline. May be in the past: the
    /// sync is overdue.
    pub fn next_sync_at_ms(&self, now_ms: i64) -> Option<i64> {
        if !self.online {
            return None;
        }
        let mut at = match self.last_success_ms {
            Some(success) => success.saturating_add(self.config.periodic_ms),
            None => now_ms,
        };
        if let Some(dirty) = self.dirty_since_ms {
            at = at.min(dirty.saturating_add(self.config.after_write_ms));
        }
        if let Some(failed) = self.last_failure_ms {
            at = at.max(failed.saturating_add(self.retry_wait_ms));
        }
        Some(at)
    }

    /// Whether a sync should start now.
    pub fn should_sync_now(&self, now_ms: i64) -> bool {
        self.next_sync_at_ms(now_ms).is_some_and(|at| at <= now_ms)
    }

    /// What the scheduler should do now: sync, sleep until a time, or sleep until the
    /// network returns. Writes and connectivity changes should wake a sleeping scheduler so
    /// it asks again.
    pub fn step(&self, now_ms: i64) -> SyncDecision {
        match self.next_sync_at_ms(now_ms) {
            None => SyncDecision::WaitForNetwork,
            Some(at) if at <= now_ms => SyncDecision::SyncNow,
            Some(at) => SyncDecision::WaitUntil { at_ms: at },
        }
    }

    /// A random cut in `[0, backoff × jitter_percent / 100]`, from one draw.
    fn jitter_cut(&mut self, backoff: i64) -> i64 {
        let draw = self.rng.next_u64();
        let jitter = i64::from(self.config.jitter_percent);
        // backoff × jitter / 100, rounded down, without overflowing.
        let span = backoff / 100 * jitter + backoff % 100 * jitter / 100;
        if span <= 0 {
            return 0;
        }
        (draw % (span as u64 + 1)) as i64
    }
}

/// Sebastiano Vigna's splitmix64: a tiny, fast generator, plenty for spreading retries (not
/// for anything secret). Deterministic for a seed, so tests are exact.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// How often a followed alarm is looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlarmFollowConfig {
    /// Milliseconds between two looks at an alarm (and between two delivery attempts while
    /// it is not sent). A negative value counts as 0. Default 2 000 (2 s).
    pub poll_ms: i64,
}

impl Default for AlarmFollowConfig {
    /// Every 2 seconds.
    fn default() -> Self {
        AlarmFollowConfig { poll_ms: 2_000 }
    }
}

/// Where an alarm stands, as the safety store or the server reports it (the store's
/// `AlarmStatus`; there is no cancelled alarm: a mistaken press is resolved by a supervisor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlarmProgress {
    /// Saved on the phone, not yet received by the server (`pending`).
    Pending,
    /// The server has it and is escalating (`raised`).
    Sent,
    /// Someone took ownership: help is coming (`acknowledged`).
    Acknowledged,
    /// Closed by a supervisor (`resolved`); counts as acknowledged.
    Resolved,
    /// The server refused it (`refused`): nobody is paged, and the safety store reports its
    /// fallback due at once.
    Refused,
}

/// What the shell following an alarm should do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FollowStep {
    /// Send the alarm now (one attempt), then report [`AlarmFollow::delivered`] or
    /// [`AlarmFollow::delivery_failed`].
    Deliver,
    /// At `at_ms` (now, if that has passed), look at the alarm: ask the server how it stands
    /// (the device's own view when that fails) and report [`AlarmFollow::observed`]; then ask
    /// the safety store whether its fallback is due and, if so, report
    /// [`AlarmFollow::fallback_due`].
    Poll {
        /// When to look (ms).
        at_ms: i64,
    },
    /// Place the fallback now: a text to the on-call number without sound or screen when
    /// `silent`, else a call. Then record it in the safety store and report
    /// [`AlarmFollow::fallback_taken`].
    FallBack {
        /// Discreet and duress alarms: nothing may show or sound.
        silent: bool,
    },
    /// Following is over: the alarm was acknowledged (by `acknowledged_by`, when the server
    /// named someone) or the fallback was placed (`acknowledged_by` is `None`).
    Done {
        /// Who acknowledged the alarm.
        acknowledged_by: Option<String>,
    },
}

/// Where a followed alarm stands, as the distress screen shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FollowState {
    /// Saved on the phone; not yet on the server.
    Saved,
    /// The server has it; supervisors are being paged.
    Sent,
    /// Someone acknowledged it (or closed it): help is coming. Final.
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

/// Follows one alarm from the press to "help is coming" or the fallback. Pure: the shell
/// asks [`AlarmFollow::next`] what to do, does it (sending, polling, dialing, sleeping), and
/// reports what happened with the time.
///
/// Transitions (inputs on a final state — `Acknowledged` or `FellBack` — change nothing):
///
/// | input | effect |
/// |---|---|
/// | start | `Saved`, a delivery attempt due |
/// | `delivered` | `Saved` → `Sent`; look at the alarm at once |
/// | `delivery_failed` | look again (and then try again) `poll_ms` later |
/// | `observed(Pending)` | still `Saved`: try to send again; look again `poll_ms` later |
/// | `observed(Sent)` | `Saved` → `Sent` (someone else sent it); look again `poll_ms` later |
/// | `observed(Acknowledged or Resolved)` | → `Acknowledged` (final); a due fallback is dropped |
/// | `observed(Refused)` | no more delivery attempts; the store reports the fallback due |
/// | `fallback_due(silent)` | the fallback is due, before anything else |
/// | `fallback_taken` | after `fallback_due`: → `FellBack` (final) |
///
/// [`AlarmFollow::next`] then answers, in this order: `Done` on a final state; `FallBack`
/// when a fallback is due; `Deliver` when the alarm is `Saved` and an attempt is due; else
/// `Poll` at the next look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlarmFollow {
    poll_ms: i64,
    state: FollowState,
    delivery_due: bool,
    next_poll_at_ms: Option<i64>,
    /// `Some(silent)` while a fallback is due and not yet placed.
    fallback: Option<bool>,
}

impl AlarmFollow {
    /// Starts following an alarm just saved on the phone: the first step is to send it.
    pub fn new(config: AlarmFollowConfig) -> AlarmFollow {
        AlarmFollow {
            poll_ms: config.poll_ms.max(0),
            state: FollowState::Saved,
            delivery_due: true,
            next_poll_at_ms: None,
            fallback: None,
        }
    }

    /// Where the alarm stands.
    pub fn state(&self) -> &FollowState {
        &self.state
    }

    /// Whether following is over (acknowledged, or the fallback placed).
    pub fn is_done(&self) -> bool {
        matches!(
            self.state,
            FollowState::Acknowledged { .. } | FollowState::FellBack { .. }
        )
    }

    /// What to do next (see the type's table for the order).
    pub fn next(&self, now_ms: i64) -> FollowStep {
        match &self.state {
            FollowState::Acknowledged { acknowledged_by } => {
                return FollowStep::Done {
                    acknowledged_by: acknowledged_by.clone(),
                };
            }
            FollowState::FellBack { .. } => {
                return FollowStep::Done {
                    acknowledged_by: None,
                };
            }
            FollowState::Saved | FollowState::Sent => {}
        }
        if let Some(silent) = self.fallback {
            return FollowStep::FallBack { silent };
        }
        if self.state == FollowState::Saved && self.delivery_due {
            return FollowStep::Deliver;
        }
        FollowStep::Poll {
            at_ms: self.next_poll_at_ms.unwrap_or(now_ms),
        }
    }

    /// The server recorded the alarm: `Saved` → `Sent`, and the next look is at once.
    pub fn delivered(&mut self, now_ms: i64) {
        if self.state == FollowState::Saved {
            self.state = FollowState::Sent;
            self.delivery_due = false;
            self.next_poll_at_ms = Some(now_ms);
        }
    }

    /// The alarm could not be sent now (no network, no server): look again `poll_ms` later,
    /// then try again.
    pub fn delivery_failed(&mut self, now_ms: i64) {
        if self.state == FollowState::Saved {
            self.delivery_due = false;
            self.next_poll_at_ms = Some(now_ms.saturating_add(self.poll_ms));
        }
    }

    /// How the alarm stands (from the server, or the device's own view when the server could
    /// not be asked). The next look is `poll_ms` later.
    pub fn observed(
        &mut self,
        progress: AlarmProgress,
        acknowledged_by: Option<String>,
        now_ms: i64,
    ) {
        if self.is_done() {
            return;
        }
        self.next_poll_at_ms = Some(now_ms.saturating_add(self.poll_ms));
        match progress {
            AlarmProgress::Pending => {
                if self.state == FollowState::Saved {
                    self.delivery_due = true;
                }
            }
            AlarmProgress::Sent => {
                self.state = FollowState::Sent;
                self.delivery_due = false;
            }
            AlarmProgress::Acknowledged | AlarmProgress::Resolved => {
                self.state = FollowState::Acknowledged { acknowledged_by };
                self.fallback = None;
            }
            AlarmProgress::Refused => self.delivery_due = false,
        }
    }

    /// The safety store reports the alarm's fallback due (`silent` for discreet and duress
    /// alarms). `now_ms` is taken for a uniform shape; the store has already judged the time.
    pub fn fallback_due(&mut self, silent: bool, now_ms: i64) {
        let _ = now_ms;
        if !self.is_done() {
            self.fallback = Some(silent);
        }
    }

    /// The shell placed the fallback [`FollowStep::FallBack`] asked for (and recorded it in the
    /// safety store): → `FellBack`. Ignored when no fallback was due. `now_ms` is taken for a
    /// uniform shape.
    pub fn fallback_taken(&mut self, now_ms: i64) {
        let _ = now_ms;
        if self.is_done() {
            return;
        }
        if let Some(silent) = self.fallback.take() {
            self.state = FollowState::FellBack { silent };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact() -> SyncPolicyConfig {
        SyncPolicyConfig {
            after_write_ms: 5_000,
            periodic_ms: 900_000,
            first_backoff_ms: 5_000,
            max_backoff_ms: 60_000,
            jitter_percent: 0,
        }
    }

    fn jittered() -> SyncPolicyConfig {
        SyncPolicyConfig {
            jitter_percent: 20,
            ..exact()
        }
    }

    /// The waits after `n` failures in a row (one every 1 000 000 ms).
    fn waits(seed: u64, n: i64) -> Vec<i64> {
        let mut p = SyncPolicy::new(jittered(), seed);
        (0..n)
            .map(|i| {
                p.on_sync_failed(i * 1_000_000, true);
                p.retry_wait_ms()
            })
            .collect()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let d = SyncPolicyConfig::default();
        assert_eq!(d.after_write_ms, 5_000);
        assert_eq!(d.periodic_ms, 900_000);
        assert_eq!(d.first_backoff_ms, 5_000);
        assert_eq!(d.max_backoff_ms, 900_000);
        assert_eq!(d.jitter_percent, 20);
        assert_eq!(AlarmFollowConfig::default().poll_ms, 2_000);
    }

    #[test]
    fn a_new_policy_syncs_at_once() {
        let p = SyncPolicy::new(exact(), 1);
        assert!(p.should_sync_now(0));
        assert_eq!(p.step(0), SyncDecision::SyncNow);
    }

    #[test]
    fn a_write_syncs_after_write_ms() {
        let mut p = SyncPolicy::new(exact(), 1);
        p.on_sync_succeeded(0);
        assert_eq!(p.next_sync_at_ms(1), Some(900_000));
        p.on_write(10_000);
        p.on_write(12_000); // a burst: the first write counts
        assert_eq!(p.next_sync_at_ms(12_001), Some(15_000));
        assert_eq!(p.step(14_999), SyncDecision::WaitUntil { at_ms: 15_000 });
        assert!(!p.should_sync_now(14_999));
        assert_eq!(p.step(15_000), SyncDecision::SyncNow);
    }

    #[test]
    fn offline_waits_for_the_network_and_back_online_syncs_now() {
        let mut p = SyncPolicy::new(exact(), 1);
        p.on_sync_succeeded(0);
        p.on_sync_failed(1_000, true);
        p.on_connectivity(false, 2_000);
        assert_eq!(p.step(2_000), SyncDecision::WaitForNetwork);
        assert_eq!(p.next_sync_at_ms(2_000), None);
        assert!(!p.should_sync_now(2_000));
        p.on_write(3_000);
        assert_eq!(p.step(900_000), SyncDecision::WaitForNetwork);
        p.on_connectivity(true, 4_000);
        assert_eq!(p.step(4_000), SyncDecision::SyncNow);
        assert_eq!(p.backoff_ms(), 0, "the failures are forgotten");
        // Staying online changes nothing.
        p.on_sync_succeeded(5_000);
        p.on_connectivity(true, 6_000);
        assert_eq!(p.next_sync_at_ms(6_000), Some(905_000));
    }

    #[test]
    fn failures_double_up_to_the_max() {
        let mut p = SyncPolicy::new(exact(), 1);
        let mut seen = Vec::new();
        for _ in 0..7 {
            p.on_sync_failed(0, true);
            seen.push(p.backoff_ms());
            assert_eq!(p.retry_wait_ms(), p.backoff_ms(), "no jitter at 0 %");
        }
        assert_eq!(
            seen,
            [5_000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000]
        );
        assert_eq!(p.next_sync_at_ms(1), Some(60_000));
        assert_eq!(p.step(59_999), SyncDecision::WaitUntil { at_ms: 60_000 });
        assert_eq!(p.step(60_000), SyncDecision::SyncNow);
        // A failure delays even an overdue write.
        let mut p = SyncPolicy::new(exact(), 1);
        p.on_sync_succeeded(0);
        p.on_write(10_000);
        p.on_sync_failed(15_000, true);
        assert_eq!(p.next_sync_at_ms(15_001), Some(20_000));
        p.on_sync_failed(20_000, true);
        assert_eq!(p.next_sync_at_ms(20_001), Some(30_000));
    }

    #[test]
    fn doubling_saturates() {
        assert_eq!(doubled_backoff_ms(5_000, 60_000, 0), 0);
        assert_eq!(doubled_backoff_ms(5_000, 60_000, 1), 5_000);
        assert_eq!(doubled_backoff_ms(5_000, i64::MAX, u32::MAX), i64::MAX);
        assert_eq!(doubled_backoff_ms(-5, 60_000, 3), 0);
        assert_eq!(doubled_backoff_ms(5_000, 1_000, 1), 1_000);
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        for seed in [0, 1, 2, 42, u64::MAX] {
            let mut p = SyncPolicy::new(jittered(), seed);
            for i in 0..12 {
                let t = i * 1_000_000;
                p.on_sync_failed(t, true);
                let backoff = p.backoff_ms();
                let wait = p.retry_wait_ms();
                let least = backoff - backoff / 5;
                assert!(
                    (least..=backoff).contains(&wait),
                    "seed {seed}: {wait} outside [{least}, {backoff}]"
                );
                assert_eq!(p.next_sync_at_ms(t), Some(t + wait));
            }
        }
        let mut full = SyncPolicy::new(
            SyncPolicyConfig {
                jitter_percent: 255,
                ..exact()
            },
            9,
        );
        for _ in 0..20 {
            full.on_sync_failed(0, true);
            assert!((0..=full.backoff_ms()).contains(&full.retry_wait_ms()));
        }
    }

    #[test]
    fn jitter_differs_between_seeds_and_repeats_for_a_seed() {
        assert_eq!(waits(1, 8), waits(1, 8));
        assert_ne!(waits(1, 8), waits(2, 8));
        // The two phones do not retry in lockstep.
        let a = waits(7, 8);
        let b = waits(8, 8);
        assert!(a.iter().zip(&b).any(|(x, y)| x != y));
    }

    #[test]
    fn a_failure_retrying_cannot_fix_waits_the_max() {
        let mut p = SyncPolicy::new(jittered(), 3);
        p.on_sync_succeeded(40_000);
        p.on_write(40_500);
        p.on_sync_failed(41_000, false);
        assert_eq!(p.backoff_ms(), 60_000);
        assert_eq!(p.retry_wait_ms(), 60_000);
        assert_eq!(p.next_sync_at_ms(41_001), Some(101_000));
        // A retryable failure after it stays at the max (less jitter).
        p.on_sync_failed(101_000, true);
        assert_eq!(p.backoff_ms(), 60_000);
        assert!(p.retry_wait_ms() >= 48_000);
    }

    #[test]
    fn success_resets_the_backoff() {
        let mut p = SyncPolicy::new(jittered(), 5);
        for i in 0..5 {
            p.on_sync_failed(i * 100_000, true);
        }
        assert!(p.backoff_ms() > 5_000);
        p.on_sync_succeeded(600_000);
        assert_eq!(p.backoff_ms(), 0);
        assert_eq!(p.retry_wait_ms(), 0);
        assert_eq!(p.next_sync_at_ms(600_001), Some(1_500_000));
        p.on_write(600_500);
        assert_eq!(p.next_sync_at_ms(600_501), Some(605_500));
        p.on_sync_failed(605_500, true);
        assert_eq!(p.backoff_ms(), 5_000);
    }

    #[test]
    fn delivered_polled_and_acknowledged() {
        let mut f = AlarmFollow::new(AlarmFollowConfig::default());
        assert_eq!(f.state(), &FollowState::Saved);
        assert_eq!(f.next(0), FollowStep::Deliver);
        f.delivered(100);
        assert_eq!(f.state(), &FollowState::Sent);
        assert_eq!(f.next(100), FollowStep::Poll { at_ms: 100 });
        f.observed(AlarmProgress::Sent, None, 100);
        assert_eq!(f.next(100), FollowStep::Poll { at_ms: 2_100 });
        f.observed(AlarmProgress::Acknowledged, Some("sam".into()), 2_100);
        assert_eq!(
            f.state(),
            &FollowState::Acknowledged {
                acknowledged_by: Some("sam".into())
            }
        );
        assert!(f.is_done());
        assert_eq!(
            f.next(2_100),
            FollowStep::Done {
                acknowledged_by: Some("sam".into())
            }
        );
        // Final: a late fallback changes nothing.
        f.fallback_due(false, 200_000);
        f.fallback_taken(200_000);
        assert_eq!(
            f.next(200_000),
            FollowStep::Done {
                acknowledged_by: Some("sam".into())
            }
        );
    }

    #[test]
    fn resolved_counts_as_acknowledged() {
        let mut f = AlarmFollow::new(AlarmFollowConfig::default());
        f.delivered(0);
        f.observed(AlarmProgress::Resolved, None, 0);
        assert_eq!(
            f.next(0),
            FollowStep::Done {
                acknowledged_by: None
            }
        );
        assert_eq!(
            f.state(),
            &FollowState::Acknowledged {
                acknowledged_by: None
            }
        );
    }

    #[test]
    fn fallback_before_any_acknowledgement() {
        let mut f = AlarmFollow::new(AlarmFollowConfig { poll_ms: 10 });
        assert_eq!(f.next(0), FollowStep::Deliver);
        f.delivery_failed(0);
        assert_eq!(f.next(0), FollowStep::Poll { at_ms: 10 });
        f.observed(AlarmProgress::Pending, None, 10);
        assert_eq!(f.next(10), FollowStep::Deliver, "try again after each look");
        f.delivery_failed(10);
        assert_eq!(f.next(10), FollowStep::Poll { at_ms: 20 });
        f.observed(AlarmProgress::Pending, None, 20);
        f.fallback_due(true, 20);
        assert_eq!(f.next(20), FollowStep::FallBack { silent: true });
        assert_eq!(f.state(), &FollowState::Saved, "not placed yet");
        f.fallback_taken(21);
        assert_eq!(f.state(), &FollowState::FellBack { silent: true });
        assert_eq!(
            f.next(21),
            FollowStep::Done {
                acknowledged_by: None
            }
        );
        // Final: a late acknowledgement changes nothing.
        f.observed(AlarmProgress::Acknowledged, Some("sam".into()), 30);
        assert_eq!(f.state(), &FollowState::FellBack { silent: true });
    }

    #[test]
    fn fallback_after_the_alarm_was_sent() {
        let mut f = AlarmFollow::new(AlarmFollowConfig::default());
        f.delivered(0);
        f.observed(AlarmProgress::Sent, None, 0);
        f.fallback_due(false, 120_000);
        assert_eq!(f.next(120_000), FollowStep::FallBack { silent: false });
        f.fallback_taken(120_001);
        assert_eq!(f.state(), &FollowState::FellBack { silent: false });
    }

    #[test]
    fn an_acknowledgement_beats_a_fallback_not_yet_placed() {
        let mut f = AlarmFollow::new(AlarmFollowConfig::default());
        f.delivered(0);
        f.fallback_due(true, 0);
        f.observed(AlarmProgress::Acknowledged, None, 1);
        assert!(matches!(f.next(1), FollowStep::Done { .. }));
        f.fallback_taken(2);
        assert_eq!(
            f.state(),
            &FollowState::Acknowledged {
                acknowledged_by: None
            }
        );
    }

    #[test]
    fn fallback_taken_without_a_due_fallback_is_ignored() {
        let mut f = AlarmFollow::new(AlarmFollowConfig::default());
        f.fallback_taken(0);
        assert_eq!(f.state(), &FollowState::Saved);
        assert_eq!(f.next(0), FollowStep::Deliver);
    }

    #[test]
    fn an_alarm_already_sent_skips_deliver() {
        let mut f = AlarmFollow::new(AlarmFollowConfig::default());
        f.observed(AlarmProgress::Sent, None, 1_000);
        assert_eq!(f.state(), &FollowState::Sent);
        assert_eq!(f.next(1_000), FollowStep::Poll { at_ms: 3_000 });
        // A failed send report after that changes nothing.
        f.delivery_failed(1_500);
        assert_eq!(f.next(1_500), FollowStep::Poll { at_ms: 3_000 });
    }

    #[test]
    fn a_refused_alarm_is_not_sent_again_and_waits_for_its_fallback() {
        let mut f = AlarmFollow::new(AlarmFollowConfig::default());
        f.delivered(0);
        f.observed(AlarmProgress::Refused, None, 0);
        assert_eq!(f.next(0), FollowStep::Poll { at_ms: 2_000 });
        let mut unsent = AlarmFollow::new(AlarmFollowConfig::default());
        unsent.observed(AlarmProgress::Refused, None, 0);
        assert_eq!(unsent.next(0), FollowStep::Poll { at_ms: 2_000 });
        unsent.fallback_due(false, 0);
        assert_eq!(unsent.next(0), FollowStep::FallBack { silent: false });
    }
}
