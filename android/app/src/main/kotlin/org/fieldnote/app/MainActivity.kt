// The today view with the distress button always in reach. Views are built in code to keep
// the app thin; every action goes through the shell library. A member opens the menu of
// record forms (NoteActivity, RecordActivity); the staff menu opens the forms naming no member.
package org.fieldnote.app

import android.content.Intent
import android.graphics.Color
import android.os.Bundle
import android.widget.Button
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import androidx.appcompat.app.AlertDialog
import androidx.appcompat.app.AppCompatActivity
import androidx.lifecycle.lifecycleScope
import kotlinx.coroutines.launch
import org.fieldnote.android.DistressState
import org.fieldnote.ffi.FieldnoteException
import org.fieldnote.ffi.ObligationStatus
import org.fieldnote.ffi.Program

/** The today view: members with open obligations, most urgent first. */
class MainActivity : AppCompatActivity() {
    private val app get() = application as FieldnoteApp

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val list = LinearLayout(this).apply { orientation = LinearLayout.VERTICAL }
        val status = TextView(this)
        val panic = Button(this).apply {
            text = getString(android.R.string.dialog_alert_title)
            contentDescription = "Emergency: alert your supervisor"
            textSize = 28f
            setOnClickListener { raisePanic(status) }
        }
        val visit = Button(this).apply {
            text = "Visit"
            setOnClickListener { startActivity(Intent(this@MainActivity, VisitActivity::class.java)) }
        }
        val newMember = Button(this).apply {
            text = "New member"
            setOnClickListener { startActivity(RecordActivity.intent(this@MainActivity, "member")) }
        }
        val staff = Button(this).apply {
            text = "Staff records"
            setOnClickListener { chooseForm(null, null) }
        }
        setContentView(
            LinearLayout(this).apply {
                orientation = LinearLayout.VERTICAL
                addView(panic)
                addView(status)
                addView(visit)
                addView(newMember)
                addView(staff)
                addView(ScrollView(context).apply { addView(list) })
            },
        )
        lifecycleScope.launch {
            try {
                app.fieldnote.unlock()
                for (item in app.fieldnote.today()) {
                    val open = item.open.joinToString("\n") { "  ${describe(it.status)}: ${it.obligation}" }
                    list.addView(
                        TextView(this@MainActivity).apply {
                            text = "${item.displayName}\n$open"
                            if (item.open.any { it.status is ObligationStatus.Overdue }) setTextColor(Color.RED)
                            setOnClickListener { chooseForm(item.memberId, item.open.firstOrNull()?.program) }
                        },
                    )
                }
            } catch (e: FieldnoteException) {
                status.text = e.message
            }
        }
    }

    /** Offers the forms about [memberId] (a note first), or those naming no member when it is null. */
    private fun chooseForm(memberId: String?, program: Program?) {
        val kinds = formKinds.filter { it.aboutMember == (memberId != null) }
        val titles = (if (memberId != null) listOf("Contact note") else emptyList()) + kinds.map { it.title }
        val keys = (if (memberId != null) listOf("note") else emptyList()) + kinds.map { it.kind }
        AlertDialog.Builder(this)
            .setTitle(if (memberId != null) "Record" else "New record")
            .setItems(titles.toTypedArray()) { _, which ->
                startActivity(RecordActivity.intent(this, keys[which], memberId, program))
            }
            .show()
    }

    private fun raisePanic(status: TextView) {
        app.scope.launch {
            val id = app.distress.panic()
            app.distress.follow(id).collect { state ->
                runOnUiThread {
                    status.text = when (state) {
                        is DistressState.Saved -> "Alarm saved, sending…"
                        is DistressState.Sent -> "Alarm sent; paging your supervisor"
                        is DistressState.Acknowledged -> "Help is coming (${state.by})"
                        is DistressState.FellBack -> "No answer: calling the on-call line"
                    }
                }
            }
        }
    }
}

/** An obligation's status in the words of RULES.md. */
fun describe(status: ObligationStatus): String = when (status) {
    is ObligationStatus.NotYetDue -> "not yet due"
    is ObligationStatus.Due -> "due"
    is ObligationStatus.AtRisk -> "at risk"
    is ObligationStatus.Overdue -> "overdue"
    is ObligationStatus.Satisfied -> "done"
    is ObligationStatus.SatisfiedLate -> "done late"
    is ObligationStatus.Extended -> "extended (${status.reason})"
    is ObligationStatus.Waived -> "waived (${status.reason})"
    is ObligationStatus.NotApplicable -> "not applicable"
}
