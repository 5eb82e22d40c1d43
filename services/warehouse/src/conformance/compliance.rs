//! Conformance checks of the compliance tables and the audit trail's pages.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use super::{audit, base, item, migrated, ok, payment, range, within};
use crate::{
    AgeVerification, AttemptCount, AuditCursor, AuditEvent, AuditFilter, TimeRange,
    VerificationAttempt, Warehouse,
};

fn attempt(
    id: &str,
    at: DateTime<Utc>,
    customer: &str,
    outcome: &str,
    reason: &str,
) -> VerificationAttempt {
    VerificationAttempt {
        attempt_id: id.to_owned(),
        attempted_at: at,
        customer_key: customer.to_owned(),
        outcome: outcome.to_owned(),
        reason: reason.to_owned(),
        failed_fields: if reason == "invalid_input" {
            "state".to_owned()
        } else {
            String::new()
        },
        method: "self_attested".to_owned(),
        age: (reason != "invalid_input").then_some(30),
        state: "TX".to_owned(),
        verification_id: (outcome == "verified").then(|| format!("ver-{id}")),
        principal: "staff-7".to_owned(),
        request_id: format!("req-{id}"),
        client_ip: "10.0.0.7".to_owned(),
        user_agent: "cockpit/1.0".to_owned(),
        pii_key_id: "k1".to_owned(),
        pii_ciphertext: format!("sealed-{id}"),
    }
}

fn verification(id: &str, at: DateTime<Utc>, customer: &str) -> AgeVerification {
    AgeVerification {
        verification_id: id.to_owned(),
        verified_at: at,
        expires_at: at + Duration::days(365),
        customer_key: customer.to_owned(),
        method: "self_attested".to_owned(),
        attempt_id: format!("att-{id}"),
        principal: "staff-7".to_owned(),
        pii_key_id: "k1".to_owned(),
        pii_ciphertext: format!("sealed-{id}"),
    }
}

fn any_event(range: TimeRange) -> AuditFilter {
    AuditFilter {
        range,
        principal: None,
        event_type: None,
        result: None,
        method: None,
    }
}

/// Follows cursors until a short page, `limit` events at a time.
async fn audit_pages(
    warehouse: &dyn Warehouse,
    filter: &AuditFilter,
    limit: u32,
) -> Vec<AuditEvent> {
    let mut all: Vec<AuditEvent> = Vec::new();
    for _ in 0..1_000 {
        let after = all.last().map(|last| AuditCursor {
            occurred_at: last.occurred_at,
            event_id: last.event_id.clone(),
        });
        let page = ok(
            warehouse
                .list_audit_events(filter, after.as_ref(), limit)
                .await,
            "list_audit_events",
        );
        let short = page.len() < usize::try_from(limit).unwrap_or(usize::MAX);
        all.extend(page);
        if short {
            return all;
        }
    }
    panic!("audit pages did not end");
}

pub async fn audit_pages_filter_and_find_ids(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let mut events = Vec::new();
    for i in 0..41_i64 {
        let mut event = audit(
            &format!("evt-{i:02}"),
            base() + Duration::minutes(i * 5 / 2),
        );
        if i % 3 == 0 {
            event.principal = "admin-1".to_owned();
            event.event_type = "auth".to_owned();
            event.result = "denied".to_owned();
        }
        if i % 4 == 0 {
            event.method = "/vibe.integration.v1.ComplianceService/VerifyAge".to_owned();
        }
        events.push(event);
    }
    // Three at one instant: pages must break the tie by event id across page boundaries.
    for id in ["tie-a", "tie-b", "tie-c"] {
        events.push(audit(id, base() + Duration::minutes(10)));
    }
    ok(
        warehouse.insert_audit_events(&events).await,
        "insert_audit_events",
    );
    let window = range(
        base() + Duration::minutes(3),
        base() + Duration::minutes(95),
    );
    let filters = [
        any_event(window),
        AuditFilter {
            principal: Some("admin-1".to_owned()),
            ..any_event(window)
        },
        AuditFilter {
            event_type: Some("auth".to_owned()),
            result: Some("denied".to_owned()),
            ..any_event(window)
        },
        AuditFilter {
            method: Some("/vibe.integration.v1.ComplianceService/VerifyAge".to_owned()),
            ..any_event(window)
        },
        AuditFilter {
            principal: Some("nobody".to_owned()),
            ..any_event(window)
        },
    ];
    for filter in &filters {
        let mut want: Vec<AuditEvent> = events
            .iter()
            .filter(|e| within(e.occurred_at, filter.range))
            .filter(|e| filter.principal.as_ref().is_none_or(|p| &e.principal == p))
            .filter(|e| {
                filter
                    .event_type
                    .as_ref()
                    .is_none_or(|t| &e.event_type == t)
            })
            .filter(|e| filter.result.as_ref().is_none_or(|r| &e.result == r))
            .filter(|e| filter.method.as_ref().is_none_or(|m| &e.method == m))
            .cloned()
            .collect();
        want.sort_by(|a, b| (b.occurred_at, &b.event_id).cmp(&(a.occurred_at, &a.event_id)));
        for limit in [1_u32, 4, 500] {
            assert_eq!(
                audit_pages(warehouse, filter, limit).await,
                want,
                "{filter:?} limit {limit}"
            );
        }
    }
    let asked: Vec<String> = ["evt-00", "evt-07", "evt-40", "evt-99"]
        .map(str::to_owned)
        .to_vec();
    let mut found = ok(
        warehouse
            .existing_audit_event_ids(&asked, range(base(), base() + Duration::days(1)))
            .await,
        "existing_audit_event_ids",
    );
    found.sort();
    assert_eq!(found, ["evt-00", "evt-07", "evt-40"]);
    // Outside the range nothing is found, even though the ids exist.
    let later = range(base() + Duration::days(1), base() + Duration::days(2));
    let found = ok(
        warehouse.existing_audit_event_ids(&asked, later).await,
        "ids",
    );
    assert!(found.is_empty(), "{found:?}");
}

