//! IQM's error shape, `{success: false, errorObjects: [{error, reason?, field?}], data?}`,
//! parsed without loss into the workspace error, the status-to-kind mapping, and
//! [`ErrorExt`], the one way to read that detail back from an error.

use auth_core::{Error, ErrorKind, http::ErrorParser};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One entry of an IQM error answer's `errorObjects`.
///
/// Unknown members are kept in [`extra`](Self::extra), so nothing the server said is lost.
///
/// ```
/// let e = iqm::IqmError::from_body(
///     r#"{"success":false,"errorObjects":[{"error":"Invalid email","field":"email"}]}"#,
/// ).unwrap();
/// assert_eq!(e.error_objects[0].field.as_deref(), Some("email"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ErrorObject {
    /// What went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why, when IQM says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The request field the error is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Any other members, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ErrorObject {
    fn from_value(v: Value) -> Self {
        match v {
            Value::Object(mut map) => ErrorObject {
                error: take_text(&mut map, "error"),
                reason: take_text(&mut map, "reason"),
                field: take_text(&mut map, "field"),
                extra: map,
            },
            Value::Null => ErrorObject::default(),
            other => ErrorObject {
                error: scalar_text(&other),
                ..ErrorObject::default()
            },
        }
    }

    /// `error (reason)`, prefixed by `field: ` when there is a field.
    ///
    /// ```
    /// let e = iqm::IqmError::from_body(
    ///     r#"{"errorObjects":[{"error":"is required","reason":"empty","field":"email"}]}"#,
    /// ).unwrap();
    /// assert_eq!(e.error_objects[0].text(), "email: is required (empty)");
    /// ```
    pub fn text(&self) -> String {
        let mut out = String::new();
        if let Some(f) = &self.field {
            out.push_str(f);
            out.push_str(": ");
        }
        match (&self.error, &self.reason) {
            (Some(e), Some(r)) => out.push_str(&format!("{e} ({r})")),
            (Some(e), None) => out.push_str(e),
            (None, Some(r)) => out.push_str(r),
            (None, None) => out.push_str("unspecified error"),
        }
        out
    }
}

/// The parsed body of an IQM error answer, attached to every [`Error`] built from one; read
/// it back with [`ErrorExt::iqm_error`].
///
/// Every error object is kept in order, `data` is kept as sent (the account-on-hold answer
/// puts `{status, reason, supportEmail}` there), and unknown top-level members land in
/// [`extra`](Self::extra). Serializing it gives back the body it was parsed from.
///
/// ```
/// let body = r#"{"success":false,"errorObjects":[{"error":"User doesn't exist or user is not allowed to provided workspace."}]}"#;
/// let e = iqm::IqmError::from_body(body).unwrap();
/// assert_eq!(e.success, Some(false));
/// assert_eq!(e.error_objects.len(), 1);
/// assert_eq!(serde_json::to_value(&e)?, serde_json::from_str::<serde_json::Value>(body)?);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct IqmError {
    /// The `success` flag (always `false` on an error answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// Every entry of `errorObjects`, in order.
    #[serde(rename = "errorObjects", skip_serializing_if = "Vec::is_empty")]
    pub error_objects: Vec<ErrorObject>,
    /// The `data` member, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// Any other top-level members (for example an OAuth `error` / `error_description`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The account-on-hold answer's `data`: IQM refuses the login until the account is released.
///
/// ```
/// let e = iqm::IqmError::from_body(
///     r#"{"success":false,"data":{"status":"On Hold","reason":"missed payments","supportEmail":"support@iqm.com"},"errorObjects":[{"error":"x"}]}"#,
/// ).unwrap();
/// let hold = e.account_hold().unwrap();
/// assert_eq!(hold.support_email.as_deref(), Some("support@iqm.com"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AccountHold {
    /// The account status (`"On Hold"`).
    pub status: String,
    /// Why the account is held.
    pub reason: Option<String>,
    /// Whom to write to.
    pub support_email: Option<String>,
}

impl IqmError {
    /// Parse an error body; `None` when it is not a JSON object in IQM's (or an OAuth) shape.
    ///
    /// ```
    /// assert!(iqm::IqmError::from_body("Bad Gateway").is_none());
    /// assert!(iqm::IqmError::from_body(r#"{"unrelated":1}"#).is_none());
    /// ```
    pub fn from_body(body: &str) -> Option<Self> {
        match serde_json::from_str::<Value>(body) {
            Ok(v) => Self::from_value(v),
            Err(_) => None,
        }
    }

