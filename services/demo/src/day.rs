//! One business day of sales: orders with line items and one payment each.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use vibe_warehouse::{LineItem, Order, Payment, SaleStatus, Source};

use crate::calendar::{self, HOUR_WEIGHTS};
use crate::catalog::Catalog;
use crate::plan::{self, DayPlan};
use crate::rng::{Purpose, Rng, Weighted};
use crate::spec::{DemoSpec, local_to_utc};

/// The one demo store.
pub const LOCATION_ID: &str = "demo-store-1";
pub const CURRENCY: &str = "USD";
/// Texas state and local sales tax, in basis points.
pub const SALES_TAX_BASIS_POINTS: i64 = 825;

/// Sales without a member id (walk-ins who did not give a phone number), per mille.
const ANONYMOUS_PER_MILLE: u64 = 270;
/// Member visits made by regulars, per mille: the longest-standing tenth of the members
/// (the lowest ids) come back several times as often as the rest, who are drawn evenly.
const REGULAR_VISITS_PER_MILLE: u64 = 350;

const BRANDS: [(&str, u64); 5] = [
    ("CASH", 240),
    ("VISA", 410),
    ("MASTERCARD", 220),
    ("AMEX", 80),
    ("DISCOVER", 50),
];
/// Cards can be declined or left pending at the terminal; cash cannot fail.
const CARD_STATUS: [(SaleStatus, u64); 4] = [
    (SaleStatus::Completed, 952),
    (SaleStatus::Failed, 30),
    (SaleStatus::Cancelled, 12),
    (SaleStatus::Pending, 6),
];
const CASH_STATUS: [(SaleStatus, u64); 2] =
    [(SaleStatus::Completed, 990), (SaleStatus::Cancelled, 10)];

/// The rows of one business day, each list in time order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayRows {
    pub date: NaiveDate,
    pub payments: Vec<Payment>,
    pub orders: Vec<Order>,
    pub line_items: Vec<LineItem>,
}

/// Tax on a pre-tax amount, rounded half up to the cent.
pub fn sales_tax_cents(subtotal_cents: i64) -> i64 {
    (subtotal_cents * SALES_TAX_BASIS_POINTS + 5_000).div_euclid(10_000)
}

pub(crate) struct Tables {
    brands: Weighted,
    card_status: Weighted,
    cash_status: Weighted,
}

impl Tables {
    pub(crate) fn new() -> Self {
        Self {
            brands: Weighted::new(BRANDS.map(|(_, w)| w)),
            card_status: Weighted::new(CARD_STATUS.map(|(_, w)| w)),
            cash_status: Weighted::new(CASH_STATUS.map(|(_, w)| w)),
        }
    }
}

