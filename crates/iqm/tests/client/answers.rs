//! The client against httpmock, for the answers the sandbox never gives: every error
//! example of IQM's OpenAPI and of the notes, garbled login, workspace and refresh answers,
//! a garbled `Retry-After`, and servers that echo secrets in their error bodies.

use std::time::Duration;

use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use iqm::sandbox::{ManualClock, Sandbox};
use iqm::{Client, ClientBuilder, Credentials, ErrorExt as _, ErrorKind, IqmError, LoginFlow};
use serde_json::{Value, json};

use super::assert_redacted;

/// A builder for a client with the sandbox's credentials, pointed at `server`.
fn on(server: &MockServer) -> ClientBuilder {
    Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Sandbox::credentials())
}

/// Every error example of the extracted OpenAPI, served by the call it documents.
#[tokio::test]
async fn every_openapi_error_example_parses_without_loss() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/iqm-auth-openapi.json"
    );
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut checked = 0;
    for (route, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let status: u16 = status.parse().unwrap();
                if status < 400 {
                    continue;
                }
                let content = &response["content"]["application/json"];
                for example in [&content["example"], &content["schema"]["example"]] {
                    if example.is_null() {
                        continue;
                    }
                    check_example(route, method, status, example).await;
                    checked += 1;
                }
            }
        }
    }
    // sign-up 403, login 400 (on hold) and 403, each as media and schema example.
    assert_eq!(checked, 6);
}

/// The spec's nested examples too: each `errorObjects` item example (with the `data`
/// example beside it where the schema has one) served in the documented envelope.
#[tokio::test]
async fn every_nested_openapi_error_example_parses_without_loss() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/iqm-auth-openapi.json"
    );
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut checked = Vec::new();
    for (route, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let status: u16 = status.parse().unwrap();
                let props = &response["content"]["application/json"]["schema"]["properties"];
                let item = &props["errorObjects"]["items"]["example"];
                if status < 400 || item.is_null() {
                    continue;
                }
                let mut body = json!({"success": false, "errorObjects": [item]});
                let data = &props["data"]["example"];
                if !data.is_null() {
                    body["data"] = data.clone();
                }
                check_example(route, method, status, &body).await;
                checked.push(format!("{route} {status} data={}", !data.is_null()));
            }
        }
    }
    assert_eq!(
        checked,
        [
            "/api/v3/ua/login 400 data=true",
            "/api/v3/ua/login 403 data=false",
            "/api/v3/ua/sign-up 403 data=false",
        ]
    );
}

async fn check_example(route: &str, method: &str, status: u16, example: &Value) {
    let server = MockServer::start_async().await;
    let body = example.to_string();
    server
        .mock_async(|when, then| {
            when.method(method.to_uppercase().as_str()).path(route);
            then.status(status)
                .header("content-type", "application/json")
                .body(body.clone());
        })
        .await;
    let mut builder = on(&server);
    if route == "/api/v3/ua/login" {
        builder = builder.with_login_flow(LoginFlow::json("app.example.com"));
    }
    let client = builder.build().unwrap();
    let e = match route {
        "/api/v3/ua/sign-up" => client.sign_up("a@example.com", "pw").await.unwrap_err(),
        "/api/v3/ua/login" => client.login().await.unwrap_err(),
        other => panic!("no call for {other}"),
    };
    let what = format!("{method} {route} {status}");
    assert_eq!(e.status(), Some(status), "{what}");
    let detail = e.iqm_error().unwrap_or_else(|| panic!("{what}: no detail"));
    // Without loss: the detail serializes back to the example exactly.
    assert_eq!(&serde_json::to_value(detail).unwrap(), example, "{what}");
    let objects = example["errorObjects"].as_array().unwrap();
    assert_eq!(detail.error_objects.len(), objects.len(), "{what}");
    let first = objects[0]["error"].as_str().unwrap();
    assert!(
        e.vendor_message().unwrap().starts_with(first),
        "{what}: {e}"
    );
    let expected = match (route, status) {
        // A held account is a rejection (and recognisable); a refused login is unauthorized.
        (_, 400) => {
            assert!(e.account_hold().is_some(), "{what}");
            ErrorKind::Rejected
        }
        ("/api/v3/ua/login", 403) => ErrorKind::Unauthorized,
        _ => ErrorKind::Rejected,
    };
    assert_eq!(e.kind(), expected, "{what}");
}

