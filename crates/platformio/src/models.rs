//! Typed request and answer bodies of the client account API.

use std::collections::BTreeMap;
use std::fmt;

use auth_core::{Error, ErrorKind};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The `client_token` the platform returns on sign-up and client login; required (as the
/// `Client-Token` header) to update or delete that client. Debug and Display redact it.
///
/// ```
/// let t = platformio::ClientToken::new("ct-secret");
/// assert!(!format!("{t:?} {t}").contains("ct-secret"));
/// assert_eq!(t.expose(), "ct-secret");
/// ```
#[derive(Clone)]
pub struct ClientToken(SecretString);

impl ClientToken {
    /// Wrap a client token kept from an earlier sign-up or login (in your own store), to
    /// update or delete that client later.
    pub fn new(value: impl Into<String>) -> Self {
        ClientToken(SecretString::from(value.into()))
    }

    /// The token itself. Call it only where it goes on the wire or into your own store.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub(crate) fn as_secret(&self) -> &SecretString {
        &self.0
    }
}

impl fmt::Debug for ClientToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientToken([REDACTED])")
    }
}

impl fmt::Display for ClientToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<'de> Deserialize<'de> for ClientToken {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(ClientToken::new)
    }
}

/// A client's first and last name (both required by the platform at sign-up).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientName {
    /// First name.
    #[serde(default, deserialize_with = "auth_core::lenient::null_as_default")]
    pub first_name: String,
    /// Last name.
    #[serde(default, deserialize_with = "auth_core::lenient::null_as_default")]
    pub last_name: String,
}

impl ClientName {
    /// A name from its two parts.
    pub fn new(first_name: impl Into<String>, last_name: impl Into<String>) -> Self {
        ClientName {
            first_name: first_name.into(),
            last_name: last_name.into(),
        }
    }
}

/// One value of a client's `custom_data`: a string, number, boolean or object.
///
/// ```
/// use platformio::CustomValue;
/// let v: CustomValue = "gold".into();
/// assert_eq!(v, CustomValue::String("gold".into()));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CustomValue {
    /// A string.
    String(String),
    /// A number.
    Number(serde_json::Number),
    /// A boolean.
    Bool(bool),
    /// A JSON object.
    Object(Map<String, Value>),
}

impl CustomValue {
    /// Convert an arbitrary JSON value; arrays and `null` are not allowed by the platform.
    ///
    /// ```
    /// use platformio::CustomValue;
    /// assert!(CustomValue::from_json(serde_json::json!(3)).is_ok());
    /// assert!(CustomValue::from_json(serde_json::json!([1])).unwrap_err().is_invalid_input());
    /// ```
    pub fn from_json(value: Value) -> Result<Self, Error> {
        match value {
            Value::String(s) => Ok(CustomValue::String(s)),
            Value::Number(n) => Ok(CustomValue::Number(n)),
            Value::Bool(b) => Ok(CustomValue::Bool(b)),
            Value::Object(o) => Ok(CustomValue::Object(o)),
            Value::Null | Value::Array(_) => Err(Error::new(
                ErrorKind::InvalidInput,
                "custom data values must be a string, number, boolean or object",
            )),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            CustomValue::String(s) => Value::String(s.clone()),
            CustomValue::Number(n) => Value::Number(n.clone()),
            CustomValue::Bool(b) => Value::Bool(*b),
            CustomValue::Object(o) => Value::Object(o.clone()),
        }
    }
}

impl From<&str> for CustomValue {
    fn from(s: &str) -> Self {
        CustomValue::String(s.to_owned())
    }
}

impl From<String> for CustomValue {
    fn from(s: String) -> Self {
        CustomValue::String(s)
    }
}

impl From<bool> for CustomValue {
    fn from(b: bool) -> Self {
        CustomValue::Bool(b)
    }
}

impl From<i64> for CustomValue {
    fn from(n: i64) -> Self {
        CustomValue::Number(n.into())
    }
}

impl From<u64> for CustomValue {
    fn from(n: u64) -> Self {
        CustomValue::Number(n.into())
    }
}

impl From<Map<String, Value>> for CustomValue {
    fn from(o: Map<String, Value>) -> Self {
        CustomValue::Object(o)
    }
}

