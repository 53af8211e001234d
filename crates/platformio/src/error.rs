//! The platform's error shape, `{"errors":[{id, title, code, detail?, source?, status?}]}`,
//! parsed into the workspace error and attached to it as [`ApiErrors`].

use std::fmt;

use auth_core::{Error, ErrorKind, http::ErrorParser};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

/// The parsed error body of a failed call, attached to the [`Error`] it caused.
///
/// Read it back with [`ErrorExt::api_errors`].
///
/// ```
/// use platformio::ApiErrors;
/// let body = r#"{"errors":[{"id":"1","title":"Login failed.","code":"errors.login.failed","status":"401"}]}"#;
/// let parsed = ApiErrors::parse(body).ok_or("not the platform's error shape")?;
/// assert_eq!(parsed.errors()[0].status, Some(401));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ApiErrors {
    /// The reported errors, in the vendor's order.
    #[serde(default, deserialize_with = "auth_core::lenient::null_as_default")]
    pub errors: Vec<ApiError>,
}

/// One entry of the platform's `errors` array.
///
/// ```
/// use platformio::ApiErrors;
/// let parsed = ApiErrors::parse(r#"{"errors":[{"id":"1","title":"t","code":"errors.forbidden"}]}"#)
///     .ok_or("unparsed")?;
/// assert_eq!(parsed.errors()[0].code, "errors.forbidden");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ApiError {
    /// A unique identifier of the reported error.
    #[serde(default, deserialize_with = "auth_core::lenient::null_as_default")]
    pub id: String,
    /// A human-readable description.
    #[serde(default, deserialize_with = "auth_core::lenient::null_as_default")]
    pub title: String,
    /// The machine-readable code, such as `errors.conflict.id`.
    #[serde(default, deserialize_with = "auth_core::lenient::null_as_default")]
    pub code: String,
    /// More detail, such as the field that was invalid.
    #[serde(default)]
    pub detail: Option<String>,
    /// Where the error occurred (a field path).
    #[serde(default)]
    pub source: Option<String>,
    /// The HTTP status as the body states it; the platform sends it as a number or a string.
    #[serde(default, deserialize_with = "auth_core::lenient::number")]
    pub status: Option<u16>,
}

/// What a platform error is about, from its code and status.
///
/// ```
/// use platformio::{ApiErrors, ErrorCase};
/// let parsed = ApiErrors::parse(r#"{"errors":[{"id":"1","title":"t","code":"errors.conflict.id"}]}"#)
///     .ok_or("unparsed")?;
/// assert_eq!(parsed.case(), ErrorCase::UserIdTaken);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCase {
    /// Sign-up with a user id that already exists (409, `errors.conflict.id`).
    UserIdTaken,
    /// Wrong service-user or client credentials (`errors.login.failed`).
    LoginFailed,
    /// The API token is missing, invalid or expired (`errors.auth.invalid`).
    InvalidToken,
    /// The caller may not do this (`errors.forbidden`).
    Forbidden,
    /// The entity does not exist (`errors.not-found`).
    NotFound,
    /// A field has the wrong type (`errors.validation.field.type`).
    InvalidFieldType,
    /// A field has an invalid value (`errors.validation.field.value`).
    InvalidFieldValue,
    /// Any other code.
    Other,
}

impl ApiErrors {
    /// Parse an error body; `None` when it is not the platform's error shape.
    ///
    /// ```
    /// assert!(platformio::ApiErrors::parse("Bad Gateway").is_none());
    /// ```
    pub fn parse(body: &str) -> Option<ApiErrors> {
        let parsed: ApiErrors = serde_json::from_str(body).ok()?;
        (!parsed.errors.is_empty()).then_some(parsed)
    }

    /// The reported errors, in the platform's order.
    pub fn errors(&self) -> &[ApiError] {
        &self.errors
    }

    /// The case of the first error whose code is known (else [`ErrorCase::Other`]): a body
    /// may list a generic error before the one you can act on.
    pub fn case(&self) -> ErrorCase {
        self.errors
            .iter()
            .map(ApiError::case)
            .find(|c| *c != ErrorCase::Other)
            .unwrap_or(ErrorCase::Other)
    }

