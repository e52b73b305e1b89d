// The distress flows, as on Android: one tap saves the alarm durably and sends it; the
// controller watches for "help is coming" and, when nobody acknowledges within the team's
// fallback time, calls or (for silent alarms) texts through the platform.
import Foundation
import FieldnoteFFI

/// What the platform does when an alarm is not acknowledged in time.
public protocol FallbackDialer: Sendable {
    /// Places a voice call to the on-call number (visible alarms).
    func call(alarmId: String)
    /// Texts the on-call number without sound or screen (silent alarms).
    func sendSilentSms(alarmId: String)
}

/// Where an alarm stands.
public enum DistressState: Equatable, Sendable {
    /// Saved on the phone, not yet on the server.
    case saved(String)
    /// The server has it.
    case sent(String)
    /// Someone acknowledged it.
    case acknowledged(String, by: String)
    /// Nobody acknowledged in time (or the server refused it): the fallback was used.
    case fellBack(String, silent: Bool)
}

/// Raises alarms and sees them through.
public final class DistressController: @unchecked Sendable {
    private let store: FieldnoteStore
    private let dialer: FallbackDialer
    private let clock: Clock
    private let pollMs: UInt64

    /// A controller over `fieldnote`'s store.
    public init(fieldnote: Fieldnote, dialer: FallbackDialer, clock: Clock = SystemClock(), pollMs: UInt64 = 2_000) {
        self.store = fieldnote.store
        self.dialer = dialer
        self.clock = clock
        self.pollMs = pollMs
    }

    /// The panic button; returns the alarm id once it is saved on the phone.
    public func panic(location: GeoPoint? = nil) async throws -> String {
        let store = self.store
        return try await offMain { try store.raiseAlarm(kind: .panic, location: location) }
    }

    /// A panic with no visible or audible sign.
    public func discreet(location: GeoPoint? = nil) async throws -> String {
        let store = self.store
        return try await offMain { try store.raiseAlarm(kind: .discreet, location: location) }
    }

    /// Ends the visit with a PIN; the duress PIN looks the same and raises a silent alarm.
    public func endVisit(pin: String, location: GeoPoint? = nil) async throws {
        let store = self.store
        try await offMain { try store.endVisitWithPin(pin: pin, location: location) }
    }

    /// Sends what is waiting, retrying for up to `giveUpAfterSecs`; returns how many arrived.
    public func deliver(giveUpAfterSecs: UInt64 = 30) async throws -> UInt64 {
        try await store.deliverSafety(giveUpAfterSecs: giveUpAfterSecs)
    }

    /// Uses the fallback for every alarm due one.
    public func fallBackWhereDue() throws -> [DistressState] {
        try store.fallbacksDue(nowMs: clock.nowMs()).map { due in
            if due.silent { dialer.sendSilentSms(alarmId: due.alarmId) } else { dialer.call(alarmId: due.alarmId) }
            try store.fallbackTaken(alarmId: due.alarmId)
            return .fellBack(due.alarmId, silent: due.silent)
        }
    }

    /// Follows one alarm until it is acknowledged or the fallback is used.
    public func follow(alarmId: String) -> AsyncThrowingStream<DistressState, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    continuation.yield(.saved(alarmId))
                    var sent = false
                    while !Task.isCancelled {
                        if !sent {
                            let delivered = (try? await deliver(giveUpAfterSecs: 0)) ?? 0
                            let local = try store.alarm(alarmId: alarmId)
                            sent = delivered > 0 || local.status != "pending"
                            if sent { continuation.yield(.sent(alarmId)) }
                        }
                        if sent {
                            let state: AlarmState
                            if let fresh = try? await store.refreshAlarm(alarmId: alarmId) {
                                state = fresh
                            } else {
                                state = try store.alarm(alarmId: alarmId)
                            }
                            if state.status == "acknowledged" || state.status == "resolved" {
                                continuation.yield(.acknowledged(alarmId, by: state.acknowledgedBy ?? "your team"))
                                break
                            }
                        }
                        if let fell = try fallBackWhereDue().first(where: {
                            if case .fellBack(let id, _) = $0 { return id == alarmId } else { return false }
                        }) {
                            continuation.yield(fell)
                            break
                        }
                        try await Task.sleep(nanoseconds: pollMs * 1_000_000)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
