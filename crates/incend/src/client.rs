//! Incend's two clients on the auth-core kit: the backend [`Client`] (send and verify one-time
//! codes, check a user's session, authorized by the client API key) and the [`UserClient`]
//! (the user's own profile, from the user's device, authorized by their session token).

use std::ops::Deref;
use std::time::SystemTime;

use auth_core::client::{Config, Core, Env, VendorBuilder, VendorInfo};
use auth_core::http::read_json;
use auth_core::provider::parse_rfc3339;
use auth_core::{ApiKey, AuthorizedRequest, Expiry, Result, TokenSet};
use reqwest::Method;
use reqwest::header::HeaderMap;
use secrecy::ExposeSecret as _;

use crate::auth::{self, ClientKeyAuth, HandedOver, UserSessionAuth};
use crate::error::IncendErrors;
use crate::models::{
    MessageWire, OtpCode, OtpSent, Profile, ProfileEdit, ProfileWire, Recipient, TokenStatus,
    TokenStatusWire, UserToken, VerifiedUser, VerifyWire, missing_with,
};

/// Where the Incend IPaaS server most likely lives (the vendor has not confirmed it): the
/// base URL both clients use unless given another with `with_base_url`.
pub const DEFAULT_BASE_URL: &str = "https://ipaas.incend.in";

const VENDOR: VendorInfo = VendorInfo {
    name: "incend",
    env_prefix: "INCEND",
    default_base_url: DEFAULT_BASE_URL,
};

/// Builds a [`Client`]: the kit's setters (`with_base_url`, `with_credentials` for the
/// client API key, `with_clock`, `with_http_client`, `with_rate_limiter`, `with_env`, ...).
///
/// The API key is checked at [`build`](Self::build), so a client that builds can send it:
///
/// ```
/// use incend::Client;
///
/// let client = Client::builder()
///     .with_base_url("https://ipaas.example.com/")
///     .with_credentials("client-key")
///     .build()?;
/// assert_eq!(client.base_url().as_str(), "https://ipaas.example.com/");
/// assert_eq!(client.session_stats().requests, 0);
///
/// // No key, a key that cannot be a header, a key over plain http: refused before any call.
/// assert!(Client::builder().build().unwrap_err().is_config());
/// let garbled = Client::builder().with_credentials("key\nwith-a-newline").build();
/// assert!(garbled.unwrap_err().is_config());
/// let plain = Client::builder()
///     .with_base_url("http://ipaas.example.com")
///     .with_credentials("client-key")
///     .build();
/// assert!(plain.unwrap_err().is_insecure_transport());
/// # Ok::<(), incend::Error>(())
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct ClientBuilder {
    kit: Config<ApiKey>,
}

impl VendorBuilder for ClientBuilder {
    type Credentials = ApiKey;
    const VENDOR: VendorInfo = VENDOR;

    fn kit(&mut self) -> &mut Config<ApiKey> {
        &mut self.kit
    }

    /// `INCEND_API_KEY` (and, read by the kit, `INCEND_BASE_URL`).
    fn read_env(self, env: &Env) -> Self {
        match env.var("API_KEY") {
            Some(key) => self.with_credentials(key),
            None => self,
        }
    }
}
auth_core::client_builder!(ClientBuilder);

impl ClientBuilder {
    /// Build the client. Fails with a `Config` error without an API key, with a blank one or
    /// one that cannot be sent as a header, or with a bad base URL.
    pub fn build(self) -> Result<Client> {
        let parts = self.kit.finish(&Self::VENDOR, IncendErrors)?;
        let key = auth::client_key(&parts.credentials)?;
        let session = parts.session(ClientKeyAuth);
        session.replace(key);
        Ok(Client {
            core: Core::new(session, parts.base_url),
        })
    }
}

/// The backend client of Incend IPaaS: sends one-time codes, verifies them, and checks a
/// user's session, authorized by the client API key (`ipaas` header). It dereferences to
/// the kit's [`Core`] (`session_stats`, `base_url`, ...). Cheap to clone.
///
/// An API key cannot be renewed: the session never signs in or refreshes, and a 401
/// surfaces. See the [crate docs](crate) for the whole flow.
#[derive(Debug, Clone)]
pub struct Client {
    core: Core,
}

impl Deref for Client {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl Client {
    /// Start building a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client from `INCEND_API_KEY` and, when set, `INCEND_BASE_URL`: for a backend
    /// configured by its environment.
    pub fn from_env() -> Result<Client> {
        Self::builder().with_env().build()
    }

    /// Send a one-time code to `to` (`POST /auth/init`).
    pub async fn send_otp(&self, to: &Recipient) -> Result<OtpSent> {
        let answer: MessageWire = self
            .request(Method::POST, "/auth/init")
            .json(&serde_json::Value::Object(to.wire()))
            .send_json()
            .await?;
        Ok(OtpSent {
            message: answer.message.unwrap_or_default(),
        })
    }

