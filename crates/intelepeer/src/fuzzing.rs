//! Entry points for the fuzz targets in `fuzz/`: this crate's own readers of IntelePeer's
//! answers, reachable from outside without widening the public API. Compiled only under
//! `cfg(fuzzing)`, which `cargo fuzz` sets.

use auth_core::reqwest::Response;
use auth_core::{
    AccessToken, Error, TokenSet,
    http::{ErrorParser, Http, read_json},
};
use secrecy::SecretString;
use serde_json::Value;

use crate::auth::{DEFAULT_TOKEN_LIFETIME, bad_credentials, expiry_of, token_from_answer};

/// The error parser the client installs on its transport.
pub fn error_parser() -> impl ErrorParser + 'static {
    crate::error::IntelePeerErrors
}

/// What `IntelePeerAuth::authenticate` does with the answer once the request is sent:
/// `Http::check` scrubbing `secret` (the password of the call), the token of the answer, its
/// expiry, and the bad-credentials rewrap. Mirrors `authenticate` line for line. `http`
/// must carry [`error_parser`].
pub async fn sign_in_answer(
    http: &Http,
    resp: Response,
    secret: &SecretString,
) -> Result<TokenSet, Error> {
    let answer = match http.check(resp, &[secret]).await {
        Ok(resp) => read_json::<Value>(resp).await,
        Err(e) => Err(e),
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) if e.status() == Some(401) => return Err(bad_credentials(e)),
        Err(e) => return Err(e),
    };
    let token = match token_from_answer(&answer).map_err(|e| e.scrubbed(&[secret])) {
        Ok(token) => token,
        Err(e) if e.is_unauthorized() => return Err(bad_credentials(e)),
        Err(e) => return Err(e),
    };
    let expiry = expiry_of(&token, DEFAULT_TOKEN_LIFETIME, http.now())?;
    Ok(TokenSet::new(AccessToken::new(token), expiry))
}
