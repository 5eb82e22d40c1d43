//! The conformance suite every backend passes. Each check takes a fresh, empty warehouse,
//! writes its own rows and compares every answer with a value computed here, in Rust,
//! from those rows (never through SQL). Checks panic with a message on a mismatch.
//!
//! A backend's `tests/it/conformance.rs` generates one test per check with
//! [`conformance_tests!`](crate::conformance_tests), given an async setup function
//! `async fn(test: &str) -> Option<Fixture>` (`None` skips the test).

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

use crate::{
    AuditEvent, CatalogItem, DailySales, LineItem, LineItemTotals, MonthlySales, Order, Payment,
    ProductFilter, ProductPage, SaleStatus, SalesTotals, Source, TimeRange, TopProduct,
    TopProductsOrder, Warehouse,
};

/// A warehouse under test and whatever must live as long as it (a temp dir, a dataset).
pub struct Fixture {
    warehouse: Box<dyn Warehouse>,
    _guard: Box<dyn Any + Send>,
}

impl Fixture {
    pub fn new(warehouse: impl Warehouse, guard: impl Any + Send) -> Self {
        Self {
            warehouse: Box::new(warehouse),
            _guard: Box::new(guard),
        }
    }

    pub fn warehouse(&self) -> &dyn Warehouse {
        &*self.warehouse
    }
}

/// Generates one `#[tokio::test]` per check, each on a fresh fixture from `$setup`.
/// The calling crate needs `tokio` (macros, rt-multi-thread) as a dev-dependency.
#[macro_export]
macro_rules! conformance_tests {
    ($setup:path) => {
        $crate::conformance_tests!(@each $setup;
            migrate_is_idempotent,
            inserts_round_trip,
            large_batches,
            sales_totals_over_ranges,
            recent_payments_newest_first,
            daily_and_monthly_sales,
            top_products_by_revenue_and_units,
            list_products_pages_and_filters,
            product_categories_sorted,
            upsert_replaces_catalog_items,
            count_and_delete_sales_rows,
            audit_events_round_trip,
            audit_pages_filter_and_find_ids,
            age_verification_reads,
            attempt_stats_count_every_outcome,
            product_compliance_counts,
            verification_coverage_counts,
        );
    };
    (@each $setup:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some(fixture) = $setup(stringify!($check)).await else {
                    return;
                };
                $crate::conformance::$check(fixture.warehouse()).await;
            }
        )*
    };
}

mod compliance;
pub use compliance::*;

// ---- helpers ------------------------------------------------------------------------

fn ok<T, E: Debug>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("{what}: {error:?}"),
    }
}

/// 2026-01-15T00:00:00Z, the suite's reference instant.
fn base() -> DateTime<Utc> {
    at(2026, 1, 15, 0, 0, 0)
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    match Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single() {
        Some(instant) => instant,
        None => panic!("bad test instant {y}-{mo}-{d} {h}:{mi}:{s}"),
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(date) => date,
        None => panic!("bad test date {y}-{m}-{d}"),
    }
}

fn range(start: DateTime<Utc>, end: DateTime<Utc>) -> TimeRange {
    TimeRange { start, end }
}

fn within(instant: DateTime<Utc>, range: TimeRange) -> bool {
    instant >= range.start && instant < range.end
}

/// A small deterministic generator, so the suite needs no randomness crate.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound.max(1)
    }
}

const STATUSES: [SaleStatus; 5] = [
    SaleStatus::Completed,
    SaleStatus::Pending,
    SaleStatus::Approved,
    SaleStatus::Cancelled,
    SaleStatus::Failed,
];

fn payment(id: &str, created_at: DateTime<Utc>, amount_cents: i64) -> Payment {
    Payment {
        payment_id: id.to_owned(),
        source: Source::Square,
        location_id: "loc-austin".to_owned(),
        customer_id: Some(format!("cust-{id}")),
        order_id: None,
        amount_cents,
        currency: "USD".to_owned(),
        status: SaleStatus::Completed,
        created_at,
        updated_at: created_at + Duration::seconds(5),
        business_date: created_at.date_naive(),
        card_brand: None,
    }
}

/// Payments spread over three days from `base()`, every status, repeated and anonymous
/// customers, sub-second times.
fn payments(count: u64, seed: u64) -> Vec<Payment> {
    let mut rng = Lcg(seed);
    (0..count)
        .map(|i| {
            let created_at = base()
                + Duration::seconds(i64::try_from(rng.next(3 * 86_400)).unwrap_or(0))
                + Duration::microseconds(i64::try_from(rng.next(1_000_000)).unwrap_or(0));
            let mut row = payment(
                &format!("pay-{seed}-{i:05}"),
                created_at,
                i64::try_from(100 + rng.next(20_000)).unwrap_or(100),
            );
            // Six in ten completed, the rest spread over the other statuses.
            let roll = usize::try_from(rng.next(10)).unwrap_or(0);
            row.status = STATUSES[roll.saturating_sub(5)];
            row.customer_id = match rng.next(5) {
                0 => None,
                _ => Some(format!("cust-{}", rng.next(17))),
            };
            row.order_id = (i % 2 == 0).then(|| format!("ord-{seed}-{i}"));
            row.card_brand = (i % 3 == 0).then(|| "VISA".to_owned());
            row
        })
        .collect()
}

