// The Swift shell against the real Rust library and a real server, on Linux: the same
// scenario as the Kotlin tests, and errors arriving as typed Swift errors.
import Foundation
import XCTest
@testable import Fieldnote
import FieldnoteFFI

/// A real fieldnote-server on loopback with the synthetic demo agency.
enum TestServer {
    static let password = "fieldnote-demo-password"
    static let url: String = start()

    private static func start() -> String {
        let env = ProcessInfo.processInfo.environment
        let bin = env["FIELDNOTE_SERVER_BIN"] ?? "fieldnote-server"
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("fieldnote-swift-\(UUID())")
        try? FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let port = 20_000 + Int.random(in: 0..<20_000)
        let log = data.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = ["--demo", "--listen", "127.0.0.1:\(port)", "--data-dir", data.path]
        let handle = try! FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        try! p.run()
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if let text = try? String(contentsOf: log, encoding: .utf8), text.contains("worker1.north") {
                return "http://127.0.0.1:\(port)"
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        fatalError("the server did not start")
    }

    /// Enrolls an authenticator for `user` through the console's first sign-in and returns
    /// the next code (the helper plays the supervisor's authenticator app).
    static func authenticatorCode(_ user: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["FIELDNOTE_AUTHENTICATOR_BIN"] ?? "fieldnote-authenticator")
        p.arguments = [url, user, password]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CliFailed(output: "the authenticator helper failed") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs the real CLI against the server; returns stdout.
    @discardableResult
    static func cli(_ store: URL, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["FIELDNOTE_CLI_BIN"] ?? "fieldnote")
        p.arguments = ["--store", store.path] + args
        var env = ProcessInfo.processInfo.environment
        env["FIELDNOTE_PASSWORD"] = password
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else { throw CliFailed(output: text) }
        return text
    }

    struct CliFailed: Error { let output: String }
}

struct FixedKey: KeyProvider {
    let key: Data
    init() { key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }) }
    func storeKey() throws -> Data { key }
}

final class MovableClock: Clock, @unchecked Sendable {
    var now: Int64
    init(_ now: Int64) { self.now = now }
    func nowMs() -> Int64 { now }
}

final class RecordingDialer: FallbackDialer, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var calls: [String] = []
    private(set) var texts: [String] = []
    func call(alarmId: String) { lock.lock(); calls.append(alarmId); lock.unlock() }
    func sendSilentSms(alarmId: String) { lock.lock(); texts.append(alarmId); lock.unlock() }
}

