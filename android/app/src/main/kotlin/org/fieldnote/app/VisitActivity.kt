// A visit session: start it (the foreground service keeps the app alive and the location
// fresh), check in, and end it with the cancel or duress PIN.
package org.fieldnote.app

import android.content.Intent
import android.os.Bundle
import android.text.InputType
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import androidx.appcompat.app.AppCompatActivity
import androidx.lifecycle.lifecycleScope
import kotlinx.coroutines.launch

class VisitActivity : AppCompatActivity() {
    private val app get() = application as FieldnoteApp

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val place = EditText(this).apply { hint = "Where" }
        val pin = EditText(this).apply { hint = "PIN"; inputType = InputType.TYPE_CLASS_NUMBER or InputType.TYPE_NUMBER_VARIATION_PASSWORD }
        val start = Button(this).apply {
            text = "Start a one-hour visit"
            setOnClickListener {
                app.fieldnote.store.startVisit(null, place.text.toString(), System.currentTimeMillis() + 3_600_000, null)
                startForegroundService(Intent(this@VisitActivity, VisitService::class.java))
            }
        }
        val checkIn = Button(this).apply { text = "Check in"; setOnClickListener { app.fieldnote.store.checkIn(null) } }
        val end = Button(this).apply {
            text = "End visit"
            setOnClickListener {
                lifecycleScope.launch {
                    app.distress.endVisit(pin.text.toString())
                    stopService(Intent(this@VisitActivity, VisitService::class.java))
                    app.distress.deliver()
                    finish()
                }
            }
        }
        setContentView(LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            listOf(place, start, checkIn, pin, end).forEach(::addView)
        })
    }
}
