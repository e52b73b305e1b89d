//! Records in the console: the review queue, one record with its review history and the
//! review forms, a member's timeline with its exports and accounting of disclosures, and
//! emergency ("break-glass") access to a member of another team.
//!
//! Reviews and co-signatures are attestations (`fieldnote_core::attest`) the server writes in
//! the supervisor's name and appends to the feed, so they reach the worker's phone like any
//! signature and can never be edited there. Break-glass access is read-only, limited in time,
//! audited, and announced to the member's own team's supervisors.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldnote_core::Record;
use fieldnote_core::access::{Author, check_attestation};
use fieldnote_core::attest::{Attestation, AttestationKind, ReviewState, SignatureState, Signer};
use fieldnote_core::disclosure::{Disclosure, disclose};
use fieldnote_core::model::{RecordBody, RecordId, Role, Timestamp};
use fieldnote_protocol::ServerRole;
use serde::Deserialize;

use super::export::{self, Export, Part2};
use super::http::{Actor, Signed, chosen_team, error_page, page, see};
use super::pages;
use crate::app::{AppState, blocking, now_ms};
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::policy::{self, Action, Owner};
use crate::rollup::{record_of, scope_records};
use crate::sync::{reviewable, store_attestation};
use crate::{audit, params};

/// Emergency access lasts this long unless the user asks for less (60 minutes).
pub const BREAK_GLASS_DEFAULT_MINUTES: i64 = 60;
/// The longest emergency access granted at once (4 hours).
pub const BREAK_GLASS_MAX_MINUTES: i64 = 240;
/// The shortest reason accepted for emergency access, in characters.
const BREAK_GLASS_MIN_REASON: usize = 10;
/// Queue entries shown at once (the oldest first).
const QUEUE_LIMIT: usize = 200;
/// Notices are shown for 14 days.
const NOTICE_MS: i64 = 14 * 24 * 3600 * 1000;

/// How the user may see a member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberAccess {
    /// The member is in the user's team (supervisor) or agency (director).
    Team(Owner),
    /// Read-only emergency access, until the time given (ms).
    Emergency(Owner, i64),
    /// Another team of the same agency: the user may ask for emergency access.
    MayBreakGlass(Owner),
}

impl MemberAccess {
    fn owner(&self) -> &Owner {
        match self {
            MemberAccess::Team(o)
            | MemberAccess::Emergency(o, _)
            | MemberAccess::MayBreakGlass(o) => o,
        }
    }
}

fn no_member() -> Error {
    Error::NotFound("no such member".into())
}

/// Decides how `who` may see member `member` at `now`. Unknown members, members of other
/// agencies, and users who read no PHI (administrators) get "no such member".
pub fn member_access(tx: &mut dyn Tx, who: &Actor, member: &str, now: i64) -> Result<MemberAccess> {
    if !matches!(
        who.principal.role,
        ServerRole::Supervisor | ServerRole::ProgramDirector
    ) {
        return Err(no_member());
    }
    let owner = policy::owner_of(tx, member)?.ok_or_else(no_member)?;
    if policy::allowed(
        &who.principal,
        who.agency.as_deref(),
        &Action::WriteScope(&owner),
    ) {
        return Ok(MemberAccess::Team(owner));
    }
    if who.agency.as_deref() != Some(owner.agency_id.as_str()) {
        return Err(no_member());
    }
    let grant = tx.query_opt(
        "SELECT MAX(expires_at) FROM break_glass WHERE user_id = $1 AND member_id = $2
         AND expires_at > $3",
        params![&who.principal.user_id, member, now],
    )?;
    Ok(match grant.and_then(|r| r[0].opt_int()) {
        Some(until) => MemberAccess::Emergency(owner, until),
        None => MemberAccess::MayBreakGlass(owner),
    })
}

/// The member a page is about must be readable: team or emergency access.
fn readable(tx: &mut dyn Tx, who: &Actor, member: &str, now: i64) -> Result<MemberAccess> {
    let access = member_access(tx, who, member, now)?;
    if let MemberAccess::MayBreakGlass(_) = access {
        return Err(Error::Forbidden(format!(
            "this member belongs to another team; to see their record in an emergency, \
             use emergency access at /console/members/{member}"
        )));
    }
    Ok(access)
}