final class ShellTests: XCTestCase {
    func tempDir() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("fieldnote-swift-\(UUID())").path
    }

    func signedIn(dir: String? = nil, keys: KeyProvider = FixedKey()) async throws -> Fieldnote {
        let f = try Fieldnote(dir: dir ?? tempDir(), keys: keys)
        try await f.unlock()
        _ = try await f.signIn(serverUrl: TestServer.url, username: "worker1.north",
                               password: TestServer.password, deviceName: "swift-test")
        return f
    }

    func member() -> NewMember {
        NewMember(givenName: "Test", familyName: "Member\(Int.random(in: 0..<100_000))", dateOfBirth: "1990-04-01",
                  masshealthId: "100200300400", primaryLanguage: "English", program: .csp, referredAtMs: nil,
                  referralSource: .healthPlan, referralReason: nil)
    }

    func note(_ memberId: String, _ narrative: String) -> NewNote {
        NewNote(memberId: memberId, program: .csp, modality: .inPerson,
                startedAtMs: SystemClock().nowMs() - 3_600_000, durationMinutes: 45,
                narrative: narrative, telehealthReason: nil, memberEngaged: true)
    }

    func testWriteFinalizeSyncAndSeeItOnAnotherDevice() async throws {
        let phone = try await signedIn()
        let memberId = try await phone.addMember(member())
        let noteId = try await phone.draftNote(note(memberId, "Met at the library; went over the budget."))
        let hash = try await phone.finalizeNote(id: noteId)
        XCTAssertFalse(hash.isEmpty)
        let before = try await phone.syncStatus()
        XCTAssertGreaterThan(before.pending, 0)

        let events = phone.syncEvents()
        let summary = try await phone.sync()
        XCTAssertGreaterThan(summary.progress.sent, 0)
        var sawProgress = false
        for await e in events {
            if case .progress = e { sawProgress = true }
            if case .status(let s) = e, !s.syncing, s.pending == 0 { break }
        }
        XCTAssertTrue(sawProgress)
        let synced = try await phone.note(id: noteId)
        XCTAssertEqual(synced.syncState, .synced)

        let second = try await signedIn()
        _ = try await second.sync()
        let caseload = try await second.caseload()
        XCTAssertTrue(caseload.contains { $0.memberId == memberId })
        let copy = try await second.note(id: noteId)
        XCTAssertTrue(copy.finalized)
        XCTAssertEqual(copy.narrative, "Met at the library; went over the budget.")
    }

    func testPanicArrivesAndAcknowledgementReturns() async throws {
        let phone = try await signedIn()
        let supervisor = URL(fileURLWithPath: tempDir())
        let code = try TestServer.authenticatorCode("supervisor.north")
        try TestServer.cli(supervisor, ["login", "--server", TestServer.url, "--user", "supervisor.north", "--code", code])
        let dialer = RecordingDialer()
        let distress = DistressController(fieldnote: phone, dialer: dialer, pollMs: 200)
        let alarmId = try await distress.panic(location: GeoPoint(latitude: 42.36, longitude: -71.06, accuracyM: 15))
        XCTAssertEqual(try phone.store.alarm(alarmId: alarmId).status, .pending)

        let follower = Task { () -> [DistressState] in
            var states: [DistressState] = []
            for try await s in distress.follow(alarmId: alarmId) { states.append(s) }
            return states
        }
        var listed = ""
        let deadline = Date().addingTimeInterval(30)
        while !listed.contains(alarmId) && Date() < deadline {
            listed = try TestServer.cli(supervisor, ["--json", "alarm", "list"])
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        XCTAssertTrue(listed.contains(alarmId), "the supervisor lists the alarm")
        try TestServer.cli(supervisor, ["alarm", "ack", alarmId])
        let states = try await follower.value
        XCTAssertEqual(states.first, .saved(alarmId))
        XCTAssertTrue(states.contains(.sent(alarmId)))
        guard case .acknowledged = states.last else { return XCTFail("ended \(states)") }
        XCTAssertTrue(dialer.calls.isEmpty && dialer.texts.isEmpty)
    }

    func testSilentAlarmFallsBackToSmsWhenNobodyAnswers() async throws {
        let f = try Fieldnote(dir: tempDir(), keys: FixedKey())
        try await f.openSafety()
        try f.useCredentials(DeviceCredentials(serverUrl: "http://127.0.0.1:9", deviceId: "device", deviceSecret: "secret"))
        let clock = MovableClock(SystemClock().nowMs())
        let dialer = RecordingDialer()
        let distress = DistressController(fieldnote: f, dialer: dialer, clock: clock, pollMs: 10)
        let alarmId = try await distress.discreet()
        clock.now += Int64(try f.store.fallbackSecs() + 1) * 1000
        var states: [DistressState] = []
        for try await s in distress.follow(alarmId: alarmId) { states.append(s) }
        XCTAssertEqual(states, [.saved(alarmId), .fellBack(alarmId, silent: true)])
        XCTAssertEqual(dialer.texts, [alarmId])
        XCTAssertTrue(try f.store.fallbacksDue(nowMs: clock.now).isEmpty)
    }

    func testErrorsArriveTypedWithReasons() async throws {
        let dir = tempDir()
        let f = try await signedIn(dir: dir)
        do {
            _ = try await f.timeline(memberId: "not-an-id")
            XCTFail("accepted a bad id")
        } catch FieldnoteError.Invalid(_, let problems) {
            XCTAssertEqual(problems.map(\.field), ["member_id"])
        }
        do {
            var bad = note("0190a000-0000-7000-8000-000000000000", "x")
            bad.startedAtMs = -1
            _ = try await f.draftNote(bad)
            XCTFail("accepted a time before 1970")
        } catch FieldnoteError.Invalid(_, let problems) {
            XCTAssertEqual(problems.map(\.field), ["started_at_ms"])
        }
        do {
            try diagnosticPanic()
            XCTFail("no panic")
        } catch FieldnoteError.Internal(let reason) {
            XCTAssertTrue(reason.contains("diagnostic panic"))
        }
        let m = try await f.addMember(member())
        _ = try await f.draftNote(note(m, "written before the link drops"))
        try f.useCredentials(DeviceCredentials(serverUrl: "http://127.0.0.1:9", deviceId: "d", deviceSecret: "s"))
        do {
            _ = try await f.sync()
            XCTFail("synced without a server")
        } catch FieldnoteError.Offline(let reason) {
            XCTAssertFalse(reason.isEmpty)
        }
        let status = try await f.syncStatus()
        XCTAssertGreaterThan(status.pending, 0)
        f.lock()
        do {
            _ = try await f.caseload()
            XCTFail("read a locked store")
        } catch FieldnoteError.Locked {}
        let other = try Fieldnote(dir: dir, keys: FixedKey())
        do {
            try await other.unlock()
            XCTFail("opened with the wrong key")
        } catch FieldnoteError.WrongKey {}
    }

    func testSyncPolicy() {
        // The decisions are the Rust core's (SyncScheduleMachine); the shell only asks.
        let exact = SyncPolicyConfig(afterWriteMs: 5_000, periodicMs: 900_000, firstBackoffMs: 5_000,
                                     maxBackoffMs: 60_000, jitterPercent: 0)
        let p = SyncScheduleMachine(config: exact, seed: 7)
        XCTAssertTrue(p.shouldSyncNow(nowMs: 0))
        XCTAssertEqual(p.step(nowMs: 0), .syncNow)
        p.onSyncSucceeded(nowMs: 0)
        XCTAssertEqual(p.nextSyncAtMs(nowMs: 1), 900_000)
        p.onWrite(nowMs: 10_000)
        XCTAssertEqual(p.nextSyncAtMs(nowMs: 10_001), 15_000)
        XCTAssertEqual(p.step(nowMs: 10_001), .waitUntil(atMs: 15_000))
        p.onSyncFailed(nowMs: 15_000, retryable: true)
        XCTAssertEqual(p.nextSyncAtMs(nowMs: 15_001), 20_000)
        p.onSyncFailed(nowMs: 20_000, retryable: true)
        XCTAssertEqual(p.nextSyncAtMs(nowMs: 20_001), 30_000)
        p.onConnectivity(online: false, nowMs: 31_000)
        XCTAssertNil(p.nextSyncAtMs(nowMs: 31_000))
        XCTAssertEqual(p.step(nowMs: 31_000), .waitForNetwork)
        p.onConnectivity(online: true, nowMs: 40_000)
        XCTAssertTrue(p.shouldSyncNow(nowMs: 40_000))
        p.onSyncSucceeded(nowMs: 40_000)
        p.onWrite(nowMs: 40_500)
        p.onSyncFailed(nowMs: 41_000, retryable: false)
        // A write waits, but a failure retrying cannot help (sign-in) holds it for the
        // longest backoff.
        XCTAssertEqual(p.nextSyncAtMs(nowMs: 41_001), 101_000)

        // With jitter each wait lies in [backoff * 0.8, backoff]; two seeds differ, one repeats.
        let jittered = SyncPolicyConfig(afterWriteMs: 5_000, periodicMs: 900_000, firstBackoffMs: 5_000,
                                        maxBackoffMs: 60_000, jitterPercent: 20)
        let a = SyncScheduleMachine(config: jittered, seed: 1)
        let again = SyncScheduleMachine(config: jittered, seed: 1)
        let b = SyncScheduleMachine(config: jittered, seed: 2)
        var waitsA: [Int64] = []
        var waitsAgain: [Int64] = []
        var waitsB: [Int64] = []
        for i in 0..<8 {
            let t = Int64(i) * 1_000_000
            a.onSyncFailed(nowMs: t, retryable: true)
            again.onSyncFailed(nowMs: t, retryable: true)
            b.onSyncFailed(nowMs: t, retryable: true)
            let backoff = a.backoffMs()
            let wait = a.retryWaitMs()
            XCTAssertLessThanOrEqual(wait, backoff)
            XCTAssertGreaterThanOrEqual(wait, backoff - backoff / 5)
            XCTAssertEqual(a.nextSyncAtMs(nowMs: t), t + wait)
            waitsA.append(wait)
            waitsAgain.append(again.retryWaitMs())
            waitsB.append(b.retryWaitMs())
        }
        XCTAssertEqual(waitsA, waitsAgain)
        XCTAssertNotEqual(waitsA, waitsB)
        // The shell's convenience init draws its own seed.
        XCTAssertTrue(SyncScheduleMachine(config: jittered).shouldSyncNow(nowMs: 0))
    }

    /// Asserts whether `rule` is open (due, at risk or overdue) for the member.
    func expectOpen(_ f: Fieldnote, _ memberId: String, _ rule: String, _ open: Bool,
                    line: UInt = #line) async throws {
        let isOpen = try await f.obligations(memberId: memberId).contains { o in
            guard o.ruleId == rule else { return false }
            switch o.status {
            case .overdue, .atRisk, .due: return true
            default: return false
            }
        }
        XCTAssertEqual(isOpen, open, "\(rule) open", line: line)
    }

    /// One rule per program, each fact recorded through the typed API, as a phone would.
    func testEachProgramsRulesSeeWhatThePhoneRecords() async throws {
        let phone = try await signedIn()
        let day: Int64 = 86_400_000
        let now = SystemClock().nowMs()
        func enrolled(_ program: Program, _ daysAgo: Int64) async throws -> String {
            var m = member()
            m.program = program
            m.referredAtMs = now - daysAgo * day
            m.masshealthId = String(Int.random(in: 100_000_000_000..<999_999_999_999))
            return try await phone.addMember(m)
        }
        let provider = Contact(name: "Harborview intake", organization: "Harborview Clinic", phone: nil, email: nil)

        // CSP-1: a contact with the enrollee within 24 hours of the referral.
        let csp = try await enrolled(.csp, 3)
        try await expectOpen(phone, csp, "CSP-1", true)
        var call = note(csp, "Called about the housing list.")
        call.modality = .phone
        _ = try await phone.finalizeNote(id: try await phone.draftNote(call))
        try await expectOpen(phone, csp, "CSP-1", false)

        // JI-7: an incident reported to the plan and MassHealth within a business day.
        let ji = try await enrolled(.cspJi, 5)
        let incident = try phone.store.reportIncident(incident: NewIncident(
            memberId: ji, program: .cspJi, occurredAtMs: now - 3 * day, location: "Shelter lobby",
            category: .assault, description: "A fight", actionsTaken: "Called 911"))
        try await expectOpen(phone, ji, "JI-7", true)
        try phone.store.incidentReported(incidentId: incident, to: .healthPlan, atMs: nil)
        try await expectOpen(phone, ji, "JI-7", true)
        try phone.store.incidentReported(incidentId: incident, to: .massHealth, atMs: nil)
        try await expectOpen(phone, ji, "JI-7", false)

        // TM-1: outreach to the family within 5 days of the referral.
        let tm = try await enrolled(.tm, 8)
        try await expectOpen(phone, tm, "TM-1", true)
        _ = try phone.store.recordAttempt(attempt: NewAttempt(
            memberId: tm, program: .tm, channel: .phone, outcome: .leftMessage,
            purpose: "Offer an initiation appointment"))
        try await expectOpen(phone, tm, "TM-1", false)

        // CARES-5: a follow-up within 30 days of the referred service's date.
        let cares = try await enrolled(.cares, 60)
        let referral = try phone.store.makeReferral(referral: NewReferral(
            memberId: cares, program: .cares, service: "Outpatient therapy", provider: provider,
            reason: "Anxiety", referredAtMs: now - 50 * day, scheduledForMs: now - 45 * day))
        try await expectOpen(phone, cares, "CARES-5", true)
        try phone.store.followUpReferral(referralId: referral, outcome: "Attended intake", atMs: nil)
        try await expectOpen(phone, cares, "CARES-5", false)

        // CP-1 in both Community Partner programs: the care plan signed by the PCP.
        for program in [Program.bhCp, Program.ltssCp] {
            let cp = try await enrolled(program, 10)
            let plan = try phone.store.createServicePlan(plan: NewPlan(
                memberId: cp, program: program, problemsAndNeeds: "Diabetes", strengths: "Family support",
                summary: "Stay housed", goals: ["See the PCP monthly"]))
            try await expectOpen(phone, cp, "CP-1", true)
            try phone.store.signPlan(id: plan, role: .pcp, signerName: "Dr. Ilse Varga", signedAtMs: now - 2 * day)
            try await expectOpen(phone, cp, "CP-1", false)
        }

        // Bad input names every field at once and stores nothing.
        do {
            _ = try phone.store.recordDelivery(delivery: NewDelivery(
                memberId: cares, program: .cares, document: .other, recipientKind: .guardian,
                recipient: Contact(name: "", organization: nil, phone: nil, email: nil), channel: .mail,
                paper: false, electronic: false, language: " ", deliveredAtMs: now - 90 * day))
            XCTFail("accepted a bad delivery")
        } catch FieldnoteError.Invalid(_, let problems) {
            XCTAssertEqual(Set(problems.map(\.field)), ["delivered_at", "language", "paper", "recipient.name"])
        }
        let timeline = try await phone.timeline(memberId: cares)
        XCTAssertFalse(timeline.contains { $0.kind == .documentDelivery })
    }

}
