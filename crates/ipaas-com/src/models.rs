//! Typed iPaaS.com answers. Every field is optional or defaulted and unknown fields are
//! ignored: the SSO API's shapes vary a little between versions and accounts.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use auth_core::{AccessToken, Error, ErrorKind, Expiry, RefreshToken, TokenSet};
use serde::{Deserialize, Deserializer, Serialize};

/// The user an iPaaS.com login (or refresh, or company switch) answered for, without tokens.
///
/// ```
/// let p: ipaas_com::UserProfile = serde_json::from_str(r#"{"id":664,"name":"Ann","extra":1}"#)?;
/// assert_eq!(p.id, Some(664));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct UserProfile {
    /// The user id (needed to list the user's companies).
    #[serde(deserialize_with = "auth_core::lenient::number")]
    pub id: Option<i64>,
    /// Display name.
    pub name: Option<String>,
    /// Sign-in email address.
    pub email_address: Option<String>,
    /// The `return_url` sent at login, echoed back.
    pub return_url: Option<String>,
    /// Permissions as iPaaS.com sends them (any JSON).
    pub permissions: serde_json::Value,
    /// The `tracking_guid` sent at login, echoed back.
    pub tracking_guid: Option<String>,
}

/// A company the user may act for, from `GET /sso/v2/User/{id}/Companies`.
///
/// ```
/// let c: ipaas_com::Company =
///     serde_json::from_str(r#"{"id":"6f1c2a4e-0000-4000-8000-000000000001","name":"Acme","logo":null}"#)?;
/// assert_eq!(c.name.as_deref(), Some("Acme"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Company {
    /// Company id (a GUID string); pass it to `Client::change_company`.
    #[serde(deserialize_with = "lenient_string")]
    pub id: String,
    /// Company name.
    pub name: Option<String>,
    /// Logo URL.
    pub logo: Option<String>,
    /// Designation id.
    #[serde(deserialize_with = "auth_core::lenient::number")]
    pub designation_id: Option<i64>,
    /// User type id within the company.
    #[serde(deserialize_with = "auth_core::lenient::number")]
    pub user_type_id: Option<i64>,
    /// Designations, as a map.
    #[serde(deserialize_with = "lenient_map")]
    pub designations: BTreeMap<String, serde_json::Value>,
}

/// The shape Login, Refresh and ChangeCompany all answer. Private: it holds raw tokens.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct AuthAnswer {
    access_token: Option<String>,
    access_token_expiration: Option<String>,
    refresh_token: Option<String>,
    #[serde(flatten)]
    pub(crate) profile: UserProfile,
}

/// iPaaS.com access tokens last about an hour; used only when the answer gives no expiry
/// and the token carries no JWT `exp`.
const FALLBACK_LIFETIME: Duration = Duration::from_secs(3600);

/// The signed-in user's id, kept with the token set and carried over refreshes by the
/// session; serialized as the bare number, so it travels with the set through a token store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct UserId(pub(crate) i64);

impl AuthAnswer {
    /// Build the token set, judging the expiry against `now`.
    pub(crate) fn token_set(&self, now: SystemTime) -> Result<TokenSet, Error> {
        let access = self
            .access_token
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| Error::new(ErrorKind::BadResponse, "auth answer has no access_token"))?;
        let expiry = match self.access_token_expiration.as_deref() {
            Some(s) if !s.trim().is_empty() => Expiry::from_rfc3339(s, now)?,
            _ => Expiry::from_jwt(access, now)
                .unwrap_or_else(|_| Expiry::lifetime_from(FALLBACK_LIFETIME, now)),
        };
        let refresh = self
            .refresh_token
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .map(RefreshToken::new);
        let mut set = TokenSet::new(AccessToken::new(access), expiry).with_refresh_token(refresh);
        if let Some(id) = self.profile.id {
            set = set.with_storable_data(UserId(id));
        }
        Ok(set)
    }
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

fn lenient_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, serde_json::Value>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Object(m) => m.into_iter().collect(),
        _ => BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "access-secret-9f8e7d";

    #[test]
    fn auth_answer_builds_token_set() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let a: AuthAnswer = serde_json::from_value(serde_json::json!({
            "id": 664, "name": "User", "access_token": SECRET,
            "access_token_expiration": "2027-01-15T08:01:00+00:00",
            "refresh_token": "AQA-refresh", "permissions": [1, 2], "unknown": true
        }))
        .unwrap();
        let set = a.token_set(now).unwrap();
        assert_eq!(set.access_token().expose(), SECRET);
        assert_eq!(set.refresh_token().unwrap().expose(), "AQA-refresh");
        assert_eq!(set.storable_data::<UserId>(), Some(&UserId(664)));
        assert_eq!(
            set.expiry().expires_at(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_060))
        );
        assert!(!format!("{set:?}").contains(SECRET));
        assert_eq!(a.profile.permissions, serde_json::json!([1, 2]));
    }

    #[test]
    fn tolerant_of_nulls_and_missing() {
        let now = SystemTime::UNIX_EPOCH;
        let a: AuthAnswer = serde_json::from_value(serde_json::json!({
            "id": null, "access_token": "opaque", "access_token_expiration": null,
            "refresh_token": null, "permissions": null
        }))
        .unwrap();
        let set = a.token_set(now).unwrap();
        assert!(set.refresh_token().is_none());
        assert_eq!(set.expiry().lifetime(), Some(FALLBACK_LIFETIME));
        // A JWT-looking token that does not decode, and no expiration: the one-hour fallback.
        let garbled: AuthAnswer =
            serde_json::from_value(serde_json::json!({"access_token": "eyJhbGciOi.%%%.sig"}))
                .unwrap();
        let set = garbled.token_set(now).unwrap();
        assert_eq!(set.expiry().lifetime(), Some(FALLBACK_LIFETIME));
        let none: AuthAnswer = serde_json::from_str("{}").unwrap();
        assert!(none.token_set(now).unwrap_err().is_bad_response());
        let bad: AuthAnswer = serde_json::from_value(serde_json::json!({
            "access_token": "x", "access_token_expiration": "tomorrow"
        }))
        .unwrap();
        assert!(bad.token_set(now).unwrap_err().is_bad_response());
        let c: Company = serde_json::from_value(serde_json::json!({
            "id": 12, "designation_id": "3", "user_type_id": null, "designations": null
        }))
        .unwrap();
        assert_eq!(c.id, "12");
        assert_eq!(c.designation_id, Some(3));
        assert!(c.designations.is_empty());
    }
}
