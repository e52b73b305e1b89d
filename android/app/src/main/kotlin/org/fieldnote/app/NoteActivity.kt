// Note entry: the draft is saved whenever the worker leaves the screen, then synced by the
// scheduler; finalizing signs it.
package org.fieldnote.app

import android.os.Bundle
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import androidx.appcompat.app.AppCompatActivity
import androidx.lifecycle.lifecycleScope
import kotlinx.coroutines.launch
import org.fieldnote.ffi.NewNote

class NoteActivity : AppCompatActivity() {
    private val app get() = application as FieldnoteApp
    private var draftId: String? = null
    private lateinit var narrative: EditText

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        narrative = EditText(this).apply { hint = "What happened"; minLines = 8 }
        val finalize = Button(this).apply {
            text = "Finalize"
            setOnClickListener { lifecycleScope.launch { save()?.let { app.fieldnote.finalizeNote(it) }; finish() } }
        }
        setContentView(LinearLayout(this).apply { orientation = LinearLayout.VERTICAL; addView(narrative); addView(finalize) })
    }

    override fun onPause() {
        super.onPause()
        app.scope.launch { save() }
    }

    private suspend fun save(): String? {
        val memberId = intent.getStringExtra("member_id") ?: return null
        val note = NewNote(memberId, "csp", "in_person", System.currentTimeMillis(), 30u, narrative.text.toString(), null, true)
        val id = draftId?.also { app.fieldnote.editNote(it, note) } ?: app.fieldnote.draftNote(note)
        draftId = id
        app.scheduler.onWrite()
        return id
    }
}
