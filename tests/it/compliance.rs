//! Compliance on both warehouses: each scenario runs once on DuckDB and once on the
//! BigQuery emulator, with a clock the test moves. The black-box checks through the
//! gateway are in `compliance_edge.rs`.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use vibe::app;
use vibe::config::{BigQuery, BigQueryCredentials, WarehouseBackend};
use vibe_compliance::{
    AttemptCounter, AttemptLimit, AuditQuery, Caller, Compliance, ComplianceError,
    ComplianceSettings, DateParts, Keyring, KeyringError, Reason, Sealed, VerificationState,
    VerifyAgeRequest, pii::Pii,
};
use vibe_warehouse::record::Value;
use vibe_warehouse::schema::{AGE_VERIFICATIONS, Table, VERIFICATION_ATTEMPTS};
use vibe_warehouse::statement::Statement;
use vibe_warehouse::{AuditEvent, CatalogItem, Payment, SaleStatus, Source, TimeRange, Warehouse};

use crate::client;

#[derive(Clone, Copy, Debug)]
enum Backend {
    DuckDb,
    BigQuery,
}

struct Setup {
    warehouse: Arc<dyn Warehouse>,
    compliance: Compliance,
    keyring: Arc<Keyring>,
    keyring_text: String,
    clock: Arc<Mutex<DateTime<Utc>>>,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn set_clock(&self, instant: DateTime<Utc>) {
        *self.clock.lock().unwrap() = instant;
    }

    /// The same warehouse and clock with another keyring (a rotation, or a wrong key).
    fn with_keyring(&self, text: &str) -> Compliance {
        let clock = self.clock.clone();
        Compliance::new(
            self.warehouse.clone(),
            Arc::new(Keyring::parse(text).unwrap()),
            AttemptCounter::local(AttemptLimit::default()),
            ComplianceSettings::new(chrono_tz::America::Chicago),
            Arc::new(move || *clock.lock().unwrap()),
        )
    }
}

/// A fresh warehouse of `backend` (None: the emulator is not running, outside CI).
async fn setup(test: &str, backend: Backend) -> Option<Setup> {
    let dir = tempfile::tempdir().unwrap();
    let mut config = client::test_config();
    config.warehouse.duckdb.path = dir.path().join("warehouse.duckdb");
    if let Backend::BigQuery = backend {
        let emulator = vibe_test_harness::bigquery_emulator(test)?;
        config.warehouse.backend = WarehouseBackend::Bigquery;
        config.warehouse.bigquery = Some(BigQuery {
            project: emulator.project,
            dataset: format!(
                "compliance_{test}_{}_{}",
                std::process::id(),
                Utc::now().timestamp_micros()
            ),
            location: "US".to_owned(),
            credentials: BigQueryCredentials::None,
            maximum_bytes_billed: 1 << 30,
            query_timeout: std::time::Duration::from_secs(30),
            base_url: Some(emulator.url),
        });
    }
    let warehouse = app::open_warehouse(&config.warehouse).await.unwrap();
    let keyring_text = Keyring::generate("k1");
    let keyring = Arc::new(Keyring::parse(&keyring_text).unwrap());
    let clock = Arc::new(Mutex::new(chicago(2026, 6, 1, 12, 0)));
    let now = clock.clone();
    let compliance = Compliance::new(
        warehouse.clone(),
        keyring.clone(),
        AttemptCounter::local(AttemptLimit::default()),
        ComplianceSettings::new(chrono_tz::America::Chicago),
        Arc::new(move || *now.lock().unwrap()),
    );
    Some(Setup {
        warehouse,
        compliance,
        keyring,
        keyring_text,
        clock,
        _dir: dir,
    })
}

/// Generates `<name>_on_duckdb` and `<name>_on_bigquery` from `async fn name(&Setup)`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod duckdb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let setup = super::setup(stringify!($name), super::Backend::DuckDb).await.unwrap();
                    super::$name(&setup).await;
                }
            )*
        }
        mod bigquery {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(setup) = super::setup(stringify!($name), super::Backend::BigQuery).await else {
                        return;
                    };
                    super::$name(&setup).await;
                }
            )*
        }
    };
}

