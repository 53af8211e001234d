//! Helpers shared by the fuzz targets in `fuzz_targets/`: the forms a vendor may echo a
//! secret in, one current-thread runtime, and the harness the vendor targets share (a token
//! endpoint answer built from fuzzer bytes, run through the crate's own sign-in reading, and
//! the resulting error checked for the secret).

use std::future::Future;
use std::sync::OnceLock;

use auth_core::reqwest;
use auth_core::{
    Error, ManualClock,
    http::{ErrorParser, Http},
};
use memchr::memmem::Finder;
use secrecy::SecretString;

/// The password every vendor target's call "sent". Printable ASCII without `\` or `"` would
/// look the same in Debug and Display; the `"` makes Debug escape it, the space, `&`, `<`,
/// `>`, `/` and `=` give it distinct JSON (Go style), percent, form and HTML forms. None of
/// its characters occur in the `[REDACTED]` marker, so an occurrence is always a leak.
pub const SECRET: &str = r#"Pa55 w"rd&<1>/="#;

/// Where the vendor targets' bodies echo the secret: each `@S@` becomes the secret in the
/// form the input's first byte picks.
pub const PLACEHOLDER: &[u8] = b"@S@";

/// The forms a server may echo `secret` in, each with a name for the failure message: as is,
/// JSON-escaped (serde_json, with `\/`, Go style, every character as `\uXXXX` in lower and
/// upper hex), percent-encoded (upper and lower hex), form-encoded and as HTML decimal
/// entities.
pub fn encodings(secret: &str) -> Vec<(&'static str, String)> {
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json
        .strip_prefix('"')
        .and_then(|j| j.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned();
    // Go's encoding/json (and .NET's default encoder, in upper hex) escape these as well.
    let go = json
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    let every_char = |upper: bool| -> String {
        secret
            .encode_utf16()
            .map(|u| {
                if upper {
                    format!("\\u{u:04X}")
                } else {
                    format!("\\u{u:04x}")
                }
            })
            .collect()
    };
    let percent = |upper: bool| -> String {
        secret
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    char::from(b).to_string()
                } else if upper {
                    format!("%{b:02X}")
                } else {
                    format!("%{b:02x}")
                }
            })
            .collect()
    };
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let html: String = secret
        .chars()
        .map(|c| format!("&#{};", u32::from(c)))
        .collect();
    vec![
        ("raw", secret.to_owned()),
        ("json", json.clone()),
        ("json with \\/", json.replace('/', "\\/")),
        ("json go-style", go),
        ("json \\uxxxx", every_char(false)),
        ("json \\uXXXX", every_char(true)),
        ("percent upper", percent(true)),
        ("percent lower", percent(false)),
        ("form", form),
        ("html entities", html),
    ]
}

/// `forms`, plus each as Debug prints it inside a string (`"` and `\` escaped): what to look
/// for in a `{:?}` rendering.
pub fn with_debug_forms(forms: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut out = forms.to_vec();
    for (name, form) in forms {
        let debug = format!("{form:?}");
        let inner = &debug[1..debug.len() - 1];
        if inner != form {
            out.push((name, inner.to_owned()));
        }
    }
    out
}

/// The forms of [`SECRET`], built once with a searcher each: `plain` to look for in Display
/// and the vendor message, `debug` (with the Debug-escaped variants) in `{:?}` renderings.
struct SecretForms {
    forms: Vec<(&'static str, String)>,
    plain: Vec<(&'static str, Finder<'static>)>,
    debug: Vec<(&'static str, Finder<'static>)>,
}

fn secret_forms() -> &'static SecretForms {
    static FORMS: OnceLock<SecretForms> = OnceLock::new();
    FORMS.get_or_init(|| {
        let finders = |forms: &[(&'static str, String)]| {
            forms
                .iter()
                .map(|(name, f)| (*name, Finder::new(f.as_bytes()).into_owned()))
                .collect()
        };
        let forms = encodings(SECRET);
        SecretForms {
            plain: finders(&forms),
            debug: finders(&with_debug_forms(&forms)),
            forms,
        }
    })
}

/// Run `f` to completion on one current-thread runtime, created on first use (a runtime per
/// input would cost more than the parsing it drives).
pub fn block_on<F: Future>(f: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a current-thread runtime builds")
        })
        .block_on(f)
}

