//! Paging through any iPaaS.com list endpoint: `pageNumber`/`pageSize` query parameters and
//! the `X-Pagination` JSON header, tolerant of missing keys.

use std::fmt;
use std::marker::PhantomData;

use auth_core::reqwest::Method;
use auth_core::{
    Error, ErrorKind, Page, PageToken, Result,
    http::read_json,
    provider::{PageInfo, Paginator},
};
use futures::stream::BoxStream;
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::config::{Api, DEFAULT_VERSION};

/// The response header carrying page metadata.
pub(crate) const PAGINATION_HEADER: &str = "X-Pagination";

/// A paged list request, built by [`Client::list`]. Fetch one page, or stream pages or
/// items (the next page is fetched while the current one is consumed).
///
/// ```no_run
/// # async fn run(client: ipaas_com::Client) -> ipaas_com::Result<()> {
/// let page = client
///     .list::<serde_json::Value>(ipaas_com::Api::Subscriptions, "Events")
///     .with_page_size(50)
///     .page(2)
///     .await?;
/// println!("{} items, page {:?} of {:?}", page.items.len(), page.info.page, page.info.total_pages);
/// # Ok(()) }
/// ```
#[must_use = "a list request does nothing until paged"]
pub struct ListRequest<T> {
    client: Client,
    api: Api,
    endpoint: String,
    version: String,
    query: Vec<(String, String)>,
    page_size: Option<u64>,
    max_items: Option<usize>,
    _item: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for ListRequest<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Like auth-core's `AuthorizedRequest`: the endpoint and query may hold secrets or
        // personal data, so only their shape is shown.
        f.debug_struct("ListRequest")
            .field("api", &self.api)
            .field("version", &self.version)
            .field("query_params", &self.query.len())
            .field("page_size", &self.page_size)
            .field("max_items", &self.max_items)
            .finish_non_exhaustive()
    }
}

impl<T> Clone for ListRequest<T> {
    fn clone(&self) -> Self {
        ListRequest {
            client: self.client.clone(),
            api: self.api.clone(),
            endpoint: self.endpoint.clone(),
            version: self.version.clone(),
            query: self.query.clone(),
            page_size: self.page_size,
            max_items: self.max_items,
            _item: PhantomData,
        }
    }
}

impl<T> ListRequest<T> {
    pub(crate) fn new(client: Client, api: Api, endpoint: String) -> Self {
        ListRequest {
            client,
            api,
            endpoint,
            version: DEFAULT_VERSION.to_owned(),
            query: Vec::new(),
            page_size: None,
            max_items: None,
            _item: PhantomData,
        }
    }

    /// Ask for `size` items per page (`pageSize`); the server's default otherwise.
    ///
    /// ```no_run
    /// # fn f(client: ipaas_com::Client) {
    /// let l = client.list::<serde_json::Value>("subscriptions", "Events").with_page_size(100);
    /// # }
    /// ```
    pub fn with_page_size(mut self, size: u64) -> Self {
        self.page_size = Some(size);
        self
    }

    /// Add a filter query parameter.
    ///
    /// ```no_run
    /// # fn f(client: ipaas_com::Client) {
    /// let l = client.list::<serde_json::Value>("subscriptions", "Events").with_query("status", "open");
    /// # }
    /// ```
    pub fn with_query(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((key.into(), value.to_string()));
        self
    }

    /// Use another API version than `v2`.
    ///
    /// ```no_run
    /// # fn f(client: ipaas_com::Client) {
    /// let l = client.list::<serde_json::Value>("hookapi", "Hooks").with_version("v1");
    /// # }
    /// ```
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Stop after `max` items.
    ///
    /// ```no_run
    /// # fn f(client: ipaas_com::Client) {
    /// let l = client.list::<serde_json::Value>("subscriptions", "Events").with_max_items(250);
    /// # }
    /// ```
    pub fn with_max_items(mut self, max: usize) -> Self {
        self.max_items = Some(max);
        self
    }
}

