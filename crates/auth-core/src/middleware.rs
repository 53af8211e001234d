//! The session as a [`reqwest_middleware::Middleware`], for a service whose requests already
//! go through its own `reqwest_middleware` stack (retries, tracing, caching): the stack then
//! carries a vendor's whole token lifecycle. Behind the `middleware` feature.
//!
//! [`AuthMiddleware`] does what the session's own pipeline does, through the same
//! [`Session`] (so the vendor client and the stack share one token, one single-flight
//! renewal and one set of counters):
//!
//! - it takes the session's token (renewing single-flight when it is due) and puts it on
//!   the request the vendor's way (IQM's `X-IAA-OW-ID` too), replacing any it already had;
//! - on a 401 that the vendor's error parser says rejected the token, it invalidates
//!   exactly that token, renews, and sends the request once more; the second answer, a 401
//!   too, goes to the caller as it is;
//! - it refuses plain `http://` except to loopback, and waits for the client-side rate
//!   limiter, as the pipeline does.
//!
//! Unlike the pipeline it turns no answer into an error: a 429 or 503 goes up the stack as a
//! response, for a retry layer to see. Its errors (a failed renewal, an insecure URL) are
//! [`reqwest_middleware::Error::Middleware`] holding the crate's [`Error`], scrubbed of
//! secrets like every error the session returns.
//!
//! A request whose body cannot be cloned (a stream) cannot be sent twice: its 401 is
//! returned as it is, with no renewal. So is any 401 when the credential cannot be renewed
//! (an API key, a static token). (reqwest-retry refuses such a request altogether, with
//! its own error, before it reaches this layer.)
//!
//! # Where it goes in the stack
//!
//! Put it *inside* a retry layer: `.with(retry).with(auth)`. Each attempt the retry layer
//! makes then passes through the session, which puts on the token that is current at that
//! moment: a token that expired, or that a 401 got renewed, while the retry layer waited is
//! never replayed. Outside the retry layer (`.with(auth).with(retry)`) the token is put on
//! once and every replay carries that same header; a replay after the token expired then
//! meets a 401, which this layer does recover, at the price of one wasted request.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use auth_core::{AccessToken, Error, Expiry, Session, TokenSet, http::Http};
//! use auth_core::middleware::AuthMiddleware;
//! use reqwest_middleware::ClientBuilder;
//!
//! #[derive(Debug)]
//! struct Key;
//!
//! #[auth_core::provider::async_trait]
//! impl auth_core::provider::TokenProvider for Key {
//!     async fn sign_in(&self) -> Result<TokenSet, Error> {
//!         Ok(TokenSet::new(AccessToken::new("k-1"), Expiry::never()))
//!     }
//! }
//!
//! let vendor = httpmock::MockServer::start_async().await;
//! let me = vendor
//!     .mock_async(|when, then| {
//!         when.path("/me").header("authorization", "Bearer k-1");
//!         then.status(200).body("{}");
//!     })
//!     .await;
//!
//! // A vendor client hands out its session's layer with `client.middleware()`.
//! let session = Session::new(Key, Http::new()?);
//! let stack = ClientBuilder::new(auth_core::http::default_client()?)
//!     // .with(RetryTransientMiddleware::new_with_policy(..)) goes here, outside.
//!     .with(AuthMiddleware::new(session.clone()))
//!     .build();
//! let answer = stack.get(vendor.url("/me")).send().await?;
//! assert_eq!(answer.status(), 200);
//! me.assert_async().await;
//! assert_eq!(session.stats().sign_ins, 1);
//! # Ok(())
//! # }
//! ```

use std::fmt;

use http::Extensions;
use reqwest::{Request, Response, ResponseBuilderExt as _, StatusCode};
use reqwest_middleware::{Middleware, Next};

use crate::error::Error;
use crate::http::{DEFAULT_MAX_BODY, ensure_secure, read_bounded};
use crate::session::Session;

/// A session's token lifecycle as a `reqwest_middleware` layer: see the [module](self).
/// Cheap to clone; every clone uses the same session.
#[derive(Clone)]
pub struct AuthMiddleware {
    session: Session,
}

impl AuthMiddleware {
    /// The layer for `session` (a vendor client's: `client.middleware()`).
    pub fn new(session: Session) -> Self {
        AuthMiddleware { session }
    }

    /// The session it authorizes with.
    pub fn session(&self) -> &Session {
        &self.session
    }
}

// The session's own Debug shows no secret (its tokens and credentials redact); nothing else
// is held.
impl fmt::Debug for AuthMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthMiddleware")
            .field("session", &self.session)
            .finish()
    }
}

fn failed(e: Error) -> reqwest_middleware::Error {
    reqwest_middleware::Error::middleware(e)
}

#[async_trait::async_trait]
impl Middleware for AuthMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let session = &self.session;
        // Refuse before a token is fetched or put on the wire.
        ensure_secure(request.url()).map_err(failed)?;
        let replay = session.replay_of(&request);
        let lease = session.token().await.map_err(failed)?;
        session.authorize(&lease, &mut request).map_err(failed)?;
        // Only the generation is held across the send, as the session's own calls do: a
        // held guard takes one of its thread's few arc-swap slots.
        let generation = lease.generation();
        drop(lease);
        session.http().limit(&request).await.map_err(failed)?;
        let answer = next.clone().run(request, extensions).await?;
        if answer.status() != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        session.count_401(false);
        let Some(mut replay) = replay else {
            return Ok(answer);
        };
        // Only the vendor's error says whether the token was at fault (a wrong end user's
        // password on a login endpoint is a 401 too): read it, and hand the answer back
        // as it came when the token was not.
        let (status, version, url) = (answer.status(), answer.version(), answer.url().clone());
        let headers = answer.headers().clone();
        let body = read_bounded(answer, DEFAULT_MAX_BODY)
            .await
            .map_err(failed)?;
        let lease = session.lease_of(generation);
        let error = session.unauthorized_error(status, &headers, &body, lease.as_deref());
        if !session.rejects_token(&error) {
            let mut rebuilt = http::Response::builder()
                .status(status)
                .version(version)
                .url(url);
            if let Some(h) = rebuilt.headers_mut() {
                *h = headers;
            }
            let rebuilt = rebuilt
                .body(body)
                .map_err(reqwest_middleware::Error::middleware)?;
            return Ok(Response::from(rebuilt));
        }
        session.invalidate(generation);
        drop(lease);
        let fresh = session.token().await.map_err(failed)?;
        session.authorize(&fresh, &mut replay).map_err(failed)?;
        session.http().limit(&replay).await.map_err(failed)?;
        let answer = next.run(replay, extensions).await?;
        if answer.status() == StatusCode::UNAUTHORIZED {
            session.count_401(false);
        } else if answer.status().is_success() {
            session.count_401(true);
        }
        Ok(answer)
    }
}