/// A client account to create with [`Client::sign_up`](crate::Client::sign_up).
///
/// ```
/// use platformio::{ClientName, NewClient};
/// let user_id = uuid::Uuid::new_v4();
/// let new = NewClient::new(user_id, "ada@example.com", ClientName::new("Ada", "Lovelace"), "pw")
///     .with_phone_number("+27761234567")
///     .with_custom_data("tier", "gold");
/// assert_eq!(new.user_id(), user_id);
/// ```
#[derive(Clone)]
pub struct NewClient {
    user_id: Uuid,
    email: String,
    name: ClientName,
    password: SecretString,
    phone_number: Option<String>,
    custom_data: BTreeMap<String, CustomValue>,
}

impl fmt::Debug for NewClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewClient")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("password", &"[REDACTED]")
            .field("phone_number", &self.phone_number)
            .field("custom_data", &self.custom_data)
            .finish()
    }
}

impl NewClient {
    /// The required fields: your UUIDv4 for the client (the platform keeps it as the
    /// account's id), email, name and the client's chosen password.
    pub fn new(
        user_id: Uuid,
        email: impl Into<String>,
        name: ClientName,
        password: impl Into<SecretString>,
    ) -> Self {
        NewClient {
            user_id,
            email: email.into(),
            name,
            password: password.into(),
            phone_number: None,
            custom_data: BTreeMap::new(),
        }
    }

    /// Add the optional phone number (E.164, such as `+27761234567`; another form is
    /// refused before sending).
    pub fn with_phone_number(mut self, phone_number: impl Into<String>) -> Self {
        self.phone_number = Some(phone_number.into());
        self
    }

    /// Add one entry of `custom_data`: your own fields on the account, kept by the platform.
    pub fn with_custom_data(
        mut self,
        key: impl Into<String>,
        value: impl Into<CustomValue>,
    ) -> Self {
        self.custom_data.insert(key.into(), value.into());
        self
    }

    /// The client's user id, the key of later updates and the deletion.
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }

    pub(crate) fn password(&self) -> &SecretString {
        &self.password
    }

    pub(crate) fn to_body(&self) -> Result<Value, Error> {
        check_email(&self.email)?;
        check_name_part("first name", &self.name.first_name)?;
        check_name_part("last name", &self.name.last_name)?;
        let mut body = Map::new();
        body.insert(
            "user_id".into(),
            Value::String(self.user_id.hyphenated().to_string()),
        );
        body.insert("email".into(), Value::String(self.email.clone()));
        body.insert(
            "name".into(),
            serde_json::json!({"first_name": self.name.first_name, "last_name": self.name.last_name}),
        );
        body.insert(
            "password".into(),
            Value::String(self.password.expose_secret().to_owned()),
        );
        if let Some(p) = &self.phone_number {
            check_phone(p)?;
            body.insert("phone_number".into(), Value::String(p.clone()));
        }
        if !self.custom_data.is_empty() {
            body.insert("custom_data".into(), custom_json(&self.custom_data));
        }
        Ok(Value::Object(body))
    }
}

/// A partial update of a client account for [`Client::update_client`](crate::Client::update_client).
///
/// Fields left alone are not sent (the platform keeps them); [`clear_phone_number`](Self::clear_phone_number)
/// sends `null`, which clears the field. Required fields (email, names, password) cannot be cleared.
///
/// ```
/// use platformio::ClientUpdate;
/// assert!(ClientUpdate::new().is_empty());
/// let update = ClientUpdate::new().email("new@example.com").clear_phone_number();
/// assert!(!update.is_empty());
/// ```
#[derive(Clone, Default)]
pub struct ClientUpdate {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    password: Option<SecretString>,
    phone_number: Option<Option<String>>,
    custom_data: BTreeMap<String, CustomValue>,
}

impl fmt::Debug for ClientUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientUpdate")
            .field("email", &self.email)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("phone_number", &self.phone_number)
            .field("custom_data", &self.custom_data)
            .finish()
    }
}

impl ClientUpdate {
    /// An update that changes nothing yet (sending it is refused before any request).
    pub fn new() -> Self {
        Self::default()
    }

    /// Change the email address (the client's login name).
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Change the first name (the last name is kept unless set too).
    pub fn first_name(mut self, first_name: impl Into<String>) -> Self {
        self.first_name = Some(first_name.into());
        self
    }

    /// Change the last name (the first name is kept unless set too).
    pub fn last_name(mut self, last_name: impl Into<String>) -> Self {
        self.last_name = Some(last_name.into());
        self
    }

