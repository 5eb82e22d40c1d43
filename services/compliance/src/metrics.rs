//! `GetComplianceMetrics`: attempts by outcome and reason, catalog compliance and the
//! verification coverage of buying customers — each counted by the warehouse — and the
//! Texas readiness score computed from them by the formula in the contract.

use chrono::{DateTime, Utc};
use vibe_warehouse::{AttemptStats, ProductCompliance, TimeRange};

use crate::error::ComplianceError;
use crate::verify::Reason;
use crate::{Compliance, RETENTION};

/// Every attempt outcome, in the contract's order.
pub const OUTCOMES: [&str; 3] = ["verified", "rejected", "rate_limited"];

/// Every reason, in the contract's order.
pub const REASONS: [Reason; 4] = [
    Reason::Verified,
    Reason::UnderMinimumAge,
    Reason::InvalidInput,
    Reason::RateLimited,
];

#[derive(Debug, Clone, PartialEq)]
pub struct AttemptMetrics {
    pub total: i64,
    pub verified: i64,
    pub rejected: i64,
    pub rate_limited: i64,
    /// verified / total over every attempt, rate-limited ones included; 0 without attempts.
    pub success_rate: f64,
    /// Every outcome of [`OUTCOMES`], zeros included.
    pub by_outcome: Vec<(&'static str, i64)>,
    /// Every reason of [`REASONS`], zeros included.
    pub by_reason: Vec<(Reason, i64)>,
    pub customers_attempted: i64,
    pub customers_verified: i64,
}

impl AttemptMetrics {
    fn from_stats(stats: &AttemptStats) -> Self {
        let count_where = |keep: &dyn Fn(&str, &str) -> bool| -> i64 {
            stats
                .counts
                .iter()
                .filter(|c| keep(&c.outcome, &c.reason))
                .map(|c| c.count)
                .sum()
        };
        let by_outcome: Vec<(&'static str, i64)> = OUTCOMES
            .iter()
            .map(|outcome| (*outcome, count_where(&|o, _| o == *outcome)))
            .collect();
        let by_reason = REASONS
            .iter()
            .map(|reason| (*reason, count_where(&|_, r| r == reason.as_str())))
            .collect();
        let total = count_where(&|_, _| true);
        let of = |outcome: &str| {
            by_outcome
                .iter()
                .find(|(o, _)| *o == outcome)
                .map_or(0, |(_, n)| *n)
        };
        let verified = of("verified");
        Self {
            total,
            verified,
            rejected: of("rejected"),
            rate_limited: of("rate_limited"),
            success_rate: share(verified, total),
            by_outcome,
            by_reason,
            customers_attempted: stats.customers_attempted,
            customers_verified: stats.customers_verified,
        }
    }
}

/// Verification coverage of the customers who bought in the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coverage {
    pub customers_transacting: i64,
    pub customers_transacting_verified: i64,
    pub coverage: f64,
}

/// The score and its components (see the contract's `TexasReadiness`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TexasReadiness {
    pub score: i32,
    pub coa_component: f64,
    pub thc_component: f64,
    pub verification_component: f64,
}

