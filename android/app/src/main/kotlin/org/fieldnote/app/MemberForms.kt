// The forms about a member's enrollment and plan: a new member with their enrollment, a
// service plan and its signatures, a significant change, and a supervisor's waiver or
// extension of a deadline. Each builds the typed FFI record from its inputs and saves it
// through the store; the core checks everything.
package org.fieldnote.app

import org.fieldnote.ffi.NewMember
import org.fieldnote.ffi.NewPlan
import org.fieldnote.ffi.ReferralSource
import org.fieldnote.ffi.Role

/** The member, plan and deadline forms. */
val memberForms: List<FormKind> = listOf(
    FormKind("member", "New member", aboutMember = false) { member() },
    FormKind("plan", "Service plan", aboutMember = true) { plan() },
    FormKind("plan_signature", "Sign a plan", aboutMember = true) { planSignature() },
    FormKind("significant_change", "Significant change", aboutMember = true) { significantChange() },
    FormKind("waiver", "Waive a requirement", aboutMember = true) { grant(extension = false) },
    FormKind("extension", "Extend a deadline", aboutMember = true) { grant(extension = true) },
)

private fun Form.member() {
    val given = text("given_name", "Given name")
    val family = text("family_name", "Family name")
    val born = day("date_of_birth", "Date of birth")
    val masshealth = text("masshealth_id", "MassHealth ID")
    val language = text("primary_language", "Preferred language")
    heading("Enrollment")
    val program = programChoice()
    val referredAt = time("referred_at_ms", "Referral received")
    val source = choice("referral_source", "Referred by", ReferralSource.entries)
    val reason = text("referral_reason", "Reason for the referral", lines = 3)
    submit("Add member") {
        val m = NewMember(
            givenName = given.value,
            familyName = family.value,
            dateOfBirth = born.value,
            masshealthId = masshealth.value,
            primaryLanguage = language.value,
            program = program.value(),
            referredAtMs = referredAt.orNull(),
            referralSource = source.value(),
            referralReason = reason.optional,
        )
        StoreCall { it.addMember(m) }
    }
}

private fun Form.plan() {
    val member = text("member_id", "Member id")
    val program = programChoice()
    val problems = text("problems_and_needs", "Problems and needs", lines = 4)
    val strengths = text("strengths", "Strengths", lines = 3)
    val summary = text("summary", "Summary", lines = 3)
    val goals = text("goals", "Goals, one per line", lines = 4)
    val conflictChecked = check("supervision_conflict_checked", "Checked against the probation or parole plan (CSP-JI)")
    val youthSigns = check("youth_signs", "The youth signs the action plan too (TM)")
    submit("Create plan") {
        val plan = NewPlan(
            memberId = member.value,
            program = program.value(),
            problemsAndNeeds = problems.value,
            strengths = strengths.value,
            summary = summary.value,
            goals = goals.perLine,
            supervisionConflictChecked = conflictChecked.isChecked,
            youthSigns = youthSigns.isChecked,
        )
        StoreCall { it.createServicePlan(plan) }
    }
}

private fun Form.planSignature() {
    val plan = text("id", "Plan id", extra = "plan_id")
    val role = choice("role", "Signing as", listOf(Role.WORKER, Role.MEMBER, Role.GUARDIAN, Role.YOUTH))
    val signer = text("signer_name", "Name of the person signing", hint = "Not needed for your own signature")
    val signedAt = time("signed_at_ms", "Signed on paper at", hint = "YYYY-MM-DD HH:MM; blank when signed now")
    submit("Sign") {
        val id = plan.value
        val r = role.value()
        val name = signer.value
        val at = signedAt.orNull()
        StoreCall { it.signPlan(id, r, name, at) }
    }
}

private fun Form.significantChange() {
    val member = text("member_id", "Member id")
    val program = programChoice()
    val description = text("description", "What changed", lines = 4)
    val at = time("at_ms", "When")
    submit("Record change") {
        val id = member.value
        val p = program.value()
        val d = description.value
        val ms = at.orNull()
        StoreCall { it.recordSignificantChange(id, p, d, ms) }
    }
}

/** A waiver, or an [extension] to a date; granted in the signed-in supervisor's name. */
private fun Form.grant(extension: Boolean) {
    val member = text("member_id", "Member id")
    val program = programChoice()
    val rule = text("rule_id", "Rule", hint = "For example CSP-2")
    val until = if (extension) day("until", "New deadline") else null
    val reason = text("reason", "Reason", lines = 3)
    submit(if (extension) "Grant extension" else "Grant waiver") {
        val id = member.value
        val p = program.value()
        val r = rule.value
        val why = reason.value
        val to = until?.value
        if (to != null) StoreCall { it.grantExtension(id, p, r, to, why) } else StoreCall { it.grantWaiver(id, p, r, why) }
    }
}
