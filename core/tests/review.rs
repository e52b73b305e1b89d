//! Supervisor reviews as attestations (who may write them, what a comment must be, which
//! review decides, when a record waits again) and what of a member's record may be
//! disclosed under 42 CFR Part 2.
#![allow(clippy::unwrap_used, missing_docs)]

use fieldnote_core::access::{Author, MAX_COMMENT_CHARS, check_attestation};
use fieldnote_core::attest::{Attestation, AttestationKind, ReviewState, Signer};
use fieldnote_core::disclosure::{REDISCLOSURE_NOTICE, disclose};
use fieldnote_core::model::*;
use fieldnote_core::{Error, Record, new_id, synthetic};
use rand::SeedableRng;

fn note_body(author: StaffId, narrative: &str) -> RecordBody {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut n = synthetic::note(
        &mut rng,
        new_id(),
        Program::Csp,
        author,
        Timestamp::now(),
        20,
    );
    n.narrative = narrative.into();
    RecordBody::ContactNote(n)
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_790_000_000_000 + ms)
}

#[test]
fn the_latest_review_decides_and_a_change_reopens_it() {
    let (id, sup) = (new_id(), new_id());
    let body = note_body(new_id(), "first");
    let signer = Signer::staff(sup, "sup", Role::Supervisor);
    assert_eq!(ReviewState::of(&[], &body), ReviewState::Unreviewed);
    assert!(ReviewState::of(&[], &body).awaits_review(&body));

    let returned = Attestation::review(
        id,
        false,
        signer.clone(),
        at(1),
        &body,
        Some("add the date".into()),
    );
    let state = ReviewState::of(std::slice::from_ref(&returned), &body);
    assert_eq!(state.as_str(), "returned");
    assert!(
        !state.awaits_review(&body),
        "returned: the author answers first"
    );
    let edited = note_body(new_id(), "second, with the date");
    assert!(
        state.awaits_review(&edited),
        "the author's answer waits for review"
    );

    let approved = Attestation::review(id, true, signer, at(2), &edited, None);
    let both = [returned, approved];
    let state = ReviewState::of(&both, &edited);
    assert_eq!(state.as_str(), "approved");
    assert!(!state.awaits_review(&edited));
    let changed = ReviewState::of(&both, &note_body(new_id(), "third"));
    assert_eq!(changed.as_str(), "changed");
    assert!(changed.awaits_review(&note_body(new_id(), "third")));
}

#[test]
fn a_tampered_comment_breaks_the_review() {
    let body = note_body(new_id(), "text");
    let mut r = Attestation::review(
        new_id(),
        false,
        Signer::staff(new_id(), "sup", Role::Supervisor),
        at(1),
        &body,
        Some("please fix".into()),
    );
    assert!(r.verify());
    r.comment = Some("all fine".into());
    assert!(!r.verify());
    // An altered review is ignored, so the record is unreviewed.
    assert_eq!(ReviewState::of(&[r], &body), ReviewState::Unreviewed);
}

#[test]
fn only_supervisors_and_directors_review_and_a_return_needs_a_comment() {
    let body = note_body(new_id(), "text");
    let (worker, sup) = (new_id(), new_id());
    let review = |staff, role, approved, comment: Option<&str>| {
        Attestation::review(
            new_id(),
            approved,
            Signer::staff(staff, "someone", role),
            at(1),
            &body,
            comment.map(String::from),
        )
    };
    let as_worker = Author {
        staff_id: worker,
        role: Role::Worker,
    };
    let as_sup = Author {
        staff_id: sup,
        role: Role::Supervisor,
    };
    let err = check_attestation(&as_worker, &review(worker, Role::Worker, true, None));
    assert!(err.unwrap_err().contains("supervisor"));
    // A worker claiming the supervisor role, or another supervisor's name: refused.
    assert!(check_attestation(&as_worker, &review(worker, Role::Supervisor, true, None)).is_err());
    assert!(check_attestation(&as_sup, &review(new_id(), Role::Supervisor, true, None)).is_err());
    assert!(check_attestation(&as_sup, &review(sup, Role::Supervisor, true, None)).is_ok());
    let director = Author {
        staff_id: sup,
        role: Role::ProgramDirector,
    };
    assert!(
        check_attestation(
            &director,
            &review(sup, Role::ProgramDirector, false, Some("why"))
        )
        .is_ok()
    );
    let blank = check_attestation(&as_sup, &review(sup, Role::Supervisor, false, Some("  ")));
    assert!(blank.unwrap_err().starts_with("comment:"));
    let long = "x".repeat(MAX_COMMENT_CHARS + 1);
    let too_long = check_attestation(&as_sup, &review(sup, Role::Supervisor, true, Some(&long)));
    assert!(too_long.unwrap_err().starts_with("comment:"));
    // A comment belongs on reviews only.
    let mut signature = Attestation::new(
        new_id(),
        AttestationKind::Sign,
        Signer::staff(sup, "sup", Role::Supervisor),
        at(1),
        &body,
    );
    signature.comment = Some("smuggled".into());
    assert!(check_attestation(&as_sup, &signature).is_err());
}

