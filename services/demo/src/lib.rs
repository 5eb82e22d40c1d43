//! Deterministic synthetic demo data for the embedded warehouse (`vibe seed`,
//! `vibe up --demo`).
//!
//! [`Generator`] is pure: a [`DemoSpec`] (seed, period, size, time zone) gives the catalog
//! and, per business day, orders with line items and one payment each, every random
//! choice drawn from a stream keyed by (seed, date) so any day regenerates identically
//! on its own. [`seed`] streams those days into a [`Warehouse`](vibe_warehouse::Warehouse)
//! in batches and is idempotent: a re-run with the same spec writes nothing new.
//!
//! Every row carries `Source::Demo`, so demo data never mixes with synced sales.

mod calendar;
mod catalog;
mod day;
mod generator;
mod plan;
mod products;
mod rng;
mod seed;
mod spec;

pub use calendar::{OpeningHours, opening_hours};
pub use day::{CURRENCY, DayRows, LOCATION_ID, SALES_TAX_BASIS_POINTS, sales_tax_cents};
pub use generator::{Generator, SalesCounts};
pub use plan::DayPlan;
pub use seed::{Progress, SeedAction, SeedOutcome, seed};
pub use spec::DemoSpec;

/// Why demo data could not be generated or stored.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("invalid demo spec: {0}")]
    InvalidSpec(String),
    #[error(transparent)]
    Warehouse(#[from] vibe_warehouse::WarehouseError),
    /// The generator thread stopped without finishing (it panicked or was cancelled).
    #[error("demo data generator stopped: {0}")]
    Generator(String),
}
