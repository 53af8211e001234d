//! The 401 retry replays exactly the request that was rejected: the server sees the same
//! method, URL, headers and body twice, only the token renewed. Checked on the wire (a raw
//! TCP server recording what arrives), for a request without a body (kept as its parts) and
//! for one with a body (cloned whole).

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use auth_core::provider::TokenProvider;
use auth_core::{AccessToken, Error, Expiry, Session, TokenSet, http::Http};
use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};

/// A request as the server read it off the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    /// `GET /path?query HTTP/1.1`.
    line: String,
    /// Every header, lowercased name and value, in the order sent.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn without(&self, name: &str) -> Seen {
        let mut out = self.clone();
        out.headers.retain(|(n, _)| n != name);
        out
    }
}

/// Answers the first request 401 and every later one 200 `{}` (after `delay`), recording
/// them all.
fn server(delay: Duration) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let log = log.clone();
            std::thread::spawn(move || serve(stream, &log, delay));
        }
    });
    (base, seen)
}

fn serve(stream: TcpStream, log: &Mutex<Vec<Seen>>, delay: Duration) {
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (name, value) = h.split_once(':').unwrap();
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let len = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let first = {
            let mut log = log.lock().unwrap();
            log.push(Seen {
                line: line.trim_end().to_owned(),
                headers,
                body,
            });
            log.len() == 1
        };
        let answer: &[u8] = if first {
            b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n"
        } else {
            std::thread::sleep(delay);
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
        };
        out.write_all(answer).unwrap();
    }
}

/// Tokens `t1`, `t2`, ...: one per sign-in.
#[derive(Debug, Default)]
struct Counting(AtomicU64);

#[async_trait]
impl TokenProvider for Counting {
    async fn sign_in(&self) -> Result<TokenSet, Error> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(TokenSet::new(
            AccessToken::new(format!("t{n}")),
            Expiry::never(),
        ))
    }
}

/// One fixed token that cannot be renewed (an API key).
#[derive(Debug)]
struct Fixed;

#[async_trait]
impl TokenProvider for Fixed {
    async fn sign_in(&self) -> Result<TokenSet, Error> {
        Ok(TokenSet::new(AccessToken::new("fixed"), Expiry::never()))
    }

    fn capabilities(&self) -> auth_core::provider::Capabilities {
        auth_core::provider::Capabilities::none()
    }
}

/// Send `request` (made on the session) and return what the server saw, twice.
async fn rejected_once(
    request: impl FnOnce(&Session, &str) -> auth_core::AuthorizedRequest,
) -> (Seen, Seen) {
    let (base, seen) = server(Duration::ZERO);
    let session = Session::new(Counting::default(), Http::new().unwrap());
    request(&session, &base).send().await.unwrap();
    let stats = session.stats();
    assert_eq!((stats.unauthorized, stats.recovered_401), (1, 1));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    (seen[0].clone(), seen[1].clone())
}

fn same_but_the_token(first: &Seen, retry: &Seen) {
    assert_eq!(first.header("authorization"), Some("Bearer t1"));
    assert_eq!(retry.header("authorization"), Some("Bearer t2"));
    assert_eq!(
        first.without("authorization"),
        retry.without("authorization")
    );
}

#[tokio::test]
async fn a_request_without_a_body_is_replayed_exactly() {
    let (first, retry) = rejected_once(|session, base| {
        session
            .request(Method::GET, format!("{base}/items/7"))
            .query(&[("fields", "id,name"), ("q", "a b&c")])
            .header(
                HeaderName::from_static("x-trace"),
                HeaderValue::from_static("abc-123"),
            )
            .header(
                reqwest::header::ACCEPT,
                HeaderValue::from_static("application/json"),
            )
            .map_builder(|b| b.timeout(Duration::from_secs(7)))
    })
    .await;
    same_but_the_token(&first, &retry);
    assert_eq!(
        first.line,
        "GET /items/7?fields=id%2Cname&q=a+b%26c HTTP/1.1"
    );
    assert_eq!(first.header("x-trace"), Some("abc-123"));
    assert!(first.body.is_empty());
}

#[tokio::test]
async fn a_request_with_a_body_is_replayed_exactly() {
    let (first, retry) = rejected_once(|session, base| {
        session
            .request(Method::PUT, format!("{base}/items/7?dry_run=true"))
            .json(&serde_json::json!({"name": "seven", "tags": ["a", "b"]}))
            .header(
                HeaderName::from_static("idempotency-key"),
                HeaderValue::from_static("k-1"),
            )
    })
    .await;
    same_but_the_token(&first, &retry);
    assert_eq!(first.line, "PUT /items/7?dry_run=true HTTP/1.1");
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.body, br#"{"name":"seven","tags":["a","b"]}"#);
}

#[tokio::test]
async fn the_retry_keeps_the_request_timeout() {
    let (base, seen) = server(Duration::from_secs(3));
    let session = Session::new(Counting::default(), Http::new().unwrap());
    let started = std::time::Instant::now();
    let err = session
        .request(Method::GET, format!("{base}/slow"))
        .map_builder(|b| b.timeout(Duration::from_millis(300)))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_request_sent_built_is_built_again_for_the_retry_exactly() {
    // `send_built` keeps no copy for the retry: it calls what built the request again.
    let (base, seen) = server(Duration::ZERO);
    let session = Session::new(Counting::default(), Http::new().unwrap());
    let builds = AtomicU64::new(0);
    let resp = session
        .send_built(|| {
            builds.fetch_add(1, Ordering::SeqCst);
            Ok(session
                .http()
                .request(Method::GET, format!("{base}/items/7"))
                .query(&[("fields", "id,name"), ("q", "a b&c")])
                .header(
                    HeaderName::from_static("x-trace"),
                    HeaderValue::from_static("abc-123"),
                )
                .timeout(Duration::from_secs(7)))
        })
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(
        builds.load(Ordering::SeqCst),
        2,
        "built once, then once for the retry"
    );
    let stats = session.stats();
    assert_eq!((stats.unauthorized, stats.recovered_401), (1, 1));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    same_but_the_token(&seen[0], &seen[1]);
    assert_eq!(
        seen[0].line,
        "GET /items/7?fields=id%2Cname&q=a+b%26c HTTP/1.1"
    );
    assert_eq!(seen[0].header("x-trace"), Some("abc-123"));
}

#[tokio::test]
async fn a_request_sent_built_on_a_token_that_cannot_be_renewed_is_built_once() {
    // No retry is possible, so the 401 is the answer and nothing is built for a retry.
    let (base, seen) = server(Duration::ZERO);
    let session = Session::new(Fixed, Http::new().unwrap());
    session.replace(TokenSet::new(AccessToken::new("fixed"), Expiry::never()));
    let builds = AtomicU64::new(0);
    let err = session
        .send_built(|| {
            builds.fetch_add(1, Ordering::SeqCst);
            Ok(session
                .http()
                .request(Method::GET, format!("{base}/items/7")))
        })
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert_eq!(builds.load(Ordering::SeqCst), 1);
    assert_eq!(seen.lock().unwrap().len(), 1);
}