fn parse_record_id(field: &str, s: &str) -> Result<RecordId> {
    RecordId::parse_str(s).map_err(|_| Error::Invalid {
        field: field.into(),
        reason: "not a record id".into(),
    })
}

/// A stored document's place: kind and scope.
fn document_row(tx: &mut dyn Tx, id: &RecordId) -> Result<(String, String, i64)> {
    let row = tx
        .query_opt(
            "SELECT kind, scope, snapshot_seq FROM documents WHERE id = $1",
            params![id.to_string()],
        )?
        .ok_or_else(|| Error::NotFound("no such record".into()))?;
    Ok((row[0].text(), row[1].text(), row[2].int()))
}

/// The member's name as their record gives it.
pub(crate) fn member_name(tx: &mut dyn Tx, member: &str) -> Result<String> {
    let Ok(id) = RecordId::parse_str(member) else {
        return Ok(member.to_string());
    };
    let Some(row) = tx.query_opt(
        "SELECT snapshot_seq FROM documents WHERE id = $1 AND kind = 'member'",
        params![member],
    )?
    else {
        return Ok(member.to_string());
    };
    Ok(record_of(tx, &id.to_string(), row[0].int())?.body.title())
}

/// The staff role a console user signs in.
fn signing_role(role: ServerRole) -> Result<Role> {
    match role {
        ServerRole::Supervisor => Ok(Role::Supervisor),
        ServerRole::ProgramDirector => Ok(Role::ProgramDirector),
        _ => Err(Error::Forbidden(
            "only supervisors and program directors review records".into(),
        )),
    }
}

/// Whether a record waits for review: a finalized note never reviewed, or a plan whose
/// content changed since its last review or that lacks a current supervisor signature.
fn awaits(record: &Record) -> bool {
    let review = ReviewState::of(&record.attestations, &record.body);
    match &record.body {
        RecordBody::Plan(_) => {
            let unsigned = SignatureState::of(&record.attestations, Role::Supervisor, &record.body)
                .current_since()
                .is_none();
            review.awaits_review(&record.body)
                || (unsigned && !matches!(review, ReviewState::Returned { .. }))
        }
        _ => review.awaits_review(&record.body),
    }
}

/// `GET /console/review`: notes and plans synced since they were last reviewed, oldest first.
pub async fn queue(
    State(state): State<AppState>,
    user: Signed,
    Query(q): Query<super::http::TeamQuery>,
) -> Response {
    let who = user.actor();
    let view = blocking(&state, move |db| {
        db.tx(|tx| {
            signing_role(who.principal.role)?;
            let (team, teams) = chosen_team(tx, &who, q.team.clone())?;
            let candidates = tx.query(
                "SELECT d.id, d.kind, d.scope, d.snapshot_seq, d.updated_at, u.display_name
                 FROM documents d JOIN assignments a ON a.member_id = d.scope
                 JOIN users u ON u.id = a.worker_id
                 WHERE a.team_id = $1 AND (d.kind = 'plan' OR (d.kind = 'contact_note'
                   AND d.finalized = 1 AND NOT EXISTS (SELECT 1 FROM attestations r
                     WHERE r.record_id = d.id AND r.kind IN ('approve', 'return'))))
                 ORDER BY d.updated_at, d.id",
                params![&team],
            )?;
            let mut rows = Vec::new();
            for c in candidates {
                if rows.len() >= QUEUE_LIMIT {
                    break;
                }
                let record = record_of(tx, &c[0].text(), c[3].int())?;
                if !awaits(&record) {
                    continue;
                }
                rows.push(pages::QueueRow {
                    id: c[0].text(),
                    kind: c[1].text(),
                    member_id: c[2].text(),
                    member: member_name(tx, &c[2].text())?,
                    worker: c[5].text(),
                    title: record.body.title(),
                    at: record.body.timeline_at().millis(),
                    synced_at: c[4].int(),
                });
            }
            who.audit(
                tx,
                "review.queue",
                &team,
                serde_json::json!({ "records": rows.len() }),
            )?;
            Ok(pages::QueueView { team, teams, rows })
        })
    })
    .await;
    match view {
        Ok(v) => page(StatusCode::OK, pages::queue(&user.nav(), &v)),
        Err(e) => error_page(e),
    }
}

