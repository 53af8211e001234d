//! Paging IQM's list endpoints: over the sandbox's campaign list (every row once and in
//! order, exact page requests, `max_items`, both paging styles, a filter, a POST body, a
//! 401 mid-stream, the page request's wire shape), and over httpmock for the answers the
//! sandbox never gives (malformed pages, a server that repeats a page).

use futures::{StreamExt as _, TryStreamExt as _};
use httpmock::Method::{GET, POST};
use httpmock::MockServer;
use iqm::sandbox::{Fault, Sandbox};
use iqm::{Client, ErrorKind, MAX_PAGE_SIZE, PageToken, Paging};
use serde_json::{Value, json};

#[derive(Debug, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Campaign {
    id: u64,
    campaign_name: String,
}

const PATH: &str = Sandbox::CAMPAIGNS_PATH;

async fn sandbox(campaigns: u64) -> (Sandbox, Client) {
    let sandbox = Sandbox::builder().campaigns(campaigns).start().await;
    let client = sandbox.client_builder().build().unwrap();
    (sandbox, client)
}

/// The query of every page request the sandbox saw, in arrival order.
fn page_queries(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .recorder()
        .all()
        .into_iter()
        .filter_map(|r| {
            r.path_and_query
                .strip_prefix(PATH)
                .map(|q| format!("{} {}", r.method, q.trim_start_matches('?')))
        })
        .collect()
}

fn ids(campaigns: &[Campaign]) -> Vec<u64> {
    campaigns.iter().map(|c| c.id).collect()
}

#[tokio::test]
async fn twenty_five_pages_in_order_every_row_once() {
    let (sandbox, client) = sandbox(2_500).await;
    let pages: Vec<_> = client
        .list::<Campaign>(PATH)
        .with_page_size(100)
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 25);
    for (i, page) in pages.iter().enumerate() {
        let n = i as u64 + 1;
        assert_eq!(page.items.len(), 100, "page {n}");
        assert_eq!(page.info.page, Some(n));
        assert_eq!(page.info.page_size, Some(100));
        assert_eq!(page.info.total_items, Some(2_500));
        assert_eq!(page.info.total_pages, Some(25));
        let next = (n < 25).then_some(PageToken::Number(n + 1));
        assert_eq!(page.next, next, "page {n}");
        assert_eq!(page.info.has_next, Some(n < 25));
    }
    let rows: Vec<Campaign> = pages.into_iter().flat_map(|p| p.items).collect();
    assert_eq!(ids(&rows), (1..=2_500).collect::<Vec<_>>());
    assert_eq!(rows[1_233].campaign_name, "campaign-1234");
    // One request per page, in order, and none past the last (its rows reach the total).
    assert_eq!(sandbox.hits("campaigns"), 25);
    let expected: Vec<String> = (1..=25)
        .map(|n| format!("GET pageNo={n}&noOfEntries=100"))
        .collect();
    assert_eq!(page_queries(&sandbox), expected);
    assert_eq!(sandbox.hits("login"), 1);

    // The item stream walks the same rows with the default page size, 100.
    let rows: Vec<Campaign> = client.list(PATH).items().try_collect().await.unwrap();
    assert_eq!(ids(&rows), (1..=2_500).collect::<Vec<_>>());
    assert_eq!(sandbox.hits("campaigns"), 50);
}