fn completed_in(payments: &[Payment], range: TimeRange) -> impl Iterator<Item = &Payment> {
    payments
        .iter()
        .filter(move |p| p.status == SaleStatus::Completed && within(p.created_at, range))
}

fn totals<'a>(payments: impl Iterator<Item = &'a Payment>) -> SalesTotals {
    let mut customers = BTreeSet::new();
    let mut totals = SalesTotals::default();
    for p in payments {
        totals.revenue_cents += p.amount_cents;
        totals.transactions += 1;
        if let Some(customer) = &p.customer_id {
            customers.insert(customer.clone());
        }
    }
    totals.distinct_customers = i64::try_from(customers.len()).unwrap_or(i64::MAX);
    totals
}

fn order(id: &str, source: Source, created_at: DateTime<Utc>, status: SaleStatus) -> Order {
    Order {
        order_id: id.to_owned(),
        source,
        location_id: "loc-austin".to_owned(),
        customer_id: None,
        total_cents: 1_000,
        currency: "USD".to_owned(),
        status,
        created_at,
        business_date: created_at.date_naive(),
    }
}

struct Line<'a> {
    order_id: &'a str,
    line_number: i64,
    product_id: &'a str,
    name: &'a str,
    quantity: i64,
    gross_cents: i64,
    status: SaleStatus,
    created_at: DateTime<Utc>,
}

fn line(l: Line<'_>) -> LineItem {
    LineItem {
        order_id: l.order_id.to_owned(),
        line_number: l.line_number,
        product_id: l.product_id.to_owned(),
        product_name: l.name.to_owned(),
        category: format!("cat of {}", l.name),
        quantity: l.quantity,
        unit_price_cents: l.gross_cents / l.quantity.max(1),
        gross_cents: l.gross_cents,
        currency: "USD".to_owned(),
        order_status: l.status,
        created_at: l.created_at,
        business_date: l.created_at.date_naive(),
    }
}

fn item(id: &str, name: &str, category: &str, available: bool) -> CatalogItem {
    CatalogItem {
        product_id: id.to_owned(),
        source: Source::Square,
        name: name.to_owned(),
        description: format!("{name}, lab tested"),
        sku: format!("SKU-{}", id.to_uppercase()),
        category: category.to_owned(),
        price_cents: 2_500,
        currency: "USD".to_owned(),
        available,
        updated_at: base(),
        has_certificate_of_analysis: true,
        delta9_thc_basis_points: Some(28),
        quantity_on_hand: None,
    }
}

fn audit(id: &str, occurred_at: DateTime<Utc>) -> AuditEvent {
    AuditEvent {
        event_id: id.to_owned(),
        occurred_at,
        event_type: "admin".to_owned(),
        severity: "warning".to_owned(),
        principal: "staff-7".to_owned(),
        role: "manager".to_owned(),
        method: "/vibe.integration.v1.DashboardService/InvalidateCache".to_owned(),
        result: "succeeded".to_owned(),
        status_code: 0,
        request_id: format!("req-{id}"),
        client_ip: "10.0.0.7".to_owned(),
        user_agent: "cockpit/1.0".to_owned(),
        service: "integration".to_owned(),
        resource: format!("cache/{id}"),
        action: "invalidate_cache".to_owned(),
        details: BTreeMap::from([
            ("keys".to_owned(), "dashboard:*".to_owned()),
            (
                "note".to_owned(),
                "quote \" and\nnewline, ünïcode".to_owned(),
            ),
        ]),
    }
}

async fn migrated(warehouse: &dyn Warehouse) {
    ok(warehouse.migrate().await, "migrate");
}

/// Every catalog page for `filter`, following cursors.
async fn all_pages(
    warehouse: &dyn Warehouse,
    filter: &ProductFilter,
    limit: u32,
) -> (Vec<CatalogItem>, Vec<ProductPage>) {
    let mut items = Vec::new();
    let mut pages: Vec<ProductPage> = Vec::new();
    for _ in 0..1_000 {
        let after = pages.last().and_then(|page| page.next.clone());
        if !pages.is_empty() && after.is_none() {
            return (items, pages);
        }
        let page = ok(
            warehouse.list_products(filter, after.as_ref(), limit).await,
            "list_products",
        );
        assert!(
            page.items.len() <= usize::try_from(limit).unwrap_or(usize::MAX),
            "page longer than its limit"
        );
        items.extend(page.items.iter().cloned());
        pages.push(page);
    }
    panic!("list_products never ended for {filter:?}");
}

fn expected_products(catalog: &[CatalogItem], filter: &ProductFilter) -> Vec<CatalogItem> {
    let mut items: Vec<CatalogItem> = catalog
        .iter()
        .filter(|item| {
            filter.text.as_ref().is_none_or(|text| {
                let text = text.to_lowercase();
                [&item.name, &item.sku, &item.description]
                    .iter()
                    .any(|field| field.to_lowercase().contains(&text))
            }) && filter.category.as_ref().is_none_or(|c| &item.category == c)
                && filter.available.is_none_or(|a| item.available == a)
        })
        .cloned()
        .collect();
    items.sort_by(|a, b| (&a.name, &a.product_id).cmp(&(&b.name, &b.product_id)));
    items
}

