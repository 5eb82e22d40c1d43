//! Conversions between plain Rust values and the shared wire types (money, dates,
//! times), and domain errors to statuses.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use vibe_integration::{FieldViolation, IntegrationError};

use crate::proto::r#type::v1::{Date, Money, YearMonth};

pub fn money(amount_cents: i64, currency: &str) -> Option<Money> {
    Some(Money {
        currency_code: currency.to_owned(),
        amount_cents,
    })
}

pub fn date(date: NaiveDate) -> Option<Date> {
    Some(Date {
        year: date.year(),
        month: i32::try_from(date.month()).unwrap_or_default(),
        day: i32::try_from(date.day()).unwrap_or_default(),
    })
}

pub fn year_month(date: NaiveDate) -> Option<YearMonth> {
    Some(YearMonth {
        year: date.year(),
        month: i32::try_from(date.month()).unwrap_or_default(),
    })
}

pub fn timestamp(instant: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: instant.timestamp(),
        nanos: i32::try_from(instant.timestamp_subsec_nanos()).unwrap_or_default(),
    })
}

pub fn system_timestamp(instant: SystemTime) -> Option<prost_types::Timestamp> {
    timestamp(DateTime::<Utc>::from(instant))
}

pub fn duration(duration: Duration) -> Option<prost_types::Duration> {
    prost_types::Duration::try_from(duration).ok()
}

/// Collects field violations of a request while it is parsed.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn add(&mut self, field: &str, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// A required calendar date.
    pub fn date(&mut self, field: &str, value: Option<&Date>) -> Option<NaiveDate> {
        let Some(value) = value else {
            self.add(field, "is required");
            return None;
        };
        let parsed = u32::try_from(value.month)
            .ok()
            .zip(u32::try_from(value.day).ok());
        match parsed.and_then(|(month, day)| NaiveDate::from_ymd_opt(value.year, month, day)) {
            Some(date) => Some(date),
            None => {
                self.add(
                    field,
                    format!(
                        "{:04}-{:02}-{:02} is not a calendar date",
                        value.year, value.month, value.day
                    ),
                );
                None
            }
        }
    }

    /// A required calendar month.
    pub fn year_month(
        &mut self,
        field: &str,
        value: Option<&YearMonth>,
    ) -> Option<vibe_integration::YearMonth> {
        let Some(value) = value else {
            self.add(field, "is required");
            return None;
        };
        match u32::try_from(value.month) {
            Ok(month @ 1..=12) if (1..=9999).contains(&value.year) => {
                Some(vibe_integration::YearMonth {
                    year: value.year,
                    month,
                })
            }
            _ => {
                self.add(
                    field,
                    format!(
                        "{:04}-{:02} is not a calendar month",
                        value.year, value.month
                    ),
                );
                None
            }
        }
    }

    /// INVALID_ARGUMENT with every violation, or the parsed value.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Status> {
        match (self.0.is_empty(), value) {
            (true, Some(value)) => Ok(value),
            (true, None) => Err(Status::internal("request parsing lost a value")),
            (false, _) => Err(bad_request(self.0)),
        }
    }
}

/// INVALID_ARGUMENT carrying a `google.rpc.BadRequest` with one violation per field.
pub fn bad_request(violations: Vec<FieldViolation>) -> Status {
    bad_request_with(violations, ErrorDetails::new())
}

/// [`bad_request`] with more details (e.g. an `ErrorInfo`) alongside the violations.
pub fn bad_request_with(violations: Vec<FieldViolation>, mut details: ErrorDetails) -> Status {
    let message = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
    for violation in violations {
        details.add_bad_request_violation(violation.field, violation.description);
    }
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// The status of a domain error: the one place integration errors get their codes.
pub fn integration_status(error: IntegrationError) -> Status {
    match error {
        IntegrationError::InvalidArgument(violations) => bad_request(violations),
        IntegrationError::Unavailable(message) => Status::unavailable(message),
    }
}
