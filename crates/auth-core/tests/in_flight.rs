//! A call holds only its token's generation while it is in flight, not the lease itself (a
//! held `arc_swap` guard takes one of its thread's few slots; past them every load of the
//! cached lease bumps its shared count). The tokens it was sent with must still be scrubbed
//! from the answer's error: the session keeps the leases it replaced. These tests renew the
//! token while the call waits for its answer, which a raw TCP server holds until told.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::sync::mpsc;

use async_trait::async_trait;
use auth_core::provider::TokenProvider;
use auth_core::{AccessToken, Error, ErrorKind, Expiry, Session, TokenSet, http::Http};
use reqwest::Method;

/// Signs in with one fixed token.
#[derive(Debug)]
struct Fixed(&'static str);

#[async_trait]
impl TokenProvider for Fixed {
    async fn sign_in(&self) -> Result<TokenSet, Error> {
        Ok(tokens(self.0))
    }
}

fn session(token: &'static str) -> Session {
    Session::new(Fixed(token), Http::new().unwrap())
}

/// One connection: reads a request head, sends it (with the token it carried) on `heads`,
/// waits for `go`, then answers `status` with `body`.
fn held_server(
    status: &'static str,
    body: String,
) -> (String, mpsc::Receiver<String>, mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (head_tx, heads) = mpsc::channel();
    let (go, go_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut out = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim_end().is_empty() {
                break;
            }
            head.push_str(&line);
        }
        head_tx.send(head).unwrap();
        go_rx.recv().unwrap();
        write!(
            out,
            "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    });
    (base, heads, go)
}

fn tokens(token: &str) -> TokenSet {
    TokenSet::new(AccessToken::new(token), Expiry::never())
}

/// A GET of `{base}/items` on `session`, spawned, once the server has its head (returned).
async fn in_flight(
    session: &Session,
    base: &str,
    heads: mpsc::Receiver<String>,
) -> (
    tokio::task::JoinHandle<Result<reqwest::Response, Error>>,
    String,
) {
    let request = session.request(Method::GET, format!("{base}/items"));
    let call = tokio::spawn(request.send());
    let head = tokio::task::spawn_blocking(move || heads.recv().unwrap())
        .await
        .unwrap();
    (call, head)
}

/// Send a GET on `session` to a server that echoes `echoed` in a 500's body, replace the
/// session's token `replacements` times while the call waits, and return the error.
async fn error_after_replacements(session: &Session, echoed: &str, replacements: usize) -> Error {
    let (base, heads, go) = held_server(
        "500 Internal Server Error",
        format!("upstream failed for key {echoed} (try again)"),
    );
    let (call, head) = in_flight(session, &base, heads).await;
    assert!(
        head.contains(&format!("authorization: Bearer {echoed}")),
        "{head}"
    );
    for n in 0..replacements {
        session.replace(tokens(&format!("renewed-{n}")));
    }
    go.send(()).unwrap();
    call.await.unwrap().unwrap_err()
}

#[tokio::test]
async fn an_error_echoing_the_token_sent_is_scrubbed_after_a_renewal_in_flight() {
    let session = session("first-token-0123");
    let err = error_after_replacements(&session, "first-token-0123", 1).await;
    let (display, debug) = (err.to_string(), format!("{err:?}"));
    assert_eq!(err.status(), Some(500), "{display}");
    for shown in [&display, &debug] {
        assert!(!shown.contains("first-token-0123"), "{shown}");
    }
    // The rest of the vendor's answer is kept.
    assert!(display.contains("upstream failed for key"), "{display}");
    assert!(display.contains("(try again)"), "{display}");
    // The session did move on: the current token is the replacement.
    let current = session.current().unwrap();
    assert_eq!(current.tokens().access_token().expose(), "renewed-0");
}

#[tokio::test]
async fn the_last_four_replaced_tokens_are_still_scrubbed() {
    let session = session("kept-token-4567");
    let err = error_after_replacements(&session, "kept-token-4567", 4).await;
    let display = err.to_string();
    assert!(!display.contains("kept-token-4567"), "{display}");
    assert!(display.contains("upstream failed for key"), "{display}");
}

#[tokio::test]
async fn past_four_renewals_in_flight_the_body_is_not_read() {
    // The session no longer has the token the call was sent with, so it cannot scrub it:
    // the error keeps the status and drops the body.
    let session = session("lost-token-89ab");
    let err = error_after_replacements(&session, "lost-token-89ab", 5).await;
    let (display, debug) = (err.to_string(), format!("{err:?}"));
    assert_eq!(err.status(), Some(500), "{display}");
    assert_eq!(err.kind(), ErrorKind::Transient, "{display}");
    for shown in [&display, &debug] {
        assert!(!shown.contains("lost-token-89ab"), "{shown}");
        assert!(!shown.contains("upstream failed"), "{shown}");
    }
}

#[tokio::test]
async fn a_call_in_flight_does_not_keep_its_lease_alive() {
    // Only the last four replaced leases are kept: the call holds none of its own.
    let session = session("weak-token-cdef");
    session.token().await.unwrap();
    let first = std::sync::Arc::downgrade(&session.current().unwrap());
    let (base, heads, go) = held_server("200 OK", "{}".into());
    let (call, _) = in_flight(&session, &base, heads).await;
    for n in 0..5 {
        session.replace(tokens(&format!("renewed-{n}")));
    }
    assert!(
        first.upgrade().is_none(),
        "the in-flight call kept its lease alive"
    );
    go.send(()).unwrap();
    assert!(call.await.unwrap().unwrap().status().is_success());
}

#[cfg(feature = "middleware")]
#[tokio::test]
async fn a_call_through_the_middleware_does_not_keep_its_lease_alive_either() {
    use auth_core::middleware::AuthMiddleware;
    use auth_core::reqwest_middleware::ClientBuilder;

    let session = session("layer-token-0246");
    session.token().await.unwrap();
    let first = std::sync::Arc::downgrade(&session.current().unwrap());
    let (base, heads, go) = held_server("200 OK", "{}".into());
    let client = ClientBuilder::new(auth_core::http::default_client().unwrap())
        .with(AuthMiddleware::new(session.clone()))
        .build();
    let call = tokio::spawn(async move { client.get(format!("{base}/items")).send().await });
    let head = tokio::task::spawn_blocking(move || heads.recv().unwrap())
        .await
        .unwrap();
    assert!(
        head.contains("authorization: Bearer layer-token-0246"),
        "{head}"
    );
    for n in 0..5 {
        session.replace(tokens(&format!("renewed-{n}")));
    }
    assert!(
        first.upgrade().is_none(),
        "the call in the middleware kept its lease alive"
    );
    go.send(()).unwrap();
    assert!(call.await.unwrap().unwrap().status().is_success());
}