/// A message shown after an action (`?done=`).
#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

fn done_message(done: Option<&str>) -> Option<&'static str> {
    match done {
        Some("approved") => Some("Approved. The worker's phone will show it at its next sync."),
        Some("returned") => {
            Some("Returned with your comment. The worker's phone will show it at its next sync.")
        }
        Some("cosigned") => Some("Co-signed. The signature covers the plan exactly as shown."),
        Some("emergency") => Some(
            "Emergency access granted. It is recorded, and the member's team supervisor has been told.",
        ),
        _ => None,
    }
}

/// `GET /console/records/{id}`: one record with its signatures, review history and, for
/// notes and plans of the user's team, the review forms.
pub async fn record(
    State(state): State<AppState>,
    user: Signed,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let who = user.actor();
    let view = blocking(&state, move |db| {
        db.tx(|tx| {
            let rid = parse_record_id("record id", &id)?;
            let (kind, scope, _) = document_row(tx, &rid)?;
            let now = now_ms();
            let access = readable(tx, &who, &scope, now).map_err(|e| match e {
                Error::NotFound(_) => Error::NotFound("no such record".into()),
                e => e,
            })?;
            // The member's records, loaded once: the record itself, its member's name, and
            // the staff and goal names its fields show.
            let all = scope_records(tx, &scope)?;
            let record = all
                .iter()
                .find(|r| r.id == rid)
                .cloned()
                .ok_or_else(|| Error::NotFound("no such record".into()))?;
            let member = all
                .iter()
                .find(|r| matches!(r.body, RecordBody::Member(_)))
                .map_or_else(|| scope.clone(), |m| m.body.title());
            let review = ReviewState::of(&record.attestations, &record.body);
            who.audit(
                tx,
                "record.view",
                &rid.to_string(),
                serde_json::json!({
                    "member": scope,
                    "emergency": matches!(access, MemberAccess::Emergency(..)),
                }),
            )?;
            let member_id = parse_record_id("member id", &scope)?;
            let content = export::record_fields(
                &Export {
                    member_id,
                    records: &all,
                    part2: Part2::None,
                    generated_at: Timestamp::from_millis(now),
                    generated_by: "",
                    agency: "",
                },
                &record,
            );
            Ok(pages::RecordView {
                content,
                member,
                member_id: scope,
                can_review: reviewable(&kind) && matches!(access, MemberAccess::Team(_)),
                finalized: record.is_finalized(),
                review: review.as_str(),
                awaits: awaits(&record),
                record,
            })
        })
    })
    .await;
    match view {
        Ok(v) => page(
            StatusCode::OK,
            pages::record(&user.nav(), &v, done_message(done.done.as_deref())),
        ),
        Err(e) => error_page(e),
    }
}

/// The review form.
#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    csrf: String,
    decision: String,
    #[serde(default)]
    comment: String,
}