// ---- checks -------------------------------------------------------------------------

/// `migrate` twice on an empty warehouse, then every read answers with nothing.
pub async fn migrate_is_idempotent(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    migrated(warehouse).await;
    ok(warehouse.ping().await, "ping");
    let day = range(base(), base() + Duration::days(1));
    assert_eq!(
        ok(warehouse.count_sales_rows(Source::Demo, day).await, "count"),
        [0, 0, 0]
    );
    assert_eq!(
        ok(warehouse.sales_totals(&[day]).await, "sales_totals"),
        vec![SalesTotals::default()]
    );
    assert!(ok(warehouse.product_categories().await, "categories").is_empty());
    assert!(ok(warehouse.audit_events(day, 10).await, "audit").is_empty());
    // A third run after rows exist changes nothing either.
    ok(
        warehouse
            .insert_payments(&[payment("p-1", base(), 100)])
            .await,
        "insert",
    );
    migrated(warehouse).await;
    assert_eq!(
        ok(
            warehouse.count_sales_rows(Source::Square, day).await,
            "count"
        ),
        [1, 0, 0]
    );
}

/// Each row type goes in and comes back field for field (nulls, sub-second times, JSON).
pub async fn inserts_round_trip(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let created = base() + Duration::hours(15) + Duration::microseconds(123_456);
    let full = Payment {
        payment_id: "pay-full".to_owned(),
        source: Source::Lightspeed,
        location_id: "loc-dallas".to_owned(),
        customer_id: Some("cust-1".to_owned()),
        order_id: Some("ord-1".to_owned()),
        amount_cents: 4_299,
        currency: "USD".to_owned(),
        status: SaleStatus::Approved,
        created_at: created,
        updated_at: created + Duration::microseconds(1),
        // Deliberately not the UTC date: the warehouse stores what it is given.
        business_date: date(2026, 1, 14),
        card_brand: Some("AMEX".to_owned()),
    };
    let bare = Payment {
        customer_id: None,
        order_id: None,
        card_brand: None,
        ..payment("pay-bare", created - Duration::seconds(1), 1)
    };
    ok(
        warehouse
            .insert_payments(&[full.clone(), bare.clone()])
            .await,
        "insert_payments",
    );
    ok(warehouse.insert_payments(&[]).await, "insert no payments");
    let day = range(base(), base() + Duration::days(1));
    assert_eq!(
        ok(warehouse.recent_payments(day, 10).await, "recent_payments"),
        vec![full, bare]
    );

    let orders = [
        order("ord-1", Source::Lightspeed, created, SaleStatus::Completed),
        order("ord-2", Source::Lightspeed, created, SaleStatus::Pending),
    ];
    ok(warehouse.insert_orders(&orders).await, "insert_orders");
    let lines = [
        line(Line {
            order_id: "ord-1",
            line_number: 1,
            product_id: "prod-a",
            name: "Gummies",
            quantity: 2,
            gross_cents: 3_000,
            status: SaleStatus::Completed,
            created_at: created,
        }),
        line(Line {
            order_id: "ord-1",
            line_number: 2,
            product_id: "prod-b",
            name: "Tincture",
            quantity: 1,
            gross_cents: 1_299,
            status: SaleStatus::Completed,
            created_at: created,
        }),
        line(Line {
            order_id: "ord-2",
            line_number: 1,
            product_id: "prod-a",
            name: "Gummies",
            quantity: 9,
            gross_cents: 9_000,
            status: SaleStatus::Pending,
            created_at: created,
        }),
    ];
    ok(
        warehouse.insert_line_items(&lines).await,
        "insert_line_items",
    );
    assert_eq!(
        ok(
            warehouse.count_sales_rows(Source::Lightspeed, day).await,
            "count"
        ),
        [1, 2, 3]
    );
    assert_eq!(
        ok(
            warehouse
                .top_products(day, TopProductsOrder::Revenue, 10)
                .await,
            "top_products"
        ),
        vec![
            TopProduct {
                product_id: "prod-a".to_owned(),
                name: "Gummies".to_owned(),
                category: "cat of Gummies".to_owned(),
                units: 2,
                revenue_cents: 3_000,
            },
            TopProduct {
                product_id: "prod-b".to_owned(),
                name: "Tincture".to_owned(),
                category: "cat of Tincture".to_owned(),
                units: 1,
                revenue_cents: 1_299,
            },
        ]
    );

    let mut with_nulls = item("prod-a", "Gummies", "Edibles", false);
    with_nulls.delta9_thc_basis_points = None;
    with_nulls.quantity_on_hand = None;
    with_nulls.updated_at = created;
    let mut full_item = item("prod-b", "Tincture", "Tinctures", true);
    full_item.quantity_on_hand = Some(12);
    full_item.has_certificate_of_analysis = false;
    ok(
        warehouse
            .upsert_catalog_items(&[with_nulls.clone(), full_item.clone()])
            .await,
        "upsert_catalog_items",
    );
    let page = ok(
        warehouse
            .list_products(&ProductFilter::default(), None, 10)
            .await,
        "list_products",
    );
    assert_eq!(
        page,
        ProductPage {
            items: vec![with_nulls, full_item],
            next: None,
            total: 2,
        }
    );

    let event = audit("evt-1", created);
    ok(
        warehouse
            .insert_audit_events(std::slice::from_ref(&event))
            .await,
        "insert_audit_events",
    );
    assert_eq!(
        ok(warehouse.audit_events(day, 10).await, "audit_events"),
        vec![event]
    );
}

