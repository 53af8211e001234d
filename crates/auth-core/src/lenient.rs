//! Tolerant serde field readers for vendor answers that spell the same field differently
//! from one answer to the next (a status as `401` or `"401"`, an id as `7` or `"7"`, `null`
//! where a list is expected). Use them with `#[serde(default, deserialize_with = "...")]`.

use std::str::FromStr;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `null` (or a missing field, with `#[serde(default)]`) reads as `T::default()`.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct A {
///     #[serde(default, deserialize_with = "auth_core::lenient::null_as_default")]
///     tags: Vec<String>,
/// }
/// let a: A = serde_json::from_str(r#"{"tags": null}"#)?;
/// assert!(a.tags.is_empty());
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A number sent as a JSON number or a numeric string; anything else (null, an unparsable
/// string, a value out of range) reads as `None` rather than failing the whole answer.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct E {
///     #[serde(default, deserialize_with = "auth_core::lenient::number")]
///     status: Option<u16>,
/// }
/// let a: E = serde_json::from_str(r#"{"status": "409"}"#)?;
/// let b: E = serde_json::from_str(r#"{"status": 409}"#)?;
/// let c: E = serde_json::from_str(r#"{"status": "n/a"}"#)?;
/// assert_eq!((a.status, b.status, c.status), (Some(409), Some(409), None));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
{
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// An identifier sent as a string or a number, read as a string; `null` and other shapes
/// read as `None`.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct A {
///     #[serde(default, deserialize_with = "auth_core::lenient::string_or_number")]
///     id: Option<String>,
/// }
/// let a: A = serde_json::from_str(r#"{"id": 42}"#)?;
/// assert_eq!(a.id.as_deref(), Some("42"));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn string_or_number<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}
