//! Credentials, token answers (wrapped or flat) and the token provider: login with the
//! client's Basic header, refresh with the refresh token, and the workspace header on every
//! authorized call.

use std::fmt;
use std::time::{Duration, SystemTime};

use auth_core::{
    AccessToken, Error, ErrorKind, Expiry, RefreshToken, TokenSet,
    http::Http,
    provider::{AuthScheme, TokenHeader, TokenProvider, async_trait, basic_auth},
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::error::{IqmError, unsuccessful};

/// The workspace header IQM wants beside the bearer token on every call after login
/// (`X-IAA-OW-ID`). The client sets it; name it when you match requests in your own mocks.
pub const WORKSPACE_HEADER: HeaderName = HeaderName::from_static("x-iaa-ow-id");
/// The host header the JSON login call requires (`X-Iaa-Host`, set from
/// [`LoginFlow::Json`]).
pub const IAA_HOST_HEADER: HeaderName = HeaderName::from_static("x-iaa-host");
/// The workspace id (`owId`) IQM answers with a login, kept with the token set (read it
/// with `tokens.storable_data::<OwId>()`) and sent as `X-IAA-OW-ID` on every call. It is
/// serialized as the bare id, so it travels with the set through a token store.
#[derive(Clone)]
pub struct OwId {
    id: String,
    /// The `X-IAA-OW-ID` value, built once per token set (`None`: not a header value).
    header: Option<HeaderValue>,
}

impl serde::Serialize for OwId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.id)
    }
}

impl<'de> serde::Deserialize<'de> for OwId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(OwId::new)
    }
}

impl OwId {
    pub(crate) fn new(id: String) -> Self {
        let header = HeaderValue::try_from(id.as_str()).ok();
        OwId { id, header }
    }

    /// The id as IQM wrote it.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The id as the `X-IAA-OW-ID` header value.
    fn header(&self) -> Result<HeaderValue, Error> {
        self.header.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::BadResponse,
                "workspace id holds characters not allowed in a header",
            )
        })
    }
}

impl PartialEq for OwId {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for OwId {}

impl fmt::Debug for OwId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwId").field(&self.id).finish()
    }
}

pub(crate) const TOKEN_PATH: &str = "/api/v3/ua/oauth/token";
pub(crate) const LOGIN_PATH: &str = "/api/v3/ua/login";
pub(crate) const SIGN_UP_PATH: &str = "/api/v3/ua/sign-up";
pub(crate) const LOGOUT_PATH: &str = "/api/v3/ua/logout";
pub(crate) const OW_ID_PATH: &str = "/api/v3/ua/user/ow-id";

/// Used when a token answer has no `expires_in` (IQM's prose: tokens last 24 hours).
const FALLBACK_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// `Authorization: Bearer <access token>` on every call after login.
const BEARER: TokenHeader = TokenHeader::authorization(AuthScheme::Bearer);

/// The API client's id and secret from IQM support, sent as `Authorization: Basic` on
/// sign-up, login and refresh.
///
/// ```
/// let c = iqm::ClientCredentials::new("my-client", "client-secret-value");
/// assert!(!format!("{c:?}").contains("client-secret-value"));
/// ```
#[derive(Clone)]
pub struct ClientCredentials {
    client_id: String,
    client_secret: SecretString,
    /// `base64(client_id:client_secret)`: what the Basic header carries, so a server that
    /// echoes the header has it scrubbed from its error too.
    // KIT-NEED: `provider::basic_auth` returns only the header value; the encoded secret
    // it holds is rebuilt here to be scrubbed.
    basic: SecretString,
}

