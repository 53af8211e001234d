//! Typed requests and answers of the Incend IPaaS API, and the local input checks that run
//! before anything is sent.

use std::fmt;
use std::time::SystemTime;

use auth_core::{Error, ErrorKind, Result};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// How a one-time code reaches the user.
///
/// The page announces WhatsApp as a future channel; this enum is `#[non_exhaustive]` so that
/// adding it is not a breaking change.
///
/// ```
/// let r = incend::Recipient::sms("+918838118348")?;
/// assert_eq!(r.channel(), incend::Channel::Sms);
/// # Ok::<(), incend::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Channel {
    /// A text message to a mobile number (`"authType": "mobile"` on the wire).
    Sms,
    /// An email (`"authType": "email"` on the wire).
    Email,
}

impl Channel {
    /// The `authType` value the API expects for this channel.
    ///
    /// ```
    /// assert_eq!(incend::Channel::Sms.auth_type(), "mobile");
    /// assert_eq!(incend::Channel::Email.auth_type(), "email");
    /// ```
    pub fn auth_type(self) -> &'static str {
        match self {
            Channel::Sms => "mobile",
            Channel::Email => "email",
        }
    }
}

/// Who receives a one-time code: a checked mobile number or email address.
///
/// Construction checks the form locally, so an obviously wrong number or address fails with
/// [`ErrorKind::InvalidInput`] before any request.
///
/// ```
/// let phone = incend::Recipient::sms("+918838118348")?;
/// let mail = incend::Recipient::email("user@example.com")?;
/// assert_eq!((phone.channel(), mail.address()), (incend::Channel::Sms, "user@example.com"));
/// assert!(incend::Recipient::sms("12-34").unwrap_err().is_invalid_input());
/// # Ok::<(), incend::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Recipient {
    channel: Channel,
    address: String,
}

impl Recipient {
    /// A mobile number for an SMS code: an optional `+`, then 8 to 13 digits, no leading zero
    /// (the server's own rule; spaces and dashes are not accepted by it either).
    ///
    /// ```
    /// assert!(incend::Recipient::sms("+918838118348").is_ok());
    /// assert!(incend::Recipient::sms("+91 883").unwrap_err().is_invalid_input());
    /// # Ok::<(), incend::Error>(())
    /// ```
    pub fn sms(number: impl Into<String>) -> Result<Self> {
        let number = number.into();
        check_mobile(&number)?;
        Ok(Recipient {
            channel: Channel::Sms,
            address: number,
        })
    }

    /// An email address for an emailed code (a plausible `local@domain.tld`).
    ///
    /// ```
    /// assert!(incend::Recipient::email("user@example.com").is_ok());
    /// assert!(incend::Recipient::email("user@localhost").unwrap_err().is_invalid_input());
    /// # Ok::<(), incend::Error>(())
    /// ```
    pub fn email(address: impl Into<String>) -> Result<Self> {
        let address = address.into();
        check_email(&address)?;
        Ok(Recipient {
            channel: Channel::Email,
            address,
        })
    }

    /// The delivery channel.
    ///
    /// ```
    /// let r = incend::Recipient::email("a@example.com")?;
    /// assert_eq!(r.channel(), incend::Channel::Email);
    /// # Ok::<(), incend::Error>(())
    /// ```
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The number or address.
    ///
    /// ```
    /// let r = incend::Recipient::email("a@example.com")?;
    /// assert_eq!(r.address(), "a@example.com");
    /// # Ok::<(), incend::Error>(())
    /// ```
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The JSON fields naming this recipient: `authType` and `mobile` or `email`.
    pub(crate) fn wire(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("authType".into(), self.channel.auth_type().into());
        m.insert(self.channel.auth_type().into(), self.address.clone().into());
        m
    }
}

fn invalid(msg: &str) -> Error {
    Error::new(ErrorKind::InvalidInput, msg)
}

