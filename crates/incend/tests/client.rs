//! The `incend` clients over real HTTP against the sandbox: exact wire shapes, the
//! documented error messages, session expiry, privacy of the verify answer, redaction.

// Test helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::time::Duration;

use base64::Engine as _;
use incend::sandbox::{Fault, ManualClock, Sandbox};
use incend::{
    Client, ErrorExt, ErrorKind, ErrorReason, ProfileEdit, Recipient, UserClient, UserToken,
    VerifiedUser,
};

const API_KEY: &str = "test-client-key-5f2b9c";
const OTP: &str = "4071";
const MOBILE: &str = "+918838118348";
const EMAIL: &str = "asha@example.com";
const LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// A user token the tests hold themselves, for redaction checks with one constant.
const USER_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VySWQiOiJ4In0.c2VjcmV0LXNpZw";

struct Env {
    clock: ManualClock,
    sandbox: Sandbox,
    backend: Client,
}

async fn env() -> Env {
    let clock = ManualClock::new();
    let sandbox = Sandbox::builder()
        .clock(clock.clone())
        .api_key(API_KEY)
        .otp(OTP)
        .token_lifetime(LIFETIME)
        .start()
        .await;
    let backend = sandbox.client_builder().build().unwrap();
    Env {
        clock,
        sandbox,
        backend,
    }
}

impl Env {
    async fn sign_in(&self) -> VerifiedUser {
        let to = Recipient::sms(MOBILE).unwrap();
        self.backend.send_otp(&to).await.unwrap();
        self.backend.verify_otp(&to, OTP).await.unwrap()
    }

    fn user_client(&self, user: &VerifiedUser) -> UserClient {
        self.sandbox
            .user_client_builder()
            .with_credentials(user.user_token().clone())
            .with_expires_at(user.expires_at())
            .build()
            .unwrap()
    }

    /// The last request to `path`, with the API key, the code and both forms of `token`
    /// redacted (the base64 form is labelled, to show the wrapping).
    fn wire(&self, path: &str, token: Option<&str>) -> String {
        let rec = self.sandbox.recorder();
        rec.redact(API_KEY);
        rec.redact(OTP);
        let b64 = token.map(|t| base64::engine::general_purpose::STANDARD.encode(t));
        if let (Some(t), Some(b64)) = (token, &b64) {
            rec.redact_as(b64.as_str(), "[REDACTED base64(userJwtToken)]");
            rec.redact_as(t, "[REDACTED userJwtToken]");
        }
        let text = rec.last(path).expect("request recorded");
        if let (Some(t), Some(b64)) = (token, &b64) {
            assert!(!text.contains(t) && !text.contains(b64.as_str()));
        }
        assert!(!text.contains(API_KEY));
        text
    }
}

fn reason(e: &incend::Error) -> ErrorReason {
    e.error_reason().expect("an incend error detail")
}