/// More rows than one request or batch of a backend holds.
pub async fn large_batches(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let rows = payments(1_234, 7);
    ok(warehouse.insert_payments(&rows).await, "insert_payments");
    let all = range(base(), base() + Duration::days(3));
    assert_eq!(
        ok(
            warehouse.count_sales_rows(Source::Square, all).await,
            "count"
        ),
        [1_234, 0, 0]
    );
    assert_eq!(
        ok(warehouse.sales_totals(&[all]).await, "sales_totals"),
        vec![totals(completed_in(&rows, all))]
    );
}

/// Several ranges in one call: half-open boundaries, only completed payments, distinct
/// non-null customers, empty and data-less ranges.
pub async fn sales_totals_over_ranges(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let mut rows = payments(300, 11);
    let day1 = base() + Duration::days(1);
    // Exactly on a boundary: in the second day, not the first.
    rows.push(payment("pay-edge-start", day1, 7_000));
    // A microsecond before it: in the first day.
    rows.push(payment(
        "pay-edge-end",
        day1 - Duration::microseconds(1),
        3_000,
    ));
    // Not completed, on the boundary: never counted.
    rows.push(Payment {
        status: SaleStatus::Approved,
        ..payment("pay-edge-approved", day1, 999_999)
    });
    // Same customer twice in one range: one customer.
    rows.push(Payment {
        customer_id: Some("cust-twice".to_owned()),
        ..payment("pay-twice-1", base() + Duration::minutes(1), 10)
    });
    rows.push(Payment {
        customer_id: Some("cust-twice".to_owned()),
        ..payment("pay-twice-2", base() + Duration::minutes(2), 20)
    });
    // Outside every range but the widest.
    rows.push(payment("pay-before", base() - Duration::days(20), 5));
    ok(warehouse.insert_payments(&rows).await, "insert_payments");

    let ranges = [
        range(base(), day1),
        range(day1, base() + Duration::days(2)),
        range(base() + Duration::hours(6), base() + Duration::hours(30)),
        range(base() + Duration::days(2), base() + Duration::days(2)),
        range(base() - Duration::days(10), base() - Duration::days(9)),
        range(base() - Duration::days(30), base() + Duration::days(3)),
        range(
            day1 - Duration::microseconds(1),
            day1 + Duration::microseconds(1),
        ),
    ];
    let expected: Vec<SalesTotals> = ranges
        .iter()
        .map(|r| totals(completed_in(&rows, *r)))
        .collect();
    assert_eq!(
        ok(warehouse.sales_totals(&ranges).await, "sales_totals"),
        expected
    );
    // The boundary range holds exactly the two edge payments.
    assert_eq!(
        expected[6],
        SalesTotals {
            revenue_cents: 10_000,
            transactions: 2,
            distinct_customers: 2
        }
    );
    // Ranges are answered in the order asked, one at a time too.
    for (r, want) in ranges.iter().zip(&expected).rev() {
        assert_eq!(
            ok(warehouse.sales_totals(&[*r]).await, "sales_totals"),
            vec![*want]
        );
    }
    assert!(ok(warehouse.sales_totals(&[]).await, "no ranges").is_empty());
}

/// Newest first across statuses, ties by payment id descending, bounded by range and limit.
pub async fn recent_payments_newest_first(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let mut rows = payments(120, 23);
    let tie = base() + Duration::hours(40);
    for id in ["pay-tie-a", "pay-tie-c", "pay-tie-b"] {
        rows.push(Payment {
            status: SaleStatus::Failed,
            ..payment(id, tie, 1)
        });
    }
    let end = base() + Duration::hours(50);
    rows.push(payment("pay-at-end", end, 1));
    ok(warehouse.insert_payments(&rows).await, "insert_payments");

    let window = range(base() + Duration::hours(10), end);
    let mut expected: Vec<Payment> = rows
        .iter()
        .filter(|p| within(p.created_at, window))
        .cloned()
        .collect();
    expected.sort_by(|a, b| (b.created_at, &b.payment_id).cmp(&(a.created_at, &a.payment_id)));
    for limit in [1_u32, 7, 25, 1_000] {
        let want: Vec<Payment> = expected
            .iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        assert_eq!(
            ok(
                warehouse.recent_payments(window, limit).await,
                "recent_payments"
            ),
            want,
            "limit {limit}"
        );
    }
    let empty = range(base() - Duration::days(5), base() - Duration::days(4));
    assert!(
        ok(
            warehouse.recent_payments(empty, 10).await,
            "recent_payments"
        )
        .is_empty()
    );
}

