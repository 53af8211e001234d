//! Credentials and the iPaaS.com token provider: login, refresh (only the refresh token, no
//! Authorization header), on-expiry renewal, and API keys that are never renewed.

use std::fmt;
use std::sync::{Arc, Mutex};

use auth_core::reqwest::header::{ACCEPT, HeaderMap, HeaderValue};
use auth_core::reqwest::{Method, Response};
use auth_core::{
    ApiKey, Error, ErrorKind, Expiry, TokenSet,
    http::{Http, read_json},
    provider::{Capabilities, RenewalPolicy, TokenHeader, TokenProvider, async_trait},
};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use url::Url;

use crate::client::{Api, DEFAULT_VERSION, build_url};
use crate::models::{AuthAnswer, UserProfile};

/// How the client signs in: a user (email + password) or a company API key.
///
/// Debug never shows the password or the key.
///
/// ```
/// use ipaas_com::Credentials;
/// let c = Credentials::user("user@example.com", "pa55word").with_remember_me(true);
/// assert!(!format!("{c:?}").contains("pa55word"));
/// let k = Credentials::api_key("k3y-value");
/// assert!(k.is_api_key() && !format!("{k:?}").contains("k3y-value"));
/// ```
#[derive(Clone)]
pub struct Credentials(Kind);

#[derive(Clone)]
enum Kind {
    User(UserLogin),
    ApiKey(ApiKey),
}

#[derive(Clone)]
struct UserLogin {
    email: String,
    password: SecretString,
    return_url: Option<String>,
    remember_me: Option<bool>,
    tracking_guid: Option<String>,
}

impl Credentials {
    /// A user's email address and password, for `POST /sso/v2/Auth/Login`: the client logs
    /// in on first use, refreshes once the token has expired and can switch company.
    pub fn user(email: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials(Kind::User(UserLogin {
            email: email.into(),
            password: SecretString::from(password.into()),
            return_url: None,
            remember_me: None,
            tracking_guid: None,
        }))
    }

    /// A company API key: sent like an access token from the first call, never refreshed,
    /// scoped to its company (no login, no company switch). For unattended integrations.
    pub fn api_key(key: impl Into<ApiKey>) -> Self {
        Credentials(Kind::ApiKey(key.into()))
    }

    /// Whether these are API-key credentials (which have no login, refresh or company
    /// switch).
    pub fn is_api_key(&self) -> bool {
        matches!(self.0, Kind::ApiKey(_))
    }

    /// Send the optional `remember_me` flag at login (user credentials only), as
    /// iPaaS.com's own sign-in page does when the user ticks it.
    pub fn with_remember_me(mut self, remember: bool) -> Self {
        if let Kind::User(u) = &mut self.0 {
            u.remember_me = Some(remember);
        }
        self
    }

    /// Send the optional `return_url` at login (user credentials only); iPaaS.com echoes it
    /// back in [`UserProfile::return_url`].
    pub fn with_return_url(mut self, url: impl Into<String>) -> Self {
        if let Kind::User(u) = &mut self.0 {
            u.return_url = Some(url.into());
        }
        self
    }

    /// Send the optional `tracking_guid` at login (user credentials only), to correlate a
    /// sign-in with your own records; echoed back in [`UserProfile::tracking_guid`].
    pub fn with_tracking_guid(mut self, guid: impl Into<String>) -> Self {
        if let Kind::User(u) = &mut self.0 {
            u.tracking_guid = Some(guid.into());
        }
        self
    }

    /// Refuse credentials that can never work, before anything is sent: an empty email or
    /// password, an empty API key, or one that cannot go in a header.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let bad = |msg: &str| Err(Error::new(ErrorKind::Config, msg));
        match &self.0 {
            Kind::User(u) if u.email.trim().is_empty() => bad("the email address is empty"),
            Kind::User(u) if u.password.expose_secret().is_empty() => bad("the password is empty"),
            Kind::User(_) => Ok(()),
            Kind::ApiKey(k) if k.expose().trim().is_empty() => bad("the api key is empty"),
            Kind::ApiKey(k) if HeaderValue::from_str(k.expose()).is_err() => {
                bad("the api key holds characters not allowed in a header")
            }
            Kind::ApiKey(_) => Ok(()),
        }
    }

    /// The secrets these credentials hold, for scrubbing error bodies.
    pub(crate) fn secret(&self) -> &SecretString {
        match &self.0 {
            Kind::User(u) => &u.password,
            Kind::ApiKey(k) => k.as_secret(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::User(u) => f
                .debug_struct("Credentials::User")
                .field("email", &u.email)
                .field("password", &"[REDACTED]")
                .finish_non_exhaustive(),
            Kind::ApiKey(k) => f.debug_tuple("Credentials::ApiKey").field(k).finish(),
        }
    }
}