/// One vendor answer built from fuzzer bytes.
///
/// Byte 0: bit 0 picks a success (2xx) or an error status (300-599), the other bits the form
/// of the secret. Bytes 1-2: the status within its range. Byte 3: the transport's error-body
/// bound in units of 8 bytes (0: the default), small enough for the fuzzer to put an
/// encoded secret across the cut. The rest: the body, each [`PLACEHOLDER`] in it replaced
/// by the encoded secret.
#[derive(Debug)]
pub struct VendorCase {
    status: u16,
    max_error_body: usize,
    body: Vec<u8>,
    secret: SecretString,
}

impl VendorCase {
    /// The case `data` describes, or `None` when it is too short to describe one.
    pub fn new(data: &[u8]) -> Option<Self> {
        let [mode, lo, hi, bound, body @ ..] = data else {
            return None;
        };
        let n = u16::from_le_bytes([*lo, *hi]);
        let status = if mode & 1 == 0 {
            200 + n % 100
        } else {
            300 + n % 300
        };
        let max_error_body = match bound {
            0 => auth_core::http::DEFAULT_MAX_ERROR_BODY,
            b => usize::from(*b) * 8,
        };
        let forms = &secret_forms().forms;
        let (_, echoed) = &forms[usize::from(mode >> 1) % forms.len()];
        Some(VendorCase {
            status,
            max_error_body,
            body: replace_all(body, PLACEHOLDER, echoed.as_bytes()),
            secret: SecretString::from(SECRET),
        })
    }

    /// The transport the vendor's client would use (its error parser, a manual clock), with
    /// this case's error-body bound.
    pub fn http(&self, parser: impl ErrorParser + 'static) -> Http {
        static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
        let client = CLIENT
            .get_or_init(|| auth_core::http::default_client().expect("the default client builds"));
        Http::with_client(client.clone())
            .with_clock(ManualClock::new())
            .with_error_parser(parser)
            .with_max_error_body(self.max_error_body)
    }

    /// The answer, as reqwest hands it to the client.
    pub fn response(&self) -> reqwest::Response {
        let answer = http::Response::builder()
            .status(self.status)
            .header("content-type", "application/json")
            .body(self.body.clone())
            .expect("a status in 200-599 and a fixed header always build");
        reqwest::Response::from(answer)
    }

    /// The secret sent with the call.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    /// The property: whatever the answer, an error shows the secret in none of its forms, in
    /// its Display, Debug, alternate Debug or vendor message.
    pub fn check<T>(&self, result: Result<T, Error>) {
        let Err(e) = result else { return };
        let forms = secret_forms();
        let shown = [
            ("Display", e.to_string(), &forms.plain),
            (
                "vendor_message",
                e.vendor_message().unwrap_or_default().to_owned(),
                &forms.plain,
            ),
            ("Debug", format!("{e:?}"), &forms.debug),
            ("alternate Debug", format!("{e:#?}"), &forms.debug),
        ];
        for (what, text, finders) in shown {
            for (name, finder) in finders {
                assert!(
                    finder.find(text.as_bytes()).is_none(),
                    "{what} of the error shows the secret ({name}: {}) for status {}: {text}",
                    String::from_utf8_lossy(finder.needle()),
                    self.status
                );
            }
        }
    }
}

/// `haystack` with every non-overlapping `needle` replaced by `with`.
pub fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while !rest.is_empty() {
        if rest.starts_with(needle) {
            out.extend_from_slice(with);
            rest = &rest[needle.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_of_a_known_secret() {
        let forms = encodings("a b&/");
        let get = |n: &str| forms.iter().find(|(k, _)| *k == n).unwrap().1.clone();
        assert_eq!(get("raw"), "a b&/");
        assert_eq!(get("json with \\/"), "a b&\\/");
        assert_eq!(get("json go-style"), "a b\\u0026/");
        assert_eq!(get("json \\uxxxx"), "\\u0061\\u0020\\u0062\\u0026\\u002f");
        assert_eq!(get("percent upper"), "a%20b%26%2F");
        assert_eq!(get("percent lower"), "a%20b%26%2f");
        assert_eq!(get("form"), "a+b%26%2F");
        assert_eq!(get("html entities"), "&#97;&#32;&#98;&#38;&#47;");
    }

    #[test]
    fn placeholders_are_replaced() {
        assert_eq!(replace_all(b"x@S@y@S", b"@S@", b"pw"), b"xpwy@S");
    }
}
