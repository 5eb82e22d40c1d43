//! Loading demo data into a warehouse: idempotent, streamed, in bounded memory.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;
use vibe_warehouse::{LineItem, Order, Payment, Source, TimeRange, Warehouse};

use crate::generator::{Generator, SalesCounts};
use crate::spec::DemoSpec;
use crate::{DayRows, DemoError};

/// Days are gathered until a batch holds this many payments (about twice as many line
/// items come with them).
const BATCH_PAYMENTS: usize = 50_000;
/// No insert call carries more rows than this.
const MAX_ROWS_PER_INSERT: usize = 100_000;
/// Batches generated ahead of the inserts: generation overlaps the warehouse's work while
/// memory stays bounded to a few batches.
const BATCHES_AHEAD: usize = 2;
/// How many of the newest payments are compared to decide the data is this spec's.
const FINGERPRINT_PAYMENTS: usize = 25;

/// Where the seeder reports progress, counted in payments.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar on stderr when stderr is a terminal; hidden otherwise (logs, CI, tests).
    pub fn auto() -> Self {
        if std::io::stderr().is_terminal() {
            Self::from_bar(ProgressBar::new(0))
        } else {
            Self::hidden()
        }
    }

    pub fn hidden() -> Self {
        Self::from_bar(ProgressBar::hidden())
    }

    /// Any bar, e.g. one of a `MultiProgress`; its length and style are set by the seeder.
    pub fn from_bar(bar: ProgressBar) -> Self {
        Self { bar }
    }

    fn start(&self, payments: u64) {
        let style = ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {human_pos}/{human_len} payments, {per_sec}, eta {eta}",
        )
        .map(|style| style.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        self.bar.set_style(style);
        self.bar.set_length(payments);
        self.bar.set_position(0);
        self.bar.set_message("seeding demo data");
        self.bar.enable_steady_tick(Duration::from_millis(200));
    }
}

/// What the seeder found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedAction {
    /// The warehouse already held exactly this spec's rows; no sales rows were written.
    AlreadySeeded,
    /// There were no demo rows; everything was inserted.
    Seeded,
    /// Other demo rows were there (an interrupted run or another spec): they were deleted
    /// and everything was inserted.
    Reseeded { found: SalesCounts },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedOutcome {
    pub action: SeedAction,
    /// The spec's rows, now in the warehouse.
    pub rows: SalesCounts,
    /// Sales rows written by this run (zero when already seeded).
    pub inserted: SalesCounts,
    /// Catalog items upserted (replacing identical rows when already seeded).
    pub catalog_items: u64,
}

/// Loads `spec`'s demo data into `warehouse` (already migrated).
///
/// Demo rows are looked for well beyond the spec's own period ([`DemoSpec::MAX_DAYS`] on
/// both sides), so a run whose period moved — `last_day` is
/// usually today — also clears what an earlier run left outside the new period. Exactly
/// the expected counts there, with the newest payments matching, means nothing to do;
/// none means insert; anything else means delete the demo rows and insert. Days are
/// generated on a blocking thread a few batches ahead of the inserts; within a batch,
/// orders and line items are written before the payments that refer to them.
pub async fn seed(
    warehouse: &dyn Warehouse,
    spec: &DemoSpec,
    progress: Progress,
) -> Result<SeedOutcome, DemoError> {
    let owned = spec.clone();
    let (generator, newest) = tokio::task::spawn_blocking(move || {
        let generator = Generator::new(owned)?;
        let newest = newest_payments(&generator);
        Ok::<_, DemoError>((Arc::new(generator), newest))
    })
    .await
    .map_err(|e| DemoError::Generator(e.to_string()))??;
    let expected = generator.expected();
    let sweep = sweep_range(spec);

    let found = SalesCounts::from_warehouse(warehouse.count_sales_rows(Source::Demo, sweep).await?);
    let action = if found == expected && stored_newest_match(warehouse, spec, &newest).await? {
        SeedAction::AlreadySeeded
    } else if found.is_zero() {
        SeedAction::Seeded
    } else {
        SeedAction::Reseeded { found }
    };
    if let SeedAction::Reseeded { .. } = action {
        warehouse.delete_sales_rows(Source::Demo, sweep).await?;
    }
    // Upserting by product id replaces identical rows on a re-run, and restores the
    // catalog a delete above removed.
    warehouse.upsert_catalog_items(generator.catalog()).await?;
    let catalog_items = generator.catalog().len() as u64;

    let inserted = if action == SeedAction::AlreadySeeded {
        progress.bar.finish_and_clear();
        SalesCounts::default()
    } else {
        progress.start(expected.payments);
        let inserted = insert_all(warehouse, generator, &progress).await;
        match &inserted {
            Ok(_) => progress.bar.finish_with_message("demo data seeded"),
            Err(_) => progress
                .bar
                .abandon_with_message("demo data seeding failed"),
        }
        inserted?
    };
    tracing::info!(
        backend = warehouse.backend(),
        seed = spec.seed,
        action = ?action,
        payments = expected.payments,
        orders = expected.orders,
        line_items = expected.line_items,
        inserted_payments = inserted.payments,
        "demo data ready"
    );
    Ok(SeedOutcome {
        action,
        rows: expected,
        inserted,
        catalog_items,
    })
}

