// The Kotlin shell against the real Rust library and a real server: the scenario a worker
// lives through, and every error a shell must see typed instead of a crash.
package org.fieldnote.android

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.fieldnote.ffi.AlarmProgress
import org.fieldnote.ffi.AttemptOutcome
import org.fieldnote.ffi.Channel
import org.fieldnote.ffi.Contact
import org.fieldnote.ffi.DeviceCredentials
import org.fieldnote.ffi.DocumentKind
import org.fieldnote.ffi.FieldnoteException
import org.fieldnote.ffi.GeoPoint
import org.fieldnote.ffi.IncidentCategory
import org.fieldnote.ffi.Modality
import org.fieldnote.ffi.NewAttempt
import org.fieldnote.ffi.NewDelivery
import org.fieldnote.ffi.NewIncident
import org.fieldnote.ffi.NewMember
import org.fieldnote.ffi.NewNote
import org.fieldnote.ffi.NewPlan
import org.fieldnote.ffi.NewReferral
import org.fieldnote.ffi.NoteSyncState
import org.fieldnote.ffi.ObligationStatus
import org.fieldnote.ffi.Program
import org.fieldnote.ffi.RecipientKind
import org.fieldnote.ffi.RecordKind
import org.fieldnote.ffi.ReferralSource
import org.fieldnote.ffi.ReportedTo
import org.fieldnote.ffi.Role
import org.fieldnote.ffi.SignatureStatus
import org.fieldnote.ffi.StoreConfig
import org.fieldnote.ffi.SyncDecision
import org.fieldnote.ffi.SyncPolicyConfig
import org.fieldnote.ffi.defaultStoreConfig
import org.fieldnote.ffi.diagnosticPanic
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.nio.file.Files
import java.security.SecureRandom

class ShellTest {
    private fun tempDir(): String = Files.createTempDirectory("fieldnote-kotlin").toString()

    private fun randomKey(): KeyProvider {
        val key = ByteArray(32).also { SecureRandom().nextBytes(it) }
        return KeyProvider { key.copyOf() }
    }

    private suspend fun signedIn(
        dir: String = tempDir(),
        keys: KeyProvider = randomKey(),
        config: StoreConfig = defaultStoreConfig(),
        user: String = "worker1.north",
    ): Fieldnote {
        val f = Fieldnote(dir, keys, config)
        f.unlock()
        f.signIn(TestServer.start(), user, TestServer.PASSWORD, "kotlin-test")
        return f
    }

    private fun member(program: Program = Program.CSP) = NewMember(
        givenName = "Test",
        familyName = "Member" + System.nanoTime() % 100000,
        dateOfBirth = "1990-04-01",
        masshealthId = "100200300400",
        primaryLanguage = "English",
        program = program,
        referredAtMs = null,
        referralSource = ReferralSource.HEALTH_PLAN,
        referralReason = "Support after a hospital stay",
    )

    private fun note(memberId: String, narrative: String) = NewNote(
        memberId = memberId,
        program = Program.CSP,
        modality = Modality.IN_PERSON,
        startedAtMs = System.currentTimeMillis() - 3_600_000,
        durationMinutes = 45u,
        narrative = narrative,
        telehealthReason = null,
        memberEngaged = true,
    )

    private inline fun <reified E : Throwable> expect(block: () -> Unit): E {
        try {
            block()
        } catch (e: Throwable) {
            if (e is E) return e
            fail("expected ${E::class.simpleName}, got $e")
        }
        fail("expected ${E::class.simpleName}, nothing was thrown")
        throw IllegalStateException()
    }

