// When to sync: soon after a write, at once when the network returns, periodically while
// online, with backoff after failures. The same decisions as the Android shell's SyncPolicy.
import Foundation

/// An agency's tuning of the sync schedule (defaults documented in the README).
public struct SyncPolicyConfig: Sendable {
    /// Wait after a write, so a burst of edits goes in one sync.
    public var afterWriteMs: Int64 = 5_000
    /// Sync at least this often while online.
    public var periodicMs: Int64 = 15 * 60_000
    /// The first wait after a failure; doubles with each failure.
    public var firstBackoffMs: Int64 = 5_000
    /// The longest wait after failures.
    public var maxBackoffMs: Int64 = 15 * 60_000
    /// The defaults.
    public init() {}
}

/// Decides when the next sync runs. One scheduler owns it.
public struct SyncPolicy: Sendable {
    private let config: SyncPolicyConfig
    private var online = true
    private var lastSuccessMs: Int64?
    private var dirtySinceMs: Int64?
    private var failures = 0
    private var lastFailureMs: Int64?

    /// A policy with `config`.
    public init(config: SyncPolicyConfig = SyncPolicyConfig()) { self.config = config }

    /// The link changed; coming back online makes a sync due at once.
    public mutating func onConnectivity(online isOnline: Bool, nowMs: Int64) {
        if isOnline && !online {
            failures = 0
            lastFailureMs = nil
            dirtySinceMs = dirtySinceMs ?? nowMs
            lastSuccessMs = nil
        }
        online = isOnline
    }

    /// Something was saved locally.
    public mutating func onWrite(nowMs: Int64) {
        if dirtySinceMs == nil { dirtySinceMs = nowMs }
    }

    /// A sync finished.
    public mutating func onSyncSucceeded(nowMs: Int64) {
        lastSuccessMs = nowMs
        dirtySinceMs = nil
        failures = 0
        lastFailureMs = nil
    }

    /// A sync failed; `retryable` is false when retrying cannot help.
    public mutating func onSyncFailed(nowMs: Int64, retryable: Bool) {
        failures = retryable ? failures + 1 : Int(Int32.max)
        lastFailureMs = nowMs
    }

    /// The wait after the failures so far.
    public func backoffMs() -> Int64 {
        if failures == 0 { return 0 }
        var wait = config.firstBackoffMs
        for _ in 0..<min(failures - 1, 30) { wait = min(wait * 2, config.maxBackoffMs) }
        return min(wait, config.maxBackoffMs)
    }

    /// When the next sync should start (ms), or nil while offline.
    public func nextSyncAtMs(nowMs: Int64) -> Int64? {
        guard online else { return nil }
        var at = (lastSuccessMs ?? nowMs - config.periodicMs) + config.periodicMs
        if let dirty = dirtySinceMs { at = min(at, dirty + config.afterWriteMs) }
        if let failed = lastFailureMs { at = max(at, failed + backoffMs()) }
        return at
    }

    /// Whether a sync should start now.
    public func shouldSyncNow(nowMs: Int64) -> Bool {
        guard let at = nextSyncAtMs(nowMs: nowMs) else { return false }
        return at <= nowMs
    }
}
