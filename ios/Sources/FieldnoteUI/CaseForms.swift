// SwiftUI forms of a member's case work: consents (and their revocation), referrals and
// their follow-up (or why there is none), engagement attempts and document deliveries. Each
// builds the typed FFI record from its inputs and saves it through the store (Forms.swift);
// the core checks it. Apple platforms only.
#if canImport(SwiftUI)
import SwiftUI
import Fieldnote
import FieldnoteFFI

/// A consent or release of information, or a documented refusal.
public struct ConsentForm: View {
    let context: FormContext
    @State private var memberId: String
    @State private var program: Program?
    @State private var recipient = ContactDraft()
    @State private var scope = ""
    @State private var purpose = ""
    @State private var part2 = false
    @State private var refused = false
    @State private var signedBy = ""
    @State private var signedAt: Date?
    @State private var expiresOn = ""
    @State private var problems = Problems()

    static let fields = ["member_id", "program", "scope", "purpose", "substance_use_part2", "refused", "signed_by",
                         "signed_at_ms", "expires_on"] + contactFields("recipient")

    /// The form, about `context`'s member.
    public init(context: FormContext) {
        self.context = context
        _memberId = State(initialValue: context.memberId ?? "")
        _program = State(initialValue: context.program)
    }

    public var body: some View {
        RecordForm(title: "Consent or release", context: context, fields: Self.fields, problems: $problems,
                   build: build) {
            Section {
                TextInput(label: "Member id", text: $memberId, field: "member_id", problems: problems)
                ProgramPicker(program: $program, problems: problems)
            }
            ContactInput(title: "Who may receive information", contact: $recipient, field: "recipient",
                         problems: problems)
            Section("Consent") {
                TextInput(label: "What may be shared", text: $scope, field: "scope", problems: problems, multiline: true)
                TextInput(label: "Why it is shared", text: $purpose, field: "purpose", problems: problems, multiline: true)
                CheckInput(label: "Covers substance-use disorder records (42 CFR Part 2)", isOn: $part2,
                           field: "substance_use_part2", problems: problems)
                CheckInput(label: "The member refused", isOn: $refused, field: "refused", problems: problems)
                TextInput(label: "Signed (or refused) by", text: $signedBy, field: "signed_by", problems: problems)
                OptionalTimeInput(label: "Signed earlier on paper", date: $signedAt, field: "signed_at_ms",
                                  problems: problems)
                TextInput(label: "Expires on", text: $expiresOn, field: "expires_on", problems: problems,
                          prompt: "YYYY-MM-DD; blank when it does not")
            }
        }
    }

    private func build() throws -> StoreCall {
        let program = try chosen(self.program)
        let consent = NewConsent(memberId: trimmed(memberId), program: program, recipient: recipient.contact,
                                 scope: trimmed(scope), purpose: trimmed(purpose), substanceUsePart2: part2,
                                 refused: refused, signedBy: trimmed(signedBy), signedAtMs: ms(signedAt),
                                 expiresOn: blankToNil(expiresOn))
        return { _ = try $0.recordConsent(consent: consent) }
    }
}

/// That a consent was revoked.
public struct RevokeConsentForm: View {
    let context: FormContext
    @State private var consentId: String
    @State private var at: Date?
    @State private var problems = Problems()

    static let fields = ["consent_id", "at_ms"]

    /// The form; `consentId` prefills the consent.
    public init(context: FormContext, consentId: String = "") {
        self.context = context
        _consentId = State(initialValue: consentId)
    }

    public var body: some View {
        RecordForm(title: "Consent revoked", context: context, fields: Self.fields, problems: $problems, build: build) {
            TextInput(label: "Consent id", text: $consentId, field: "consent_id", problems: problems)
            OptionalTimeInput(label: "Revoked earlier", date: $at, field: "at_ms", problems: problems)
        }
    }

    private func build() throws -> StoreCall {
        let id = trimmed(consentId), at = ms(self.at)
        return { try $0.revokeConsent(consentId: id, atMs: at) }
    }
}

/// A referral to another service or provider.
public struct ReferralForm: View {
    let context: FormContext
    @State private var memberId: String
    @State private var program: Program?
    @State private var service = ""
    @State private var provider = ContactDraft()
    @State private var reason = ""
    @State private var alternative = false
    @State private var referredAt: Date?
    @State private var scheduledFor: Date?
    @State private var consentId = ""
    @State private var problems = Problems()