impl<T: DeserializeOwned + Send + 'static> ListRequest<T> {
    /// Fetch page `number` (1-based).
    ///
    /// ```no_run
    /// # async fn run(client: ipaas_com::Client) -> ipaas_com::Result<()> {
    /// let first = client.list::<serde_json::Value>("subscriptions", "Events").page(1).await?;
    /// # Ok(()) }
    /// ```
    pub async fn page(&self, number: u64) -> Result<Page<T>> {
        if number == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "page numbers start at 1",
            ));
        }
        if self.page_size == Some(0) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "page size must be at least 1",
            ));
        }
        let mut url = self.client.url(&self.api, &self.version, &self.endpoint)?;
        {
            let mut q = url.query_pairs_mut();
            q.extend_pairs(&self.query);
            q.append_pair("pageNumber", &number.to_string());
            if let Some(size) = self.page_size {
                q.append_pair("pageSize", &size.to_string());
            }
        }
        let resp = self.client.send_raw(Method::GET, url, None).await?;
        let status = resp.status().as_u16();
        let raw = match resp.headers().get(PAGINATION_HEADER) {
            Some(v) => Some(v.to_str().map_err(|_| {
                Error::new(
                    ErrorKind::BadResponse,
                    "pagination metadata is not valid header text",
                )
                .with_status(status)
            })?),
            None => None,
        };
        let mut info = match raw {
            Some(raw) => PageInfo::from_json_header(raw).map_err(|e| e.with_status(status))?,
            None => PageInfo::default(),
        };
        let items: Vec<T> = read_json(resp).await?;
        if info.page_size.is_none() {
            info.page_size = self.page_size;
        }
        // Only current_Page and total_Pages are certain; next_after falls back to the
        // next_Page flag, then to "a full page means more".
        let next = info.next_after(number, items.len());
        info.page.get_or_insert(number);
        Ok(Page::new(items, info, next))
    }

    /// Stream the pages, starting at page 1.
    ///
    /// ```no_run
    /// # async fn run(client: ipaas_com::Client) -> ipaas_com::Result<()> {
    /// use futures::StreamExt as _;
    /// let mut pages = client.list::<serde_json::Value>("subscriptions", "Events").pages();
    /// while let Some(page) = pages.next().await {
    ///     println!("{} items", page?.items.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn pages(self) -> BoxStream<'static, Result<Page<T>>> {
        self.paginator().pages()
    }

    /// Stream the items of every page, in order, starting at page 1.
    ///
    /// ```no_run
    /// # async fn run(client: ipaas_com::Client) -> ipaas_com::Result<()> {
    /// use futures::TryStreamExt as _;
    /// let all: Vec<serde_json::Value> =
    ///     client.list("subscriptions", "Events").items().try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn items(self) -> BoxStream<'static, Result<T>> {
        self.paginator().items()
    }

    #[allow(clippy::type_complexity)]
    fn paginator(
        self,
    ) -> Paginator<
        impl FnMut(PageToken) -> futures::future::BoxFuture<'static, Result<Page<T>>> + Send + 'static,
    > {
        let max = self.max_items;
        let fetch =
            move |token: PageToken| -> futures::future::BoxFuture<'static, Result<Page<T>>> {
                let me = self.clone();
                Box::pin(async move {
                    match token {
                        PageToken::Number(n) => me.page(n).await,
                        _ => Err(Error::new(
                            ErrorKind::BadResponse,
                            "iPaaS.com pages by number, not by cursor",
                        )),
                    }
                })
            };
        let p = Paginator::new(PageToken::Number(1), fetch);
        match max {
            Some(m) => p.max_items(m),
            None => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(raw: &str) -> PageInfo {
        PageInfo::from_json_header(raw).unwrap()
    }

    #[test]
    fn next_from_total_pages_flag_or_full_page() {
        let full = r#"{"total_Count":165,"page_Size":100,"current_Page":1,"total_Pages":2,"previous_Page":"No","next_Page":"Yes"}"#;
        assert_eq!(info(full).next_after(1, 100), Some(PageToken::Number(2)));
        let last = r#"{"current_Page":2,"total_Pages":2,"next_Page":"Yes"}"#;
        assert_eq!(info(last).next_after(2, 65), None);
        let flag_only = r#"{"current_Page":3,"next_Page":"No"}"#;
        assert_eq!(info(flag_only).has_next, Some(false));
        assert_eq!(info(flag_only).next_after(3, 10), None);
        let bare = r#"{"current_Page":3}"#;
        let mut i = info(bare);
        i.page_size = Some(10);
        assert_eq!(i.next_after(3, 10), Some(PageToken::Number(4)));
        assert_eq!(i.next_after(3, 9), None);
        assert_eq!(i.next_after(3, 0), None);
    }
}