#[tokio::test]
async fn max_items_is_honoured_and_no_page_past_it_is_requested() {
    let (sandbox, client) = sandbox(2_500).await;
    // (max_items, page size) -> rows, page requests, the queries sent.
    let cases: &[(usize, u64, usize, &[&str])] = &[
        (
            250,
            100,
            250,
            &[
                "GET pageNo=1&noOfEntries=100",
                "GET pageNo=2&noOfEntries=100",
                "GET pageNo=3&noOfEntries=100",
            ],
        ),
        (
            300,
            100,
            300,
            &[
                "GET pageNo=1&noOfEntries=100",
                "GET pageNo=2&noOfEntries=100",
                "GET pageNo=3&noOfEntries=100",
            ],
        ),
        // Below the page size: only that many rows are asked for.
        (40, 100, 40, &["GET pageNo=1&noOfEntries=40"]),
        // Nothing wanted: nothing sent.
        (0, 100, 0, &[]),
    ];
    for (max, size, rows, queries) in cases {
        sandbox.recorder().clear();
        let before = sandbox.hits("campaigns");
        let got: Vec<Campaign> = client
            .list(PATH)
            .with_page_size(*size)
            .with_max_items(*max)
            .items()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(
            ids(&got),
            (1..=*rows as u64).collect::<Vec<_>>(),
            "max {max}"
        );
        assert_eq!(
            sandbox.hits("campaigns") - before,
            queries.len() as u64,
            "max {max}"
        );
        assert_eq!(page_queries(&sandbox), *queries, "max {max}");
    }
}

#[tokio::test]
async fn offset_and_limit_paging_and_the_filtered_count() {
    let (sandbox, client) = sandbox(250).await;
    let pages: Vec<_> = client
        .list::<Campaign>(PATH)
        .with_paging(Paging::Offset)
        .with_page_size(100)
        .pages()
        .try_collect()
        .await
        .unwrap();
    let sizes: Vec<usize> = pages.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    let nexts: Vec<Option<PageToken>> = pages.iter().map(|p| p.next.clone()).collect();
    assert_eq!(
        nexts,
        [
            Some(PageToken::Cursor("100".into())),
            Some(PageToken::Cursor("200".into())),
            None
        ]
    );
    let pages_seen: Vec<Option<u64>> = pages.iter().map(|p| p.info.page).collect();
    assert_eq!(pages_seen, [Some(1), Some(2), Some(3)]);
    let rows: Vec<Campaign> = pages.into_iter().flat_map(|p| p.items).collect();
    assert_eq!(ids(&rows), (1..=250).collect::<Vec<_>>());
    assert_eq!(
        page_queries(&sandbox),
        [
            "GET offset=0&limit=100",
            "GET offset=100&limit=100",
            "GET offset=200&limit=100"
        ]
    );

    // A filter: 43 of the 250 names hold a 7. The walk goes by filteredRecords (43), not
    // totalRecords (250): a full page of 43 is the last, and no empty page is asked for.
    for (paging, size, requests) in [
        (Paging::PageNumber, 43, 1),
        (Paging::Offset, 43, 1),
        (Paging::PageNumber, 10, 5),
        (Paging::Offset, 10, 5),
    ] {
        sandbox.recorder().clear();
        let rows: Vec<Campaign> = client
            .list(PATH)
            .with_paging(paging)
            .with_page_size(size)
            .with_query("searchField", 7)
            .items()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(rows.len(), 43, "{paging:?} {size}");
        assert!(rows.iter().all(|c| c.campaign_name.contains('7')));
        assert!(rows.windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(page_queries(&sandbox).len(), requests, "{paging:?} {size}");
    }
}

#[tokio::test]
async fn a_post_list_carries_its_filters_and_paging_in_the_body() {
    let (sandbox, client) = sandbox(250).await;
    let rows: Vec<Campaign> = client
        .list(PATH)
        .with_body(&json!({"searchField": "7", "pageNo": 99}))
        .with_page_size(20)
        .items()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 43);
    assert_eq!(sandbox.hits("campaigns"), 3);
    let body: Value = serde_json::from_str(
        &sandbox
            .recorder()
            .all()
            .into_iter()
            .rfind(|r| r.path_and_query == PATH)
            .unwrap()
            .body,
    )
    .unwrap();
    // The paging fields replace the caller's of the same name.
    assert_eq!(
        body,
        json!({"searchField": "7", "pageNo": 3, "noOfEntries": 20})
    );
    let shown = sandbox.recorder().last(PATH).unwrap();
    assert!(
        shown.contains("authorization: Bearer [REDACTED]"),
        "{shown}"
    );
    insta::assert_snapshot!("list_page_post", shown);

    // A body that is not a JSON object is refused before anything is sent.
    let e = client
        .list::<Campaign>(PATH)
        .with_body(&[1, 2])
        .items()
        .next()
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(sandbox.hits("campaigns"), 3);
}