    static let fields = ["member_id", "program", "service", "reason", "alternative_for_ineligible", "referred_at_ms",
                         "scheduled_for_ms", "consent_id"] + contactFields("provider")

    /// The form, about `context`'s member.
    public init(context: FormContext) {
        self.context = context
        _memberId = State(initialValue: context.memberId ?? "")
        _program = State(initialValue: context.program)
    }

    public var body: some View {
        RecordForm(title: "Referral", context: context, fields: Self.fields, problems: $problems, build: build) {
            Section {
                TextInput(label: "Member id", text: $memberId, field: "member_id", problems: problems)
                ProgramPicker(program: $program, problems: problems)
                TextInput(label: "Service", text: $service, field: "service", problems: problems)
            }
            ContactInput(title: "Provider", contact: $provider, field: "provider", problems: problems)
            Section("Referral") {
                TextInput(label: "Why", text: $reason, field: "reason", problems: problems, multiline: true)
                CheckInput(label: "An alternative for a member found ineligible (CSP-JI)", isOn: $alternative,
                           field: "alternative_for_ineligible", problems: problems)
                OptionalTimeInput(label: "Referred earlier", date: $referredAt, field: "referred_at_ms",
                                  problems: problems)
                OptionalTimeInput(label: "Service scheduled", date: $scheduledFor, field: "scheduled_for_ms",
                                  problems: problems)
                TextInput(label: "Consent that allows sharing (id)", text: $consentId, field: "consent_id",
                          problems: problems, prompt: "Blank when none is needed")
            }
        }
    }

    private func build() throws -> StoreCall {
        let program = try chosen(self.program)
        let referral = NewReferral(memberId: trimmed(memberId), program: program, service: trimmed(service),
                                   provider: provider.contact, reason: trimmed(reason),
                                   alternativeForIneligible: alternative, referredAtMs: ms(referredAt),
                                   scheduledForMs: ms(scheduledFor), consentId: blankToNil(consentId))
        return { _ = try $0.makeReferral(referral: referral) }
    }
}

/// A follow-up on a referral.
public struct FollowUpForm: View {
    let context: FormContext
    @State private var referralId: String
    @State private var outcome = ""
    @State private var at: Date?
    @State private var problems = Problems()

    static let fields = ["referral_id", "outcome", "at_ms"]

    /// The form; `referralId` prefills the referral.
    public init(context: FormContext, referralId: String = "") {
        self.context = context
        _referralId = State(initialValue: referralId)
    }

    public var body: some View {
        RecordForm(title: "Referral follow-up", context: context, fields: Self.fields, problems: $problems,
                   build: build) {
            TextInput(label: "Referral id", text: $referralId, field: "referral_id", problems: problems)
            TextInput(label: "Outcome", text: $outcome, field: "outcome", problems: problems, multiline: true)
            OptionalTimeInput(label: "Followed up earlier", date: $at, field: "at_ms", problems: problems)
        }
    }

    private func build() throws -> StoreCall {
        let id = trimmed(referralId), outcome = trimmed(self.outcome), at = ms(self.at)
        return { try $0.followUpReferral(referralId: id, outcome: outcome, atMs: at) }
    }
}

/// Why a referral has no follow-up within 30 days.
public struct NoFollowUpForm: View {
    let context: FormContext
    @State private var referralId: String
    @State private var reason = ""
    @State private var problems = Problems()

    static let fields = ["referral_id", "reason"]

    /// The form; `referralId` prefills the referral.
    public init(context: FormContext, referralId: String = "") {
        self.context = context
        _referralId = State(initialValue: referralId)
    }

    public var body: some View {
        RecordForm(title: "No follow-up", context: context, fields: Self.fields, problems: $problems, build: build) {
            TextInput(label: "Referral id", text: $referralId, field: "referral_id", problems: problems)
            TextInput(label: "Why there is no follow-up within 30 days", text: $reason, field: "reason",
                      problems: problems, multiline: true)
        }
    }

    private func build() throws -> StoreCall {
        let id = trimmed(referralId), reason = trimmed(self.reason)
        return { try $0.explainMissingFollowUp(referralId: id, reason: reason) }
    }
}

/// An engagement attempt.
public struct AttemptForm: View {
    let context: FormContext
    @State private var memberId: String
    @State private var program: Program?
    @State private var at: Date?
    @State private var channel: Channel = .phone
    @State private var outcome: AttemptOutcome = .noAnswer
    @State private var purpose = ""
    @State private var note = ""
    @State private var problems = Problems()

