//! The supervisor roll-up, served from the records devices synced: per worker and team,
//! obligations due this week and overdue, and CSP-JI case-rate status. The rules engine of
//! the core evaluates each member exactly as a phone does; this module only gathers the
//! records.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use fieldnote_core::model::{RecordId, Timestamp};
use fieldnote_core::rules::evaluate_member;
use fieldnote_core::rules::records::MemberRecords;
use fieldnote_core::rules::rollup::{MemberObligations, TeamRollup, rollup};
use fieldnote_core::{Attestation, Record};

use crate::admin::require_team_read;
use crate::app::{AppState, Authed, IdPath, blocking, now_ms, path_id};
use crate::db::Tx;
use crate::error::Result;
use crate::sync::load_document;
use crate::{audit, params};

/// One stored record (document `key` from its snapshot at `snapshot_seq`), with its
/// attestations.
pub fn record_of(tx: &mut dyn Tx, key: &str, snapshot_seq: i64) -> Result<Record> {
    let doc = load_document(tx, key, snapshot_seq)?;
    let attestations = tx
        .query(
            "SELECT event FROM attestations WHERE record_id = $1 ORDER BY id",
            params![key],
        )?
        .into_iter()
        .filter_map(|r| serde_json::from_str::<Attestation>(&r[0].text()).ok())
        .collect();
    Ok(Record {
        id: doc.id(),
        body: doc.body()?,
        attestations,
    })
}

/// Every record of one scope (a member), with attestations.
pub fn scope_records(tx: &mut dyn Tx, scope: &str) -> Result<Vec<Record>> {
    let docs = tx.query(
        "SELECT id, snapshot_seq FROM documents WHERE scope = $1 ORDER BY id",
        params![scope],
    )?;
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        out.push(record_of(tx, &d[0].text(), d[1].int())?);
    }
    Ok(out)
}

/// Evaluates every member of `team` as of `now`.
pub fn team_rollup(tx: &mut dyn Tx, team: &str, now: Timestamp) -> Result<Vec<TeamRollup>> {
    let members = tx.query(
        "SELECT a.member_id, u.staff_id FROM assignments a JOIN users u ON u.id = a.worker_id
         WHERE a.team_id = $1 ORDER BY a.member_id",
        params![team],
    )?;
    let team_id = RecordId::parse_str(team).unwrap_or_default();
    let mut evaluated = Vec::with_capacity(members.len());
    for m in members {
        let (Ok(member_id), Ok(worker)) = (
            RecordId::parse_str(&m[0].text()),
            RecordId::parse_str(&m[1].text()),
        ) else {
            continue;
        };
        let records = MemberRecords::from_records(member_id, scope_records(tx, &m[0].text())?);
        evaluated.push(MemberObligations {
            member_id,
            worker,
            team: team_id,
            obligations: evaluate_member(&records, now),
        });
    }
    Ok(rollup(&evaluated, &BTreeMap::new(), now))
}

/// `GET /v1/teams/{id}/rollup`: the team's figures for its supervisor or director.
pub async fn get_team_rollup(
    State(state): State<AppState>,
    Authed(p): Authed,
    path: Path<IdPath>,
) -> Result<Json<Vec<TeamRollup>>> {
    let team = path_id(path)?;
    let out = blocking(&state, move |db| {
        db.tx(|tx| {
            require_team_read(tx, &p, &team)?;
            let figures = team_rollup(tx, &team, Timestamp::from_millis(now_ms()))?;
            audit::record(tx, &p, "team.rollup", &team, "{}")?;
            Ok(figures)
        })
    })
    .await?;
    Ok(Json(out))
}