/// Where demo rows of this or an earlier spec may be: the spec's period widened by
/// [`DemoSpec::MAX_DAYS`] on each side, which covers any earlier period that overlapped
/// or touched a window of that size around this one.
fn sweep_range(spec: &DemoSpec) -> TimeRange {
    let widen = chrono::Days::new(u64::from(DemoSpec::MAX_DAYS));
    let range = spec.time_range();
    TimeRange {
        start: range.start.checked_sub_days(widen).unwrap_or(range.start),
        end: range.end.checked_add_days(widen).unwrap_or(range.end),
    }
}

/// The last day with sales and its newest payments, newest first.
fn newest_payments(generator: &Generator) -> Option<(chrono::NaiveDate, Vec<Payment>)> {
    let day = generator.plan().iter().rev().find(|day| day.payments > 0)?;
    let rows = generator.rows(day);
    Some((
        day.date,
        rows.payments
            .into_iter()
            .rev()
            .take(FINGERPRINT_PAYMENTS)
            .collect(),
    ))
}

/// Equal counts could still be another seed's data: the newest demo payments stored on
/// the last day must be this spec's (other sources' payments in between are skipped).
async fn stored_newest_match(
    warehouse: &dyn Warehouse,
    spec: &DemoSpec,
    newest: &Option<(chrono::NaiveDate, Vec<Payment>)>,
) -> Result<bool, DemoError> {
    let Some((date, expected)) = newest else {
        return Ok(true);
    };
    let stored = warehouse
        .recent_payments(spec.day_range(*date), FINGERPRINT_PAYMENTS as u32)
        .await?;
    let demo: Vec<&Payment> = stored.iter().filter(|p| p.source == Source::Demo).collect();
    let same = |a: &Payment, b: &Payment| {
        a.payment_id == b.payment_id
            && a.amount_cents == b.amount_cents
            && a.status == b.status
            && a.customer_id == b.customer_id
    };
    Ok(!demo.is_empty()
        && demo.len() <= expected.len()
        && demo.iter().zip(expected).all(|(a, b)| same(a, b)))
}

#[derive(Default)]
struct Batch {
    payments: Vec<Payment>,
    orders: Vec<Order>,
    line_items: Vec<LineItem>,
}

impl Batch {
    fn push(&mut self, day: DayRows) {
        self.payments.extend(day.payments);
        self.orders.extend(day.orders);
        self.line_items.extend(day.line_items);
    }

    fn is_empty(&self) -> bool {
        self.payments.is_empty() && self.orders.is_empty() && self.line_items.is_empty()
    }
}

async fn insert_all(
    warehouse: &dyn Warehouse,
    generator: Arc<Generator>,
    progress: &Progress,
) -> Result<SalesCounts, DemoError> {
    let (sender, mut batches) = mpsc::channel::<Batch>(BATCHES_AHEAD);
    let producer = tokio::task::spawn_blocking(move || {
        let mut batch = Batch::default();
        for day in generator.days() {
            batch.push(day);
            // A send fails only when the inserting side gave up (an error, or the seed was
            // cancelled): stop generating.
            if batch.payments.len() >= BATCH_PAYMENTS
                && sender.blocking_send(std::mem::take(&mut batch)).is_err()
            {
                return;
            }
        }
        if !batch.is_empty() {
            let _ = sender.blocking_send(batch);
        }
    });

    let mut inserted = SalesCounts::default();
    while let Some(batch) = batches.recv().await {
        for chunk in batch.orders.chunks(MAX_ROWS_PER_INSERT) {
            warehouse.insert_orders(chunk).await?;
        }
        for chunk in batch.line_items.chunks(MAX_ROWS_PER_INSERT) {
            warehouse.insert_line_items(chunk).await?;
        }
        for chunk in batch.payments.chunks(MAX_ROWS_PER_INSERT) {
            warehouse.insert_payments(chunk).await?;
        }
        inserted.payments += batch.payments.len() as u64;
        inserted.orders += batch.orders.len() as u64;
        inserted.line_items += batch.line_items.len() as u64;
        progress.bar.inc(batch.payments.len() as u64);
    }
    producer
        .await
        .map_err(|e| DemoError::Generator(e.to_string()))?;
    Ok(inserted)
}
