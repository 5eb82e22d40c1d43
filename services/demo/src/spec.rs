//! What demo data to generate.

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use vibe_warehouse::TimeRange;

use crate::DemoError;

/// Everything the demo data is a function of: the same spec always yields the same rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSpec {
    /// Varies the catalog's lab values, each day's noise and every sale.
    pub seed: u64,
    /// The last business day, usually today in the store's time zone.
    pub last_day: NaiveDate,
    /// How many business days, ending with `last_day`.
    pub days: u32,
    /// Payments across the whole period (exactly; the days share it by their weights).
    pub payments: u64,
    /// Members on `last_day`; earlier days draw from fewer (the base grows).
    pub members: u32,
    /// The store's time zone: opening hours and business dates are local to it.
    pub time_zone: Tz,
}

impl DemoSpec {
    /// Two years.
    pub const DEFAULT_DAYS: u32 = 730;
    /// About 340 payments a day over two years.
    pub const DEFAULT_PAYMENTS: u64 = 250_000;
    /// Today's membership.
    pub const DEFAULT_MEMBERS: u32 = 11_000;
    /// A day's rows are generated in memory at once, so the average day is bounded
    /// (20 million payments over two years is ~27,000 a day).
    pub const MAX_PAYMENTS_PER_DAY: u64 = 100_000;
    /// Longest period accepted (ten years).
    pub const MAX_DAYS: u32 = 3_660;

    /// The default spec (two years, 250,000 payments, 11,000 members, America/Chicago)
    /// ending on `last_day`.
    pub fn new(seed: u64, last_day: NaiveDate) -> Self {
        Self {
            seed,
            last_day,
            days: Self::DEFAULT_DAYS,
            payments: Self::DEFAULT_PAYMENTS,
            members: Self::DEFAULT_MEMBERS,
            time_zone: chrono_tz::America::Chicago,
        }
    }

    /// Today's date in `time_zone`, for `last_day`.
    pub fn today(time_zone: Tz) -> NaiveDate {
        Utc::now().with_timezone(&time_zone).date_naive()
    }

    pub fn validate(&self) -> Result<(), DemoError> {
        let invalid = |message: String| Err(DemoError::InvalidSpec(message));
        if self.days == 0 || self.days > Self::MAX_DAYS {
            return invalid(format!(
                "days must be between 1 and {}, got {}",
                Self::MAX_DAYS,
                self.days
            ));
        }
        let most = u64::from(self.days) * Self::MAX_PAYMENTS_PER_DAY;
        if self.payments > most {
            return invalid(format!(
                "payments must be at most {} a day on average ({most} over {} days), got {}",
                Self::MAX_PAYMENTS_PER_DAY,
                self.days,
                self.payments
            ));
        }
        if self.first_day().is_none() || self.last_day.succ_opt().is_none() {
            return invalid(format!(
                "{} days ending {} leave the calendar",
                self.days, self.last_day
            ));
        }
        Ok(())
    }

    /// The first business day; `None` if it would be before the calendar's start.
    pub fn first_day(&self) -> Option<NaiveDate> {
        self.last_day
            .checked_sub_days(Days::new(u64::from(self.days.saturating_sub(1))))
    }

    /// Every business day, oldest first.
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let first = self.first_day().unwrap_or(self.last_day);
        first.iter_days().take(self.days as usize)
    }

    /// The UTC interval from the first day's local midnight to the midnight after the
    /// last day: every row of the spec is created in it.
    pub fn time_range(&self) -> TimeRange {
        let first = self.first_day().unwrap_or(self.last_day);
        TimeRange {
            start: local_midnight(self.time_zone, first),
            end: local_midnight(
                self.time_zone,
                self.last_day.succ_opt().unwrap_or(self.last_day),
            ),
        }
    }

    /// The UTC interval of one local day.
    pub fn day_range(&self, date: NaiveDate) -> TimeRange {
        TimeRange {
            start: local_midnight(self.time_zone, date),
            end: local_midnight(self.time_zone, date.succ_opt().unwrap_or(date)),
        }
    }
}

fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    local_to_utc(tz, date.and_time(NaiveTime::MIN))
}

/// The instant a wall-clock time in `tz` names. A time that occurs twice (the hour
/// repeated when daylight saving ends) is taken at its first occurrence; a time that does
/// not occur (skipped when it starts) is read with an offset in force next to the gap, so
/// it lands beside the gap on the same local date instead of failing.
pub(crate) fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local).earliest() {
        Some(instant) => instant.with_timezone(&Utc),
        None => {
            let offset = tz.offset_from_utc_datetime(&local).fix();
            Utc.from_utc_datetime(&(local - offset))
        }
    }
}