impl ClientCredentials {
    /// The client id and secret.
    ///
    /// ```
    /// let c = iqm::ClientCredentials::new("id", "secret");
    /// assert_eq!(c.client_id(), "id");
    /// ```
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        let client_id = client_id.into();
        let client_secret = SecretString::from(client_secret.into());
        let basic = SecretString::from(
            STANDARD.encode(format!("{client_id}:{}", client_secret.expose_secret())),
        );
        ClientCredentials {
            client_id,
            client_secret,
            basic,
        }
    }

    /// The client id (not secret).
    ///
    /// ```
    /// assert_eq!(iqm::ClientCredentials::new("id", "s").client_id(), "id");
    /// ```
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// `base64(client_id:client_secret)`, the secret part of the Basic header.
    pub(crate) fn basic(&self) -> &SecretString {
        &self.basic
    }

    pub(crate) fn secret(&self) -> &SecretString {
        &self.client_secret
    }

    /// `Authorization: Basic base64(client_id:client_secret)`, marked sensitive.
    pub(crate) fn header(&self) -> Result<HeaderValue, Error> {
        basic_auth(&self.client_id, &self.client_secret)
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .finish()
    }
}

/// Everything a login needs: the client's id and secret and the user's email and password.
///
/// ```
/// let c = iqm::Credentials::new("client-id", "client-secret", "user@example.com", "pa55word");
/// let shown = format!("{c:?}");
/// assert!(!shown.contains("client-secret") && !shown.contains("pa55word"));
/// ```
#[derive(Clone)]
pub struct Credentials {
    pub(crate) client: ClientCredentials,
    pub(crate) email: String,
    pub(crate) password: SecretString,
}

