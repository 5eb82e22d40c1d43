//! Compliance between wire and domain: the audit vocabulary (enums on the wire, strings in
//! the table), the caller facts the gateway set, and compliance errors as statuses.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tonic::Status;
use tonic::metadata::MetadataMap;
use tonic_types::ErrorDetails;
use vibe_compliance::{Caller, ComplianceError};
use vibe_integration::FieldViolation;

use crate::proto::integration::v1::{AuditEvent, AuditEventType, AuditResult, AuditSeverity};
use crate::proto::options::v1::Role;
use crate::rpc::wire;

/// The audit table's word for each event type (unspecified has none).
const EVENT_TYPES: [(AuditEventType, &str); 7] = [
    (AuditEventType::Auth, "auth"),
    (AuditEventType::Authz, "authz"),
    (AuditEventType::Admin, "admin"),
    (AuditEventType::DataAccess, "data_access"),
    (AuditEventType::Security, "security"),
    (AuditEventType::Compliance, "compliance"),
    (AuditEventType::System, "system"),
];

const RESULTS: [(AuditResult, &str); 5] = [
    (AuditResult::Allowed, "allowed"),
    (AuditResult::Succeeded, "succeeded"),
    (AuditResult::Denied, "denied"),
    (AuditResult::Failed, "failed"),
    (AuditResult::RateLimited, "rate_limited"),
];

const SEVERITIES: [(AuditSeverity, &str); 4] = [
    (AuditSeverity::Info, "info"),
    (AuditSeverity::Warning, "warning"),
    (AuditSeverity::Error, "error"),
    (AuditSeverity::Critical, "critical"),
];

const ROLES: [(Role, &str); 5] = [
    (Role::Anonymous, "anonymous"),
    (Role::Customer, "customer"),
    (Role::Staff, "staff"),
    (Role::Admin, "admin"),
    (Role::Service, "service"),
];

