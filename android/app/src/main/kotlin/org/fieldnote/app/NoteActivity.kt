// Note entry, with every field the programs' rules read (modality, place, purposes, the
// collateral contact, TM-5's activity, goal and response). The draft is saved whenever the
// worker leaves the screen, then synced by the scheduler; finalizing signs it. The member
// comes from the intent extra `member_id`, the program from `program` (a Program name).
package org.fieldnote.app

import android.os.Bundle
import android.widget.ScrollView
import android.widget.Toast
import androidx.appcompat.app.AppCompatActivity
import androidx.lifecycle.lifecycleScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.fieldnote.ffi.ContactPurpose
import org.fieldnote.ffi.FieldnoteException
import org.fieldnote.ffi.Modality
import org.fieldnote.ffi.NewNote
import org.fieldnote.ffi.PlaceOfService

/** Writes one contact note, kept as a draft until the worker finalizes it. */
class NoteActivity : AppCompatActivity() {
    private val app get() = application as FieldnoteApp
    private val saving = Mutex()
    private lateinit var form: Form
    private lateinit var fields: NoteFields

    @Volatile private var draftId: String? = null

    @Volatile private var finalized = false

    @Volatile private var autosaveFailure: String? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        title = "Contact note"
        form = Form(this)
        fields = NoteFields(form)
        form.button("Save draft") { write(finalize = false) }
        form.button("Finalize") { write(finalize = true) }
        setContentView(ScrollView(this).apply { addView(form.root) })
    }

    override fun onResume() {
        super.onResume()
        autosaveFailure?.let { form.say("The draft was not saved when you left: $it") }
        autosaveFailure = null
    }

    override fun onPause() {
        super.onPause()
        if (finalized || (draftId == null && fields.isBlank())) return
        val note = form.read(fields::read) ?: return
        app.scope.launch {
            try {
                save(note, finalize = false)
            } catch (e: FieldnoteException) {
                autosaveFailure = e.message
            }
        }
    }

    private fun write(finalize: Boolean) {
        val note = form.read(fields::read) ?: return
        lifecycleScope.launch {
            try {
                save(note, finalize)
                if (finalize) finish() else Toast.makeText(this@NoteActivity, "Draft saved", Toast.LENGTH_SHORT).show()
            } catch (e: FieldnoteException) {
                form.fail(e)
            }
        }
    }

    /** Saves [note] as the draft (a new one the first time), and finalizes it when asked. */
    private suspend fun save(note: NewNote, finalize: Boolean) {
        saving.withLock {
            if (finalized) return
            form.save { store ->
                val id = draftId?.also { store.editNote(it, note) } ?: store.draftNote(note)
                draftId = id
                if (finalize) {
                    store.finalizeNote(id)
                    finalized = true
                }
                id
            }
        }
    }
}

/** The note form's inputs, and how they read into a [NewNote]. */
private class NoteFields(form: Form) {
    private val member = form.text("member_id", "Member id")
    private val program = form.programChoice()
    private val modality = form.choice("modality", "How", Modality.entries, Modality.IN_PERSON)
    private val place = form.choice("place", "Where", PlaceOfService.entries, blank = "By how it happened")
    private val started = form.time("started_at_ms", "Started at", initialMs = System.currentTimeMillis())
    private val minutes = form.whole("duration_minutes", "Minutes", 30u)
    private val narrative = form.text("narrative", "What happened", lines = 8)
    private val engaged = form.check("member_engaged", "The member was engaged and responsive", initial = true)
    private val telehealth = form.text("telehealth_reason", "Why telehealth (video contacts)")
    private val purposes = form.picks("purposes", "What the contact was for", ContactPurpose.entries)
    private val collateral = form.contact("collateral", "Collateral contact: with whom")
    private val activity = form.run { heading("Therapeutic Mentoring (TM-5)"); text("planned_activity", "Planned activity") }
    private val goal = form.text("goal_targeted", "Goal targeted")
    private val response = form.text("member_response", "The youth's response", lines = 2)

    /** Nothing written yet: leaving the screen saves no empty draft. */
    fun isBlank(): Boolean = narrative.value.isEmpty()

    /** The note as the inputs hold it (call inside [Form.read]). */
    fun read() = NewNote(
        memberId = member.value,
        program = program.value(),
        modality = modality.value(),
        startedAtMs = started.value(),
        durationMinutes = minutes.value(),
        narrative = narrative.value,
        telehealthReason = telehealth.optional,
        memberEngaged = engaged.isChecked,
        purposes = purposes.values(),
        place = place.orNull(),
        collateral = collateral.orNull(),
        plannedActivity = activity.optional,
        goalTargeted = goal.optional,
        memberResponse = response.optional,
    )
}
