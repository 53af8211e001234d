//! Entry points for the fuzz targets in `fuzz/`: this crate's own readers of iPaaS.com's
//! answers, reachable from outside without widening the public API. Compiled only under
//! `cfg(fuzzing)`, which `cargo fuzz` sets.

use std::sync::{Arc, Mutex};

use auth_core::reqwest::Response;
use auth_core::{
    Error, TokenSet,
    http::{ErrorParser, Http},
    provider::AuthScheme,
};
use secrecy::{ExposeSecret, SecretString};

use crate::auth::{Credentials, IpaasProvider};

/// The error parser the client installs on its transport.
pub fn error_parser() -> impl ErrorParser + 'static {
    crate::error::IpaasErrors
}

/// What login does with the answer once the request is sent (`Http::check` scrubbing
/// `secret`, the password of the call, then `IpaasProvider::accept_response`). `http` must
/// carry [`error_parser`].
pub async fn sign_in_answer(
    http: &Http,
    resp: Response,
    secret: &SecretString,
) -> Result<TokenSet, Error> {
    let provider = IpaasProvider {
        http: http.clone(),
        base_url: url::Url::parse("https://api.ipaas.com/").map_err(|e| {
            Error::new(auth_core::ErrorKind::Config, "fuzzing base url").with_source(e)
        })?,
        credentials: Credentials::user("user@example.com", secret.expose_secret()),
        header: auth_core::provider::TokenHeader::authorization(AuthScheme::Bearer),
        refresh_form: crate::RefreshForm::TokenOnly,
        profile: Arc::new(Mutex::new(None)),
    };
    let resp = http.check(resp, &[secret]).await?;
    provider.accept_response(resp).await
}
