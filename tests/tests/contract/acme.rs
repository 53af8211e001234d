//! A sixth vendor, made up, built on the kit alone: a login, a refresh, one paged list, and
//! its sandbox. It proves a vendor is only its own parts (provider, routes, error shape)
//! and passes the same contract as the five.

use std::ops::Deref;
use std::time::Duration;

use auth_core::client::{Config, Core, Env, VendorBuilder, VendorInfo};
use auth_core::http::{Http, PlainTextErrors, read_json};
use auth_core::provider::{Paginator, TokenProvider, async_trait};
use auth_core::reqwest::{self, Url};
use auth_core::sandbox::{
    self, Controls, Ctx, HttpMockRequest, HttpMockResponse, Kit, Route, Settings, Spec, TokenCheck,
    VendorSandbox,
};
use auth_core::{AccessToken, Error, Expiry, ManualClock, Page, PageToken, RefreshToken, TokenSet};
use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt as _};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

// ---- the client --------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Credentials {
    user: String,
    password: SecretString,
}

#[derive(Debug)]
struct AcmeAuth {
    http: Http,
    base: Url,
    credentials: Credentials,
}

impl AcmeAuth {
    async fn token_call(
        &self,
        path: &str,
        body: Value,
        secrets: &[&SecretString],
    ) -> Result<TokenSet, Error> {
        let url = self
            .base
            .join(path)
            .map_err(|e| Error::new(auth_core::ErrorKind::Config, "bad url").with_source(e))?;
        let resp = self
            .http
            .send(
                self.http.request(reqwest::Method::POST, url).json(&body),
                secrets,
            )
            .await?;
        let received = self.http.now();
        let answer: Value = read_json(resp).await?;
        let access = answer["access_token"].as_str().unwrap_or_default();
        let refresh = answer["refresh_token"].as_str().map(RefreshToken::new);
        let expiry = Expiry::from_expires_in(answer["expires_in"].as_u64().unwrap_or(0), received);
        Ok(TokenSet::new(AccessToken::new(access), expiry).with_refresh_token(refresh))
    }
}

#[async_trait]
impl TokenProvider for AcmeAuth {
    async fn sign_in(&self) -> Result<TokenSet, Error> {
        let c = &self.credentials;
        let body = json!({"user": c.user, "password": c.password.expose_secret()});
        self.token_call("/auth/login", body, &[&c.password]).await
    }

    async fn refresh(&self, current: &TokenSet) -> Result<TokenSet, Error> {
        let Some(r) = current.refresh_token() else {
            return self.sign_in().await;
        };
        self.token_call(
            "/auth/refresh",
            json!({"refresh_token": r.expose()}),
            &[r.as_secret()],
        )
        .await
    }

    fn secrets(&self) -> Vec<&SecretString> {
        vec![&self.credentials.password]
    }
}

#[derive(Debug, Default)]
pub struct ClientBuilder {
    kit: Config<Credentials>,
}

impl VendorBuilder for ClientBuilder {
    type Credentials = Credentials;
    const VENDOR: VendorInfo = VendorInfo {
        name: "acme",
        env_prefix: "ACME",
        default_base_url: "https://api.acme.example",
    };
    fn kit(&mut self) -> &mut Config<Credentials> {
        &mut self.kit
    }
    fn read_env(self, env: &Env) -> Self {
        match (env.var("USER"), env.var("PASSWORD")) {
            (Some(user), Some(pw)) => self.with_credentials(Credentials {
                user,
                password: pw.into(),
            }),
            _ => self,
        }
    }
}
auth_core::client_builder!(ClientBuilder);

impl ClientBuilder {
    pub fn build(self) -> Result<Client, Error> {
        let parts = self.kit.finish(&Self::VENDOR, PlainTextErrors)?;
        let auth = AcmeAuth {
            http: parts.http.clone(),
            base: parts.base_url.clone(),
            credentials: parts.credentials.clone(),
        };
        Ok(Client(Core::new(parts.session(auth), parts.base_url)))
    }
}

/// The acme client: the kit's [`Core`] plus one operation.
#[derive(Debug, Clone)]
pub struct Client(Core);

impl Deref for Client {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.0
    }
}

impl Client {
    /// Every item of `GET /items?page=N`, as a stream.
    pub fn items(&self, max: usize) -> futures::stream::BoxStream<'static, Result<u64, Error>> {
        let core = self.0.clone();
        Paginator::new(PageToken::Number(1), move |token| {
            let core = core.clone();
            async move {
                let PageToken::Number(n) = token else {
                    unreachable!("numbered pages only")
                };
                let v: Value = core
                    .request(reqwest::Method::GET, "/items")
                    .query(&[("page", n)])
                    .send_json()
                    .await?;
                let items = v["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_u64)
                    .collect();
                let next = v["next_page"].as_u64().map(PageToken::Number);
                Ok(Page::new(items, Default::default(), next))
            }
        })
        .max_items(max)
        .items()
    }
}