impl Credentials {
    /// Client id and secret plus the user's email and password.
    ///
    /// ```
    /// let c = iqm::Credentials::new("id", "secret", "me@example.com", "pw");
    /// assert_eq!(c.email(), "me@example.com");
    /// ```
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        email: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Credentials {
            client: ClientCredentials::new(client_id, client_secret),
            email: email.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// The user's email.
    ///
    /// ```
    /// assert_eq!(iqm::Credentials::new("i", "s", "e@x.com", "p").email(), "e@x.com");
    /// ```
    pub fn email(&self) -> &str {
        &self.email
    }

    /// The client part.
    ///
    /// ```
    /// assert_eq!(iqm::Credentials::new("i", "s", "e", "p").client().client_id(), "i");
    /// ```
    pub fn client(&self) -> &ClientCredentials {
        &self.client
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client", &self.client)
            .field("email", &self.email)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// Which login call the client makes: IQM's current form-encoded OAuth call by default,
/// or the JSON login with its `X-Iaa-Host` header.
///
/// ```
/// assert_eq!(iqm::LoginFlow::default(), iqm::LoginFlow::OAuthToken);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LoginFlow {
    /// `POST /api/v3/ua/oauth/token`, form-encoded
    /// `grant_type=password&username=..&password=..` (IQM's current quickstart).
    #[default]
    OAuthToken,
    /// `POST /api/v3/ua/login`, JSON `{grantType: "password", email, password}` with the
    /// `X-Iaa-Host` header.
    Json {
        /// The value of `X-Iaa-Host` (the IQM application host, e.g. `app.iqm.com`).
        iaa_host: String,
    },
}

impl LoginFlow {
    /// The JSON login call with its `X-Iaa-Host` value.
    ///
    /// ```
    /// let f = iqm::LoginFlow::json("app.example.com");
    /// assert!(matches!(f, iqm::LoginFlow::Json { .. }));
    /// ```
    pub fn json(iaa_host: impl Into<String>) -> Self {
        LoginFlow::Json {
            iaa_host: iaa_host.into(),
        }
    }
}

/// How the refresh call encodes its body. Both go to `POST /api/v3/ua/oauth/token` with
/// the client's Basic header.
///
/// ```
/// assert_eq!(iqm::RefreshFlow::default(), iqm::RefreshFlow::Form);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RefreshFlow {
    /// Form-encoded `grant_type=refresh_token&refresh_token=..` (IQM's current quickstart).
    #[default]
    Form,
    /// JSON `{"grant_type": "refresh_token", "refresh_token": ..}`, as the API reference
    /// page's sample shows it.
    Json,
}

/// A token answer, whichever shape it came in.
#[derive(Debug)]
pub(crate) struct TokenAnswer {
    pub(crate) tokens: TokenSet,
    pub(crate) scope: Option<String>,
    pub(crate) token_type: Option<String>,
}

/// Parse a token answer: `{success, data: {...}}` or the flat object, `expires_in` counted
/// from `received_at`, `owId` (number or string) kept as [`OwId`] data.
pub(crate) fn parse_token_answer(
    status: u16,
    body: Value,
    received_at: SystemTime,
) -> Result<TokenAnswer, Error> {
    let Value::Object(mut outer) = body else {
        return Err(Error::new(
            ErrorKind::BadResponse,
            "token answer is not a json object",
        ));
    };
    if outer.get("success") == Some(&Value::Bool(false)) {
        let parsed = IqmError::from_value(Value::Object(outer)).unwrap_or_default();
        return Err(unsuccessful(status, parsed));
    }
    let mut fields = match outer.remove("data") {
        Some(Value::Object(data)) if !outer.contains_key("access_token") => data,
        Some(other) => {
            outer.insert("data".into(), other);
            outer
        }
        None => outer,
    };
    let access = match fields.remove("access_token") {
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        _ => {
            return Err(Error::new(
                ErrorKind::BadResponse,
                "token answer has no access_token",
            ));
        }
    };
    let refresh = match fields.remove("refresh_token") {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(RefreshToken::new(s)),
        _ => None,
    };
    let expiry = match fields.get("expires_in") {
        None | Some(Value::Null) => Expiry::lifetime_from(FALLBACK_LIFETIME, received_at),
        Some(v) => Expiry::from_expires_in(seconds(v)?, received_at),
    };
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let mut tokens = TokenSet::new(AccessToken::new(access), expiry).with_refresh_token(refresh);
    if let Some(ow) = text(fields.get("owId").or_else(|| fields.get("ow_id"))) {
        // It goes into a header on every later call: refuse it here, not on each call.
        if HeaderValue::try_from(ow.as_str()).is_err() {
            return Err(Error::new(
                ErrorKind::BadResponse,
                "token answer has a malformed owId",
            ));
        }
        tokens = tokens.with_storable_data(OwId::new(ow));
    }
    Ok(TokenAnswer {
        tokens,
        scope: text(fields.get("scope")),
        token_type: text(fields.get("token_type")),
    })
}

fn seconds(v: &Value) -> Result<u64, Error> {
    let bad = || {
        Error::new(
            ErrorKind::BadResponse,
            "token answer has a malformed expires_in",
        )
    };
    match v {
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(s), _) => Ok(s),
            (None, Some(f)) if f.is_finite() && f >= 0.0 => Ok(f.floor() as u64),
            _ => Err(bad()),
        },
        Value::String(s) => s.trim().parse::<u64>().map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// Parse the workspace-id answer `{success: true, data: <owId>}` (or a bare id).
pub(crate) fn parse_ow_id(status: u16, body: Value) -> Result<String, Error> {
    let inner = match body {
        Value::Object(mut map) => {
            if map.get("success") == Some(&Value::Bool(false)) {
                let parsed = IqmError::from_value(Value::Object(map)).unwrap_or_default();
                return Err(unsuccessful(status, parsed));
            }
            match map.remove("data") {
                Some(Value::Object(mut d)) => d
                    .remove("owId")
                    .or_else(|| d.remove("id"))
                    .unwrap_or(Value::Null),
                Some(v) => v,
                None => map.remove("owId").unwrap_or(Value::Null),
            }
        }
        other => other,
    };
    let ow = match inner {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.trim().is_empty() => s.trim().to_owned(),
        _ => {
            return Err(Error::new(
                ErrorKind::BadResponse,
                "workspace id answer has no owId",
            ));
        }
    };
    if HeaderValue::try_from(ow.as_str()).is_err() {
        return Err(Error::new(
            ErrorKind::BadResponse,
            "workspace id answer has a malformed owId",
        ));
    }
    Ok(ow)
}

/// The [`TokenProvider`] behind the client's session.
pub(crate) struct IqmAuth {
    pub(crate) credentials: Credentials,
    pub(crate) flow: LoginFlow,
    pub(crate) refresh_flow: RefreshFlow,
    pub(crate) http: Http,
    pub(crate) base_url: Url,
}

impl fmt::Debug for IqmAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IqmAuth")
            .field("credentials", &self.credentials)
            .field("flow", &self.flow)
            .field("refresh_flow", &self.refresh_flow)
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl IqmAuth {
    /// `path` under the base URL, joined as `Core::url` joins it (a base path is kept).
    // KIT-NEED: the provider is made before the `Core` whose `url` it needs; a path join on
    // `Parts` (or a free one beside `parse_base_url`) would serve both.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.as_str().trim_end_matches('/'))
    }

