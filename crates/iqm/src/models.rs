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
}
