//! IntelePeer's error shape, `{"code": ..., "error": ...}`, parsed into the workspace error,
//! and [`ErrorExt`], the one way to read it back.

use auth_core::{Error, http::ErrorParser};
use reqwest::header::HeaderMap;
use serde_json::Value;

/// The parsed body of an IntelePeer error answer, attached to every [`Error`] built from one.
///
/// IntelePeer answers errors as `{"code": 401, "error": "Unauthorized"}`; some services send
/// `message` instead of `error`, and `code` is sometimes a string. Read it back with
/// [`ErrorExt::api_error`].
///
/// ```
/// use intelepeer::ApiError;
/// let e = ApiError::from_body(r#"{"code":"401","error":"Unauthorized"}"#).unwrap();
/// assert_eq!(e.code, Some(401));
/// assert_eq!(e.error.as_deref(), Some("Unauthorized"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ApiError {
    /// The numeric `code` (usually the HTTP status repeated).
    pub code: Option<i64>,
    /// The `error` text.
    pub error: Option<String>,
    /// A `message` text, when the service sends one.
    pub message: Option<String>,
}

impl ApiError {
    /// Parse an error body; `None` when it is not a JSON object carrying any of the fields.
    ///
    /// ```
    /// assert!(intelepeer::ApiError::from_body("Bad Gateway").is_none());
    /// ```
    pub fn from_body(body: &str) -> Option<Self> {
        serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| Self::from_value(&v))
    }

    /// [`from_body`](Self::from_body) for an already parsed answer.
    pub(crate) fn from_value(body: &Value) -> Option<Self> {
        let Value::Object(map) = body else {
            return None;
        };
        let text = |key: &str| match map.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        };
        let code = match map.get("code") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let parsed = ApiError {
            code,
            error: text("error"),
            message: text("message"),
        };
        (parsed != ApiError::default()).then_some(parsed)
    }

    /// The text to show: `error`, else `message`.
    ///
    /// ```
    /// let e = intelepeer::ApiError::from_body(r#"{"message":"no route"}"#).unwrap();
    /// assert_eq!(e.text(), Some("no route"));
    /// ```
    pub fn text(&self) -> Option<&str> {
        self.error.as_deref().or(self.message.as_deref())
    }
}

/// IntelePeer's detail on an [`Error`]: import it to read the parsed error body.
///
/// ```
/// # #[cfg(feature = "sandbox")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), intelepeer::Error> {
/// use intelepeer::{Credentials, ErrorExt as _, SendSms, sandbox::Sandbox};
/// let sandbox = Sandbox::builder().start().await;
/// let client = sandbox
///     .client_builder()
///     .with_credentials(Credentials::password(Sandbox::USERNAME, "wrong"))
///     .build()?;
/// let e = client.send_sms(&SendSms::new("+1303", "+1720", "hi")).await.unwrap_err();
/// assert!(e.is_unauthorized());
/// assert_eq!(e.api_error().and_then(|d| d.code), Some(401));
/// # Ok(()) }
/// # #[cfg(not(feature = "sandbox"))]
/// # fn main() {}
/// ```
pub trait ErrorExt {
    /// The parsed `{"code": ..., "error": ...}` body, when IntelePeer sent one.
    fn api_error(&self) -> Option<&ApiError>;
}

impl ErrorExt for Error {
    fn api_error(&self) -> Option<&ApiError> {
        self.detail::<ApiError>()
    }
}

/// The [`ErrorParser`] for IntelePeer answers.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IntelePeerErrors;

impl ErrorParser for IntelePeerErrors {
    fn parse(&self, _status: u16, _headers: &HeaderMap, body: &str, base: Error) -> Error {
        match ApiError::from_body(body) {
            Some(parsed) => {
                let base = match parsed.text() {
                    Some(text) => base.with_vendor_message(text),
                    None => base,
                };
                base.with_detail(parsed)
            }
            None => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::ErrorKind;

    fn parse(status: u16, body: &str) -> Error {
        // Exactly the base the pipeline builds (auth_core::http::Http::error_from).
        auth_core::http::parse_error(
            &IntelePeerErrors,
            status,
            &HeaderMap::new(),
            body,
            std::time::SystemTime::now(),
        )
    }

    #[test]
    fn vendor_shape_becomes_message_and_detail() {
        let e = parse(401, r#"{"code":401,"error":"Unauthorized"}"#);
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert_eq!(e.vendor_message(), Some("Unauthorized"));
        let d = e.api_error().unwrap();
        assert_eq!(d.code, Some(401));
        assert_eq!(
            e.to_string(),
            "vendor rejected the credentials (HTTP 401): Unauthorized"
        );
    }

    #[test]
    fn tolerant_of_other_shapes() {
        let e = parse(400, r#"{"code":null,"message":"bad number","extra":[1]}"#);
        assert_eq!(e.vendor_message(), Some("bad number"));
        assert_eq!(e.api_error().unwrap().code, None);
        // Plain text stays as the base made it.
        let e = parse(502, "Bad Gateway");
        assert_eq!(e.vendor_message(), Some("Bad Gateway"));
        assert!(e.api_error().is_none());
        // A JSON object with none of the fields is not an ApiError.
        assert!(ApiError::from_body(r#"{"x":1}"#).is_none());
        assert!(ApiError::from_body("[1,2]").is_none());
        assert!(ApiError::from_body(r#"{"code":"abc"}"#).is_none());
    }
}