    fn message(&self) -> String {
        self.errors
            .iter()
            .map(|e| {
                let title = e.title.trim().trim_end_matches('.');
                match e.detail.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                    Some(d) if !title.is_empty() => format!("{title}: {d}"),
                    Some(d) => d.to_owned(),
                    None if !title.is_empty() => title.to_owned(),
                    None => e.code.clone(),
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl ApiError {
    /// The case this error's code names.
    ///
    /// ```
    /// let parsed = platformio::ApiErrors::parse(r#"{"errors":[{"id":"1","title":"t","code":"errors.not-found"}]}"#)
    ///     .ok_or("unparsed")?;
    /// assert_eq!(parsed.errors()[0].case(), platformio::ErrorCase::NotFound);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn case(&self) -> ErrorCase {
        match self.code.trim() {
            "errors.conflict.id" => ErrorCase::UserIdTaken,
            "errors.login.failed" => ErrorCase::LoginFailed,
            "errors.auth.invalid" => ErrorCase::InvalidToken,
            "errors.forbidden" => ErrorCase::Forbidden,
            "errors.not-found" => ErrorCase::NotFound,
            "errors.validation.field.type" => ErrorCase::InvalidFieldType,
            "errors.validation.field.value" => ErrorCase::InvalidFieldValue,
            _ => ErrorCase::Other,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.title, self.code)
    }
}

/// Platform-specific questions about an [`Error`]: the one route to the platform's error
/// detail. Implemented for [`Error`]; import it to ask.
///
/// ```
/// # #[cfg(not(feature = "sandbox"))] fn main() {}
/// # #[cfg(feature = "sandbox")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> platformio::Result<()> {
/// use platformio::{ClientName, ErrorCase, ErrorExt, NewClient, Uuid, sandbox::Sandbox};
/// let sandbox = Sandbox::start().await;
/// let client = sandbox.client_builder().build()?;
/// let new = NewClient::new(Uuid::new_v4(), "a@example.com", ClientName::new("A", "B"), "pw-1");
/// client.sign_up(&new).await?;
/// let taken = client.sign_up(&new).await.unwrap_err();
/// assert!(taken.is_user_id_taken() && taken.is_rejected());
/// assert_eq!(taken.error_case(), Some(ErrorCase::UserIdTaken));
/// assert_eq!(taken.api_errors().map(|a| a.errors()[0].code.as_str()), Some("errors.conflict.id"));
/// # Ok(()) }
/// ```
pub trait ErrorExt {
    /// The parsed `{"errors":[...]}` body, when the vendor sent one.
    fn api_errors(&self) -> Option<&ApiErrors>;

    /// What the error is about, when the vendor sent its error shape.
    fn error_case(&self) -> Option<ErrorCase> {
        self.api_errors().map(ApiErrors::case)
    }

    /// A sign-up was refused because its user id already exists: the body's code is
    /// `errors.conflict.id`, or the answer is a 409 without the platform's error body.
    fn is_user_id_taken(&self) -> bool;
}

impl ErrorExt for Error {
    fn api_errors(&self) -> Option<&ApiErrors> {
        self.detail::<ApiErrors>()
    }

    fn is_user_id_taken(&self) -> bool {
        match self.api_errors() {
            Some(parsed) => parsed
                .errors
                .iter()
                .any(|e| e.case() == ErrorCase::UserIdTaken),
            None => self.status() == Some(409),
        }
    }
}

/// Reads the platform's error body into the workspace error.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PlatformErrors;

impl ErrorParser for PlatformErrors {
    fn parse(&self, status: u16, _headers: &HeaderMap, body: &str, base: Error) -> Error {
        let Some(parsed) = ApiErrors::parse(body) else {
            return base;
        };
        let mut err = base.with_vendor_message(parsed.message());
        // A proxy may rewrite the status; the code in the body is the vendor's own word.
        if parsed.case() == ErrorCase::InvalidToken && status != 401 {
            err = err.with_kind(ErrorKind::Unauthorized);
        }
        err.with_detail(parsed)
    }
}

/// A success answer (2xx) whose body is nevertheless the platform's error shape: the error
/// it reports, or `None` when the body is anything else. The kind follows the status the body
/// states (a 4xx or 5xx), else [`ErrorKind::BadResponse`]; the error keeps the real status.
pub(crate) fn error_in_success(status: u16, headers: &HeaderMap, body: &str) -> Option<Error> {
    let parsed = ApiErrors::parse(body)?;
    let kind = parsed
        .errors
        .iter()
        .find_map(|e| e.status.filter(|s| *s >= 400))
        .map(auth_core::ErrorKind::from_status)
        .unwrap_or(ErrorKind::BadResponse);
    let base =
        Error::new(kind, "vendor answered a success status with an error body").with_status(status);
    Some(PlatformErrors.parse(status, headers, body, base))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(status: u16, body: &str) -> Error {
        // Exactly the base the pipeline builds (auth_core::http::Http::error_from).
        auth_core::http::parse_error(
            &PlatformErrors,
            status,
            &HeaderMap::new(),
            body,
            std::time::SystemTime::now(),
        )
    }

    #[test]
    fn status_as_number_or_string() {
        for raw in [r#"401"#, r#""401""#, r#"" 401 ""#] {
            let body = format!(
                r#"{{"errors":[{{"id":"i","title":"Login failed.","code":"errors.login.failed","status":{raw}}}]}}"#
            );
            let e = parse(401, &body);
            assert_eq!(
                e.api_errors().map(|a| a.errors[0].status),
                Some(Some(401)),
                "{raw}"
            );
        }
        let body = r#"{"errors":[{"id":"i","title":"x","code":"c","status":"four hundred"}]}"#;
        assert_eq!(
            parse(400, body).api_errors().map(|a| a.errors[0].status),
            Some(None)
        );
    }

    #[test]
    fn message_joins_title_and_detail() {
        let e = parse(
            409,
            r#"{"errors":[{"id":"i","title":"User ID already exists","code":"errors.conflict.id","detail":"The provided user ID is already in use."}]}"#,
        );
        assert!(e.is_rejected() && e.is_user_id_taken());
        assert_eq!(
            e.vendor_message(),
            Some("User ID already exists: The provided user ID is already in use.")
        );
    }

    #[test]
    fn unknown_and_null_fields_are_tolerated() {
        let e = parse(
            400,
            r#"{"errors":[{"id":null,"title":"Bad","code":"errors.validation.field.value","detail":null,"extra":[1]}],"meta":{}}"#,
        );
        assert_eq!(e.error_case(), Some(ErrorCase::InvalidFieldValue));
        assert_eq!(e.vendor_message(), Some("Bad"));
    }

    #[test]
    fn other_bodies_keep_the_base_error() {
        for body in ["", "oops", "{}", r#"{"errors":[]}"#, r#"{"errors":"x"}"#] {
            let e = parse(502, body);
            assert!(e.is_transient());
            assert!(e.api_errors().is_none(), "{body}");
        }
    }

    #[test]
    fn an_error_body_on_a_success_status_is_an_error() {
        let h = HeaderMap::new();
        let e = error_in_success(
            200,
            &h,
            r#"{"errors":[{"id":"i","title":"Login failed.","code":"errors.login.failed","status":"401"}]}"#,
        )
        .unwrap();
        assert!(e.is_unauthorized());
        assert_eq!(e.status(), Some(200));
        assert_eq!(e.error_case(), Some(ErrorCase::LoginFailed));
        assert_eq!(
            e.to_string(),
            "vendor answered a success status with an error body (HTTP 200): Login failed"
        );
        let e = error_in_success(
            204,
            &h,
            r#"{"errors":[{"id":"i","title":"Odd","code":"errors.other"}]}"#,
        )
        .unwrap();
        assert!(e.is_bad_response());
        for body in [
            "",
            "OK",
            "{}",
            r#"{"errors":[]}"#,
            r#"{"client_token":"x"}"#,
        ] {
            assert!(error_in_success(200, &h, body).is_none(), "{body}");
        }
    }

    #[test]
    fn user_id_taken_trusts_the_code_over_the_status() {
        let conflict =
            |code: &str| format!(r#"{{"errors":[{{"id":"i","title":"t","code":"{code}"}}]}}"#);
        assert!(parse(409, &conflict("errors.conflict.id")).is_user_id_taken());
        assert!(!parse(409, &conflict("errors.conflict.email")).is_user_id_taken());
        assert!(parse(409, "Conflict").is_user_id_taken());
        assert!(!parse(400, "Conflict").is_user_id_taken());
    }

    #[test]
    fn auth_invalid_code_is_unauthorized_whatever_the_status() {
        let e = parse(
            400,
            r#"{"errors":[{"id":"i","title":"Invalid authentication token","code":"errors.auth.invalid"}]}"#,
        );
        assert!(e.is_unauthorized());
    }
}
