//! How Incend's two credentials go on a request: the client API key in the `ipaas` header
//! (backend), and the user's session token as `Authorization: Bearer <base64 of it>` (the
//! user's device). This library can renew neither: an API key is static, and only the user
//! can start a new session, with a new code.

use std::time::SystemTime;

use auth_core::provider::{
    AuthScheme, Capabilities, RenewalPolicy, TokenHeader, TokenProvider, async_trait,
};
use auth_core::{AccessToken, ApiKey, Error, ErrorKind, Expiry, Result, TokenSet};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::models::UserToken;

/// The client API key goes in Incend's own header, `ipaas: <key>`.
const IPAAS: TokenHeader = TokenHeader::named(HeaderName::from_static("ipaas"));

/// The user token goes base64-wrapped after `Bearer `: the session's access token is that
/// wire form already (see [`user_session`]).
pub(crate) const USER_TOKEN: TokenHeader = TokenHeader::authorization(AuthScheme::Bearer);

/// The backend's credential: the client API key, which nothing renews.
#[derive(Debug)]
pub(crate) struct ClientKeyAuth;

#[async_trait]
impl TokenProvider for ClientKeyAuth {
    fn name(&self) -> &'static str {
        "incend"
    }

    async fn sign_in(&self) -> Result<TokenSet> {
        Err(self.renewal_impossible())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
    }

    fn policy(&self) -> RenewalPolicy {
        RenewalPolicy::OnExpiry
    }

    fn authorize(&self, tokens: &TokenSet, headers: &mut HeaderMap) -> Result<()> {
        IPAAS.apply(tokens, headers)
    }

    fn renewal_impossible(&self) -> Error {
        Error::new(ErrorKind::Config, "no client api key is configured")
    }
}

/// The token set a backend session holds: the API key, never expiring. A blank key, or one
/// that cannot be sent as a header, is refused here, at `build`, not at the first call.
pub(crate) fn client_key(key: &ApiKey) -> Result<TokenSet> {
    if key.expose().trim().is_empty() {
        return Err(Error::new(ErrorKind::Config, "client api key is empty"));
    }
    if HeaderValue::from_str(key.expose()).is_err() {
        return Err(Error::new(
            ErrorKind::Config,
            "client api key holds characters not allowed in a header",
        ));
    }
    Ok(TokenSet::new(
        AccessToken::from(key.as_secret().clone()),
        Expiry::never(),
    ))
}

/// A user session: the token the backend handed over, expiring when the server says.
/// Nothing can renew it; only a new code round with the user starts another.
#[derive(Debug)]
pub(crate) struct UserSessionAuth;

#[async_trait]
impl TokenProvider for UserSessionAuth {
    fn name(&self) -> &'static str {
        "incend"
    }

    async fn sign_in(&self) -> Result<TokenSet> {
        Err(self.renewal_impossible())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
    }

    fn policy(&self) -> RenewalPolicy {
        // Nothing to renew ahead of time: use the session until the server's expiry.
        RenewalPolicy::OnExpiry
    }

    fn authorize(&self, tokens: &TokenSet, headers: &mut HeaderMap) -> Result<()> {
        USER_TOKEN.apply(tokens, headers)
    }

    fn renewal_impossible(&self) -> Error {
        Error::new(
            ErrorKind::SessionExpired,
            "user session expired or missing: ask the user to sign in again",
        )
    }
}

/// The user token as handed over, kept on the session's token set beside its wire form.
#[derive(Debug, Clone)]
pub(crate) struct HandedOver(pub(crate) UserToken);

/// The token set of a user session: the access token is the base64 wire form (what the API
/// receives, so the session puts it on requests and scrubs it from errors as it is), with
/// the token as handed over attached, and the server-reported expiry if known.
pub(crate) fn user_session(
    token: &UserToken,
    expires_at: Option<SystemTime>,
    now: SystemTime,
) -> TokenSet {
    let expiry = match expires_at {
        Some(at) => Expiry::at(at, now),
        None => Expiry::never(),
    };
    TokenSet::new(AccessToken::from(token.wire_form()), expiry).with_data(HandedOver(token.clone()))
}
