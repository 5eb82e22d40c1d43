//! The generator alone: determinism, consistency of every row, and realism of the whole.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate, Timelike, Weekday};
use vibe_demo::{DemoSpec, Generator, opening_hours, sales_tax_cents};
use vibe_warehouse::{SaleStatus, Source};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

/// A small spec for the row-by-row comparisons.
fn small(seed: u64) -> DemoSpec {
    DemoSpec {
        days: 45,
        payments: 15_000,
        ..DemoSpec::new(seed, date(2025, 4, 30))
    }
}

#[test]
fn the_same_spec_gives_identical_rows() {
    let a = Generator::new(small(11)).unwrap();
    let b = Generator::new(small(11)).unwrap();
    assert_eq!(a.catalog(), b.catalog());
    assert_eq!(a.plan(), b.plan());
    let mut days = 0;
    for (x, y) in a.days().zip(b.days()) {
        assert_eq!(x, y);
        days += 1;
    }
    assert_eq!(days, 45);
}

#[test]
fn a_day_regenerated_alone_equals_that_day_of_a_full_run() {
    let full: Vec<_> = Generator::new(small(5)).unwrap().days().collect();
    // A fresh generator asked for single days, in a different order.
    let alone = Generator::new(small(5)).unwrap();
    for index in [44, 0, 20, 19] {
        let day = &full[index];
        assert_eq!(alone.day(day.date).as_ref(), Some(day), "{}", day.date);
    }
    assert_eq!(alone.day(date(2025, 5, 1)), None);
    assert_eq!(alone.day(date(2025, 3, 16)), None);
}

#[test]
fn another_seed_gives_other_sales() {
    let a = Generator::new(small(1))
        .unwrap()
        .day(date(2025, 4, 20))
        .unwrap();
    let b = Generator::new(small(2))
        .unwrap()
        .day(date(2025, 4, 20))
        .unwrap();
    assert_ne!(a.payments[0].created_at, b.payments[0].created_at);
    assert!(a.payments[0].payment_id.starts_with("demo-1-20250420-"));
}

#[test]
fn every_row_is_consistent() {
    let spec = DemoSpec::new(42, date(2025, 6, 30));
    let generator = Generator::new(spec.clone()).unwrap();
    let prices: HashMap<_, _> = generator
        .catalog()
        .iter()
        .map(|item| (item.product_id.clone(), item.price_cents))
        .collect();
    let mut payment_ids = HashSet::new();
    let mut order_ids = HashSet::new();
    let mut counted = [0u64; 3];

    for (day, plan) in generator.days().zip(generator.plan()) {
        assert_eq!(day.date, plan.date);
        assert_eq!(day.payments.len() as u64, plan.payments);
        assert_eq!(day.orders.len() as u64, plan.payments);
        assert_eq!(day.line_items.len() as u64, plan.line_items);
        counted[0] += day.payments.len() as u64;
        counted[1] += day.orders.len() as u64;
        counted[2] += day.line_items.len() as u64;

        let mut lines: HashMap<&str, Vec<_>> = HashMap::new();
        for line in &day.line_items {
            lines.entry(line.order_id.as_str()).or_default().push(line);
        }
        let hours = opening_hours(day.date);
        let mut previous = None;
        for (payment, order) in day.payments.iter().zip(&day.orders) {
            assert!(
                payment_ids.insert(payment.payment_id.clone()),
                "{}",
                payment.payment_id
            );
            assert!(
                order_ids.insert(order.order_id.clone()),
                "{}",
                order.order_id
            );
            assert_eq!(payment.order_id.as_deref(), Some(order.order_id.as_str()));
            assert_eq!(payment.source, Source::Demo);
            assert_eq!(order.source, Source::Demo);
            assert_eq!(payment.status, order.status);
            assert_eq!(payment.customer_id, order.customer_id);
            assert_eq!(payment.created_at, order.created_at);
            assert!(payment.updated_at >= payment.created_at);
            assert!(
                previous < Some(payment.created_at),
                "times are unique and ascending"
            );
            previous = Some(payment.created_at);

            // Money: lines → subtotal → tax → order total → payment amount.
            let order_lines = &lines[order.order_id.as_str()];
            assert!((1..=5).contains(&order_lines.len()));
            let mut subtotal = 0;
            for (n, line) in order_lines.iter().enumerate() {
                assert_eq!(line.line_number, n as i64 + 1);
                assert!(line.quantity >= 1);
                assert_eq!(line.unit_price_cents, prices[&line.product_id]);
                assert_eq!(line.gross_cents, line.quantity * line.unit_price_cents);
                assert_eq!(line.order_status, order.status);
                assert_eq!(line.created_at, order.created_at);
                assert_eq!(line.business_date, order.business_date);
                subtotal += line.gross_cents;
            }
            assert_eq!(order.total_cents, subtotal + sales_tax_cents(subtotal));
            assert_eq!(payment.amount_cents, order.total_cents);

            // Time: the business date is the local date, within the day's opening hours.
            let local = payment.created_at.with_timezone(&spec.time_zone);
            assert_eq!(payment.business_date, local.date_naive());
            assert_eq!(payment.business_date, day.date);
            let hours = hours.unwrap();
            assert!(
                (hours.open..hours.close).contains(&local.hour()),
                "{local} outside {hours:?}"
            );
        }
    }
    let expected = generator.expected();
    assert_eq!(
        counted,
        [expected.payments, expected.orders, expected.line_items]
    );
}

