//! Validation of what staff enter for an age check, and age on the store's calendar.
//!
//! Texas sells hemp products only to customers aged [`MINIMUM_AGE`] or older. These rules
//! reproduce the old system's exactly; the module does no I/O.
//!
//! # Calendar
//!
//! Age is a matter of calendar dates, not elapsed seconds: [`store_today`] turns an instant
//! into the date in the store's time zone, and [`age_on`] counts the whole years completed by
//! that date. So someone born on this day 21 years ago is 21 from local midnight, and an
//! attempt at 23:30 local time the day before is refused even though UTC is already on the
//! birthday.
//!
//! # Leap-day births
//!
//! A person born on 29 February has their birthday on 1 March in common years: they complete
//! a year of age only once 28 February has fully passed. This is the conservative reading for
//! an age-restricted sale (never a day early). In leap years the birthday is 29 February
//! itself. Born 2004-02-29: on 2025-02-28 they are 20, on 2025-03-01 they are 21, and on
//! 2024-02-29 they turn 20.
//!
//! # Oldest date of birth
//!
//! A date of birth is accepted up to and including the 120th birthday (same leap-day rule):
//! it must be no earlier than today minus [`MAX_AGE_YEARS`] years. From the day after the
//! 120th birthday it is rejected, even though [`age_on`] still says 120 until the 121st.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// The minimum age, in whole years, to buy in Texas.
pub const MINIMUM_AGE: u32 = 21;

/// The oldest plausible age, in years; an earlier date of birth is a typing mistake.
pub const MAX_AGE_YEARS: u32 = 120;

/// The longest accepted customer id, in characters.
const MAX_CUSTOMER_ID_CHARS: usize = 128;

/// The accepted full-name length range, in characters after trimming.
const MIN_NAME_CHARS: usize = 2;
const MAX_NAME_CHARS: usize = 100;

/// The 50 US states' two-letter postal codes and "DC", in alphabetical order.
pub const STATES: [&str; 51] = [
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA", "ID", "IL", "IN",
    "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND", "NE", "NH", "NJ",
    "NM", "NV", "NY", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VT", "WA",
    "WI", "WV", "WY",
];

/// What the staff member entered.
///
/// `Debug` redacts the personal data so the input can't leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct AgeCheckInput {
    /// The customer's full name as on their ID.
    pub full_name: String,
    /// `None` when the wire date was missing or not a real calendar date (e.g. Feb 30).
    pub date_of_birth: Option<NaiveDate>,
    /// The issuing state's two-letter code, upper case.
    pub state: String,
    /// The last four digits of the ID number.
    pub id_last_four: String,
}

impl fmt::Debug for AgeCheckInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgeCheckInput")
            .field("full_name", &"<redacted>")
            .field("date_of_birth", &"<redacted>")
            .field("state", &self.state)
            .field("id_last_four", &"<redacted>")
            .finish()
    }
}

/// A field that failed validation, and why.
///
/// `description` never echoes the value, so violations are safe to log and return to clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field name: "full_name", "date_of_birth", "state", "id_last_four" or "customer_id".
    pub field: &'static str,
    /// Why it failed, in lower case, e.g. "must not be in the future".
    pub description: String,
}

impl FieldViolation {
    fn new(field: &'static str, description: &str) -> Self {
        Self {
            field,
            description: description.to_owned(),
        }
    }
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.description)
    }
}

