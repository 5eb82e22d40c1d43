//! Request ids: a valid inbound `x-request-id` is kept, anything else is replaced by a new
//! one before the call's span is made, so the span, every log line of the call and every
//! service the call reaches carry the same id.

use http::{HeaderMap, HeaderValue};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The request's id: the inbound one when valid (1-128 of `[A-Za-z0-9._:-]`), else a new
/// UUID, which is then set on `headers` for whoever handles the request next.
///
/// The value is marked sensitive, which HTTP/2 encoders take as "never index": an id is
/// unique per call, so indexing it in HPACK only evicts the header entries that do repeat.
pub fn ensure_request_id(headers: &mut HeaderMap) -> HeaderValue {
    if let Some(id) = headers.get_mut(REQUEST_ID_HEADER).filter(|id| is_valid(id)) {
        id.set_sensitive(true);
        return id.clone();
    }
    let mut buffer = [0; uuid::fmt::Hyphenated::LENGTH];
    let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
    let mut id = HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("unknown"));
    id.set_sensitive(true);
    headers.insert(REQUEST_ID_HEADER, id.clone());
    id
}

fn is_valid(id: &HeaderValue) -> bool {
    (1..=128).contains(&id.len())
        && id
            .as_bytes()
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ids_are_kept_and_others_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_static("abc-123"));
        let kept = ensure_request_id(&mut headers);
        assert_eq!(kept, "abc-123");
        assert!(kept.is_sensitive() && headers[REQUEST_ID_HEADER].is_sensitive());

        headers.insert(
            REQUEST_ID_HEADER,
            HeaderValue::from_static("bad id with spaces"),
        );
        let new = ensure_request_id(&mut headers);
        assert_ne!(new, "bad id with spaces");
        assert_eq!(new.len(), 36, "a uuid");
        assert_eq!(headers[REQUEST_ID_HEADER], new, "passed on");
        assert!(new.is_sensitive(), "never indexed in HPACK");
        assert!(headers[REQUEST_ID_HEADER].is_sensitive());

        let mut none = HeaderMap::new();
        let first = ensure_request_id(&mut none);
        assert_eq!(ensure_request_id(&mut none), first, "kept once set");
    }
}