    static let fields = ["member_id", "program", "at_ms", "channel", "outcome", "purpose", "note"]

    /// The form, about `context`'s member.
    public init(context: FormContext) {
        self.context = context
        _memberId = State(initialValue: context.memberId ?? "")
        _program = State(initialValue: context.program)
    }

    public var body: some View {
        RecordForm(title: "Engagement attempt", context: context, fields: Self.fields, problems: $problems,
                   build: build) {
            TextInput(label: "Member id", text: $memberId, field: "member_id", problems: problems)
            ProgramPicker(program: $program, problems: problems)
            OptionalTimeInput(label: "Earlier", date: $at, field: "at_ms", problems: problems)
            ChoicePicker(label: "By", selection: $channel, choices: channelChoices, field: "channel", problems: problems)
            ChoicePicker(label: "Outcome", selection: $outcome, choices: attemptOutcomeChoices, field: "outcome",
                         problems: problems)
            TextInput(label: "What it was for", text: $purpose, field: "purpose", problems: problems)
            TextInput(label: "Details", text: $note, field: "note", problems: problems, multiline: true)
        }
    }

    private func build() throws -> StoreCall {
        let program = try chosen(self.program)
        let attempt = NewAttempt(memberId: trimmed(memberId), program: program, atMs: ms(at), channel: channel,
                                 outcome: outcome, purpose: trimmed(purpose), note: blankToNil(note))
        return { _ = try $0.recordAttempt(attempt: attempt) }
    }
}

/// A letter or document given or sent.
public struct DeliveryForm: View {
    let context: FormContext
    @State private var memberId: String
    @State private var program: Program?
    @State private var document: DocumentKind = .planCopy
    @State private var documentRecordId = ""
    @State private var recipientKind: RecipientKind = .member
    @State private var recipient = ContactDraft()
    @State private var channel: Channel = .inPerson
    @State private var paper = true
    @State private var electronic = false
    @State private var language = ""
    @State private var deliveredAt: Date?
    @State private var consentId = ""
    @State private var problems = Problems()

    static let fields = ["member_id", "program", "document", "document_record_id", "recipient_kind", "channel",
                         "paper", "electronic", "language", "delivered_at_ms", "consent_id"] + contactFields("recipient")

    /// The form, about `context`'s member.
    public init(context: FormContext) {
        self.context = context
        _memberId = State(initialValue: context.memberId ?? "")
        _program = State(initialValue: context.program)
    }

    public var body: some View {
        RecordForm(title: "Document delivered", context: context, fields: Self.fields, problems: $problems,
                   build: build) {
            Section {
                TextInput(label: "Member id", text: $memberId, field: "member_id", problems: problems)
                ProgramPicker(program: $program, problems: problems)
                ChoicePicker(label: "Document", selection: $document, choices: documentChoices, field: "document",
                             problems: problems)
                TextInput(label: "The plan or crisis plan delivered (id)", text: $documentRecordId,
                          field: "document_record_id", problems: problems, prompt: "Blank for a letter")
                ChoicePicker(label: "Given to", selection: $recipientKind, choices: recipientKindChoices,
                             field: "recipient_kind", problems: problems)
            }
            ContactInput(title: "Recipient", contact: $recipient, field: "recipient", problems: problems)
            Section("Delivery") {
                ChoicePicker(label: "How", selection: $channel, choices: channelChoices, field: "channel",
                             problems: problems)
                CheckInput(label: "On paper", isOn: $paper, field: "paper", problems: problems)
                CheckInput(label: "Electronically", isOn: $electronic, field: "electronic", problems: problems)
                TextInput(label: "Language of the copy", text: $language, field: "language", problems: problems)
                OptionalTimeInput(label: "Delivered earlier", date: $deliveredAt, field: "delivered_at_ms",
                                  problems: problems)
                TextInput(label: "Consent that allowed sharing (id)", text: $consentId, field: "consent_id",
                          problems: problems, prompt: "Blank when none is needed")
            }
        }
    }

    private func build() throws -> StoreCall {
        let program = try chosen(self.program)
        let delivery = NewDelivery(memberId: trimmed(memberId), program: program, document: document,
                                   documentRecordId: blankToNil(documentRecordId), recipientKind: recipientKind,
                                   recipient: recipient.contact, channel: channel, paper: paper,
                                   electronic: electronic, language: trimmed(language),
                                   deliveredAtMs: ms(deliveredAt), consentId: blankToNil(consentId))
        return { _ = try $0.recordDelivery(delivery: delivery) }
    }
}
#endif
