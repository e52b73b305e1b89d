// When to sync. A pure decision (no timers, no Android) so it is tested exactly: sync soon
// after a write, at once when the network returns, every so often while online, and back off
// after failures. The Android app feeds it connectivity callbacks; SyncScheduler runs it.
package org.fieldnote.android

/** An agency's tuning of the sync schedule; the defaults are documented in the README. */
data class SyncPolicyConfig(
    /** Wait this long after a write before syncing, so a burst of edits goes in one sync. */
    val afterWriteMs: Long = 5_000,
    /** Sync at least this often while online. */
    val periodicMs: Long = 15 * 60_000,
    /** The first wait after a failed sync; it doubles with each failure. */
    val firstBackoffMs: Long = 5_000,
    /** The longest wait after failures. */
    val maxBackoffMs: Long = 15 * 60_000,
)

/** Decides when the next sync should run. Not thread-safe: one scheduler owns it. */
class SyncPolicy(private val config: SyncPolicyConfig = SyncPolicyConfig()) {
    private var online = true
    private var lastSuccessMs: Long? = null
    private var dirtySinceMs: Long? = null
    private var failures = 0
    private var lastFailureMs: Long? = null

    /** The link changed. Coming back online makes a sync due at once. */
    fun onConnectivity(isOnline: Boolean, nowMs: Long) {
        if (isOnline && !online) {
            failures = 0
            lastFailureMs = null
            dirtySinceMs = dirtySinceMs ?: nowMs
            lastSuccessMs = null
        }
        online = isOnline
    }

    /** Something was saved locally. */
    fun onWrite(nowMs: Long) {
        if (dirtySinceMs == null) dirtySinceMs = nowMs
    }

    /** A sync finished. */
    fun onSyncSucceeded(nowMs: Long) {
        lastSuccessMs = nowMs
        dirtySinceMs = null
        failures = 0
        lastFailureMs = null
    }

    /** A sync failed; `retryable` is false when retrying cannot help (sign-in needed). */
    fun onSyncFailed(nowMs: Long, retryable: Boolean) {
        failures += 1
        lastFailureMs = nowMs
        if (!retryable) {
            // Nothing to gain by retrying soon: wait for the longest backoff.
            failures = Int.MAX_VALUE / 2
        }
    }

    /** The wait after `failures` failures. */
    fun backoffMs(): Long {
        if (failures == 0) return 0
        var wait = config.firstBackoffMs
        repeat(minOf(failures - 1, 30)) { wait = minOf(wait * 2, config.maxBackoffMs) }
        return minOf(wait, config.maxBackoffMs)
    }

    /** When the next sync should start (ms), or null while offline. */
    fun nextSyncAtMs(nowMs: Long): Long? {
        if (!online) return null
        val candidates = mutableListOf<Long>()
        candidates += (lastSuccessMs ?: nowMs - config.periodicMs) + config.periodicMs
        dirtySinceMs?.let { candidates += it + config.afterWriteMs }
        var at = candidates.min()
        lastFailureMs?.let { at = maxOf(at, it + backoffMs()) }
        return at
    }

    /** Whether a sync should start now. */
    fun shouldSyncNow(nowMs: Long): Boolean = nextSyncAtMs(nowMs)?.let { it <= nowMs } ?: false
}
