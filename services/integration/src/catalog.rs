//! The product catalog as the cockpit pages through it, and top sellers.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use vibe_warehouse::{CatalogItem, ProductCursor, ProductFilter, TopProductsOrder};

use crate::error::Violations;

/// Default and maximum `page_size` of a product listing.
pub const DEFAULT_PAGE_SIZE: i32 = 50;
pub const MAX_PAGE_SIZE: i32 = 200;
/// Default and maximum number of top products.
pub const DEFAULT_TOP_LIMIT: i32 = 10;
pub const MAX_TOP_LIMIT: i32 = 100;
/// Longest window of a top-products request, in days.
pub const MAX_TOP_DAYS: i64 = 366;

/// A catalog product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub product_id: String,
    /// `Source::as_str`.
    pub source: String,
    pub name: String,
    pub description: String,
    pub sku: String,
    pub category: String,
    pub price_cents: i64,
    pub available: bool,
    pub updated_at: DateTime<Utc>,
    pub has_certificate_of_analysis: bool,
    pub delta9_thc_basis_points: Option<i64>,
    pub quantity_on_hand: Option<i64>,
}

impl From<CatalogItem> for Product {
    fn from(item: CatalogItem) -> Self {
        Self {
            product_id: item.product_id,
            source: item.source.as_str().to_owned(),
            name: item.name,
            description: item.description,
            sku: item.sku,
            category: item.category,
            price_cents: item.price_cents,
            available: item.available,
            updated_at: item.updated_at,
            has_certificate_of_analysis: item.has_certificate_of_analysis,
            delta9_thc_basis_points: item.delta9_thc_basis_points,
            quantity_on_hand: item.quantity_on_hand,
        }
    }
}

/// One page of products.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductList {
    pub products: Vec<Product>,
    /// Empty on the last page.
    pub next_page_token: String,
    /// Products matching the filter in all.
    pub total: i64,
}

/// A product listing request as the wire gave it.
#[derive(Debug, Clone, Default)]
pub struct ProductsRequest {
    pub page_size: i32,
    pub page_token: String,
    pub query: String,
    pub category: String,
    pub available: Option<bool>,
}

/// A validated product listing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProductsQuery {
    pub filter: ProductFilter,
    pub after: Option<ProductCursor>,
    pub limit: u32,
}

impl ProductsQuery {
    pub(crate) fn cache_key(&self) -> String {
        format!(
            "{}|{}|{:?}|{}|{}",
            self.filter.text.as_deref().unwrap_or(""),
            self.filter.category.as_deref().unwrap_or(""),
            self.filter.available,
            self.after
                .as_ref()
                .map(|c| format!("{}\u{1f}{}", c.name, c.product_id))
                .unwrap_or_default(),
            self.limit
        )
    }
}

/// What a page token carries: where to continue, and the filter it belongs to.
#[derive(Debug, Serialize, Deserialize)]
struct PageToken {
    name: String,
    id: String,
    filter: String,
}

fn filter_fingerprint(filter: &ProductFilter) -> String {
    format!(
        "{}|{}|{:?}",
        filter.text.as_deref().unwrap_or(""),
        filter.category.as_deref().unwrap_or(""),
        filter.available
    )
}

pub(crate) fn next_page_token(filter: &ProductFilter, cursor: Option<&ProductCursor>) -> String {
    let Some(cursor) = cursor else {
        return String::new();
    };
    let token = PageToken {
        name: cursor.name.clone(),
        id: cursor.product_id.clone(),
        filter: filter_fingerprint(filter),
    };
    serde_json::to_vec(&token)
        .map(|json| URL_SAFE_NO_PAD.encode(json))
        .unwrap_or_default()
}

/// Validates a listing request; `categories` is the catalog's category list, used to
/// reject unknown categories and to match them case-insensitively.
pub(crate) fn parse_products_request(
    request: &ProductsRequest,
    categories: &[String],
) -> Result<ProductsQuery, crate::IntegrationError> {
    let mut violations = Violations::default();
    let limit = match request.page_size {
        0 => DEFAULT_PAGE_SIZE,
        size if (1..=MAX_PAGE_SIZE).contains(&size) => size,
        size => {
            violations.add(
                "page_size",
                format!("must be between 1 and {MAX_PAGE_SIZE} (0 for the default {DEFAULT_PAGE_SIZE}), got {size}"),
            );
            DEFAULT_PAGE_SIZE
        }
    };
    let text = request.query.trim();
    let category = request.category.trim();
    let category = if category.is_empty() {
        None
    } else {
        match categories.iter().find(|c| c.eq_ignore_ascii_case(category)) {
            Some(known) => Some(known.clone()),
            None => {
                violations.add("category", format!("unknown category {category:?}"));
                None
            }
        }
    };
    let filter = ProductFilter {
        text: (!text.is_empty()).then(|| text.to_owned()),
        category,
        available: request.available,
    };
    let after = if request.page_token.is_empty() {
        None
    } else {
        match decode_token(&request.page_token) {
            Some(token) if token.filter == filter_fingerprint(&filter) => Some(ProductCursor {
                name: token.name,
                product_id: token.id,
            }),
            Some(_) => {
                violations.add(
                    "page_token",
                    "belongs to a different query; keep query, category and availability unchanged while paging",
                );
                None
            }
            None => {
                violations.add("page_token", "not a token this service issued");
                None
            }
        }
    };
    violations.check()?;
    Ok(ProductsQuery {
        filter,
        after,
        limit: limit.unsigned_abs(),
    })
}