pub(crate) fn check_mobile(number: &str) -> Result<()> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            "mobile number must be digits with an optional leading +",
        ));
    }
    if digits.starts_with('0') {
        return Err(invalid(
            "mobile number must start with the country code, not 0",
        ));
    }
    if !(8..=13).contains(&digits.len()) {
        return Err(invalid(
            "mobile number must have 8 to 13 digits including the country code",
        ));
    }
    Ok(())
}

pub(crate) fn check_email(address: &str) -> Result<()> {
    let bad = || invalid("email address is not of the form local@domain.tld");
    if address.len() > 254 || address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = address.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty() || local.contains('@') || local.len() > 64 {
        return Err(bad());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty() || l.starts_with('-')) {
        return Err(bad());
    }
    Ok(())
}

/// A one-time code as typed by the user: 3 to 6 characters, no whitespace. Held as a secret:
/// it never prints and is scrubbed from error bodies.
#[derive(Clone)]
pub(crate) struct OtpCode(SecretString);

impl OtpCode {
    /// Check and wrap a code.
    pub(crate) fn new(code: impl Into<String>) -> Result<Self> {
        let code = code.into();
        let n = code.chars().count();
        if !(3..=6).contains(&n) {
            return Err(invalid("one-time code must be 3 to 6 characters"));
        }
        if code.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("one-time code must not contain whitespace"));
        }
        Ok(OtpCode(SecretString::from(code)))
    }

    pub(crate) fn secret(&self) -> &SecretString {
        &self.0
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode([REDACTED])")
    }
}

/// The user's session token (the `userJwtToken` of a verification), a secret.
///
/// The backend hands it to the user's device; the device sends it base64-wrapped as
/// `Authorization: Bearer <base64 of the token>` (the [`UserClient`](crate::UserClient) does
/// the wrapping). Debug and Display print `[REDACTED]`.
///
/// ```
/// let t = incend::UserToken::new("eyJhbGciOiJIUzI1NiJ9.e30.sig");
/// assert_eq!(t.to_string(), "[REDACTED]");
/// assert_eq!(t.expose(), "eyJhbGciOiJIUzI1NiJ9.e30.sig");
/// ```
#[derive(Clone)]
pub struct UserToken(SecretString);

impl PartialEq for UserToken {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for UserToken {}

impl UserToken {
    /// Wrap a token string (on the user's device: the token the backend handed over).
    pub fn new(token: impl Into<String>) -> Self {
        UserToken(SecretString::from(token.into()))
    }

    /// The token itself, to hand to the user's device. Call it only there.
    ///
    /// ```
    /// assert_eq!(incend::UserToken::new("jwt").expose(), "jwt");
    /// ```
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The secret as a `secrecy` type.
    pub(crate) fn secret(&self) -> &SecretString {
        &self.0
    }

    /// The base64 wire form the API expects after `Bearer `.
    pub(crate) fn wire_form(&self) -> SecretString {
        use base64::Engine as _;
        SecretString::from(
            base64::engine::general_purpose::STANDARD.encode(self.0.expose_secret().as_bytes()),
        )
    }
}

impl From<String> for UserToken {
    fn from(s: String) -> Self {
        UserToken::new(s)
    }
}

impl From<&str> for UserToken {
    fn from(s: &str) -> Self {
        UserToken::new(s)
    }
}

impl fmt::Debug for UserToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserToken([REDACTED])")
    }
}

impl fmt::Display for UserToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// The id IPaaS gives a user: the one thing a client backend may store about them.
///
/// ```
/// let id = incend::UserId::new("64f1c0ffee");
/// assert_eq!(id.as_str(), "64f1c0ffee");
/// assert_eq!(id.to_string(), "64f1c0ffee");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// Wrap an id (one your backend stored).
    pub fn new(id: impl Into<String>) -> Self {
        UserId(id.into())
    }

    /// The id as text.
    ///
    /// ```
    /// assert_eq!(incend::UserId::new("abc").as_str(), "abc");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The answer to sending a one-time code ([`Client::send_otp`](crate::Client::send_otp)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtpSent {
    /// The server's message, e.g. "OTP SMS has been sent successfully".
    pub message: String,
}