/// `POST /console/records/{id}/review`: approve a note, co-sign a plan, or return either to
/// its author with a comment.
pub async fn review(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Signed,
    Path(id): Path<String>,
    Form(form): Form<ReviewForm>,
) -> Response {
    if let Err(e) = user.check_form(&headers, &form.csrf) {
        return error_page(e);
    }
    let who = user.actor();
    let done = blocking(&state, move |db| {
        db.tx(|tx| {
            let rid = parse_record_id("record id", &id)?;
            let role = signing_role(who.principal.role)?;
            let (kind, scope, snapshot) = document_row(tx, &rid)?;
            let now = now_ms();
            let MemberAccess::Team(_) = member_access(tx, &who, &scope, now)? else {
                return Err(Error::Forbidden(
                    "records of another team are reviewed by that team's supervisor".into(),
                ));
            };
            if !reviewable(&kind) {
                return Err(Error::Invalid {
                    field: "record".into(),
                    reason: "only contact notes and plans are reviewed".into(),
                });
            }
            let record = record_of(tx, &rid.to_string(), snapshot)?;
            if matches!(record.body, RecordBody::ContactNote(_)) && !record.is_finalized() {
                return Err(Error::Invalid {
                    field: "record".into(),
                    reason: "a draft note is reviewed once its author finalizes it".into(),
                });
            }
            let staff = parse_record_id("staff id", &who.principal.staff_id)?;
            let signer = Signer::staff(staff, who.principal.display_name.clone(), role);
            let at = Timestamp::from_millis(now);
            let comment = Some(form.comment.trim().to_string());
            let (attestations, outcome) = match form.decision.as_str() {
                "approve" => (
                    vec![Attestation::review(
                        rid,
                        true,
                        signer,
                        at,
                        &record.body,
                        comment,
                    )],
                    "approved",
                ),
                "return" => (
                    vec![Attestation::review(
                        rid,
                        false,
                        signer,
                        at,
                        &record.body,
                        comment,
                    )],
                    "returned",
                ),
                "cosign" if matches!(record.body, RecordBody::Plan(_)) => (
                    vec![
                        Attestation::new(
                            rid,
                            AttestationKind::Sign,
                            signer.clone(),
                            at,
                            &record.body,
                        ),
                        Attestation::review(rid, true, signer, at, &record.body, comment),
                    ],
                    "cosigned",
                ),
                "cosign" => {
                    return Err(Error::Invalid {
                        field: "decision".into(),
                        reason: "only a plan is co-signed".into(),
                    });
                }
                _ => {
                    return Err(Error::Invalid {
                        field: "decision".into(),
                        reason: "must be approve, return or cosign".into(),
                    });
                }
            };
            let author = Author {
                staff_id: staff,
                role,
            };
            for att in &attestations {
                check_attestation(&author, att).map_err(|reason| {
                    let (field, reason) = match reason.split_once(": ") {
                        Some(("comment", r)) => ("comment", r.to_string()),
                        _ => ("decision", reason),
                    };
                    Error::Invalid {
                        field: field.into(),
                        reason,
                    }
                })?;
            }
            for att in &attestations {
                store_attestation(tx, att, now)?;
            }
            who.audit(
                tx,
                "record.review",
                &rid.to_string(),
                serde_json::json!({ "decision": outcome, "member": scope }),
            )?;
            Ok((rid, outcome))
        })
    })
    .await;
    match done {
        Ok((rid, outcome)) => see(&format!("/console/records/{rid}?done={outcome}")),
        Err(e) => error_page(e),
    }
}

/// A member's records the user may read, and how.
fn member_records(
    tx: &mut dyn Tx,
    who: &Actor,
    member: &str,
    now: i64,
) -> Result<(MemberAccess, Vec<Record>)> {
    parse_record_id("member id", member)?;
    let access = member_access(tx, who, member, now)?;
    if let MemberAccess::MayBreakGlass(_) = access {
        return Ok((access, Vec::new()));
    }
    let mut records = scope_records(tx, member)?;
    records.sort_by_key(|r| std::cmp::Reverse(r.body.timeline_at()));
    Ok((access, records))
}

/// `GET /console/members/{id}`: the member's timeline, exports and disclosures; for a member
/// of another team, the emergency-access form.
pub async fn member(
    State(state): State<AppState>,
    user: Signed,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let who = user.actor();
    let view = blocking(&state, move |db| {
        db.tx(|tx| {
            let now = now_ms();
            let (access, records) = member_records(tx, &who, &id, now)?;
            if let MemberAccess::MayBreakGlass(_) = access {
                return Ok(Err(id.clone()));
            }
            let disclosures = tx
                .query(
                    "SELECT seq, at, actor, device, action, target, detail, prev_hash, hash
                     FROM audit WHERE target = $1 AND action = 'member.export' ORDER BY seq DESC",
                    params![&id],
                )?
                .into_iter()
                .map(audit::stored)
                .collect();
            who.audit(
                tx,
                "member.view",
                &id,
                serde_json::json!({
                    "records": records.len(),
                    "emergency": matches!(access, MemberAccess::Emergency(..)),
                }),
            )?;
            Ok(Ok(pages::MemberView {
                name: member_name(tx, &id)?,
                member_id: id.clone(),
                emergency_until: match access {
                    MemberAccess::Emergency(_, until) => Some(until),
                    _ => None,
                },
                reviews: records
                    .iter()
                    .map(|r| ReviewState::of(&r.attestations, &r.body).as_str())
                    .collect(),
                records,
                disclosures,
            }))
        })
    })
    .await;
    match view {
        Ok(Ok(v)) => page(
            StatusCode::OK,
            pages::member(&user.nav(), &v, done_message(done.done.as_deref())),
        ),
        Ok(Err(member)) => page(
            StatusCode::FORBIDDEN,
            pages::break_glass(&user.nav(), &member, "", None),
        ),
        Err(e) => error_page(e),
    }
}

