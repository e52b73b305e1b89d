// The today view with the distress button always in reach. Views are built in code to keep
// the app thin; every action goes through the shell library.
package org.fieldnote.app

import android.content.Intent
import android.os.Bundle
import android.widget.Button
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import androidx.appcompat.app.AppCompatActivity
import androidx.lifecycle.lifecycleScope
import kotlinx.coroutines.launch
import org.fieldnote.android.DistressState
import org.fieldnote.ffi.FieldnoteException

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
        setContentView(
            LinearLayout(this).apply {
                orientation = LinearLayout.VERTICAL
                addView(panic)
                addView(status)
                addView(visit)
                addView(ScrollView(context).apply { addView(list) })
            },
        )
        lifecycleScope.launch {
            try {
                app.fieldnote.unlock()
                for (item in app.fieldnote.today()) {
                    val open = item.open.joinToString("\n") { "  ${it.status}: ${it.obligation}" }
                    list.addView(
                        TextView(this@MainActivity).apply {
                            text = "${item.displayName}\n$open"
                            setOnClickListener {
                                startActivity(
                                    Intent(this@MainActivity, NoteActivity::class.java)
                                        .putExtra("member_id", item.memberId),
                                )
                            }
                        },
                    )
                }
            } catch (e: FieldnoteException) {
                status.text = e.message
            }
        }
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
