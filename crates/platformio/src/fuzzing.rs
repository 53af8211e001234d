//! Entry points for the fuzz targets in `fuzz/`: this crate's own readers of the platform's
//! answers, reachable from outside without widening the public API. Compiled only under
//! `cfg(fuzzing)`, which `cargo fuzz` sets.

use auth_core::reqwest::Response;
use auth_core::{
    AccessToken, Error, Expiry, TokenSet,
    http::{ErrorParser, Http},
};
use secrecy::SecretString;

use crate::models::ApiTokenAnswer;

/// The error parser the client installs on its transport.
pub fn error_parser() -> impl ErrorParser + 'static {
    crate::error::PlatformErrors
}

/// What the service login does with the answer once the request is sent: `Http::check`
/// scrubbing `secret` (the password of the call), `read_answer` (a 2xx body in the error
/// shape is that error), then the JWT's `exp`. Mirrors `ServiceLogin::sign_in` line for line.
/// `http` must carry [`error_parser`].
pub async fn sign_in_answer(
    http: &Http,
    resp: Response,
    secret: &SecretString,
) -> Result<TokenSet, Error> {
    let secrets = [secret];
    let resp = http.check(resp, &secrets).await?;
    let answer: ApiTokenAnswer = crate::client::read_answer(resp, &secrets).await?;
    let expiry = Expiry::from_jwt(&answer.api_token, http.now())?;
    Ok(TokenSet::new(AccessToken::new(answer.api_token), expiry))
}