impl TexasReadiness {
    /// score = round_half_up(100 × (0.4 × coa + 0.4 × thc + 0.2 × verification)).
    pub fn new(coa: f64, thc: f64, verification: f64) -> Self {
        let weighted = 100.0 * (0.4 * coa + 0.4 * thc + 0.2 * verification);
        // A hair above the half so that 72.5 computed as 72.4999... still rounds up.
        let score = (weighted + 0.5 + 1e-9).floor().clamp(0.0, 100.0);
        Self {
            // Clamped to 0..=100 above, so the cast cannot truncate.
            #[allow(clippy::cast_possible_truncation)]
            score: score as i32,
            coa_component: coa,
            thc_component: thc,
            verification_component: verification,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComplianceMetrics {
    pub attempts: AttemptMetrics,
    pub products: ProductCompliance,
    pub coa_share: f64,
    /// Products with known Δ9-THC within the limit, over all products (unknown potency
    /// counts as not demonstrated).
    pub within_thc_limit_share: f64,
    pub coverage: Coverage,
    pub readiness: TexasReadiness,
    /// When the catalog was measured.
    pub as_of: DateTime<Utc>,
}

/// `part / whole`, 0 when the whole is 0.
fn share(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        // Counts of rows: far below 2^52, exact as f64.
        #[allow(clippy::cast_precision_loss)]
        let ratio = part as f64 / whole as f64;
        ratio
    }
}

impl Compliance {
    /// Metrics over `[start, end)`; both are required, `end` after `start`, at most the
    /// retention period apart.
    pub async fn metrics(
        &self,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Result<ComplianceMetrics, ComplianceError> {
        let window = checked_window(start, end)?;
        let as_of = (self.clock)();
        let (stats, products, coverage) = tokio::join!(
            self.warehouse.attempt_stats(window),
            self.warehouse
                .product_compliance(self.settings.thc_limit_basis_points),
            self.coverage(window),
        );
        let products = products?;
        let coverage = coverage?;
        let coa_share = share(products.with_certificate_of_analysis, products.total);
        let within_thc_limit_share = share(products.within_thc_limit, products.total);
        Ok(ComplianceMetrics {
            attempts: AttemptMetrics::from_stats(&stats?),
            products,
            coa_share,
            within_thc_limit_share,
            coverage,
            readiness: TexasReadiness::new(coa_share, within_thc_limit_share, coverage.coverage),
            as_of,
        })
    }

    /// Buying customers are known by id in the sales tables and by keyed hash in the
    /// verifications: the warehouse lists the first, this process hashes them, and the
    /// warehouse counts the verified ones.
    async fn coverage(&self, window: TimeRange) -> Result<Coverage, ComplianceError> {
        let customers = self.warehouse.transacting_customers(window).await?;
        let transacting = i64::try_from(customers.len()).unwrap_or(i64::MAX);
        // Tens of thousands of HMACs are CPU work: off the async threads.
        let keyring = self.keyring.clone();
        let keys: Vec<String> = tokio::task::spawn_blocking(move || {
            customers
                .iter()
                .map(|id| keyring.customer_key(id))
                .collect()
        })
        .await
        .map_err(|error| ComplianceError::Internal(format!("hashing customer ids: {error}")))?;
        // A verification valid during the window was made before its end and within one
        // validity period (plus a day of slack) before its start.
        let made = TimeRange {
            start: window
                .start
                .checked_sub_signed(self.settings.validity + chrono::Duration::days(1))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            end: window.end,
        };
        let verified = self
            .warehouse
            .count_verified_customers(&keys, made, window.start)
            .await?;
        Ok(Coverage {
            customers_transacting: transacting,
            customers_transacting_verified: verified,
            coverage: share(verified, transacting),
        })
    }
}

/// A required, ordered window of at most the retention period.
pub(crate) fn checked_window(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Result<TimeRange, ComplianceError> {
    let (start, end) = match (start, end) {
        (None, _) => return Err(ComplianceError::invalid("start_time", "is required")),
        (_, None) => return Err(ComplianceError::invalid("end_time", "is required")),
        (Some(start), Some(end)) => (start, end),
    };
    if end <= start {
        return Err(ComplianceError::invalid(
            "end_time",
            "must be after start_time",
        ));
    }
    if end - start > RETENTION {
        return Err(ComplianceError::invalid(
            "end_time",
            "must be at most 2555 days after start_time",
        ));
    }
    Ok(TimeRange { start, end })
}

#[cfg(test)]
mod tests {
    use vibe_warehouse::AttemptCount;

    use super::*;

    #[test]
    fn readiness_follows_the_contract_formula() {
        assert_eq!(TexasReadiness::new(1.0, 1.0, 1.0).score, 100);
        assert_eq!(TexasReadiness::new(0.0, 0.0, 0.0).score, 0);
        // 100 × (0.4 × 0.5 + 0.4 × 0.25 + 0.2 × 0.125) = 32.5 → 33 (half up).
        assert_eq!(TexasReadiness::new(0.5, 0.25, 0.125).score, 33);
        // 100 × (0.4 × 0.9 + 0.4 × 0.6 + 0.2 × 0.2) = 64.
        assert_eq!(TexasReadiness::new(0.9, 0.6, 0.2).score, 64);
    }

    #[test]
    fn success_rate_counts_every_attempt() {
        let count = |outcome: &str, reason: &str, count| AttemptCount {
            outcome: outcome.to_owned(),
            reason: reason.to_owned(),
            count,
        };
        let stats = AttemptStats {
            counts: vec![
                count("rate_limited", "rate_limited", 1),
                count("rejected", "invalid_input", 2),
                count("rejected", "under_minimum_age", 1),
                count("verified", "verified", 1),
            ],
            customers_attempted: 2,
            customers_verified: 1,
        };
        let metrics = AttemptMetrics::from_stats(&stats);
        assert_eq!(metrics.total, 5);
        assert!((metrics.success_rate - 0.2).abs() < 1e-12);
        assert_eq!(
            metrics.by_outcome,
            [("verified", 1), ("rejected", 3), ("rate_limited", 1)]
        );
        assert_eq!(
            metrics.by_reason,
            [
                (Reason::Verified, 1),
                (Reason::UnderMinimumAge, 1),
                (Reason::InvalidInput, 2),
                (Reason::RateLimited, 1)
            ]
        );
        let empty = AttemptMetrics::from_stats(&AttemptStats::default());
        assert_eq!((empty.total, empty.success_rate), (0, 0.0));
    }

    #[test]
    fn windows_are_required_ordered_and_bounded() {
        let t = Utc::now();
        let field = |result: Result<TimeRange, ComplianceError>| match result {
            Err(ComplianceError::InvalidArgument { violations, .. }) => violations[0].field,
            other => panic!("expected invalid argument, got {other:?}"),
        };
        assert_eq!(field(checked_window(None, Some(t))), "start_time");
        assert_eq!(field(checked_window(Some(t), None)), "end_time");
        assert_eq!(field(checked_window(Some(t), Some(t))), "end_time");
        let long = t + RETENTION + chrono::Duration::seconds(1);
        assert_eq!(field(checked_window(Some(t), Some(long))), "end_time");
        assert!(checked_window(Some(t), Some(t + RETENTION)).is_ok());
    }
}