    async fn token_call(
        &self,
        request: reqwest::RequestBuilder,
        secrets: &[&SecretString],
    ) -> Result<(u16, Value, SystemTime), Error> {
        let resp = self.http.send(request, secrets).await?;
        let status = resp.status().as_u16();
        let received_at = self.http.now();
        let body: Value = auth_core::http::read_json(resp).await?;
        Ok((status, body, received_at))
    }

    async fn login(&self) -> Result<TokenSet, Error> {
        let c = &self.credentials;
        let basic = c.client.basic();
        let request = match &self.flow {
            LoginFlow::OAuthToken => self
                .http
                .request(reqwest::Method::POST, self.url(TOKEN_PATH))
                .header(AUTHORIZATION, c.client.header()?)
                .form(&[
                    ("grant_type", "password"),
                    ("username", c.email.as_str()),
                    ("password", c.password.expose_secret()),
                ]),
            LoginFlow::Json { iaa_host } => {
                let host = HeaderValue::try_from(iaa_host.as_str()).map_err(|_| {
                    Error::new(ErrorKind::Config, "x-iaa-host is not a valid header value")
                })?;
                self.http
                    .request(reqwest::Method::POST, self.url(LOGIN_PATH))
                    .header(AUTHORIZATION, c.client.header()?)
                    .header(IAA_HOST_HEADER, host)
                    .json(&serde_json::json!({
                        "grantType": "password",
                        "email": c.email,
                        "password": c.password.expose_secret(),
                    }))
            }
        };
        let secrets = [&c.password, c.client.secret(), basic];
        let (status, body, at) = match self.token_call(request, &secrets).await {
            Ok(answer) => answer,
            Err(e) => return Err(login_refused(e)),
        };
        let answer = parse_token_answer(status, body, at).map_err(login_refused)?;
        let mut tokens = answer.tokens;
        if tokens.storable_data::<OwId>().is_none() {
            // The workspace header is required on every later call; ask for it once here
            // rather than send calls IQM would refuse.
            let ow = self.fetch_ow_id(&tokens).await?;
            tokens = tokens.with_storable_data(OwId::new(ow));
        }
        Ok(tokens)
    }

    async fn fetch_ow_id(&self, tokens: &TokenSet) -> Result<String, Error> {
        let mut headers = HeaderMap::new();
        BEARER.apply(tokens, &mut headers)?;
        let request = self
            .http
            .request(reqwest::Method::GET, self.url(OW_ID_PATH))
            .headers(headers);
        let resp = self
            .http
            .send(request, &[tokens.access_token().as_secret()])
            .await?;
        let status = resp.status().as_u16();
        let body: Value = auth_core::http::read_json(resp).await?;
        parse_ow_id(status, body)
    }
}

/// A login the server refused (bad client credentials, bad email or password, unknown
/// user, wrong workspace) becomes a clear unauthorized error. An account on hold, a
/// validation 400 (say a missing field) and other failures keep their kind.
pub(crate) fn login_refused(e: Error) -> Error {
    let detail = e.detail::<IqmError>();
    let refused = match e.status() {
        Some(401 | 403) => true,
        // OAuth servers answer a bad password with 400 `invalid_grant`.
        Some(400) => detail.is_some_and(|d| {
            !d.is_on_hold()
                && d.extra
                    .get("error")
                    .and_then(Value::as_str)
                    .is_some_and(|code| {
                        matches!(
                            code,
                            "invalid_grant"
                                | "invalid_client"
                                | "unauthorized"
                                | "unauthorized_client"
                        )
                    })
        }),
        _ => false,
    };
    if !refused {
        return e;
    }
    rewrap(
        e,
        "iqm refused the login: check the client id, secret, email and password",
    )
}

