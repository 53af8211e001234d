//! Entry points for the fuzz targets in `fuzz/`: this crate's own readers of Incend's
//! answers, reachable from outside without widening the public API. Compiled only under
//! `cfg(fuzzing)`, which `cargo fuzz` sets.

use auth_core::reqwest::Response;
use auth_core::{
    Error,
    http::{ErrorParser, Http, read_json},
};
use secrecy::{ExposeSecret, SecretString};

use crate::models::{UserToken, VerifiedUser, VerifyWire, missing_with};

/// The error parser the client installs on its transport.
pub fn error_parser() -> impl ErrorParser + 'static {
    crate::error::IncendErrors
}

/// What `Client::verify_otp` (Incend's sign-in) does with the answer once the request is
/// sent: `Http::check` scrubbing `secret` (the one-time code of the call), then the verify
/// answer's fields. The field checks are inline in `verify_otp`; they are repeated here
/// step for step, with the same `missing_with` and `parse_rfc3339`. `http` must carry
/// [`error_parser`].
pub async fn sign_in_answer(
    http: &Http,
    resp: Response,
    secret: &SecretString,
) -> Result<VerifiedUser, Error> {
    let resp = http.check(resp, &[secret]).await?;
    let status = resp.status().as_u16();
    let answer: VerifyWire = read_json(resp).await?;
    let lacks = |field: &str| {
        missing_with(
            field,
            status,
            answer.message.as_deref(),
            &[secret.expose_secret()],
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
    let expires_at =
        auth_core::provider::parse_rfc3339(expiry).map_err(|e| e.with_status(status))?;
    Ok(VerifiedUser::new(
        user_id,
        UserToken::new(token),
        expires_at,
    ))
}
