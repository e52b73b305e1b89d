// The Android shell's handle on the Rust core: suspend functions over the blocking FFI calls
// (run on an IO dispatcher), a Flow of sync events, and the key taken from a KeyProvider and
// wiped after use. No domain rules live here; they are all in the Rust core.
package org.fieldnote.android

import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.withContext
import org.fieldnote.ffi.CaseloadItem
import org.fieldnote.ffi.DeviceCredentials
import org.fieldnote.ffi.FieldnoteStore
import org.fieldnote.ffi.NewMember
import org.fieldnote.ffi.NewNote
import org.fieldnote.ffi.NoteView
import org.fieldnote.ffi.ObligationItem
import org.fieldnote.ffi.Repairs
import org.fieldnote.ffi.SearchItem
import org.fieldnote.ffi.StoreConfig
import org.fieldnote.ffi.SyncObserver
import org.fieldnote.ffi.SyncProgressView
import org.fieldnote.ffi.SyncStatusView
import org.fieldnote.ffi.SyncSummary
import org.fieldnote.ffi.TimelineItem
import org.fieldnote.ffi.TodayItem
import org.fieldnote.ffi.defaultStoreConfig

/** Something that happened to sync: a round's progress or a new status line. */
sealed interface SyncEvent {
    /** After a sync round. */
    data class Progress(val progress: SyncProgressView) : SyncEvent

    /** When a sync starts or ends, or after a local write. */
    data class Status(val status: SyncStatusView) : SyncEvent
}

/**
 * The worker's encrypted store. Every call can throw a [org.fieldnote.ffi.FieldnoteException]
 * subclass naming what went wrong (`Locked`, `Invalid` with its field problems, `Offline`...).
 */
class Fieldnote(
    dir: String,
    private val keys: KeyProvider,
    config: StoreConfig = defaultStoreConfig(),
    private val io: CoroutineDispatcher = Dispatchers.IO,
) : AutoCloseable {
    /** The FFI object, for the distress controller and the scheduler. */
    val store: FieldnoteStore = FieldnoteStore(dir, config)

    /** Unlocks with the keystore's key and, if one is set, the app PIN. */
    suspend fun unlock(pin: String? = null) = withContext(io) {
        val key = keys.storeKey()
        try {
            store.unlock(key, pin)
        } finally {
            key.fill(0)
        }
    }

    /** Opens only the safety database, so the distress button works before unlocking. */
    suspend fun openSafety() = withContext(io) {
        val key = keys.storeKey()
        try {
            store.openSafety(key)
        } finally {
            key.fill(0)
        }
    }

    /** Locks now; the key leaves memory, drafts stay saved. */
    fun lock() = store.lock()

    /** Whether the store is locked (idle timeout included). */
    val isLocked: Boolean get() = store.isLocked()

    /**
     * What the last unlock found damaged and repaired (a database moved aside, unsent work
     * queued again). Show every message to the person; an empty list means nothing happened.
     */
    suspend fun repairs(): Repairs = withContext(io) { store.repairs() }

    /** Sets or removes the unlock PIN. */
    suspend fun setUnlockPin(pin: String?) = withContext(io) { store.setUnlockPin(pin) }

    /**
     * Signs in and registers the device; keep the credentials in the keystore. Supervisors
     * and program directors also give their authenticator's code ([secondFactor]); without
     * it the call fails with `FieldnoteException.SecondFactorRequired`: ask for the code.
     */
    suspend fun signIn(
        serverUrl: String,
        username: String,
        password: String,
        deviceName: String,
        secondFactor: String? = null,
    ): DeviceCredentials = store.signIn(serverUrl, username, password, secondFactor, deviceName)

    /** Reconnects with saved credentials. */
    fun useCredentials(credentials: DeviceCredentials) = store.useCredentials(credentials)

    /** Adds a member and their enrollment; returns the member id. */
    suspend fun addMember(member: NewMember): String = withContext(io) { store.addMember(member) }

    /** The caseload. */
    suspend fun caseload(): List<CaseloadItem> = withContext(io) { store.caseload() }

    /** The today view, most urgent first. */
    suspend fun today(nowMs: Long? = null): List<TodayItem> = withContext(io) { store.today(nowMs) }

    /** Every obligation of one member, satisfied ones included, most urgent first. */
    suspend fun obligations(memberId: String, nowMs: Long? = null): List<ObligationItem> =
        withContext(io) { store.obligations(memberId, nowMs) }

    /** A member's timeline. */
    suspend fun timeline(memberId: String): List<TimelineItem> = withContext(io) { store.timeline(memberId) }

    /** Note search. */
    suspend fun search(text: String, limit: Int = 50): List<SearchItem> =
        withContext(io) { store.search(text, limit.toUInt()) }

    /** Saves a draft note; returns its id. */
    suspend fun draftNote(note: NewNote): String = withContext(io) { store.draftNote(note) }

    /** Replaces a draft note's content. */
    suspend fun editNote(id: String, note: NewNote) = withContext(io) { store.editNote(id, note) }

    /** Finalizes a note; returns the signed content hash. */
    suspend fun finalizeNote(id: String): String = withContext(io) { store.finalizeNote(id) }

    /** Adds an addendum to a finalized note. */
    suspend fun addAddendum(parentId: String, note: NewNote): String =
        withContext(io) { store.addAddendum(parentId, note) }

    /** A note. */
    suspend fun note(id: String): NoteView = withContext(io) { store.note(id) }

    /** Fields of a record that two devices set to different values offline: list them beside the record so a person chooses. */
    suspend fun conflicts(id: String): List<String> = withContext(io) { store.conflicts(id) }

    /** Syncs now. */
    suspend fun sync(): SyncSummary = store.sync()

    /** The sync status line. */
    suspend fun syncStatus(): SyncStatusView = withContext(io) { store.syncStatus() }

    /** Sync progress and status, as long as the flow is collected. */
    val syncEvents: Flow<SyncEvent> = callbackFlow {
        val observer = object : SyncObserver {
            override fun onProgress(progress: SyncProgressView) {
                trySend(SyncEvent.Progress(progress))
            }

            override fun onStatus(status: SyncStatusView) {
                trySend(SyncEvent.Status(status))
            }
        }
        val handle = store.addObserver(observer)
        awaitClose { handle.use { it.cancel() } }
    }

    /** Locks and releases the native object. */
    override fun close() {
        store.lock()
        store.close()
    }
}
