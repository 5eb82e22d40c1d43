//! Generation speed and a profile of the data, printed, never asserted (timing depends on
//! the machine). Run in release:
//! `cargo test --release -p vibe-demo --test it speed:: -- --ignored --nocapture`
//! (`DEMO_PAYMENTS=20000000` for Texas year-3 scale).

use std::collections::HashMap;
use std::time::Instant;

use chrono::NaiveDate;
use vibe_demo::{DemoSpec, Generator};

#[test]
#[ignore = "a measurement, not a check; run on demand"]
fn generation_speed() {
    let payments = std::env::var("DEMO_PAYMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let spec = DemoSpec {
        payments,
        members: 11_000.max((payments / 100) as u32),
        ..DemoSpec::new(1, NaiveDate::from_ymd_opt(2026, 1, 31).unwrap())
    };
    let started = Instant::now();
    let generator = Generator::new(spec).unwrap();
    let planned = started.elapsed();
    // Timing pass: generate every day and only count, as the seeder's producer does.
    let mut rows = [0u64; 3];
    let mut largest_day = 0usize;
    for day in generator.days() {
        rows[0] += day.payments.len() as u64;
        rows[1] += day.orders.len() as u64;
        rows[2] += day.line_items.len() as u64;
        largest_day = largest_day.max(day.payments.len());
    }
    let elapsed = started.elapsed();
    println!(
        "{} payments, {} orders, {} line items in {:.2?} (plan {:.2?}): {:.0} payments/s; largest day {}",
        rows[0],
        rows[1],
        rows[2],
        elapsed,
        planned,
        rows[0] as f64 / elapsed.as_secs_f64(),
        largest_day
    );

    // Profile pass over the default size.
    let generator = Generator::new(DemoSpec::new(
        1,
        NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
    ))
    .unwrap();
    let mut rows = [0u64; 3];
    let mut revenue = 0i64;
    let mut anonymous = 0u64;
    let mut customers: HashMap<String, u64> = HashMap::new();
    let mut categories: HashMap<String, (u64, i64)> = HashMap::new();
    for day in generator.days() {
        rows[0] += day.payments.len() as u64;
        rows[1] += day.orders.len() as u64;
        rows[2] += day.line_items.len() as u64;
        for payment in &day.payments {
            revenue += payment.amount_cents;
            match &payment.customer_id {
                Some(id) => *customers.entry(id.clone()).or_default() += 1,
                None => anonymous += 1,
            }
        }
        for line in &day.line_items {
            let entry = categories.entry(line.category.clone()).or_default();
            entry.0 += line.quantity as u64;
            entry.1 += line.gross_cents;
        }
    }
    println!(
        "default spec: {} payments, average ticket ${:.2}, {:.2} lines/order, anonymous {:.1} %, {} distinct customers, busiest customer {} visits",
        rows[0],
        revenue as f64 / rows[0] as f64 / 100.0,
        rows[2] as f64 / rows[1] as f64,
        100.0 * anonymous as f64 / rows[0] as f64,
        customers.len(),
        customers.values().max().copied().unwrap_or(0)
    );
    let mut categories: Vec<_> = categories.into_iter().collect();
    categories.sort_by_key(|(_, (_, cents))| -cents);
    for (category, (units, cents)) in categories {
        println!(
            "  {category:<12} {units:>9} units  ${:>12.2}",
            cents as f64 / 100.0
        );
    }
}
