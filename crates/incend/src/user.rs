//! The user client, for code running on the user's device: view and edit the profile with
//! the user's session token, base64-wrapped as the page requires. No API key is involved.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use auth_core::{
    AccessToken, Error, ErrorKind, Expiry, Result, Session, SessionStats, SharedClock, TokenSet,
    http::read_json,
    provider::{Capabilities, RenewalPolicy, TokenProvider, async_trait, sensitive_header},
};
use reqwest::header::{AUTHORIZATION, HeaderMap};
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret as _, SecretString};

use crate::client::{base_url, make_http};
use crate::models::{Profile, ProfileEdit, ProfileWire, UserToken};

/// A user session: the token the backend handed over, expiring when the server says.
/// Nothing can renew it; only a new code round with the user starts another.
#[derive(Debug)]
struct UserSessionAuth;

#[async_trait]
impl TokenProvider for UserSessionAuth {
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
        let wire = UserToken::from(tokens.access_token().expose()).wire_form();
        headers.insert(AUTHORIZATION, sensitive_header("Bearer ", &wire)?);
        Ok(())
    }

    fn renewal_impossible(&self) -> Error {
        Error::new(
            ErrorKind::SessionExpired,
            "user session expired or missing: ask the user to sign in again",
        )
    }
}

fn token_set(token: &UserToken, expires_at: Option<SystemTime>, now: SystemTime) -> TokenSet {
    let expiry = match expires_at {
        Some(at) => Expiry::at(at, now),
        None => Expiry::never(),
    };
    TokenSet::new(AccessToken::from(token.secret().clone()), expiry)
}

/// Builds a [`UserClient`].
///
/// ```
/// let user = incend::UserClient::builder()
///     .with_base_url("https://ipaas.example.com")
///     .with_user_token("token-from-the-backend")
///     .build()?;
/// # let _ = user;
/// # Ok::<(), incend::Error>(())
/// ```
#[derive(Default)]
pub struct UserClientBuilder {
    base_url: Option<String>,
    token: Option<UserToken>,
    expires_at: Option<SystemTime>,
    clock: Option<SharedClock>,
    http_client: Option<reqwest::Client>,
}

impl fmt::Debug for UserClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserClientBuilder")
            .field("base_url", &self.base_url)
            .field("token", &self.token)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl UserClientBuilder {
    /// Talk to `url` instead of [`DEFAULT_BASE_URL`](crate::DEFAULT_BASE_URL).
    ///
    /// ```
    /// let b = incend::UserClient::builder().with_base_url("http://127.0.0.1:8080");
    /// # let _ = b;
    /// ```
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The user's session token, as the client backend handed it over.
    ///
    /// ```
    /// let b = incend::UserClient::builder().with_user_token("jwt");
    /// # let _ = b;
    /// ```
    pub fn with_user_token(mut self, token: impl Into<UserToken>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// When the session ends, as the server reported it (the verify answer's `tokenExpiry`).
    /// Without it the server alone decides; with it an expired session fails locally
    /// without a request.
    ///
    /// ```
    /// let b = incend::UserClient::builder().with_expires_at(std::time::SystemTime::now());
    /// # let _ = b;
    /// ```
    pub fn with_expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Use `clock` for expiry decisions.
    ///
    /// ```
    /// let b = incend::UserClient::builder().with_clock(auth_core::ManualClock::new());
    /// # let _ = b;
    /// ```
    pub fn with_clock(mut self, clock: impl Into<SharedClock>) -> Self {
        self.clock = Some(clock.into());
        self
    }

    /// Send through your own `reqwest::Client`.
    ///
    /// ```
    /// let b = incend::UserClient::builder().with_http_client(reqwest::Client::new());
    /// # let _ = b;
    /// ```
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Build the client. Without a token every call fails with
    /// [`ErrorKind::SessionExpired`] until [`UserClient::set_user_token`] installs one.
    ///
    /// ```
    /// let user = incend::UserClient::builder().build()?;
    /// # let _ = user;
    /// # Ok::<(), incend::Error>(())
    /// ```
    pub fn build(self) -> Result<UserClient> {
        let base = base_url(self.base_url)?;
        let http = make_http(self.http_client, self.clock)?;
        let session = Session::new(UserSessionAuth, http);
        let client = UserClient {
            inner: Arc::new(Inner { base, session }),
        };
        if let Some(token) = self.token {
            client.set_user_token(token, self.expires_at);
        }
        Ok(client)
    }
}

struct Inner {
    base: String,
    session: Session,
}

/// The user-side client: the user's own profile, authorized by their session token
/// (`Authorization: Bearer <base64 of the token>`). Cheap to clone.
///
/// There is no refresh and no sign-in this library can do: when the session has expired
/// (locally by its reported expiry, or on the server: 401 or 404) every call fails with
/// [`ErrorKind::SessionExpired`], once, without retrying. Ask the user to sign in again.
///
/// ```no_run
/// # async fn run(token: String) -> incend::Result<()> {
/// let user = incend::UserClient::builder().with_user_token(token).build()?;
/// match user.profile().await {
///     Ok(me) => println!("signed in as {}", me.user_id),
///     Err(e) if e.is_session_expired() => println!("please sign in again"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct UserClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for UserClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserClient")
            .field("base_url", &self.inner.base)
            .field("session", &self.inner.session)
            .finish()
    }
}