fn word<E: Copy + PartialEq>(table: &[(E, &'static str)], value: E) -> Option<&'static str> {
    table.iter().find(|(e, _)| *e == value).map(|(_, w)| *w)
}

/// The table's word for a wire value; empty for unspecified or unknown values.
fn word_of<E: Copy + PartialEq + TryFrom<i32>>(table: &[(E, &'static str)], value: i32) -> String {
    E::try_from(value)
        .ok()
        .and_then(|e| word(table, e))
        .unwrap_or_default()
        .to_owned()
}

fn from_word<E: Copy>(table: &[(E, &'static str)], word: &str) -> Option<E> {
    table.iter().find(|(_, w)| *w == word).map(|(e, _)| *e)
}

/// A wire enum filter as the table's word: unspecified is "any", unknown values are bad.
pub fn filter_word<E: Copy + PartialEq + TryFrom<i32>>(
    table: &[(E, &'static str)],
    value: i32,
    field: &str,
) -> Result<Option<String>, Status> {
    if value == 0 {
        return Ok(None);
    }
    let known = word_of(table, value);
    if known.is_empty() {
        return Err(wire::bad_request(vec![FieldViolation::new(
            field,
            format!("unknown value {value}"),
        )]));
    }
    Ok(Some(known))
}

pub fn event_type_filter(value: i32) -> Result<Option<String>, Status> {
    filter_word(&EVENT_TYPES, value, "event_type")
}

pub fn result_filter(value: i32) -> Result<Option<String>, Status> {
    filter_word(&RESULTS, value, "result")
}

/// A timestamp field (absent stays `None`), within 0001-01-01..=9999-12-31 as BigQuery
/// stores them, so window arithmetic cannot overflow.
pub fn time(
    value: Option<&prost_types::Timestamp>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, Status> {
    // Seconds since the epoch of 0001-01-01T00:00:00Z and of 10000-01-01T00:00:00Z.
    const RANGE: std::ops::Range<i64> = -62_135_596_800..253_402_300_800;
    value
        .map(|t| {
            u32::try_from(t.nanos)
                .ok()
                .filter(|_| RANGE.contains(&t.seconds))
                .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos))
                .ok_or_else(|| {
                    wire::bad_request(vec![FieldViolation::new(
                        field,
                        "is not a valid timestamp from year 1 to 9999",
                    )])
                })
        })
        .transpose()
}

pub fn event_to_wire(row: vibe_warehouse::AuditEvent) -> AuditEvent {
    AuditEvent {
        event_id: row.event_id,
        time: wire::timestamp(row.occurred_at),
        event_type: from_word(&EVENT_TYPES, &row.event_type).map_or(0, |e| e as i32),
        severity: from_word(&SEVERITIES, &row.severity).map_or(0, |e| e as i32),
        principal: row.principal,
        role: from_word(&ROLES, &row.role).map_or(0, |e| e as i32),
        method: row.method,
        result: from_word(&RESULTS, &row.result).map_or(0, |e| e as i32),
        grpc_status_code: i32::try_from(row.status_code).unwrap_or_default(),
        request_id: row.request_id,
        client_ip: row.client_ip,
        user_agent: row.user_agent,
        service: row.service,
        resource: row.resource,
        action: row.action,
        session_id: String::new(),
        trace_id: String::new(),
        details: row.details.into_iter().collect(),
    }
}

/// A wire event as a row; enum values outside the contract are stored as unspecified
/// (empty), never guessed.
pub fn event_from_wire(
    event: AuditEvent,
    index: usize,
) -> Result<vibe_warehouse::AuditEvent, Status> {
    let field = format!("events[{index}].time");
    let occurred_at = time(event.time.as_ref(), &field)?
        .ok_or_else(|| wire::bad_request(vec![FieldViolation::new(&field, "is required")]))?;
    Ok(vibe_warehouse::AuditEvent {
        event_id: event.event_id,
        occurred_at,
        event_type: word_of(&EVENT_TYPES, event.event_type),
        severity: word_of(&SEVERITIES, event.severity),
        principal: event.principal,
        role: word_of(&ROLES, event.role),
        method: event.method,
        result: word_of(&RESULTS, event.result),
        status_code: i64::from(event.grpc_status_code),
        request_id: event.request_id,
        client_ip: event.client_ip,
        user_agent: event.user_agent.chars().take(256).collect(),
        service: event.service,
        details: event.details.into_iter().collect(),
        resource: event.resource,
        action: event.action,
    })
}

/// Who is calling, from the headers only the gateway sets (it strips inbound copies).
pub fn caller(metadata: &MetadataMap) -> Caller {
    let text = |name: &str| {
        metadata
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    // The role that names the caller in the gateway's audit events names them here too.
    let role = text(vibe_gateway::ROLES_HEADER)
        .split(',')
        .filter_map(vibe_gateway::Role::from_claim)
        .max()
        .unwrap_or(vibe_gateway::Role::Anonymous)
        .as_str();
    Caller {
        principal: text(vibe_gateway::PRINCIPAL_HEADER),
        role: role.to_owned(),
        request_id: text(vibe_gateway::REQUEST_ID_HEADER),
        client_ip: text(vibe_gateway::CLIENT_IP_HEADER),
        user_agent: text("user-agent").chars().take(256).collect(),
    }
}

/// The one place compliance errors get their codes.
pub fn compliance_status(error: ComplianceError) -> Status {
    match error {
        ComplianceError::InvalidArgument {
            violations,
            attempt,
        } => {
            let mut details = ErrorDetails::new();
            if let Some(attempt) = attempt {
                let metadata = HashMap::from([
                    ("attempt_id".to_owned(), attempt.attempt_id),
                    (
                        "attempts_remaining".to_owned(),
                        attempt.attempts_remaining.to_string(),
                    ),
                ]);
                details.set_error_info(
                    "AGE_VERIFICATION_INPUT_INVALID",
                    "vibe.integration.v1",
                    metadata,
                );
            }
            let violations = violations
                .into_iter()
                .map(|v| FieldViolation::new(v.field, v.description))
                .collect();
            wire::bad_request_with(violations, details)
        }
        ComplianceError::Unavailable(message) => Status::unavailable(message),
        ComplianceError::Internal(message) => Status::internal(message),
    }
}