/// Grouped by the stored business date (not the UTC date), oldest first; months of the
/// business date; ranges filter on the UTC creation time.
pub async fn daily_and_monthly_sales(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let p = |id: &str, created_at: DateTime<Utc>, business_date: NaiveDate, amount: i64| Payment {
        business_date,
        customer_id: Some(format!("cust-{}", amount % 3)),
        ..payment(id, created_at, amount)
    };
    let rows = vec![
        // Evening in Texas, already the next day in UTC.
        p("d-1", at(2026, 1, 31, 5, 30, 0), date(2026, 1, 30), 1_000),
        // Last evening of January in Texas, February in UTC: counts in January.
        p("d-2", at(2026, 2, 1, 3, 0, 0), date(2026, 1, 31), 2_000),
        p("d-3", at(2026, 2, 1, 7, 0, 0), date(2026, 2, 1), 4_000),
        p("d-4", at(2026, 2, 1, 8, 0, 0), date(2026, 2, 1), 8_001),
        Payment {
            customer_id: None,
            ..p("d-5", at(2026, 2, 1, 9, 0, 0), date(2026, 2, 1), 16_000)
        },
        Payment {
            status: SaleStatus::Cancelled,
            ..p("d-6", at(2026, 2, 1, 10, 0, 0), date(2026, 2, 1), 32_000)
        },
        // New Year's Eve in Texas, New Year in UTC: December 2025.
        p("d-7", at(2026, 1, 1, 4, 0, 0), date(2025, 12, 31), 64_000),
        p(
            "d-8",
            at(2025, 12, 10, 18, 0, 0),
            date(2025, 12, 10),
            128_000,
        ),
        // April, after a month without sales.
        p("d-9", at(2026, 4, 2, 18, 0, 0), date(2026, 4, 2), 256_000),
        // Created before the daily range starts, with a business date inside it.
        p(
            "d-10",
            at(2026, 1, 30, 23, 59, 59),
            date(2026, 1, 31),
            512_000,
        ),
    ];
    ok(warehouse.insert_payments(&rows).await, "insert_payments");

    let daily_range = range(at(2026, 1, 31, 0, 0, 0), at(2026, 2, 2, 0, 0, 0));
    let mut by_date: BTreeMap<NaiveDate, Vec<&Payment>> = BTreeMap::new();
    for row in completed_in(&rows, daily_range) {
        by_date.entry(row.business_date).or_default().push(row);
    }
    let expected: Vec<DailySales> = by_date
        .into_iter()
        .map(|(date, rows)| DailySales {
            date,
            totals: totals(rows.into_iter()),
        })
        .collect();
    assert_eq!(
        expected.iter().map(|d| d.date).collect::<Vec<_>>(),
        vec![date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1)],
        "the test data covers the day boundary"
    );
    assert_eq!(
        ok(warehouse.daily_sales(daily_range).await, "daily_sales"),
        expected
    );

    let monthly_range = range(at(2025, 12, 1, 0, 0, 0), at(2026, 5, 1, 0, 0, 0));
    let mut by_month: BTreeMap<(i32, u32), Vec<&Payment>> = BTreeMap::new();
    for row in completed_in(&rows, monthly_range) {
        by_month
            .entry((row.business_date.year(), row.business_date.month()))
            .or_default()
            .push(row);
    }
    let expected: Vec<MonthlySales> = by_month
        .into_iter()
        .map(|((year, month), rows)| MonthlySales {
            year,
            month,
            totals: totals(rows.into_iter()),
        })
        .collect();
    assert_eq!(
        expected
            .iter()
            .map(|m| (m.year, m.month))
            .collect::<Vec<_>>(),
        [(2025, 12), (2026, 1), (2026, 2), (2026, 4)],
        "the test data covers the month and year boundaries and a gap"
    );
    assert_eq!(
        ok(
            warehouse.monthly_sales(monthly_range).await,
            "monthly_sales"
        ),
        expected
    );
    let nothing = range(at(2024, 1, 1, 0, 0, 0), at(2024, 2, 1, 0, 0, 0));
    assert!(ok(warehouse.daily_sales(nothing).await, "daily_sales").is_empty());
    assert!(ok(warehouse.monthly_sales(nothing).await, "monthly_sales").is_empty());
}

/// (order, line, product, name, quantity, gross cents, status, hours after `base()`).
type LineSpec = (
    &'static str,
    i64,
    &'static str,
    &'static str,
    i64,
    i64,
    SaleStatus,
    i64,
);