    @Test
    fun writeFinalizeSyncAndSeeItOnAnotherDevice() = runBlocking {
        val phone = signedIn()
        val statuses = mutableListOf<SyncEvent>()
        val memberId = phone.addMember(member())
        val noteId = phone.draftNote(note(memberId, "Met at the shelter; worked on the housing application."))
        assertEquals(noteId, phone.timeline(memberId).first { it.kind == RecordKind.CONTACT_NOTE }.recordId)
        assertTrue(phone.finalizeNote(noteId).isNotEmpty())
        assertTrue(phone.note(noteId).finalized)
        assertTrue(phone.syncStatus().pending > 0u)

        val collector = CoroutineScope(Dispatchers.Default).launch {
            phone.syncEvents.collect { synchronized(statuses) { statuses += it } }
        }
        Thread.sleep(200) // let the collector register its observer
        val summary = phone.sync()
        assertTrue("sent ${summary.progress.sent}", summary.progress.sent > 0u)
        assertEquals(0uL, phone.syncStatus().pending)
        assertEquals(NoteSyncState.Synced, phone.note(noteId).syncState)
        collector.cancel()
        assertTrue("a progress event arrived: $statuses", statuses.any { it is SyncEvent.Progress })

        // A plan signed by the worker and, witnessed, by the member.
        val plan = phone.store.createServicePlan(
            NewPlan(memberId, Program.CSP, "Housing search stalled", "Keeps every appointment", "Housing first", listOf("Move into stable housing")),
        )
        phone.store.signPlan(plan, Role.WORKER, "", null)
        phone.store.signPlan(plan, Role.MEMBER, "Test Member", null)
        val signatures = phone.store.planSignatures(plan).associate { it.role to it.state }
        assertEquals(SignatureStatus.CURRENT, signatures[Role.WORKER])
        assertEquals(SignatureStatus.CURRENT, signatures[Role.MEMBER])
        expect<FieldnoteException.Invalid> { phone.store.signPlan(plan, Role.MEMBER, " ", null) }

        // The same worker's second phone receives the member and the finalized note.
        val second = signedIn()
        second.sync()
        assertTrue(second.caseload().any { it.memberId == memberId })
        val copy = second.note(noteId)
        assertTrue(copy.finalized)
        assertEquals("Met at the shelter; worked on the housing application.", copy.narrative)
        assertTrue(second.search("housing").any { it.noteId == noteId })
        phone.close()
        second.close()
    }

    @Test
    fun aFieldSetDifferentlyOnTwoPhonesIsListedForAPersonToSettle() = runBlocking {
        val phone = signedIn()
        val memberId = phone.addMember(member())
        val base = note(memberId, "Met at the library to finish the housing form.")
        val noteId = phone.draftNote(base)
        phone.sync()
        val second = signedIn()
        second.sync()
        assertTrue(phone.conflicts(noteId).isEmpty())
        // Offline, each phone records a different length for the same visit.
        phone.editNote(noteId, base.copy(durationMinutes = 30u))
        second.editNote(noteId, base.copy(durationMinutes = 60u))
        phone.sync()
        second.sync()
        phone.sync()
        val shown = phone.note(noteId)
        assertEquals(shown.narrative, second.note(noteId).narrative)
        val conflicts = phone.conflicts(noteId)
        assertTrue("$conflicts", conflicts.any { it.endsWith("duration_minutes") })
        assertEquals(conflicts, second.conflicts(noteId))
        phone.close()
        second.close()
    }

    @Test
    fun panicArrivesAtTheSupervisorAndTheAcknowledgementReturns() = runBlocking {
        val phone = signedIn()
        val supervisor = TestServer.supervisor()
        val dialer = RecordingDialer()
        val distress = DistressController(phone, dialer, pollMs = 200)
        val alarmId = distress.panic(GeoPoint(42.36, -71.06, 15.0))
        assertEquals(AlarmProgress.PENDING, phone.store.alarm(alarmId).status)

        val states = mutableListOf<DistressState>()
        val follow = CoroutineScope(Dispatchers.Default).launch {
            distress.follow(alarmId).toList(states)
        }
        // The supervisor sees it on the server...
        var listed = ""
        val deadline = System.currentTimeMillis() + 30_000
        while (!listed.contains(alarmId) && System.currentTimeMillis() < deadline) {
            listed = TestServer.cli(supervisor, "--json", "alarm", "list")
            Thread.sleep(200)
        }
        assertTrue("the supervisor lists the alarm: $listed", listed.contains(alarmId))
        // ...acknowledges it, and the phone hears that help is coming.
        TestServer.cli(supervisor, "alarm", "ack", alarmId)
        withTimeout(30_000) { follow.join() }
        assertEquals(DistressState.Saved(alarmId), states.first())
        assertTrue(states.contains(DistressState.Sent(alarmId)))
        val last = states.last()
        assertTrue("ended acknowledged: $states", last is DistressState.Acknowledged)
        assertEquals(AlarmProgress.ACKNOWLEDGED, phone.store.alarm(alarmId).status)
        assertTrue(dialer.calls.isEmpty() && dialer.texts.isEmpty())
        phone.close()
    }