    /// Parse an already decoded body; `None` when it is not in IQM's (or an OAuth) shape.
    ///
    /// ```
    /// let v = serde_json::json!({"success": false, "errorObjects": []});
    /// assert!(iqm::IqmError::from_value(v).is_some());
    /// ```
    pub fn from_value(v: Value) -> Option<Self> {
        let Value::Object(mut map) = v else {
            return None;
        };
        let recognised = [
            "success",
            "errorObjects",
            "error",
            "error_description",
            "message",
        ]
        .iter()
        .any(|k| map.contains_key(*k));
        if !recognised {
            return None;
        }
        let success = match map.get("success") {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        };
        if success.is_some() {
            map.remove("success");
        }
        let error_objects = match map.remove("errorObjects") {
            Some(Value::Array(items)) => items.into_iter().map(ErrorObject::from_value).collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![ErrorObject::from_value(other)],
        };
        let data = match map.remove("data") {
            Some(Value::Null) | None => None,
            Some(v) => Some(v),
        };
        Some(IqmError {
            success,
            error_objects,
            data,
            extra: map,
        })
    }

    /// Every error object's text, joined with `; `; else an OAuth `error_description`,
    /// `error` or `message`.
    ///
    /// ```
    /// let e = iqm::IqmError::from_body(r#"{"error":"invalid_grant","error_description":"Bad credentials"}"#).unwrap();
    /// assert_eq!(e.message().as_deref(), Some("Bad credentials"));
    /// ```
    pub fn message(&self) -> Option<String> {
        if !self.error_objects.is_empty() {
            let parts: Vec<String> = self.error_objects.iter().map(ErrorObject::text).collect();
            return Some(parts.join("; "));
        }
        ["error_description", "error", "message"]
            .iter()
            .find_map(|k| self.extra.get(*k).and_then(scalar_text))
    }

    /// The account-on-hold detail, when this is that answer (`data.status` says "hold").
    ///
    /// ```
    /// let e = iqm::IqmError::from_body(r#"{"success":false,"errorObjects":[{"error":"x"}]}"#).unwrap();
    /// assert!(e.account_hold().is_none());
    /// ```
    pub fn account_hold(&self) -> Option<AccountHold> {
        let data = self.data.as_ref()?.as_object()?;
        let status = data.get("status").and_then(scalar_text)?;
        if !status.to_ascii_lowercase().contains("hold") {
            return None;
        }
        Some(AccountHold {
            status,
            reason: data.get("reason").and_then(scalar_text),
            support_email: data.get("supportEmail").and_then(scalar_text),
        })
    }

    /// Whether this is the account-on-hold answer.
    ///
    /// ```
    /// let e = iqm::IqmError::from_body(r#"{"success":false,"data":{"status":"On Hold"}}"#).unwrap();
    /// assert!(e.is_on_hold());
    /// ```
    pub fn is_on_hold(&self) -> bool {
        self.account_hold().is_some()
    }
}

/// IQM's error detail on a workspace [`Error`]: the parsed error body and the
/// account-on-hold answer. The one route to them; import it with `use iqm::ErrorExt`.
///
/// ```
/// # #[cfg(feature = "sandbox")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), iqm::Error> {
/// use iqm::ErrorExt as _;
/// use iqm::sandbox::Sandbox;
///
/// let sandbox = Sandbox::builder().start().await;
/// sandbox.set_on_hold(Sandbox::EMAIL, true);
/// let e = sandbox.client_builder().build()?.login().await.unwrap_err();
/// let hold = e.account_hold().expect("the on-hold answer");
/// assert_eq!(hold.support_email.as_deref(), Some("support@iqm.com"));
/// assert_eq!(e.iqm_error().map(|d| d.error_objects.len()), Some(1));
/// assert!(e.is_rejected() && !e.is_retryable());
/// # Ok(()) }
/// # #[cfg(not(feature = "sandbox"))]
/// # fn main() {}
/// ```
pub trait ErrorExt: sealed::Sealed {
    /// The parsed IQM error body, when the error came from one (every object of
    /// `errorObjects`, `data` and any other member, as sent).
    fn iqm_error(&self) -> Option<&IqmError>;

    /// The account-on-hold detail, when IQM refused because the account is held.
    fn account_hold(&self) -> Option<AccountHold>;
}

impl ErrorExt for Error {
    fn iqm_error(&self) -> Option<&IqmError> {
        self.detail::<IqmError>()
    }

    fn account_hold(&self) -> Option<AccountHold> {
        self.iqm_error().and_then(IqmError::account_hold)
    }
}

mod sealed {
    /// Only `auth_core::Error` carries IQM's detail.
    pub trait Sealed {}
    impl Sealed for auth_core::Error {}
}

