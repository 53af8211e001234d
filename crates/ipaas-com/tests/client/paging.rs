//! Paging: a 25-page walk across a token expiry (page by page, as a prefetching item stream,
//! bounded), and `X-Pagination` metadata that is malformed, partial or wrongly typed.

use futures::{StreamExt as _, TryStreamExt as _};
use httpmock::prelude::{GET, MockServer};
use ipaas_com::sandbox::routes;
use ipaas_com::{Api, Client, Credentials, PageToken};
use serde::Deserialize;

use super::{HOUR, setup, token_calls};

#[derive(Debug, Deserialize, PartialEq)]
struct Event {
    id: u64,
    name: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn walks_25_pages_in_order_across_a_token_expiry() {
    let (clock, sandbox, client) = setup().await;
    let list = client
        .list::<Event>(Api::Subscriptions, "Events")
        .with_page_size(100);

    // Page by page, the token expiring between pages 12 and 13: the fetch of page 13
    // refreshes first, and no page is fetched twice.
    let mut seen = Vec::new();
    let mut next = Some(1);
    while let Some(n) = next {
        let page = list.page(n).await.unwrap();
        seen.extend(page.items);
        next = match page.next {
            Some(PageToken::Number(k)) => Some(k),
            _ => None,
        };
        if n == 12 {
            clock.advance(HOUR);
        }
    }
    assert_eq!(seen.len(), 2500);
    assert!(seen.iter().enumerate().all(|(i, e)| e.id == i as u64 + 1));
    assert_eq!(seen[2499].name, "event 2500");
    assert_eq!(sandbox.hits(routes::EVENTS), 25);
    assert_eq!(token_calls(&sandbox), (1, 1));
    let stats = client.session_stats();
    assert_eq!((stats.expiries, stats.recovered_401), (1, 0));

    // As an item stream (which prefetches two pages ahead), expiring mid-walk: the clock
    // moves at item 1250 (page 13) once the prefetches of pages 14 and 15 have reached the
    // server, so the fetch of page 16 is the first to find the token expired and refreshes
    // first.
    let mut items = list.clone().items();
    let mut streamed = Vec::new();
    while let Some(item) = items.next().await {
        let item = item.unwrap();
        if item.id == 1250 {
            // Counted once the page's token was judged (hits count on arrival).
            while sandbox.events_served() < 25 + 15 {
                tokio::task::yield_now().await;
            }
            clock.advance(HOUR);
        }
        streamed.push(item);
    }
    assert_eq!(streamed, seen);
    assert_eq!(client.session_stats().recovered_401, 0);
    assert_eq!(sandbox.hits(routes::EVENTS), 25 + 25);
    assert_eq!(token_calls(&sandbox), (1, 2));

    let pages: Vec<_> = list
        .with_max_items(250)
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[0].info.total_pages, Some(25));
    assert_eq!(pages[0].info.total_items, Some(2500));
    assert_eq!(pages[2].info.page, Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_pagination_malformed_or_partial() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/subscriptions/v2/Broken");
            then.status(200)
                .header("X-Pagination", "{\"current_Page\": 1, ")
                .body("[1,2,3]");
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/subscriptions/v2/Partial")
                .query_param("pageNumber", "1");
            then.status(200)
                .header("X-Pagination", r#"{"current_Page":1,"next_Page":"Yes"}"#)
                .body("[1,2]");
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/subscriptions/v2/Partial")
                .query_param("pageNumber", "2");
            then.status(200)
                .header("X-Pagination", r#"{"current_Page":2}"#)
                .body("[3]");
        })
        .await;
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Credentials::api_key("static-key"))
        .build()
        .unwrap();
    let e = client
        .list::<u32>("subscriptions", "Broken")
        .page(1)
        .await
        .unwrap_err();
    assert!(e.is_bad_response(), "{e:?}");
    assert_eq!(e.to_string(), "pagination metadata is not JSON (HTTP 200)");

    let all: Vec<u32> = client
        .list::<u32>("subscriptions", "Partial")
        .with_page_size(2)
        .items()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all, [1, 2, 3]);
    let e = client
        .list::<u32>("subscriptions", "Partial")
        .page(0)
        .await
        .unwrap_err();
    assert!(e.is_invalid_input());
    let e = client
        .list::<u32>("subscriptions", "Partial")
        .with_page_size(0)
        .page(1)
        .await
        .unwrap_err();
    assert!(e.is_invalid_input(), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbled_or_wrongly_typed_x_pagination_is_typed() {
    let server = MockServer::start_async().await;
    for (path, header) in [
        (
            "/subscriptions/v2/Garbled",
            "{\"current_Page\":1,\"note\":\"caf\u{e9}\"}",
        ),
        ("/subscriptions/v2/Array", "[1,2]"),
        ("/subscriptions/v2/Text", r#"{"current_Page":"first"}"#),
        ("/subscriptions/v2/Negative", r#"{"total_Pages":-3}"#),
        ("/subscriptions/v2/Flag", r#"{"next_Page":"Maybe"}"#),
    ] {
        server
            .mock_async(|when, then| {
                when.method(GET).path(path);
                then.status(200)
                    .header("Content-Type", "application/json")
                    .header("X-Pagination", header)
                    .body("[1]");
            })
            .await;
    }
    let client = Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Credentials::api_key("static-key"))
        .build()
        .unwrap();
    for endpoint in ["Garbled", "Array", "Text", "Negative", "Flag"] {
        let e = client
            .list::<u32>(Api::Subscriptions, endpoint)
            .page(1)
            .await
            .unwrap_err();
        assert!(
            e.is_bad_response() && e.status() == Some(200),
            "{endpoint}: {e:?}"
        );
        let mut items = client.list::<u32>(Api::Subscriptions, endpoint).items();
        assert!(items.next().await.unwrap().unwrap_err().is_bad_response());
        assert!(
            items.next().await.is_none(),
            "{endpoint}: the stream ends after an error"
        );
    }
}
