//! Contact notes as a worker writes them: every program's fields, the purposes the rules
//! count, and the place of service defaulted by modality. Drafting, redrafting and addenda go
//! through one request; finalizing is a signature (`Store::finalize_note`).

use super::{Form, place_of_service};
use crate::error::Result;
use crate::model::*;
use crate::store::Store;

/// A contact note's content as the worker enters it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNote {
    /// The member.
    pub member_id: RecordId,
    /// The program the contact was delivered under.
    pub program: Program,
    /// How it happened.
    pub modality: Modality,
    /// When the contact started.
    pub started_at: Timestamp,
    /// Length in minutes.
    pub duration_minutes: u32,
    /// The narrative.
    pub narrative: String,
    /// Why telehealth was used (required to finalize a telehealth note: TM-7).
    pub telehealth_reason: Option<String>,
    /// Where; by modality when not given ([`place_of_service`]).
    pub place: Option<PlaceOfService>,
    /// For a collateral contact: with whom (required for one).
    pub collateral: Option<Contact>,
    /// Whether the member was engaged and responsive (JI-1).
    pub member_engaged: bool,
    /// TM-5: the planned activity.
    pub planned_activity: Option<String>,
    /// TM-5: the goal targeted.
    pub goal_targeted: Option<String>,
    /// TM-5: the member's response.
    pub member_response: Option<String>,
    /// Progress toward plan goals.
    pub progress: Vec<GoalProgress>,
    /// What the contact was for, as the rules count it; none for ordinary service.
    pub purposes: Vec<ContactPurpose>,
}

impl NewNote {
    /// The note this request describes, written by `author`.
    pub fn into_note(self, author: StaffId, addendum_to: Option<RecordId>) -> ContactNote {
        // Each purpose once, in the order given.
        let mut purposes = self.purposes;
        let mut seen = Vec::with_capacity(purposes.len());
        purposes.retain(|p| {
            let first = !seen.contains(p);
            seen.push(*p);
            first
        });
        ContactNote {
            member_id: self.member_id,
            program: self.program,
            author,
            started_at: self.started_at,
            duration_minutes: self.duration_minutes,
            modality: self.modality,
            telehealth_reason: Form::optional(self.telehealth_reason),
            place: self
                .place
                .unwrap_or_else(|| place_of_service(self.modality)),
            collateral: self.collateral,
            member_engaged: self.member_engaged,
            planned_activity: Form::optional(self.planned_activity),
            goal_targeted: Form::optional(self.goal_targeted),
            member_response: Form::optional(self.member_response),
            narrative: self.narrative,
            progress: self.progress,
            purposes,
            addendum_to,
        }
    }
}

impl Store {
    /// Saves a draft note by `author`; durable when this returns.
    pub fn draft_note(&mut self, new: NewNote, author: StaffId) -> Result<RecordId> {
        self.write_checked(
            Form::new(),
            RecordBody::ContactNote(new.into_note(author, None)),
        )
    }

    /// Replaces a draft note's content (its author and any addendum link stay). A finalized
    /// note is refused: write an addendum.
    pub fn redraft_note(&mut self, id: RecordId, new: NewNote) -> Result<()> {
        let RecordBody::ContactNote(old) = self.get(id)?.body else {
            return Err(crate::Error::NotFound {
                kind: "contact_note",
                id,
            });
        };
        let note = new.into_note(old.author, old.addendum_to);
        self.update(id, |body| *body = RecordBody::ContactNote(note))
    }

    /// Adds an addendum by `author` to the finalized note `parent`.
    pub fn write_addendum(
        &mut self,
        parent: RecordId,
        new: NewNote,
        author: StaffId,
    ) -> Result<RecordId> {
        self.add_addendum(parent, new.into_note(author, None))
    }
}
