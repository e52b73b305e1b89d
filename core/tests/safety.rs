//! The device side of lone-worker safety: durability of alarms, the order of the safety
//! outbox, the duress PIN's indistinguishable path, the fallback report, and bad input.
#![allow(clippy::unwrap_used, missing_docs)]

use fieldnote_core::store::SafetyStore;
use fieldnote_core::store::safety::{AlarmStatus, SessionEnded};
use fieldnote_core::{Error, Store, StoreKey, Timestamp};
use fieldnote_protocol::safety::{AlarmKind, Location, SafetyItem, SessionAction};

fn open(dir: &std::path::Path, key: &StoreKey) -> Store {
    Store::open(dir, StoreKey::from_hex(&key.to_hex()).unwrap()).unwrap()
}

fn in_minutes(m: i64) -> Timestamp {
    Timestamp::from_millis(Timestamp::now().millis() + m * 60_000)
}

fn field_of(e: Error) -> String {
    match e {
        Error::Invalid { errors, .. } => errors[0].field.clone(),
        other => panic!("expected a field error, got {other}"),
    }
}

#[test]
fn an_alarm_is_durable_when_raise_returns_and_goes_before_session_events() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let id = {
        let store = open(dir.path(), &key);
        let s = store.safety();
        s.start_session(None, "home visit", in_minutes(60), None)
            .unwrap();
        s.check_in(Some(Location {
            latitude: 42.35,
            longitude: -71.06,
            accuracy_m: Some(12.0),
        }))
        .unwrap();
        s.raise_alarm(AlarmKind::Panic, None).unwrap()
        // Dropped without sending, as a phone killed right after the press.
    };
    let store = open(dir.path(), &key);
    let safety = store.safety();
    assert_eq!(safety.pending_len().unwrap(), 3);
    let batch = safety.prepare_send().unwrap().unwrap();
    match &batch.request.items[0] {
        SafetyItem::Alarm(a) => {
            assert_eq!(a.id, id);
            assert!(a.session_id.is_some(), "raised in a session, it names it");
        }
        other => panic!("the alarm must go first, got {other:?}"),
    }
    assert!(matches!(
        &batch.request.items[1],
        SafetyItem::Session(e) if matches!(e.action, SessionAction::Start { .. })
    ));
    assert_eq!(
        safety.alarm(&id).unwrap().unwrap().status,
        AlarmStatus::Pending
    );
    // A second handle on the same directory sees the same outbox (the alarm thread).
    let other = SafetyStore::open(dir.path(), &key).unwrap();
    assert_eq!(other.pending_len().unwrap(), 3);
    // And the wrong key opens nothing.
    assert!(matches!(
        SafetyStore::open(dir.path(), &StoreKey::generate()),
        Err(Error::WrongKey)
    ));
}

#[test]
fn the_duress_pin_looks_exactly_like_the_cancel_pin_on_the_phone() {
    let run = |use_duress: bool| {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &StoreKey::generate());
        let s = store.safety();
        s.set_pins("2468", "1357").unwrap();
        let session = s
            .start_session(None, "shelter visit", in_minutes(45), None)
            .unwrap();
        // A wrong PIN ends nothing.
        assert!(matches!(
            s.end_session_with_pin("0000", None),
            Err(Error::WrongPin)
        ));
        assert!(s.active_session().unwrap().is_some());
        let ended = s
            .end_session_with_pin(if use_duress { "1357" } else { "2468" }, None)
            .unwrap();
        assert_eq!(
            ended,
            SessionEnded {
                session_id: session
            }
        );
        // What the phone can show: no session, no visible alarm.
        let visible = (
            s.active_session().unwrap(),
            s.visible_alarms().unwrap(),
            s.fallbacks_due(Timestamp::now()).unwrap(),
        );
        let batch = s.prepare_send().unwrap().unwrap();
        (visible, batch.request.items)
    };
    let (cancel_view, cancel_items) = run(false);
    let (duress_view, duress_items) = run(true);
    assert_eq!(cancel_view, duress_view);
    assert_eq!(cancel_view.0, None);
    assert!(cancel_view.1.is_empty());
    // What the server receives differs: a check-out against a duress alarm.
    assert!(cancel_items.iter().any(|i| matches!(
        i,
        SafetyItem::Session(e) if e.action == SessionAction::CheckOut
    )));
    assert!(
        !cancel_items
            .iter()
            .any(|i| matches!(i, SafetyItem::Alarm(_)))
    );
    assert!(matches!(
        &duress_items[0],
        SafetyItem::Alarm(a) if a.kind == AlarmKind::Duress && a.session_id.is_some()
    ));
}