/// The emergency-access form.
#[derive(Deserialize)]
pub struct BreakGlassForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    minutes: Option<i64>,
}

/// `POST /console/members/{id}/emergency`: read-only access to a member of another team of
/// the agency, with a reason, for a limited time; audited, and the member's team's
/// supervisors are told.
pub async fn break_glass(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Signed,
    Path(id): Path<String>,
    Form(form): Form<BreakGlassForm>,
) -> Response {
    if let Err(e) = user.check_form(&headers, &form.csrf) {
        return error_page(e);
    }
    let reason = form.reason.trim().to_string();
    if reason.chars().count() < BREAK_GLASS_MIN_REASON {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::break_glass(
                &user.nav(),
                &id,
                &reason,
                Some("reason: say why you need this member's record now (at least 10 characters)"),
            ),
        );
    }
    let minutes = form.minutes.unwrap_or(BREAK_GLASS_DEFAULT_MINUTES);
    if !(1..=BREAK_GLASS_MAX_MINUTES).contains(&minutes) {
        return error_page(Error::Invalid {
            field: "minutes".into(),
            reason: format!("between 1 and {BREAK_GLASS_MAX_MINUTES}"),
        });
    }
    let who = user.actor();
    let done = blocking(&state, move |db| {
        db.tx(|tx| {
            parse_record_id("member id", &id)?;
            let now = now_ms();
            let access = member_access(tx, &who, &id, now)?;
            let MemberAccess::MayBreakGlass(owner) = &access else {
                return Ok(id.clone());
            };
            let until = now + minutes * 60_000;
            tx.exec(
                "INSERT INTO break_glass (id, user_id, member_id, team_id, reason, started_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                params![
                    uuid::Uuid::new_v4().to_string(),
                    &who.principal.user_id,
                    &id,
                    &access.owner().team_id,
                    &reason,
                    now,
                    until
                ],
            )?;
            let supervisors = tx.query(
                "SELECT id FROM users WHERE team_id = $1 AND role = 'supervisor' AND disabled = 0",
                params![&owner.team_id],
            )?;
            let body = format!(
                "{} used emergency access to member {} for {} minutes. Reason given: {}",
                who.principal.display_name, id, minutes, reason
            );
            for s in supervisors {
                tx.exec(
                    "INSERT INTO console_notices (id, user_id, body, created_at) VALUES ($1, $2, $3, $4)",
                    params![uuid::Uuid::new_v4().to_string(), s[0].text(), &body, now],
                )?;
            }
            // The reason is free text a person wrote: the audit entry keeps only its length.
            who.audit(
                tx,
                "member.break_glass",
                &id,
                serde_json::json!({
                    "team": owner.team_id,
                    "minutes": minutes,
                    "reason_chars": reason.chars().count(),
                }),
            )?;
            Ok(id.clone())
        })
    })
    .await;
    match done {
        Ok(id) => see(&format!("/console/members/{id}?done=emergency")),
        Err(e) => error_page(e),
    }
}

/// The user's notices of the last 14 days, newest first.
pub fn notices(tx: &mut dyn Tx, user_id: &str, now: i64) -> Result<Vec<(i64, String)>> {
    Ok(tx
        .query(
            "SELECT created_at, body FROM console_notices WHERE user_id = $1 AND created_at > $2
             ORDER BY created_at DESC",
            params![user_id, now - NOTICE_MS],
        )?
        .into_iter()
        .map(|r| (r[0].int(), r[1].text()))
        .collect())
}

/// The export form: a format, and optionally the Part 2 consent it is disclosed under.
#[derive(Deserialize)]
pub struct ExportQuery {
    format: String,
    #[serde(default)]
    consent: String,
}