    @Test
    fun unacknowledgedSilentAlarmFallsBackToSmsWithoutTheServer() = runBlocking {
        val f = Fieldnote(tempDir(), randomKey())
        f.openSafety()
        // A server that is not there: every send fails as Offline.
        f.useCredentials(DeviceCredentials("http://127.0.0.1:9", "device", "secret"))
        val clock = MovableClock(System.currentTimeMillis())
        val dialer = RecordingDialer()
        val distress = DistressController(f, dialer, clock = clock, pollMs = 10)
        val alarmId = distress.discreet()
        clock.now += (f.store.fallbackSecs().toLong() + 1) * 1000
        val states = withTimeout(30_000) { distress.follow(alarmId).toList() }
        assertEquals(listOf(DistressState.Saved(alarmId), DistressState.FellBack(alarmId, silent = true)), states)
        assertEquals(listOf(alarmId), dialer.texts)
        assertTrue(dialer.calls.isEmpty())
        // Taken once: not offered again.
        assertTrue(f.store.fallbacksDue(clock.now).isEmpty())
        f.close()
    }

    @Test
    fun duressPinLooksLikeCancelAndQueuesAnAlarm() = runBlocking {
        val phone = signedIn()
        val distress = DistressController(phone, RecordingDialer())
        phone.store.setSafetyPins("1234", "9876")
        phone.store.startVisit(null, "Shelter, second floor", System.currentTimeMillis() + 3_600_000, null)
        assertTrue(phone.store.activeVisit() != null)
        distress.endVisit("9876")
        assertNull(phone.store.activeVisit())
        assertTrue("nothing visible", phone.store.visibleAlarms().isEmpty())
        assertTrue(distress.deliver() >= 2)
        val wrong = expect<FieldnoteException.Refused> {
            phone.store.startVisit(null, "Home visit", System.currentTimeMillis() + 3_600_000, null)
            runBlocking { distress.endVisit("0000") }
        }
        assertTrue(wrong.reason.contains("PIN"))
        phone.close()
    }

    @Test
    fun errorsArriveTypedWithReasons() = runBlocking {
        val dir = tempDir()
        val f = signedIn(dir = dir)
        // Invalid ids and fields name the field.
        val bad = expect<FieldnoteException.Invalid> { runBlocking { f.timeline("not-an-id") } }
        assertEquals("member_id", bad.problems.single().field)
        val badNote = expect<FieldnoteException.Invalid> {
            runBlocking { f.draftNote(note("0190a000-0000-7000-8000-000000000000", "x").copy(startedAtMs = -1)) }
        }
        assertEquals("started_at_ms", badNote.problems.single().field)
        val badMember = expect<FieldnoteException.Invalid> { runBlocking { f.addMember(member().copy(dateOfBirth = "04/01/1990")) } }
        assertEquals("date_of_birth", badMember.problems.single().field)
        val short = expect<FieldnoteException.Invalid> { f.store.unlock(ByteArray(5), null) }
        assertTrue(short.reason.contains("32 bytes"))
        // A finalized note refuses edits.
        val m = f.addMember(member())
        val n = f.draftNote(note(m, "first"))
        f.finalizeNote(n)
        val refused = expect<FieldnoteException.Refused> { runBlocking { f.editNote(n, note(m, "changed")) } }
        assertTrue(refused.reason.contains("addendum"))
        // A panic in Rust is an exception, and the store keeps working.
        val panic = expect<FieldnoteException.Internal> { diagnosticPanic() }
        assertTrue(panic.reason.contains("diagnostic panic"))
        assertEquals(m, f.caseload().first { it.memberId == m }.memberId)
        // Network failure mid-sync: Offline, nothing lost.
        f.draftNote(note(m, "written offline"))
        f.useCredentials(DeviceCredentials("http://127.0.0.1:9", "device", "secret"))
        expect<FieldnoteException.Offline> { runBlocking { f.sync() } }
        assertTrue(f.syncStatus().pending > 0u)
        // Locked store.
        f.lock()
        expect<FieldnoteException.Locked> { runBlocking { f.caseload() } }
        f.close()
        // A closed native object is a Kotlin exception, not a crash.
        expect<IllegalStateException> { f.store.caseload() }
        // The wrong key changes nothing; the right one still opens.
        val other = Fieldnote(dir, randomKey())
        expect<FieldnoteException.WrongKey> { runBlocking { other.unlock() } }
        other.close()
    }

