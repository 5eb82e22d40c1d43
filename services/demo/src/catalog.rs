//! The demo catalog: ~150 products of a Texas hemp shop in eight categories, with the
//! lab attributes compliance reports on. The product list is fixed (product ids are
//! stable across seeds, so reseeding replaces rather than adds); the seed varies lab
//! values, which products lack a certificate or exceed 0.3 % Δ9-THC, stock, and which
//! products sell best.

use chrono::{DateTime, Days, NaiveTime, TimeDelta, Utc};
use vibe_warehouse::{CatalogItem, Source};

use crate::products::{CATEGORIES, FLOWER, PRE_ROLL, QuantityMix, Template, templates};
use crate::rng::{Purpose, Rng, Weighted};
use crate::spec::{DemoSpec, local_to_utc};

/// Consumables sold without a certificate of analysis on file (their potency is unknown).
const WITHOUT_COA: usize = 5;
/// Flower and pre-rolls whose lab results exceed the 0.3 % Δ9-THC limit.
const OVER_LIMIT: usize = 4;
/// Share of products marked unavailable, per mille.
const UNAVAILABLE_PER_MILLE: u64 = 60;

/// The catalog plus what the day generator needs to draw from it.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    pub(crate) items: Vec<CatalogItem>,
    /// Picks a product for a line item by demand.
    pub(crate) demand: Weighted,
    /// Per product: its quantity mix.
    pub(crate) quantities: Vec<(Weighted, QuantityMix)>,
}

impl Catalog {
    pub(crate) fn new(spec: &DemoSpec) -> Self {
        let templates = templates();
        let mut rng = Rng::new(spec.seed, None, Purpose::Catalog);

        let consumables: Vec<usize> = (0..templates.len())
            .filter(|&i| templates[i].potency.is_some())
            .collect();
        let without_coa = choose(&mut rng, &consumables, WITHOUT_COA);
        let plant: Vec<usize> = consumables
            .iter()
            .copied()
            .filter(|&i| {
                let category = templates[i].category.code;
                (category == FLOWER.code || category == PRE_ROLL.code) && !without_coa.contains(&i)
            })
            .collect();
        let over_limit = choose(&mut rng, &plant, OVER_LIMIT);

        let demand = demand_weights(&templates, &mut rng);
        let days_back = u64::from(spec.days.clamp(1, 60));
        let items = templates
            .iter()
            .enumerate()
            .map(|(i, template)| {
                let has_coa = template.potency.is_some() && !without_coa.contains(&i);
                let thc = match template.potency {
                    _ if !has_coa => None,
                    _ if over_limit.contains(&i) => Some(rng.between(31, 48)),
                    Some((low, high)) => Some(rng.between(low, high)),
                    None => None,
                };
                let available = !rng.chance(UNAVAILABLE_PER_MILLE);
                let on_hand = if available { rng.between(4, 180) } else { 0 };
                // Staff update products before opening on some day in the last two months.
                let day = spec
                    .last_day
                    .checked_sub_days(Days::new(rng.below(days_back)))
                    .unwrap_or(spec.last_day);
                let local = day.and_time(NaiveTime::MIN)
                    + TimeDelta::hours(8)
                    + TimeDelta::seconds(rng.between(0, 7_199));
                let description = if has_coa || template.potency.is_none() {
                    template.description.clone()
                } else {
                    format!("{} Certificate of analysis pending.", template.description)
                };
                CatalogItem {
                    product_id: format!(
                        "demo-{}-{:03}",
                        template.category.code.to_lowercase(),
                        i + 1
                    ),
                    source: Source::Demo,
                    name: template.name.clone(),
                    description,
                    sku: format!("{}-{:04}", template.category.code, 1001 + i),
                    category: template.category.name.to_owned(),
                    price_cents: template.price_cents,
                    currency: "USD".to_owned(),
                    available,
                    updated_at: updated_at(spec, local),
                    has_certificate_of_analysis: has_coa,
                    delta9_thc_basis_points: thc,
                    quantity_on_hand: Some(on_hand),
                }
            })
            .collect();
        let quantities = templates
            .iter()
            .map(|t| {
                let mix = t.category.quantities;
                (Weighted::new(mix.iter().map(|&(_, w)| w)), mix)
            })
            .collect();
        Self {
            items,
            demand,
            quantities,
        }
    }
}

fn updated_at(spec: &DemoSpec, local: chrono::NaiveDateTime) -> DateTime<Utc> {
    local_to_utc(spec.time_zone, local)
}

/// `count` distinct entries of `from` (all of them if it is shorter), by partial shuffle.
fn choose(rng: &mut Rng, from: &[usize], count: usize) -> Vec<usize> {
    let mut pool = from.to_vec();
    let count = count.min(pool.len());
    for i in 0..count {
        let j = i + rng.below((pool.len() - i) as u64) as usize;
        pool.swap(i, j);
    }
    pool.truncate(count);
    pool
}

/// Each category gets its share of demand; within it the seed ranks products and demand
/// falls off with rank (a few best sellers, a long tail).
fn demand_weights(templates: &[Template], rng: &mut Rng) -> Weighted {
    let mut weights = vec![0.0f64; templates.len()];
    for category in CATEGORIES {
        let members: Vec<usize> = (0..templates.len())
            .filter(|&i| templates[i].category.code == category.code)
            .collect();
        let ranked = choose(rng, &members, members.len());
        let raw: Vec<(usize, f64)> = ranked
            .iter()
            .enumerate()
            .map(|(rank, &i)| (i, templates[i].popularity / ((rank + 1) as f64).powf(0.7)))
            .collect();
        let sum: f64 = raw.iter().map(|&(_, w)| w).sum();
        for (i, w) in raw {
            weights[i] = category.share as f64 * w / sum;
        }
    }
    Weighted::new(weights.into_iter().map(|w| (w * 1e7).round() as u64))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn about_150_products_with_unique_ids_and_skus() {
        let spec = DemoSpec::new(7, NaiveDate::from_ymd_opt(2025, 6, 1).unwrap());
        let catalog = Catalog::new(&spec);
        let items = &catalog.items;
        assert!((140..=160).contains(&items.len()), "{}", items.len());
        let ids: std::collections::HashSet<_> = items.iter().map(|i| &i.product_id).collect();
        let skus: std::collections::HashSet<_> = items.iter().map(|i| &i.sku).collect();
        assert_eq!(ids.len(), items.len());
        assert_eq!(skus.len(), items.len());
        assert_eq!(catalog.quantities.len(), items.len());
        assert!(items.iter().all(|i| i.price_cents > 0));
    }
}