/// A successful verification, as the client backend may keep it: the user's id and their
/// session token (a secret) with its server-reported expiry.
///
/// The privacy rule of the IPaaS page: a client backend may store only the `userId`, and
/// personal data (name, profile data) is for the user's device to fetch itself. The verify
/// answer does carry `name` and `userData`; they are never deserialized into this type, so
/// they cannot be logged, cached or stored by accident. Hand [`VerifiedUser::user_token`]
/// to the device, keep [`VerifiedUser::user_id`]. The [crate docs](crate) show the flow.
#[derive(Debug, Clone)]
pub struct VerifiedUser {
    user_id: UserId,
    user_token: UserToken,
    expires_at: SystemTime,
}

impl VerifiedUser {
    pub(crate) fn new(user_id: UserId, user_token: UserToken, expires_at: SystemTime) -> Self {
        VerifiedUser {
            user_id,
            user_token,
            expires_at,
        }
    }

    /// The user's id: the only user data the backend may store.
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    /// The user's session token, to hand to their device.
    pub fn user_token(&self) -> &UserToken {
        &self.user_token
    }

    /// When the server says the session ends (about 30 days; extended as the user uses it).
    /// Hand it to the device with the token, so an expired session fails there locally.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }
}

/// A session's state as `GET /auth/token` reports it
/// ([`Client::token_status`](crate::Client::token_status)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenStatus {
    /// Whose session it is.
    pub user_id: UserId,
    /// When the session ends.
    pub expires_at: SystemTime,
    /// The server's message ("User session is still active").
    pub message: String,
}

/// The user's own profile, as the user's device sees it (`GET /user`, `POST /user/edit`).
///
/// This holds personal data: it is for the user's device, not for a client backend.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Profile {
    /// The user's id.
    pub user_id: UserId,
    /// Display name, when set.
    pub name: Option<String>,
    /// Email address, when known.
    pub email: Option<String>,
    /// Mobile number, when known.
    pub mobile: Option<String>,
    /// Whether the email address was verified by a code.
    pub is_email_verified: bool,
    /// Whether the mobile number was verified by a code.
    pub is_mobile_verified: bool,
    /// Free-form profile data (only present in the answer to an edit).
    pub data: Option<serde_json::Map<String, serde_json::Value>>,
    /// When the session ends, as the server reported it with this answer.
    pub session_expires_at: Option<SystemTime>,
}

/// Changes to the user's profile: the name (required by the API) and data fields to set.
///
/// ```
/// let edit = incend::ProfileEdit::new("Asha")?.with_data("city", "Chennai");
/// assert_ne!(edit, incend::ProfileEdit::new("Asha")?);
/// assert!(incend::ProfileEdit::new(" ").unwrap_err().is_invalid_input());
/// # Ok::<(), incend::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileEdit {
    name: String,
    data: serde_json::Map<String, serde_json::Value>,
}

impl ProfileEdit {
    /// An edit setting the display name (the API requires one on every edit).
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        if name.trim().is_empty() {
            return Err(invalid("profile name must not be empty"));
        }
        Ok(ProfileEdit {
            name,
            data: serde_json::Map::new(),
        })
    }

    /// Also set the data field `key` to `value` (free-form profile data, such as a city).
    pub fn with_data(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.data.insert(key.into(), value.into());
        self
    }

    /// The request body. `data` is always sent: the server fails without it.
    pub(crate) fn wire(&self) -> serde_json::Value {
        serde_json::json!({ "name": self.name, "data": self.data })
    }
}

// ---- wire shapes (private) ----

#[derive(Deserialize)]
pub(crate) struct MessageWire {
    #[serde(default)]
    pub message: Option<String>,
}