#[test]
fn business_date_is_the_local_date_around_midnight() {
    let spec = DemoSpec::new(9, date(2025, 6, 30));
    let generator = Generator::new(spec.clone()).unwrap();
    // Saturday 2025-06-28: open until midnight, so late sales are already Sunday in UTC.
    let saturday = generator.day(date(2025, 6, 28)).unwrap();
    let late: Vec<_> = saturday
        .payments
        .iter()
        .filter(|p| p.created_at.with_timezone(&spec.time_zone).hour() == 23)
        .collect();
    assert!(!late.is_empty());
    for payment in late {
        assert_eq!(payment.business_date, date(2025, 6, 28));
        assert_eq!(payment.created_at.date_naive(), date(2025, 6, 29));
    }
    // Nothing of Saturday lands on Sunday's local date, nothing before Saturday opens.
    let first = saturday
        .payments
        .first()
        .unwrap()
        .created_at
        .with_timezone(&spec.time_zone);
    let last = saturday
        .payments
        .last()
        .unwrap()
        .created_at
        .with_timezone(&spec.time_zone);
    assert!(first.hour() >= 10);
    assert_eq!(last.date_naive(), date(2025, 6, 28));

    // Far east of UTC the boundary falls the other way: an Auckland store's morning sales
    // (NZST, UTC+12) are the previous day in UTC.
    let auckland = DemoSpec {
        time_zone: chrono_tz::Pacific::Auckland,
        ..small(9)
    };
    let day = Generator::new(auckland)
        .unwrap()
        .day(date(2025, 4, 26))
        .unwrap();
    let morning = day.payments.first().unwrap();
    assert_eq!(morning.business_date, date(2025, 4, 26));
    assert_eq!(morning.created_at.date_naive(), date(2025, 4, 25));
}

#[test]
fn daylight_saving_days_keep_their_hours() {
    let spec = DemoSpec {
        days: 10,
        payments: 5_000,
        ..DemoSpec::new(4, date(2025, 11, 5))
    };
    let generator = Generator::new(spec.clone()).unwrap();
    // 2025-03-09 spring forward and 2025-11-02 fall back, both Sundays (11:00–20:00).
    let spring = Generator::new(DemoSpec {
        last_day: date(2025, 3, 12),
        ..spec.clone()
    })
    .unwrap();
    for day in [
        spring.day(date(2025, 3, 9)).unwrap(),
        generator.day(date(2025, 11, 2)).unwrap(),
    ] {
        assert!(!day.payments.is_empty());
        for payment in &day.payments {
            let local = payment.created_at.with_timezone(&spec.time_zone);
            assert_eq!(local.date_naive(), day.date);
            assert!((11..20).contains(&local.hour()), "{local}");
        }
    }
}

