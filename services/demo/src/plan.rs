//! How many sales each day gets: the target total shared out by the days' weights.

use chrono::NaiveDate;

use crate::calendar;
use crate::rng::{Purpose, Rng, Weighted};
use crate::spec::DemoSpec;

/// Sales grow by this share from the first day to the last (slight, steady growth).
const GROWTH: f64 = 0.3;
/// Earlier days draw from fewer members: this share of `members` on the first day.
const FIRST_DAY_MEMBERS: f64 = 0.7;
/// Orders with 1, 2, 3, 4 and 5 line items, per mille.
const LINE_COUNT_MIX: [u64; 5] = [600, 240, 100, 40, 20];

/// One business day of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayPlan {
    pub date: NaiveDate,
    /// 0-based position in the period (drives growth).
    pub index: u32,
    /// Payments (= orders) this day.
    pub payments: u64,
    /// Line items across this day's orders.
    pub line_items: u64,
}

pub(crate) fn plan(spec: &DemoSpec) -> Vec<DayPlan> {
    let weights: Vec<u64> = spec
        .dates()
        .enumerate()
        .map(|(index, date)| day_weight(spec, index as u32, date))
        .collect();
    let total_weight: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let target = u128::from(spec.payments);

    // Day d gets floor(T·C_d / W) − floor(T·C_{d−1} / W), C being the running weight: every
    // day is within one of its exact share and the days add up to the target exactly.
    let mut running = 0u128;
    let mut assigned = 0u128;
    spec.dates()
        .zip(weights)
        .enumerate()
        .map(|(index, (date, weight))| {
            running += u128::from(weight);
            let cumulative = (target * running).checked_div(total_weight).unwrap_or(0);
            let payments = (cumulative - assigned) as u64;
            assigned = cumulative;
            DayPlan {
                date,
                index: index as u32,
                payments,
                line_items: line_counts(spec.seed, date)
                    .take(payments as usize)
                    .sum::<usize>() as u64,
            }
        })
        .collect()
}

/// A day's weight in millionths: calendar × growth × ±12 % noise of its own.
fn day_weight(spec: &DemoSpec, index: u32, date: NaiveDate) -> u64 {
    let base = calendar::base_weight(date);
    let growth = 1.0 + GROWTH * progress(index, spec.days);
    let mut rng = Rng::new(spec.seed, Some(date), Purpose::DayWeight);
    let noise = 0.88 + 0.12 * (rng.unit() + rng.unit());
    (base * growth * noise * 1e6).round() as u64
}

/// How far into the period a day is, 0.0 (first) to 1.0 (last).
pub(crate) fn progress(index: u32, days: u32) -> f64 {
    if days <= 1 {
        1.0
    } else {
        f64::from(index) / f64::from(days - 1)
    }
}

/// Members who had joined by a day.
pub(crate) fn active_members(members: u32, index: u32, days: u32) -> u64 {
    let share = FIRST_DAY_MEMBERS + (1.0 - FIRST_DAY_MEMBERS) * progress(index, days);
    (f64::from(members) * share).ceil() as u64
}

/// The line counts of a day's orders in order, from their own stream so the plan can
/// count line items without generating the sales.
pub(crate) fn line_counts(seed: u64, date: NaiveDate) -> impl Iterator<Item = usize> {
    let mut rng = Rng::new(seed, Some(date), Purpose::LineCounts);
    let mix = Weighted::new(LINE_COUNT_MIX);
    std::iter::repeat_with(move || mix.pick(&mut rng) + 1)
}
