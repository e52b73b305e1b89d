// The distress flows. One tap saves the alarm (durable before anything else) and sends it;
// the controller then watches for "help is coming" and, when nobody acknowledges within the
// team's fallback time, places a call or (for silent alarms) an SMS through the platform.
// What to do next is decided by the Rust core's AlarmFollowMachine; this file only sleeps,
// makes the calls it asks for and dials. Discreet and duress alarms never make a sound or
// show on screen.
package org.fieldnote.android

import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.withContext
import org.fieldnote.ffi.AlarmFollowConfig
import org.fieldnote.ffi.AlarmFollowMachine
import org.fieldnote.ffi.DistressKind
import org.fieldnote.ffi.FieldnoteException
import org.fieldnote.ffi.FollowState
import org.fieldnote.ffi.FollowStep
import org.fieldnote.ffi.GeoPoint

/** What the platform does when an alarm is not acknowledged in time. */
interface FallbackDialer {
    /** Places a voice call to the agency's on-call number (visible alarms). */
    fun call(alarmId: String)

    /** Sends a text to the on-call number without any sound or screen (silent alarms). */
    fun sendSilentSms(alarmId: String)
}

/** Where an alarm stands, as the distress screen shows it. */
sealed interface DistressState {
    /** Saved on the phone; not yet on the server. */
    data class Saved(val alarmId: String) : DistressState

    /** The server has it; supervisors are being paged. */
    data class Sent(val alarmId: String) : DistressState

    /** Someone acknowledged it: help is coming. */
    data class Acknowledged(val alarmId: String, val by: String) : DistressState

    /** Nobody acknowledged in time (or the server refused it): the fallback was used. */
    data class FellBack(val alarmId: String, val silent: Boolean) : DistressState
}

/** Raises alarms and sees them through. */
class DistressController(
    private val fieldnote: Fieldnote,
    private val dialer: FallbackDialer,
    private val clock: Clock = Clock.SYSTEM,
    private val pollMs: Long = 2_000,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) {
    private val store get() = fieldnote.store

    /** The panic button. Returns the alarm id once it is saved on the phone. */
    suspend fun panic(location: GeoPoint? = null): String = raise(DistressKind.PANIC, location)

    /** A panic with no visible or audible sign. */
    suspend fun discreet(location: GeoPoint? = null): String = raise(DistressKind.DISCREET, location)

    /**
     * Ends the visit with a PIN. The duress PIN looks exactly like the cancel PIN on screen and
     * silently raises a duress alarm, which the next [deliver] sends.
     */
    suspend fun endVisit(pin: String, location: GeoPoint? = null) = withContext(io) {
        store.endVisitWithPin(pin, location)
    }

    private suspend fun raise(kind: DistressKind, location: GeoPoint?): String = withContext(io) {
        store.raiseAlarm(kind, location)
    }

    /** Sends what is waiting, retrying for up to [giveUpAfterSecs]. Returns how many arrived. */
    suspend fun deliver(giveUpAfterSecs: Long = 30): Long =
        store.deliverSafety(giveUpAfterSecs.toULong()).toLong()

    /** Uses the fallback for every alarm that is due one. Returns the alarms handled. */
    suspend fun fallBackWhereDue(): List<DistressState.FellBack> = withContext(io) {
        store.fallbacksDue(clock.nowMs()).map { due ->
            if (due.silent) dialer.sendSilentSms(due.alarmId) else dialer.call(due.alarmId)
            store.fallbackTaken(due.alarmId)
            DistressState.FellBack(due.alarmId, due.silent)
        }
    }

    /**
     * Follows one alarm as the core's [AlarmFollowMachine] directs: sends it, then looks at it
     * every [pollMs] until it is acknowledged, falling back to the dialer when the store says
     * the team's fallback time has passed (or the server refused it). The flow starts with
     * [DistressState.Saved] and ends with [DistressState.Acknowledged] or
     * [DistressState.FellBack].
     */
    fun follow(alarmId: String): Flow<DistressState> = flow {
        val machine = AlarmFollowMachine(AlarmFollowConfig(pollMs = pollMs))
        try {
            var shown: DistressState = DistressState.Saved(alarmId)
            emit(shown)
            while (true) {
                when (val step = machine.next(clock.nowMs())) {
                    FollowStep.Deliver -> {
                        val sent = try {
                            deliver(giveUpAfterSecs = 0)
                            true
                        } catch (e: FieldnoteException) {
                            false
                        }
                        if (sent) machine.delivered(clock.nowMs()) else machine.deliveryFailed(clock.nowMs())
                    }
                    is FollowStep.Poll -> {
                        val wait = step.atMs - clock.nowMs()
                        if (wait > 0) delay(wait)
                        val alarm = try {
                            store.refreshAlarm(alarmId)
                        } catch (e: FieldnoteException) {
                            withContext(io) { store.alarm(alarmId) }
                        }
                        val now = clock.nowMs()
                        machine.observedAlarm(alarm, now)
                        val due = withContext(io) { store.fallbacksDue(now) }.firstOrNull { it.alarmId == alarmId }
                        if (due != null) machine.fallbackDue(due.silent, now)
                    }
                    is FollowStep.FallBack -> {
                        withContext(io) {
                            if (step.silent) dialer.sendSilentSms(alarmId) else dialer.call(alarmId)
                            store.fallbackTaken(alarmId)
                        }
                        machine.fallbackTaken(clock.nowMs())
                    }
                    is FollowStep.Done -> return@flow
                }
                val state = toDistressState(alarmId, machine.state())
                if (state != shown) {
                    shown = state
                    emit(state)
                }
            }
        } finally {
            machine.close()
        }
    }

    private fun toDistressState(alarmId: String, state: FollowState): DistressState = when (state) {
        FollowState.Saved -> DistressState.Saved(alarmId)
        FollowState.Sent -> DistressState.Sent(alarmId)
        is FollowState.Acknowledged -> DistressState.Acknowledged(alarmId, state.acknowledgedBy ?: "your team")
        is FollowState.FellBack -> DistressState.FellBack(alarmId, state.silent)
    }
}
