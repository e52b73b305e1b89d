// The forms of a member's case work: consents (and their revocation), referrals and their
// follow-up (or why there is none), engagement attempts and document deliveries. Each builds
// the typed FFI record from its inputs and saves it through the store; the core checks it.
package org.fieldnote.app

import org.fieldnote.ffi.AttemptOutcome
import org.fieldnote.ffi.Channel
import org.fieldnote.ffi.DocumentKind
import org.fieldnote.ffi.NewAttempt
import org.fieldnote.ffi.NewConsent
import org.fieldnote.ffi.NewDelivery
import org.fieldnote.ffi.NewReferral
import org.fieldnote.ffi.RecipientKind

/** The consent, referral, attempt and delivery forms. */
val caseForms: List<FormKind> = listOf(
    FormKind("consent", "Consent or release", aboutMember = true) { consent() },
    FormKind("revoke_consent", "Consent revoked", aboutMember = true) { revokeConsent() },
    FormKind("referral", "Referral", aboutMember = true) { referral() },
    FormKind("follow_up", "Referral follow-up", aboutMember = true) { followUp() },
    FormKind("no_follow_up", "No follow-up: why", aboutMember = true) { noFollowUp() },
    FormKind("attempt", "Engagement attempt", aboutMember = true) { attempt() },
    FormKind("delivery", "Document delivered", aboutMember = true) { delivery() },
)

private fun Form.consent() {
    val member = text("member_id", "Member id")
    val program = programChoice()
    val recipient = contact("recipient", "Who may receive information")
    val scope = text("scope", "What may be shared", lines = 3)
    val purpose = text("purpose", "Why it is shared", lines = 2)
    val part2 = check("substance_use_part2", "Covers substance-use disorder records (42 CFR Part 2)")
    val refused = check("refused", "The member refused")
    val signedBy = text("signed_by", "Signed (or refused) by")
    val signedAt = time("signed_at_ms", "Signed on paper at", hint = "YYYY-MM-DD HH:MM; blank when signed now")
    val expires = day("expires_on", "Expires on", hint = "YYYY-MM-DD; blank when it does not")
    submit("Save consent") {
        val c = NewConsent(
            memberId = member.value,
            program = program.value(),
            recipient = recipient.value(),
            scope = scope.value,
            purpose = purpose.value,
            substanceUsePart2 = part2.isChecked,
            refused = refused.isChecked,
            signedBy = signedBy.value,
            signedAtMs = signedAt.orNull(),
            expiresOn = expires.optional,
        )
        StoreCall { it.recordConsent(c) }
    }
}

private fun Form.revokeConsent() {
    val consent = text("consent_id", "Consent id")
    val at = time("at_ms", "Revoked at")
    submit("Record revocation") {
        val id = consent.value
        val ms = at.orNull()
        StoreCall { it.revokeConsent(id, ms) }
    }
}

private fun Form.referral() {
    val member = text("member_id", "Member id")
    val program = programChoice()
    val service = text("service", "Service")
    val provider = contact("provider", "Provider")
    val reason = text("reason", "Why", lines = 3)
    val alternative = check("alternative_for_ineligible", "An alternative for a member found ineligible (CSP-JI)")
    val referredAt = time("referred_at_ms", "Referred at")
    val scheduledFor = time("scheduled_for_ms", "Service scheduled for", hint = "YYYY-MM-DD HH:MM; blank when not yet")
    val consent = text("consent_id", "Consent that allows sharing (id)", hint = "Blank when none is needed")
    submit("Save referral") {
        val r = NewReferral(
            memberId = member.value,
            program = program.value(),
            service = service.value,
            provider = provider.value(),
            reason = reason.value,
            alternativeForIneligible = alternative.isChecked,
            referredAtMs = referredAt.orNull(),
            scheduledForMs = scheduledFor.orNull(),
            consentId = consent.optional,
        )
        StoreCall { it.makeReferral(r) }
    }
}

private fun Form.followUp() {
    val referral = text("referral_id", "Referral id")
    val outcome = text("outcome", "Outcome", lines = 3)
    val at = time("at_ms", "Followed up at")
    submit("Save follow-up") {
        val id = referral.value
        val o = outcome.value
        val ms = at.orNull()
        StoreCall { it.followUpReferral(id, o, ms) }
    }
}

private fun Form.noFollowUp() {
    val referral = text("referral_id", "Referral id")
    val reason = text("reason", "Why there is no follow-up within 30 days", lines = 3)
    submit("Save reason") {
        val id = referral.value
        val r = reason.value
        StoreCall { it.explainMissingFollowUp(id, r) }
    }
}

private fun Form.attempt() {
    val member = text("member_id", "Member id")
    val program = programChoice()
    val at = time("at_ms", "When")
    val channel = choice("channel", "By", Channel.entries)
    val outcome = choice("outcome", "Outcome", AttemptOutcome.entries)
    val purpose = text("purpose", "What it was for")
    val note = text("note", "Details", lines = 2)
    submit("Save attempt") {
        val a = NewAttempt(
            memberId = member.value,
            program = program.value(),
            atMs = at.orNull(),
            channel = channel.value(),
            outcome = outcome.value(),
            purpose = purpose.value,
            note = note.optional,
        )
        StoreCall { it.recordAttempt(a) }
    }
}

private fun Form.delivery() {
    val member = text("member_id", "Member id")
    val program = programChoice()
    val document = choice("document", "Document", DocumentKind.entries)
    val documentRecord = text("document_record_id", "The plan or crisis plan delivered (id)", hint = "Blank for a letter")
    val recipientKind = choice("recipient_kind", "Given to", RecipientKind.entries)
    val recipient = contact("recipient", "Recipient")
    val channel = choice("channel", "How", Channel.entries)
    val paper = check("paper", "On paper")
    val electronic = check("electronic", "Electronically")
    val language = text("language", "Language of the copy")
    val deliveredAt = time("delivered_at_ms", "Delivered at")
    val consent = text("consent_id", "Consent that allowed sharing (id)", hint = "Blank when none is needed")
    submit("Save delivery") {
        val d = NewDelivery(
            memberId = member.value,
            program = program.value(),
            document = document.value(),
            documentRecordId = documentRecord.optional,
            recipientKind = recipientKind.value(),
            recipient = recipient.value(),
            channel = channel.value(),
            paper = paper.isChecked,
            electronic = electronic.isChecked,
            language = language.value,
            deliveredAtMs = deliveredAt.orNull(),
            consentId = consent.optional,
        )
        StoreCall { it.recordDelivery(d) }
    }
}
