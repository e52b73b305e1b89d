// The iOS shell's handle on the Rust core: async functions over the blocking FFI calls (run
// off the main actor), an AsyncStream of sync events, and the key taken from a KeyProvider.
// No domain rules live here; they are all in the Rust core.
import Foundation
import FieldnoteFFI

/// Something that happened to sync.
public enum SyncEvent: Sendable {
    /// After a sync round.
    case progress(SyncProgressView)
    /// When a sync starts or ends, or after a local write.
    case status(SyncStatusView)
}

/// Runs a blocking FFI call off the caller's actor.
func offMain<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await Task.detached(priority: .userInitiated) { try body() }.value
}

/// The worker's encrypted store. Calls throw `FieldnoteError` cases naming what went wrong.
public final class Fieldnote: @unchecked Sendable {
    /// The FFI object, for the distress controller and the scheduler.
    public let store: FieldnoteStore
    private let keys: KeyProvider

    /// A store in `dir`, locked until `unlock`.
    public init(dir: String, keys: KeyProvider, config: StoreConfig = defaultStoreConfig()) throws {
        self.store = try FieldnoteStore(dir: dir, config: config)
        self.keys = keys
    }

    /// Unlocks with the Keychain's key and, if one is set, the app PIN.
    public func unlock(pin: String? = nil) async throws {
        let key = try keys.storeKey()
        let store = self.store
        try await offMain { try store.unlock(key: key, pin: pin) }
    }

    /// Opens only the safety database, so the distress button works before unlocking.
    public func openSafety() async throws {
        let key = try keys.storeKey()
        let store = self.store
        try await offMain { try store.openSafety(key: key) }
    }

    /// Locks now; the key leaves memory, drafts stay saved.
    public func lock() { store.lock() }

    /// Whether the store is locked (idle timeout included).
    public var isLocked: Bool { store.isLocked() }

    /// What the last unlock found damaged and repaired (a database moved aside, unsent work
    /// queued again). Show every message to the person; an empty list means nothing happened.
    public func repairs() async throws -> Repairs {
        let store = self.store
        return try await offMain { try store.repairs() }
    }

    /// Signs in and registers the device; keep the credentials in the Keychain. Supervisors
    /// and program directors also give their authenticator's code (`secondFactor`); without
    /// it the call throws `FieldnoteError.SecondFactorRequired`: ask for the code.
    public func signIn(serverUrl: String, username: String, password: String, deviceName: String,
                       secondFactor: String? = nil) async throws -> DeviceCredentials {
        try await store.signIn(serverUrl: serverUrl, username: username, password: password,
                               secondFactor: secondFactor, deviceName: deviceName)
    }

    /// Reconnects with saved credentials.
    public func useCredentials(_ credentials: DeviceCredentials) throws {
        try store.useCredentials(credentials: credentials)
    }

    /// Adds a member and their enrollment; returns the member id.
    public func addMember(_ member: NewMember) async throws -> String {
        let store = self.store
        return try await offMain { try store.addMember(member: member) }
    }

    /// The caseload.
    public func caseload() async throws -> [CaseloadItem] {
        let store = self.store
        return try await offMain { try store.caseload() }
    }

    /// The today view, most urgent first.
    public func today(nowMs: Int64? = nil) async throws -> [TodayItem] {
        let store = self.store
        return try await offMain { try store.today(nowMs: nowMs) }
    }

    /// A member's timeline.
    public func obligations(memberId: String, nowMs: Int64? = nil) async throws -> [ObligationItem] {
        let store = self.store
        return try await offMain { try store.obligations(memberId: memberId, nowMs: nowMs) }
    }

    /// A member's timeline, newest first.
    public func timeline(memberId: String) async throws -> [TimelineItem] {
        let store = self.store
        return try await offMain { try store.timeline(memberId: memberId) }
    }

    /// Note search.
    public func search(_ text: String, limit: UInt32 = 50) async throws -> [SearchItem] {
        let store = self.store
        return try await offMain { try store.search(text: text, limit: limit) }
    }

    /// Saves a draft note; returns its id.
    public func draftNote(_ note: NewNote) async throws -> String {
        let store = self.store
        return try await offMain { try store.draftNote(note: note) }
    }

    /// Finalizes a note; returns the signed content hash.
    public func finalizeNote(id: String) async throws -> String {
        let store = self.store
        return try await offMain { try store.finalizeNote(id: id) }
    }

    /// Adds an addendum to a finalized note.
    public func addAddendum(parentId: String, note: NewNote) async throws -> String {
        let store = self.store
        return try await offMain { try store.addAddendum(parentId: parentId, note: note) }
    }

    /// A note.
    public func note(id: String) async throws -> NoteView {
        let store = self.store
        return try await offMain { try store.note(id: id) }
    }

    /// Syncs now.
    public func sync() async throws -> SyncSummary { try await store.sync() }

    /// The sync status line.
    public func syncStatus() async throws -> SyncStatusView {
        let store = self.store
        return try await offMain { try store.syncStatus() }
    }

    /// Sync progress and status for as long as the stream is iterated.
    public func syncEvents() -> AsyncStream<SyncEvent> {
        AsyncStream { continuation in
            let handle = store.addObserver(observer: StreamObserver(continuation: continuation))
            continuation.onTermination = { _ in handle.cancel() }
        }
    }
}

private final class StreamObserver: SyncObserver, @unchecked Sendable {
    let continuation: AsyncStream<SyncEvent>.Continuation
    init(continuation: AsyncStream<SyncEvent>.Continuation) { self.continuation = continuation }
    func onProgress(progress: SyncProgressView) { continuation.yield(.progress(progress)) }
    func onStatus(status: SyncStatusView) { continuation.yield(.status(status)) }
}