impl UserClient {
    /// Start building a user client.
    ///
    /// ```
    /// let _ = incend::UserClient::builder();
    /// ```
    pub fn builder() -> UserClientBuilder {
        UserClientBuilder::default()
    }

    /// Install a (new) session token, for example after the user signed in again.
    ///
    /// ```
    /// let user = incend::UserClient::builder().build()?;
    /// user.set_user_token(incend::UserToken::new("jwt"), None);
    /// # Ok::<(), incend::Error>(())
    /// ```
    pub fn set_user_token(&self, token: impl Into<UserToken>, expires_at: Option<SystemTime>) {
        let token = token.into();
        let s = &self.inner.session;
        s.replace(token_set(&token, expires_at, s.http().now()));
    }

    /// Forget the session token (sign out on this device).
    ///
    /// ```
    /// let user = incend::UserClient::builder().with_user_token("jwt").build()?;
    /// user.sign_out();
    /// assert!(user.expires_at().is_none());
    /// # Ok::<(), incend::Error>(())
    /// ```
    pub fn sign_out(&self) {
        self.inner.session.clear();
    }

    /// When the session ends as last reported by the server (`None`: no session or no
    /// known expiry).
    ///
    /// ```
    /// let user = incend::UserClient::builder().build()?;
    /// assert!(user.expires_at().is_none());
    /// # Ok::<(), incend::Error>(())
    /// ```
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.inner
            .session
            .current()
            .and_then(|l| l.tokens().expiry().expires_at())
    }

    /// What the session did: requests, 401s, expiries found. Never a sign-in or refresh.
    ///
    /// ```
    /// let user = incend::UserClient::builder().build()?;
    /// assert_eq!(user.session_stats().sign_ins, 0);
    /// # Ok::<(), incend::Error>(())
    /// ```
    pub fn session_stats(&self) -> SessionStats {
        self.inner.session.stats()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.base)
    }

    /// The user's profile (`GET /user`). Using the session also extends it on the server.
    ///
    /// ```no_run
    /// # async fn f(user: incend::UserClient) -> incend::Result<()> {
    /// let me = user.profile().await?;
    /// println!("{:?} {:?}", me.name, me.email);
    /// # Ok(()) }
    /// ```
    pub async fn profile(&self) -> Result<Profile> {
        let req = self
            .inner
            .session
            .http()
            .request(Method::GET, self.url("/user"));
        self.call(req).await
    }

    /// Change the user's name and profile data (`POST /user/edit`); answers the updated
    /// profile.
    ///
    /// ```no_run
    /// # async fn f(user: incend::UserClient) -> incend::Result<()> {
    /// let edit = incend::ProfileEdit::new("Asha")?.with_data("city", "Chennai");
    /// let me = user.edit_profile(&edit).await?;
    /// # let _ = me; Ok(()) }
    /// ```
    pub async fn edit_profile(&self, edit: &ProfileEdit) -> Result<Profile> {
        let req = self
            .inner
            .session
            .http()
            .request(Method::POST, self.url("/user/edit"))
            .json(&edit.wire());
        self.call(req).await
    }

    async fn call(&self, req: RequestBuilder) -> Result<Profile> {
        let session = &self.inner.session;
        let before = session.current();
        // The session scrubs the raw token from error bodies; the wire form is scrubbed too.
        let wire: Option<SecretString> = before
            .as_ref()
            .map(|l| UserToken::from(l.tokens().access_token().expose()).wire_form());
        let extra: Vec<&SecretString> = wire.iter().collect();
        let resp = session.send_with_secrets(req, &extra).await?;
        let mut scrub: Vec<&str> = extra.iter().map(|s| s.expose_secret()).collect();
        if let Some(l) = &before {
            scrub.push(l.tokens().access_token().expose());
        }
        let status = resp.status().as_u16();
        let profile = read_json::<ProfileWire>(resp)
            .await?
            .into_profile(status, &scrub)?;
        // The server extends a session as it is used: follow its reported expiry.
        if let (Some(before), Some(reported)) = (before, profile.session_expires_at) {
            let now = session.http().now();
            let known = before.tokens().expiry().expires_at();
            let same = session
                .current()
                .is_some_and(|c| c.generation() == before.generation());
            if same && known.is_none_or(|k| reported > k) && reported > now {
                session.replace(TokenSet::new(
                    before.tokens().access_token().clone(),
                    Expiry::at(reported, now),
                ));
            }
        }
        Ok(profile)
    }
}
