//! Entry points for the fuzz targets in `fuzz/`: this crate's own readers of IQM's answers,
//! reachable from outside without widening the public API. Compiled only under
//! `cfg(fuzzing)`, which `cargo fuzz` sets.

use auth_core::reqwest::Response;
use auth_core::{
    Error, TokenSet,
    http::{ErrorParser, Http, read_json},
};
use secrecy::SecretString;
use serde_json::Value;

use crate::auth::{login_refused, parse_token_answer};

/// The error parser the client installs on its transport.
pub fn error_parser() -> impl ErrorParser + 'static {
    crate::error::IqmErrors
}

/// What login does with the token endpoint's answer once the request is sent: `Http::check`
/// scrubbing `secret` (the password of the call), `parse_token_answer`, and the refused-login
/// rewrap. Mirrors `IqmAuth::token_call` and `IqmAuth::login`. `http` must carry
/// [`error_parser`].
pub async fn sign_in_answer(
    http: &Http,
    resp: Response,
    secret: &SecretString,
) -> Result<TokenSet, Error> {
    let resp = http.check(resp, &[secret]).await.map_err(login_refused)?;
    let status = resp.status().as_u16();
    let received_at = http.now();
    let body: Value = read_json(resp).await.map_err(login_refused)?;
    // The session scrubs every sign-in error of the provider's credentials (a `200` with
    // `success: false` never passes `error_from`): the harness does as the session does.
    let answer = parse_token_answer(status, body, received_at)
        .map_err(login_refused)
        .map_err(|e| e.scrubbed(&[secret]))?;
    Ok(answer.tokens)
}