pub async fn age_verification_reads(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let t = base();
    let verifications = [
        verification("v1", t, "cust-a"),
        verification("v2", t + Duration::days(10), "cust-a"),
        verification("v3", t + Duration::days(3), "cust-b"),
        // Same instant as v2: the higher id is the newer.
        verification("v2b", t + Duration::days(10), "cust-a"),
    ];
    ok(
        warehouse.insert_age_verifications(&verifications).await,
        "insert_age_verifications",
    );
    let attempts = [
        attempt("a1", t, "cust-a", "rejected", "invalid_input"),
        attempt(
            "a2",
            t + Duration::hours(5),
            "cust-a",
            "verified",
            "verified",
        ),
        attempt(
            "a3",
            t + Duration::days(2),
            "cust-b",
            "rate_limited",
            "rate_limited",
        ),
    ];
    ok(
        warehouse.insert_verification_attempts(&attempts).await,
        "insert_verification_attempts",
    );
    let all = range(t - Duration::days(30), t + Duration::days(30));
    let latest = ok(
        warehouse.latest_age_verification("cust-a", all).await,
        "latest",
    );
    assert_eq!(latest.as_ref(), Some(&verifications[3]));
    let early = range(t - Duration::days(1), t + Duration::days(5));
    let latest = ok(
        warehouse.latest_age_verification("cust-a", early).await,
        "latest",
    );
    assert_eq!(latest.as_ref(), Some(&verifications[0]));
    let none = ok(
        warehouse.latest_age_verification("cust-z", all).await,
        "latest",
    );
    assert_eq!(none, None);
    let last = ok(
        warehouse.latest_verification_attempt("cust-a", all).await,
        "last attempt",
    );
    assert_eq!(last, Some(t + Duration::hours(5)));
    let last = ok(
        warehouse.latest_verification_attempt("cust-z", all).await,
        "last attempt",
    );
    assert_eq!(last, None);
}

pub async fn attempt_stats_count_every_outcome(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let t = base();
    let kinds = [
        ("rejected", "invalid_input"),
        ("rejected", "under_minimum_age"),
        ("verified", "verified"),
        ("rate_limited", "rate_limited"),
    ];
    let customers = ["cust-a", "cust-b", "cust-c", ""];
    let mut attempts = Vec::new();
    for i in 0..60_i64 {
        let (outcome, reason) = kinds[usize::try_from(i * 7 % 4).unwrap_or(0)];
        let customer = customers[usize::try_from(i * 5 % 4).unwrap_or(0)];
        let at = t + Duration::minutes(i * 47);
        attempts.push(attempt(&format!("a{i:02}"), at, customer, outcome, reason));
    }
    ok(
        warehouse.insert_verification_attempts(&attempts).await,
        "insert_verification_attempts",
    );
    for window in [
        range(t + Duration::hours(3), t + Duration::hours(31)),
        range(t - Duration::days(1), t + Duration::days(3)),
        range(t - Duration::days(9), t - Duration::days(8)),
    ] {
        let inside: Vec<&VerificationAttempt> = attempts
            .iter()
            .filter(|a| within(a.attempted_at, window))
            .collect();
        let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
        for a in &inside {
            *counts
                .entry((a.outcome.clone(), a.reason.clone()))
                .or_default() += 1;
        }
        let want: Vec<AttemptCount> = counts
            .into_iter()
            .map(|((outcome, reason), count)| AttemptCount {
                outcome,
                reason,
                count,
            })
            .collect();
        let attempted: BTreeSet<&str> = inside
            .iter()
            .filter(|a| !a.customer_key.is_empty())
            .map(|a| a.customer_key.as_str())
            .collect();
        let verified: BTreeSet<&str> = inside
            .iter()
            .filter(|a| a.outcome == "verified")
            .map(|a| a.customer_key.as_str())
            .collect();
        let stats = ok(warehouse.attempt_stats(window).await, "attempt_stats");
        assert_eq!(stats.counts, want, "{window:?}");
        assert_eq!(
            stats.customers_attempted,
            i64::try_from(attempted.len()).unwrap_or(-1)
        );
        assert_eq!(
            stats.customers_verified,
            i64::try_from(verified.len()).unwrap_or(-1)
        );
    }
}