#[test]
fn the_whole_period_looks_like_a_real_shop() {
    let spec = DemoSpec::new(2024, date(2025, 6, 30));
    let generator = Generator::new(spec.clone()).unwrap();
    let plan = generator.plan();

    // Exactly the target (well within ±1 %).
    let total: u64 = plan.iter().map(|d| d.payments).sum();
    assert_eq!(total, spec.payments);
    assert_eq!(plan.len(), 730);

    // Weekends busier than weekdays.
    let average = |days: &mut dyn Iterator<Item = &vibe_demo::DayPlan>| {
        let counts: Vec<u64> = days.map(|d| d.payments).collect();
        counts.iter().sum::<u64>() as f64 / counts.len() as f64
    };
    let weekend = |d: &&vibe_demo::DayPlan| matches!(d.date.weekday(), Weekday::Sat | Weekday::Sun);
    let weekends = average(&mut plan.iter().filter(weekend));
    let weekdays = average(&mut plan.iter().filter(|d| !weekend(d)));
    assert!(
        weekends > weekdays * 1.15,
        "weekend {weekends:.0} vs weekday {weekdays:.0}"
    );

    // 4/20 is the year's peak; January is slower than December; the shop grows.
    let on = |d: NaiveDate| plan.iter().find(|p| p.date == d).unwrap().payments;
    let mean = plan.iter().map(|d| d.payments).sum::<u64>() as f64 / plan.len() as f64;
    assert!(on(date(2025, 4, 20)) as f64 > 2.0 * mean);
    let peak = plan.iter().max_by_key(|d| d.payments).unwrap();
    assert_eq!((peak.date.month(), peak.date.day()), (4, 20));
    let month = |y, m| {
        average(
            &mut plan
                .iter()
                .filter(|d| d.date.year() == y && d.date.month() == m),
        )
    };
    assert!(month(2025, 1) < month(2024, 12) * 0.85);
    assert!(
        month(2025, 3) > month(2024, 3) * 1.05,
        "year-on-year growth"
    );
    // Closed on Christmas Day.
    assert_eq!(on(date(2024, 12, 25)), 0);

    let mut statuses: HashMap<SaleStatus, u64> = HashMap::new();
    let mut anonymous = 0u64;
    let mut per_customer: HashMap<String, u64> = HashMap::new();
    let mut per_hour = [0u64; 24];
    let mut revenue = 0i64;
    for day in generator.days() {
        for payment in &day.payments {
            *statuses.entry(payment.status).or_default() += 1;
            match &payment.customer_id {
                None => anonymous += 1,
                Some(id) => *per_customer.entry(id.clone()).or_default() += 1,
            }
            per_hour[payment.created_at.with_timezone(&spec.time_zone).hour() as usize] += 1;
            revenue += payment.amount_cents;
        }
    }
    let share = anonymous as f64 / total as f64;
    assert!((0.2..0.35).contains(&share), "anonymous share {share:.3}");
    for status in [
        SaleStatus::Completed,
        SaleStatus::Failed,
        SaleStatus::Cancelled,
        SaleStatus::Pending,
    ] {
        assert!(
            statuses.get(&status).copied().unwrap_or(0) > 0,
            "{status:?} missing"
        );
    }
    assert!(statuses[&SaleStatus::Completed] as f64 > 0.9 * total as f64);
    // Repeat buyers: most members come back, a core of regulars comes back often.
    assert!(per_customer.len() <= spec.members as usize);
    assert!(per_customer.len() as f64 > 0.8 * f64::from(spec.members));
    assert!(per_customer.values().filter(|&&n| n >= 30).count() > 100);
    // The after-work peak beats the opening hour.
    assert!(per_hour[18] > 2 * per_hour[10]);
    // Average ticket, tax included, like a hemp shop's.
    let ticket = revenue as f64 / total as f64 / 100.0;
    assert!(
        (30.0..90.0).contains(&ticket),
        "average ticket ${ticket:.2}"
    );
}

