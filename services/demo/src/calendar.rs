//! The store's calendar: opening hours and how busy each day and hour is.
//!
//! A day's weight is weekday × month × events (4/20, 7/10, Thanksgiving week, the run-up
//! to Christmas, New Year's Eve) and the plan multiplies in growth and noise; the hour
//! curve shapes sales within the opening hours (quiet mornings, an after-work peak).

use chrono::{Datelike, Month, NaiveDate, Weekday};

/// Local opening hours of one day: `[open, close)` in whole hours, `close` at most 24
/// (midnight), so every sale falls on the day's own local date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningHours {
    pub open: u32,
    pub close: u32,
}

/// The store's hours on `date`; `None` when it is closed (Thanksgiving, Christmas Day).
pub fn opening_hours(date: NaiveDate) -> Option<OpeningHours> {
    let (month, day) = (date.month(), date.day());
    let hours = |open, close| Some(OpeningHours { open, close });
    if is_thanksgiving(date) || (month, day) == (12, 25) {
        return None;
    }
    match (month, day) {
        (12, 24) => return hours(10, 18),
        (12, 31) => return hours(10, 20),
        (1, 1) => return hours(12, 18),
        _ => {}
    }
    match date.weekday() {
        Weekday::Fri | Weekday::Sat => hours(10, 24),
        Weekday::Sun => hours(11, 20),
        _ => hours(10, 22),
    }
}

/// Relative busyness of each local hour (index = hour); hours outside a day's opening
/// hours are simply not drawn.
pub(crate) const HOUR_WEIGHTS: [u64; 24] = [
    1, 1, 1, 1, 1, 1, 1, 1, 1, 2, // night and early morning, only for unusual hours
    4, 6, 8, 8, 7, 8, 10, 13, 14, 12, // 10:00 opening to the 18:00 after-work peak
    10, 8, 6, 4, // the evening tails off
];

/// How busy `date` is before growth and noise; 0 when the store is closed.
pub(crate) fn base_weight(date: NaiveDate) -> f64 {
    if opening_hours(date).is_none() {
        return 0.0;
    }
    weekday_factor(date.weekday()) * month_factor(date) * event_factor(date)
}

fn weekday_factor(weekday: Weekday) -> f64 {
    match weekday {
        Weekday::Mon => 0.86,
        Weekday::Tue => 0.84,
        Weekday::Wed => 0.92,
        Weekday::Thu => 1.0,
        Weekday::Fri => 1.32,
        Weekday::Sat => 1.45,
        Weekday::Sun => 1.08,
    }
}

/// Slow January after the holidays, a spring lift into 4/20, a strong December.
fn month_factor(date: NaiveDate) -> f64 {
    match Month::try_from(date.month() as u8).unwrap_or(Month::June) {
        Month::January => 0.80,
        Month::February => 0.88,
        Month::March => 0.97,
        Month::April => 1.04,
        Month::May | Month::July | Month::October => 1.0,
        Month::June => 0.98,
        Month::August => 0.97,
        Month::September => 0.96,
        Month::November => 1.04,
        Month::December => 1.12,
    }
}

fn event_factor(date: NaiveDate) -> f64 {
    let one_day = chrono::Days::new(1);
    // The Wednesday before Thanksgiving ("Green Wednesday") and Black Friday are the
    // industry's busiest days after 4/20.
    if date.checked_add_days(one_day).is_some_and(is_thanksgiving) {
        return 1.5;
    }
    if date.checked_sub_days(one_day).is_some_and(is_thanksgiving) {
        return 1.7;
    }
    match (date.month(), date.day()) {
        (4, 20) => 2.6,
        (4, 19) => 1.3,
        (4, 18) | (4, 21) => 1.1,
        (7, 10) => 1.35,
        (7, 4) => 0.85,
        (10, 31) => 1.1,
        (12, 20..=23) => 1.25,
        (12, 24) => 1.2,
        (12, 31) => 1.3,
        (1, 1) => 0.6,
        _ => 1.0,
    }
}

/// The fourth Thursday of November.
fn is_thanksgiving(date: NaiveDate) -> bool {
    date.month() == 11 && date.weekday() == Weekday::Thu && (22..=28).contains(&date.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn closed_on_thanksgiving_and_christmas() {
        assert_eq!(opening_hours(day(2025, 11, 27)), None);
        assert_eq!(opening_hours(day(2024, 11, 28)), None);
        assert_eq!(opening_hours(day(2025, 12, 25)), None);
        assert!(opening_hours(day(2025, 11, 20)).is_some());
    }

    #[test]
    fn four_twenty_is_the_busiest_day_of_april() {
        let peak = base_weight(day(2025, 4, 20));
        for d in 1..=30 {
            assert!(base_weight(day(2025, 4, d)) <= peak);
        }
    }

    #[test]
    fn friday_and_saturday_close_at_midnight() {
        let hours = opening_hours(day(2025, 6, 7));
        assert_eq!(
            hours,
            Some(OpeningHours {
                open: 10,
                close: 24
            })
        );
    }
}
