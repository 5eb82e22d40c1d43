//! The store's calendar: which UTC instants a local calendar day, week, month or year
//! covers. Time zones are handled here, in Rust (chrono-tz), never in the warehouse.

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use vibe_warehouse::TimeRange;

/// The store's time zone and currency.
#[derive(Debug, Clone)]
pub struct Store {
    pub time_zone: Tz,
    /// ISO 4217 code of every amount, e.g. `USD`.
    pub currency: String,
}

impl Store {
    /// The local calendar date at `instant`.
    pub fn date_of(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.time_zone).date_naive()
    }

    /// The instant local midnight begins `date`. Where a time-zone change skips midnight,
    /// the day begins at the first local time that exists.
    pub fn start_of(&self, date: NaiveDate) -> DateTime<Utc> {
        let midnight = date.and_time(chrono::NaiveTime::MIN);
        // Try each minute of the first hours: a gap is at most a few hours long.
        for minutes in 0..=(4 * 60) {
            let local = midnight + chrono::Duration::minutes(minutes);
            if let Some(start) = self.time_zone.from_local_datetime(&local).earliest() {
                return start.with_timezone(&Utc);
            }
        }
        // Unreachable for real zones; UTC midnight is a safe fallback.
        Utc.from_utc_datetime(&midnight)
    }

    /// `[start of first, start of the day after last)`, cut at `now` if that is earlier.
    pub fn dates(&self, first: NaiveDate, last: NaiveDate, now: DateTime<Utc>) -> TimeRange {
        let end = last
            .checked_add_days(Days::new(1))
            .map_or(now, |next| self.start_of(next));
        TimeRange {
            start: self.start_of(first),
            end: end.min(now),
        }
    }

    /// The four dashboard windows at `now`.
    pub fn windows(&self, now: DateTime<Utc>) -> Windows {
        let today = self.date_of(now);
        let window = |first: NaiveDate| Window {
            first_date: first,
            last_date: today,
            range: TimeRange {
                start: self.start_of(first),
                end: now,
            },
        };
        Windows {
            today: window(today),
            last_7_days: window(today - Days::new(6)),
            month_to_date: window(today.with_day(1).unwrap_or(today)),
            year_to_date: window(NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today)),
        }
    }
}

/// One calendar window: the local dates `[first_date, last_date]`, as UTC instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub first_date: NaiveDate,
    pub last_date: NaiveDate,
    pub range: TimeRange,
}

/// The dashboard's windows, all ending at the same `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub today: Window,
    /// Today and the six calendar days before it.
    pub last_7_days: Window,
    pub month_to_date: Window,
    pub year_to_date: Window,
}

impl Windows {
    pub fn all(&self) -> [Window; 4] {
        [
            self.today,
            self.last_7_days,
            self.month_to_date,
            self.year_to_date,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chicago() -> Store {
        Store {
            time_zone: chrono_tz::America::Chicago,
            currency: "USD".to_owned(),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn today_starts_at_local_midnight_not_utc_midnight() {
        // 03:30 UTC on March 5 is still March 4 in Chicago (CST, UTC-6).
        let windows = chicago().windows(utc("2026-03-05T03:30:00Z"));
        assert_eq!(windows.today.first_date.to_string(), "2026-03-04");
        assert_eq!(windows.today.range.start, utc("2026-03-04T06:00:00Z"));
        assert_eq!(windows.today.range.end, utc("2026-03-05T03:30:00Z"));
    }

    #[test]
    fn windows_are_calendar_windows() {
        let now = utc("2026-11-29T18:00:00Z"); // 12:00 CST
        let w = chicago().windows(now);
        assert_eq!(w.last_7_days.first_date.to_string(), "2026-11-23");
        assert_eq!(w.month_to_date.first_date.to_string(), "2026-11-01");
        assert_eq!(w.year_to_date.first_date.to_string(), "2026-01-01");
        // January 1 is in CST (UTC-6); November 1 is still CDT (UTC-5).
        assert_eq!(w.year_to_date.range.start, utc("2026-01-01T06:00:00Z"));
        assert_eq!(w.month_to_date.range.start, utc("2026-11-01T05:00:00Z"));
    }

    #[test]
    fn a_daylight_saving_day_has_23_hours() {
        let store = chicago();
        let day = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        let next = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        let hours = (store.start_of(next) - store.start_of(day)).num_hours();
        assert_eq!(hours, 23);
    }

    #[test]
    fn a_date_range_is_cut_at_now() {
        let store = chicago();
        let now = utc("2026-11-29T18:00:00Z");
        let first = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let range = store.dates(first, store.date_of(now), now);
        assert_eq!(range.end, now);
        let last = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let range = store.dates(first, last, now);
        assert_eq!(range.end, utc("2026-11-28T06:00:00Z"));
    }
}