/// The notes' general shape, with `field` and `data`, on an authorized call at every
/// documented status.
#[tokio::test]
async fn notes_error_shape_at_every_documented_status() {
    for (status, kind) in [
        (400, ErrorKind::Rejected),
        (403, ErrorKind::Rejected),
        (408, ErrorKind::Transient),
        (412, ErrorKind::Rejected),
        (422, ErrorKind::Rejected),
        (429, ErrorKind::RateLimited),
        (500, ErrorKind::Transient),
    ] {
        let example = json!({
            "success": false,
            "data": {"requestId": "r-1"},
            "errorObjects": [
                {"error": "Invalid value", "reason": "must be positive", "field": "budget"},
                {"error": "Second problem"}
            ]
        });
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.method(POST).path("/api/v3/ua/oauth/token");
                then.status(200).header("content-type", "application/json").body(
                    json!({"success": true, "data": {"access_token": "at-1", "refresh_token": "rt-1",
                        "expires_in": 3600, "owId": 5}})
                    .to_string(),
                );
            })
            .await;
        let body = example.to_string();
        server
            .mock_async(|when, then| {
                when.method(GET)
                    .path("/api/v3/things")
                    .header("x-iaa-ow-id", "5");
                then.status(status)
                    .header("content-type", "application/json")
                    .body(body.clone());
            })
            .await;
        let client = on(&server).build().unwrap();
        let e = client
            .get_data::<Value>("/api/v3/things")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "status {status}");
        assert_eq!(e.status(), Some(status));
        assert_eq!(
            e.vendor_message(),
            Some("budget: Invalid value (must be positive); Second problem")
        );
        let d = e.iqm_error().unwrap();
        assert_eq!(serde_json::to_value(d).unwrap(), example);
        assert!(e.account_hold().is_none());
    }
}

#[tokio::test]
async fn login_without_ow_id_asks_for_it() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/ua/oauth/token");
            then.status(200)
                .header("content-type", "application/json")
                .body(
                    json!({"access_token": "at-9", "refresh_token": "rt-9", "expires_in": 3600})
                        .to_string(),
                );
        })
        .await;
    let ow = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/ua/user/ow-id")
                .header("authorization", "Bearer at-9");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"success":true,"data":31337}"#);
        })
        .await;
    let client = on(&server).build().unwrap();
    assert_eq!(client.login().await.unwrap(), "31337");
    ow.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_login_400_is_refused_only_when_it_says_so() {
    for (body, kind) in [
        (
            json!({"error": "invalid_grant", "error_description": "Bad credentials"}),
            ErrorKind::Unauthorized,
        ),
        (
            json!({"success": false, "errorObjects": [{"error": "username is required", "field": "username"}]}),
            ErrorKind::Rejected,
        ),
    ] {
        let server = MockServer::start_async().await;
        let text = body.to_string();
        server
            .mock_async(|when, then| {
                when.method(POST).path("/api/v3/ua/oauth/token");
                then.status(400)
                    .header("content-type", "application/json")
                    .body(text.clone());
            })
            .await;
        let client = on(&server).build().unwrap();
        let e = client.login().await.unwrap_err();
        assert_eq!(e.kind(), kind, "{body}");
        assert_eq!(e.status(), Some(400));
        assert_eq!(serde_json::to_value(e.iqm_error().unwrap()).unwrap(), body);
    }
}

/// A client on a mock server whose login answers `status` / `content_type` / `body`.
async fn login_answer(status: u16, content_type: &str, body: &str) -> iqm::Error {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/ua/oauth/token");
            then.status(status)
                .header("content-type", content_type)
                .body(body);
        })
        .await;
    let client = on(&server).build().unwrap();
    let e = client.login().await.unwrap_err();
    assert_eq!(client.workspace_id(), None);
    assert_redacted(&format!("{e} {e:?}"), &[]);
    e
}

