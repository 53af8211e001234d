//! The authorized request builder every vendor client hands out: a `reqwest` builder bound
//! to a [`Session`], sent through the session's pipeline (token, one precise 401 retry,
//! vendor error parsing, secret scrubbing).

use std::fmt;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{IntoUrl, Method, RequestBuilder, Response};
use secrecy::SecretString;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::http::read_json;
use crate::session::{Session, call};

/// An authorized request under construction.
///
/// Made by [`Session::request`], or by [`AuthorizedRequest::new`] when the vendor client
/// builds the URL itself and may already have an error to report (an invalid path, say):
/// that error surfaces from [`send`](Self::send) without anything being sent. The session
/// puts the token on the request; do not set `Authorization` yourself.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), auth_core::Error> {
/// use auth_core::provider::{Capabilities, TokenProvider, async_trait};
/// use auth_core::{AccessToken, Error, Expiry, Session, TokenSet};
/// #[derive(Debug)]
/// struct Key;
/// #[async_trait]
/// impl TokenProvider for Key {
///     async fn sign_in(&self) -> Result<TokenSet, Error> {
///         Ok(TokenSet::new(AccessToken::new("k-1"), Expiry::never()))
///     }
///     fn capabilities(&self) -> Capabilities { Capabilities::none() }
/// }
/// let server = httpmock::MockServer::start_async().await;
/// let me = server.mock_async(|when, then| {
///     when.path("/me").query_param("fields", "id").header("authorization", "Bearer k-1");
///     then.status(200).body(r#"{"id": 7}"#);
/// }).await;
/// let session = Session::new(Key, auth_core::http::Http::new()?);
/// session.replace(Key.sign_in().await?);
/// let v: serde_json::Value = session
///     .request(reqwest::Method::GET, server.url("/me"))
///     .query(&[("fields", "id")])
///     .send_json()
///     .await?;
/// assert_eq!(v["id"], 7);
/// me.assert_async().await;
/// # Ok(()) }
/// ```
#[must_use = "a request does nothing until it is sent"]
pub struct AuthorizedRequest {
    session: Session,
    builder: Result<RequestBuilder, Error>,
    secrets: Vec<SecretString>,
}

// Only whether the request can be sent: its URL, headers and body may hold secrets.
impl fmt::Debug for AuthorizedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizedRequest")
            .field("ready", &self.builder.is_ok())
            .field("extra_secrets", &self.secrets.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// An authorized request of `method` to `url`, built on this session's transport.
    pub fn request(&self, method: Method, url: impl IntoUrl) -> AuthorizedRequest {
        let builder = self.http().request(method, url);
        AuthorizedRequest::new(self.clone(), Ok(builder))
    }
}

impl AuthorizedRequest {
    /// A request sent through `session`, from a builder the caller made, or the error that
    /// prevented making it (returned by [`send`](Self::send), nothing is sent).
    pub fn new(session: Session, builder: Result<RequestBuilder, Error>) -> Self {
        AuthorizedRequest {
            session,
            builder,
            secrets: Vec::new(),
        }
    }

    /// Apply `f` to the underlying `reqwest` builder (a timeout, a raw body, ...).
    pub fn map_builder(mut self, f: impl FnOnce(RequestBuilder) -> RequestBuilder) -> Self {
        self.builder = self.builder.map(f);
        self
    }

    /// Add query parameters.
    pub fn query<T: Serialize + ?Sized>(self, query: &T) -> Self {
        self.map_builder(|b| b.query(query))
    }

    /// Send `body` as JSON.
    pub fn json<T: Serialize + ?Sized>(self, body: &T) -> Self {
        self.map_builder(|b| b.json(body))
    }

    /// Send `body` form-encoded (`application/x-www-form-urlencoded`).
    pub fn form<T: Serialize + ?Sized>(self, body: &T) -> Self {
        self.map_builder(|b| b.form(body))
    }

    /// Add a header (the session always sets the authorization itself).
    pub fn header(self, name: HeaderName, value: HeaderValue) -> Self {
        self.map_builder(|b| b.header(name, value))
    }

    /// Also scrub `secret` from any error body (the session's own tokens always are): for a
    /// request that carries a password or another credential of its own.
    pub fn scrub_secret(mut self, secret: SecretString) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Send it through the session: authorize; on a 401 the provider blames on the token,
    /// renew and retry once (unless the body cannot be replayed or the credential cannot be
    /// renewed). Non-success answers become errors via the vendor's parser.
    ///
    /// ```no_run
    /// # async fn run(session: auth_core::Session) -> Result<(), auth_core::Error> {
    /// let resp = session
    ///     .request(reqwest::Method::DELETE, "https://api.example.com/items/7")
    ///     .send()
    ///     .await?;
    /// assert!(resp.status().is_success());
    /// # Ok(()) }
    /// ```
    pub fn send(self) -> impl Future<Output = Result<Response, Error>> + Send + 'static {
        use futures::future::Either;
        let AuthorizedRequest {
            session,
            builder,
            secrets,
        } = self;
        // Prepared now, so that the future holds the built request once and no builder.
        match builder.and_then(|b| session.prepare(b)) {
            Ok((request, replay)) => {
                let start = session.start(request);
                Either::Left(call(session, start, replay, secrets))
            }
            Err(e) => Either::Right(std::future::ready(Err(e))),
        }
    }

    /// [`send`](Self::send) and decode the JSON answer.
    pub fn send_json<T: DeserializeOwned>(self) -> impl Future<Output = Result<T, Error>> {
        use futures::TryFutureExt as _;
        self.send().and_then(read_json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccessToken, ErrorKind, Expiry, TokenSet, http::Http, provider::TokenProvider};

    #[derive(Debug)]
    struct Key;

    #[async_trait::async_trait]
    impl TokenProvider for Key {
        async fn sign_in(&self) -> Result<TokenSet, Error> {
            Ok(TokenSet::new(AccessToken::new("k"), Expiry::never()))
        }
    }

    #[tokio::test]
    async fn a_construction_error_surfaces_and_nothing_is_sent() {
        let session = Session::new(Key, Http::new().unwrap());
        let req = AuthorizedRequest::new(
            session.clone(),
            Err(Error::new(ErrorKind::InvalidInput, "bad path")),
        )
        .query(&[("a", 1)])
        .header(
            HeaderName::from_static("x-a"),
            HeaderValue::from_static("b"),
        );
        assert_eq!(
            format!("{req:?}"),
            "AuthorizedRequest { ready: false, extra_secrets: 0, .. }"
        );
        let e = req.send().await.unwrap_err();
        assert!(e.is_invalid_input());
        assert_eq!(session.stats().sign_ins, 0);
        assert_eq!(session.stats().requests, 0);
    }
}