#[tokio::test]
async fn the_page_request_wire_shape() {
    let (sandbox, client) = sandbox(5).await;
    let rows: Vec<Campaign> = client
        .list(PATH)
        .with_page_size(2)
        .with_query("sortBy", "-id")
        .items()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids(&rows), [1, 2, 3, 4, 5]);
    assert_eq!(sandbox.hits("campaigns"), 3);
    let shown = sandbox.recorder().last(PATH).unwrap();
    let lease = client.session().current().unwrap();
    let token = lease.tokens().access_token().expose();
    assert!(!shown.contains(token), "the access token leaked:\n{shown}");
    assert!(
        shown.contains("authorization: Bearer [REDACTED]"),
        "{shown}"
    );
    insta::assert_snapshot!("list_page", shown);
}

#[tokio::test]
async fn a_401_mid_stream_is_recovered_once() {
    let (sandbox, client) = sandbox(2_500).await;
    let mut pages = client.list::<Campaign>(PATH).pages();
    let mut rows = Vec::new();
    let mut taken = 0;
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        taken += 1;
        if taken == 3 {
            // The next page request is answered 401 once: renewed, retried, walk goes on.
            sandbox.inject(Fault::unauthorized());
        }
        rows.extend(page.items);
    }
    assert_eq!(taken, 25);
    assert_eq!(ids(&rows), (1..=2_500).collect::<Vec<_>>());
    // 25 pages and the one refused request.
    assert_eq!(sandbox.hits("campaigns"), 26);
    let queries = page_queries(&sandbox);
    let repeated: Vec<&String> = queries
        .iter()
        .enumerate()
        .filter(|(i, q)| queries[..*i].contains(q))
        .map(|(_, q)| q)
        .collect();
    assert_eq!(
        repeated.len(),
        1,
        "exactly one page asked twice: {queries:?}"
    );
    let s = client.session_stats();
    assert_eq!((s.recovered_401, s.sign_ins, s.refreshes), (1, 1, 1));
    assert_eq!(sandbox.token_requests(), 2);
}

#[tokio::test]
async fn a_page_size_out_of_range_is_refused_before_anything_is_sent() {
    let (sandbox, client) = sandbox(10).await;
    for size in [0, MAX_PAGE_SIZE + 1, u64::MAX] {
        let mut stream = client.list::<Campaign>(PATH).with_page_size(size).items();
        let e = stream.next().await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{size}");
        assert_eq!(e.to_string(), "iqm list pages hold 1 to 1000 rows");
        assert!(stream.next().await.is_none());
    }
    assert_eq!(
        (sandbox.hits("campaigns"), sandbox.token_requests()),
        (0, 0)
    );
    // The largest page is served whole.
    let (sandbox, client) = self::sandbox(1_500).await;
    let sizes: Vec<usize> = client
        .list::<Campaign>(PATH)
        .with_page_size(MAX_PAGE_SIZE)
        .pages()
        .map_ok(|p| p.items.len())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(sizes, [1_000, 500]);
    assert_eq!(sandbox.hits("campaigns"), 2);
}

#[tokio::test]
async fn the_sandbox_enforces_the_paging_rules() {
    let (sandbox, client) = sandbox(30).await;
    client.login().await.unwrap();
    for (query, field) in [
        ("noOfEntries=0", "noOfEntries"),
        ("noOfEntries=1001", "noOfEntries"),
        ("limit=x", "limit"),
        ("pageNo=0", "pageNo"),
        ("offset=-1", "offset"),
    ] {
        let e = client
            .get_data::<Value>(&format!("{PATH}?{query}"))
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(422), "{query}");
        let detail = iqm::ErrorExt::iqm_error(&e).unwrap();
        assert_eq!(
            detail.error_objects[0].field.as_deref(),
            Some(field),
            "{query}"
        );
    }
    // Defaults (page 1 of 20), and `offset` winning over `pageNo`.
    let page: Value = client.get_data(PATH).await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 20);
    assert_eq!(
        (&page["totalRecords"], &page["filteredRecords"]),
        (&json!(30), &json!(30))
    );
    let page: Value = client
        .get_data(&format!("{PATH}?pageNo=3&offset=25&limit=10"))
        .await
        .unwrap();
    let got: Vec<u64> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(got, [26, 27, 28, 29, 30]);
    // The five refusals and the two pages, each one request (a 422 is not retried).
    assert_eq!(sandbox.hits("campaigns"), 7);
}

