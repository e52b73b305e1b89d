// Building blocks for the record screens. Views are built in code like the rest of the app.
// Each input is registered under the FFI's field name (`member_id`, `signed_at_ms`,
// `recipient.name`), so a refusal from the core (FieldnoteException.Invalid, one problem per
// field) is shown next to the field it concerns. Nothing here checks a rule: the form only
// turns text into the typed values the FFI takes (times and numbers), and the core decides.
package org.fieldnote.app

import android.graphics.Color
import android.graphics.Typeface
import android.text.InputType
import android.view.Gravity
import android.view.View
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.CheckBox
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.Spinner
import android.widget.TextView
import android.widget.Toast
import androidx.appcompat.app.AppCompatActivity
import androidx.lifecycle.lifecycleScope
import java.time.Instant
import java.time.LocalDateTime
import java.time.OffsetDateTime
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.fieldnote.ffi.Contact
import org.fieldnote.ffi.FieldProblem
import org.fieldnote.ffi.FieldnoteException
import org.fieldnote.ffi.FieldnoteStore
import org.fieldnote.ffi.Program

/** One call into the store, built from a form's values on the main thread and run on IO. */
fun interface StoreCall {
    /** Makes the call; returns what the store returned (an id, or Unit). */
    fun call(store: FieldnoteStore): Any?
}

/** The trimmed text of a field. */
val EditText.value: String get() = text.toString().trim()

/** The trimmed text of a field, or null when it is blank. */
val EditText.optional: String? get() = value.ifEmpty { null }

/** The field's non-blank lines, trimmed (one plan goal per line). */
val EditText.perLine: List<String> get() = text.toString().lines().map { it.trim() }.filter { it.isNotEmpty() }

/** An enum value in words: `NO_ANSWER` reads "No answer". */
fun words(e: Enum<*>): String = e.name.lowercase().replace('_', ' ').replaceFirstChar { it.uppercase() }

/** A program as workers write it: `CSP_JI` reads "CSP-JI". */
fun programName(p: Program): String = p.name.replace('_', '-')

private val timeFormat = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm")

/**
 * Milliseconds since 1970 from ISO text: `2025-03-14 09:30` or `2025-03-14T09:30` (local
 * time), or with an offset (`2025-03-14T09:30-04:00`). Null when it is none of these.
 */
fun parseTime(text: String): Long? {
    val s = text.trim().replace(' ', 'T')
    return runCatching { OffsetDateTime.parse(s).toInstant().toEpochMilli() }.getOrNull()
        ?: runCatching { LocalDateTime.parse(s).atZone(ZoneId.systemDefault()).toInstant().toEpochMilli() }.getOrNull()
}

/** [ms] as local ISO text, the form [parseTime] reads back. */
fun formatTime(ms: Long): String = Instant.ofEpochMilli(ms).atZone(ZoneId.systemDefault()).format(timeFormat)

/**
 * A vertical form in [activity]: labelled inputs known by field name, a summary line for
 * problems no input claims, and buttons that save through `app.fieldnote.store`. Text inputs
 * are prefilled from the intent extra of the same name (`member_id`, `referral_id`...), the
 * program picker from the extra `program` (a [Program] name).
 */
class Form(private val activity: AppCompatActivity) {
    private val app = activity.application as FieldnoteApp
    private val slots = mutableMapOf<String, Slot>()
    private val local = mutableListOf<FieldProblem>()
    private val summary = TextView(activity).apply { setTextColor(Color.RED); visibility = View.GONE }

    /** The form's views; put them in a ScrollView. */
    val root = LinearLayout(activity).apply {
        orientation = LinearLayout.VERTICAL
        setPadding(32, 32, 32, 32)
        addView(summary)
    }

    /** Where a field's problems show: its input, and a red line under it. */
    private class Slot(val input: View, val problem: TextView)

    private fun <V : View> add(field: String, label: String?, input: V): V {
        input.id = View.generateViewId()
        if (label != null) root.addView(TextView(activity).apply { text = label; labelFor = input.id })
        root.addView(input)
        val problem = TextView(activity).apply { setTextColor(Color.RED); visibility = View.GONE }
        root.addView(problem)
        slots[field] = Slot(input, problem)
        return input
    }

    private fun problem(field: String, reason: String) {
        local += FieldProblem(field = field, reason = reason)
    }

    /** A section title. */
    fun heading(title: String) {
        root.addView(TextView(activity).apply { text = title; setTypeface(typeface, Typeface.BOLD); setPadding(0, 24, 0, 8) })
    }

    /** A text input; [extra] names the intent extra that prefills it (the field by default). */
    fun text(field: String, label: String, hint: String? = null, lines: Int = 1, extra: String = field): EditText =
        add(field, label, EditText(activity).apply {
            this.hint = hint
            if (lines > 1) {
                inputType = InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_FLAG_MULTI_LINE or
                    InputType.TYPE_TEXT_FLAG_CAP_SENTENCES
                minLines = lines
                gravity = Gravity.TOP or Gravity.START
            }
            setText(activity.intent.getStringExtra(extra) ?: "")
        })

