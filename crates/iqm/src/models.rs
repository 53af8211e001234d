//! Typed answers: the sign-up result, the `{success, data}` envelope IQM wraps most
//! answers in, and the rows and counts of a list page.

use auth_core::{Error, ErrorKind, TokenSet};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{IqmError, unsuccessful};

/// What a sign-up returns: the new user's tokens (no workspace id yet), scope and type.
///
/// ```
/// # #[cfg(feature = "sandbox")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), iqm::Error> {
/// let sandbox = iqm::sandbox::Sandbox::builder().start().await;
/// let client = sandbox.client_builder().build()?;
/// let s = client.sign_up("new@example.com", "their-password").await?;
/// assert!(s.tokens.refresh_token().is_some());
/// assert_eq!(s.tokens.data::<iqm::OwId>(), None);
/// assert_eq!((s.scope.as_deref(), s.token_type.as_deref()), (Some("read write"), Some("bearer")));
/// # Ok(()) }
/// # #[cfg(not(feature = "sandbox"))]
/// # fn main() {}
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignUp {
    /// Access and refresh token (redacted in Debug) and the expiry from `expires_in`.
    pub tokens: TokenSet,
    /// The granted scope (`"read write"`).
    pub scope: Option<String>,
    /// The token type (`"bearer"`).
    pub token_type: Option<String>,
}

/// [`unwrap_data`] on the answer's bytes, in one pass for the usual answer: a
/// `{success, data}` object whose `success` is not `false` has its `data` decoded straight
/// into `T`, every other field skipped unread. Anything else (an unwrapped answer, a
/// `success: false`, a body that does not decode) takes the `Value` path, so results and
/// errors are exactly [`unwrap_data`]'s.
pub(crate) fn decode_data<T: DeserializeOwned>(status: u16, bytes: &[u8]) -> Result<T, Error> {
    // Only an object: a derived struct would also take `[success, data]`.
    let object = bytes.trim_ascii_start().starts_with(b"{");
    if object
        && let Ok(Envelope {
            success: Some(success),
            data,
        }) = serde_json::from_slice::<Envelope<T>>(bytes)
        && success != Value::Bool(false)
    {
        match data {
            Some(data) => return Ok(data),
            // No `data`: decoded from `null`, as the `Value` path does.
            None => {
                if let Ok(data) = serde_json::from_slice(b"null") {
                    return Ok(data);
                }
            }
        }
    }
    let body: Value = auth_core::http::parse_json(bytes).map_err(|e| e.with_status(status))?;
    unwrap_data(status, body)
}

/// The envelope as [`decode_data`] reads it: a field present with `null` is `Some`.
#[derive(serde::Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct Envelope<T> {
    #[serde(default, deserialize_with = "present")]
    success: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    data: Option<T>,
}

fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Decode the `data` of `{success, data}`, or the whole answer when it is not wrapped;
/// `success: false` becomes a rejected error with the [`IqmError`] detail.
pub(crate) fn unwrap_data<T: DeserializeOwned>(status: u16, body: Value) -> Result<T, Error> {
    let inner = match body {
        Value::Object(mut map) if map.contains_key("success") => {
            if map.get("success") == Some(&Value::Bool(false)) {
                let parsed = IqmError::from_value(Value::Object(map)).unwrap_or_default();
                return Err(unsuccessful(status, parsed));
            }
            map.remove("data").unwrap_or(Value::Null)
        }
        other => other,
    };
    let bytes = serde_json::to_vec(&inner).unwrap_or_default();
    auth_core::http::parse_json(&bytes).map_err(|e| e.with_status(status))
}

/// One list page as IQM answers it, before the rows are typed.
///
/// IQM's documentation (`iqmcorp/docs`, `docs/Getting Started/API-Pagination-Guide.mdx`
/// and the list endpoints of `docs/Guidelines/*`, as published on developers.iqm.com)
/// shows the v3 list answer as `{success: true, data: {<rows>: [...], totalRecords,
/// filteredRecords}}`: `totalRecords` counts the resource's records, `filteredRecords`
/// those matching the request's filters (what the pages walk through). The rows are under
/// `data` on most endpoints (`data.data`, e.g. the state segments) and under a named key on
/// others (`inventoryDataList`, `ioCampaignsList`, `recordsList` beside a `recordsTotal`
/// summary object), and some answers carry no counts at all (the inventory list). Older v2
/// endpoints answer `{statusCode, responseObject: {totalRecords, data, filteredRecords}}`.
/// All of these are read here.
#[derive(Debug)]
pub(crate) struct RawPage {
    pub(crate) rows: Vec<Value>,
    pub(crate) total_records: Option<u64>,
    pub(crate) filtered_records: Option<u64>,
}