#[derive(Serialize)]
struct LoginBody<'a> {
    email_address: &'a str,
    password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    return_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remember_me: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tracking_guid: Option<&'a str>,
}

#[derive(Serialize)]
struct RefreshBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<&'a str>,
    refresh_token: &'a str,
}

/// What `POST /sso/v2/Auth/Refresh` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RefreshForm {
    /// `{"refresh_token": ...}` only: the documentation page's rule (the default).
    #[default]
    TokenOnly,
    /// `{"access_token": ..., "refresh_token": ...}`: the form iPaaS.com's own C# tool
    /// sends, for an account or gateway that expects it.
    WithAccessToken,
}

/// The [`TokenProvider`] behind a [`Client`](crate::Client).
#[derive(Debug)]
pub(crate) struct IpaasProvider {
    pub(crate) http: Http,
    pub(crate) base_url: Url,
    pub(crate) credentials: Credentials,
    pub(crate) header: TokenHeader,
    pub(crate) refresh_form: RefreshForm,
    pub(crate) profile: Arc<Mutex<Option<UserProfile>>>,
}

impl IpaasProvider {
    fn sso(&self, endpoint: &[&str]) -> Result<Url, Error> {
        build_url(&self.base_url, &Api::Sso, DEFAULT_VERSION, endpoint)
    }

    /// Turn an auth answer into a token set and remember the profile it describes.
    pub(crate) fn accept(&self, answer: &AuthAnswer) -> Result<TokenSet, Error> {
        let set = answer.token_set(self.http.now())?;
        let p = &answer.profile;
        let mut held = self
            .profile
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A refresh answer may carry no user data: keep what login told us.
        if held.is_none() || p.email_address.is_some() || p.name.is_some() {
            *held = Some(p.clone());
        }
        Ok(set)
    }

    /// Decode a Login, Refresh or ChangeCompany answer into tokens; an answer that is not
    /// a usable token set is a `BadResponse` carrying the HTTP status.
    pub(crate) async fn accept_response(&self, resp: Response) -> Result<TokenSet, Error> {
        let status = resp.status().as_u16();
        // The expiry is an absolute timestamp: read it on iPaaS.com's clock (its `Date`).
        let date = auth_core::http::server_date(resp.headers());
        let answer: AuthAnswer = read_json(resp).await?;
        self.accept(&answer)
            .map(|set| set.with_server_date(date))
            .map_err(|e| e.with_status(status))
    }

    /// The API key as a token set that never expires.
    pub(crate) fn api_key_tokens(&self) -> Option<TokenSet> {
        match &self.credentials.0 {
            Kind::ApiKey(k) => Some(TokenSet::new(
                auth_core::AccessToken::from(k.as_secret().clone()),
                Expiry::never(),
            )),
            Kind::User(_) => None,
        }
    }
}

