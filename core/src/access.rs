//! Who may write what. A device checks these rules before it commits a change, and the
//! server checks them again on every change it receives, so a rejection at the server only
//! happens when something changed in between (a reassignment, a supervisor's edit).

use crate::attest::{Attestation, AttestationKind};
use crate::model::{RecordBody, Role, StaffId};

/// The longest review comment accepted, in characters.
pub const MAX_COMMENT_CHARS: usize = 4000;

/// The person writing: the signed-in user of a device, or the user a server request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Author {
    /// Their staff id.
    pub staff_id: StaffId,
    /// The role they sign in.
    pub role: Role,
}

/// The staff member who wrote a record, for kinds that carry one.
pub fn record_author(body: &RecordBody) -> Option<StaffId> {
    match body {
        RecordBody::ContactNote(n) => Some(n.author),
        RecordBody::Plan(p) => Some(p.author),
        RecordBody::CrisisPlan(p) => Some(p.author),
        RecordBody::DischargePlan(p) => Some(p.author),
        _ => None,
    }
}

/// A new record must be written in its author's own name; an extension or waiver is
/// recorded only by a supervisor or program director, in their own name, for a rule that
/// takes one ([`crate::rules::catalog::allows_override`]).
pub fn check_new_record(author: &Author, body: &RecordBody) -> Result<(), String> {
    if let RecordBody::Override(o) = body {
        if !matches!(author.role, Role::Supervisor | Role::ProgramDirector) {
            return Err(
                "only a supervisor or program director grants an extension or waiver".into(),
            );
        }
        if o.by != author.staff_id {
            return Err("an extension or waiver is recorded in its grantor's own name".into());
        }
        if !crate::rules::catalog::allows_override(&o.rule_id, o.kind) {
            return Err(format!(
                "rule_id: {} takes no {}",
                o.rule_id,
                match o.kind {
                    crate::model::OverrideKind::Extension => "extension",
                    crate::model::OverrideKind::Waiver => "waiver",
                }
            ));
        }
    }
    match record_author(body) {
        Some(a) if a != author.staff_id => Err(format!(
            "a {} is written in its author's own name, not another staff member's",
            body.kind().as_str()
        )),
        _ => Ok(()),
    }
}

/// An attestation must be the author's own: staff sign only as themselves and in their own
/// role; a member, guardian, youth or PCP signature is recorded only as witnessed by the
/// author. A supervisor's or director's signature never comes from another user's device.
pub fn check_attestation(author: &Author, att: &Attestation) -> Result<(), String> {
    if let Some(reason) = att.backdating_error() {
        return Err(reason);
    }
    let signer = &att.signer;
    if signer.role.is_witnessed() {
        if signer.witness != Some(author.staff_id) || signer.staff_id.is_some() {
            return Err(format!(
                "a {:?} signature is recorded only as witnessed by the signed-in worker",
                signer.role
            ));
        }
        return Ok(());
    }
    if signer.staff_id != Some(author.staff_id) {
        return Err("staff sign only in their own name".into());
    }
    if signer.role != author.role {
        return Err(format!(
            "a {:?} cannot sign in the {:?} role",
            author.role, signer.role
        ));
    }
    if att.kind == AttestationKind::Finalize && signer.role != Role::Worker {
        return Err("a note is finalized by its author, signing as worker".into());
    }
    if att.kind.is_review() {
        if !matches!(signer.role, Role::Supervisor | Role::ProgramDirector) {
            return Err("only a supervisor or program director reviews records".into());
        }
        let comment = att.comment.as_deref().map(str::trim).unwrap_or_default();
        if att.kind == AttestationKind::Return && comment.is_empty() {
            return Err("comment: a returned record needs a comment saying what to change".into());
        }
        if comment.chars().count() > MAX_COMMENT_CHARS {
            return Err(format!("comment: at most {MAX_COMMENT_CHARS} characters"));
        }
    } else if att.comment.is_some() {
        return Err("only a review carries a comment".into());
    }
    Ok(())
}