/// The verify answer, minus everything personal: `name` and `userData` are not fields here,
/// so serde skips them without ever building them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VerifyWire {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub user_id: Option<UserId>,
    #[serde(default)]
    pub user_jwt_token: Option<String>,
    #[serde(default)]
    pub token_expiry: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenStatusWire {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub user_id: Option<UserId>,
    #[serde(default)]
    pub token_expiry: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProfileWire {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub user_id: Option<UserId>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub mobile: Option<String>,
    #[serde(default)]
    pub is_email_verified: Option<bool>,
    #[serde(default)]
    pub is_mobile_verified: Option<bool>,
    #[serde(default)]
    pub data: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub token_expiry: Option<String>,
}

pub(crate) fn missing(field: &str) -> Error {
    Error::new(
        ErrorKind::BadResponse,
        format!("answer lacks the `{field}` field"),
    )
}

/// [`missing`], keeping the answer's `message` (a 200 that carries an error text, or a
/// reserved test recipient's answer) as the vendor message, with `secrets` scrubbed from it.
pub(crate) fn missing_with(
    field: &str,
    status: u16,
    message: Option<&str>,
    secrets: &[&str],
) -> Error {
    let err = missing(field).with_status(status);
    match message.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => {
            // Every encoding of each secret, not just the raw one (a percent-encoded code).
            let held: Vec<secrecy::SecretString> = secrets.iter().map(|s| (*s).into()).collect();
            let refs: Vec<&secrecy::SecretString> = held.iter().collect();
            err.with_vendor_message(m).scrubbed(&refs)
        }
        None => err,
    }
}

impl ProfileWire {
    /// The profile from an answer of `status`; `secrets` are scrubbed from the message kept
    /// on an error.
    pub(crate) fn into_profile(self, status: u16, secrets: &[&str]) -> Result<Profile> {
        let session_expires_at = self
            .token_expiry
            .as_deref()
            .map(auth_core::provider::parse_rfc3339)
            .transpose()
            .map_err(|e| e.with_status(status))?;
        Ok(Profile {
            user_id: self
                .user_id
                .ok_or_else(|| missing_with("userId", status, self.message.as_deref(), secrets))?,
            name: self.name,
            email: self.email,
            mobile: self.mobile,
            is_email_verified: self.is_email_verified.unwrap_or(false),
            is_mobile_verified: self.is_mobile_verified.unwrap_or(false),
            data: self.data,
            session_expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_rules() {
        for ok in [
            "+918838118348",
            "918838118348",
            "+12025550123",
            "+4915112345",
        ] {
            assert!(Recipient::sms(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "+",
            "+91 8838118348",
            "+91-883-811-8348",
            "0883811834",
            "+1234567",
            "+12345678901234",
            "phone",
            "+९१८८३८११८३४८",
        ] {
            let e = Recipient::sms(bad).unwrap_err();
            assert!(e.is_invalid_input(), "{bad}: {e}");
        }
    }

    #[test]
    fn email_rules() {
        for ok in ["a@example.com", "first.last+tag@sub.example.co.in"] {
            assert!(Recipient::email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a@.com",
            "a@example.",
            "a b@example.com",
            "a@@example.com",
        ] {
            let e = Recipient::email(bad).unwrap_err();
            assert!(e.is_invalid_input(), "{bad}: {e}");
        }
    }

    #[test]
    fn code_length_is_three_to_six_characters() {
        for ok in ["123", "0123", "12345", "123456", "ab1"] {
            assert!(OtpCode::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "12", "1234567", "12 34", "12\n3"] {
            assert!(OtpCode::new(bad).unwrap_err().is_invalid_input(), "{bad}");
        }
    }

    #[test]
    fn recipient_wire_names_the_channel() {
        let r = Recipient::sms("+918838118348").unwrap();
        assert_eq!(
            serde_json::Value::Object(r.wire()),
            serde_json::json!({"authType": "mobile", "mobile": "+918838118348"})
        );
        let r = Recipient::email("a@example.com").unwrap();
        assert_eq!(
            serde_json::Value::Object(r.wire()),
            serde_json::json!({"authType": "email", "email": "a@example.com"})
        );
    }

    #[test]
    fn wire_form_is_standard_base64() {
        let t = UserToken::new("a.b.c");
        assert_eq!(t.wire_form().expose_secret(), "YS5iLmM=");
    }
}