    /** A date, `YYYY-MM-DD` (the FFI parses it and names the field when it cannot). */
    fun day(field: String, label: String, hint: String = "YYYY-MM-DD"): EditText = text(field, label, hint)

    /** A check box. */
    fun check(field: String, label: String, initial: Boolean = false): CheckBox =
        add(field, null, CheckBox(activity).apply { text = label; isChecked = initial })

    /** A whole number (minutes). */
    inner class Whole internal constructor(private val field: String, private val view: EditText) {
        /** The number; a problem on the field when it is not one. */
        fun value(): UInt = view.value.toUIntOrNull() ?: 0u.also { problem(field, "must be a whole number") }
    }

    /** A whole-number input starting at [initial]. */
    fun whole(field: String, label: String, initial: UInt): Whole =
        Whole(field, add(field, label, EditText(activity).apply {
            inputType = InputType.TYPE_CLASS_NUMBER
            setText(initial.toString())
        }))

    /** A time typed as ISO text, `2025-03-14 09:30` (local time). */
    inner class Time internal constructor(private val field: String, private val view: EditText) {
        /** Milliseconds since 1970, or null when blank; a problem when it does not parse. */
        fun orNull(): Long? {
            if (view.value.isEmpty()) return null
            val ms = parseTime(view.value)
            if (ms == null) problem(field, "use YYYY-MM-DD HH:MM, for example 2025-03-14 09:30")
            return ms
        }

        /** Milliseconds since 1970; a problem when blank or unreadable. */
        fun value(): Long {
            if (view.value.isEmpty()) problem(field, "must not be empty")
            return orNull() ?: 0L
        }
    }

    /** A time input; [initialMs] prefills it. */
    fun time(field: String, label: String, hint: String = "YYYY-MM-DD HH:MM; blank for now", initialMs: Long? = null): Time =
        Time(field, add(field, label, EditText(activity).apply {
            this.hint = hint
            setText(initialMs?.let(::formatTime) ?: "")
        }))

    /** One value of an enum, from a spinner. */
    inner class Choice<E : Enum<E>> internal constructor(
        private val field: String,
        private val spinner: Spinner,
        private val values: List<E>,
        private val hasBlank: Boolean,
    ) {
        /** The chosen value, or null on the blank entry. */
        fun orNull(): E? = values.getOrNull(spinner.selectedItemPosition - if (hasBlank) 1 else 0)

        /** The chosen value; a problem on the field when the blank entry is chosen. */
        fun value(): E = orNull() ?: values.first().also { problem(field, "choose one") }
    }

