//! The calendar program clocks run on: days end at midnight America/New_York, and business
//! days skip weekends and Massachusetts state holidays, computed for any year from their
//! definitions (no year-by-year list to maintain).
//!
//! The holidays are those `RULES.md` names: New Year's Day, Martin Luther King Jr. Day,
//! Washington's Birthday, Patriots' Day, Memorial Day, Juneteenth, Independence Day, Labor
//! Day, Indigenous Peoples' / Columbus Day, Veterans Day, Thanksgiving and Christmas. A
//! holiday on a Sunday is observed on the Monday after; the Suffolk-County-only days
//! (Evacuation Day, Bunker Hill Day) are left out.

use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::America::New_York;

use crate::model::Timestamp;

/// The calendar day of an instant in Massachusetts.
pub fn local_day(at: Timestamp) -> NaiveDate {
    at.0.with_timezone(&New_York).date_naive()
}

/// The last instant (23:59:59.999) of a Massachusetts calendar day.
pub fn end_of_day(day: NaiveDate) -> Timestamp {
    let next = day.checked_add_days(Days::new(1)).unwrap_or(day);
    let midnight = next.and_time(NaiveTime::MIN);
    let start_of_next: DateTime<Utc> = match New_York.from_local_datetime(&midnight) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        // Midnight never falls in a DST gap in New York; keep a defined answer regardless.
        LocalResult::None => midnight.and_utc(),
    };
    Timestamp::from_millis(start_of_next.timestamp_millis() - 1)
}

/// An instant as Massachusetts wall-clock time, for people (`2026-11-25 17:00 EST`).
pub fn local_display(at: Timestamp) -> String {
    at.0.with_timezone(&New_York)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// [`local_display`] to the second (`2026-11-25 17:00:05 EST`), where seconds count (an
/// alarm's timeline).
pub fn local_display_secs(at: Timestamp) -> String {
    at.0.with_timezone(&New_York)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// The first instant of a Massachusetts calendar day.
pub fn start_of_day(day: NaiveDate) -> Timestamp {
    let prev = day.checked_sub_days(Days::new(1)).unwrap_or(day);
    Timestamp::from_millis(end_of_day(prev).millis() + 1)
}

/// The Mondays (start of day, Massachusetts) of every Monday-to-Sunday week from the week
/// of `from` to the week of `to`, oldest first; empty when `from` is after `to`.
pub fn week_starts(from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
    use chrono::Datelike;
    let monday_of = |at: Timestamp| {
        let day = local_day(at);
        day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()))
    };
    let (mut week, last) = (monday_of(from), monday_of(to));
    let mut out = Vec::new();
    while week <= last {
        out.push(start_of_day(week));
        week = week + chrono::Days::new(7);
    }
    out
}

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> Option<NaiveDate> {
    (1..=5)
        .rev()
        .find_map(|n| nth_weekday(year, month, weekday, n))
}

/// The observed Massachusetts state holidays of `year`, in date order.
pub fn holidays(year: i32) -> Vec<NaiveDate> {
    let fixed = |m, d| NaiveDate::from_ymd_opt(year, m, d);
    let observed = |d: Option<NaiveDate>| {
        d.map(|d| {
            if d.weekday() == Weekday::Sun {
                d + Days::new(1)
            } else {
                d
            }
        })
    };
    let mut days: Vec<NaiveDate> = [
        observed(fixed(1, 1)),
        nth_weekday(year, 1, Weekday::Mon, 3),
        nth_weekday(year, 2, Weekday::Mon, 3),
        nth_weekday(year, 4, Weekday::Mon, 3),
        last_weekday(year, 5, Weekday::Mon),
        observed(fixed(6, 19)),
        observed(fixed(7, 4)),
        nth_weekday(year, 9, Weekday::Mon, 1),
        nth_weekday(year, 10, Weekday::Mon, 2),
        observed(fixed(11, 11)),
        nth_weekday(year, 11, Weekday::Thu, 4),
        observed(fixed(12, 25)),
    ]
    .into_iter()
    .flatten()
    .collect();
    days.sort();
    days
}

/// Whether `day` is a Massachusetts state holiday (as observed).
pub fn is_holiday(day: NaiveDate) -> bool {
    holidays(day.year()).contains(&day)
}

/// Whether `day` is a business day: a weekday that is not a state holiday.
pub fn is_business_day(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !is_holiday(day)
}

/// The `n`th business day after `day` (`n = 0` gives `day` itself).
pub fn add_business_days(day: NaiveDate, n: u32) -> NaiveDate {
    let mut d = day;
    let mut left = n;
    while left > 0 {
        d = d + Days::new(1);
        if is_business_day(d) {
            left -= 1;
        }
    }
    d
}

/// The business day on or before `day`.
pub fn business_day_on_or_before(day: NaiveDate) -> NaiveDate {
    let mut d = day;
    while !is_business_day(d) {
        d = d - Days::new(1);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn holidays_of_2026_match_the_state_calendar() {
        let expected = [
            "2026-01-01",
            "2026-01-19",
            "2026-02-16",
            "2026-04-20",
            "2026-05-25",
            "2026-06-19",
            "2026-07-04",
            "2026-09-07",
            "2026-10-12",
            "2026-11-11",
            "2026-11-26",
            "2026-12-25",
        ];
        assert_eq!(holidays(2026), expected.map(d).to_vec());
    }

    #[test]
    fn a_sunday_holiday_is_observed_on_monday() {
        // Juneteenth 2022 and Christmas 2022 fell on Sundays.
        assert!(is_holiday(d("2022-06-20")) && !is_holiday(d("2022-06-19")));
        assert!(is_holiday(d("2022-12-26")));
        // Independence Day 2026 is a Saturday and is not moved.
        assert!(is_holiday(d("2026-07-04")) && !is_holiday(d("2026-07-03")));
    }

    #[test]
    fn business_days_skip_weekends_and_holidays() {
        // Wednesday before Thanksgiving 2026: next business day is Friday.
        assert_eq!(add_business_days(d("2026-11-25"), 1), d("2026-11-27"));
        // Friday before Patriots' Day 2026 (Monday April 20): next is Tuesday.
        assert_eq!(add_business_days(d("2026-04-17"), 1), d("2026-04-21"));
        assert_eq!(add_business_days(d("2026-12-23"), 5), d("2026-12-31"));
        assert_eq!(business_day_on_or_before(d("2026-11-29")), d("2026-11-27"));
    }

    #[test]
    fn days_end_at_midnight_in_new_york_across_daylight_saving() {
        // Winter: UTC-5. Summer: UTC-4.
        assert_eq!(
            end_of_day(d("2026-01-15")).to_string(),
            "2026-01-16T04:59:59Z"
        );
        assert_eq!(
            end_of_day(d("2026-07-15")).to_string(),
            "2026-07-16T03:59:59Z"
        );
        // The day DST starts has 23 hours.
        let span = end_of_day(d("2026-03-08")).millis() - start_of_day(d("2026-03-08")).millis();
        assert_eq!(span, 23 * 3_600_000 - 1);
        let late_evening =
            Timestamp::parse("2026-11-25T23:30:00-05:00").unwrap_or_else(Timestamp::now);
        assert_eq!(local_day(late_evening), d("2026-11-25"));
        assert_eq!(local_display(late_evening), "2026-11-25 23:30 EST");
        assert_eq!(local_display_secs(late_evening), "2026-11-25 23:30:00 EST");
    }
}
