// One screen for every record a worker keeps besides contact notes: the intent extra `kind`
// picks the form (MemberForms.kt, CaseForms.kt, EventForms.kt, StaffForms.kt); the other extras
// (`member_id`, `program`, `referral_id`...) prefill it. One activity keeps the manifest
// and the navigation small.
package org.fieldnote.app

import android.content.Context
import android.content.Intent
import android.os.Bundle
import android.widget.ScrollView
import androidx.appcompat.app.AppCompatActivity
import org.fieldnote.ffi.Program

/**
 * A record form: [kind] is the intent extra that opens it, [title] what the screen says, and
 * [build] adds its inputs and save button to a [Form]. [aboutMember] forms are offered from
 * a member; the others (supervision, training...) from the staff menu.
 */
class FormKind(val kind: String, val title: String, val aboutMember: Boolean, val build: Form.() -> Unit)

/** Every record form, in the order the menus list them. */
val formKinds: List<FormKind> = memberForms + caseForms + eventForms + staffForms

/** Shows the form named by the intent extra `kind` (one of [formKinds]). */
class RecordActivity : AppCompatActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val kind = formKinds.firstOrNull { it.kind == intent.getStringExtra(KIND) }
        if (kind == null) {
            finish()
            return
        }
        title = kind.title
        val form = Form(this)
        kind.build(form)
        setContentView(ScrollView(this).apply { addView(form.root) })
    }

    companion object {
        /** The intent extra naming the form. */
        const val KIND = "kind"

        /** Opens the form [kind] (or the note screen for `note`), about [memberId] in [program] when given. */
        fun intent(context: Context, kind: String, memberId: String? = null, program: Program? = null): Intent {
            val screen = if (kind == "note") NoteActivity::class.java else RecordActivity::class.java
            return Intent(context, screen)
                .putExtra(KIND, kind)
                .putExtra("member_id", memberId)
                .putExtra("program", program?.name)
        }
    }
}
