// When to sync is decided in the Rust core (fieldnote_core::policy), exported as
// SyncScheduleMachine: soon after a write, at once when the network returns, periodically
// while online, and after failures a doubling backoff with jitter. The Android shell asks the
// same machine, so both phones decide alike; a scheduler here would keep only its timer.
import FieldnoteFFI

extension SyncScheduleMachine {
    /// A sync schedule with `config` (defaults documented in the README) and a random jitter
    /// seed, so phones that failed together do not retry together. Tests pass a fixed seed
    /// to `init(config:seed:)`.
    public convenience init(config: SyncPolicyConfig = defaultSyncPolicyConfig()) {
        self.init(config: config, seed: UInt64.random(in: UInt64.min...UInt64.max))
    }
}