fn take_text(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key) {
        Some(Value::String(_) | Value::Number(_) | Value::Bool(_)) => {
            map.remove(key).as_ref().and_then(scalar_text)
        }
        Some(Value::Null) => {
            map.remove(key);
            None
        }
        // Structured values stay in `extra` untouched.
        _ => None,
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The kind IQM's documented statuses map to.
fn kind_for_iqm_status(status: u16) -> ErrorKind {
    match status {
        // Validation, forbidden workspace, failed precondition, unprocessable input.
        400 | 403 | 412 | 422 => ErrorKind::Rejected,
        401 => ErrorKind::Unauthorized,
        // The server gave up waiting for the request: sending it again may work.
        408 => ErrorKind::Transient,
        429 => ErrorKind::RateLimited,
        500 => ErrorKind::Transient,
        other => auth_core::ErrorKind::from_status(other),
    }
}

/// The [`ErrorParser`] for IQM answers.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IqmErrors;

impl ErrorParser for IqmErrors {
    fn parse(&self, status: u16, _headers: &HeaderMap, body: &str, base: Error) -> Error {
        let base = base.with_kind(kind_for_iqm_status(status));
        match IqmError::from_body(body) {
            Some(parsed) => refine(base, parsed),
            None => base,
        }
    }
}

/// Put a parsed IQM error on `base`: message, detail, and the on-hold context.
pub(crate) fn refine(base: Error, parsed: IqmError) -> Error {
    let mut out = if parsed.is_on_hold() {
        // A held account is a decision, not a glitch: retrying will not help.
        base.with_kind(ErrorKind::Rejected)
            .with_context("iqm account is on hold")
            .with_retryable(false)
    } else {
        base
    };
    if let Some(m) = parsed.message() {
        out = out.with_vendor_message(m);
    }
    out.with_detail(parsed)
}

/// An error for an answer that said `success: false` with a success status.
pub(crate) fn unsuccessful(status: u16, parsed: IqmError) -> Error {
    let base = Error::new(ErrorKind::Rejected, "iqm answered success: false").with_status(status);
    refine(base, parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(status: u16, body: &str) -> Error {
        // Exactly the base the pipeline builds (auth_core::http::Http::error_from).
        auth_core::http::parse_error(
            &IqmErrors,
            status,
            &HeaderMap::new(),
            body,
            std::time::SystemTime::now(),
        )
    }

    #[test]
    fn documented_statuses_map_to_sensible_kinds() {
        let body = r#"{"success":false,"errorObjects":[{"error":"x"}]}"#;
        for (status, kind, retryable) in [
            (400, ErrorKind::Rejected, false),
            (401, ErrorKind::Unauthorized, false),
            (403, ErrorKind::Rejected, false),
            (408, ErrorKind::Transient, true),
            (412, ErrorKind::Rejected, false),
            (422, ErrorKind::Rejected, false),
            (429, ErrorKind::RateLimited, true),
            (500, ErrorKind::Transient, true),
        ] {
            let e = parse(status, body);
            assert_eq!(e.kind(), kind, "status {status}");
            assert_eq!(e.is_retryable(), retryable, "status {status}");
            assert_eq!(e.status(), Some(status));
            assert_eq!(e.vendor_message(), Some("x"));
            assert_eq!(e.iqm_error().unwrap().error_objects.len(), 1);
        }
    }

    #[test]
    fn every_object_is_kept_and_joined() {
        let e = parse(
            422,
            r#"{"success":false,"errorObjects":[{"error":"is required","field":"email"},{"error":"too short","reason":"min 6","field":"password","code":7}]}"#,
        );
        assert_eq!(
            e.vendor_message(),
            Some("email: is required; password: too short (min 6)")
        );
        let d = e.iqm_error().unwrap();
        assert_eq!(d.error_objects[1].extra["code"], 7);
        assert_eq!(
            e.to_string(),
            "vendor rejected the request (HTTP 422): email: is required; password: too short (min 6)"
        );
    }

    #[test]
    fn on_hold_is_recognisable_and_final() {
        let e = parse(
            400,
            r#"{"success":false,"data":{"status":"On Hold","reason":"missed payments","supportEmail":"support@iqm.com"},"errorObjects":[{"error":"User is not allowed to access provided customer","reason":"User is not associated with any active organization."}]}"#,
        );
        assert!(e.is_rejected() && !e.is_retryable());
        assert_eq!(e.status(), Some(400));
        assert!(
            e.to_string()
                .starts_with("iqm account is on hold (HTTP 400)")
        );
        let hold = e.account_hold().unwrap();
        assert_eq!(hold.status, "On Hold");
        assert_eq!(hold.reason.as_deref(), Some("missed payments"));
    }

    #[test]
    fn tolerant_of_other_shapes() {
        // OAuth-style error.
        let e = parse(
            400,
            r#"{"error":"invalid_grant","error_description":"Bad credentials"}"#,
        );
        assert_eq!(e.vendor_message(), Some("Bad credentials"));
        // Plain text stays as the base made it.
        let e = parse(502, "Bad Gateway");
        assert_eq!(e.vendor_message(), Some("Bad Gateway"));
        assert!(e.iqm_error().is_none());
        // Nulls, a single object instead of an array, numbers instead of strings.
        let d = IqmError::from_body(
            r#"{"success":false,"data":null,"errorObjects":{"error":404,"reason":null}}"#,
        )
        .unwrap();
        assert_eq!(d.error_objects[0].error.as_deref(), Some("404"));
        assert_eq!(d.data, None);
        assert!(IqmError::from_body("[1]").is_none());
        assert!(IqmError::from_body(r#"{"errorObjects":null}"#).is_some());
    }
}