/// Read a list answer: the envelope (`success: false` is the usual rejected error), the
/// rows (under `rows_key` when given, else `data`, else the one array in the answer) and
/// the two counts. Every deviation is a typed [`ErrorKind::BadResponse`] naming the part
/// that is wrong, never quoting the body.
pub(crate) fn list_page(
    status: u16,
    body: Value,
    rows_key: Option<&str>,
) -> Result<RawPage, Error> {
    let bad = |what: String| Error::new(ErrorKind::BadResponse, what).with_status(status);
    let inner = match body {
        Value::Object(mut map)
            if map.contains_key("responseObject") && !map.contains_key("success") =>
        {
            map.remove("responseObject").unwrap_or(Value::Null)
        }
        other => unwrap_data::<Value>(status, other)?,
    };
    let Value::Object(mut inner) = inner else {
        return Err(bad(
            "iqm list answer has no object of rows and counts".to_owned()
        ));
    };
    let rows = match rows_key {
        Some(key) => match inner.remove(key) {
            Some(Value::Array(rows)) => rows,
            Some(_) => return Err(bad(format!("iqm list answer's `{key}` is not an array"))),
            None => return Err(bad(format!("iqm list answer has no `{key}` rows"))),
        },
        None => take_rows(&mut inner).map_err(bad)?,
    };
    Ok(RawPage {
        rows,
        total_records: count(&inner, "totalRecords").map_err(bad)?,
        filtered_records: count(&inner, "filteredRecords").map_err(bad)?,
    })
}