    /// Verify the code the user received (`POST /auth/verify`). The code is checked locally
    /// first: 3 to 6 characters.
    ///
    /// The answer's personal fields (`name`, `userData`) are dropped unread; see
    /// [`VerifiedUser`]. The server's reserved test recipients (`+919999999999`,
    /// `testing@incend.in`) answer without a session, which is a `BadResponse` error here.
    pub async fn verify_otp(&self, to: &Recipient, code: &str) -> Result<VerifiedUser> {
        let code = OtpCode::new(code)?;
        let code_text = code.secret().expose_secret();
        let mut body = to.wire();
        body.insert("code".into(), code_text.into());
        let resp = self
            .request(Method::POST, "/auth/verify")
            .json(&serde_json::Value::Object(body))
            .scrub_secret(code.secret().clone())
            .send()
            .await?;
        let status = resp.status().as_u16();
        let date = auth_core::http::server_date(resp.headers());
        let received = self.session().http().now();
        let answer: VerifyWire = read_json(resp).await?;
        let key = self.session().current();
        let key_text = key
            .as_ref()
            .map_or("", |l| l.tokens().access_token().expose());
        let lacks = |field: &str| {
            missing_with(
                field,
                status,
                answer.message.as_deref(),
                &[code_text, key_text],
            )
        };
        let user_id = answer.user_id.clone().ok_or_else(|| lacks("userId"))?;
        let token = answer
            .user_jwt_token
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| lacks("userJwtToken"))?;
        let expiry = answer
            .token_expiry
            .as_deref()
            .ok_or_else(|| lacks("tokenExpiry"))?;
        let expires_at = on_local_clock(
            parse_rfc3339(expiry).map_err(|e| e.with_status(status))?,
            received,
            date,
        );
        Ok(VerifiedUser::new(
            user_id,
            UserToken::new(token),
            expires_at,
        ))
    }

    /// Ask whether a user's session is still active (`GET /auth/token`), sending the user
    /// token as the user's device does, beside the API key.
    ///
    /// An expired session (401) or one the server does not know (404) is an error of kind
    /// `SessionExpired`: the user must sign in again with a new code.
    pub async fn token_status(&self, token: &UserToken) -> Result<TokenStatus> {
        let tokens = auth::user_session(token, None, self.session().http().now());
        let wire = tokens.access_token().as_secret().clone();
        let mut user_header = HeaderMap::new();
        auth::USER_TOKEN.apply(&tokens, &mut user_header)?;
        let resp = self
            .request(Method::GET, "/auth/token")
            .map_builder(|b| b.headers(user_header))
            .scrub_secret(token.secret().clone())
            .scrub_secret(wire.clone())
            .send()
            .await?;
        let status = resp.status().as_u16();
        let date = auth_core::http::server_date(resp.headers());
        let received = self.session().http().now();
        let answer: TokenStatusWire = read_json(resp).await?;
        let key = self.session().current();
        let key_text = key
            .as_ref()
            .map_or("", |l| l.tokens().access_token().expose());
        let lacks = |field: &str| {
            missing_with(
                field,
                status,
                answer.message.as_deref(),
                &[token.expose(), wire.expose_secret(), key_text],
            )
        };
        let expiry = answer
            .token_expiry
            .as_deref()
            .ok_or_else(|| lacks("tokenExpiry"))?;
        Ok(TokenStatus {
            user_id: answer.user_id.clone().ok_or_else(|| lacks("userId"))?,
            expires_at: on_local_clock(
                parse_rfc3339(expiry).map_err(|e| e.with_status(status))?,
                received,
                date,
            ),
            message: answer.message.unwrap_or_default(),
        })
    }
}

/// The server-reported session end on the local clock: Incend's `tokenExpiry` is read
/// against its `Date`, so a local clock ahead or behind does not move it.
fn on_local_clock(
    expires_at: SystemTime,
    received: SystemTime,
    date: Option<SystemTime>,
) -> SystemTime {
    match date {
        Some(d) => auth_core::Expiry::at(expires_at, received)
            .on_local_clock(d)
            .expires_at()
            .unwrap_or(expires_at),
        None => expires_at,
    }
}

/// Builds a [`UserClient`]: the kit's setters, where the credentials are the user's session
/// token as the backend handed it over (optional: a client built without one asks for a
/// sign-in until [`UserClient::set_user_token`] installs one), plus the session's expiry.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use incend::UserClient;
///
/// let ends = SystemTime::now() + Duration::from_secs(30 * 24 * 3600);
/// let me = UserClient::builder()
///     .with_base_url("https://ipaas.example.com")
///     .with_credentials("token-from-the-backend")
///     .with_expires_at(ends)
///     .build()?;
/// assert_eq!(me.token_expiry(), Some(ends));
///
/// let signed_out = UserClient::builder().build()?;
/// assert_eq!(signed_out.token_expiry(), None);
/// # Ok::<(), incend::Error>(())
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct UserClientBuilder {
    kit: Config<UserToken>,
    expires_at: Option<SystemTime>,
}

impl VendorBuilder for UserClientBuilder {
    type Credentials = UserToken;
    const VENDOR: VendorInfo = VENDOR;