pub async fn product_compliance_counts(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let potencies = [None, Some(0), Some(29), Some(30), Some(31), Some(250)];
    let mut catalog = Vec::new();
    for i in 0..24_usize {
        let mut product = item(
            &format!("p{i:02}"),
            &format!("Product {i}"),
            "Flower",
            i % 5 != 0,
        );
        product.has_certificate_of_analysis = i % 3 != 0;
        product.delta9_thc_basis_points = potencies[i % potencies.len()];
        catalog.push(product);
    }
    ok(
        warehouse.upsert_catalog_items(&catalog).await,
        "upsert_catalog_items",
    );
    let available: Vec<_> = catalog.iter().filter(|p| p.available).collect();
    let count = |keep: &dyn Fn(&&&crate::CatalogItem) -> bool| {
        i64::try_from(available.iter().filter(keep).count()).unwrap_or(-1)
    };
    let got = ok(warehouse.product_compliance(30).await, "product_compliance");
    assert_eq!(got.total, count(&|_| true));
    assert_eq!(
        got.with_certificate_of_analysis,
        count(&|p| p.has_certificate_of_analysis)
    );
    assert_eq!(
        got.with_known_potency,
        count(&|p| p.delta9_thc_basis_points.is_some())
    );
    assert_eq!(
        got.within_thc_limit,
        count(&|p| p.delta9_thc_basis_points.is_some_and(|bp| bp <= 30))
    );
    assert_eq!(
        got.exceeding_thc_limit,
        count(&|p| p.delta9_thc_basis_points.is_some_and(|bp| bp > 30))
    );
    assert!(
        got.exceeding_thc_limit > 0 && got.within_thc_limit > 0,
        "{got:?}"
    );
}

pub async fn verification_coverage_counts(warehouse: &dyn Warehouse) {
    migrated(warehouse).await;
    let t = base();
    // 1,200 customers buy (more than one statement's worth of keys); a third of them
    // hold a verification, some expired before the window.
    let mut payments = Vec::new();
    for i in 0..1_200_i64 {
        let mut p = payment(&format!("pay-{i:04}"), t + Duration::minutes(i), 1_000);
        p.customer_id = Some(format!("cust-{i:04}"));
        payments.push(p);
    }
    // Not completed, anonymous, or outside the window: not transacting.
    let mut pending = payment("pay-pending", t, 500);
    pending.status = crate::SaleStatus::Pending;
    pending.customer_id = Some("cust-pending".to_owned());
    let mut anonymous = payment("pay-anon", t, 500);
    anonymous.customer_id = None;
    let mut before = payment("pay-before", t - Duration::days(2), 500);
    before.customer_id = Some("cust-before".to_owned());
    payments.extend([pending, anonymous, before]);
    ok(
        warehouse.insert_payments(&payments).await,
        "insert_payments",
    );
    let window = range(t, t + Duration::days(1));
    let mut customers = ok(warehouse.transacting_customers(window).await, "transacting");
    customers.sort();
    let want: Vec<String> = (0..1_200).map(|i| format!("cust-{i:04}")).collect();
    assert_eq!(customers, want);

    let mut verifications = Vec::new();
    for i in (0..1_200).step_by(3) {
        let made = if i % 2 == 0 {
            t - Duration::days(30)
        } else {
            // Expired an hour before the window starts, though made inside `made` below.
            t - Duration::days(365) - Duration::hours(1)
        };
        verifications.push(verification(
            &format!("v{i:04}"),
            made,
            &format!("cust-{i:04}"),
        ));
    }
    // Twice verified counts once.
    verifications.push(verification("v-again", t - Duration::days(2), "cust-0000"));
    ok(
        warehouse.insert_age_verifications(&verifications).await,
        "insert_age_verifications",
    );
    let made = range(window.start - Duration::days(366), window.end);
    let got = ok(
        warehouse
            .count_verified_customers(&customers, made, window.start)
            .await,
        "count_verified_customers",
    );
    let valid = (0..1_200).step_by(3).filter(|i| i % 2 == 0).count();
    assert_eq!(got, i64::try_from(valid).unwrap_or(-1));
    let none = ok(
        warehouse
            .count_verified_customers(&[], made, window.start)
            .await,
        "no keys",
    );
    assert_eq!(none, 0);
}