#[test]
fn unacknowledged_alarms_are_reported_for_the_fallback_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &StoreKey::generate());
    let s = store.safety();
    let panic = s.raise_alarm(AlarmKind::Panic, None).unwrap();
    let discreet = s.raise_alarm(AlarmKind::Discreet, None).unwrap();
    assert!(s.fallbacks_due(Timestamp::now()).unwrap().is_empty());
    let later = in_minutes(3);
    let due = s.fallbacks_due(later).unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(
        due.iter()
            .map(|f| (&f.alarm_id, f.silent))
            .collect::<Vec<_>>(),
        vec![(&panic, false), (&discreet, true)]
    );
    assert!(due.iter().all(|f| f.waited_secs >= 179));
    s.fallback_taken(&panic).unwrap();
    assert_eq!(s.fallbacks_due(later).unwrap().len(), 1);
    // Only the panic alarm is ever visible.
    assert_eq!(
        s.visible_alarms()
            .unwrap()
            .iter()
            .map(|a| a.id.clone())
            .collect::<Vec<_>>(),
        vec![panic]
    );
}

#[test]
fn bad_safety_input_names_the_field_and_saves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &StoreKey::generate());
    let s = store.safety();
    assert_eq!(
        field_of(
            s.start_session(None, "x", in_minutes(-5), None)
                .unwrap_err()
        ),
        "expected_end"
    );
    assert_eq!(
        field_of(
            s.start_session(None, "x", in_minutes(13 * 60), None)
                .unwrap_err()
        ),
        "expected_end"
    );
    assert_eq!(
        field_of(
            s.start_session(None, "  ", in_minutes(5), None)
                .unwrap_err()
        ),
        "place"
    );
    let bad_place = Location {
        latitude: 123.0,
        longitude: 0.0,
        accuracy_m: None,
    };
    assert_eq!(
        field_of(
            s.start_session(None, "x", in_minutes(5), Some(bad_place))
                .unwrap_err()
        ),
        "location"
    );
    // Location is taken only in a session or with an alarm: no session, no check-in.
    assert_eq!(field_of(s.check_in(None).unwrap_err()), "session");
    assert_eq!(field_of(s.extend(in_minutes(5)).unwrap_err()), "session");
    assert_eq!(
        field_of(s.raise_alarm(AlarmKind::MissedCheckIn, None).unwrap_err()),
        "kind"
    );
    assert_eq!(
        field_of(s.set_pins("12", "3456").unwrap_err()),
        "cancel_pin"
    );
    assert_eq!(
        field_of(s.set_pins("1234", "1234").unwrap_err()),
        "duress_pin"
    );
    assert_eq!(
        field_of(s.end_session_with_pin("1234", None).unwrap_err()),
        "pin"
    );
    assert_eq!(s.pending_len().unwrap(), 0);
    s.start_session(None, "x", in_minutes(5), None).unwrap();
    assert_eq!(
        field_of(s.start_session(None, "y", in_minutes(5), None).unwrap_err()),
        "session"
    );
    assert_eq!(field_of(s.extend(in_minutes(-1)).unwrap_err()), "until");
    assert_eq!(s.pending_len().unwrap(), 1);
}

/// A visit names a member only if the member is on the device (finding 11): an unknown id
/// is refused by field, before anything is saved; a member the device has is accepted, and
/// so is a visit with no member.
#[test]
fn a_visit_session_for_an_unknown_member_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let mut store = open(dir.path(), &key);
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(5);
    let member = store
        .create(fieldnote_core::model::RecordBody::Member(
            fieldnote_core::synthetic::member(&mut rng),
        ))
        .unwrap();
    let unknown = fieldnote_core::RecordId::new_v4();
    let s = SafetyStore::open(dir.path(), &key).unwrap();
    let refused = s
        .start_session(Some(unknown), "home visit", in_minutes(60), None)
        .unwrap_err();
    assert_eq!(field_of(refused), "member_id");
    assert_eq!(s.active_session().unwrap(), None);
    assert_eq!(s.pending_len().unwrap(), 0, "nothing queued");
    s.start_session(Some(member), "home visit", in_minutes(60), None)
        .unwrap();
    assert_eq!(s.active_session().unwrap().unwrap().member_id, Some(member));
    s.check_out(None).unwrap();
    store
        .safety()
        .start_session(None, "street outreach", in_minutes(30), None)
        .unwrap();
}

/// The store holds space back for distress on a full disk (finding 3): a reserve file of
/// the documented size, made when the store opens, made again when it is missing.
#[test]
fn the_store_holds_space_for_distress() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let reserve = dir.path().join(fieldnote_core::store::safety::RESERVE_FILE);
    {
        let store = open(dir.path(), &key);
        assert!(store.safety().reserve_held());
        assert_eq!(
            std::fs::metadata(&reserve).unwrap().len(),
            fieldnote_core::store::safety::RESERVE_BYTES
        );
    }
    std::fs::remove_file(&reserve).unwrap();
    let s = SafetyStore::open(dir.path(), &key).unwrap();
    assert!(s.reserve_held(), "made again on the next open with room");
}
