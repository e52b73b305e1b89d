// The Kotlin side of the FFI overhead benchmark: the same FieldnoteStore calls as
// ffi/examples/note_write_bench.rs, through the generated bindings and JNA. Run by
// scripts/ffi-bench. Usage: NoteWriteBench <server-url> <store-dir> <notes>.
package org.fieldnote.android

import kotlinx.coroutines.runBlocking
import org.fieldnote.ffi.FieldnoteStore
import org.fieldnote.ffi.Modality
import org.fieldnote.ffi.NewMember
import org.fieldnote.ffi.NewNote
import org.fieldnote.ffi.Program
import org.fieldnote.ffi.ReferralSource
import org.fieldnote.ffi.defaultStoreConfig

private const val NARRATIVE = "Met the member at the day shelter. Reviewed the housing application " +
    "checklist together; the member brought two of the three documents the housing authority " +
    "asked for and will request the birth certificate from the registry this week. Discussed " +
    "the upcoming court date and confirmed transportation with the probation officer. The " +
    "member reported sleeping better since the medication change and attending two recovery " +
    "meetings. Practiced the phone call to the landlord reference. Next steps: accompany the " +
    "member to the registry on Thursday, follow up with the housing search worker about the " +
    "voucher, and check in by phone on Monday."

object NoteWriteBench {
    @JvmStatic
    fun main(args: Array<String>) {
        val (url, dir, count) = args
        val notes = count.toInt()
        val store = FieldnoteStore(dir, defaultStoreConfig())
        store.unlock(ByteArray(32) { 7 }, null)
        runBlocking { store.signIn(url, "worker1.north", TestServer.PASSWORD, null, "kotlin-bench") }
        val member = store.addMember(NewMember("Bench", "Member", "1990-04-01", "100200300400", "English", Program.CSP, null, ReferralSource.HEALTH_PLAN, null))
        fun note(i: Int) = NewNote(member, Program.CSP, Modality.IN_PERSON, 1_780_000_000_000 + i * 60_000L, 45u, NARRATIVE, null, true)
        val ids = ArrayList<String>()
        repeat(notes / 10) { ids += store.draftNote(note(it)) }
        for (id in ids) store.note(id)
        var start = System.nanoTime()
        for (i in 0 until notes) ids += store.draftNote(note(i))
        println("write_note_ns=${(System.nanoTime() - start) / notes}")
        start = System.nanoTime()
        for (id in ids.drop(notes / 10)) store.note(id)
        println("read_note_ns=${(System.nanoTime() - start) / notes}")
        store.close()
    }
}