#[tokio::test]
async fn garbled_login_answers_are_typed_errors() {
    let json_ct = "application/json";
    for (status, ct, body, kind) in [
        (200, json_ct, "", ErrorKind::BadResponse),
        (200, json_ct, "{not json", ErrorKind::BadResponse),
        (
            200,
            "text/html",
            "<html>maintenance</html>",
            ErrorKind::BadResponse,
        ),
        (200, json_ct, "[]", ErrorKind::BadResponse),
        (200, json_ct, "null", ErrorKind::BadResponse),
        (
            200,
            json_ct,
            r#"{"success":true,"data":null}"#,
            ErrorKind::BadResponse,
        ),
        (
            200,
            json_ct,
            r#"{"success":true,"data":{"access_token":null,"owId":5}}"#,
            ErrorKind::BadResponse,
        ),
        (
            200,
            json_ct,
            r#"{"access_token":"a","expires_in":"soon","owId":5}"#,
            ErrorKind::BadResponse,
        ),
        (
            200,
            json_ct,
            r#"{"access_token":"a","expires_in":60,"owId":"1\r\n2"}"#,
            ErrorKind::BadResponse,
        ),
        // A 200 that carries IQM's error body is an error, with the body kept.
        (
            200,
            json_ct,
            r#"{"success":false,"errorObjects":[{"error":"nope"}]}"#,
            ErrorKind::Rejected,
        ),
        (500, "text/html", "<html>oops</html>", ErrorKind::Transient),
        (502, json_ct, "", ErrorKind::Transient),
        (
            408,
            json_ct,
            r#"{"success":false,"errorObjects":null}"#,
            ErrorKind::Transient,
        ),
    ] {
        let e = login_answer(status, ct, body).await;
        assert_eq!(e.kind(), kind, "{status} {ct} {body:?}: {e:?}");
    }
    let e = login_answer(
        200,
        json_ct,
        r#"{"success":false,"errorObjects":[{"error":"nope"}]}"#,
    )
    .await;
    assert_eq!(e.vendor_message(), Some("nope"));
    assert_eq!(e.iqm_error().unwrap().error_objects.len(), 1);
}

#[tokio::test]
async fn garbled_workspace_answers_are_typed_errors() {
    for body in [
        "",
        "{",
        r#"{"success":true}"#,
        r#"{"success":true,"data":null}"#,
        r#"{"success":true,"data":"1\n2"}"#,
        r#"{"success":false,"errorObjects":[{"error":"no workspace"}]}"#,
    ] {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.method(POST).path("/api/v3/ua/oauth/token");
                then.status(200)
                    .header("content-type", "application/json")
                    .body(
                        json!({"access_token": "at-1", "expires_in": 3600, "owId": 5}).to_string(),
                    );
            })
            .await;
        server
            .mock_async(|when, then| {
                when.method(GET).path("/api/v3/ua/user/ow-id");
                then.status(200)
                    .header("content-type", "application/json")
                    .body(body);
            })
            .await;
        let client = on(&server).build().unwrap();
        let e = client.fetch_workspace_id().await.unwrap_err();
        assert!(e.is_bad_response() || e.is_rejected(), "{body:?}: {e:?}");
        // What the client holds is untouched.
        assert_eq!(client.workspace_id().as_deref(), Some("5"), "{body:?}");
    }
}