    fn kit(&mut self) -> &mut Config<UserToken> {
        &mut self.kit
    }

    /// Nothing beyond `INCEND_BASE_URL`: a user token comes from the backend, not from the
    /// environment.
    fn read_env(self, _env: &Env) -> Self {
        self
    }
}
auth_core::client_builder!(UserClientBuilder);

impl UserClientBuilder {
    /// When the session ends, as the server reported it (the verify answer's `tokenExpiry`,
    /// [`VerifiedUser::expires_at`]). Without it the server alone decides; with it an
    /// expired session fails locally, without a request.
    pub fn with_expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Build the client. Without a token every call fails with a `SessionExpired` error
    /// until [`UserClient::set_user_token`] installs one.
    pub fn build(mut self) -> Result<UserClient> {
        let token = self.kit.credentials().cloned();
        if token.is_none() {
            // KIT-NEED: `Config::finish` requires credentials, but a user client may start
            // signed out. A placeholder passes the check and is never installed.
            self.kit.set_credentials(UserToken::new(String::new()));
        }
        let parts = self.kit.finish(&Self::VENDOR, IncendErrors)?;
        let client = UserClient {
            core: Core::new(parts.session(UserSessionAuth), parts.base_url),
        };
        if let Some(token) = token {
            client.set_user_token(token, self.expires_at);
        }
        Ok(client)
    }
}

/// The user-side client: the user's own profile, authorized by their session token
/// (`Authorization: Bearer <base64 of the token>`; no API key is involved). It dereferences
/// to the kit's [`Core`] (`token_expiry`, `session_stats`, ...). Cheap to clone.
///
/// There is no refresh and no sign-in this library can do: when the session has expired
/// (locally by its reported expiry, or on the server: 401 or 404) every call fails with a
/// `SessionExpired` error, once, without retrying. Ask the user to sign in again. See the
/// [crate docs](crate) for the whole flow.
#[derive(Debug, Clone)]
pub struct UserClient {
    core: Core,
}

impl Deref for UserClient {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl UserClient {
    /// Start building a user client.
    pub fn builder() -> UserClientBuilder {
        UserClientBuilder::default()
    }

    /// Install a (new) session token, for example after the user signed in again, with the
    /// expiry the server reported for it.
    pub fn set_user_token(&self, token: impl Into<UserToken>, expires_at: Option<SystemTime>) {
        let session = self.session();
        session.replace(auth::user_session(
            &token.into(),
            expires_at,
            session.http().now(),
        ));
    }

    /// Forget the session token (sign out on this device).
    pub fn sign_out(&self) {
        self.session().clear();
    }

    /// The user's profile (`GET /user`). Using the session also extends it on the server.
    pub async fn profile(&self) -> Result<Profile> {
        self.call(self.request(Method::GET, "/user")).await
    }

    /// Change the user's name and profile data (`POST /user/edit`); answers the updated
    /// profile.
    pub async fn edit_profile(&self, edit: &ProfileEdit) -> Result<Profile> {
        self.call(self.request(Method::POST, "/user/edit").json(&edit.wire()))
            .await
    }

    async fn call(&self, req: AuthorizedRequest) -> Result<Profile> {
        let session = self.session();
        let before = session.current();
        // The session scrubs its access token (the wire form); the token as handed over is
        // scrubbed too.
        let handed_over = before
            .as_ref()
            .and_then(|l| l.tokens().data::<HandedOver>())
            .map(|h| h.0.clone());
        let req = match &handed_over {
            Some(t) => req.scrub_secret(t.secret().clone()),
            None => req,
        };
        let resp = req.send().await?;
        let mut scrub: Vec<&str> = handed_over.iter().map(UserToken::expose).collect();
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
                session.replace(
                    TokenSet::new(
                        before.tokens().access_token().clone(),
                        Expiry::at(reported, now),
                    )
                    .inherit_from(before.tokens()),
                );
            }
        }
        Ok(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_by_the_kit() {
        let build = |url: Option<&str>| {
            let b = Client::builder().with_credentials("k");
            match url {
                Some(u) => b.with_base_url(u).build(),
                None => b.build(),
            }
        };
        assert_eq!(
            build(None).unwrap().base_url().as_str(),
            "https://ipaas.incend.in/"
        );
        let c = build(Some("https://h.example/api/")).unwrap();
        assert_eq!(
            c.url("/auth/init").unwrap().as_str(),
            "https://h.example/api/auth/init"
        );
        let c = build(Some(" http://127.0.0.1:9 ")).unwrap();
        assert_eq!(c.url("/user").unwrap().as_str(), "http://127.0.0.1:9/user");
        for bad in ["", "h.example", "ftp://h.example"] {
            assert!(build(Some(bad)).unwrap_err().is_config(), "{bad}");
        }
    }

    #[test]
    fn builder_debug_hides_the_key() {
        const KEY: &str = "k-secret-1";
        let b = Client::builder().with_credentials(KEY);
        assert!(!format!("{b:?}").contains(KEY));
        let c = b.build().unwrap();
        assert!(!format!("{c:?}").contains(KEY));
    }
}