/// Completed line items in range, ranked by revenue or units with the documented
/// tie-breaks; name and category from the most recent line; and their totals.
pub async fn top_products_by_revenue_and_units(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let t = |hours: i64| base() + Duration::hours(hours);
    let done = SaleStatus::Completed;
    let spec: &[LineSpec] = &[
        ("o-1", 1, "p-alpha", "Alpha Old", 10, 1_000, done, 1),
        ("o-2", 1, "p-alpha", "Alpha New", 5, 500, done, 5),
        ("o-2", 2, "p-bravo", "Bravo", 5, 1_500, done, 5),
        ("o-3", 1, "p-charlie", "Charlie", 15, 500, done, 6),
        ("o-3", 2, "p-delta", "Delta", 15, 1_500, done, 6),
        (
            "o-4",
            1,
            "p-charlie",
            "Charlie",
            100,
            99_000,
            SaleStatus::Pending,
            7,
        ),
        ("o-5", 1, "p-echo", "Echo", 1, 10, done, 8),
        // Same instant, same product: the higher order id, then line, names it.
        ("o-6", 1, "p-echo", "Echo Six", 1, 10, done, 9),
        ("o-7", 1, "p-echo", "Echo Seven A", 1, 10, done, 9),
        ("o-7", 2, "p-echo", "Echo Seven B", 1, 10, done, 9),
        // Outside the range (before, at the end): ignored.
        ("o-8", 1, "p-alpha", "Alpha Ancient", 1_000, 1, done, -1),
        ("o-9", 1, "p-foxtrot", "Foxtrot", 1_000, 1_000_000, done, 24),
    ];
    let lines: Vec<LineItem> = spec
        .iter()
        .map(
            |&(order_id, line_number, product_id, name, quantity, gross_cents, status, hour)| {
                line(Line {
                    order_id,
                    line_number,
                    product_id,
                    name,
                    quantity,
                    gross_cents,
                    status,
                    created_at: t(hour),
                })
            },
        )
        .collect();
    ok(
        warehouse.insert_line_items(&lines).await,
        "insert_line_items",
    );

    let window = range(base(), t(24));
    let mut products: BTreeMap<&str, (i64, i64, &LineItem)> = BTreeMap::new();
    for l in lines
        .iter()
        .filter(|l| l.order_status == SaleStatus::Completed && within(l.created_at, window))
    {
        let entry = products.entry(&l.product_id).or_insert((0, 0, l));
        entry.0 += l.quantity;
        entry.1 += l.gross_cents;
        if (l.created_at, &l.order_id, l.line_number)
            > (entry.2.created_at, &entry.2.order_id, entry.2.line_number)
        {
            entry.2 = l;
        }
    }
    let ranked = |order: TopProductsOrder| -> Vec<TopProduct> {
        let mut list: Vec<TopProduct> = products
            .iter()
            .map(|(id, (units, revenue, latest))| TopProduct {
                product_id: (*id).to_owned(),
                name: latest.product_name.clone(),
                category: latest.category.clone(),
                units: *units,
                revenue_cents: *revenue,
            })
            .collect();
        list.sort_by(|a, b| match order {
            TopProductsOrder::Revenue => (b.revenue_cents, b.units, &a.product_id).cmp(&(
                a.revenue_cents,
                a.units,
                &b.product_id,
            )),
            TopProductsOrder::Units => (b.units, b.revenue_cents, &a.product_id).cmp(&(
                a.units,
                a.revenue_cents,
                &b.product_id,
            )),
        });
        list
    };
    let by_revenue = ranked(TopProductsOrder::Revenue);
    // The data really has the ties the ranking must break.
    assert_eq!(
        by_revenue
            .iter()
            .map(|p| p.product_id.as_str())
            .collect::<Vec<_>>(),
        ["p-alpha", "p-delta", "p-bravo", "p-charlie", "p-echo"]
    );
    assert_eq!(by_revenue[0].name, "Alpha New");
    assert_eq!(by_revenue[4].name, "Echo Seven B");
    // The whole the ranking is a share of: every completed line in range.
    let whole = products
        .values()
        .fold(LineItemTotals::default(), |sum, (units, revenue, _)| {
            LineItemTotals {
                revenue_cents: sum.revenue_cents + revenue,
                units: sum.units + units,
            }
        });
    assert_eq!(
        ok(warehouse.line_item_totals(window).await, "line_item_totals"),
        whole
    );
    let empty = range(base() - Duration::days(9), base() - Duration::days(8));
    assert_eq!(
        ok(warehouse.line_item_totals(empty).await, "line_item_totals"),
        LineItemTotals::default()
    );
    for order in [TopProductsOrder::Revenue, TopProductsOrder::Units] {
        let expected = ranked(order);
        for limit in [1_u32, 3, 10] {
            let want: Vec<TopProduct> = expected
                .iter()
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .cloned()
                .collect();
            assert_eq!(
                ok(
                    warehouse.top_products(window, order, limit).await,
                    "top_products"
                ),
                want,
                "{order:?} limit {limit}"
            );
        }
    }
}

fn catalog() -> Vec<CatalogItem> {
    let mut items = vec![
        item("p-01", "Blue Dream Flower", "Flower", true),
        item("p-02", "blue dream pre-roll", "Pre-Rolls", true),
        item("p-03", "OG Kush", "Flower", false),
        item("p-04", "OG Kush", "Flower", true),
        item("p-05", "Mango Gummies", "Edibles", true),
        item("p-06", "Sour Gummies", "Edibles", false),
        item("p-07", "Calm Tincture", "Tinctures", true),
        item("p-08", "Sleep Tincture", "Tinctures", true),
        item("p-09", "Vape Cart Mango", "Vapes", true),
        item("p-10", "Disposable Vape", "Vapes", false),
        item("p-11", "Pet Drops", "Tinctures", true),
        item("p-00", "OG Kush", "Flower", true),
    ];
    // Matches only through the description or the SKU.
    items[6].description = "Chamomile and CBD, for the evening".to_owned();
    items[10].sku = "DOG-DROPS-MANGO".to_owned();
    items
}