#[async_trait]
impl TokenProvider for IpaasProvider {
    fn name(&self) -> &'static str {
        "ipaas-com"
    }

    async fn sign_in(&self) -> Result<TokenSet, Error> {
        let Kind::User(user) = &self.credentials.0 else {
            return Err(self.renewal_impossible());
        };
        let body = LoginBody {
            email_address: &user.email,
            password: user.password.expose_secret(),
            return_url: user.return_url.as_deref(),
            remember_me: user.remember_me,
            tracking_guid: user.tracking_guid.as_deref(),
        };
        let req = self
            .http
            .request(Method::POST, self.sso(&["Auth", "Login"])?)
            .header(ACCEPT, "application/json")
            .json(&body);
        let resp = self.http.send(req, &[&user.password]).await?;
        self.accept_response(resp).await
    }

    async fn refresh(&self, current: &TokenSet) -> Result<TokenSet, Error> {
        let Some(refresh) = current.refresh_token() else {
            return Err(Error::new(
                ErrorKind::SessionExpired,
                "no refresh token is held",
            ));
        };
        // Only the refresh token, and deliberately no Authorization header (the page's rule).
        let req = self
            .http
            .request(Method::POST, self.sso(&["Auth", "Refresh"])?)
            .header(ACCEPT, "application/json")
            .json(&RefreshBody {
                access_token: (self.refresh_form == RefreshForm::WithAccessToken)
                    .then(|| current.access_token().expose()),
                refresh_token: refresh.expose(),
            });
        let secrets = [refresh.as_secret(), current.access_token().as_secret()];
        let resp = self.http.send(req, &secrets).await?;
        self.accept_response(resp).await
    }

    fn capabilities(&self) -> Capabilities {
        match self.credentials.0 {
            Kind::User(_) => Capabilities::default(),
            Kind::ApiKey(_) => Capabilities::none(),
        }
    }

    fn policy(&self) -> RenewalPolicy {
        RenewalPolicy::OnExpiry
    }

    fn authorize(&self, tokens: &TokenSet, headers: &mut HeaderMap) -> Result<(), Error> {
        self.header.apply(tokens, headers)
    }

    fn secrets(&self) -> Vec<&SecretString> {
        vec![self.credentials.secret()]
    }

    fn identity(&self) -> Vec<&str> {
        match &self.credentials.0 {
            Kind::User(u) => vec![u.email.as_str()],
            Kind::ApiKey(_) => Vec::new(),
        }
    }

    fn renewal_impossible(&self) -> Error {
        match self.credentials.0 {
            Kind::ApiKey(_) => Error::new(
                ErrorKind::Unauthorized,
                "the api key was refused and api keys cannot be renewed",
            ),
            Kind::User(_) => Error::new(
                ErrorKind::SessionExpired,
                "token expired and no credentials are held to sign in again",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "pa55-word-for-unit-tests";

    fn provider(credentials: Credentials) -> IpaasProvider {
        IpaasProvider {
            http: Http::new()
                .unwrap()
                .with_clock(auth_core::ManualClock::new()),
            base_url: Url::parse("https://api.ipaas.com").unwrap(),
            credentials,
            header: TokenHeader::authorization(auth_core::provider::AuthScheme::Bearer),
            refresh_form: RefreshForm::TokenOnly,
            profile: Arc::new(Mutex::new(None)),
        }
    }

    #[test]
    fn debug_is_secret_free() {
        let user = Credentials::user("a@b.c", SECRET).with_tracking_guid("g");
        let key = Credentials::api_key(SECRET);
        let p = provider(user.clone());
        let shown = format!("{user:?} {key:?} {p:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("a@b.c"));
    }

    #[test]
    fn unusable_credentials_are_config_errors() {
        for bad in [
            Credentials::user(" ", SECRET),
            Credentials::user("a@b.c", ""),
            Credentials::api_key(""),
            Credentials::api_key(format!("{SECRET}\n")),
        ] {
            let e = bad.validate().unwrap_err();
            assert!(e.is_config(), "{e:?}");
            assert!(!format!("{e} {e:?}").contains(SECRET));
        }
        assert!(Credentials::user("a@b.c", SECRET).validate().is_ok());
        assert!(Credentials::api_key(SECRET).validate().is_ok());
    }

    #[test]
    fn profile_survives_answers_without_user_data() {
        let p = provider(Credentials::user("a@b.c", SECRET));
        let login: AuthAnswer = serde_json::from_value(serde_json::json!({
            "id": 7, "name": "Ann", "email_address": "a@b.c", "access_token": "t1"
        }))
        .unwrap();
        p.accept(&login).unwrap();
        let refresh: AuthAnswer =
            serde_json::from_value(serde_json::json!({"id": 7, "access_token": "t2"})).unwrap();
        p.accept(&refresh).unwrap();
        let held = p.profile.lock().unwrap().clone().unwrap();
        assert_eq!(held.name.as_deref(), Some("Ann"));
    }

    #[test]
    fn policy_and_capabilities() {
        let user = provider(Credentials::user("a@b.c", SECRET));
        assert_eq!(user.policy(), RenewalPolicy::OnExpiry);
        assert_eq!(user.capabilities(), Capabilities::default());
        assert!(user.api_key_tokens().is_none());
        let key = provider(Credentials::api_key(SECRET));
        assert!(!key.capabilities().can_renew());
        let tokens = key.api_key_tokens().unwrap();
        assert!(tokens.expiry().expires_at().is_none());
        let mut h = HeaderMap::new();
        key.authorize(&tokens, &mut h).unwrap();
        assert_eq!(h["authorization"], format!("Bearer {SECRET}").as_str());
        assert!(h["authorization"].is_sensitive());
        assert!(key.renewal_impossible().is_unauthorized());
    }
}