/// `GET /console/members/{id}/export?format=html|pdf|csv|fhir&consent=`: the member's record
/// for an audit or a documentation request. Substance-use records go only under a Part 2
/// consent in force, with the redisclosure notice; every export is accounted in the audit
/// log and listed on the member's page.
pub async fn export(
    State(state): State<AppState>,
    user: Signed,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Response {
    let who = user.actor();
    let format = q.format.clone();
    let member = id.clone();
    let done = blocking(&state, move |db| {
        db.tx(|tx| {
            let now = now_ms();
            if !matches!(q.format.as_str(), "html" | "pdf" | "csv" | "fhir") {
                return Err(Error::Invalid {
                    field: "format".into(),
                    reason: "must be html, pdf, csv or fhir".into(),
                });
            }
            let consent = match q.consent.trim() {
                "" => None,
                c => Some(parse_record_id("consent", c)?),
            };
            let (access, records) = member_records(tx, &who, &id, now)?;
            if !matches!(access, MemberAccess::Team(_)) {
                return Err(Error::Forbidden(
                    "a member's record is exported by their own team".into(),
                ));
            }
            let disclosure: Disclosure = disclose(records, consent, Timestamp::from_millis(now))
                .map_err(|e| match e {
                    fieldnote_core::Error::Invalid { errors, .. } => Error::Invalid {
                        field: errors.first().map_or("consent".into(), |e| e.field.clone()),
                        reason: errors.first().map_or(String::new(), |e| e.reason.clone()),
                    },
                    e => Error::Internal(e.to_string()),
                })?;
            let agency = match &who.agency {
                Some(a) => tx
                    .query_opt("SELECT name FROM agencies WHERE id = $1", params![a])?
                    .map_or_else(String::new, |r| r[0].text()),
                None => String::new(),
            };
            let member_id = parse_record_id("member id", &id)?;
            let part2 = match (&disclosure.consent, disclosure.part2_records.len()) {
                (_, 0) => Part2::None,
                (Some((cid, c)), _) => Part2::Disclosed {
                    consent_id: *cid,
                    recipient: c.recipient.name.clone(),
                },
                (None, n) => Part2::Withheld { records: n },
            };
            let e = Export {
                member_id,
                records: &disclosure.records,
                part2,
                generated_at: Timestamp::from_millis(now),
                generated_by: &who.principal.display_name,
                agency: &agency,
            };
            let (content_type, bytes): (&str, Vec<u8>) = match q.format.as_str() {
                "html" => ("text/html; charset=utf-8", export::html(&e).into_string().into_bytes()),
                "pdf" => ("application/pdf", export::pdf(&e)),
                "csv" => ("text/csv; charset=utf-8; header=present", export::csv(&e)?),
                _ => (
                    "application/fhir+json; charset=utf-8",
                    serde_json::to_vec_pretty(&export::fhir(&e))
                        .map_err(|e| Error::Internal(e.to_string()))?,
                ),
            };
            who.audit(
                tx,
                "member.export",
                &id,
                serde_json::json!({
                    "format": q.format,
                    "records": disclosure.records.iter().map(|r| r.id.to_string()).collect::<Vec<_>>(),
                    "part2_consent": disclosure.consent.as_ref().map(|(c, _)| c.to_string()),
                    "part2_records": disclosure.part2_records.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
                    "part2_withheld": disclosure.withheld(),
                }),
            )?;
            Ok((content_type, bytes))
        })
    })
    .await;
    match done {
        Ok((content_type, bytes)) => {
            let ext = match format.as_str() {
                "fhir" => "fhir.json",
                f => f,
            };
            let day = chrono::Utc::now().format("%Y%m%d");
            let disposition = if format == "html" {
                "inline".to_string()
            } else {
                format!("attachment; filename=\"member-{member}-{day}.{ext}\"")
            };
            (
                super::http::SECURITY_HEADERS,
                [
                    (header::CONTENT_TYPE, content_type.to_string()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => error_page(e),
    }
}

/// The consents a member's page offers for an export: Part 2 consents in force.
pub fn part2_consents(records: &[Record], now: i64) -> Vec<(RecordId, String)> {
    records
        .iter()
        .filter_map(|r| match &r.body {
            RecordBody::Consent(c)
                if c.substance_use_part2 && c.in_force(Timestamp::from_millis(now)) =>
            {
                Some((r.id, c.recipient.name.clone()))
            }
            _ => None,
        })
        .collect()
}