#[test]
fn the_catalog_gives_compliance_something_to_report() {
    let generator = Generator::new(DemoSpec::new(8, date(2025, 6, 30))).unwrap();
    let catalog = generator.catalog();
    assert!((140..=160).contains(&catalog.len()), "{}", catalog.len());
    let categories: HashSet<_> = catalog.iter().map(|i| i.category.as_str()).collect();
    for category in [
        "Flower",
        "Pre-Rolls",
        "Edibles",
        "Tinctures",
        "Vapes",
        "Topicals",
        "Beverages",
        "Accessories",
    ] {
        assert!(categories.contains(category), "{category}");
    }
    let with_coa = catalog
        .iter()
        .filter(|i| i.has_certificate_of_analysis)
        .count();
    assert!(with_coa as f64 > 0.8 * catalog.len() as f64);
    let consumables_without_coa = catalog
        .iter()
        .filter(|i| i.category != "Accessories" && !i.has_certificate_of_analysis)
        .count();
    assert!((1..=10).contains(&consumables_without_coa));
    let over_limit = catalog
        .iter()
        .filter(|i| i.delta9_thc_basis_points.is_some_and(|bp| bp > 30))
        .count();
    assert!((1..=8).contains(&over_limit), "{over_limit}");
    let known = catalog
        .iter()
        .filter(|i| i.delta9_thc_basis_points.is_some())
        .count();
    assert!(known as f64 > 0.75 * catalog.len() as f64);
    let available = catalog.iter().filter(|i| i.available).count();
    assert!(available < catalog.len() && available as f64 > 0.85 * catalog.len() as f64);
    assert!(
        catalog
            .iter()
            .all(|i| i.source == Source::Demo && i.currency == "USD")
    );
    // Updated within the period, so a reseed's delete covers them.
    let range = generator.spec().time_range();
    assert!(
        catalog
            .iter()
            .all(|i| range.start <= i.updated_at && i.updated_at < range.end)
    );
}

#[test]
fn the_plan_scales_to_twenty_million_payments() {
    let spec = DemoSpec {
        payments: 20_000_000,
        members: 200_000,
        ..DemoSpec::new(1, date(2026, 1, 31))
    };
    let generator = Generator::new(spec).unwrap();
    assert_eq!(generator.expected().payments, 20_000_000);
    // The peak day is generated alone, in memory of its own size.
    let peak = generator.plan().iter().max_by_key(|d| d.payments).unwrap();
    assert_eq!(peak.date.month(), 4);
    assert_eq!(peak.date.day(), 20);
    let rows = generator.day(peak.date).unwrap();
    assert_eq!(rows.payments.len() as u64, peak.payments);
    assert_eq!(rows.line_items.len() as u64, peak.line_items);
}

#[test]
fn invalid_specs_are_refused() {
    let base = DemoSpec::new(1, date(2025, 6, 30));
    for spec in [
        DemoSpec {
            days: 0,
            ..base.clone()
        },
        DemoSpec {
            days: DemoSpec::MAX_DAYS + 1,
            ..base.clone()
        },
        DemoSpec {
            days: 10,
            payments: 10 * DemoSpec::MAX_PAYMENTS_PER_DAY + 1,
            ..base.clone()
        },
    ] {
        let error = Generator::new(spec).err().unwrap();
        assert!(
            error.to_string().starts_with("invalid demo spec: "),
            "{error}"
        );
    }
    // No members: every sale is anonymous. No payments: an empty period.
    let anonymous = Generator::new(DemoSpec {
        members: 0,
        ..small(1)
    })
    .unwrap();
    assert!(
        anonymous
            .days()
            .all(|d| d.payments.iter().all(|p| p.customer_id.is_none()))
    );
    let empty = Generator::new(DemoSpec {
        payments: 0,
        ..small(1)
    })
    .unwrap();
    assert_eq!(empty.expected().payments, 0);
    assert!(empty.days().all(|d| d.payments.is_empty()));
}