// ---- the sandbox -------------------------------------------------------------------------

const USER: &str = "acme-user";
const PASSWORD: &str = "acme-password-77f0";
const PAGES: u64 = 5;

#[derive(Debug)]
struct Acme;

impl Acme {
    fn tokens(&self, ctx: &Ctx) -> HttpMockResponse {
        let access = ctx.issue_access("acme-at", USER);
        let refresh = ctx.issue_refresh("acme-rt", USER);
        let expires_in = ctx.token_lifetime().as_secs();
        sandbox::json(
            200,
            &json!({"access_token": access, "refresh_token": refresh, "expires_in": expires_in}),
        )
    }

    fn login(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        let body: Value = serde_json::from_slice(req.body_ref()).unwrap_or_default();
        if body["user"] != USER || body["password"] != PASSWORD {
            return sandbox::text(401, "bad credentials");
        }
        self.tokens(ctx)
    }

    fn refresh(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        let body: Value = serde_json::from_slice(req.body_ref()).unwrap_or_default();
        let token = body["refresh_token"].as_str().unwrap_or_default();
        match ctx.store().check(token) {
            TokenCheck::Valid(_) => {
                ctx.store().revoke(token);
                self.tokens(ctx)
            }
            _ => sandbox::text(401, "refresh token expired"),
        }
    }

    fn items(&self, ctx: &Ctx, req: &HttpMockRequest) -> HttpMockResponse {
        let valid = sandbox::bearer(req)
            .is_some_and(|t| matches!(ctx.store().check(&t), TokenCheck::Valid(_)));
        if !valid {
            return sandbox::text(401, "token expired");
        }
        let page: u64 = req
            .query_params()
            .into_iter()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(1);
        let items: Vec<u64> = (0..10).map(|i| (page - 1) * 10 + i).collect();
        let next = (page < PAGES).then_some(page + 1);
        sandbox::json(200, &json!({"items": items, "next_page": next}))
    }
}

impl Spec for Acme {
    fn routes() -> Vec<Route<Self>> {
        vec![
            Route::token("POST", "/auth/login", "login", Acme::login),
            Route::token("POST", "/auth/refresh", "refresh", Acme::refresh),
            Route::authorized("GET", "/items", "items", Acme::items),
        ]
    }
}

pub struct Sandbox(Kit<Acme>);

impl VendorSandbox for Sandbox {
    type Client = Client;
    const NAME: &'static str = "acme";

    async fn start(clock: ManualClock, lifetime: Duration) -> Self {
        let settings = Settings {
            clock: clock.into(),
            token_lifetime: lifetime,
        };
        Sandbox(Kit::start(Acme, settings, &[PASSWORD]).await)
    }

    fn client(&self) -> Result<Client, Error> {
        ClientBuilder::default()
            .with_base_url(self.0.base_url())
            .with_clock(self.0.clock())
            .with_credentials(Credentials {
                user: USER.into(),
                password: PASSWORD.into(),
            })
            .build()
    }

    fn call(client: &Client) -> BoxFuture<'static, Result<(), Error>> {
        let c = client.clone();
        async move { c.get_json::<Value>("/items").await.map(drop) }.boxed()
    }

    fn controls(&self) -> &Controls {
        &self.0
    }

    fn secrets(&self) -> Vec<String> {
        vec![PASSWORD.to_owned()]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sixth_vendor_on_the_kit_meets_the_contract() {
    super::harness::run_vendor::<Sandbox>(Duration::from_secs(3600)).await;
}

#[tokio::test]
async fn the_sixth_vendor_pages_its_list_in_order_and_honours_max_items() {
    let sandbox = Sandbox::start(ManualClock::new(), Duration::from_secs(3600)).await;
    let client = sandbox.client().unwrap();
    let all: Vec<u64> = client.items(usize::MAX).map(Result::unwrap).collect().await;
    assert_eq!(all, (0..PAGES * 10).collect::<Vec<_>>());
    assert_eq!(sandbox.0.hits("items"), PAGES);
    let some: Vec<u64> = client.items(15).map(Result::unwrap).collect().await;
    assert_eq!(some, (0..15).collect::<Vec<_>>());
    assert_eq!(sandbox.0.token_requests(), 1);
}