/// Cursor paging over every filter combination; totals count the whole match.
pub async fn list_products_pages_and_filters(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let catalog = catalog();
    ok(warehouse.upsert_catalog_items(&catalog).await, "upsert");
    let text = |t: &str| Some(t.to_owned());
    let filters = [
        ProductFilter::default(),
        ProductFilter {
            text: text("MANGO"),
            ..ProductFilter::default()
        },
        ProductFilter {
            text: text("chamomile"),
            ..ProductFilter::default()
        },
        ProductFilter {
            text: text("sku-p-0"),
            ..ProductFilter::default()
        },
        ProductFilter {
            text: text("dream"),
            category: text("Flower"),
            ..ProductFilter::default()
        },
        ProductFilter {
            category: text("Flower"),
            available: Some(true),
            ..ProductFilter::default()
        },
        ProductFilter {
            available: Some(false),
            ..ProductFilter::default()
        },
        ProductFilter {
            category: text("flower"),
            ..ProductFilter::default()
        },
        ProductFilter {
            text: text("%"),
            ..ProductFilter::default()
        },
        ProductFilter {
            text: text("nothing like this"),
            available: Some(true),
            ..ProductFilter::default()
        },
    ];
    for filter in &filters {
        let expected = expected_products(&catalog, filter);
        for limit in [1_u32, 3, 5, 100] {
            let (items, pages) = all_pages(warehouse, filter, limit).await;
            assert_eq!(items, expected, "{filter:?} limit {limit}");
            let total = i64::try_from(expected.len()).unwrap_or(i64::MAX);
            for page in &pages {
                assert_eq!(page.total, total, "{filter:?} limit {limit}: total");
            }
            let full_pages = expected
                .len()
                .div_ceil(usize::try_from(limit).unwrap_or(1))
                .max(1);
            assert_eq!(pages.len(), full_pages, "{filter:?} limit {limit}: pages");
        }
    }
    // A cursor between equal names continues by product id.
    let first = ok(
        warehouse
            .list_products(
                &ProductFilter {
                    text: text("og kush"),
                    ..ProductFilter::default()
                },
                None,
                2,
            )
            .await,
        "list_products",
    );
    let ids: Vec<&str> = first.items.iter().map(|i| i.product_id.as_str()).collect();
    assert_eq!(ids, ["p-00", "p-03"]);
    assert_eq!(first.total, 3);
    assert_eq!(
        first
            .next
            .as_ref()
            .map(|c| (c.name.as_str(), c.product_id.as_str())),
        Some(("OG Kush", "p-03"))
    );
}

/// Distinct categories, sorted.
pub async fn product_categories_sorted(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let catalog = catalog();
    ok(warehouse.upsert_catalog_items(&catalog).await, "upsert");
    let expected: Vec<String> = catalog
        .iter()
        .map(|i| i.category.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        ok(warehouse.product_categories().await, "product_categories"),
        expected
    );
}

/// An upsert replaces the whole row by product id; the last duplicate of a batch wins.
pub async fn upsert_replaces_catalog_items(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let a = item("p-a", "Alpha", "Flower", true);
    let b = item("p-b", "Bravo", "Edibles", true);
    ok(
        warehouse
            .upsert_catalog_items(&[a.clone(), b.clone()])
            .await,
        "upsert",
    );
    let a2 = CatalogItem {
        name: "Alpha Reformulated".to_owned(),
        description: "new".to_owned(),
        category: "Vapes".to_owned(),
        price_cents: 3_100,
        available: false,
        updated_at: base() + Duration::days(1),
        delta9_thc_basis_points: None,
        quantity_on_hand: Some(3),
        ..a.clone()
    };
    let c1 = item("p-c", "Charlie First", "Edibles", true);
    let c2 = item("p-c", "Charlie Second", "Edibles", false);
    ok(
        warehouse
            .upsert_catalog_items(&[a2.clone(), c1, c2.clone()])
            .await,
        "upsert",
    );
    ok(warehouse.upsert_catalog_items(&[]).await, "upsert nothing");
    let page = ok(
        warehouse
            .list_products(&ProductFilter::default(), None, 10)
            .await,
        "list_products",
    );
    assert_eq!(page.items, vec![a2, b, c2]);
    assert_eq!(page.total, 3);
    assert_eq!(
        ok(warehouse.product_categories().await, "categories"),
        ["Edibles", "Vapes"]
    );
}