    @Test
    fun pinLockoutSurvivesRestartAndIdleLockKeepsDrafts() = runBlocking {
        val dir = tempDir()
        val keys = randomKey()
        val config = defaultStoreConfig().copy(idleLockSecs = 1uL, pinAttempts = 3u, firstLockoutSecs = 600uL)
        val f = signedIn(dir = dir, keys = keys, config = config)
        f.setUnlockPin("2468")
        val m = f.addMember(member())
        val draft = f.draftNote(note(m, "draft kept across the idle lock"))
        Thread.sleep(1_300)
        assertTrue(f.isLocked)
        expect<FieldnoteException.Locked> { runBlocking { f.note(draft) } }
        f.unlock("2468")
        assertEquals("draft kept across the idle lock", f.note(draft).narrative)
        f.lock()
        val first = expect<FieldnoteException.PinRejected> { runBlocking { f.unlock("1111") } }
        assertEquals(2u, first.attemptsLeft)
        expect<FieldnoteException.PinRejected> { runBlocking { f.unlock("1111") } }
        expect<FieldnoteException.LockedOut> { runBlocking { f.unlock("1111") } }
        f.close()
        // A restarted app is still locked out, even with the right PIN.
        val restarted = Fieldnote(dir, keys, config)
        val out = expect<FieldnoteException.LockedOut> { runBlocking { restarted.unlock("2468") } }
        assertTrue(out.retryAfterSecs in 1uL..600uL)
        assertTrue(restarted.isLocked)
        restarted.close()
    }

    @Test
    fun syncPolicySchedulesWritesConnectivityAndBackoff() {
        // The decisions are the Rust core's (SyncScheduleMachine); the shell only asks.
        val exact = SyncPolicyConfig(
            afterWriteMs = 5_000,
            periodicMs = 900_000,
            firstBackoffMs = 5_000,
            maxBackoffMs = 60_000,
            jitterPercent = 0u,
        )
        val p = syncPolicy(exact, seed = 7uL)
        assertTrue("due at start", p.shouldSyncNow(0))
        assertEquals(SyncDecision.SyncNow, p.step(0))
        p.onSyncSucceeded(0)
        assertEquals(900_000L, p.nextSyncAtMs(1))
        p.onWrite(10_000)
        assertEquals(15_000L, p.nextSyncAtMs(10_001))
        assertEquals(SyncDecision.WaitUntil(15_000), p.step(10_001))
        assertFalse(p.shouldSyncNow(14_999))
        assertTrue(p.shouldSyncNow(15_000))
        p.onSyncFailed(15_000, retryable = true)
        assertEquals(20_000L, p.nextSyncAtMs(15_001))
        p.onSyncFailed(20_000, retryable = true)
        assertEquals(30_000L, p.nextSyncAtMs(20_001))
        repeat(10) { p.onSyncFailed(30_000, retryable = true) }
        assertEquals(60_000L, p.backoffMs())
        assertEquals(90_000L, p.nextSyncAtMs(30_001))
        p.onConnectivity(false, 31_000)
        assertNull(p.nextSyncAtMs(31_000))
        assertEquals(SyncDecision.WaitForNetwork, p.step(31_000))
        p.onConnectivity(true, 40_000)
        assertTrue("back online: at once", p.shouldSyncNow(40_000))
        p.onSyncSucceeded(40_000)
        p.onWrite(40_500)
        p.onSyncFailed(41_000, retryable = false)
        assertEquals(41_000L + 60_000L, p.nextSyncAtMs(41_001))

        // With jitter each wait lies in [backoff * 0.8, backoff]; two seeds differ, one seed
        // repeats.
        val jittered = exact.copy(jitterPercent = 20u)
        val a = syncPolicy(jittered, seed = 1uL)
        val again = syncPolicy(jittered, seed = 1uL)
        val b = syncPolicy(jittered, seed = 2uL)
        val waitsA = mutableListOf<Long>()
        val waitsAgain = mutableListOf<Long>()
        val waitsB = mutableListOf<Long>()
        for (i in 0 until 8) {
            val t = i * 1_000_000L
            a.onSyncFailed(t, retryable = true)
            again.onSyncFailed(t, retryable = true)
            b.onSyncFailed(t, retryable = true)
            val backoff = a.backoffMs()
            val wait = a.retryWaitMs()
            assertTrue("$wait within [${backoff - backoff / 5}, $backoff]", wait in (backoff - backoff / 5)..backoff)
            assertEquals(t + wait, a.nextSyncAtMs(t))
            waitsA += wait
            waitsAgain += again.retryWaitMs()
            waitsB += b.retryWaitMs()
        }
        assertEquals(waitsA, waitsAgain)
        assertTrue("two seeds, two schedules: $waitsA", waitsA != waitsB)
        listOf(p, a, again, b).forEach { it.close() }
    }

    private fun uniqueMasshealthId(): String = "%012d".format(System.nanoTime() % 1_000_000_000_000L)

