// The distress flows, as on Android: one tap saves the alarm durably and sends it; the
// controller watches for "help is coming" and, when nobody acknowledges within the team's
// fallback time, calls or (for silent alarms) texts through the platform. What to do next is
// decided by the Rust core's AlarmFollowMachine; this file only sleeps, makes the calls it
// asks for and dials.
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

    /// Follows one alarm as the core's `AlarmFollowMachine` directs: sends it, then looks at it
    /// every `pollMs` until it is acknowledged, falling back to the dialer when the store says
    /// the team's fallback time has passed (or the server refused it). The stream starts with
    /// `.saved` and ends with `.acknowledged` or `.fellBack`.
    public func follow(alarmId: String) -> AsyncThrowingStream<DistressState, Error> {
        let machine = AlarmFollowMachine(config: AlarmFollowConfig(pollMs: Int64(clamping: pollMs)))
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var shown = DistressState.saved(alarmId)
                    continuation.yield(shown)
                    following: while !Task.isCancelled {
                        switch machine.next(nowMs: clock.nowMs()) {
                        case .deliver:
                            if (try? await deliver(giveUpAfterSecs: 0)) != nil {
                                machine.delivered(nowMs: clock.nowMs())
                            } else {
                                machine.deliveryFailed(nowMs: clock.nowMs())
                            }
                        case .poll(let atMs):
                            let wait = atMs - clock.nowMs()
                            if wait > 0 {
                                try await Task.sleep(nanoseconds: UInt64(min(wait, 3_600_000)) * 1_000_000)
                            }
                            let alarm: AlarmState
                            if let fresh = try? await store.refreshAlarm(alarmId: alarmId) {
                                alarm = fresh
                            } else {
                                alarm = try store.alarm(alarmId: alarmId)
                            }
                            let now = clock.nowMs()
                            machine.observedAlarm(alarm: alarm, nowMs: now)
                            if let due = try store.fallbacksDue(nowMs: now).first(where: { $0.alarmId == alarmId }) {
                                machine.fallbackDue(silent: due.silent, nowMs: now)
                            }
                        case .fallBack(let silent):
                            if silent { dialer.sendSilentSms(alarmId: alarmId) } else { dialer.call(alarmId: alarmId) }
                            try store.fallbackTaken(alarmId: alarmId)
                            machine.fallbackTaken(nowMs: clock.nowMs())
                        case .done:
                            break following
                        }
                        let state = DistressController.distressState(alarmId, machine.state())
                        if state != shown {
                            shown = state
                            continuation.yield(state)
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The screen's view of the machine's state.
    private static func distressState(_ alarmId: String, _ state: FollowState) -> DistressState {
        switch state {
        case .saved: return .saved(alarmId)
        case .sent: return .sent(alarmId)
        case .acknowledged(let by): return .acknowledged(alarmId, by: by ?? "your team")
        case .fellBack(let silent): return .fellBack(alarmId, silent: silent)
        }
    }
}