/// A client with the sandbox's credentials logged in to `server` (workspace 7).
async fn on_mock(server: &MockServer) -> Client {
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v3/ua/oauth/token");
            then.status(200)
                .header("content-type", "application/json")
                .body(
                    json!({"success": true, "data": {"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600, "owId": 7}})
                        .to_string(),
                );
        })
        .await;
    Client::builder()
        .with_base_url(server.base_url())
        .with_credentials(Sandbox::credentials())
        .build()
        .unwrap()
}

#[tokio::test]
async fn malformed_pages_are_typed_errors() {
    let cases: &[(Value, &str)] = &[
        (
            json!({"success": true, "data": {"totalRecords": 3, "filteredRecords": 3}}),
            "iqm list answer has no rows array",
        ),
        (
            json!({"success": true, "data": {"data": [{"id": 1, "campaignName": "a"}], "totalRecords": "many"}}),
            "iqm list answer's `totalRecords` is not a whole non-negative number",
        ),
        (
            json!({"success": true, "data": {"data": [{"id": "one", "campaignName": "a"}]}}),
            "iqm list row 0 does not have the expected fields or types",
        ),
        (
            json!({"success": true, "data": {"data": [{"id": 1, "campaignName": "a"}, {"id": 2}]}}),
            "iqm list row 1 does not have the expected fields or types",
        ),
        (
            json!({"success": true, "data": "rows"}),
            "iqm list answer has no object of rows and counts",
        ),
    ];
    for (body, message) in cases {
        let server = MockServer::start_async().await;
        let client = on_mock(&server).await;
        let list = server
            .mock_async(|when, then| {
                when.method(GET)
                    .path("/api/v3/list")
                    .header("x-iaa-ow-id", "7");
                then.status(200)
                    .header("content-type", "application/json")
                    .body(body.to_string());
            })
            .await;
        let mut stream = client.list::<Campaign>("/api/v3/list").items();
        let e = stream.next().await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadResponse, "{body}");
        assert_eq!(e.status(), Some(200));
        assert_eq!(e.to_string().split(" (HTTP").next(), Some(*message));
        assert!(stream.next().await.is_none(), "{body}: the walk ends");
        list.assert_calls_async(1).await;
    }
}

#[tokio::test]
async fn a_server_that_repeats_its_page_is_stopped() {
    let server = MockServer::start_async().await;
    let client = on_mock(&server).await;
    // Full pages of the same two rows whatever the page asked, and no counts.
    let list = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v3/list");
            then.status(200)
                .header("content-type", "application/json")
                .body(
                    json!({"success": true, "data": {"inventoryDataList": [
                        {"id": 1, "campaignName": "a"}, {"id": 2, "campaignName": "b"}
                    ]}})
                    .to_string(),
                );
        })
        .await;
    let got: Vec<Result<Campaign, iqm::Error>> = client
        .list("/api/v3/list")
        .with_rows_key("inventoryDataList")
        .with_page_size(2)
        .items()
        .collect()
        .await;
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].as_ref().unwrap().id, 1);
    assert_eq!(got[1].as_ref().unwrap().id, 2);
    let e = got[2].as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadResponse);
    assert_eq!(
        e.to_string(),
        "iqm answered the same rows for pageNo 2 as for the page before; stopping to avoid \
         a loop (HTTP 200)"
    );
    list.assert_calls_async(2).await;
}