/// Counting and deleting by source and range touch exactly the rows they name.
pub async fn count_and_delete_sales_rows(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let window = range(base(), base() + Duration::days(1));
    let inside = base() + Duration::hours(3);
    let before = base() - Duration::hours(1);
    let at_end = window.end;

    let mut payments = Vec::new();
    let mut orders = Vec::new();
    let mut lines = Vec::new();
    for (source, tag) in [(Source::Demo, "demo"), (Source::Square, "sq")] {
        for (when, label, n_lines) in [(inside, "in", 2), (before, "before", 1), (at_end, "end", 3)]
        {
            for k in 0..2 {
                let id = format!("{tag}-{label}-{k}");
                payments.push(Payment {
                    source,
                    order_id: Some(id.clone()),
                    ..payment(&id, when + Duration::minutes(k), 100)
                });
                orders.push(order(
                    &id,
                    source,
                    when + Duration::minutes(k),
                    SaleStatus::Completed,
                ));
                for n in 1..=n_lines {
                    lines.push(line(Line {
                        order_id: &id,
                        line_number: n,
                        product_id: "p-x",
                        name: "X",
                        quantity: 1,
                        gross_cents: 50,
                        status: SaleStatus::Completed,
                        created_at: when + Duration::minutes(k),
                    }));
                }
            }
        }
    }
    ok(warehouse.insert_orders(&orders).await, "insert_orders");
    ok(
        warehouse.insert_line_items(&lines).await,
        "insert_line_items",
    );
    ok(
        warehouse.insert_payments(&payments).await,
        "insert_payments",
    );
    let mut catalog = Vec::new();
    for (source, tag) in [(Source::Demo, "demo"), (Source::Square, "sq")] {
        for (when, label) in [(inside, "in"), (before, "before")] {
            catalog.push(CatalogItem {
                source,
                updated_at: when,
                ..item(
                    &format!("{tag}-{label}"),
                    &format!("{tag} {label}"),
                    "Flower",
                    true,
                )
            });
        }
    }
    ok(warehouse.upsert_catalog_items(&catalog).await, "upsert");

    let expect = |source: Source, r: TimeRange| -> [i64; 3] {
        let order_ids: BTreeSet<&str> = orders
            .iter()
            .filter(|o| o.source == source && within(o.created_at, r))
            .map(|o| o.order_id.as_str())
            .collect();
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        [
            count(
                payments
                    .iter()
                    .filter(|p| p.source == source && within(p.created_at, r))
                    .count(),
            ),
            count(order_ids.len()),
            count(
                lines
                    .iter()
                    .filter(|l| within(l.created_at, r) && order_ids.contains(l.order_id.as_str()))
                    .count(),
            ),
        ]
    };
    let wide = range(base() - Duration::days(1), base() + Duration::days(2));
    for source in [Source::Demo, Source::Square, Source::Lightspeed] {
        for r in [window, wide] {
            assert_eq!(
                ok(warehouse.count_sales_rows(source, r).await, "count"),
                expect(source, r),
                "{source:?} {r:?}"
            );
        }
    }
    assert_eq!(expect(Source::Demo, window), [2, 2, 4]);

    ok(
        warehouse.delete_sales_rows(Source::Demo, window).await,
        "delete_sales_rows",
    );
    assert_eq!(
        ok(
            warehouse.count_sales_rows(Source::Demo, window).await,
            "count"
        ),
        [0, 0, 0]
    );
    let [p, o, l] = expect(Source::Demo, wide);
    let [wp, wo, wl] = expect(Source::Demo, window);
    assert_eq!(
        ok(
            warehouse.count_sales_rows(Source::Demo, wide).await,
            "count"
        ),
        [p - wp, o - wo, l - wl]
    );
    for r in [window, wide] {
        assert_eq!(
            ok(warehouse.count_sales_rows(Source::Square, r).await, "count"),
            expect(Source::Square, r)
        );
    }
    let remaining: Vec<Payment> = payments
        .iter()
        .filter(|p| !(p.source == Source::Demo && within(p.created_at, window)))
        .cloned()
        .collect();
    assert_eq!(
        ok(warehouse.sales_totals(&[wide]).await, "sales_totals"),
        vec![totals(completed_in(&remaining, wide))]
    );
    let left: Vec<String> = ok(
        warehouse
            .list_products(&ProductFilter::default(), None, 10)
            .await,
        "list_products",
    )
    .items
    .into_iter()
    .map(|i| i.product_id)
    .collect();
    assert_eq!(left, ["demo-before", "sq-before", "sq-in"]);
}

/// Audit events come back whole, newest first, bounded by range and limit.
pub async fn audit_events_round_trip(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let mut events = Vec::new();
    for i in 0..30_i64 {
        let mut event = audit(&format!("evt-{i:02}"), base() + Duration::minutes(i * 7));
        event.status_code = i % 17;
        event.details.insert("i".to_owned(), i.to_string());
        events.push(event);
    }
    // Same instant: ordered by event id, descending.
    events.push(audit("evt-tie-a", base() + Duration::minutes(70)));
    events.push(audit("evt-tie-b", base() + Duration::minutes(70)));
    ok(
        warehouse.insert_audit_events(&events).await,
        "insert_audit_events",
    );
    let window = range(
        base() + Duration::minutes(14),
        base() + Duration::minutes(140),
    );
    let mut expected: Vec<AuditEvent> = events
        .iter()
        .filter(|e| within(e.occurred_at, window))
        .cloned()
        .collect();
    expected.sort_by(|a, b| (b.occurred_at, &b.event_id).cmp(&(a.occurred_at, &a.event_id)));
    for limit in [1_u32, 5, 100] {
        let want: Vec<AuditEvent> = expected
            .iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        assert_eq!(
            ok(warehouse.audit_events(window, limit).await, "audit_events"),
            want,
            "limit {limit}"
        );
    }
}
