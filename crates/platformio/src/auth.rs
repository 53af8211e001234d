//! The service user's login: its credentials and the token provider the session renews the
//! API token with (`POST /v1/login/password`, expiry from the JWT's `exp`, no refresh grant).

use std::fmt;

use auth_core::http::Http;
use auth_core::limit::SharedLimiter;
use auth_core::provider::{Capabilities, TokenProvider, async_trait};
use auth_core::{AccessToken, Error, Expiry, TokenSet};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::client::read_answer;
use crate::models::ApiTokenAnswer;

/// The path of the service-user login.
pub(crate) const LOGIN_PATH: &str = "/v1/login/password";

/// The service user's login details. Debug never shows the password.
///
/// ```
/// let creds = platformio::ServiceCredentials::new("service_user", "xxxyyy");
/// assert!(!format!("{creds:?}").contains("xxxyyy"));
/// assert_eq!(creds.username(), "service_user");
/// ```
#[derive(Clone)]
pub struct ServiceCredentials {
    username: String,
    password: SecretString,
}

impl ServiceCredentials {
    /// Credentials from the user name and password the platform gave you at onboarding.
    pub fn new(username: impl Into<String>, password: impl Into<SecretString>) -> Self {
        ServiceCredentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The user name (not secret: shown in Debug and sent in the clear inside TLS).
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for ServiceCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceCredentials")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// Service-user login: `POST /v1/login/password`, expiry from the JWT's `exp`; no refresh
/// grant, so the session logs in again ahead of expiry.
#[derive(Debug)]
pub(crate) struct ServiceLogin {
    pub(crate) http: Http,
    pub(crate) login_url: Url,
    pub(crate) credentials: ServiceCredentials,
    /// Applied here, not by the transport: see `ClientBuilder::build`.
    pub(crate) limiter: Option<SharedLimiter>,
}

/// The login under `base`, keeping a base path (`https://proxy/platform` gives
/// `https://proxy/platform/v1/login/password`), as `Core::url` joins the client's calls.
pub(crate) fn login_url(base: &Url) -> Url {
    let mut url = base.clone();
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}{LOGIN_PATH}"));
    url
}

#[async_trait]
impl TokenProvider for ServiceLogin {
    fn name(&self) -> &'static str {
        "platformio"
    }

    async fn sign_in(&self) -> Result<TokenSet, Error> {
        if let Some(l) = &self.limiter {
            l.acquire(&Method::POST, LOGIN_PATH).await?;
        }
        let body = serde_json::json!({
            "username": self.credentials.username,
            "password": self.credentials.password.expose_secret(),
        });
        let req = self
            .http
            .request(Method::POST, self.login_url.clone())
            .json(&body);
        let secrets = [&self.credentials.password];
        let resp = self.http.send(req, &secrets).await?;
        // The JWT's `exp` is absolute: read it on the platform's clock (its `Date`).
        let date = auth_core::http::server_date(resp.headers());
        let answer: ApiTokenAnswer = read_answer(resp, &secrets).await?;
        let received = self.http.now();
        let expiry = Expiry::from_jwt(&answer.api_token, received)?;
        Ok(TokenSet::new(AccessToken::new(answer.api_token), expiry).with_server_date(date))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::sign_in_only()
    }

    fn secrets(&self) -> Vec<&SecretString> {
        vec![&self.credentials.password]
    }

    fn identity(&self) -> Vec<&str> {
        vec![&self.credentials.username]
    }

    /// The platform answers a client's wrong email or password on `/v1/client/login` with
    /// 401 `errors.login.failed`, the same status as a refused API token. That one is not the
    /// API token's fault: it surfaces at once, with no service login and no retry.
    fn rejects_token(&self, error: &Error) -> bool {
        crate::ErrorExt::error_case(error) != Some(crate::ErrorCase::LoginFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_url_keeps_a_base_path() {
        let base = Url::parse("https://proxy.example.com/platform/").unwrap();
        assert_eq!(
            login_url(&base).as_str(),
            "https://proxy.example.com/platform/v1/login/password"
        );
    }
}