on_both!(
    birthdays_follow_the_store_calendar,
    every_invalid_field_is_named_and_recorded,
    five_attempts_leave_five_rows_and_a_twenty_percent_success_rate,
    personal_data_is_sealed_and_keys_rotate,
    metrics_measure_the_catalog_and_coverage,
    the_audit_trail_pages_and_deduplicates,
);

/// A local wall-clock time in Chicago, as UTC.
fn chicago(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    chrono_tz::America::Chicago
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn staff() -> Caller {
    Caller {
        principal: "ana".to_owned(),
        role: "staff".to_owned(),
        request_id: "req-1".to_owned(),
        client_ip: "10.0.0.9".to_owned(),
        user_agent: "test".to_owned(),
    }
}

const NAME: &str = "Maria Lopez Garza";
const ID_DIGITS: &str = "4821";

fn request(customer: &str, dob: (i32, u32, u32)) -> VerifyAgeRequest {
    VerifyAgeRequest {
        customer_id: customer.to_owned(),
        full_name: NAME.to_owned(),
        date_of_birth: Some(DateParts {
            year: dob.0,
            month: dob.1,
            day: dob.2,
        }),
        state: "TX".to_owned(),
        id_last_four: ID_DIGITS.to_owned(),
    }
}

fn fields(error: ComplianceError) -> Vec<&'static str> {
    match error {
        ComplianceError::InvalidArgument { violations, .. } => {
            violations.iter().map(|v| v.field).collect()
        }
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
}

/// Every attempt and verification retained around the test's clock.
fn all_time(setup: &Setup) -> TimeRange {
    let now = *setup.clock.lock().unwrap();
    TimeRange {
        start: now - Duration::days(800),
        end: now + Duration::days(800),
    }
}

/// Every row of `table` in `range`, raw: each cell as stored.
async fn raw_rows(setup: &Setup, table: &Table, range: TimeRange) -> Vec<Vec<Value<'static>>> {
    let placeholders = setup.warehouse.placeholders();
    let time = table.partition_by.unwrap();
    let statement = Statement {
        name: "raw_rows",
        sql: format!(
            "SELECT {} FROM {} WHERE {time} >= {} AND {time} < {}",
            table.column_list(),
            table.name,
            placeholders.render(1),
            placeholders.render(2)
        ),
        params: vec![Value::Timestamp(range.start), Value::Timestamp(range.end)],
        columns: table.columns.iter().map(|c| c.ty).collect(),
    };
    setup.warehouse.fetch(&statement).await.unwrap()
}

