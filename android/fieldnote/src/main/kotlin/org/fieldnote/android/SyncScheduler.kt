// Runs the sync policy in a coroutine: sleeps until the next sync is due, syncs, and feeds
// the outcome back. The Android app starts it in its process scope and forwards
// connectivity changes; WorkManager can call syncOnce() when the app is in the background.
package org.fieldnote.android

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withTimeoutOrNull
import org.fieldnote.ffi.FieldnoteException
import org.fieldnote.ffi.SyncSummary

/** The outcome of one scheduled sync. */
sealed interface SyncOutcome {
    /** It finished. */
    data class Done(val summary: SyncSummary) : SyncOutcome

    /** It failed; `retryable` says whether trying later can help. */
    data class Failed(val error: FieldnoteException, val retryable: Boolean) : SyncOutcome
}

/** Syncs [fieldnote] when [policy] says so. */
class SyncScheduler(
    private val fieldnote: Fieldnote,
    private val policy: SyncPolicy = SyncPolicy(),
    private val clock: Clock = Clock.SYSTEM,
) {
    private val wake = Channel<Unit>(Channel.CONFLATED)
    private val lock = Mutex()

    /** The link changed. */
    suspend fun onConnectivity(online: Boolean) {
        lock.withLock { policy.onConnectivity(online, clock.nowMs()) }
        wake.trySend(Unit)
    }

    /** Something was saved locally. */
    suspend fun onWrite() {
        lock.withLock { policy.onWrite(clock.nowMs()) }
        wake.trySend(Unit)
    }

    /** Syncs once now and records the outcome in the policy. */
    suspend fun syncOnce(): SyncOutcome {
        val outcome = try {
            SyncOutcome.Done(fieldnote.sync())
        } catch (e: FieldnoteException) {
            SyncOutcome.Failed(e, retryable = e is FieldnoteException.Offline)
        }
        lock.withLock {
            when (outcome) {
                is SyncOutcome.Done -> policy.onSyncSucceeded(clock.nowMs())
                is SyncOutcome.Failed -> policy.onSyncFailed(clock.nowMs(), outcome.retryable)
            }
        }
        return outcome
    }

    /** Runs until [scope] ends, reporting each outcome. */
    fun start(scope: CoroutineScope, onOutcome: (SyncOutcome) -> Unit = {}): Job = scope.launch {
        while (isActive) {
            val now = clock.nowMs()
            val next = lock.withLock { policy.nextSyncAtMs(now) }
            if (next != null && next <= now) {
                onOutcome(syncOnce())
                continue
            }
            if (next == null) {
                wake.receive()
            } else {
                withTimeoutOrNull(next - now) { wake.receive() }
            }
        }
    }
}