fn decode_token(token: &str) -> Option<PageToken> {
    let json = URL_SAFE_NO_PAD.decode(token).ok()?;
    serde_json::from_slice(&json).ok()
}

/// A top-products request as the wire gave it.
#[derive(Debug, Clone)]
pub struct TopProductsRequest {
    pub first_date: NaiveDate,
    pub last_date: NaiveDate,
    pub order: TopProductsOrder,
    pub limit: i32,
}

/// Validates a top-products request against `today`; returns the window (last date
/// clamped to today) and the limit.
pub(crate) fn parse_top_request(
    request: &TopProductsRequest,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate, u32), crate::IntegrationError> {
    let mut violations = Violations::default();
    if request.last_date < request.first_date {
        violations.add("window.end_date", "must not be before window.start_date");
    }
    let days = (request.last_date - request.first_date).num_days() + 1;
    if days > MAX_TOP_DAYS {
        violations.add(
            "window",
            format!("covers {days} days; at most {MAX_TOP_DAYS} are allowed"),
        );
    }
    if request.first_date > today {
        violations.add("window.start_date", format!("is after today ({today})"));
    }
    let limit = match request.limit {
        0 => DEFAULT_TOP_LIMIT,
        limit if (1..=MAX_TOP_LIMIT).contains(&limit) => limit,
        limit => {
            violations.add(
                "limit",
                format!("must be between 1 and {MAX_TOP_LIMIT} (0 for the default {DEFAULT_TOP_LIMIT}), got {limit}"),
            );
            DEFAULT_TOP_LIMIT
        }
    };
    violations.check()?;
    Ok((
        request.first_date,
        request.last_date.min(today),
        limit.unsigned_abs(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IntegrationError;

    fn fields(error: IntegrationError) -> Vec<String> {
        match error {
            IntegrationError::InvalidArgument(violations) => {
                violations.into_iter().map(|v| v.field).collect()
            }
            other => panic!("not invalid argument: {other}"),
        }
    }

    #[test]
    fn page_size_bounds_and_unknown_category_are_all_reported() {
        let request = ProductsRequest {
            page_size: 500,
            category: "Spaceships".to_owned(),
            ..Default::default()
        };
        let error = parse_products_request(&request, &["Flower".to_owned()]).unwrap_err();
        assert_eq!(fields(error), ["page_size", "category"]);
    }

    #[test]
    fn categories_match_case_insensitively() {
        let request = ProductsRequest {
            category: "flower".to_owned(),
            ..Default::default()
        };
        let query = parse_products_request(&request, &["Flower".to_owned()]).unwrap();
        assert_eq!(query.filter.category.as_deref(), Some("Flower"));
        assert_eq!(query.limit, 50);
    }

    #[test]
    fn a_page_token_only_continues_its_own_query() {
        let filter = ProductFilter {
            text: Some("gummy".to_owned()),
            ..Default::default()
        };
        let cursor = ProductCursor {
            name: "Gummies".to_owned(),
            product_id: "p1".to_owned(),
        };
        let token = next_page_token(&filter, Some(&cursor));
        let same = ProductsRequest {
            query: "gummy".to_owned(),
            page_token: token.clone(),
            ..Default::default()
        };
        assert_eq!(
            parse_products_request(&same, &[]).unwrap().after,
            Some(cursor)
        );
        let changed = ProductsRequest {
            query: "tincture".to_owned(),
            page_token: token,
            ..Default::default()
        };
        assert_eq!(
            fields(parse_products_request(&changed, &[]).unwrap_err()),
            ["page_token"]
        );
        let garbage = ProductsRequest {
            page_token: "not-a-token".to_owned(),
            ..Default::default()
        };
        assert_eq!(
            fields(parse_products_request(&garbage, &[]).unwrap_err()),
            ["page_token"]
        );
    }

    #[test]
    fn top_window_is_checked_and_clamped_to_today() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let request = TopProductsRequest {
            first_date: day(20),
            last_date: day(30),
            order: TopProductsOrder::Revenue,
            limit: 0,
        };
        assert_eq!(
            parse_top_request(&request, day(29)).unwrap(),
            (day(20), day(29), 10)
        );
        let backwards = TopProductsRequest {
            first_date: day(20),
            last_date: day(10),
            order: TopProductsOrder::Units,
            limit: 101,
        };
        assert_eq!(
            fields(parse_top_request(&backwards, day(29)).unwrap_err()),
            ["window.end_date", "limit"]
        );
    }
}
