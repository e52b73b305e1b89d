// Runs the core's sync schedule (SyncScheduleMachine) in a coroutine: asks it what to do,
// syncs or sleeps as it says, and feeds the outcome back. The Android app starts it in its
// process scope and forwards connectivity changes; WorkManager can call syncOnce() when the
// app is in the background. No decision is made here: only the timer and the wake-ups.
package org.fieldnote.android

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeoutOrNull
import org.fieldnote.ffi.FieldnoteException
import org.fieldnote.ffi.SyncDecision
import org.fieldnote.ffi.SyncScheduleMachine
import org.fieldnote.ffi.SyncSummary

/** The outcome of one scheduled sync. */
sealed interface SyncOutcome {
    /** It finished. */
    data class Done(val summary: SyncSummary) : SyncOutcome

    /** It failed; `retryable` says whether trying later can help. */
    data class Failed(val error: FieldnoteException, val retryable: Boolean) : SyncOutcome
}

/** Syncs [fieldnote] when [policy] says so. The policy is thread-safe (it locks in Rust). */
class SyncScheduler(
    private val fieldnote: Fieldnote,
    private val policy: SyncScheduleMachine = syncPolicy(),
    private val clock: Clock = Clock.SYSTEM,
) {
    private val wake = Channel<Unit>(Channel.CONFLATED)

    /** The link changed. */
    fun onConnectivity(online: Boolean) {
        policy.onConnectivity(online, clock.nowMs())
        wake.trySend(Unit)
    }

    /** Something was saved locally. */
    fun onWrite() {
        policy.onWrite(clock.nowMs())
        wake.trySend(Unit)
    }

    /** Syncs once now and records the outcome in the policy. */
    suspend fun syncOnce(): SyncOutcome {
        val outcome = try {
            SyncOutcome.Done(fieldnote.sync())
        } catch (e: FieldnoteException) {
            SyncOutcome.Failed(e, retryable = e is FieldnoteException.Offline)
        }
        when (outcome) {
            is SyncOutcome.Done -> policy.onSyncSucceeded(clock.nowMs())
            is SyncOutcome.Failed -> policy.onSyncFailed(clock.nowMs(), outcome.retryable)
        }
        return outcome
    }

    /** Runs until [scope] ends, reporting each outcome. */
    fun start(scope: CoroutineScope, onOutcome: (SyncOutcome) -> Unit = {}): Job = scope.launch {
        while (isActive) {
            val now = clock.nowMs()
            when (val decision = policy.step(now)) {
                SyncDecision.SyncNow -> onOutcome(syncOnce())
                is SyncDecision.WaitUntil -> withTimeoutOrNull(decision.atMs - now) { wake.receive() }
                SyncDecision.WaitForNetwork -> wake.receive()
            }
        }
    }
}
