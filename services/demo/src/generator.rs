//! The pure generator: a spec in, the catalog and each day's rows out.

use chrono::NaiveDate;
use vibe_warehouse::CatalogItem;

use crate::DemoError;
use crate::catalog::Catalog;
use crate::day::{self, DayRows, Tables};
use crate::plan::{self, DayPlan};
use crate::spec::DemoSpec;

/// Row counts of the sales tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SalesCounts {
    pub payments: u64,
    pub orders: u64,
    pub line_items: u64,
}

impl SalesCounts {
    /// From the warehouse's `[payments, orders, line_items]`.
    pub fn from_warehouse(counts: [i64; 3]) -> Self {
        let [payments, orders, line_items] = counts.map(|c| c.max(0) as u64);
        Self {
            payments,
            orders,
            line_items,
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    pub fn add(&mut self, rows: &DayRows) {
        self.payments += rows.payments.len() as u64;
        self.orders += rows.orders.len() as u64;
        self.line_items += rows.line_items.len() as u64;
    }
}

/// Demo data for one spec. Building it plans the days (which costs one random draw per
/// order, to count line items); each day's rows are generated on demand from the seed
/// and the date, so days can be produced in any order, alone, and in bounded memory.
pub struct Generator {
    spec: DemoSpec,
    catalog: Catalog,
    tables: Tables,
    plan: Vec<DayPlan>,
    expected: SalesCounts,
}

impl Generator {
    pub fn new(spec: DemoSpec) -> Result<Self, DemoError> {
        spec.validate()?;
        let catalog = Catalog::new(&spec);
        let plan = plan::plan(&spec);
        let expected = plan.iter().fold(SalesCounts::default(), |mut sum, day| {
            sum.payments += day.payments;
            sum.orders += day.payments;
            sum.line_items += day.line_items;
            sum
        });
        Ok(Self {
            spec,
            catalog,
            tables: Tables::new(),
            plan,
            expected,
        })
    }

    pub fn spec(&self) -> &DemoSpec {
        &self.spec
    }

    /// The products, each with a stable `demo-…` id.
    pub fn catalog(&self) -> &[CatalogItem] {
        &self.catalog.items
    }

    /// Every business day with its counts, oldest first.
    pub fn plan(&self) -> &[DayPlan] {
        &self.plan
    }

    /// Rows across all days.
    pub fn expected(&self) -> SalesCounts {
        self.expected
    }

    /// One day's rows; `None` for a date outside the period.
    pub fn day(&self, date: NaiveDate) -> Option<DayRows> {
        let first = self.plan.first()?.date;
        let index = usize::try_from((date - first).num_days()).ok()?;
        self.plan.get(index).map(|day| self.rows(day))
    }

    /// Every day's rows, oldest first, generated as the iterator advances.
    pub fn days(&self) -> impl Iterator<Item = DayRows> + '_ {
        self.plan.iter().map(|day| self.rows(day))
    }

    pub(crate) fn rows(&self, day: &DayPlan) -> DayRows {
        day::generate(&self.spec, &self.catalog, &self.tables, day)
    }
}
