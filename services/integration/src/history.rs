//! Daily and monthly sales series.

use chrono::{Datelike, Days, Months, NaiveDate};
use vibe_warehouse::{DailySales, MonthlySales};

use crate::error::Violations;
use crate::model::{HistoryPoint, Totals};

/// Longest daily series, in days.
pub const MAX_DAYS: i64 = 180;
/// Longest monthly series, in months.
pub const MAX_MONTHS: i64 = 24;

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct YearMonth {
    pub year: i32,
    /// 1..=12.
    pub month: u32,
}

impl YearMonth {
    pub fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }

    fn index(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }
}

/// A history request: daily points over local dates, or monthly points over months
/// (both inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryRequest {
    Days { first: NaiveDate, last: NaiveDate },
    Months { first: YearMonth, last: YearMonth },
}

/// The local dates a validated request covers, its end clamped to today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HistorySpan {
    pub monthly: bool,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl HistorySpan {
    pub(crate) fn cache_key(&self) -> String {
        let kind = if self.monthly { "months" } else { "days" };
        format!("{kind}:{}:{}", self.first, self.last)
    }
}

pub(crate) fn parse_history_request(
    request: HistoryRequest,
    today: NaiveDate,
) -> Result<HistorySpan, crate::IntegrationError> {
    let mut violations = Violations::default();
    let span = match request {
        HistoryRequest::Days { first, last } => {
            if last < first {
                violations.add("days.end_date", "must not be before days.start_date");
            }
            let days = (last - first).num_days() + 1;
            if days > MAX_DAYS {
                violations.add(
                    "days",
                    format!("covers {days} days; at most {MAX_DAYS} are allowed"),
                );
            }
            if first > today {
                violations.add("days.start_date", format!("is after today ({today})"));
            }
            HistorySpan {
                monthly: false,
                first,
                last: last.min(today),
            }
        }
        HistoryRequest::Months { first, last } => {
            if last < first {
                violations.add("months.end_month", "must not be before months.start_month");
            }
            let months = last.index() - first.index() + 1;
            if months > MAX_MONTHS {
                violations.add(
                    "months",
                    format!("covers {months} months; at most {MAX_MONTHS} are allowed"),
                );
            }
            let first_day = first.first_day();
            let last_day = last
                .first_day()
                .and_then(|d| d.checked_add_months(Months::new(1)))
                .and_then(|d| d.pred_opt());
            match (first_day, last_day) {
                (Some(first_day), Some(last_day)) => {
                    if first_day > today {
                        violations.add(
                            "months.start_month",
                            format!("is after this month ({today})"),
                        );
                    }
                    HistorySpan {
                        monthly: true,
                        first: first_day,
                        last: last_day.min(today),
                    }
                }
                _ => {
                    violations.add("months", "not a valid month");
                    HistorySpan {
                        monthly: true,
                        first: today,
                        last: today,
                    }
                }
            }
        }
    };
    violations.check()?;
    Ok(span)
}

/// Every day of the span, zero where the warehouse had no sales.
pub(crate) fn dense_days(span: HistorySpan, rows: &[DailySales]) -> Vec<HistoryPoint> {
    let mut points = Vec::new();
    let mut day = span.first;
    while day <= span.last {
        let totals = rows
            .iter()
            .find(|row| row.date == day)
            .map(|row| Totals::from(row.totals))
            .unwrap_or_default();
        points.push(HistoryPoint { date: day, totals });
        match day.checked_add_days(Days::new(1)) {
            Some(next) => day = next,
            None => break,
        }
    }
    points
}

/// Every month of the span, zero where the warehouse had no sales.
pub(crate) fn dense_months(span: HistorySpan, rows: &[MonthlySales]) -> Vec<HistoryPoint> {
    let mut points = Vec::new();
    let mut month = span.first.with_day(1).unwrap_or(span.first);
    while month <= span.last {
        let totals = rows
            .iter()
            .find(|row| row.year == month.year() && row.month == month.month())
            .map(|row| Totals::from(row.totals))
            .unwrap_or_default();
        points.push(HistoryPoint {
            date: month,
            totals,
        });
        match month.checked_add_months(Months::new(1)) {
            Some(next) => month = next,
            None => break,
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use vibe_warehouse::SalesTotals;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    #[test]
    fn limits_are_inclusive() {
        let today = day(11, 29);
        let ok = HistoryRequest::Days {
            first: day(6, 3),
            last: day(11, 29),
        };
        assert_eq!(parse_history_request(ok, today).unwrap().first, day(6, 3));
        let too_long = HistoryRequest::Days {
            first: day(6, 2),
            last: day(11, 29),
        };
        assert!(parse_history_request(too_long, today).is_err());
        let months = HistoryRequest::Months {
            first: YearMonth {
                year: 2024,
                month: 12,
            },
            last: YearMonth {
                year: 2026,
                month: 11,
            },
        };
        let span = parse_history_request(months, today).unwrap();
        assert_eq!(
            (span.first, span.last),
            (NaiveDate::from_ymd_opt(2024, 12, 1).unwrap(), today)
        );
    }

    #[test]
    fn series_are_dense() {
        let span = HistorySpan {
            monthly: false,
            first: day(11, 1),
            last: day(11, 3),
        };
        let rows = [DailySales {
            date: day(11, 2),
            totals: SalesTotals {
                revenue_cents: 500,
                transactions: 2,
                distinct_customers: 1,
            },
        }];
        let points = dense_days(span, &rows);
        assert_eq!(points.len(), 3);
        assert_eq!(points[0].totals, Totals::default());
        assert_eq!(points[1].totals.average_order_value_cents, 250);
    }
}