/// A refresh token the server refused: unauthorized, so the session falls back to a login.
fn refresh_refused(e: Error) -> Error {
    if !matches!(e.status(), Some(400 | 401 | 403)) {
        return e;
    }
    rewrap(e, "iqm refused the refresh token")
}

fn rewrap(e: Error, context: &str) -> Error {
    // Status, vendor message, Retry-After and the IqmError detail stay as they were.
    e.with_kind(ErrorKind::Unauthorized).with_context(context)
}

#[async_trait]
impl TokenProvider for IqmAuth {
    fn name(&self) -> &'static str {
        "iqm"
    }

    async fn sign_in(&self) -> Result<TokenSet, Error> {
        self.login().await
    }

    async fn refresh(&self, current: &TokenSet) -> Result<TokenSet, Error> {
        let Some(refresh) = current.refresh_token() else {
            return Err(Error::new(ErrorKind::Unauthorized, "no refresh token held"));
        };
        let client = &self.credentials.client;
        let basic = client.basic();
        let fields = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose()),
        ];
        let request = self
            .http
            .request(reqwest::Method::POST, self.url(TOKEN_PATH))
            .header(AUTHORIZATION, client.header()?);
        let request = match self.refresh_flow {
            RefreshFlow::Form => request.form(&fields),
            RefreshFlow::Json => request.json(&serde_json::json!({
                "grant_type": "refresh_token",
                "refresh_token": refresh.expose(),
            })),
        };
        let secrets = [refresh.as_secret(), client.secret(), basic];
        let (status, body, at) = self
            .token_call(request, &secrets)
            .await
            .map_err(refresh_refused)?;
        // The answer is flat and has no owId: the session carries it (and the refresh
        // token, if none came back) over from `current`.
        let answer = parse_token_answer(status, body, at).map_err(refresh_refused)?;
        Ok(answer.tokens)
    }

    fn authorize(&self, tokens: &TokenSet, headers: &mut HeaderMap) -> Result<(), Error> {
        authorize_headers(tokens, headers)
    }

    fn secrets(&self) -> Vec<&SecretString> {
        let c = &self.credentials;
        vec![&c.password, c.client.secret(), c.client.basic()]
    }

    fn identity(&self) -> Vec<&str> {
        let c = &self.credentials;
        vec![c.client.client_id(), &c.email]
    }
}