fn cell(row: &[Value<'static>], table: &Table, column: &str) -> String {
    let index = table.columns.iter().position(|c| c.name == column).unwrap();
    match &row[index] {
        Value::String(s) => s.to_string(),
        other => panic!("{column}: {other:?}"),
    }
}

async fn birthdays_follow_the_store_calendar(setup: &Setup) {
    let c = &setup.compliance;
    // 21 years old on 2026-06-15: 23:30 the evening before (already the 15th in UTC) is
    // 20; 00:30 local on the birthday is 21.
    setup.set_clock(chicago(2026, 6, 14, 23, 30));
    let before = c
        .verify_age(&request("bday", (2005, 6, 15)), &staff())
        .await
        .unwrap();
    assert_eq!(before.reason, Reason::UnderMinimumAge);
    assert_eq!(before.age, Some(20));
    assert!(before.verification.is_none());
    setup.set_clock(chicago(2026, 6, 15, 0, 30));
    let after = c
        .verify_age(&request("bday", (2005, 6, 15)), &staff())
        .await
        .unwrap();
    assert_eq!(after.reason, Reason::Verified);
    assert_eq!(after.age, Some(21));
    let verification = after.verification.unwrap();
    assert_eq!(verification.verified_at, chicago(2026, 6, 15, 0, 30));
    assert_eq!(
        verification.expires_at - verification.verified_at,
        Duration::days(365)
    );
    assert_eq!(verification.method, "self_attested");
    assert_eq!(after.attempts_remaining, 1);

    // Born on a leap day: 21 on 1 March in a common year, not on 28 February.
    setup.set_clock(chicago(2025, 2, 28, 23, 59));
    let leap = c
        .verify_age(&request("leap", (2004, 2, 29)), &staff())
        .await
        .unwrap();
    assert_eq!((leap.reason, leap.age), (Reason::UnderMinimumAge, Some(20)));
    setup.set_clock(chicago(2025, 3, 1, 0, 1));
    let leap = c
        .verify_age(&request("leap", (2004, 2, 29)), &staff())
        .await
        .unwrap();
    assert_eq!((leap.reason, leap.age), (Reason::Verified, Some(21)));

    // A clear under-21 refusal.
    let young = c
        .verify_age(&request("young", (2010, 1, 1)), &staff())
        .await
        .unwrap();
    assert_eq!(
        (young.reason, young.age),
        (Reason::UnderMinimumAge, Some(15))
    );
}

/// Spoils one field of a valid request.
type Change = Box<dyn Fn(&mut VerifyAgeRequest)>;

async fn every_invalid_field_is_named_and_recorded(setup: &Setup) {
    let c = &setup.compliance;
    setup.set_clock(chicago(2026, 6, 1, 12, 0));
    let cases: [(&str, Change); 7] = [
        ("full_name", Box::new(|r| r.full_name = "Cher".to_owned())),
        ("full_name", Box::new(|r| r.full_name = "x".repeat(101))),
        (
            "date_of_birth",
            Box::new(|r| {
                r.date_of_birth = Some(DateParts {
                    year: 2027,
                    month: 1,
                    day: 1,
                })
            }),
        ),
        (
            "date_of_birth",
            Box::new(|r| {
                r.date_of_birth = Some(DateParts {
                    year: 2001,
                    month: 2,
                    day: 30,
                })
            }),
        ),
        (
            "date_of_birth",
            Box::new(|r| {
                r.date_of_birth = Some(DateParts {
                    year: 1900,
                    month: 1,
                    day: 1,
                })
            }),
        ),
        ("state", Box::new(|r| r.state = "PR".to_owned())),
        (
            "id_last_four",
            Box::new(|r| r.id_last_four = "12a4".to_owned()),
        ),
    ];
    let mut attempted = 0;
    for (i, (field, change)) in cases.iter().enumerate() {
        // A customer per case, so the attempt limit stays out of the way.
        let mut r = request(&format!("invalid-{i}"), (1990, 5, 17));
        change(&mut r);
        let error = c.verify_age(&r, &staff()).await.unwrap_err();
        match &error {
            ComplianceError::InvalidArgument { attempt, .. } => {
                let attempt = attempt.as_ref().expect("the attempt is recorded");
                assert_eq!(attempt.attempts_remaining, 2);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(fields(error), [*field], "case {i}");
        attempted += 1;
    }
    let mut everything = request("invalid-all", (1990, 5, 17));
    everything.full_name = " ".to_owned();
    everything.date_of_birth = None;
    everything.state = "tx".to_owned();
    everything.id_last_four = "123".to_owned();
    let error = c.verify_age(&everything, &staff()).await.unwrap_err();
    assert_eq!(
        fields(error),
        ["full_name", "date_of_birth", "state", "id_last_four"]
    );
    attempted += 1;
    // No customer: refused, recorded, counted against no one.
    let error = c
        .verify_age(&request("", (1990, 5, 17)), &staff())
        .await
        .unwrap_err();
    assert_eq!(fields(error), ["customer_id"]);
    attempted += 1;

    let rows = raw_rows(setup, &VERIFICATION_ATTEMPTS, all_time(setup)).await;
    assert_eq!(rows.len(), attempted);
    for row in &rows {
        assert_eq!(cell(row, &VERIFICATION_ATTEMPTS, "outcome"), "rejected");
        assert_eq!(cell(row, &VERIFICATION_ATTEMPTS, "reason"), "invalid_input");
        assert!(!cell(row, &VERIFICATION_ATTEMPTS, "failed_fields").is_empty());
    }
    let failed: Vec<String> = rows
        .iter()
        .map(|row| cell(row, &VERIFICATION_ATTEMPTS, "failed_fields"))
        .collect();
    assert!(
        failed.contains(&"full_name,date_of_birth,state,id_last_four".to_owned()),
        "{failed:?}"
    );
    assert!(failed.contains(&"customer_id".to_owned()), "{failed:?}");
}

async fn five_attempts_leave_five_rows_and_a_twenty_percent_success_rate(setup: &Setup) {
    let c = &setup.compliance;
    let start = chicago(2026, 6, 1, 9, 0);
    setup.set_clock(start);
    let mut bad_state = request("ana-customer", (1990, 5, 17));
    bad_state.state = "XX".to_owned();
    let mut bad_id = request("ana-customer", (1990, 5, 17));
    bad_id.id_last_four = "12".to_owned();
    assert_eq!(
        fields(c.verify_age(&bad_state, &staff()).await.unwrap_err()),
        ["state"]
    );
    setup.set_clock(start + Duration::minutes(1));
    assert_eq!(
        fields(c.verify_age(&bad_id, &staff()).await.unwrap_err()),
        ["id_last_four"]
    );
    setup.set_clock(start + Duration::minutes(2));
    let young = c
        .verify_age(&request("ana-customer", (2008, 1, 1)), &staff())
        .await
        .unwrap();
    assert_eq!(
        (young.reason, young.attempts_remaining),
        (Reason::UnderMinimumAge, 0)
    );
    setup.set_clock(start + Duration::minutes(3));
    let verified = c
        .verify_age(&request("bo-customer", (1980, 1, 1)), &staff())
        .await
        .unwrap();
    assert_eq!(verified.reason, Reason::Verified);
    setup.set_clock(start + Duration::minutes(4));
    let limited = c
        .verify_age(&request("ana-customer", (1980, 1, 1)), &staff())
        .await
        .unwrap();
    assert_eq!(limited.reason, Reason::RateLimited);
    assert_eq!(limited.attempts_remaining, 0);
    assert_eq!(limited.retry_after, Some(start + Duration::hours(24)));
    assert!(limited.verification.is_none());

    let rows = raw_rows(setup, &VERIFICATION_ATTEMPTS, all_time(setup)).await;
    let mut outcomes: Vec<(String, String)> = rows
        .iter()
        .map(|row| {
            (
                cell(row, &VERIFICATION_ATTEMPTS, "outcome"),
                cell(row, &VERIFICATION_ATTEMPTS, "reason"),
            )
        })
        .collect();
    outcomes.sort();
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    assert_eq!(
        outcomes,
        pairs(&[
            ("rate_limited", "rate_limited"),
            ("rejected", "invalid_input"),
            ("rejected", "invalid_input"),
            ("rejected", "under_minimum_age"),
            ("verified", "verified"),
        ])
    );
    let metrics = c
        .metrics(
            Some(start - Duration::hours(1)),
            Some(start + Duration::hours(1)),
        )
        .await
        .unwrap();
    let a = &metrics.attempts;
    assert_eq!(
        (a.total, a.verified, a.rejected, a.rate_limited),
        (5, 1, 3, 1)
    );
    assert!((a.success_rate - 0.2).abs() < 1e-12, "{}", a.success_rate);
    assert_eq!((a.customers_attempted, a.customers_verified), (2, 1));

    // Status straight from the record; the refused attempt did not extend the window.
    let ana = c.age_verification("ana-customer").await.unwrap();
    assert_eq!(ana.state, VerificationState::Never);
    assert_eq!(ana.attempts_remaining, 0);
    assert_eq!(ana.last_attempt_at, Some(start + Duration::minutes(4)));
    let bo = c.age_verification("bo-customer").await.unwrap();
    assert!(
        matches!(&bo.state, VerificationState::Valid(v) if v.verified_at == start + Duration::minutes(3))
    );
    setup.set_clock(start + Duration::hours(24));
    let ana = c.age_verification("ana-customer").await.unwrap();
    assert_eq!(ana.attempts_remaining, 1);
    setup.set_clock(start + Duration::days(366));
    let bo = c.age_verification("bo-customer").await.unwrap();
    assert!(
        matches!(bo.state, VerificationState::Expired(_)),
        "{:?}",
        bo.state
    );
}

async fn personal_data_is_sealed_and_keys_rotate(setup: &Setup) {
    let c = &setup.compliance;
    setup.set_clock(chicago(2026, 6, 1, 12, 0));
    let outcome = c
        .verify_age(&request("sealed", (1987, 11, 23)), &staff())
        .await
        .unwrap();
    assert_eq!(outcome.reason, Reason::Verified);
    let mut invalid = request("sealed-2", (1987, 11, 23));
    invalid.state = "ZZ".to_owned();
    c.verify_age(&invalid, &staff()).await.unwrap_err();

    let range = all_time(setup);
    let attempts = raw_rows(setup, &VERIFICATION_ATTEMPTS, range).await;
    let verifications = raw_rows(setup, &AGE_VERIFICATIONS, range).await;
    assert_eq!((attempts.len(), verifications.len()), (2, 1));
    let forbidden = [
        NAME,
        "Maria",
        "Garza",
        "1987-11-23",
        "11/23/1987",
        "19871123",
        ID_DIGITS,
        "sealed",
    ];
    for row in attempts.iter().chain(&verifications) {
        for value in row {
            if let Value::String(text) = value {
                for plain in forbidden {
                    // The customer id only ever appears as its keyed hash.
                    assert!(
                        !text.contains(plain),
                        "plaintext {plain:?} in a stored cell"
                    );
                }
            }
        }
    }
    // The key holder can read every attempt back.
    for row in &attempts {
        let sealed = Sealed {
            key_id: cell(row, &VERIFICATION_ATTEMPTS, "pii_key_id"),
            ciphertext: cell(row, &VERIFICATION_ATTEMPTS, "pii_ciphertext"),
        };
        assert_eq!(sealed.key_id, "k1");
        let attempt_id = cell(row, &VERIFICATION_ATTEMPTS, "attempt_id");
        let pii = Pii::open(&setup.keyring, &sealed, &attempt_id).unwrap();
        assert_eq!(
            (
                pii.full_name.as_str(),
                pii.date_of_birth.as_str(),
                pii.id_last_four.as_str()
            ),
            (NAME, "1987-11-23", ID_DIGITS)
        );
        // Bound to its row: another row's id does not open it.
        assert!(Pii::open(&setup.keyring, &sealed, "another-row").is_err());
    }
    let old = Sealed {
        key_id: cell(&verifications[0], &AGE_VERIFICATIONS, "pii_key_id"),
        ciphertext: cell(&verifications[0], &AGE_VERIFICATIONS, "pii_ciphertext"),
    };
    let old_attempt = cell(&verifications[0], &AGE_VERIFICATIONS, "attempt_id");
    assert_eq!(old_attempt, outcome.attempt_id);

    // A keyring with the same key id but other key bytes: a clear error naming the key.
    let wrong = Keyring::parse(&Keyring::generate("k1")).unwrap();
    let error = Pii::open(&wrong, &old, &old_attempt).unwrap_err();
    assert!(matches!(error, KeyringError::Decrypt { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "cannot decrypt with key \"k1\": wrong key or tampered data"
    );

    // Rotation: add k2 and make it active, keep k1 and the lookup key.
    let mut doc: toml::Table = setup.keyring_text.parse().unwrap();
    let fresh: toml::Table = Keyring::generate("k2").parse().unwrap();
    let k2 = fresh["keys"]["k2"].clone();
    doc.get_mut("keys")
        .unwrap()
        .as_table_mut()
        .unwrap()
        .insert("k2".to_owned(), k2);
    doc.insert("active".to_owned(), toml::Value::String("k2".to_owned()));
    let rotated_text = toml::to_string(&doc).unwrap();
    let rotated = Keyring::parse(&rotated_text).unwrap();
    assert_eq!(
        Pii::open(&rotated, &old, &old_attempt).unwrap().full_name,
        NAME
    );
    let c2 = setup.with_keyring(&rotated_text);
    // The customer is still found: lookups use the unchanged lookup key.
    let status = c2.age_verification("sealed").await.unwrap();
    assert!(
        matches!(status.state, VerificationState::Valid(_)),
        "{:?}",
        status.state
    );
    setup.set_clock(chicago(2026, 6, 1, 12, 5));
    let new = c2
        .verify_age(&request("sealed-3", (1970, 1, 1)), &staff())
        .await
        .unwrap();
    let rows = raw_rows(setup, &VERIFICATION_ATTEMPTS, all_time(setup)).await;
    let new_row = rows
        .iter()
        .find(|row| cell(row, &VERIFICATION_ATTEMPTS, "attempt_id") == new.attempt_id)
        .unwrap();
    assert_eq!(cell(new_row, &VERIFICATION_ATTEMPTS, "pii_key_id"), "k2");
    // A keyring that dropped k1 names the missing key.
    let error = Pii::open(
        &Keyring::parse(&Keyring::generate("k9")).unwrap(),
        &old,
        &old_attempt,
    )
    .unwrap_err();
    assert!(
        matches!(error, KeyringError::UnknownKey(ref id) if id == "k1"),
        "{error:?}"
    );
}

fn product(id: &str, coa: bool, thc: Option<i64>, available: bool) -> CatalogItem {
    CatalogItem {
        product_id: id.to_owned(),
        source: Source::Square,
        name: format!("Product {id}"),
        description: String::new(),
        sku: id.to_uppercase(),
        category: "Flower".to_owned(),
        price_cents: 2_000,
        currency: "USD".to_owned(),
        available,
        updated_at: Utc::now(),
        has_certificate_of_analysis: coa,
        delta9_thc_basis_points: thc,
        quantity_on_hand: None,
    }
}

fn sale(id: &str, customer: &str, at: DateTime<Utc>) -> Payment {
    Payment {
        payment_id: id.to_owned(),
        source: Source::Square,
        location_id: "main".to_owned(),
        customer_id: Some(customer.to_owned()),
        order_id: None,
        amount_cents: 4_200,
        currency: "USD".to_owned(),
        status: SaleStatus::Completed,
        created_at: at,
        updated_at: at,
        business_date: at.with_timezone(&chrono_tz::America::Chicago).date_naive(),
        card_brand: None,
    }
}

async fn metrics_measure_the_catalog_and_coverage(setup: &Setup) {
    let c = &setup.compliance;
    let start = chicago(2026, 6, 1, 0, 0);
    // Four products for sale: 3 with a COA; potency 25, 30, 45 basis points and one
    // unknown. One more is not for sale and does not count.
    setup
        .warehouse
        .upsert_catalog_items(&[
            product("p1", true, Some(25), true),
            product("p2", true, Some(30), true),
            product("p3", true, Some(45), true),
            product("p4", false, None, true),
            product("p5", false, Some(90), false),
        ])
        .await
        .unwrap();
    // Two customers buy in the window; one is verified.
    setup
        .warehouse
        .insert_payments(&[
            sale("s1", "cust-1", start + Duration::hours(10)),
            sale("s2", "cust-2", start + Duration::hours(11)),
            sale("s3", "cust-2", start + Duration::hours(12)),
        ])
        .await
        .unwrap();
    setup.set_clock(start + Duration::hours(9));
    let verified = c
        .verify_age(&request("cust-1", (1990, 1, 1)), &staff())
        .await
        .unwrap();
    assert_eq!(verified.reason, Reason::Verified);

    let m = c
        .metrics(Some(start), Some(start + Duration::days(1)))
        .await
        .unwrap();
    let p = m.products;
    assert_eq!(
        (
            p.total,
            p.with_certificate_of_analysis,
            p.with_known_potency,
            p.within_thc_limit,
            p.exceeding_thc_limit
        ),
        (4, 3, 3, 2, 1)
    );
    assert!((m.coa_share - 0.75).abs() < 1e-12);
    assert!((m.within_thc_limit_share - 0.5).abs() < 1e-12);
    assert_eq!(
        (
            m.coverage.customers_transacting,
            m.coverage.customers_transacting_verified
        ),
        (2, 1)
    );
    // round_half_up(100 × (0.4 × 0.75 + 0.4 × 0.5 + 0.2 × 0.5)) = 60.
    assert_eq!(m.readiness.score, 60);
    let error = c.metrics(Some(start), None).await.unwrap_err();
    assert_eq!(fields(error), ["end_time"]);
}

fn event(id: &str, at: DateTime<Utc>, principal: &str) -> AuditEvent {
    AuditEvent {
        event_id: id.to_owned(),
        occurred_at: at,
        event_type: "authz".to_owned(),
        severity: "warning".to_owned(),
        principal: principal.to_owned(),
        role: "staff".to_owned(),
        method: "/vibe.integration.v1.ComplianceService/ListAuditEvents".to_owned(),
        result: "denied".to_owned(),
        status_code: 7,
        request_id: format!("req-{id}"),
        client_ip: "10.0.0.1".to_owned(),
        user_agent: "test".to_owned(),
        service: "gateway".to_owned(),
        details: Default::default(),
        resource: String::new(),
        action: String::new(),
    }
}

async fn the_audit_trail_pages_and_deduplicates(setup: &Setup) {
    let c = &setup.compliance;
    let t = chicago(2026, 6, 2, 8, 0);
    // Sent with nanoseconds, stored with microseconds: a retry is still recognised.
    let mut fine = event(
        "e-nanos",
        t - Duration::hours(1) + Duration::nanoseconds(1_500_250),
        "ana",
    );
    let once = c.record_audit_events(vec![fine.clone()]).await.unwrap();
    fine.details.insert("retry".to_owned(), "1".to_owned());
    let again = c.record_audit_events(vec![fine]).await.unwrap();
    assert_eq!((once.accepted, again.accepted, again.duplicates), (1, 0, 1));
    let events: Vec<AuditEvent> = (0..7)
        .map(|i| {
            event(
                &format!("e{i}"),
                t + Duration::seconds(i),
                if i % 2 == 0 { "ana" } else { "bo" },
            )
        })
        .collect();
    let first = c.record_audit_events(events[..4].to_vec()).await.unwrap();
    assert_eq!((first.accepted, first.duplicates), (4, 0));
    // A retry of the whole batch plus the rest: only the new ones are appended.
    let second = c.record_audit_events(events.clone()).await.unwrap();
    assert_eq!((second.accepted, second.duplicates), (3, 4));

    let query = AuditQuery {
        start: Some(t),
        end: Some(t + Duration::minutes(1)),
        page_size: 3,
        ..AuditQuery::default()
    };
    let mut seen = Vec::new();
    let mut token = String::new();
    for _ in 0..10 {
        let page = c
            .list_audit_events(&AuditQuery {
                page_token: token.clone(),
                ..query.clone()
            })
            .await
            .unwrap();
        assert!(page.events.len() <= 3);
        seen.extend(page.events.into_iter().map(|e| e.event_id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, ["e6", "e5", "e4", "e3", "e2", "e1", "e0"]);
    let ana = c
        .list_audit_events(&AuditQuery {
            principal: "ana".to_owned(),
            ..query.clone()
        })
        .await
        .unwrap();
    let ids: Vec<&str> = ana.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["e6", "e4", "e2"]);
    // A token from other filters is refused; so is a missing range.
    let page = c.list_audit_events(&query).await.unwrap();
    let other_filter = AuditQuery {
        principal: "ana".to_owned(),
        page_token: page.next_page_token,
        ..query.clone()
    };
    assert_eq!(
        fields(c.list_audit_events(&other_filter).await.unwrap_err()),
        ["page_token"]
    );
    let no_range = AuditQuery {
        start: None,
        ..query.clone()
    };
    assert_eq!(
        fields(c.list_audit_events(&no_range).await.unwrap_err()),
        ["start_time"]
    );
}