pub(crate) fn generate(
    spec: &DemoSpec,
    catalog: &Catalog,
    tables: &Tables,
    day: &DayPlan,
) -> DayRows {
    let date = day.date;
    let count = day.payments as usize;
    let mut rows = DayRows {
        date,
        payments: Vec::with_capacity(count),
        orders: Vec::with_capacity(count),
        line_items: Vec::with_capacity(day.line_items as usize),
    };
    let Some(hours) = calendar::opening_hours(date) else {
        return rows;
    };
    if count == 0 {
        return rows;
    }
    let mut rng = Rng::new(spec.seed, Some(date), Purpose::Sales);
    let times = sale_times(spec, date, hours, count, &mut rng);
    let members = plan::active_members(spec.members, day.index, spec.days);
    let day_id = date.format("%Y%m%d").to_string();

    for ((n, created_at), lines) in times
        .into_iter()
        .enumerate()
        .zip(plan::line_counts(spec.seed, date))
    {
        let payment_id = format!("demo-{}-{day_id}-{:06}", spec.seed, n + 1);
        let order_id = format!("{payment_id}-order");
        let business_date = created_at.with_timezone(&spec.time_zone).date_naive();
        let customer_id = if members == 0 || rng.chance(ANONYMOUS_PER_MILLE) {
            None
        } else {
            let pool = if rng.chance(REGULAR_VISITS_PER_MILLE) {
                members.div_ceil(10)
            } else {
                members
            };
            Some(format!("demo-member-{:06}", rng.below(pool) + 1))
        };
        let (brand, _) = BRANDS[tables.brands.pick(&mut rng)];
        let status = if brand == "CASH" {
            CASH_STATUS[tables.cash_status.pick(&mut rng)].0
        } else {
            CARD_STATUS[tables.card_status.pick(&mut rng)].0
        };

        let mut chosen = [usize::MAX; 5];
        let mut subtotal = 0i64;
        for line in 0..lines.min(chosen.len()) {
            // Distinct products per order: a second pick of the same product is a re-draw
            // (a few tries, then it stands as its own line).
            let mut product = catalog.demand.pick(&mut rng);
            for _ in 0..8 {
                if !chosen[..line].contains(&product) {
                    break;
                }
                product = catalog.demand.pick(&mut rng);
            }
            chosen[line] = product;
            let item = &catalog.items[product];
            let (mix, quantities) = &catalog.quantities[product];
            let quantity = quantities[mix.pick(&mut rng)].0;
            let gross = quantity * item.price_cents;
            subtotal += gross;
            rows.line_items.push(LineItem {
                order_id: order_id.clone(),
                line_number: line as i64 + 1,
                product_id: item.product_id.clone(),
                product_name: item.name.clone(),
                category: item.category.clone(),
                quantity,
                unit_price_cents: item.price_cents,
                gross_cents: gross,
                currency: CURRENCY.to_owned(),
                order_status: status,
                created_at,
                business_date,
            });
        }
        let total = subtotal + sales_tax_cents(subtotal);
        let settled_after = match status {
            SaleStatus::Pending => 0,
            SaleStatus::Cancelled => rng.between(30, 600),
            SaleStatus::Failed => rng.between(1, 5),
            SaleStatus::Completed | SaleStatus::Approved => rng.between(1, 20),
        };
        rows.orders.push(Order {
            order_id: order_id.clone(),
            source: Source::Demo,
            location_id: LOCATION_ID.to_owned(),
            customer_id: customer_id.clone(),
            total_cents: total,
            currency: CURRENCY.to_owned(),
            status,
            created_at,
            business_date,
        });
        rows.payments.push(Payment {
            payment_id,
            source: Source::Demo,
            location_id: LOCATION_ID.to_owned(),
            customer_id,
            order_id: Some(order_id),
            amount_cents: total,
            currency: CURRENCY.to_owned(),
            status,
            created_at,
            updated_at: created_at + TimeDelta::seconds(settled_after),
            business_date,
            card_brand: Some(brand.to_owned()),
        });
    }
    rows
}

/// `count` distinct instants within the day's local opening hours, ascending. Hours are
/// drawn by the hour curve, the millisecond within the hour uniformly.
fn sale_times(
    spec: &DemoSpec,
    date: NaiveDate,
    hours: calendar::OpeningHours,
    count: usize,
    rng: &mut Rng,
) -> Vec<DateTime<Utc>> {
    let open = hours.open.min(23) as usize;
    let close = (hours.close.min(24) as usize).max(open + 1);
    let curve = Weighted::new(HOUR_WEIGHTS[open..close].iter().copied());
    let midnight = date.and_time(NaiveTime::MIN);
    // The last second of each hour is left out so that nudging equal times apart below
    // can never push a sale past closing.
    const HOUR_MS: u64 = 3_600_000 - 1_000;
    let mut times: Vec<DateTime<Utc>> = (0..count)
        .map(|_| {
            let hour = (open + curve.pick(rng)) as i64;
            let ms = rng.below(HOUR_MS) as i64;
            let local = midnight + TimeDelta::hours(hour) + TimeDelta::milliseconds(ms);
            local_to_utc(spec.time_zone, local)
        })
        .collect();
    times.sort_unstable();
    // Unique times keep "newest first" unambiguous, in the dashboard and in the seeder's
    // check of what is already stored.
    for i in 1..times.len() {
        if times[i] <= times[i - 1] {
            times[i] = times[i - 1] + TimeDelta::milliseconds(1);
        }
    }
    times
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tax_rounds_half_up_to_the_cent() {
        assert_eq!(sales_tax_cents(0), 0);
        assert_eq!(sales_tax_cents(10_000), 825);
        // 2999 × 8.25 % = 247.4175 → 247
        assert_eq!(sales_tax_cents(2_999), 247);
        // 200 × 8.25 % = 16.5 → 17
        assert_eq!(sales_tax_cents(200), 17);
    }
}