    /// Change the client's password (scrubbed from any error, redacted in Debug).
    pub fn password(mut self, password: impl Into<SecretString>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Set the phone number (E.164; another form is refused before sending).
    pub fn phone_number(mut self, phone_number: impl Into<String>) -> Self {
        self.phone_number = Some(Some(phone_number.into()));
        self
    }

    /// Clear the phone number (sends `"phone_number": null`, the platform's way to clear an
    /// optional field).
    pub fn clear_phone_number(mut self) -> Self {
        self.phone_number = Some(None);
        self
    }

    /// Set one entry of `custom_data` (entries not named are kept).
    pub fn custom_data(mut self, key: impl Into<String>, value: impl Into<CustomValue>) -> Self {
        self.custom_data.insert(key.into(), value.into());
        self
    }

    /// Whether the update would change nothing.
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.password.is_none()
            && self.phone_number.is_none()
            && self.custom_data.is_empty()
    }

    pub(crate) fn password_secret(&self) -> Option<&SecretString> {
        self.password.as_ref()
    }

    pub(crate) fn to_body(&self) -> Result<Value, Error> {
        if self.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the update changes no field",
            ));
        }
        let mut body = Map::new();
        if let Some(e) = &self.email {
            check_email(e)?;
            body.insert("email".into(), Value::String(e.clone()));
        }
        if self.first_name.is_some() || self.last_name.is_some() {
            let mut name = Map::new();
            if let Some(f) = &self.first_name {
                check_name_part("first name", f)?;
                name.insert("first_name".into(), Value::String(f.clone()));
            }
            if let Some(l) = &self.last_name {
                check_name_part("last name", l)?;
                name.insert("last_name".into(), Value::String(l.clone()));
            }
            body.insert("name".into(), Value::Object(name));
        }
        if let Some(p) = &self.password {
            body.insert(
                "password".into(),
                Value::String(p.expose_secret().to_owned()),
            );
        }
        match &self.phone_number {
            None => {}
            Some(None) => {
                body.insert("phone_number".into(), Value::Null);
            }
            Some(Some(p)) => {
                check_phone(p)?;
                body.insert("phone_number".into(), Value::String(p.clone()));
            }
        }
        if !self.custom_data.is_empty() {
            body.insert("custom_data".into(), custom_json(&self.custom_data));
        }
        Ok(Value::Object(body))
    }
}

/// What a client login returns ([`Client::login_client`](crate::Client::login_client)):
/// the client token and the account's details.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct ClientLogin {
    /// The client token for updates and deletion.
    pub client_token: ClientToken,
    /// The account's details.
    #[serde(flatten)]
    pub account: ClientAccount,
}

/// A client account's details as the platform reports them.
///
/// ```
/// let a: platformio::ClientAccount = serde_json::from_str(r#"{"email":"a@example.com","phone_number":null}"#)?;
/// assert_eq!(a.phone_number, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[non_exhaustive]
pub struct ClientAccount {
    /// The client's UUID (`None` when absent or not a UUID).
    #[serde(default, deserialize_with = "lenient_uuid")]
    pub user_id: Option<Uuid>,
    /// The client's phone number, if any.
    #[serde(default, deserialize_with = "auth_core::lenient::string_or_number")]
    pub phone_number: Option<String>,
    /// The client's email address.
    #[serde(default, deserialize_with = "auth_core::lenient::string_or_number")]
    pub email: Option<String>,
    /// The client's names (`None` when absent or not an object).
    #[serde(default, deserialize_with = "lenient_name")]
    pub name: Option<ClientName>,
}

/// A UUID as a string; anything else (a number, a malformed id, `null`) reads as `None`, so
/// an odd detail never costs the caller the client token of the same answer.
fn lenient_uuid<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Uuid>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Uuid::parse_str(s.trim()).ok(),
        _ => None,
    })
}

/// The names object; another shape reads as `None`.
fn lenient_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ClientName>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(v @ Value::Object(_)) => serde_json::from_value(v).ok(),
        _ => None,
    })
}

#[derive(Deserialize)]
pub(crate) struct ClientTokenAnswer {
    pub(crate) client_token: ClientToken,
}

#[derive(Deserialize)]
pub(crate) struct ApiTokenAnswer {
    pub(crate) api_token: String,
}

