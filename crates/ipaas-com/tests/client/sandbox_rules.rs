//! The wire rules the sandbox enforces, checked with raw requests (no client), and that the
//! client never trips them.

use std::time::Duration;

use ipaas_com::sandbox::{API_KEY, EMAIL, PASSWORD, Sandbox, routes};
use reqwest::Method;
use serde_json::Value;

use super::{HOUR, setup};

/// A raw request to the sandbox (no client): its status, content type and body text.
async fn raw(
    sandbox: &Sandbox,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, String, String) {
    let mut req = auth_core::http::default_client()
        .unwrap()
        .request(method, format!("{}{path}", sandbox.base_url()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.body(b.to_owned());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_enforces_the_wire_rules() {
    let (clock, sandbox, client) = setup().await;
    const JSON: (&str, &str) = ("content-type", "application/json");
    let login_body = format!(r#"{{"email_address":"{EMAIL}","password":"{PASSWORD}"}}"#);

    // Login: POST only, JSON only, both fields required, right credentials.
    let r = raw(&sandbox, Method::GET, "/sso/v2/Auth/Login", &[], None).await;
    assert_eq!((r.0, r.1.as_str()), (405, "text/plain"));
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Login",
        &[("content-type", "text/plain")],
        Some(&login_body),
    )
    .await;
    assert_eq!(r.0, 415, "{r:?}");
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Login",
        &[JSON],
        Some(&format!(r#"{{"email_address":"{EMAIL}"}}"#)),
    )
    .await;
    assert_eq!(r.0, 400, "{r:?}");
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Login",
        &[JSON],
        Some("{"),
    )
    .await;
    assert_eq!(r.0, 400, "{r:?}");
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Login",
        &[JSON],
        Some(&format!(
            r#"{{"email_address":"{EMAIL}","password":"nope"}}"#
        )),
    )
    .await;
    assert_eq!(
        r,
        (
            401,
            "text/plain".into(),
            "Invalid email address or password.".into()
        )
    );
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Login",
        &[JSON],
        Some(&login_body),
    )
    .await;
    assert_eq!((r.0, r.1.as_str()), (200, "application/json"), "{r:?}");
    let answer: Value = serde_json::from_str(&r.2).unwrap();
    for key in [
        "id",
        "name",
        "email_address",
        "access_token",
        "access_token_expiration",
        "refresh_token",
        "permissions",
    ] {
        assert!(
            answer.get(key).is_some(),
            "login answer lacks {key}: {answer}"
        );
    }
    let access = answer["access_token"].as_str().unwrap().to_owned();
    let refresh = answer["refresh_token"].as_str().unwrap().to_owned();

    // Refresh: only the refresh token, never an Authorization header.
    let only_refresh = format!(r#"{{"refresh_token":"{refresh}"}}"#);
    let bearer = format!("Bearer {access}");
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Refresh",
        &[JSON, ("authorization", &bearer)],
        Some(&only_refresh),
    )
    .await;
    assert_eq!(r.0, 400, "{r:?}");
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Refresh",
        &[JSON],
        Some(&format!(
            r#"{{"refresh_token":"{refresh}","access_token":"{access}"}}"#
        )),
    )
    .await;
    assert_eq!(r.0, 400, "{r:?}");
    let r = raw(
        &sandbox,
        Method::POST,
        "/sso/v2/Auth/Refresh",
        &[JSON],
        Some(r#"{"refresh_token":"AQA-unknown"}"#),
    )
    .await;
    assert_eq!(r.0, 401, "{r:?}");
    let r = raw(
        &sandbox,
        Method::PUT,
        "/sso/v2/Auth/Refresh",
        &[JSON],
        Some(&only_refresh),
    )
    .await;
    assert_eq!(r.0, 405, "{r:?}");

    // Authorized routes: a token the sandbox issued, unexpired, in the Authorization header.
    let events = "/subscriptions/v2/Events?pageNumber=1&pageSize=10";
    assert_eq!(raw(&sandbox, Method::GET, events, &[], None).await.0, 401);
    let r = raw(
        &sandbox,
        Method::GET,
        events,
        &[("authorization", "Bearer forged")],
        None,
    )
    .await;
    assert_eq!(r.0, 401);
    let r = raw(
        &sandbox,
        Method::GET,
        events,
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(r.0, 200, "{r:?}");
    let r = raw(
        &sandbox,
        Method::GET,
        events,
        &[("authorization", &access)],
        None,
    )
    .await;
    assert_eq!(r.0, 200, "the raw token is accepted too: {r:?}");
    let r = raw(
        &sandbox,
        Method::POST,
        events,
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(r.0, 405);
    let bad_size = "/subscriptions/v2/Events?pageNumber=1&pageSize=0";
    let r = raw(
        &sandbox,
        Method::GET,
        bad_size,
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(r.0, 400, "{r:?}");
    let r = raw(
        &sandbox,
        Method::GET,
        "/sso/v2/Nope",
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(r.0, 404);
    let key = format!("Bearer {API_KEY}");
    let r = raw(
        &sandbox,
        Method::GET,
        events,
        &[("authorization", &key)],
        None,
    )
    .await;
    assert_eq!(r.0, 200, "the api key is accepted: {r:?}");

    // The token's expiry is judged by the injected clock, to the second it advertised.
    clock.advance(HOUR - Duration::from_secs(1));
    let r = raw(
        &sandbox,
        Method::GET,
        events,
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(r.0, 200, "{r:?}");
    clock.advance(Duration::from_secs(1));
    let r = raw(
        &sandbox,
        Method::GET,
        events,
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!((r.0, r.2.as_str()), (401, "Unauthorized: token expired"));

    // The client never trips any of these rules: its own calls all succeed.
    // Login hits: 415, two 400s, 401, 200 (the 405 never reached the route).
    assert_eq!(sandbox.hits(routes::LOGIN), 5);
    client.companies().await.unwrap();
    assert_eq!(sandbox.hits(routes::LOGIN), 6);
}
