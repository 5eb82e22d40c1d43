//! How failures reach callers: rejected rows name the row and the field, never values.

use chrono::{TimeZone, Utc};
use gcp_bigquery_client::model::query_request::QueryRequest;
use vibe_warehouse::schema::PAYMENTS;
use vibe_warehouse::{Payment, SaleStatus, Source, TimeRange, Warehouse, WarehouseError};

use crate::common;

#[tokio::test]
async fn rejected_rows_name_the_row_and_field_only() {
    let Some((warehouse, _dataset)) = common::warehouse("rejected_rows").await else {
        return;
    };
    warehouse.migrate().await.expect("migrate");
    // A payments table from before `card_brand` existed.
    let settings = warehouse.settings().clone();
    let client = warehouse.client();
    client
        .table()
        .delete(&settings.project, &settings.dataset, PAYMENTS.name)
        .await
        .expect("drop");
    let mut request = QueryRequest::new(format!(
        "CREATE TABLE `{}.payments` (payment_id STRING, source STRING, location_id STRING, \
         customer_id STRING, order_id STRING, amount_cents INT64, currency STRING, \
         status STRING, created_at TIMESTAMP, updated_at TIMESTAMP, business_date DATE) \
         PARTITION BY DATE(created_at) OPTIONS (require_partition_filter = true)",
        settings.dataset
    ));
    request.location = Some(settings.location.clone());
    client
        .job()
        .query(&settings.project, request)
        .await
        .expect("old table");

    let at = Utc
        .with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
        .single()
        .expect("instant");
    let rows: Vec<Payment> = (0..3)
        .map(|i| Payment {
            payment_id: format!("secret-payment-{i}"),
            source: Source::Square,
            location_id: "loc".to_owned(),
            customer_id: Some("secret-customer".to_owned()),
            order_id: None,
            amount_cents: 100,
            currency: "USD".to_owned(),
            status: SaleStatus::Completed,
            created_at: at,
            updated_at: at,
            business_date: at.date_naive(),
            card_brand: Some("SECRET-BRAND".to_owned()),
        })
        .collect();
    let error = warehouse.insert_payments(&rows).await.err();
    let Some(WarehouseError::Rejected(message)) = error else {
        panic!("expected a rejection, got {error:?}");
    };
    assert!(message.contains("row 0"), "{message}");
    assert!(message.contains("card_brand"), "{message}");
    assert!(
        !message.contains("secret") && !message.contains("SECRET"),
        "{message}"
    );

    // Nothing of the batch was written.
    let day = TimeRange {
        start: at - chrono::Duration::days(1),
        end: at + chrono::Duration::days(1),
    };
    assert_eq!(
        warehouse
            .count_sales_rows(Source::Square, day)
            .await
            .expect("count"),
        [0, 0, 0]
    );
}
