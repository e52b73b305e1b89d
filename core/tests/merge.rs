//! Concurrent edits of one plan on two replicas merge to the same document, the same SQL
//! projections and the same signature staleness, whatever order the exchange happens in.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use fieldnote_core::model::*;
use fieldnote_core::{Store, StoreKey};
use fieldnote_protocol::ServerRole;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Edit {
    Summary(String),
    AppendSummary(String),
    GoalStatement(usize, String),
    AddGoal(String),
    RemoveGoal(usize),
    ToggleTask(usize),
    NextReview(u32),
}

fn word() -> impl Strategy<Value = String> {
    "[a-z]{1,8}( [a-z]{1,8}){0,3}"
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        word().prop_map(Edit::Summary),
        word().prop_map(Edit::AppendSummary),
        (0usize..3, word()).prop_map(|(i, s)| Edit::GoalStatement(i, s)),
        word().prop_map(Edit::AddGoal),
        (0usize..3).prop_map(Edit::RemoveGoal),
        (0usize..3).prop_map(Edit::ToggleTask),
        (1u32..28).prop_map(Edit::NextReview),
    ]
}

fn apply(store: &mut Store, plan: RecordId, e: &Edit) {
    let _ = store.update(plan, |b| {
        let RecordBody::Plan(p) = b else { return };
        match e {
            Edit::Summary(s) => p.summary.set(s),
            Edit::AppendSummary(s) => {
                let t = format!("{} {s}", p.summary.as_str());
                p.summary.set(t)
            }
            Edit::GoalStatement(i, s) => {
                if let Some(g) = p.goals.get_mut(*i) {
                    g.statement.set(s)
                }
            }
            Edit::AddGoal(s) => {
                let mut g = p.goals[0].clone();
                g.id = new_id();
                g.statement = s.as_str().into();
                p.goals.push(g)
            }
            Edit::RemoveGoal(i) => {
                if p.goals.len() > 1 && *i < p.goals.len() {
                    p.goals.remove(*i);
                }
            }
            Edit::ToggleTask(i) => {
                if let Some(t) = p.goals.get_mut(*i).and_then(|g| g.tasks.first_mut()) {
                    t.done = !t.done
                }
            }
            Edit::NextReview(d) => p.next_review_on = Day::parse(&format!("2027-01-{d:02}")),
        }
    });
}

fn sync(from: &Store, to: &mut Store, ids: &[RecordId]) {
    for id in ids {
        to.merge_remote(*id, &from.document_bytes(*id).unwrap())
            .unwrap();
    }
    let applied = deliver_attestations(from, to, ids);
    assert_eq!(applied.refused_signatures, 0);
}

/// A plan for a new member on replica `a`, copied to a fresh replica `b`.
fn replicated_plan(program: Program) -> (Fixture, Fixture, RecordId) {
    let mut a = Fixture::new();
    let m = a.member(program);
    let plan = a.plan(m, program);
    // The supervisor's device, with a key of its own.
    let mut b = Fixture::signed_in_with(ServerRole::Supervisor, StoreKey::generate());
    let mut records = vec![m, plan];
    records.extend(a.store.ids_of_kind(RecordKind::Enrollment).unwrap());
    sync(&a.store, &mut b.store, &records);
    (a, b, plan)
}

fn projection(store: &Store, plan: RecordId) -> Vec<String> {
    let conn = store.main_connection_for_test();
    let row: String = conn
        .query_row(
            "SELECT id || kind || status || coalesce(next_review_on, '-') FROM plans WHERE id = ?1",
            [plan.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    let rec: String = conn
        .query_row(
            "SELECT kind || at || title FROM records WHERE id = ?1",
            [plan.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    vec![row, rec]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn replicas_converge(
        edits_a in proptest::collection::vec(edit(), 0..6),
        edits_b in proptest::collection::vec(edit(), 0..6),
        a_first in any::<bool>(),
        sign_on_b in any::<bool>(),
    ) {
        let (mut a, mut b, plan) = replicated_plan(Program::Csp);
        a.store.sign_plan(plan, a.worker_signer()).unwrap();

        for e in &edits_a { apply(&mut a.store, plan, e); }
        for e in &edits_b { apply(&mut b.store, plan, e); }
        if sign_on_b {
            b.store.sign_plan(plan, b.staff_signer(Role::Supervisor)).unwrap();
        }

        if a_first {
            sync(&b.store, &mut a.store, &[plan]);
            sync(&a.store, &mut b.store, &[plan]);
        } else {
            sync(&a.store, &mut b.store, &[plan]);
            sync(&b.store, &mut a.store, &[plan]);
        }

        let ra = a.store.get(plan).unwrap();
        let rb = b.store.get(plan).unwrap();
        prop_assert_eq!(&ra.body, &rb.body);
        prop_assert_eq!(projection(&a.store, plan), projection(&b.store, plan));
        prop_assert_eq!(a.store.plan_signatures(plan).unwrap(), b.store.plan_signatures(plan).unwrap());
        prop_assert_eq!(a.store.conflicts(plan).unwrap(), b.store.conflicts(plan).unwrap());
        // The worker's signature is stale exactly when the content differs from what was signed.
        let changed = !edits_a.is_empty() || !edits_b.is_empty();
        let sigs = a.store.plan_signatures(plan).unwrap();
        let worker_stale = matches!(sigs.roles[0].1, fieldnote_core::store::SignatureState::Stale { .. });
        if !changed { prop_assert!(!worker_stale); }
        let original = fieldnote_core::attest::content_hash(&ra.body);
        let signed = &ra.attestations.iter().find(|x| x.signer.role == Role::Worker).unwrap().content_hash;
        prop_assert_eq!(worker_stale, &original != signed);
    }
}

#[test]
fn concurrent_text_edits_in_different_places_both_survive() {
    let (mut a, mut b, plan) = replicated_plan(Program::Tm);
    apply(
        &mut a.store,
        plan,
        &Edit::Summary("Focus on housing and primary care linkage this spring".into()),
    );
    apply(
        &mut b.store,
        plan,
        &Edit::Summary("Weekly: focus on housing and primary care linkage".into()),
    );
    sync(&a.store, &mut b.store, &[plan]);
    sync(&b.store, &mut a.store, &[plan]);
    let RecordBody::Plan(p) = a.store.get(plan).unwrap().body else {
        panic!()
    };
    assert!(
        p.summary.as_str().contains("Weekly"),
        "{}",
        p.summary.as_str()
    );
    assert!(
        p.summary.as_str().contains("this spring"),
        "{}",
        p.summary.as_str()
    );
    assert_eq!(
        a.store.get(plan).unwrap().body,
        b.store.get(plan).unwrap().body
    );
}

#[test]
fn concurrent_scalar_edits_are_reported_as_conflicts() {
    let (mut a, mut b, plan) = replicated_plan(Program::Csp);
    apply(&mut a.store, plan, &Edit::NextReview(3));
    apply(&mut b.store, plan, &Edit::NextReview(9));
    sync(&a.store, &mut b.store, &[plan]);
    let conflicts = b.store.conflicts(plan).unwrap();
    assert!(
        conflicts.iter().any(|c| c.ends_with("next_review_on")),
        "{conflicts:?}"
    );
}
