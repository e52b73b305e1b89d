//! Migrations: a database upgraded from every older version equals a fresh one.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use fieldnote_core::model::*;
use fieldnote_core::{Store, synthetic};
use rusqlite::Connection;

fn records() -> Vec<(RecordId, RecordBody)> {
    let mut rng = rng();
    let worker = new_id();
    let team = new_id();
    let m = new_id();
    let mut out = vec![(m, RecordBody::Member(synthetic::member(&mut rng)))];
    out.push((
        new_id(),
        RecordBody::Enrollment(synthetic::enrollment(
            m,
            Program::CspJi,
            worker,
            team,
            Timestamp::now(),
        )),
    ));
    for i in 0..5 {
        let mut n = synthetic::note(
            &mut rng,
            m,
            Program::CspJi,
            worker,
            Timestamp::from_millis(1_780_000_000_000 + i * 86_400_000),
            30,
        );
        n.narrative.push_str(" upgrade marker");
        out.push((new_id(), RecordBody::ContactNote(n)));
    }
    out.push((
        new_id(),
        RecordBody::Plan(synthetic::service_plan(m, Program::CspJi, worker)),
    ));
    out
}

fn dump(conn: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    out.push(format!("user_version {version}"));
    let mut stmt = conn
        .prepare("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master ORDER BY name")
        .unwrap();
    out.extend(
        stmt.query_map([], |r| {
            Ok(format!(
                "{}|{}|{}|{}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?
            ))
        })
        .unwrap()
        .map(Result::unwrap),
    );
    for query in [
        "SELECT id || kind || coalesce(member_id,'') || coalesce(program,'') || at || title || coalesce(body,'') FROM records ORDER BY id",
        "SELECT id || display_name || date_of_birth || masshealth_id FROM members ORDER BY id",
        "SELECT id || member_id || program || status FROM enrollments ORDER BY id",
        "SELECT id || member_id || started_at || modality || member_engaged || purposes || session_fields_complete || telehealth_reason_given FROM notes ORDER BY id",
        "SELECT id || kind || status FROM plans ORDER BY id",
        "SELECT n.id FROM note_search JOIN notes n ON n.rowid = note_search.rowid WHERE note_search MATCH '\"upgrade\" \"marker\"' ORDER BY n.id",
    ] {
        let mut stmt = conn.prepare(query).unwrap();
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        out.push(format!("{query} => {rows:?}"));
    }
    out
}

#[test]
fn upgraded_database_equals_fresh() {
    let records = records();
    let fresh_dir = tempfile::tempdir().unwrap();
    let mut fresh = Store::open(fresh_dir.path(), key()).unwrap();
    for (id, body) in &records {
        fresh.create_with_id(*id, body.clone()).unwrap();
    }
    let expected = dump(fresh.main_connection_for_test());
    assert!(
        expected.last().unwrap().contains(&records[2].0.to_string()),
        "search finds notes"
    );

    for version in 1..=5 {
        let old_dir = tempfile::tempdir().unwrap();
        Store::create_at_version_for_test(old_dir.path(), &key(), version, &records).unwrap();
        let upgraded = Store::open(old_dir.path(), key()).unwrap();
        assert_eq!(upgraded.open_report().migrated_from, version);
        if version < 4 {
            assert_eq!(
                dump(upgraded.main_connection_for_test()),
                expected,
                "from version {version}"
            );
        }
        for (id, body) in &records {
            assert_eq!(&upgraded.get(*id).unwrap().body, body);
        }
    }
}
