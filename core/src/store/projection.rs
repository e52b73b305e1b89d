//! The SQL projections of records: the columns that lists, timelines, search and the rules
//! engine query, derived from each document after every change and never edited directly.

use rusqlite::{Transaction, params};

use crate::error::Result;
use crate::model::{RecordBody, RecordId, Timestamp};

/// Tables that hold only derived data, cleared before a full rebuild.
pub(crate) const DERIVED_TABLES: &[&str] = &[
    "records",
    "members",
    "enrollments",
    "notes",
    "note_search",
    "plans",
];

/// Writes every projection of one record.
pub(crate) fn project(tx: &Transaction<'_>, id: RecordId, body: &RecordBody) -> Result<()> {
    let id_s = id.to_string();
    let member = body.member_id().map(|m| m.to_string());
    // The content the rules read, for every kind but notes (theirs are the `notes` facts).
    let json = match body {
        RecordBody::ContactNote(_) => None,
        other => Some(
            serde_json::to_string(other).map_err(|e| crate::error::Error::Document {
                id,
                reason: format!("could not be projected: {e}"),
            })?,
        ),
    };
    tx.prepare_cached(
        "INSERT INTO records (id, kind, member_id, program, at, title, updated_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET member_id = ?3, program = ?4, at = ?5, title = ?6,
             updated_at = ?7, body = ?8",
    )?
    .execute(params![
        id_s,
        body.kind().as_str(),
        member,
        body.program().map(|p| p.code()),
        body.timeline_at().millis(),
        body.title(),
        Timestamp::now().millis(),
        json,
    ])?;
    match body {
        RecordBody::Member(m) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO members
                 (id, display_name, family_name, date_of_birth, masshealth_id, primary_language)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                id_s,
                m.display_name(),
                m.family_name,
                m.date_of_birth.to_string(),
                m.masshealth_id,
                m.primary_language
            ])?;
        }
        RecordBody::Enrollment(e) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO enrollments
                 (id, member_id, program, status, referral_at, assigned_worker, team_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                id_s,
                e.member_id.to_string(),
                e.program.code(),
                json_name(&e.status),
                e.referral.received_at.millis(),
                e.assigned_worker.to_string(),
                e.team_id.to_string()
            ])?;
        }
        RecordBody::ContactNote(n) => {
            let rowid: i64 = tx.prepare_cached(
                "INSERT INTO notes (id, member_id, program, author, started_at, duration_minutes,
                     modality, member_engaged, addendum_to, purposes, session_fields_complete,
                     telehealth_reason_given)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (id) DO UPDATE SET member_id = ?2, program = ?3, author = ?4,
                     started_at = ?5, duration_minutes = ?6, modality = ?7,
                     member_engaged = ?8, addendum_to = ?9, purposes = ?10,
                     session_fields_complete = ?11, telehealth_reason_given = ?12
                 RETURNING rowid",
            )?
            .query_row(
                params![
                    id_s,
                    n.member_id.to_string(),
                    n.program.code(),
                    n.author.to_string(),
                    n.started_at.millis(),
                    n.duration_minutes,
                    json_name(&n.modality),
                    n.member_engaged,
                    n.addendum_to.map(|a| a.to_string()),
                    serde_json::to_string(&n.purposes).unwrap_or_else(|_| "[]".into()),
                    n.session_fields_complete(),
                    n.telehealth_reason_given(),
                ],
                |r| r.get(0),
            )?;
            tx.prepare_cached("DELETE FROM note_search WHERE rowid = ?1")?
                .execute([rowid])?;
            tx.prepare_cached("INSERT INTO note_search (rowid, narrative) VALUES (?1, ?2)")?
                .execute(params![rowid, n.narrative])?;
        }
        RecordBody::Plan(p) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO plans
                 (id, member_id, program, kind, status, completed_at, next_review_on)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                id_s,
                p.member_id.to_string(),
                p.program.code(),
                json_name(&p.kind),
                json_name(&p.status),
                p.completed_at.map(|t| t.millis()),
                p.next_review_on.map(|d| d.to_string()),
            ])?;
        }
        _ => {}
    }
    Ok(())
}

/// Removes every projection of one record.
pub(crate) fn unproject(tx: &Transaction<'_>, id: RecordId) -> Result<()> {
    let id_s = id.to_string();
    tx.prepare_cached(
        "DELETE FROM note_search WHERE rowid IN (SELECT rowid FROM notes WHERE id = ?1)",
    )?
    .execute([&id_s])?;
    for table in ["notes", "members", "enrollments", "plans", "records"] {
        tx.execute(&format!("DELETE FROM {table} WHERE id = ?1"), [&id_s])?;
    }
    Ok(())
}

/// The serde name of a unit enum value (`in_person`, `active`...).
pub(crate) fn json_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}