/// A garbled refresh answer fails that call with a typed error, keeps the session (and its
/// owId), and the next good refresh still sends the login's workspace id.
#[tokio::test]
async fn a_garbled_refresh_answer_loses_nothing() {
    let clock = ManualClock::new();
    let server = MockServer::start_async().await;
    let login =
        server
            .mock_async(|when, then| {
                when.method(POST)
                    .path("/api/v3/ua/oauth/token")
                    .body_includes("grant_type=password");
                then.status(200).header("content-type", "application/json").body(
                json!({"success": true, "data": {"access_token": "at-1", "refresh_token": "rt-1",
                    "expires_in": 600, "owId": 77}})
                .to_string(),
            );
            })
            .await;
    let bad_refresh = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/ua/oauth/token")
                .body_includes("grant_type=refresh_token");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"access_token": 42}"#);
        })
        .await;
    let api = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v3/things")
                .header("authorization", "Bearer at-2")
                .header("x-iaa-ow-id", "77");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"success":true,"data":1}"#);
        })
        .await;
    let client = on(&server).with_clock(clock.clone()).build().unwrap();
    assert_eq!(client.login().await.unwrap(), "77");
    clock.advance(Duration::from_secs(601));
    let e = client.get_data::<u64>("/api/v3/things").await.unwrap_err();
    assert!(e.is_bad_response(), "{e:?}");
    assert_eq!(client.workspace_id().as_deref(), Some("77"));
    bad_refresh.assert_calls_async(1).await;
    bad_refresh.delete_async().await;
    let good_refresh = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/ua/oauth/token")
                .body_includes("grant_type=refresh_token")
                .body_includes("refresh_token=rt-1");
            then.status(200)
                .header("content-type", "application/json")
                .body(
                    json!({"access_token": "at-2", "scope": "read write", "expires_in": 600})
                        .to_string(),
                );
        })
        .await;
    assert_eq!(client.get_data::<u64>("/api/v3/things").await.unwrap(), 1);
    login.assert_calls_async(1).await;
    good_refresh.assert_calls_async(1).await;
    api.assert_calls_async(1).await;
    let s = client.session_stats();
    // Attempts: the garbled refresh and the good one.
    assert_eq!((s.sign_ins, s.refreshes, s.renewal_failures), (1, 2, 1));
}

/// A server that echoes what it was sent in its error body: the error shows none of it.
#[tokio::test]
async fn secrets_echoed_in_error_bodies_are_scrubbed() {
    const ECHO_SECRET: &str = "echoed-client-secret-71b0";
    const ECHO_PASSWORD: &str = "echoed-password-0c4e";
    const ECHO_REFRESH: &str = "echoed-refresh-token-9a2f";
    let basic = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("cid:{ECHO_SECRET}"))
    };
    let server = MockServer::start_async().await;
    let body = json!({"success": false, "errorObjects": [{
        "error": format!("bad password {ECHO_PASSWORD} for client secret {ECHO_SECRET}"),
        "reason": format!("header was Basic {basic}"),
    }]})
    .to_string();
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/ua/oauth/token")
                .body_includes("grant_type=password");
            then.status(403)
                .header("content-type", "application/json")
                .body(body.clone());
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/ua/sign-up");
            then.status(422)
                .header("content-type", "application/json")
                .body(
                    json!({"success": false, "errorObjects": [{
                        "error": format!("password {ECHO_PASSWORD} is too weak"),
                        "field": "password"}]})
                    .to_string(),
                );
        })
        .await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Credentials::new(
            "cid",
            ECHO_SECRET,
            "e@example.com",
            ECHO_PASSWORD,
        ))
        .build()
        .unwrap();
    let secrets = [ECHO_SECRET, ECHO_PASSWORD, basic.as_str(), ECHO_REFRESH];
    let check = |e: &iqm::Error| {
        let shown = format!("{e} {e:?} {:?} {:?}", e.vendor_message(), e.iqm_error());
        for s in secrets {
            assert!(!shown.contains(s), "{s:?} leaked in {shown}");
        }
        assert!(shown.contains("[REDACTED]"), "{shown}");
    };
    let e = client.login().await.unwrap_err();
    assert!(e.is_unauthorized());
    check(&e);
    let e = client
        .sign_up("n@example.com", ECHO_PASSWORD)
        .await
        .unwrap_err();
    assert!(e.is_rejected());
    check(&e);
    // A refresh answered 500 with the refresh token echoed: surfaced, scrubbed.
    let clock = ManualClock::new();
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/ua/oauth/token")
                .body_includes("grant_type=password");
            then.status(200)
                .header("content-type", "application/json")
                .body(
                    json!({"access_token": "at-1", "refresh_token": ECHO_REFRESH,
                    "expires_in": 600, "owId": 5})
                    .to_string(),
                );
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v3/ua/oauth/token")
                .body_includes("grant_type=refresh_token");
            then.status(500)
                .header("content-type", "application/json")
                .body(
                    json!({"success": false, "errorObjects": [{
                        "error": format!("cannot refresh {ECHO_REFRESH}")}]})
                    .to_string(),
                );
        })
        .await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Credentials::new(
            "cid",
            ECHO_SECRET,
            "e@example.com",
            ECHO_PASSWORD,
        ))
        .with_clock(clock.clone())
        .build()
        .unwrap();
    client.login().await.unwrap();
    let e = client.refresh().await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    check(&e);
    assert_eq!(client.session_stats().sign_ins, 1);
}