    /**
     * A spinner over [values] (usually `Enum.entries`), on [initial] when given. With [blank],
     * a first entry with that text stands for "none" (or "not chosen yet").
     */
    fun <E : Enum<E>> choice(
        field: String,
        label: String,
        values: List<E>,
        initial: E? = null,
        blank: String? = null,
        show: (E) -> String = ::words,
    ): Choice<E> {
        val labels = listOfNotNull(blank) + values.map(show)
        val spinner = Spinner(activity).apply {
            adapter = ArrayAdapter(activity, android.R.layout.simple_spinner_item, labels).also {
                it.setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item)
            }
            if (initial != null) setSelection(values.indexOf(initial) + if (blank != null) 1 else 0)
        }
        return Choice(field, add(field, label, spinner), values, blank != null)
    }

    /** The program, from the intent extra `program`; without one the worker must choose. */
    fun programChoice(): Choice<Program> {
        val given = activity.intent.getStringExtra("program")?.let { name -> Program.entries.firstOrNull { it.name == name } }
        return choice("program", "Program", Program.entries, given, if (given == null) "Choose the program" else null, ::programName)
    }

    /** Any number of values of an enum, as check boxes. */
    inner class Picks<E> internal constructor(private val boxes: List<Pair<E, CheckBox>>) {
        /** The checked values, in the enum's order. */
        fun values(): List<E> = boxes.filter { it.second.isChecked }.map { it.first }
    }

    /** Check boxes over [values]. */
    fun <E : Enum<E>> picks(field: String, label: String, values: List<E>, show: (E) -> String = ::words): Picks<E> {
        val group = LinearLayout(activity).apply { orientation = LinearLayout.VERTICAL }
        val boxes = values.map { v -> v to CheckBox(activity).apply { text = show(v) }.also { group.addView(it) } }
        add(field, label, group)
        return Picks(boxes)
    }

    /** Someone outside the agency: name, organization, phone, email. */
    inner class ContactFields internal constructor(
        private val name: EditText,
        private val organization: EditText,
        private val phone: EditText,
        private val email: EditText,
    ) {
        /** The contact as typed. */
        fun value(): Contact = Contact(name = name.value, organization = organization.optional, phone = phone.optional, email = email.optional)

        /** The contact, or null when every part is blank. */
        fun orNull(): Contact? = if (listOf(name, organization, phone, email).all { it.value.isEmpty() }) null else value()
    }

    /** A contact under [title]; its parts are the fields `field.name`, `field.organization`... */
    fun contact(field: String, title: String): ContactFields {
        heading(title)
        val name = text("$field.name", "Name")
        slots[field] = slots.getValue("$field.name")
        return ContactFields(
            name,
            text("$field.organization", "Organization"),
            text("$field.phone", "Phone").apply { inputType = InputType.TYPE_CLASS_PHONE },
            text("$field.email", "Email").apply { inputType = InputType.TYPE_TEXT_VARIATION_EMAIL_ADDRESS or InputType.TYPE_CLASS_TEXT },
        )
    }

    /** A plain button. */
    fun button(label: String, onClick: () -> Unit): Button =
        Button(activity).apply { text = label; setOnClickListener { onClick() } }.also { root.addView(it) }

    /**
     * A button that reads the form with [build] (on the main thread), runs the call it
     * returns on the IO dispatcher, tells the scheduler of the write, then hands the result
     * to [done] (by default: "Saved", and the screen closes). Problems go next to their fields.
     */
    fun submit(label: String, done: ((Any?) -> Unit)? = null, build: () -> StoreCall) {
        lateinit var self: Button
        self = button(label) {
            val call = read(build) ?: return@button
            self.isEnabled = false
            activity.lifecycleScope.launch {
                try {
                    val result = save(call)
                    if (done != null) done(result) else saved()
                } catch (e: FieldnoteException) {
                    fail(e)
                } finally {
                    self.isEnabled = true
                }
            }
        }
    }

    /** Runs [call] on the store on the IO dispatcher, then tells the sync scheduler. */
    suspend fun save(call: StoreCall): Any? {
        val store = app.fieldnote.store
        val result = withContext(Dispatchers.IO) { call.call(store) }
        app.scheduler.onWrite()
        return result
    }

    private fun saved() {
        Toast.makeText(activity, "Saved", Toast.LENGTH_SHORT).show()
        activity.finish()
    }

    /**
     * Clears the problems shown, then runs [block], which reads the inputs. Returns its value,
     * or null after showing the problems the inputs found (an unreadable time, no program).
     */
    fun <T> read(block: () -> T): T? {
        clear()
        val value = block()
        if (local.isEmpty()) return value
        show(local.toList())
        local.clear()
        return null
    }

    /** Shows why a call failed: field problems next to their fields, anything else on top. */
    fun fail(e: FieldnoteException) {
        if (e is FieldnoteException.Invalid) showProblems(e) else say(e.message?.removePrefix("reason=") ?: e.toString())
    }

    /** Puts each problem's reason next to the field it names; the others go in the summary. */
    fun showProblems(e: FieldnoteException.Invalid) = show(e.problems)

    /** A message at the top of the form (null hides it). */
    fun say(message: String?) {
        summary.text = message ?: ""
        summary.visibility = if (message == null) View.GONE else View.VISIBLE
    }

    private fun show(problems: List<FieldProblem>) {
        val rest = mutableListOf<String>()
        var first: View? = null
        for (p in problems) {
            val slot = slotFor(p.field)
            if (slot == null) {
                rest += "${p.field}: ${p.reason}"
                continue
            }
            val before = slot.problem.text.toString()
            slot.problem.text = if (before.isEmpty()) p.reason else "$before\n${p.reason}"
            slot.problem.visibility = View.VISIBLE
            (slot.input as? EditText)?.error = p.reason
            if (first == null) first = slot.input
        }
        say(if (rest.isEmpty()) "Please correct the fields marked below." else rest.joinToString("\n"))
        first?.requestFocus()
    }

    /**
     * The input a problem's field names. The core may name a part (`goals[2].statement`,
     * `recipient.name`) or the time without its unit (`started_at` for `started_at_ms`), so
     * the name is tried as given, then with `_ms`, then shortened part by part.
     */
    private fun slotFor(field: String): Slot? {
        var key = field.replace(Regex("""\[\d+]"""), "")
        while (true) {
            (slots[key] ?: slots["${key}_ms"] ?: slots[key.removeSuffix("_ms")])?.let { return it }
            val dot = key.lastIndexOf('.')
            if (dot < 0) return null
            key = key.substring(0, dot)
        }
    }

    private fun clear() {
        local.clear()
        say(null)
        for (slot in slots.values) {
            slot.problem.text = ""
            slot.problem.visibility = View.GONE
            (slot.input as? EditText)?.error = null
        }
    }
}
