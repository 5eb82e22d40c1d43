//! The dashboard's numbers through gRPC, checked against an independent computation over
//! the very rows the demo generator produced (plain Rust sums, not the warehouse's SQL).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use tonic_health::pb::health_check_response::ServingStatus;
use vibe::app;
use vibe::proto::integration::v1::dashboard_service_client::DashboardServiceClient;
use vibe::proto::integration::v1::{
    DateRange, GetDashboardRequest, GetHistoryRequest, ListTopProductsRequest, MonthRange,
    TopProduct, TopProductsOrder, WindowSummary, get_history_request, history_point,
};
use vibe::proto::r#type::v1::{Date, YearMonth};
use vibe::targets::{Target, Targets};
use vibe_demo::{DemoSpec, Generator, Progress};
use vibe_warehouse::{LineItem, Order, Payment, SaleStatus, Source};

use crate::client;
use crate::client::{test_config, wait_for_health};

const TZ: Tz = chrono_tz::America::Chicago;

fn local_midnight(date: NaiveDate) -> DateTime<Utc> {
    TZ.from_local_datetime(&date.and_time(NaiveTime::MIN))
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn wire_date(date: NaiveDate) -> Option<Date> {
    Some(Date {
        year: date.year(),
        month: date.month() as i32,
        day: date.day() as i32,
    })
}

/// Everything the test inserted, to compute expectations from.
struct Rows {
    payments: Vec<Payment>,
    line_items: Vec<LineItem>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    revenue: i64,
    transactions: i64,
    customers: i64,
}

impl Rows {
    /// Completed payments created in `[start, end)`.
    fn totals(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Expected {
        let mut customers = HashSet::new();
        let mut expected = Expected::default();
        for p in &self.payments {
            if p.status == SaleStatus::Completed && p.created_at >= start && p.created_at < end {
                expected.revenue += p.amount_cents;
                expected.transactions += 1;
                if let Some(customer) = &p.customer_id {
                    customers.insert(customer.clone());
                }
            }
        }
        expected.customers = customers.len() as i64;
        expected
    }

    /// Completed payments per local date of their creation.
    fn by_local_date(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> BTreeMap<NaiveDate, Expected> {
        let mut days: BTreeMap<NaiveDate, (Expected, HashSet<String>)> = BTreeMap::new();
        for p in &self.payments {
            if p.status == SaleStatus::Completed && p.created_at >= start && p.created_at < end {
                let date = p.created_at.with_timezone(&TZ).date_naive();
                let (day, customers) = days.entry(date).or_default();
                day.revenue += p.amount_cents;
                day.transactions += 1;
                if let Some(customer) = &p.customer_id {
                    customers.insert(customer.clone());
                }
            }
        }
        days.into_iter()
            .map(|(date, (mut day, customers))| {
                day.customers = customers.len() as i64;
                (date, day)
            })
            .collect()
    }

    /// (product id, revenue, units) of completed line items in `[start, end)`, ranked by
    /// revenue, then units, then id; and the total line revenue.
    fn top_products(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> (Vec<(String, i64, i64)>, i64) {
        let mut products: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let mut total = 0;
        for line in &self.line_items {
            if line.order_status == SaleStatus::Completed
                && line.created_at >= start
                && line.created_at < end
            {
                let entry = products.entry(line.product_id.clone()).or_default();
                entry.0 += line.gross_cents;
                entry.1 += line.quantity;
                total += line.gross_cents;
            }
        }
        let mut ranked: Vec<_> = products
            .into_iter()
            .map(|(id, (rev, units))| (id, rev, units))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
        (ranked, total)
    }
}

/// (product id, revenue cents, units) of each product, as answered.
fn sellers(products: &[TopProduct]) -> Vec<(String, i64, i64)> {
    products
        .iter()
        .map(|p| {
            (
                p.product_id.clone(),
                p.revenue.as_ref().unwrap().amount_cents,
                p.units,
            )
        })
        .collect()
}

fn average(revenue: i64, transactions: i64) -> i64 {
    if transactions == 0 {
        0
    } else {
        (2 * revenue + transactions) / (2 * transactions)
    }
}

fn assert_window(name: &str, window: &WindowSummary, first: NaiveDate, expected: &Expected) {
    assert_eq!(window.start_date, wire_date(first), "{name} start date");
    assert_eq!(
        window.start_time.as_ref().unwrap().seconds,
        local_midnight(first).timestamp(),
        "{name} start"
    );
    assert_eq!(
        window.revenue.as_ref().unwrap().amount_cents,
        expected.revenue,
        "{name} revenue"
    );
    assert_eq!(window.revenue.as_ref().unwrap().currency_code, "USD");
    assert_eq!(
        window.transactions, expected.transactions,
        "{name} transactions"
    );
    assert_eq!(
        window.distinct_customers, expected.customers,
        "{name} customers"
    );
    assert_eq!(
        window.average_order_value.as_ref().unwrap().amount_cents,
        average(expected.revenue, expected.transactions),
        "{name} average order value"
    );
}

/// A completed sale of one product, created at `at`, outside the demo generator.
fn boundary_sale(
    id: &str,
    at: DateTime<Utc>,
    product_id: &str,
    cents: i64,
) -> (Payment, Order, LineItem) {
    let business_date = at.with_timezone(&TZ).date_naive();
    let payment = Payment {
        payment_id: format!("pay-{id}"),
        source: Source::Square,
        location_id: "boundary".to_owned(),
        customer_id: Some(format!("boundary-customer-{id}")),
        order_id: Some(format!("order-{id}")),
        amount_cents: cents,
        currency: "USD".to_owned(),
        status: SaleStatus::Completed,
        created_at: at,
        updated_at: at,
        business_date,
        card_brand: Some("VISA".to_owned()),
    };
    let order = Order {
        order_id: format!("order-{id}"),
        source: Source::Square,
        location_id: "boundary".to_owned(),
        customer_id: payment.customer_id.clone(),
        total_cents: cents,
        currency: "USD".to_owned(),
        status: SaleStatus::Completed,
        created_at: at,
        business_date,
    };
    let line = LineItem {
        order_id: order.order_id.clone(),
        line_number: 1,
        product_id: product_id.to_owned(),
        product_name: "Boundary product".to_owned(),
        category: "Flower".to_owned(),
        quantity: 1,
        unit_price_cents: cents,
        gross_cents: cents,
        currency: "USD".to_owned(),
        order_status: SaleStatus::Completed,
        created_at: at,
        business_date,
    };
    (payment, order, line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_figure_matches_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.warehouse.duckdb.path = dir.path().join("warehouse.duckdb");
    let now = Utc::now();
    let today = now.with_timezone(&TZ).date_naive();

    // Demo data up to yesterday (nothing lies in the future), plus today's sales at the
    // day boundaries: the last instant of yesterday and local midnight today.
    let spec = DemoSpec {
        seed: 7,
        last_day: today - Days::new(1),
        days: 420,
        payments: 40_000,
        members: 2_000,
        time_zone: TZ,
    };
    let warehouse = app::open_warehouse(&config.warehouse).await.unwrap();
    vibe_demo::seed(&*warehouse, &spec, Progress::hidden())
        .await
        .unwrap();
    let generator = Generator::new(spec).unwrap();
    let mut rows = Rows {
        payments: Vec::new(),
        line_items: Vec::new(),
    };
    for day in generator.days() {
        rows.payments.extend(day.payments);
        rows.line_items.extend(day.line_items);
    }
    let midnight = local_midnight(today);
    let last_of_yesterday = midnight - chrono::Duration::microseconds(1);
    let earlier_today = (now - chrono::Duration::seconds(1)).max(midnight);
    let boundary = [
        boundary_sale("yesterday-last", last_of_yesterday, "boundary-a", 12_345),
        boundary_sale("today-first", midnight, "boundary-b", 5_000),
        boundary_sale("today-later", earlier_today, "boundary-b", 7_000),
    ];
    let (payments, orders, lines): (Vec<_>, Vec<_>, Vec<_>) = boundary.into_iter().fold(
        (Vec::new(), Vec::new(), Vec::new()),
        |(mut p, mut o, mut l), (payment, order, line)| {
            p.push(payment);
            o.push(order);
            l.push(line);
            (p, o, l)
        },
    );
    warehouse.insert_orders(&orders).await.unwrap();
    warehouse.insert_line_items(&lines).await.unwrap();
    warehouse.insert_payments(&payments).await.unwrap();
    rows.payments.extend(payments);
    rows.line_items.extend(lines);
    drop(warehouse);

    let running = app::start(
        &config,
        &Targets::from_list(&[Target::Gateway, Target::Integration]),
    )
    .await
    .unwrap();
    let addr = running.gateway_addr.unwrap();
    wait_for_health(
        addr,
        "vibe.integration.v1.DashboardService",
        ServingStatus::Serving,
    )
    .await;
    let mut client = DashboardServiceClient::new(client::staff_channel(addr).await);

    // The dashboard: four calendar windows ending at as_of.
    let response = client
        .get_dashboard(GetDashboardRequest {})
        .await
        .unwrap()
        .into_inner();
    let freshness = response.freshness.unwrap();
    let as_of = DateTime::from_timestamp(
        freshness.as_of.as_ref().unwrap().seconds,
        freshness.as_of.as_ref().unwrap().nanos as u32,
    )
    .unwrap();
    let as_of_date = as_of.with_timezone(&TZ).date_naive();
    assert_eq!(
        as_of_date, today,
        "the test ran across local midnight; run it again"
    );
    let dashboard = response.dashboard.unwrap();
    assert_eq!(dashboard.time_zone, "America/Chicago");
    assert_eq!(dashboard.business_date, wire_date(today));
    let end = as_of;
    let windows = [
        ("today", dashboard.today.as_ref().unwrap(), today),
        (
            "last 7 days",
            dashboard.last_7_calendar_days.as_ref().unwrap(),
            today - Days::new(6),
        ),
        (
            "month to date",
            dashboard.calendar_month_to_date.as_ref().unwrap(),
            today.with_day(1).unwrap(),
        ),
        (
            "year to date",
            dashboard.calendar_year_to_date.as_ref().unwrap(),
            NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap(),
        ),
    ];
    for (name, window, first) in windows {
        assert_window(
            name,
            window,
            first,
            &rows.totals(local_midnight(first), end),
        );
    }
    // Today holds exactly the two sales after local midnight, not the one just before it.
    let today_window = dashboard.today.as_ref().unwrap();
    assert_eq!(today_window.transactions, 2);
    assert_eq!(today_window.revenue.as_ref().unwrap().amount_cents, 12_000);

    // The 25 most recent (any status, last 30 days), newest first.
    let mut recent: Vec<&Payment> = rows
        .payments
        .iter()
        .filter(|p| p.created_at >= end - Days::new(30) && p.created_at < end)
        .collect();
    // Newest first, ties by payment id descending (the warehouse's documented order).
    recent.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then(b.payment_id.cmp(&a.payment_id))
    });
    let got: Vec<(String, i64)> = dashboard
        .recent_transactions
        .iter()
        .map(|tx| {
            (
                tx.transaction_id.clone(),
                tx.amount.as_ref().unwrap().amount_cents,
            )
        })
        .collect();
    let want: Vec<(String, i64)> = recent
        .iter()
        .take(25)
        .map(|p| (p.payment_id.clone(), p.amount_cents))
        .collect();
    assert_eq!(got, want, "recent transactions");

    // Top sellers by revenue over the last 7 calendar days.
    let (ranked, total) = rows.top_products(local_midnight(today - Days::new(6)), end);
    let got = sellers(&dashboard.top_sellers_last_7_calendar_days);
    assert_eq!(
        got,
        ranked.iter().take(10).cloned().collect::<Vec<_>>(),
        "top sellers"
    );
    let share = dashboard.top_sellers_last_7_calendar_days[0].revenue_share;
    assert!((share - ranked[0].1 as f64 / total as f64).abs() < 1e-9);

    // Daily history over the last 180 days, dense and oldest first.
    let first = today - Days::new(179);
    let history = client
        .get_history(GetHistoryRequest {
            range: Some(get_history_request::Range::Days(DateRange {
                start_date: wire_date(first),
                end_date: wire_date(today),
            })),
        })
        .await
        .unwrap()
        .into_inner();
    let by_date = rows.by_local_date(local_midnight(first), Utc::now());
    assert_eq!(history.points.len(), 180);
    for (offset, point) in history.points.iter().enumerate() {
        let date = first + Days::new(offset as u64);
        assert_eq!(
            point.period,
            Some(history_point::Period::Date(wire_date(date).unwrap()))
        );
        let expected = by_date
            .get(&date)
            .map_or((0, 0, 0), |d| (d.revenue, d.transactions, d.customers));
        let got = (
            point.revenue.as_ref().unwrap().amount_cents,
            point.transactions,
            point.distinct_customers,
        );
        assert_eq!(got, expected, "history on {date}");
    }

    // Monthly history over 13 months.
    let first_month = (today.with_day(1).unwrap() - chrono::Months::new(12))
        .with_day(1)
        .unwrap();
    let months = client
        .get_history(GetHistoryRequest {
            range: Some(get_history_request::Range::Months(MonthRange {
                start_month: Some(YearMonth {
                    year: first_month.year(),
                    month: first_month.month() as i32,
                }),
                end_month: Some(YearMonth {
                    year: today.year(),
                    month: today.month() as i32,
                }),
            })),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(months.points.len(), 13);
    for (offset, point) in months.points.iter().enumerate() {
        let month = first_month + chrono::Months::new(offset as u32);
        let next = month + chrono::Months::new(1);
        let expected = rows.totals(local_midnight(month), local_midnight(next).min(Utc::now()));
        let got = (
            point.revenue.as_ref().unwrap().amount_cents,
            point.transactions,
            point.distinct_customers,
        );
        assert_eq!(
            got,
            (expected.revenue, expected.transactions, expected.customers),
            "month {month}"
        );
    }

    // Top products by units over 30 days.
    let window_first = today - Days::new(29);
    let top = client
        .list_top_products(ListTopProductsRequest {
            window: Some(DateRange {
                start_date: wire_date(window_first),
                end_date: wire_date(today),
            }),
            order_by: TopProductsOrder::Units as i32,
            limit: 5,
        })
        .await
        .unwrap()
        .into_inner();
    let (mut ranked, total) = rows.top_products(local_midnight(window_first), Utc::now());
    ranked.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0)));
    let got = sellers(&top.products);
    assert_eq!(
        got,
        ranked.into_iter().take(5).collect::<Vec<_>>(),
        "top products by units"
    );
    assert_eq!(top.total_revenue.unwrap().amount_cents, total);

    running.shutdown().await.unwrap();
}

mod input {
    use super::*;
    use tonic_types::StatusExt;
    use vibe::proto::integration::v1::ListProductsRequest;

    /// The fields a status's `google.rpc.BadRequest` names.
    fn violated_fields(status: &tonic::Status) -> Vec<String> {
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        status
            .get_details_bad_request()
            .expect("a google.rpc.BadRequest detail")
            .field_violations
            .into_iter()
            .map(|violation| violation.field)
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_requests_name_every_bad_field() {
        let running = app::start(&test_config(), &Targets::from_list(&[Target::Integration]))
            .await
            .unwrap();
        let addr = running.grpc_addr.unwrap();
        wait_for_health(
            addr,
            "vibe.integration.v1.DashboardService",
            ServingStatus::Serving,
        )
        .await;
        let mut client = DashboardServiceClient::new(client::staff_channel(addr).await);
        let today = Utc::now().with_timezone(&TZ).date_naive();
        let days = |first: NaiveDate, last: NaiveDate| GetHistoryRequest {
            range: Some(get_history_request::Range::Days(DateRange {
                start_date: wire_date(first),
                end_date: wire_date(last),
            })),
        };

        let backwards = client
            .get_history(days(today, today - Days::new(3)))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&backwards), ["days.end_date"]);
        let too_long = client
            .get_history(days(today - Days::new(180), today))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&too_long), ["days"]);
        let not_a_date = GetHistoryRequest {
            range: Some(get_history_request::Range::Days(DateRange {
                start_date: Some(Date {
                    year: 2026,
                    month: 2,
                    day: 30,
                }),
                end_date: None,
            })),
        };
        let status = client.get_history(not_a_date).await.unwrap_err();
        assert_eq!(
            violated_fields(&status),
            ["days.start_date", "days.end_date"]
        );
        let unset = client
            .get_history(GetHistoryRequest { range: None })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&unset), ["range"]);

        let products = client
            .list_products(ListProductsRequest {
                page_size: 201,
                category: "Spaceships".to_owned(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&products), ["page_size", "category"]);
        let negative = client
            .list_products(ListProductsRequest {
                page_size: -1,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&negative), ["page_size"]);

        let top = client
            .list_top_products(ListTopProductsRequest {
                window: None,
                order_by: 0,
                limit: 500,
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&top), ["window"]);
        running.shutdown().await.unwrap();
    }
}

