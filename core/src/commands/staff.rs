//! The staff obligations' records (TM-10, TM-11, CARES-10, CARES-11, CARES-12): supervision
//! sessions, consultation requests and their answers, and trainings. They name staff, never
//! members: topics are written without member details.

use super::Form;
use crate::error::Result;
use crate::model::*;
use crate::store::Store;

/// A supervision session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSupervision {
    /// The supervisee.
    pub staff_id: StaffId,
    /// The supervisor.
    pub supervisor_id: StaffId,
    /// The program.
    pub program: Program,
    /// Individual (the specs require it weekly) or group.
    pub individual: bool,
    /// When it took place.
    pub held_at: Timestamp,
    /// Length in minutes (1 to 600).
    pub duration_minutes: u32,
    /// Topics, without member details.
    pub topics: String,
}

/// A consultation asked of a senior clinician (TM-11) or medical professional (CARES-10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewConsultation {
    /// The program.
    pub program: Program,
    /// When it was asked; now when not given (the rule's clock starts here).
    pub requested_at: Option<Timestamp>,
    /// Whom it was asked of.
    pub consultant_kind: ConsultantKind,
    /// Topic, without member details.
    pub topic: String,
}

/// A training completed or under way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTraining {
    /// The trainee.
    pub staff_id: StaffId,
    /// The program.
    pub program: Program,
    /// The trainee's first day of employment (CARES-12: 3 months).
    pub employment_started_on: Day,
    /// Course name.
    pub course: String,
    /// Part of the required initial training.
    pub required_initial: bool,
    /// Completion date; none while enrolled.
    pub completed_on: Option<Day>,
}

impl Store {
    /// Records a supervision session; `by` is the supervisor or the supervisee.
    pub fn record_supervision(&mut self, new: NewSupervision, by: StaffId) -> Result<RecordId> {
        let mut form = Form::new();
        let topics = form.text("topics", new.topics);
        let held_at = form.past("held_at", Some(new.held_at));
        if new.duration_minutes == 0 || new.duration_minutes > 600 {
            form.fail("duration_minutes", "must be 1 to 600 minutes");
        }
        if new.staff_id == new.supervisor_id {
            form.fail("supervisor_id", "a worker does not supervise themself");
        }
        if by != new.staff_id && by != new.supervisor_id {
            form.fail(
                "by",
                "a session is recorded by its supervisor or supervisee",
            );
        }
        self.write_checked(
            form,
            RecordBody::Supervision(SupervisionRecord {
                staff_id: new.staff_id,
                supervisor_id: new.supervisor_id,
                program: new.program,
                individual: new.individual,
                held_at,
                duration_minutes: new.duration_minutes,
                topics,
            }),
        )
    }

    /// Records a consultation request made by `by`.
    pub fn request_consultation(&mut self, new: NewConsultation, by: StaffId) -> Result<RecordId> {
        let mut form = Form::new();
        let topic = form.text("topic", new.topic);
        let requested_at = form.past("requested_at", new.requested_at);
        self.write_checked(
            form,
            RecordBody::Consultation(ConsultationRecord {
                requested_by: by,
                program: new.program,
                requested_at,
                consultant_kind: new.consultant_kind,
                consultant: None,
                responded_at: None,
                topic,
            }),
        )
    }

    /// Records the answer to consultation `id`: who answered and when (now when not given).
    pub fn consultation_answered(
        &mut self,
        id: RecordId,
        consultant: StaffId,
        at: Option<Timestamp>,
    ) -> Result<()> {
        let mut form = Form::new();
        let at = form.past("responded_at", at);
        match self.get(id)?.body {
            RecordBody::Consultation(c) => {
                form.not_before("responded_at", at, c.requested_at, "the request");
                if c.responded_at.is_some() {
                    form.fail("responded_at", "is already recorded");
                }
            }
            _ => form.fail("consultation_id", "is not a consultation"),
        }
        form.finish("consultation")?;
        self.update(id, |body| {
            if let RecordBody::Consultation(c) = body {
                c.consultant = Some(consultant);
                c.responded_at = Some(at);
            }
        })
    }

    /// Records a training.
    pub fn record_training(&mut self, new: NewTraining) -> Result<RecordId> {
        let mut form = Form::new();
        let course = form.text("course", new.course);
        let today = form.now.0.date_naive();
        if new.employment_started_on.0 > today + chrono::Days::new(366) {
            form.fail("employment_started_on", "is more than a year ahead");
        }
        if new.completed_on.is_some_and(|done| done.0 > today) {
            form.fail("completed_on", "must not be in the future");
        }
        self.write_checked(
            form,
            RecordBody::Training(TrainingRecord {
                staff_id: new.staff_id,
                program: new.program,
                employment_started_on: new.employment_started_on,
                course,
                required_initial: new.required_initial,
                completed_on: new.completed_on,
            }),
        )
    }
}