/// Every invalid field of `input`, in the order full_name, date_of_birth, state,
/// id_last_four; empty when all are valid. At most one violation per field.
///
/// `today` is the store's calendar date (see [`store_today`]). This checks the data only:
/// whether the customer is old enough is [`age_on`] against [`MINIMUM_AGE`].
#[must_use]
pub fn validate(input: &AgeCheckInput, today: NaiveDate) -> Vec<FieldViolation> {
    [
        check_full_name(&input.full_name),
        check_date_of_birth(input.date_of_birth, today),
        check_state(&input.state),
        check_id_last_four(&input.id_last_four),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn check_full_name(full_name: &str) -> Option<FieldViolation> {
    let name = full_name.trim();
    let chars = name.chars().count();
    if chars == 0 {
        Some(FieldViolation::new("full_name", "is required"))
    } else if !(MIN_NAME_CHARS..=MAX_NAME_CHARS).contains(&chars) {
        Some(FieldViolation::new(
            "full_name",
            "must be 2 to 100 characters",
        ))
    } else if name.split_whitespace().count() < 2 {
        Some(FieldViolation::new(
            "full_name",
            "must contain at least two words (first and last name)",
        ))
    } else {
        None
    }
}

fn check_date_of_birth(
    date_of_birth: Option<NaiveDate>,
    today: NaiveDate,
) -> Option<FieldViolation> {
    let Some(dob) = date_of_birth else {
        return Some(FieldViolation::new(
            "date_of_birth",
            "is required and must be a real calendar date",
        ));
    };
    if dob > today {
        return Some(FieldViolation::new(
            "date_of_birth",
            "must not be in the future",
        ));
    }
    // Already 120 yesterday means the 120th birthday is behind us: dob < today - 120 years.
    let too_old = today
        .pred_opt()
        .is_some_and(|yesterday| age_on(dob, yesterday) >= MAX_AGE_YEARS);
    too_old.then(|| FieldViolation::new("date_of_birth", "must be no more than 120 years ago"))
}

fn check_state(state: &str) -> Option<FieldViolation> {
    // Exact match only: "tx" or " TX" is a client bug worth surfacing, not silently fixing.
    (!STATES.contains(&state)).then(|| {
        FieldViolation::new(
            "state",
            "must be a two-letter US state code or DC, in upper case",
        )
    })
}

fn check_id_last_four(id_last_four: &str) -> Option<FieldViolation> {
    // Bytes, not chars: other scripts' digits (e.g. Arabic-Indic) are not accepted.
    let valid = id_last_four.len() == 4 && id_last_four.bytes().all(|b| b.is_ascii_digit());
    (!valid).then(|| FieldViolation::new("id_last_four", "must be exactly 4 digits (0-9)"))
}

/// The whole years completed between `date_of_birth` and `today`, purely on calendar dates.
///
/// Someone born on 29 February completes a year on 1 March in common years (see the module
/// docs). Saturates at 0 when `date_of_birth` is after `today`.
#[must_use]
pub fn age_on(date_of_birth: NaiveDate, today: NaiveDate) -> u32 {
    if date_of_birth > today {
        return 0;
    }
    let birthday = birthday_in(date_of_birth, today.year());
    let had_birthday = (today.month(), today.day()) >= birthday;
    let years = today.year() - date_of_birth.year() - i32::from(!had_birthday);
    // Non-negative: dob <= today, so a year is only subtracted when the years differ.
    u32::try_from(years).unwrap_or(0)
}

/// The (month, day) of the birthday of someone born on `date_of_birth`, in `year`.
fn birthday_in(date_of_birth: NaiveDate, year: i32) -> (u32, u32) {
    match (date_of_birth.month(), date_of_birth.day()) {
        (2, 29) if !is_leap_year(year) => (3, 1),
        month_day => month_day,
    }
}

fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The calendar date at `now` in the store's `time_zone`: the "today" ages are computed on.
#[must_use]
pub fn store_today(time_zone: chrono_tz::Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&time_zone).date_naive()
}

/// Checks a customer id: required, 1 to 128 of `A-Z a-z 0-9 . _ : -` (what POS ids use).
/// Ids are compared exactly (POS ids are case-sensitive); the narrow alphabet keeps one
/// customer from getting fresh attempts through spaces or look-alike characters.
#[must_use]
pub fn validate_customer_id(id: &str) -> Option<FieldViolation> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
    let description = if id.is_empty() {
        "is required"
    } else if id.chars().count() > MAX_CUSTOMER_ID_CHARS {
        "must be at most 128 characters"
    } else if !id.chars().all(allowed) {
        "must contain only letters, digits, '.', '_', ':' and '-'"
    } else {
        return None;
    };
    Some(FieldViolation::new("customer_id", description))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::America::Chicago;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("valid test instant")
    }

    const TODAY: (i32, u32, u32) = (2026, 6, 15);

    fn today() -> NaiveDate {
        date(TODAY.0, TODAY.1, TODAY.2)
    }

    fn valid_input() -> AgeCheckInput {
        AgeCheckInput {
            full_name: "Zoë O'Brien-Núñez Jr.".to_owned(),
            date_of_birth: Some(date(1990, 5, 20)),
            state: "TX".to_owned(),
            id_last_four: "0123".to_owned(),
        }
    }

    fn fields(violations: &[FieldViolation]) -> Vec<&'static str> {
        violations.iter().map(|v| v.field).collect()
    }

    fn single_violation(input: &AgeCheckInput) -> FieldViolation {
        let mut violations = validate(input, today());
        assert_eq!(
            violations.len(),
            1,
            "expected one violation: {violations:?}"
        );
        violations.remove(0)
    }

    #[test]
    fn states_are_fifty_plus_dc_sorted_and_unique() {
        assert!(STATES.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        assert!(STATES.contains(&"DC"));
        assert!(STATES.contains(&"TX"));
        assert!(!STATES.contains(&"PR"));
    }

    #[test]
    fn birthday_boundary_in_chicago_summer() {
        let dob = date(2005, 6, 15);
        // 23:30 CDT on 14 June is already 04:30 UTC on the 15th.
        let before = utc(2026, 6, 15, 4, 30);
        assert_eq!(store_today(Chicago, before), date(2026, 6, 14));
        assert_eq!(age_on(dob, store_today(Chicago, before)), 20);
        // 00:30 CDT on 15 June.
        let after = utc(2026, 6, 15, 5, 30);
        assert_eq!(store_today(Chicago, after), date(2026, 6, 15));
        assert_eq!(age_on(dob, store_today(Chicago, after)), MINIMUM_AGE);
    }

    #[test]
    fn birthday_boundary_in_chicago_winter() {
        let dob = date(2005, 1, 10);
        // CST is UTC-6: 05:30 UTC is still 23:30 on 9 January.
        let before = utc(2026, 1, 10, 5, 30);
        assert_eq!(store_today(Chicago, before), date(2026, 1, 9));
        assert_eq!(age_on(dob, store_today(Chicago, before)), 20);
        let after = utc(2026, 1, 10, 6, 30);
        assert_eq!(store_today(Chicago, after), date(2026, 1, 10));
        assert_eq!(age_on(dob, store_today(Chicago, after)), 21);
    }

    #[test]
    fn leap_day_birthday_is_first_of_march_in_common_years() {
        let dob = date(2004, 2, 29);
        assert_eq!(age_on(dob, date(2025, 2, 28)), 20);
        assert_eq!(age_on(dob, date(2025, 3, 1)), 21);
        assert_eq!(age_on(dob, date(2024, 2, 28)), 19);
        assert_eq!(age_on(dob, date(2024, 2, 29)), 20);
        assert_eq!(age_on(dob, date(2028, 2, 28)), 23);
        assert_eq!(age_on(dob, date(2028, 2, 29)), 24);
        assert_eq!(age_on(dob, date(2004, 2, 29)), 0);
        assert_eq!(age_on(dob, date(2005, 2, 28)), 0);
        assert_eq!(age_on(dob, date(2005, 3, 1)), 1);
        // 2100 is not a leap year (divisible by 100, not by 400).
        assert_eq!(age_on(dob, date(2100, 2, 28)), 95);
        assert_eq!(age_on(dob, date(2100, 3, 1)), 96);
    }

    #[test]
    fn age_counts_whole_years_and_saturates() {
        let dob = date(2000, 12, 31);
        assert_eq!(age_on(dob, date(2021, 12, 30)), 20);
        assert_eq!(age_on(dob, date(2021, 12, 31)), 21);
        assert_eq!(age_on(dob, date(2022, 1, 1)), 21);
        assert_eq!(age_on(dob, date(2000, 1, 1)), 0);
        assert_eq!(age_on(date(2030, 1, 1), date(2026, 1, 1)), 0);
    }

    #[test]
    fn valid_input_has_no_violations() {
        assert_eq!(validate(&valid_input(), today()), Vec::new());
        let born_today = AgeCheckInput {
            date_of_birth: Some(today()),
            ..valid_input()
        };
        assert_eq!(validate(&born_today, today()), Vec::new());
    }

    #[test]
    fn one_word_name_is_invalid() {
        for name in ["Cher", "  Cher  ", "Jean-Luc"] {
            let input = AgeCheckInput {
                full_name: name.to_owned(),
                ..valid_input()
            };
            let violation = single_violation(&input);
            assert_eq!(violation.field, "full_name");
            assert!(violation.description.contains("two words"));
        }
    }

    #[test]
    fn name_length_is_2_to_100_chars_after_trimming() {
        let one = AgeCheckInput {
            full_name: " A ".to_owned(),
            ..valid_input()
        };
        assert_eq!(
            single_violation(&one).description,
            "must be 2 to 100 characters"
        );

        // 100 multi-byte chars is fine: the limit counts chars, not bytes.
        let hundred = format!("{} {}", "é".repeat(50), "ü".repeat(49));
        assert_eq!(hundred.chars().count(), 100);
        let ok = AgeCheckInput {
            full_name: format!("  {hundred}  "),
            ..valid_input()
        };
        assert_eq!(validate(&ok, today()), Vec::new());

        let long = AgeCheckInput {
            full_name: format!("{hundred}x"),
            ..valid_input()
        };
        assert_eq!(single_violation(&long).field, "full_name");

        let two = AgeCheckInput {
            full_name: "A B".to_owned(),
            ..valid_input()
        };
        assert_eq!(validate(&two, today()), Vec::new());
    }

    #[test]
    fn blank_name_is_required() {
        for name in ["", "   ", "\t\n \u{3000}"] {
            let input = AgeCheckInput {
                full_name: name.to_owned(),
                ..valid_input()
            };
            let violation = single_violation(&input);
            assert_eq!(violation.field, "full_name");
            assert_eq!(violation.description, "is required");
        }
    }

    #[test]
    fn future_dob_is_invalid() {
        let input = AgeCheckInput {
            date_of_birth: today().succ_opt(),
            ..valid_input()
        };
        let violation = single_violation(&input);
        assert_eq!(violation.field, "date_of_birth");
        assert_eq!(violation.description, "must not be in the future");
    }

    #[test]
    fn missing_dob_is_invalid() {
        let input = AgeCheckInput {
            date_of_birth: None,
            ..valid_input()
        };
        assert_eq!(single_violation(&input).field, "date_of_birth");
    }

    #[test]
    fn dob_121_years_ago_is_invalid() {
        let input = AgeCheckInput {
            date_of_birth: Some(date(TODAY.0 - 121, TODAY.1, TODAY.2)),
            ..valid_input()
        };
        let violation = single_violation(&input);
        assert_eq!(violation.field, "date_of_birth");
        assert_eq!(violation.description, "must be no more than 120 years ago");
    }

    #[test]
    fn dob_exactly_120_years_ago_is_the_oldest_accepted() {
        let oldest = date(TODAY.0 - 120, TODAY.1, TODAY.2);
        let at_limit = AgeCheckInput {
            date_of_birth: Some(oldest),
            ..valid_input()
        };
        assert_eq!(validate(&at_limit, today()), Vec::new());
        let day_before = AgeCheckInput {
            date_of_birth: oldest.pred_opt(),
            ..valid_input()
        };
        assert_eq!(single_violation(&day_before).field, "date_of_birth");
    }

    #[test]
    fn oldest_dob_follows_the_leap_day_rule() {
        let dob = Some(date(1904, 2, 29));
        let input = AgeCheckInput {
            date_of_birth: dob,
            ..valid_input()
        };
        // 2024 is a leap year: the 120th birthday is 29 February itself.
        assert_eq!(validate(&input, date(2024, 2, 29)), Vec::new());
        assert_eq!(
            fields(&validate(&input, date(2024, 3, 1))),
            ["date_of_birth"]
        );
        // 2023 common year: 119th birthday on 1 March, nowhere near the limit.
        assert_eq!(validate(&input, date(2023, 3, 1)), Vec::new());
    }

    #[test]
    fn state_must_be_an_exact_upper_case_code() {
        for state in ["tx", "Tx", " TX", "XX", "PR", "", "TEX"] {
            let input = AgeCheckInput {
                state: state.to_owned(),
                ..valid_input()
            };
            assert_eq!(single_violation(&input).field, "state", "state {state:?}");
        }
        for state in STATES {
            let input = AgeCheckInput {
                state: state.to_owned(),
                ..valid_input()
            };
            assert_eq!(validate(&input, today()), Vec::new());
        }
    }

    #[test]
    fn id_last_four_must_be_four_ascii_digits() {
        for id in ["123", "12345", "12a4", "١٢٣٤", "", " 123", "12 4"] {
            let input = AgeCheckInput {
                id_last_four: id.to_owned(),
                ..valid_input()
            };
            let violation = single_violation(&input);
            assert_eq!(violation.field, "id_last_four", "id {id:?}");
            assert_eq!(violation.description, "must be exactly 4 digits (0-9)");
        }
    }

    #[test]
    fn all_violations_are_listed_in_field_order() {
        let input = AgeCheckInput {
            full_name: "X".to_owned(),
            date_of_birth: None,
            state: "tx".to_owned(),
            id_last_four: "12a4".to_owned(),
        };
        assert_eq!(
            fields(&validate(&input, today())),
            ["full_name", "date_of_birth", "state", "id_last_four"]
        );
        let some = AgeCheckInput {
            full_name: "Cher".to_owned(),
            id_last_four: "1".to_owned(),
            ..valid_input()
        };
        assert_eq!(
            fields(&validate(&some, today())),
            ["full_name", "id_last_four"]
        );
    }

    #[test]
    fn violations_and_debug_never_echo_values() {
        let input = AgeCheckInput {
            full_name: "Secretname".to_owned(),
            date_of_birth: Some(date(2999, 1, 1)),
            state: "tx".to_owned(),
            id_last_four: "98765".to_owned(),
        };
        for violation in validate(&input, today()) {
            let text = violation.to_string();
            for secret in ["Secretname", "2999", "tx", "98765"] {
                assert!(!text.contains(secret), "{text:?} echoes {secret:?}");
            }
        }
        let debug = format!("{input:?}");
        for secret in ["Secretname", "2999", "98765"] {
            assert!(!debug.contains(secret), "{debug:?} echoes {secret:?}");
        }
    }

    #[test]
    fn customer_id_rules() {
        assert_eq!(validate_customer_id("cust-42"), None);
        assert_eq!(validate_customer_id("JDKY:HB_WT1.D4"), None);
        assert_eq!(validate_customer_id(&"a".repeat(128)), None);

        let empty = validate_customer_id("").expect("empty id is invalid");
        assert_eq!(empty.field, "customer_id");
        assert_eq!(empty.description, "is required");

        let long = validate_customer_id(&"a".repeat(129)).expect("129 chars is invalid");
        assert_eq!(long.description, "must be at most 128 characters");

        // Spaces, look-alikes and control characters would make one customer several.
        for id in [
            "a\nb",
            "a\u{0}b",
            "tab\t",
            "del\u{7f}",
            " pos-1",
            "pos 1",
            "pos‐1",
            "é",
        ] {
            let bad = validate_customer_id(id).expect("character outside the alphabet");
            assert_eq!(
                bad.description,
                "must contain only letters, digits, '.', '_', ':' and '-'"
            );
        }
    }
}
