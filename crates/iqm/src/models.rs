//! Typed answers: the sign-up result and the `{success, data}` envelope IQM wraps most
//! answers in.

use auth_core::{Error, TokenSet};
use serde::de::DeserializeOwned;
use serde_json::Value;

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
}