#[tokio::test]
async fn six_operations_have_the_documented_wire_shape() {
    let env = env().await;

    env.backend
        .send_otp(&Recipient::sms(MOBILE).unwrap())
        .await
        .unwrap();
    insta::assert_snapshot!(env.wire("/auth/init", None), @r#"
    POST /auth/init
    accept: */*
    content-type: application/json
    ipaas: [REDACTED]

    {
      "authType": "mobile",
      "mobile": "+918838118348"
    }
    "#);

    let sent = env
        .backend
        .send_otp(&Recipient::email(EMAIL).unwrap())
        .await
        .unwrap();
    assert_eq!(sent.message, "OTP email has been sent successfully");
    insta::assert_snapshot!(env.wire("/auth/init", None), @r#"
    POST /auth/init
    accept: */*
    content-type: application/json
    ipaas: [REDACTED]

    {
      "authType": "email",
      "email": "asha@example.com"
    }
    "#);

    let user = env
        .backend
        .verify_otp(&Recipient::sms(MOBILE).unwrap(), OTP)
        .await
        .unwrap();
    let jwt = user.user_token().expose().to_owned();
    insta::assert_snapshot!(env.wire("/auth/verify", Some(&jwt)), @r#"
    POST /auth/verify
    accept: */*
    content-type: application/json
    ipaas: [REDACTED]

    {
      "authType": "mobile",
      "code": "[REDACTED]",
      "mobile": "+918838118348"
    }
    "#);

    let status = env.backend.token_status(user.user_token()).await.unwrap();
    assert_eq!(&status.user_id, user.user_id());
    assert_eq!(status.expires_at, user.expires_at());
    insta::assert_snapshot!(env.wire("/auth/token", Some(&jwt)), @r"
    GET /auth/token
    accept: */*
    authorization: Bearer [REDACTED base64(userJwtToken)]
    ipaas: [REDACTED]
    ");

    let me = env.user_client(&user);
    let profile = me.profile().await.unwrap();
    assert_eq!(profile.mobile.as_deref(), Some(MOBILE));
    insta::assert_snapshot!(env.wire("/user", Some(&jwt)), @r"
    GET /user
    accept: */*
    authorization: Bearer [REDACTED base64(userJwtToken)]
    ");

    let edit = ProfileEdit::new("Asha")
        .unwrap()
        .with_data("city", "Chennai");
    let edited = me.edit_profile(&edit).await.unwrap();
    assert_eq!(edited.name.as_deref(), Some("Asha"));
    assert_eq!(edited.data.unwrap()["city"], "Chennai");
    insta::assert_snapshot!(env.wire("/user/edit", Some(&jwt)), @r#"
    POST /user/edit
    accept: */*
    authorization: Bearer [REDACTED base64(userJwtToken)]
    content-type: application/json

    {
      "data": {
        "city": "Chennai"
      },
      "name": "Asha"
    }
    "#);

    // The user routes carry no API key; the backend routes no user token except status.
    for r in env.sandbox.recorder().all() {
        let has_key = r.headers.iter().any(|(k, _)| k == "ipaas");
        assert_eq!(has_key, r.path_and_query.starts_with("/auth/"), "{r:?}");
    }
    assert_eq!(
        (
            env.sandbox.hits("init"),
            env.sandbox.hits("verify"),
            env.sandbox.hits("token"),
            env.sandbox.hits("profile"),
            env.sandbox.hits("edit"),
        ),
        (2, 1, 1, 1, 1)
    );
}

#[tokio::test]
async fn the_user_token_is_a_real_jwt_without_exp_and_expiry_is_the_servers() {
    let env = env().await;
    let user = env.sign_in().await;
    let claims = auth_core::jwt::jwt_claims(user.user_token().expose()).unwrap();
    assert!(claims.contains_key("userId"));
    assert!(!claims.contains_key("exp"));
    let now = auth_core::Clock::now(&env.clock);
    assert_eq!(user.expires_at().duration_since(now).unwrap(), LIFETIME);
    // The user-side session adopts the expiry the server reports after using it.
    let me = env.user_client(&user);
    env.clock.advance(Duration::from_secs(3600));
    let p = me.profile().await.unwrap();
    let extended = p.session_expires_at.unwrap();
    assert_eq!(
        extended.duration_since(user.expires_at()).unwrap(),
        Duration::from_secs(3600)
    );
    assert_eq!(me.token_expiry(), Some(extended));
}

#[tokio::test]
async fn the_verify_answer_keeps_nothing_personal() {
    let env = env().await;
    let first = env.sign_in().await;
    env.user_client(&first)
        .edit_profile(
            &ProfileEdit::new("Asha Verma")
                .unwrap()
                .with_data("city", "Chennai"),
        )
        .await
        .unwrap();
    // The server's verify answer now carries the name and the profile data ...
    let user = env.sign_in().await;
    // ... the backend-side type does not.
    let shown = format!("{user:?}");
    for personal in ["Asha", "Chennai", "maxData", "allowed", MOBILE] {
        assert!(!shown.contains(personal), "{personal} kept: {shown}");
    }
    insta::assert_snapshot!(
        shown.replace(user.user_id().as_str(), "<id>").split(", expires_at").next().unwrap(),
        @r#"VerifiedUser { user_id: UserId("<id>"), user_token: UserToken([REDACTED])"#
    );
}

#[tokio::test]
async fn bad_input_fails_locally_before_any_request() {
    let env = env().await;
    for bad in ["88381", "+91 8838118348", "call me", "+0918838118"] {
        assert!(Recipient::sms(bad).unwrap_err().is_invalid_input(), "{bad}");
    }
    for bad in ["asha", "asha@", "@example.com", "asha@example"] {
        assert!(
            Recipient::email(bad).unwrap_err().is_invalid_input(),
            "{bad}"
        );
    }
    let to = Recipient::sms(MOBILE).unwrap();
    for code in ["", "12", "1234567", "12 4"] {
        let e = env.backend.verify_otp(&to, code).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{code}");
        assert_eq!(
            e.to_string(),
            if code == "12 4" {
                "one-time code must not contain whitespace"
            } else {
                "one-time code must be 3 to 6 characters"
            }
        );
    }
    assert!(ProfileEdit::new("").unwrap_err().is_invalid_input());
    assert!(env.sandbox.recorder().all().is_empty(), "nothing was sent");
    assert_eq!(env.backend.session_stats().requests, 0);
}

#[tokio::test]
async fn documented_error_messages_map_to_kinds() {
    let env = env().await;
    let to = Recipient::sms(MOBILE).unwrap();

    // Unknown client key.
    let stranger = Client::builder()
        .with_base_url(env.sandbox.base_url())
        .with_credentials("not-a-client-key")
        .build()
        .unwrap();
    let e = stranger.send_otp(&to).await.unwrap_err();
    assert!(e.is_unauthorized() && !e.is_retryable(), "{e:?}");
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.vendor_message(), Some("Client not authorised"));
    assert_eq!(
        e.to_string(),
        "client api key rejected (HTTP 400): Client not authorised"
    );
    assert_eq!(reason(&e), ErrorReason::ClientNotAuthorised);
    assert!(!format!("{e} {e:?}").contains("not-a-client-key"));

    // Invalid request: what the server answers to a body it cannot use.
    let raw = auth_core::http::default_client()
        .unwrap()
        .post(format!("{}/auth/init", env.sandbox.base_url()))
        .header("ipaas", API_KEY)
        .json(&serde_json::json!({"authType": "whatsapp", "whatsapp": MOBILE}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(
        raw.text().await.unwrap(),
        r#"{"message":"Invalid request"}"#
    );
    env.sandbox
        .inject_on("init", Fault::status(400, "Invalid request"));
    let e = env.backend.send_otp(&to).await.unwrap_err();
    assert!(e.is_rejected(), "{e:?}");
    assert_eq!(reason(&e), ErrorReason::InvalidRequest);
    assert_eq!(
        e.to_string(),
        "vendor rejected the request (HTTP 400): Invalid request"
    );

    // Invalid number.
    env.sandbox.reject_recipient("+15550000000");
    let e = env
        .backend
        .send_otp(&Recipient::sms("+15550000000").unwrap())
        .await
        .unwrap_err();
    assert!(e.is_rejected(), "{e:?}");
    assert_eq!(e.vendor_message(), Some("Invalid mobile number"));
    assert_eq!(reason(&e), ErrorReason::InvalidRecipient);

    // Failed verification.
    env.backend.send_otp(&to).await.unwrap();
    let e = env.backend.verify_otp(&to, "9999").await.unwrap_err();
    assert!(e.is_rejected(), "{e:?}");
    assert_eq!(
        e.vendor_message(),
        Some("OTP verification failed, status is still pending")
    );
    assert_eq!(reason(&e), ErrorReason::VerificationFailed);

    // Expired token.
    let user = env.backend.verify_otp(&to, OTP).await.unwrap();
    env.sandbox.expire_session(user.user_token().expose());
    let e = env
        .backend
        .token_status(user.user_token())
        .await
        .unwrap_err();
    assert!(e.is_session_expired() && !e.is_retryable(), "{e:?}");
    assert_eq!(e.status(), Some(401));
    assert_eq!(
        e.vendor_message(),
        Some("JWT token has expired, re-initiate login")
    );
    assert_eq!(reason(&e), ErrorReason::SessionExpired);

    // Unknown token.
    let e = env
        .backend
        .token_status(&UserToken::new(USER_TOKEN))
        .await
        .unwrap_err();
    assert!(e.is_session_expired(), "{e:?}");
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.vendor_message(), Some("No such JWT token is created"));
    assert_eq!(reason(&e), ErrorReason::UnknownSession);
}

#[tokio::test]
async fn a_session_expired_on_the_server_is_the_distinct_error_everywhere_once() {
    let env = env().await;
    let user = env.sign_in().await;
    let me = env.user_client(&user);
    me.profile().await.unwrap();
    // The server ends the session; the client still believes it has 30 days.
    env.sandbox.expire_session(user.user_token().expose());
    assert!(me.token_expiry().unwrap() > auth_core::Clock::now(&env.clock));

    let status = env
        .backend
        .token_status(user.user_token())
        .await
        .unwrap_err();
    let profile = me.profile().await.unwrap_err();
    let edit = me
        .edit_profile(&ProfileEdit::new("Asha").unwrap())
        .await
        .unwrap_err();
    for e in [&status, &profile, &edit] {
        assert!(e.is_session_expired(), "{e:?}");
        assert_eq!(e.status(), Some(401));
        assert_eq!(reason(e), ErrorReason::SessionExpired);
        assert!(!e.is_retryable());
    }
    assert_eq!(
        profile.to_string(),
        "user session expired or unknown: ask the user to sign in again (HTTP 401): \
         JWT token has expired, re-initiate login"
    );
    // One request each: no retry, no renewal attempt.
    assert_eq!(env.sandbox.hits("token"), 1);
    assert_eq!(env.sandbox.hits("profile"), 2);
    assert_eq!(env.sandbox.hits("edit"), 1);
    assert_eq!(env.sandbox.hits("verify"), 1);
    let s = me.session_stats();
    assert_eq!(
        (s.sign_ins, s.refreshes, s.requests, s.unauthorized),
        (0, 0, 3, 2)
    );
    assert_eq!(env.backend.session_stats().sign_ins, 0);
}

#[tokio::test]
async fn a_session_past_its_reported_expiry_fails_locally_without_a_request() {
    let env = env().await;
    let user = env.sign_in().await;
    let me = env.user_client(&user);
    env.clock.advance(LIFETIME);
    let e = me.profile().await.unwrap_err();
    assert!(e.is_session_expired(), "{e:?}");
    assert_eq!(
        e.to_string(),
        "user session expired or missing: ask the user to sign in again"
    );
    let e = me
        .edit_profile(&ProfileEdit::new("Asha").unwrap())
        .await
        .unwrap_err();
    assert!(e.is_session_expired(), "{e:?}");
    assert_eq!(env.sandbox.hits("profile") + env.sandbox.hits("edit"), 0);
    let s = me.session_stats();
    // One expired token, counted once however often it is found.
    assert_eq!(
        (s.requests, s.expiries, s.sign_ins, s.refreshes),
        (0, 1, 0, 0)
    );
    // The server agrees.
    let e = env
        .backend
        .token_status(user.user_token())
        .await
        .unwrap_err();
    assert!(e.is_session_expired());

    // A new code round with the user starts a new session.
    let again = env.sign_in().await;
    me.set_user_token(again.user_token().clone(), Some(again.expires_at()));
    me.profile().await.unwrap();
}

#[tokio::test]
async fn without_a_token_the_user_client_asks_for_a_sign_in() {
    let env = env().await;
    let me = UserClient::builder()
        .with_base_url(env.sandbox.base_url())
        .build()
        .unwrap();
    assert!(me.profile().await.unwrap_err().is_session_expired());
    let user = env.sign_in().await;
    me.set_user_token(user.user_token().clone(), None);
    me.profile().await.unwrap();
    me.sign_out();
    assert!(me.profile().await.unwrap_err().is_session_expired());
    assert_eq!(env.sandbox.hits("profile"), 1);
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_typed_and_not_retried() {
    let env = env().await;
    let user = env.sign_in().await;
    let me = env.user_client(&user);
    env.sandbox
        .inject(Fault::rate_limited(Some(30), "Too many requests"));
    let e = me.profile().await.unwrap_err();
    assert!(e.is_rate_limited() && e.is_retryable(), "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(e.vendor_message(), Some("Too many requests"));
    env.sandbox.inject(Fault::server_error(503));
    let e = env
        .backend
        .token_status(user.user_token())
        .await
        .unwrap_err();
    assert!(e.is_transient() && e.is_retryable(), "{e:?}");
    assert_eq!(e.status(), Some(503));
    env.sandbox.inject(Fault::unauthorized());
    let e = me.profile().await.unwrap_err();
    assert!(e.is_session_expired(), "{e:?}");
    assert_eq!(
        (env.sandbox.hits("profile"), env.sandbox.hits("token")),
        (2, 1)
    );
    me.profile().await.unwrap();
}

#[tokio::test]
async fn the_user_token_never_shows_in_debug_display_or_errors() {
    let env = env().await;
    let token = UserToken::new(USER_TOKEN);
    let b64 = base64::engine::general_purpose::STANDARD.encode(USER_TOKEN);
    let me = UserClient::builder()
        .with_base_url(env.sandbox.base_url())
        .with_credentials(USER_TOKEN);
    let builder_shown = format!("{me:?}");
    let me = me.build().unwrap();
    // An error body that echoes the token in both forms is scrubbed.
    env.sandbox.inject(Fault::status(
        400,
        format!("bad token {USER_TOKEN} / {b64}"),
    ));
    let echoed = me.profile().await.unwrap_err();
    assert_eq!(
        echoed.vendor_message(),
        Some("bad token [REDACTED] / [REDACTED]")
    );
    env.sandbox.inject(Fault::status(
        400,
        format!("bad token {USER_TOKEN} / {b64}"),
    ));
    let echoed_backend = env.backend.token_status(&token).await.unwrap_err();
    let unknown = me.profile().await.unwrap_err();
    assert!(unknown.is_session_expired());
    let status = env.backend.token_status(&token).await.unwrap_err();
    let user = env.sign_in().await;
    let real = user.user_token().expose().to_owned();
    let real_b64 = base64::engine::general_purpose::STANDARD.encode(&real);
    let shown = [
        format!("{token:?} {token}"),
        builder_shown,
        format!("{me:?}"),
        format!("{:?}", env.backend),
        format!("{echoed} {echoed:?}"),
        format!("{echoed_backend} {echoed_backend:?}"),
        format!("{unknown} {unknown:?}"),
        format!("{status} {status:?}"),
        format!("{user:?} {:?} {}", user.user_token(), user.user_token()),
        format!("{:?}", env.user_client(&user)),
    ];
    for s in &shown {
        for secret in [
            USER_TOKEN,
            b64.as_str(),
            real.as_str(),
            real_b64.as_str(),
            API_KEY,
        ] {
            assert!(!s.contains(secret), "leaked in {s}");
        }
    }
    assert_eq!(format!("{token}"), "[REDACTED]");
    assert_eq!(format!("{token:?}"), "UserToken([REDACTED])");
}

#[tokio::test]
async fn configuration_errors() {
    assert!(Client::builder().build().unwrap_err().is_config());
    assert!(
        Client::builder()
            .with_credentials(" ")
            .build()
            .unwrap_err()
            .is_config()
    );
    assert!(
        Client::builder()
            .with_credentials("k")
            .with_base_url("not a url")
            .build()
            .unwrap_err()
            .is_config()
    );
    // The API key is never sent over plain HTTP to a remote host: refused at build.
    let e = Client::builder()
        .with_credentials(API_KEY)
        .with_base_url("http://ipaas.example.com")
        .build()
        .unwrap_err();
    assert!(e.is_insecure_transport(), "{e:?}");
}

#[tokio::test]
async fn the_sandbox_enforces_methods_and_the_base64_wire_form() {
    let env = env().await;
    let user = env.sign_in().await;
    let http = auth_core::http::default_client().unwrap();
    let base = env.sandbox.base_url();
    // Wrong method: express has no such route.
    let r = http
        .get(format!("{base}/auth/init"))
        .header("ipaas", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // No `ipaas` header: the client is not authorised, whatever the body.
    let r = http
        .post(format!("{base}/auth/init"))
        .json(&serde_json::json!({"authType": "mobile", "mobile": MOBILE}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"message":"Client not authorised"}"#
    );
    // A form body instead of JSON is no request at all.
    let r = http
        .post(format!("{base}/auth/init"))
        .header("ipaas", API_KEY)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("authType=mobile&mobile={MOBILE}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.text().await.unwrap(), r#"{"message":"Invalid request"}"#);
    // A status check without a user token.
    let r = http
        .get(format!("{base}/auth/token"))
        .header("ipaas", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.text().await.unwrap(), r#"{"message":"Invalid request"}"#);
    // The raw JWT instead of its base64 form names no session.
    let r = http
        .get(format!("{base}/user"))
        .bearer_auth(user.user_token().expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // No token at all.
    let r = http.get(format!("{base}/user")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"message":"Invalid JWT token"}"#
    );
    // An edit without `data` breaks the real server; the client always sends it.
    let r = http
        .post(format!("{base}/user/edit"))
        .bearer_auth(base64::engine::general_purpose::STANDARD.encode(user.user_token().expose()))
        .json(&serde_json::json!({"name": "Asha"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    // A code is single use.
    let to = Recipient::sms(MOBILE).unwrap();
    let e = env.backend.verify_otp(&to, OTP).await.unwrap_err();
    assert!(e.is_rejected());
    assert_eq!(reason(&e), ErrorReason::DeliveryFailed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_callers_never_cause_a_sign_in_or_a_loop() {
    let env = env().await;
    let user = env.sign_in().await;
    let me = env.user_client(&user);
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let me = me.clone();
            tokio::spawn(async move { me.profile().await })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    assert_eq!(env.sandbox.hits("profile"), 50);
    // Past the (extended) expiry: every caller gets the distinct error, none sends.
    let left = me
        .token_expiry()
        .unwrap()
        .duration_since(auth_core::Clock::now(&env.clock))
        .unwrap();
    env.clock.advance(left);
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let me = me.clone();
            tokio::spawn(async move { me.profile().await })
        })
        .collect();
    for c in calls {
        assert!(c.await.unwrap().unwrap_err().is_session_expired());
    }
    assert_eq!(env.sandbox.hits("profile"), 50);
    assert_eq!(env.sandbox.hits("verify"), 1);
    let s = me.session_stats();
    assert_eq!(
        (s.requests, s.sign_ins, s.refreshes, s.expiries),
        (50, 0, 0, 1)
    );
}

/// What each of the five calls gives when the server answers `status`, `content_type`,
/// `body` (and `extra` headers) to every request. The user client holds [`USER_TOKEN`].
async fn against(
    status: u16,
    content_type: &str,
    body: &str,
    extra: &[(&str, &str)],
) -> (Vec<incend::Result<()>>, UserClient, Client) {
    let server = httpmock::MockServer::start_async().await;
    let (ct, b) = (content_type.to_owned(), body.to_owned());
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    server
        .mock_async(move |when, then| {
            when.any_request();
            let mut then = then.status(status);
            if !ct.is_empty() {
                then = then.header("content-type", ct.as_str());
            }
            for (k, v) in &extra {
                then = then.header(k.as_str(), v.as_str());
            }
            then.body(b.as_str());
        })
        .await;
    let backend = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(API_KEY)
        .build()
        .unwrap();
    let me = UserClient::builder()
        .with_base_url(server.base_url())
        .with_credentials(USER_TOKEN)
        .build()
        .unwrap();
    let to = Recipient::sms(MOBILE).unwrap();
    let token = UserToken::new(USER_TOKEN);
    let results = vec![
        backend.send_otp(&to).await.map(drop),
        backend.verify_otp(&to, OTP).await.map(drop),
        backend.token_status(&token).await.map(drop),
        me.profile().await.map(drop),
        me.edit_profile(&ProfileEdit::new("Asha").unwrap())
            .await
            .map(drop),
    ];
    // Whatever the answer, both clients keep their credentials: the next calls are sent.
    let _ = backend.token_status(&token).await;
    let _ = me.profile().await;
    assert_eq!(
        (
            backend.session_stats().requests,
            me.session_stats().requests
        ),
        (4, 3),
        "{status} {content_type} {body}"
    );
    assert_eq!(
        (
            backend.session_stats().sign_ins,
            me.session_stats().sign_ins
        ),
        (0, 0)
    );
    (results, me, backend)
}

fn kinds(results: &[incend::Result<()>]) -> Vec<Option<ErrorKind>> {
    results
        .iter()
        .map(|r| r.as_ref().err().map(incend::Error::kind))
        .collect()
}

#[tokio::test]
async fn malformed_answers_are_typed_errors_and_nothing_is_lost() {
    use ErrorKind::{BadResponse, RateLimited, Rejected, SessionExpired, Transient};
    let json = "application/json; charset=utf-8";
    let bad = Some(BadResponse);
    // (status, content type, body) -> kind for send, verify, status, profile, edit.
    let cases: Vec<(u16, &str, &str, [Option<ErrorKind>; 5])> = vec![
        // Not JSON at all, with a 200.
        (200, "text/html", "<html>maintenance</html>", [bad; 5]),
        // An empty 200.
        (200, json, "", [bad; 5]),
        (200, "", "", [bad; 5]),
        // Truncated JSON.
        (200, json, r#"{"message": "OTP SMS has"#, [bad; 5]),
        // JSON of the wrong type.
        (200, json, "null", [bad; 5]),
        (200, json, r#""ok""#, [bad; 5]),
        // Every field null: a send needs nothing, the others their fields.
        (
            200,
            json,
            r#"{"message": null, "userId": null, "userJwtToken": null, "tokenExpiry": null}"#,
            [None, bad, bad, bad, bad],
        ),
        // A 200 carrying an error message.
        (
            200,
            json,
            r#"{"message": "OTP verification failed, status is still pending"}"#,
            [None, bad, bad, bad, bad],
        ),
        // Fields of the wrong type or form.
        (
            200,
            json,
            r#"{"userId": 42, "userJwtToken": "x", "tokenExpiry": "2030-01-01T00:00:00.000Z"}"#,
            [None, bad, bad, bad, bad],
        ),
        (
            200,
            json,
            r#"{"userId": "u1", "userJwtToken": "x.y.z", "tokenExpiry": "next month"}"#,
            [None, bad, bad, bad, bad],
        ),
        (
            200,
            json,
            r#"{"userId": "u1", "userJwtToken": "", "tokenExpiry": "2030-01-01T00:00:00.000Z"}"#,
            [None, bad, None, None, None],
        ),
        // Error statuses with bodies that are not the vendor's shape.
        (400, json, r#"{"message": "#, [Some(Rejected); 5]),
        (
            404,
            "text/html",
            "<pre>Cannot POST /auth/init</pre>",
            [Some(Rejected); 5],
        ),
        (
            502,
            "text/html",
            "<html>bad gateway</html>",
            [Some(Transient); 5],
        ),
        (401, "", "", [Some(SessionExpired); 5]),
        (429, json, r#"{"message": 7}"#, [Some(RateLimited); 5]),
    ];
    for (status, ct, body, want) in cases {
        let (results, _, _) = against(status, ct, body, &[]).await;
        assert_eq!(kinds(&results), want, "{status} {ct} {body}");
        for r in &results {
            if let Err(e) = r {
                assert_eq!(e.status(), Some(status), "{status} {body}: {e:?}");
            }
        }
    }

    // A 200 error message is kept as the vendor message on the error.
    let (results, _, _) = against(
        200,
        json,
        r#"{"message": "OTP verification failed, status is still pending"}"#,
        &[],
    )
    .await;
    let e = results[1].as_ref().unwrap_err();
    assert_eq!(
        e.to_string(),
        "answer lacks the `userId` field (HTTP 200): OTP verification failed, status is still pending"
    );
    assert_eq!(
        e.vendor_message(),
        Some("OTP verification failed, status is still pending")
    );

    // A garbled Retry-After on a 429 is ignored, not a panic or a different kind.
    let (results, _, _) = against(
        429,
        json,
        r#"{"message": "Too many requests"}"#,
        &[("retry-after", "soon, maybe")],
    )
    .await;
    for r in &results {
        let e = r.as_ref().unwrap_err();
        assert!(e.is_rate_limited(), "{e:?}");
        assert_eq!(e.retry_after(), None);
        assert_eq!(e.vendor_message(), Some("Too many requests"));
    }

    // A valid answer under an unexpected content type is still read (express always says
    // JSON; a proxy may not).
    let (results, _, _) = against(
        200,
        "text/plain",
        r#"{"message": "ok", "userId": "u1", "userJwtToken": "x.y.z", "tokenExpiry": "2030-01-01T00:00:00.000Z"}"#,
        &[],
    )
    .await;
    assert_eq!(kinds(&results), [None; 5]);
}

#[tokio::test]
async fn secrets_echoed_in_answers_never_reach_errors() {
    // An error body echoing the API key and the code.
    let env = env().await;
    let to = Recipient::sms(MOBILE).unwrap();
    env.backend.send_otp(&to).await.unwrap();
    env.sandbox.inject_on(
        "verify",
        Fault::status(400, format!("key {API_KEY} code {OTP}")),
    );
    let e = env.backend.verify_otp(&to, OTP).await.unwrap_err();
    assert_eq!(e.vendor_message(), Some("key [REDACTED] code [REDACTED]"));
    // A 200 without a session echoing the code and the user token.
    let b64 = base64::engine::general_purpose::STANDARD.encode(USER_TOKEN);
    let echo = format!("key {API_KEY} code {OTP} token {USER_TOKEN} {b64}");
    let (results, _, _) = against(
        200,
        "application/json",
        &serde_json::json!({ "message": echo }).to_string(),
        &[],
    )
    .await;
    for (i, r) in results.iter().enumerate().skip(1) {
        let e = r.as_ref().unwrap_err();
        let shown = format!("{e} {e:?} {:?}", e.vendor_message());
        // Each call scrubs the secrets it sent: a verification the key and the code (it
        // does not know the token it failed to get), a status check the key and the token,
        // the user client (which never holds the key) the token.
        let secrets: &[&str] = match i {
            1 => &[OTP, API_KEY],
            2 => &[USER_TOKEN, b64.as_str(), API_KEY],
            _ => &[USER_TOKEN, b64.as_str()],
        };
        for secret in secrets {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
        assert!(e.vendor_message().unwrap().contains("[REDACTED]"), "{e:?}");
    }
    // The sandbox and its builder print no credential.
    let builder = Sandbox::builder().api_key(API_KEY).otp(OTP);
    let shown = format!("{builder:?} {:?}", env.sandbox);
    assert!(!shown.contains(API_KEY) && !shown.contains(OTP), "{shown}");
}

#[tokio::test]
async fn the_server_side_expiry_can_be_moved_by_the_test() {
    let env = env().await;
    let user = env.sign_in().await;
    let jwt = user.user_token().expose().to_owned();
    let now = auth_core::Clock::now(&env.clock);
    assert_eq!(env.sandbox.session_expiry(&jwt), Some(now + LIFETIME));
    // The server cuts the session to one hour; the client still believes 30 days.
    env.sandbox
        .set_session_expiry(&jwt, now + Duration::from_secs(3600));
    let me = env.user_client(&user);
    env.clock.advance(Duration::from_secs(3599));
    let status = env.backend.token_status(user.user_token()).await.unwrap();
    assert_eq!(status.expires_at, now + Duration::from_secs(3600));
    env.clock.advance(Duration::from_secs(1));
    assert_eq!(env.sandbox.session_expiry(&jwt), None);
    let e = env
        .backend
        .token_status(user.user_token())
        .await
        .unwrap_err();
    assert!(e.is_session_expired(), "{e:?}");
    assert_eq!(e.status(), Some(401));
    let e = me.profile().await.unwrap_err();
    assert!(e.is_session_expired(), "{e:?}");
    assert_eq!(reason(&e), ErrorReason::SessionExpired);
    // Sent once each (the client did not know), never retried.
    assert_eq!(
        (env.sandbox.hits("token"), env.sandbox.hits("profile")),
        (2, 1)
    );
    let s = me.session_stats();
    assert_eq!(
        (s.requests, s.unauthorized, s.sign_ins, s.refreshes),
        (1, 1, 0, 0)
    );
}

#[tokio::test]
async fn a_key_that_cannot_be_a_header_is_a_config_error() {
    const GARBLED: &str = "key\nwith-a-newline";
    let e = Client::builder()
        .with_credentials(GARBLED)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e:?}");
    assert_eq!(
        e.to_string(),
        "client api key holds characters not allowed in a header"
    );
    assert!(!format!("{e} {e:?}").contains(GARBLED), "{e:?}");
}

/// A hostile Incend echoes every secret of the call (the client API key, the OTP code, a
/// user token), in every encoding and straddling the error-body bound, to the backend and
/// the user client: none of it reaches the error (Display, Debug, `{:#?}`, the vendor
/// message, or the `ApiError` detail serialized back to JSON).
#[tokio::test]
async fn no_secret_of_a_call_survives_a_hostile_echo() {
    use auth_core::sandbox::{assert_secret_free, echoes};
    const KEY: &str = r#"key-&<hostile>/"1f2e"+"#;
    const CODE: &str = "40&71";
    const TOKEN: &str = "user-token-&<9a8b>/";
    let server = httpmock::MockServer::start_async().await;
    let backend = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(KEY)
        .build()
        .unwrap();
    let me = UserClient::builder()
        .with_base_url(server.base_url())
        .with_credentials(TOKEN)
        .build()
        .unwrap();
    let to = Recipient::sms(MOBILE).unwrap();
    // Each call echoes the secrets it sent: the key on every backend call, the code with
    // verify, the user token with a status check and on the user's own calls.
    let calls: [(&str, &[&str]); 4] = [
        ("send", &[KEY]),
        ("verify", &[KEY, CODE]),
        ("status", &[KEY, TOKEN]),
        ("profile", &[TOKEN]),
    ];
    for (call, secrets) in calls {
        for secret in secrets {
            for (name, echo) in echoes(secret) {
                let body =
                    format!(r#"{{"message":"OTP verification failed, status is still {echo}"}}"#);
                let mock = server
                    .mock_async(|when, then| {
                        when.any_request();
                        then.status(400)
                            .header("content-type", "application/json")
                            .body(body.clone());
                    })
                    .await;
                let err = match call {
                    "send" => backend.send_otp(&to).await.map(drop),
                    "verify" => backend.verify_otp(&to, CODE).await.map(drop),
                    "status" => backend.token_status(&UserToken::new(TOKEN)).await.map(drop),
                    _ => me.profile().await.map(drop),
                }
                .unwrap_err();
                assert_eq!(err.status(), Some(400), "{call} {name}");
                assert_secret_free::<incend::ApiError>(&err, secrets, &format!("{call}, {name}"));
                mock.delete_async().await;
            }
        }
    }
}