/// `Authorization: Bearer <access token>` and `X-IAA-OW-ID: <owId>`.
pub(crate) fn authorize_headers(tokens: &TokenSet, headers: &mut HeaderMap) -> Result<(), Error> {
    BEARER.apply(tokens, headers)?;
    if let Some(ow) = tokens.storable_data::<OwId>() {
        headers.insert(WORKSPACE_HEADER, ow.header()?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::UNIX_EPOCH;

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000)
    }

    #[test]
    fn wrapped_and_flat_answers_parse_alike() {
        let wrapped = json!({"success": true, "data": {
            "access_token": "106adb25-37b0-4cab-8381-d682fe7cc3c8",
            "refresh_token": "eac4c1f6-781e-4b04-baff-9c2e415d1f64",
            "scope": "read write", "token_type": "bearer", "expires_in": 35999, "owId": 200001}});
        let a = parse_token_answer(200, wrapped, at()).unwrap();
        assert_eq!(
            a.tokens.storable_data::<OwId>().map(OwId::as_str),
            Some("200001")
        );
        assert_eq!(a.scope.as_deref(), Some("read write"));
        assert_eq!(a.token_type.as_deref(), Some("bearer"));
        assert_eq!(
            a.tokens.expiry().expires_at(),
            Some(at() + Duration::from_secs(35_999))
        );
        let flat = json!({"access_token": "a2", "refresh_token": "r2", "expires_in": "60"});
        let b = parse_token_answer(200, flat, at()).unwrap();
        assert_eq!(b.tokens.access_token().expose(), "a2");
        assert_eq!(b.tokens.refresh_token().unwrap().expose(), "r2");
        assert_eq!(b.tokens.storable_data::<OwId>().map(OwId::as_str), None);
        assert_eq!(b.tokens.expiry().lifetime(), Some(Duration::from_secs(60)));
        // owId as a string, null refresh token, missing expires_in: tolerated.
        let odd = json!({"data": {"access_token": "a3", "refresh_token": null, "owId": "77"}});
        let c = parse_token_answer(200, odd, at()).unwrap();
        assert_eq!(
            c.tokens.storable_data::<OwId>().map(OwId::as_str),
            Some("77")
        );
        assert!(c.tokens.refresh_token().is_none());
        assert_eq!(c.tokens.expiry().lifetime(), Some(FALLBACK_LIFETIME));
    }

    #[test]
    fn malformed_answers_are_typed_errors() {
        for body in [
            json!([1]),
            json!({"success": true, "data": {}}),
            json!({"access_token": ""}),
            json!({"access_token": "a", "expires_in": -5}),
            json!({"access_token": "a", "expires_in": "soon"}),
            json!({"access_token": "a", "owId": "1\n2"}),
            json!({"success": true, "data": null}),
            json!({"success": true, "data": {"access_token": null}}),
            json!({"access_token": ["a"]}),
            json!(null),
            json!(""),
        ] {
            let e = parse_token_answer(200, body.clone(), at()).unwrap_err();
            assert!(e.is_bad_response(), "{body}: {e:?}");
        }
        let e = parse_token_answer(
            200,
            json!({"success": false, "errorObjects": [{"error": "nope"}]}),
            at(),
        )
        .unwrap_err();
        assert!(e.is_rejected());
        assert_eq!(e.vendor_message(), Some("nope"));
    }

    #[test]
    fn ow_id_answers() {
        assert_eq!(
            parse_ow_id(200, json!({"success": true, "data": 200001})).unwrap(),
            "200001"
        );
        assert_eq!(
            parse_ow_id(200, json!({"data": {"owId": "9"}})).unwrap(),
            "9"
        );
        assert_eq!(parse_ow_id(200, json!(5)).unwrap(), "5");
        for body in [
            json!({"success": true}),
            json!({"success": true, "data": null}),
            json!({"success": true, "data": "1\r\n2"}),
            json!({"success": true, "data": [1]}),
            json!(""),
        ] {
            assert!(parse_ow_id(200, body).unwrap_err().is_bad_response());
        }
    }

    #[test]
    fn basic_header_is_base64_of_id_and_secret() {
        let c = ClientCredentials::new("7pnibkujey1ojrgnsln5", "123456");
        let h = c.header().unwrap();
        assert!(h.is_sensitive());
        // The OpenAPI's own example value.
        assert_eq!(
            h.to_str().unwrap(),
            "Basic N3BuaWJrdWpleTFvanJnbnNsbjU6MTIzNDU2"
        );
    }

    #[test]
    fn authorize_sends_bearer_and_workspace() {
        let auth = IqmAuth {
            credentials: Credentials::new("i", "s", "e", "p"),
            flow: LoginFlow::OAuthToken,
            refresh_flow: RefreshFlow::Form,
            http: Http::with_client(auth_core::http::default_client().unwrap()),
            base_url: Url::parse("https://api.iqm.com").unwrap(),
        };
        let set = TokenSet::new(AccessToken::new("tok"), Expiry::never())
            .with_storable_data(OwId::new("42".into()));
        let mut h = HeaderMap::new();
        auth.authorize(&set, &mut h).unwrap();
        assert_eq!(h["authorization"], "Bearer tok");
        assert!(h["authorization"].is_sensitive());
        assert_eq!(h["x-iaa-ow-id"], "42");
    }

    #[test]
    fn workspace_id_travels_through_the_stored_form_and_rebuilds_its_header() {
        let set = TokenSet::new(AccessToken::new("tok"), Expiry::never())
            .with_storable_data(OwId::new("42".into()));
        let bytes = set.to_stored_bytes().unwrap();
        let back = TokenSet::from_stored_bytes(bytes.expose_secret()).unwrap();
        let mut h = HeaderMap::new();
        authorize_headers(&back, &mut h).unwrap();
        assert_eq!(h["x-iaa-ow-id"], "42");
        assert_eq!(back.storable_data::<OwId>().map(OwId::as_str), Some("42"));
    }
}