fn custom_json(data: &BTreeMap<String, CustomValue>) -> Value {
    Value::Object(data.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

fn invalid(msg: &'static str) -> Error {
    Error::new(ErrorKind::InvalidInput, msg)
}

fn check_email(email: &str) -> Result<(), Error> {
    let trimmed = email.trim();
    match trimmed.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(())
        }
        _ => Err(invalid("email address is not valid")),
    }
}

fn check_name_part(what: &'static str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("the client's {what} cannot be empty"),
        ));
    }
    Ok(())
}

/// E.164: a `+`, then 2 to 15 digits, the first not zero.
pub(crate) fn is_e164(p: &str) -> bool {
    let Some(digits) = p.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

fn check_phone(p: &str) -> Result<(), Error> {
    if is_e164(p) {
        Ok(())
    } else {
        Err(invalid(
            "phone number must be in E.164 format, such as +27761234567",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "pw-very-secret-42";

    #[test]
    fn e164() {
        for ok in ["+27761234567", "+12", "+123456789012345"] {
            assert!(is_e164(ok), "{ok}");
        }
        for bad in [
            "27761234567",
            "+",
            "+0123",
            "+1234567890123456",
            "+27 76",
            "",
            "+2776123456a",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }

    #[test]
    fn bad_input_is_typed() {
        let id = Uuid::nil();
        let n = ClientName::new("A", "B");
        assert!(
            NewClient::new(id, "nope", n.clone(), SECRET)
                .to_body()
                .unwrap_err()
                .is_invalid_input()
        );
        assert!(
            NewClient::new(id, "a@b", n.clone(), SECRET)
                .with_phone_number("0761234567")
                .to_body()
                .unwrap_err()
                .is_invalid_input()
        );
        assert!(
            NewClient::new(id, "a@b", ClientName::new(" ", "B"), SECRET)
                .to_body()
                .unwrap_err()
                .is_invalid_input()
        );
        assert!(
            ClientUpdate::new()
                .to_body()
                .unwrap_err()
                .is_invalid_input()
        );
        assert!(
            ClientUpdate::new()
                .phone_number("x")
                .to_body()
                .unwrap_err()
                .is_invalid_input()
        );
    }

    #[test]
    fn update_sends_only_what_changed_and_null_clears() {
        let body = ClientUpdate::new()
            .last_name("King")
            .clear_phone_number()
            .to_body()
            .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"name": {"last_name": "King"}, "phone_number": null})
        );
    }

    #[test]
    fn debug_never_shows_passwords() {
        let n = NewClient::new(Uuid::nil(), "a@b", ClientName::new("A", "B"), SECRET);
        let u = ClientUpdate::new().password(SECRET);
        let t = ClientToken::new(SECRET);
        for shown in [
            format!("{n:?}"),
            format!("{u:?}"),
            format!("{t:?}"),
            format!("{t}"),
        ] {
            assert!(!shown.contains(SECRET), "{shown}");
        }
    }

    #[test]
    fn login_answer_tolerates_nulls_and_unknown_fields() {
        let l: ClientLogin = serde_json::from_str(
            r#"{"client_token":"ct","user_id":null,"phone_number":null,"email":"a@b","name":{"first_name":null,"last_name":"B"},"extra":1}"#,
        )
        .unwrap();
        assert_eq!(l.account.name, Some(ClientName::new("", "B")));
        assert_eq!(l.account.user_id, None);
    }

    #[test]
    fn odd_account_details_never_cost_the_client_token() {
        let l: ClientLogin = serde_json::from_str(
            r#"{"client_token":"ct","user_id":"not-a-uuid","phone_number":27761234567,"email":["x"],"name":"Ada"}"#,
        )
        .unwrap();
        assert_eq!(l.client_token.expose(), "ct");
        assert_eq!(
            l.account,
            ClientAccount {
                user_id: None,
                phone_number: Some("27761234567".into()),
                email: None,
                name: None,
            }
        );
        let l: ClientLogin = serde_json::from_str(
            r#"{"client_token":"ct","user_id":" 80491f93-1eb1-42c2-b5e1-d2e94dac5ab9 "}"#,
        )
        .unwrap();
        assert_eq!(
            l.account.user_id,
            Some(Uuid::from_u128(0x80491f93_1eb1_42c2_b5e1_d2e94dac5ab9))
        );
        // The token itself is required: without it the answer is a typed error.
        let e =
            auth_core::http::parse_json::<ClientLogin>(br#"{"client_token":null}"#).unwrap_err();
        assert!(e.is_bad_response());
    }
}