mod watch {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use futures::StreamExt;
    use vibe::proto::integration::v1::{CacheKind, GetCacheStatsRequest, WatchDashboardRequest};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_fill_feeds_every_watcher_and_draining_ends_the_streams() {
        let mut config = test_config();
        config.cache.fresh_for = Duration::from_millis(300);
        config.cache.stale_for = Duration::from_secs(30);
        config.cache.error_for = Duration::from_secs(60);
        let running = app::start(&config, &Targets::from_list(&[Target::Integration]))
            .await
            .unwrap();
        let warehouse = running.warehouse().unwrap();
        let now = Utc::now();
        let (payment, _, _) =
            boundary_sale("watch-1", now - chrono::Duration::seconds(30), "p", 1_000);
        warehouse.insert_payments(&[payment]).await.unwrap();
        let addr = running.grpc_addr.unwrap();
        wait_for_health(
            addr,
            "vibe.integration.v1.DashboardService",
            ServingStatus::Serving,
        )
        .await;
        let client = DashboardServiceClient::new(client::staff_channel(addr).await);

        let mut streams = Vec::new();
        for _ in 0..50 {
            let mut client = client.clone();
            streams.push(
                client
                    .watch_dashboard(WatchDashboardRequest {})
                    .await
                    .unwrap()
                    .into_inner(),
            );
        }
        // Every watcher gets the current snapshot (a warm-up from before the first sale
        // may come first, then the refresh that has it).
        for stream in &mut streams {
            loop {
                let update = stream.next().await.unwrap().unwrap();
                if update.dashboard.unwrap().today.unwrap().transactions == 1 {
                    break;
                }
            }
        }
        // A new sale: each watcher is pushed a snapshot that has it, without asking.
        let (payment, _, _) = boundary_sale(
            "watch-2",
            Utc::now() - chrono::Duration::seconds(1),
            "p",
            2_000,
        );
        warehouse.insert_payments(&[payment]).await.unwrap();
        let mut as_of = BTreeSet::new();
        for stream in &mut streams {
            loop {
                let update = stream.next().await.unwrap().unwrap();
                as_of.insert(
                    update
                        .freshness
                        .as_ref()
                        .unwrap()
                        .as_of
                        .as_ref()
                        .unwrap()
                        .seconds
                        * 1_000_000_000
                        + i64::from(
                            update
                                .freshness
                                .as_ref()
                                .unwrap()
                                .as_of
                                .as_ref()
                                .unwrap()
                                .nanos,
                        ),
                );
                if update.dashboard.unwrap().today.unwrap().transactions == 2 {
                    break;
                }
            }
        }
        let mut stats_client = client.clone();
        let stats = stats_client
            .get_cache_stats(GetCacheStatsRequest {})
            .await
            .unwrap()
            .into_inner();
        let fills = stats
            .by_kind
            .iter()
            .find(|kind| kind.kind == CacheKind::Dashboard as i32)
            .unwrap()
            .counters
            .unwrap()
            .fills;
        // Fills happen per refresh, never per watcher: 50 watchers saw values from at most
        // as many fills as there were distinct values (plus refreshes still under way).
        assert!(
            fills as usize <= as_of.len() + 2,
            "{fills} fills for {} values",
            as_of.len()
        );
        assert!(fills < 50, "not one fill per watcher: {fills}");

        // Draining ends every stream cleanly, so the drain can finish.
        let shutdown = tokio::spawn(running.shutdown());
        for stream in &mut streams {
            loop {
                match stream.next().await {
                    None => break,
                    Some(Ok(_)) => continue,
                    Some(Err(status)) => panic!("a stream ended with an error: {status:?}"),
                }
            }
        }
        assert_eq!(shutdown.await.unwrap().unwrap(), app::Drain::Complete);
    }
}
