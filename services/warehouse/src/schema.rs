//! The schema registry: every warehouse table, declared once for both backends. DuckDB
//! creates the columns as they are; BigQuery also partitions, clusters and expires them.
//! Column names are the row structs' field names (see [`crate::record`]).

/// A column's type, mapped by each backend to its own SQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    String,
    Int64,
    Bool,
    /// A UTC instant, microsecond precision (DuckDB `TIMESTAMP`, never `TIMESTAMPTZ`).
    Timestamp,
    Date,
    /// A JSON object kept as text (BigQuery `STRING`, DuckDB `VARCHAR`): queried rarely,
    /// and plain text keeps both backends and the emulator alike.
    JsonText,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    /// `NOT NULL` / `REQUIRED` when the table is created. Columns added later by a
    /// migration are always nullable (existing rows have no value).
    pub required: bool,
    pub doc: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub doc: &'static str,
    /// In the order rows are written and read.
    pub columns: &'static [Column],
    /// A `Timestamp` column: BigQuery partitions by `DATE(col)` (UTC days).
    pub partition_by: Option<&'static str>,
    /// BigQuery rejects queries without a filter on `partition_by`.
    pub require_partition_filter: bool,
    /// BigQuery clustering, at most four columns, most selective filter first.
    pub cluster_by: &'static [&'static str],
    /// BigQuery drops partitions older than this (Texas keeps sales and audit 7 years).
    pub partition_expiration_days: Option<u32>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|column| column.name == name)
    }

    /// `a, b, c`: every column in registry order, for inserts and selects.
    /// `alias.a, alias.b, ...` over every column.
    pub fn column_list_of(&self, alias: &str) -> String {
        self.columns
            .iter()
            .map(|column| format!("{alias}.{}", column.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|column| column.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Seven years of daily partitions.
pub const RETENTION_DAYS: u32 = 2555;

const fn req(name: &'static str, ty: ColumnType, doc: &'static str) -> Column {
    Column {
        name,
        ty,
        required: true,
        doc,
    }
}

const fn opt(name: &'static str, ty: ColumnType, doc: &'static str) -> Column {
    Column {
        name,
        ty,
        required: false,
        doc,
    }
}

use ColumnType::{Bool, Date, Int64, JsonText, String as Str, Timestamp};

pub const PAYMENTS: Table = Table {
    name: "payments",
    doc: "One row per payment (a dashboard transaction); only completed ones count.",
    columns: &[
        req("payment_id", Str, "Source-assigned id, unique per source."),
        req("source", Str, "square, lightspeed or demo."),
        req("location_id", Str, "Store location."),
        opt("customer_id", Str, "Null for anonymous sales."),
        opt("order_id", Str, "The order paid, when known."),
        req(
            "amount_cents",
            Int64,
            "Charged amount, tax included, in cents.",
        ),
        req("currency", Str, "ISO 4217."),
        req(
            "status",
            Str,
            "pending, approved, completed, cancelled or failed.",
        ),
        req("created_at", Timestamp, "When the payment was made (UTC)."),
        req("updated_at", Timestamp, "Last change at the source (UTC)."),
        req(
            "business_date",
            Date,
            "Local calendar date of created_at in the store's zone.",
        ),
        opt("card_brand", Str, "e.g. VISA, CASH."),
    ],
    partition_by: Some("created_at"),
    require_partition_filter: true,
    cluster_by: &["status", "customer_id"],
    partition_expiration_days: Some(RETENTION_DAYS),
};

pub const ORDERS: Table = Table {
    name: "orders",
    doc: "One row per order.",
    columns: &[
        req("order_id", Str, "Source-assigned id, unique per source."),
        req("source", Str, "square, lightspeed or demo."),
        req("location_id", Str, "Store location."),
        opt("customer_id", Str, "Null for anonymous sales."),
        req("total_cents", Int64, "Order total in cents."),
        req("currency", Str, "ISO 4217."),
        req(
            "status",
            Str,
            "pending, approved, completed, cancelled or failed.",
        ),
        req("created_at", Timestamp, "When the order was placed (UTC)."),
        req(
            "business_date",
            Date,
            "Local calendar date of created_at in the store's zone.",
        ),
    ],
    partition_by: Some("created_at"),
    require_partition_filter: true,
    cluster_by: &["status", "customer_id"],
    partition_expiration_days: Some(RETENTION_DAYS),
};

pub const LINE_ITEMS: Table = Table {
    name: "order_line_items",
    doc: "One row per order line; the order's time and status are copied on for top sellers.",
    columns: &[
        req("order_id", Str, "The order (same source as the order row)."),
        req(
            "line_number",
            Int64,
            "1-based; (order_id, line_number) is unique.",
        ),
        req("product_id", Str, "Catalog product id."),
        req("product_name", Str, "Name at the time of sale."),
        req("category", Str, "Category at the time of sale."),
        req("quantity", Int64, "Units sold."),
        req("unit_price_cents", Int64, "Unit price in cents."),
        req(
            "gross_cents",
            Int64,
            "quantity x unit price less line discounts, before tax.",
        ),
        req("currency", Str, "ISO 4217."),
        req("order_status", Str, "The order's status."),
        req("created_at", Timestamp, "The order's time (UTC)."),
        req(
            "business_date",
            Date,
            "Local calendar date of created_at in the store's zone.",
        ),
    ],
    partition_by: Some("created_at"),
    require_partition_filter: true,
    cluster_by: &["order_status", "product_id"],
    partition_expiration_days: Some(RETENTION_DAYS),
};

pub const CATALOG_ITEMS: Table = Table {
    name: "catalog_items",
    doc: "The current catalog, one row per product; small, so not partitioned.",
    columns: &[
        req(
            "product_id",
            Str,
            "Unique product id; an upsert replaces the row.",
        ),
        req("source", Str, "square, lightspeed or demo."),
        req("name", Str, "Display name."),
        req("description", Str, "Free text."),
        req("sku", Str, "Stock keeping unit."),
        req("category", Str, "Exact category."),
        req("price_cents", Int64, "List price in cents."),
        req("currency", Str, "ISO 4217."),
        req("available", Bool, "Offered for sale."),
        req("updated_at", Timestamp, "Last change at the source (UTC)."),
        req(
            "has_certificate_of_analysis",
            Bool,
            "A certificate of analysis is on file.",
        ),
        opt(
            "delta9_thc_basis_points",
            Int64,
            "Delta-9 THC, basis points of dry weight.",
        ),
        opt("quantity_on_hand", Int64, "Units in stock, when tracked."),
    ],
    partition_by: None,
    require_partition_filter: false,
    cluster_by: &["category"],
    partition_expiration_days: None,
};

pub const AUDIT_EVENTS: Table = Table {
    name: "audit_events",
    doc: "The audit trail (gateway and compliance), kept seven years.",
    columns: &[
        req("event_id", Str, "Unique event id."),
        req("occurred_at", Timestamp, "When it happened (UTC)."),
        req(
            "event_type",
            Str,
            "auth, authz, admin, data_access, security, compliance, system.",
        ),
        req("severity", Str, "info, warning, critical."),
        req("principal", Str, "Who acted."),
        req("role", Str, "The principal's role."),
        req("method", Str, "Full gRPC method."),
        req(
            "result",
            Str,
            "allowed, succeeded, denied, failed, rate_limited.",
        ),
        req("status_code", Int64, "gRPC status code."),
        req("request_id", Str, "Request id."),
        req("client_ip", Str, "Caller address."),
        req("user_agent", Str, "Caller user agent."),
        req("service", Str, "Service that handled the call."),
        req(
            "details",
            JsonText,
            "JSON object of strings; never tokens, bodies or raw PII.",
        ),
        opt("resource", Str, "What was acted on, as type/id; never PII."),
        opt("action", Str, "A short verb naming the action."),
    ],
    partition_by: Some("occurred_at"),
    require_partition_filter: true,
    cluster_by: &["event_type", "principal"],
    partition_expiration_days: Some(RETENTION_DAYS),
};

pub const VERIFICATION_ATTEMPTS: Table = Table {
    name: "age_verification_attempts",
    doc: "Every age-verification attempt, of every outcome; personal data only sealed.",
    columns: &[
        req("attempt_id", Str, "Unique attempt id."),
        req(
            "attempted_at",
            Timestamp,
            "When the attempt was made (UTC).",
        ),
        req(
            "customer_key",
            Str,
            "HMAC-SHA256 of the customer id (hex); empty if none was usable.",
        ),
        req("outcome", Str, "verified, rejected, rate_limited."),
        req(
            "reason",
            Str,
            "verified, under_minimum_age, invalid_input, rate_limited.",
        ),
        req(
            "failed_fields",
            Str,
            "Fields that failed validation, comma-separated.",
        ),
        req("method", Str, "self_attested."),
        opt(
            "age",
            Int64,
            "Whole years on the store's date, when checked.",
        ),
        req("state", Str, "Issuing state as entered."),
        opt(
            "verification_id",
            Str,
            "The verification this attempt produced.",
        ),
        req("principal", Str, "Who made the attempt."),
        req("request_id", Str, "Request id."),
        req("client_ip", Str, "Caller address."),
        req("user_agent", Str, "Caller user agent."),
        req(
            "pii_key_id",
            Str,
            "Id of the key that sealed pii_ciphertext.",
        ),
        req(
            "pii_ciphertext",
            Str,
            "Name, date of birth, ID digits: AES-256-GCM, base64.",
        ),
    ],
    partition_by: Some("attempted_at"),
    require_partition_filter: true,
    cluster_by: &["customer_key", "outcome"],
    partition_expiration_days: Some(RETENTION_DAYS),
};

pub const AGE_VERIFICATIONS: Table = Table {
    name: "age_verifications",
    doc: "Successful age verifications; a customer's newest one is their status.",
    columns: &[
        req("verification_id", Str, "Unique verification id."),
        req(
            "verified_at",
            Timestamp,
            "When the customer was verified (UTC).",
        ),
        req("expires_at", Timestamp, "verified_at + 365 days."),
        req("customer_key", Str, "HMAC-SHA256 of the customer id (hex)."),
        req("method", Str, "self_attested."),
        req("attempt_id", Str, "The attempt that verified."),
        req("principal", Str, "Who verified."),
        req(
            "pii_key_id",
            Str,
            "Id of the key that sealed pii_ciphertext.",
        ),
        req(
            "pii_ciphertext",
            Str,
            "Name, date of birth, ID digits: AES-256-GCM, base64.",
        ),
    ],
    partition_by: Some("verified_at"),
    require_partition_filter: true,
    cluster_by: &["customer_key"],
    partition_expiration_days: Some(RETENTION_DAYS),
};

/// Every table, in creation order.
pub const TABLES: &[Table] = &[
    PAYMENTS,
    ORDERS,
    LINE_ITEMS,
    CATALOG_ITEMS,
    AUDIT_EVENTS,
    VERIFICATION_ATTEMPTS,
    AGE_VERIFICATIONS,
];

/// One catalog page and the match count in one query, for both backends (the SQL is
/// portable; each passes its own placeholders). The count joins the page, so an empty
/// page still returns one row, with a null product; the page is fetched one row long.
pub fn catalog_page_sql(conditions: &[String], cursor: &str, fetch: &str) -> String {
    format!(
        "WITH matching AS (SELECT {columns} FROM {table} WHERE {conditions}), \
         page AS (SELECT * FROM matching WHERE {cursor} ORDER BY name, product_id LIMIT {fetch}) \
         SELECT t.total, {page_columns} \
         FROM (SELECT COUNT(*) AS total FROM matching) AS t LEFT JOIN page AS p ON TRUE \
         ORDER BY p.name, p.product_id",
        columns = CATALOG_ITEMS.column_list(),
        table = CATALOG_ITEMS.name,
        conditions = conditions.join(" AND "),
        page_columns = CATALOG_ITEMS.column_list_of("p"),
    )
}

/// The newest `limit` rows of a partitioned `table` within a time range, newest first
/// (ties broken by `id_column`), for both backends with their own placeholders.
pub fn newest_rows_sql(
    table: &Table,
    id_column: &str,
    start: &str,
    end: &str,
    limit: &str,
) -> String {
    let time = table.partition_by.unwrap_or("created_at");
    format!(
        "SELECT {columns} FROM {name} WHERE {time} >= {start} AND {time} < {end} \
         ORDER BY {time} DESC, {id_column} DESC LIMIT {limit}",
        columns = table.column_list(),
        name = table.name,
    )
}

/// The `ORDER BY` of a top-products query over the `revenue` and `units` aggregates;
/// ties fall to the product id, so both backends rank alike.
pub fn top_products_ranking(order: crate::TopProductsOrder) -> &'static str {
    match order {
        crate::TopProductsOrder::Revenue => "revenue DESC, units DESC, product_id",
        crate::TopProductsOrder::Units => "units DESC, revenue DESC, product_id",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_and_cluster_columns_exist() {
        for table in TABLES {
            if let Some(partition) = table.partition_by {
                let column = table.column(partition);
                assert_eq!(
                    column.map(|c| (c.ty, c.required)),
                    Some((Timestamp, true)),
                    "{}: partition column {partition}",
                    table.name
                );
            }
            assert_eq!(
                table.require_partition_filter,
                table.partition_by.is_some(),
                "{}",
                table.name
            );
            assert!(table.cluster_by.len() <= 4, "{}", table.name);
            for cluster in table.cluster_by {
                assert!(table.column(cluster).is_some(), "{}: {cluster}", table.name);
            }
        }
    }

    /// Names are written into SQL text (never values), so they must be plain identifiers.
    #[test]
    fn names_are_plain_identifiers() {
        let plain = |name: &str| {
            name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        for table in TABLES {
            assert!(plain(table.name), "{}", table.name);
            for column in table.columns {
                assert!(plain(column.name), "{}.{}", table.name, column.name);
            }
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = TABLES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLES.len());
        for table in TABLES {
            let mut columns: Vec<_> = table.columns.iter().map(|c| c.name).collect();
            columns.sort_unstable();
            columns.dedup();
            assert_eq!(columns.len(), table.columns.len(), "{}", table.name);
        }
    }
}