    private suspend fun Fieldnote.isOpen(memberId: String, rule: String): Boolean =
        obligations(memberId).any {
            it.ruleId == rule &&
                (it.status is ObligationStatus.Overdue || it.status is ObligationStatus.AtRisk || it.status is ObligationStatus.Due)
        }

    @Test
    fun eachProgramsRulesSeeWhatThePhoneRecords() = runBlocking {
        val phone = signedIn()
        val day = 86_400_000L
        val now = System.currentTimeMillis()
        suspend fun enrolled(program: Program, daysAgo: Long) = phone.addMember(
            member(program).copy(masshealthId = uniqueMasshealthId(), referredAtMs = now - daysAgo * day),
        )
        val provider = Contact("Harborview intake", "Harborview Clinic", null, null)

        // CSP-1: a contact with the enrollee within 24 hours of the referral.
        val csp = enrolled(Program.CSP, 3)
        assertTrue(phone.isOpen(csp, "CSP-1"))
        phone.finalizeNote(phone.draftNote(note(csp, "Met at the library.").copy(modality = Modality.PHONE)))
        assertFalse("CSP-1 is satisfied by the note", phone.isOpen(csp, "CSP-1"))

        // JI-7: an incident reported to the plan and MassHealth within a business day.
        val ji = enrolled(Program.CSP_JI, 5)
        val incident = phone.store.reportIncident(
            NewIncident(ji, Program.CSP_JI, now - 3 * day, "Shelter lobby", IncidentCategory.ASSAULT, "A fight", "Called 911"),
        )
        assertTrue(phone.isOpen(ji, "JI-7"))
        phone.store.incidentReported(incident, ReportedTo.HEALTH_PLAN, null)
        assertTrue("one report is not enough", phone.isOpen(ji, "JI-7"))
        phone.store.incidentReported(incident, ReportedTo.MASS_HEALTH, null)
        assertFalse(phone.isOpen(ji, "JI-7"))

        // TM-1: outreach to the family within 5 days of the referral.
        val tm = enrolled(Program.TM, 8)
        assertTrue(phone.isOpen(tm, "TM-1"))
        phone.store.recordAttempt(
            NewAttempt(tm, Program.TM, channel = Channel.PHONE, outcome = AttemptOutcome.LEFT_MESSAGE, purpose = "Offer an initiation appointment"),
        )
        assertFalse(phone.isOpen(tm, "TM-1"))

        // CARES-5: a follow-up within 30 days of the referred service's date.
        val cares = enrolled(Program.CARES, 60)
        val referral = phone.store.makeReferral(
            NewReferral(cares, Program.CARES, "Outpatient therapy", provider, "Anxiety", referredAtMs = now - 50 * day, scheduledForMs = now - 45 * day),
        )
        assertTrue(phone.isOpen(cares, "CARES-5"))
        phone.store.followUpReferral(referral, "Attended intake", null)
        assertFalse(phone.isOpen(cares, "CARES-5"))

        // CP-1, in both Community Partner programs: the care plan signed by the PCP.
        for (program in listOf(Program.BH_CP, Program.LTSS_CP)) {
            val cp = enrolled(program, 10)
            val plan = phone.store.createServicePlan(NewPlan(cp, program, "Diabetes", "Family support", "Stay housed", listOf("See the PCP monthly")))
            assertTrue("$program", phone.isOpen(cp, "CP-1"))
            phone.store.signPlan(plan, Role.PCP, "Dr. Ilse Varga", now - 2 * day)
            assertFalse("$program", phone.isOpen(cp, "CP-1"))
        }

        // Bad input names every field at once and stores nothing.
        val bad = expect<FieldnoteException.Invalid> {
            phone.store.recordDelivery(
                NewDelivery(
                    cares, Program.CARES, DocumentKind.OTHER, null, RecipientKind.GUARDIAN, Contact("", null, null, null),
                    Channel.MAIL, paper = false, electronic = false, language = " ", deliveredAtMs = now - 90 * day,
                ),
            )
        }
        assertEquals(setOf("delivered_at", "language", "paper", "recipient.name"), bad.problems.map { it.field }.toSet())
        assertTrue(phone.timeline(cares).none { it.kind == RecordKind.DOCUMENT_DELIVERY })
        phone.close()
    }
}

class RecordingDialer : FallbackDialer {
    val calls = mutableListOf<String>()
    val texts = mutableListOf<String>()
    override fun call(alarmId: String) {
        calls += alarmId
    }

    override fun sendSilentSms(alarmId: String) {
        texts += alarmId
    }
}

class MovableClock(var now: Long) : Clock {
    override fun nowMs(): Long = now

}

