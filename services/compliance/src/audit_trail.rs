//! The audit trail: `ListAuditEvents` (a required time range, filters, newest first, paged
//! by an opaque cursor that is bound to its filters) and `RecordAuditEvents` (appends,
//! de-duplicated by event id, so writers may retry).

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vibe_warehouse::{AuditCursor, AuditEvent, AuditFilter, TimeRange};

use crate::Compliance;
use crate::error::ComplianceError;
use crate::metrics::checked_window;
use crate::rules::FieldViolation;

pub const DEFAULT_AUDIT_PAGE: u32 = 50;
pub const MAX_AUDIT_PAGE: u32 = 500;
/// Most events per `RecordAuditEvents` call.
pub const MAX_RECORD_BATCH: usize = 500;

/// A `ListAuditEvents` request. Empty strings and `None` mean "any".
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub principal: String,
    pub event_type: Option<String>,
    pub result: Option<String>,
    pub method: String,
    /// 0 means the default; larger than the maximum is clamped.
    pub page_size: i32,
    pub page_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Empty on the last page.
    pub next_page_token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordOutcome {
    pub accepted: i64,
    pub duplicates: i64,
}

/// What a page token carries: where to continue, and a fingerprint of the filters it was
/// issued for.
#[derive(Serialize, Deserialize)]
struct Token {
    /// Micros since the epoch of the last event returned.
    t: i64,
    id: String,
    f: String,
}

fn fingerprint(filter: &AuditFilter) -> String {
    let text = format!("{filter:?}");
    let digest = Sha256::digest(text.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..12])
}

fn bad_token() -> ComplianceError {
    ComplianceError::invalid(
        "page_token",
        "is not a token from a previous response with the same filters",
    )
}

impl Compliance {
    pub async fn list_audit_events(
        &self,
        query: &AuditQuery,
    ) -> Result<AuditPage, ComplianceError> {
        let range = checked_window(query.start, query.end)?;
        let limit = match query.page_size {
            0 => DEFAULT_AUDIT_PAGE,
            n if n < 0 => {
                return Err(ComplianceError::invalid(
                    "page_size",
                    "must not be negative",
                ));
            }
            n => u32::try_from(n)
                .unwrap_or(MAX_AUDIT_PAGE)
                .min(MAX_AUDIT_PAGE),
        };
        let some = |value: &str| (!value.is_empty()).then(|| value.to_owned());
        let filter = AuditFilter {
            range,
            principal: some(&query.principal),
            event_type: query.event_type.clone(),
            result: query.result.clone(),
            method: some(&query.method),
        };
        let print = fingerprint(&filter);
        let after = if query.page_token.is_empty() {
            None
        } else {
            let bytes = URL_SAFE_NO_PAD
                .decode(&query.page_token)
                .map_err(|_| bad_token())?;
            let token: Token = serde_json::from_slice(&bytes).map_err(|_| bad_token())?;
            if token.f != print {
                return Err(bad_token());
            }
            Some(AuditCursor {
                occurred_at: DateTime::from_timestamp_micros(token.t).ok_or_else(bad_token)?,
                event_id: token.id,
            })
        };
        // One row more than the page says whether another follows.
        let mut events = self
            .warehouse
            .list_audit_events(&filter, after.as_ref(), limit + 1)
            .await?;
        let more = events.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_page_token = match events.last() {
            Some(last) if more => {
                let token = Token {
                    t: last.occurred_at.timestamp_micros(),
                    id: last.event_id.clone(),
                    f: print,
                };
                URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
            }
            _ => String::new(),
        };
        Ok(AuditPage {
            events,
            next_page_token,
        })
    }

    /// Appends events not recorded yet (by event id) and says how many were new.
    pub async fn record_audit_events(
        &self,
        events: Vec<AuditEvent>,
    ) -> Result<RecordOutcome, ComplianceError> {
        let mut violations = Vec::new();
        if events.is_empty() || events.len() > MAX_RECORD_BATCH {
            violations.push(FieldViolation {
                field: "events",
                description: format!("must hold 1 to {MAX_RECORD_BATCH} events"),
            });
        }
        for (i, event) in events.iter().enumerate() {
            if event.event_id.is_empty() || event.event_id.len() > 128 {
                violations.push(FieldViolation {
                    field: "events.event_id",
                    description: format!("event {i}: must be 1 to 128 bytes"),
                });
            }
        }
        if !violations.is_empty() {
            return Err(ComplianceError::InvalidArgument {
                violations,
                attempt: None,
            });
        }
        // Stored times have microseconds (both engines): compare what will be stored, so
        // a retried event is found again.
        let events: Vec<AuditEvent> = events
            .into_iter()
            .map(|mut event| {
                event.occurred_at = truncate_to_micros(event.occurred_at);
                event
            })
            .collect();
        let (Some(first), Some(last)) = (
            events.iter().map(|e| e.occurred_at).min(),
            events.iter().map(|e| e.occurred_at).max(),
        ) else {
            return Ok(RecordOutcome {
                accepted: 0,
                duplicates: 0,
            });
        };
        let range = TimeRange {
            start: first,
            end: last
                .checked_add_signed(chrono::Duration::microseconds(1))
                .unwrap_or(last),
        };
        let ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
        let mut seen: BTreeSet<String> = self
            .warehouse
            .existing_audit_event_ids(&ids, range)
            .await?
            .into_iter()
            .collect();
        let total = events.len();
        // Also drops repeats within the batch: the first one wins.
        let fresh: Vec<AuditEvent> = events
            .into_iter()
            .filter(|e| seen.insert(e.event_id.clone()))
            .collect();
        self.warehouse.insert_audit_events(&fresh).await?;
        let accepted = fresh.len();
        Ok(RecordOutcome {
            accepted: i64::try_from(accepted).unwrap_or(i64::MAX),
            duplicates: i64::try_from(total - accepted).unwrap_or(i64::MAX),
        })
    }
}

fn truncate_to_micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(instant.timestamp_micros()).unwrap_or(instant)
}