/// A 429 with a garbled `Retry-After`: still rate limiting, no retry hint invented, the
/// IQM body kept.
#[tokio::test]
async fn a_garbled_retry_after_is_tolerated() {
    let server = MockServer::start_async().await;
    let body = json!({"success": false, "errorObjects": [{"error": "Too many requests"}]});
    let text = body.to_string();
    let m = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/ua/oauth/token");
            then.status(429)
                .header("content-type", "application/json")
                .header("retry-after", "soon-ish")
                .body(text.clone());
        })
        .await;
    let client = on(&server).build().unwrap();
    let e = client.login().await.unwrap_err();
    assert!(e.is_rate_limited() && e.is_retryable(), "{e:?}");
    assert_eq!(e.retry_after(), None);
    assert_eq!(e.vendor_message(), Some("Too many requests"));
    assert_eq!(serde_json::to_value(e.iqm_error().unwrap()).unwrap(), body);
    m.assert_calls_async(1).await;
    assert_eq!(client.session_stats().sign_ins, 1);
}

/// A hostile IQM echoes every secret of the call, in every encoding and straddling the
/// error-body bound: none of it reaches the error (Display, Debug, `{:#?}`, the vendor
/// message, or the `IqmError` detail serialized back to JSON).
#[tokio::test]
async fn no_secret_of_a_call_survives_a_hostile_echo() {
    use auth_core::sandbox::{assert_secret_free, echoes};
    const SECRET: &str = r#"cl&ent/secret"<x>é"#;
    const PASS: &str = r#"p&ss<1> "q"\/+%"#;
    const ACCESS: &str = "at-hostile-&<1f2e>";
    const REFRESH: &str = "rt-hostile-/9a8b+";
    let basic = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("hostile-id:{SECRET}"))
    };
    let login_secrets = [SECRET, PASS, basic.as_str()];
    let server = MockServer::start_async().await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Credentials::new(
            "hostile-id",
            SECRET,
            "me@example.com",
            PASS,
        ))
        .build()
        .unwrap();
    let error_body = |echo: &str| {
        format!(
            r#"{{"success":false,"errorObjects":[{{"error":"bad password {echo}","field":"{echo}"}}]}}"#
        )
    };
    // The login echoes the password, the client secret and the Basic header value.
    for secret in login_secrets {
        for (name, echo) in echoes(secret) {
            let body = error_body(&echo);
            let mock = server
                .mock_async(|when, then| {
                    when.method(POST).path("/api/v3/ua/oauth/token");
                    then.status(400).body(body.clone());
                })
                .await;
            let err = client.login().await.unwrap_err();
            assert_eq!(err.status(), Some(400), "{name}");
            assert_secret_free::<IqmError>(&err, &login_secrets, &format!("login, {name}"));
            mock.delete_async().await;
        }
    }
    // An authorized call echoes the access and refresh tokens.
    let token = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/ua/oauth/token");
            then.status(200).header("content-type", "application/json").body(
                json!({"access_token": ACCESS, "refresh_token": REFRESH, "expires_in": 3600, "owId": 5})
                    .to_string(),
            );
        })
        .await;
    for secret in [ACCESS, REFRESH] {
        for (name, echo) in echoes(secret) {
            let body = error_body(&echo);
            let mock = server
                .mock_async(|when, then| {
                    when.method(GET).path("/api/v3/things");
                    then.status(422).body(body.clone());
                })
                .await;
            let err = client
                .get_json::<Value>("/api/v3/things")
                .await
                .unwrap_err();
            assert_eq!(err.status(), Some(422), "{name}");
            assert_secret_free::<IqmError>(&err, &[ACCESS, REFRESH], &format!("call, {name}"));
            mock.delete_async().await;
        }
    }
    assert_eq!(token.calls_async().await, 1);
}
