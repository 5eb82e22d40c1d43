//! The integration domain: the revenue dashboard, sales history, the product catalog
//! and top sellers — computed by the warehouse, served from the shared cache.
//!
//! Invariants: every number is the warehouse's aggregate over UTC ranges that this crate
//! derives from the store's calendar (time zones are handled here, never in SQL); money
//! is integer cents; every answer says how fresh it is; bad requests fail with every
//! offending field named. Knows nothing of protobuf.

mod catalog;
mod dashboard;
mod error;
mod history;
mod model;
mod store;
mod watch;

pub use catalog::{
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Product, ProductList, ProductsRequest, TopProductsRequest,
};
pub use dashboard::{CacheKind, Clock, Dashboard, compute_dashboard};
pub use error::{FieldViolation, IntegrationError};
pub use history::{HistoryRequest, MAX_DAYS, MAX_MONTHS, YearMonth};
pub use model::{
    DashboardSnapshot, History, HistoryPoint, ProductSales, RecentTransaction, TopProducts, Totals,
    WindowSummary, average_cents,
};
pub use store::{Store, Window, Windows};