/// The records' contents as JSON text.
fn bodies(records: &[Record]) -> String {
    let list: Vec<&RecordBody> = records.iter().map(|r| &r.body).collect();
    serde_json::to_string(&list).unwrap()
}

fn record(body: RecordBody) -> Record {
    Record {
        id: new_id(),
        body,
        attestations: Vec::new(),
    }
}

/// A member's records: a note, a Part 2 consent, a referral under it, an ordinary consent,
/// and an assessment with a substance-use domain and criminogenic need, signed.
fn member_records() -> (Vec<Record>, RecordId, RecordId) {
    let (member, staff) = (new_id(), new_id());
    let now = Timestamp::now();
    let part2 = record(RecordBody::Consent(synthetic::part2_consent(
        member,
        Program::CspJi,
        staff,
        now,
    )));
    let mut ordinary = synthetic::part2_consent(member, Program::CspJi, staff, now);
    ordinary.substance_use_part2 = false;
    let ordinary = record(RecordBody::Consent(ordinary));
    let referral = record(RecordBody::ServiceReferral(synthetic::sud_referral(
        member,
        Program::CspJi,
        staff,
        part2.id,
        now,
    )));
    let domain = |name: &str| DomainNeed {
        domain: name.into(),
        needs: format!("{name} needs"),
        strengths: String::new(),
        barriers: String::new(),
    };
    let assessment = RecordBody::NeedsAssessment(NeedsAssessment {
        member_id: member,
        program: Program::CspJi,
        kind: AssessmentKind::Comprehensive,
        assessor: staff,
        started_at: now,
        completed_at: Some(now),
        domains: vec![domain("Housing"), domain("Substance use")],
        criminogenic_needs: vec![CriminogenicNeed {
            factor: CriminogenicFactor::SubstanceUse,
            level: NeedLevel::High,
            notes: "daily use".into(),
        }],
        summary: "summary".into(),
        significant_change: false,
    });
    let mut assessment = record(assessment);
    assessment.attestations.push(Attestation::new(
        assessment.id,
        AttestationKind::Sign,
        Signer::staff(staff, "w", Role::Worker),
        now,
        &assessment.body,
    ));
    let (part2_id, ordinary_id) = (part2.id, ordinary.id);
    let records = vec![
        record(note_body(staff, "visit")),
        part2,
        ordinary,
        referral,
        assessment,
    ];
    (records, part2_id, ordinary_id)
}

#[test]
fn substance_use_records_leave_only_under_a_part2_consent() {
    let (records, part2, ordinary) = member_records();
    let now = Timestamp::now();

    // Without consent: the Part 2 consent and the referral stay home; the assessment goes
    // without its substance-use parts and without the signatures that covered the whole.
    let d = disclose(records.clone(), None, now).unwrap();
    assert_eq!(d.part2_records.len(), 3);
    assert_eq!(d.withheld(), 3);
    assert_eq!(
        d.records.len(),
        3,
        "note, ordinary consent, redacted assessment"
    );
    let text = bodies(&d.records);
    assert!(!text.contains("Outpatient substance use treatment"));
    assert!(!text.contains("Substance use needs") && !text.contains("daily use"));
    let a = d
        .records
        .iter()
        .find(|r| matches!(r.body, RecordBody::NeedsAssessment(_)))
        .unwrap();
    assert!(a.attestations.is_empty());
    assert!(text.contains("Housing needs"));

    // Under the Part 2 consent: everything, unchanged.
    let d = disclose(records.clone(), Some(part2), now).unwrap();
    assert_eq!(d.records.len(), records.len());
    assert_eq!(d.withheld(), 0);
    assert_eq!(d.consent.as_ref().map(|c| c.0), Some(part2));
    assert!(bodies(&d.records).contains("daily use"));

    // An ordinary consent, an unknown id, a revoked Part 2 consent: refused by field.
    for (consent, want) in [
        (ordinary, "not a 42 CFR Part 2 consent"),
        (new_id(), "not a 42 CFR Part 2 consent"),
    ] {
        match disclose(records.clone(), Some(consent), now) {
            Err(Error::Invalid { errors, .. }) => {
                assert_eq!(errors[0].field, "consent");
                assert!(errors[0].reason.contains(want), "{}", errors[0].reason);
            }
            other => panic!("{other:?}"),
        }
    }
    let mut revoked = records.clone();
    for r in &mut revoked {
        if let RecordBody::Consent(c) = &mut r.body {
            c.revoked_at = Some(Timestamp::from_millis(now.millis() - 1));
        }
    }
    let refused = disclose(revoked, Some(part2), now).unwrap_err();
    assert!(refused.to_string().contains("not in force"), "{refused}");
    assert!(REDISCLOSURE_NOTICE.contains("42 CFR part 2"));
}