/// The rows of a list answer whose rows key was not named: `data`, else the only array.
fn take_rows(inner: &mut Map<String, Value>) -> Result<Vec<Value>, String> {
    match inner.remove("data") {
        Some(Value::Array(rows)) => return Ok(rows),
        Some(_) => return Err("iqm list answer's `data` is not an array".to_owned()),
        None => {}
    }
    let arrays: Vec<&String> = inner
        .iter()
        .filter(|(_, v)| v.is_array())
        .map(|(k, _)| k)
        .collect();
    match arrays.as_slice() {
        [one] => {
            let key = (*one).clone();
            match inner.remove(&key) {
                Some(Value::Array(rows)) => Ok(rows),
                _ => Err("iqm list answer has no rows array".to_owned()),
            }
        }
        [] => Err("iqm list answer has no rows array".to_owned()),
        several => Err(format!(
            "iqm list answer has several arrays ({}): name the rows with `with_rows_key`",
            several
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A record count: absent or `null` is unknown; a whole non-negative number (or such a
/// number as a string) is read; anything else is malformed.
fn count(inner: &Map<String, Value>, key: &str) -> Result<Option<u64>, String> {
    let wrong = || format!("iqm list answer's `{key}` is not a whole non-negative number");
    match inner.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(wrong),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| wrong()),
        Some(_) => Err(wrong()),
    }
}

/// Type the rows of a page. A row that does not fit `T` is a
/// [`ErrorKind::BadResponse`] naming the row, not quoting it (rows may hold personal data).
pub(crate) fn typed_rows<T: DeserializeOwned>(
    status: u16,
    rows: Vec<Value>,
) -> Result<Vec<T>, Error> {
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            serde_json::from_value(row).map_err(|e| {
                Error::new(
                    ErrorKind::BadResponse,
                    format!("iqm list row {i} does not have the expected fields or types"),
                )
                .with_status(status)
                .with_source(e)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_is_unwrapped_or_passed_through() {
        let n: u64 = unwrap_data(200, json!({"success": true, "data": 200001})).unwrap();
        assert_eq!(n, 200_001);
        let v: Value = unwrap_data(200, json!({"items": [1]})).unwrap();
        assert_eq!(v, json!({"items": [1]}));
        let e = unwrap_data::<Value>(
            200,
            json!({"success": false, "errorObjects": [{"error": "no"}]}),
        )
        .unwrap_err();
        assert!(e.is_rejected());
        assert_eq!(e.vendor_message(), Some("no"));
        let e = unwrap_data::<u64>(200, json!({"success": true, "data": "x"})).unwrap_err();
        assert!(e.is_bad_response());
    }

    /// The one-pass decoding agrees with decoding through a `Value`, answers and errors.
    #[test]
    fn one_pass_decoding_gives_what_the_value_path_gives() {
        fn both<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> (String, String) {
            let fast = decode_data::<T>(200, body.as_bytes());
            // As `send_data` did: `read_json` (which adds the status), then `unwrap_data`.
            let slow = auth_core::http::parse_json::<Value>(body.as_bytes())
                .map_err(|e| e.with_status(200))
                .and_then(|v| unwrap_data::<T>(200, v));
            (format!("{fast:?}"), format!("{slow:?}"))
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Campaign {
            id: u64,
            name: Option<String>,
        }
        for body in [
            r#"{"success":true,"data":{"id":1,"name":"a","extra":[1,{"x":null}]}}"#,
            r#"{"data":{"id":1},"success":true,"other":"x"}"#,
            r#"{"success":true}"#,
            r#"{"success":null,"data":{"id":2}}"#,
            r#"{"success":"yes","data":{"id":3}}"#,
            r#"{"success":true,"data":null}"#,
            r#"{"success":true,"data":{"name":"no id"}}"#,
            r#"{"success":true,"data":{"id":1},"data":{"id":2}}"#,
            r#"{"success":false,"errorObjects":[{"error":"no"}],"data":{"id":1}}"#,
            r#"{"id":4,"name":"unwrapped"}"#,
            r#"{"id":4,"data":{"id":5}}"#,
            r#"[1,2]"#,
            r#" [true,{"id":1}]"#,
            r#"not json"#,
            r#"{"success":true,"data":{"id":1}} trailing"#,
            "",
        ] {
            let (fast, slow) = both::<Value>(body);
            assert_eq!(fast, slow, "Value from {body}");
            let (fast, slow) = both::<Campaign>(body);
            assert_eq!(fast, slow, "Campaign from {body}");
            let (fast, slow) = both::<Option<Campaign>>(body);
            assert_eq!(fast, slow, "Option<Campaign> from {body}");
        }
    }

    #[test]
    fn list_pages_are_read_in_every_documented_shape() {
        let page = |body: Value, key: Option<&str>| list_page(200, body, key);
        // v3, rows under `data` (the state segments).
        let p = page(
            json!({"success": true, "data": {"data": [{"id": 1}, {"id": 2}], "totalRecords": 4964, "filteredRecords": 3}}),
            None,
        )
        .unwrap();
        assert_eq!(
            (p.rows.len(), p.total_records, p.filtered_records),
            (2, Some(4964), Some(3))
        );
        // v3, rows under a named key beside a summary object (the IO campaigns report).
        let p = page(
            json!({"success": true, "data": {"totalRecords": 2, "filteredRecords": 2, "recordsTotal": {"clicks": 0}, "recordsList": [{"id": 1}], "totalCount": 2}}),
            None,
        )
        .unwrap();
        assert_eq!((p.rows.len(), p.filtered_records), (1, Some(2)));
        // No counts at all (the inventory list); the key named.
        let p = page(
            json!({"success": true, "data": {"inventoryDataList": [{"id": 13097078}]}}),
            Some("inventoryDataList"),
        )
        .unwrap();
        assert_eq!(
            (p.rows.len(), p.total_records, p.filtered_records),
            (1, None, None)
        );
        // v2: `{statusCode, responseObject}`; counts as numeric strings are read.
        let p = page(
            json!({"statusCode": 200, "responseObject": {"totalRecords": "1498", "data": [{"id": 176881}], "filteredRecords": 1039}}),
            None,
        )
        .unwrap();
        assert_eq!(
            (p.total_records, p.filtered_records),
            (Some(1498), Some(1039))
        );
    }

    #[test]
    fn malformed_list_pages_are_typed_errors() {
        let cases: &[(Value, Option<&str>, &str)] = &[
            (
                json!({"success": true, "data": [1, 2]}),
                None,
                "no object of rows and counts",
            ),
            (
                json!({"success": true, "data": {"totalRecords": 3}}),
                None,
                "no rows array",
            ),
            (
                json!({"success": true, "data": {"data": {"id": 1}}}),
                None,
                "`data` is not an array",
            ),
            (
                json!({"success": true, "data": {"a": [], "b": []}}),
                None,
                "several arrays (`a`, `b`)",
            ),
            (
                json!({"success": true, "data": {"rows": []}}),
                Some("list"),
                "no `list` rows",
            ),
            (
                json!({"success": true, "data": {"list": 7}}),
                Some("list"),
                "`list` is not an array",
            ),
            (
                json!({"success": true, "data": {"data": [], "totalRecords": "many"}}),
                None,
                "`totalRecords` is not a whole",
            ),
            (
                json!({"success": true, "data": {"data": [], "filteredRecords": -1}}),
                None,
                "`filteredRecords` is not a whole",
            ),
            (
                json!({"success": true, "data": {"data": [], "totalRecords": 2.5}}),
                None,
                "`totalRecords` is not a whole",
            ),
            (
                json!({"success": true, "data": {"data": [], "totalRecords": true}}),
                None,
                "`totalRecords` is not a whole",
            ),
        ];
        for (body, key, expected) in cases {
            let e = list_page(200, body.clone(), *key).unwrap_err();
            assert!(e.is_bad_response(), "{body}: {e:?}");
            assert_eq!(e.status(), Some(200));
            assert!(e.to_string().contains(expected), "{body}: {e}");
        }
        // `success: false` is IQM's rejection, as for every other call.
        let e = list_page(
            200,
            json!({"success": false, "errorObjects": [{"error": "no"}]}),
            None,
        )
        .unwrap_err();
        assert!(e.is_rejected());
        // A row of the wrong shape names its index, not its content.
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Row {
            id: u64,
        }
        let e = typed_rows::<Row>(200, vec![json!({"id": 1}), json!({"id": "secret-ish"})])
            .unwrap_err();
        assert!(e.is_bad_response());
        assert!(e.to_string().contains("row 1"), "{e}");
        assert!(!e.to_string().contains("secret-ish"), "{e}");
    }
}
