//! Deadlines and statuses, with the semantics `RULES.md` gives: hour clocks count elapsed
//! time; day clocks end at 23:59:59 America/New_York on the Nth calendar day after the
//! trigger's day; business-day clocks at the end of the Nth business day after it; month
//! clocks on the same day N months later, clamped to the month's end; weekly clocks at the
//! end of the trigger's Monday-to-Sunday week.

use chrono::{Datelike, Days, Months};
use serde::{Deserialize, Serialize};

use super::calendar::{
    add_business_days, business_day_on_or_before, end_of_day, local_day, start_of_day,
};
use crate::model::{StaffId, Timestamp};

/// How long an obligation's window is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "unit", content = "count")]
pub enum Clock {
    /// Elapsed hours.
    Hours(u32),
    /// Calendar days, ending at midnight in Massachusetts.
    Days(u32),
    /// Business days, ending at midnight in Massachusetts.
    BusinessDays(u32),
    /// Calendar months, same day (clamped), ending at midnight.
    Months(u32),
    /// Once in each Monday-to-Sunday week.
    Weekly,
}

impl Clock {
    /// The deadline of a window opened at `trigger`.
    pub fn deadline(self, trigger: Timestamp) -> Timestamp {
        let day = local_day(trigger);
        match self {
            Clock::Hours(h) => Timestamp::from_millis(trigger.millis() + i64::from(h) * 3_600_000),
            Clock::Days(n) => end_of_day(day + Days::new(u64::from(n))),
            Clock::BusinessDays(n) => end_of_day(add_business_days(day, n)),
            Clock::Months(n) => end_of_day(day.checked_add_months(Months::new(n)).unwrap_or(day)),
            Clock::Weekly => {
                let to_sunday = 6 - day.weekday().num_days_from_monday();
                end_of_day(day + Days::new(u64::from(to_sunday)))
            }
        }
    }

    /// When a window opened at `trigger` becomes *at risk*: with a quarter of the window or
    /// one business day left, whichever is longer.
    pub fn at_risk_from(self, trigger: Timestamp) -> Timestamp {
        let deadline = self.deadline(trigger);
        let quarter = deadline.millis() - (deadline.millis() - trigger.millis()) / 4;
        let last_business_day = start_of_day(business_day_on_or_before(local_day(deadline)));
        Timestamp::from_millis(
            quarter
                .min(last_business_day.millis())
                .max(trigger.millis()),
        )
    }
}

/// Where an obligation stands, in the vocabulary of `RULES.md`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Status {
    /// The trigger has not happened.
    NotYetDue,
    /// The window is open.
    Due,
    /// The window is open with little time left.
    AtRisk,
    /// The deadline passed and the obligation is unmet.
    Overdue,
    /// Done by the deadline.
    Satisfied,
    /// Done after the deadline; kept visible for audit.
    SatisfiedLate,
    /// An allowed extension is documented.
    Extended {
        /// The documented reason.
        reason: String,
        /// When to look again.
        next_check: Timestamp,
    },
    /// Waived, with who and why.
    Waived {
        /// Who waived it.
        by: StaffId,
        /// Why.
        reason: String,
    },
    /// The obligation does not apply to this member.
    NotApplicable,
}

/// The status of one window: opened at `trigger` (if it has happened), satisfied at
/// `satisfied_at` (if it has been), seen at `now`.
pub fn status(
    clock: Clock,
    trigger: Option<Timestamp>,
    satisfied_at: Option<Timestamp>,
    now: Timestamp,
) -> Status {
    let Some(trigger) = trigger else {
        return Status::NotYetDue;
    };
    let deadline = clock.deadline(trigger);
    match satisfied_at {
        Some(done) if done <= deadline => Status::Satisfied,
        Some(_) => Status::SatisfiedLate,
        None if now > deadline => Status::Overdue,
        None if now >= clock.at_risk_from(trigger) => Status::AtRisk,
        None => Status::Due,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap_or_else(Timestamp::now)
    }

    #[test]
    fn each_clock_ends_where_rules_md_says() {
        let referral = t("2026-11-24T16:00:00-05:00"); // a Tuesday
        assert_eq!(
            Clock::Hours(24).deadline(referral),
            t("2026-11-25T16:00:00-05:00")
        );
        assert_eq!(
            Clock::Days(14).deadline(referral).to_string(),
            "2026-12-09T04:59:59Z"
        );
        // 1 business day after Wednesday 25th skips Thanksgiving: Friday 27th.
        let incident = t("2026-11-25T10:00:00-05:00");
        assert_eq!(
            Clock::BusinessDays(1).deadline(incident).to_string(),
            "2026-11-28T04:59:59Z"
        );
        // Quarterly from 30 November clamps to 28 February.
        let assessed = t("2026-11-30T12:00:00-05:00");
        assert_eq!(
            Clock::Months(3).deadline(assessed).to_string(),
            "2027-03-01T04:59:59Z"
        );
        // Weekly: end of that Sunday.
        assert_eq!(
            Clock::Weekly.deadline(referral).to_string(),
            "2026-11-30T04:59:59Z"
        );
    }

    #[test]
    fn statuses_follow_the_window() {
        let trigger = t("2026-11-02T09:00:00-05:00");
        let clock = Clock::Days(14);
        assert_eq!(status(clock, None, None, trigger), Status::NotYetDue);
        assert_eq!(
            status(clock, Some(trigger), None, t("2026-11-03T09:00:00-05:00")),
            Status::Due
        );
        assert_eq!(
            status(clock, Some(trigger), None, t("2026-11-14T09:00:00-05:00")),
            Status::AtRisk
        );
        assert_eq!(
            status(clock, Some(trigger), None, t("2026-11-17T00:00:01-05:00")),
            Status::Overdue
        );
        let late = t("2026-11-20T09:00:00-05:00");
        assert_eq!(
            status(clock, Some(trigger), Some(late), late),
            Status::SatisfiedLate
        );
        let on_time = t("2026-11-16T23:59:00-05:00");
        assert_eq!(
            status(clock, Some(trigger), Some(on_time), late),
            Status::Satisfied
        );
    }

    #[test]
    fn short_windows_are_at_risk_for_at_least_the_last_business_day() {
        // 24 hours from Thursday 09:00: a quarter is 6 hours, but the deadline falls on Friday,
        // so the window is at risk from the start of Friday.
        let trigger = t("2026-11-19T09:00:00-05:00");
        assert_eq!(
            Clock::Hours(24).at_risk_from(trigger),
            t("2026-11-20T00:00:00-05:00")
        );
        // 14 days: a quarter (3.5 days) is longer than one business day.
        let from = Clock::Days(14).at_risk_from(trigger);
        assert!(from < t("2026-12-01T00:00:00-05:00") && from > t("2026-11-28T00:00:00-05:00"));
    }
}
