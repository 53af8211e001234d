//! Pagination: page metadata, a page type, and a paginator that streams pages or items,
//! fetching the next page while the current one is consumed.

use std::collections::HashSet;
use std::future::Future;

use futures::stream::{self, BoxStream, StreamExt as _};
use tokio::task::JoinHandle;

use crate::error::{Error, ErrorKind};

/// Where a page starts: a page number or an opaque cursor.
///
/// ```
/// use auth_core::PageToken;
/// assert_ne!(PageToken::Number(1), PageToken::Cursor("1".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PageToken {
    /// A 1-based page number.
    Number(u64),
    /// An opaque cursor from the previous page.
    Cursor(String),
}

/// What a server says about a page. Every field is optional: servers omit keys.
///
/// ```
/// let info = auth_core::PageInfo::from_json_header(r#"{"current_Page":2,"total_Pages":5}"#).unwrap();
/// assert_eq!(info.page, Some(2));
/// assert_eq!(info.next_page(), Some(auth_core::PageToken::Number(3)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PageInfo {
    /// The 1-based number of this page.
    pub page: Option<u64>,
    /// Items per page.
    pub page_size: Option<u64>,
    /// Pages in all.
    pub total_pages: Option<u64>,
    /// Items in all.
    pub total_items: Option<u64>,
    /// The cursor of the next page, for cursor APIs.
    pub next_cursor: Option<String>,
}

impl PageInfo {
    /// Parse page metadata sent as a JSON object (for example iPaaS.com's `X-Pagination`
    /// header). Keys are matched without regard to case or underscores: `current_Page`,
    /// `currentPage`, `pageNumber`, `page`; `pageSize`; `total_Pages`; `total_Count`,
    /// `totalItems`, `total`; `nextCursor`, `cursor`. Numbers may be JSON numbers or numeric
    /// strings; `null` counts as absent; unknown keys are ignored. Anything else is a typed
    /// [`ErrorKind::BadResponse`].
    ///
    /// ```
    /// use auth_core::PageInfo;
    /// assert!(PageInfo::from_json_header("{}").unwrap().page.is_none());
    /// assert!(PageInfo::from_json_header("not json").unwrap_err().is_bad_response());
    /// assert!(PageInfo::from_json_header(r#"{"pageSize":-1}"#).unwrap_err().is_bad_response());
    /// ```
    pub fn from_json_header(raw: &str) -> Result<Self, Error> {
        let bad = |what: &str| {
            Error::new(
                ErrorKind::BadResponse,
                format!("pagination metadata {what}"),
            )
        };
        let value: serde_json::Value =
            serde_json::from_str(raw.trim()).map_err(|_| bad("is not JSON"))?;
        let serde_json::Value::Object(map) = value else {
            return Err(bad("is not a JSON object"));
        };
        let mut info = PageInfo::default();
        for (key, v) in &map {
            let norm: String = key
                .chars()
                .filter(|c| *c != '_' && *c != '-')
                .flat_map(char::to_lowercase)
                .collect();
            let slot = match norm.as_str() {
                "currentpage" | "pagenumber" | "page" | "pageindex" => &mut info.page,
                "pagesize" | "perpage" | "limit" => &mut info.page_size,
                "totalpages" | "pagecount" => &mut info.total_pages,
                "totalcount" | "totalitems" | "total" | "totalrecords" => &mut info.total_items,
                "nextcursor" | "cursor" | "next" => {
                    info.next_cursor = match v {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) if s.is_empty() => None,
                        serde_json::Value::String(s) => Some(s.clone()),
                        _ => return Err(bad(&format!("key {key} is not a string"))),
                    };
                    continue;
                }
                _ => continue,
            };
            *slot = match v {
                serde_json::Value::Null => None,
                serde_json::Value::Number(n) => Some(n.as_u64().ok_or_else(|| {
                    bad(&format!("key {key} is not a whole non-negative number"))
                })?),
                serde_json::Value::String(s) => {
                    Some(s.trim().parse::<u64>().map_err(|_| {
                        bad(&format!("key {key} is not a whole non-negative number"))
                    })?)
                }
                _ => return Err(bad(&format!("key {key} is not a number"))),
            };
        }
        Ok(info)
    }

    /// The next page: the cursor if there is one, else `page + 1` while below `total_pages`.
    ///
    /// ```
    /// let mut info = auth_core::PageInfo::default();
    /// info.page = Some(5);
    /// info.total_pages = Some(5);
    /// assert_eq!(info.next_page(), None);
    /// ```
    pub fn next_page(&self) -> Option<PageToken> {
        if let Some(c) = &self.next_cursor {
            return Some(PageToken::Cursor(c.clone()));
        }
        match (self.page, self.total_pages) {
            (Some(p), Some(total)) if p < total => Some(PageToken::Number(p + 1)),
            _ => None,
        }
    }
}

/// One page of items, its metadata, and where the next page starts (`None` on the last).
///
/// ```
/// let page = auth_core::Page::new(vec![1, 2, 3], auth_core::PageInfo::default(), None);
/// assert_eq!(page.items.len(), 3);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// What the server said about the page.
    pub info: PageInfo,
    /// Where the next page starts; `None` when this is the last page.
    pub next: Option<PageToken>,
}

impl<T> Page<T> {
    /// A page.
    ///
    /// ```
    /// let p: auth_core::Page<u8> = auth_core::Page::new(vec![], Default::default(), None);
    /// assert!(p.next.is_none());
    /// ```
    pub fn new(items: Vec<T>, info: PageInfo, next: Option<PageToken>) -> Self {
        Page { items, info, next }
    }
}

/// Walks a paginated listing. `fetch` is called with each page's token and returns the page;
/// the next page is requested (on its own task) as soon as the current one arrives, so the
/// network works while the caller consumes items.
///
/// Stops at the last page, at an empty page, at `max_items` (without fetching pages it does
/// not need), or with a [`ErrorKind::BadResponse`] error when the server sends a page token
/// it already sent (a server that repeats a page would otherwise loop forever).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use futures::StreamExt;
/// use auth_core::{Page, PageInfo, PageToken, Paginator};
///
/// let items: Vec<u64> = Paginator::new(PageToken::Number(1), |token| async move {
///     let PageToken::Number(n) = token else { unreachable!() };
///     let next = (n < 3).then(|| PageToken::Number(n + 1));
///     Ok(Page::new(vec![n * 10, n * 10 + 1], PageInfo::default(), next))
/// })
/// .items()
/// .map(|r| r.unwrap())
/// .collect()
/// .await;
/// assert_eq!(items, vec![10, 11, 20, 21, 30, 31]);
/// # }
/// ```
pub struct Paginator<F> {
    first: PageToken,
    fetch: F,
    max_items: Option<usize>,
}

impl<F> std::fmt::Debug for Paginator<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paginator")
            .field("first", &self.first)
            .field("max_items", &self.max_items)
            .finish_non_exhaustive()
    }
}

struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Walk<T, F> {
    fetch: F,
    first: Option<PageToken>,
    pending: Option<AbortOnDrop<Result<Page<T>, Error>>>,
    queued_error: Option<Error>,
    seen: HashSet<PageToken>,
    received: usize,
    max_items: Option<usize>,
}

impl<F> Paginator<F> {
    /// A paginator starting at `first`.
    ///
    /// ```
    /// use auth_core::{Page, PageToken, Paginator};
    /// let p = Paginator::new(PageToken::Number(1), |_t| async { Ok(Page::<u8>::new(vec![], Default::default(), None)) });
    /// # drop(p);
    /// ```
    pub fn new<T, Fut>(first: PageToken, fetch: F) -> Self
    where
        F: FnMut(PageToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Page<T>, Error>> + Send + 'static,
        T: Send + 'static,
    {
        Paginator {
            first,
            fetch,
            max_items: None,
        }
    }

    /// Stop after `max` items; pages beyond them are never requested.
    ///
    /// ```
    /// use auth_core::{Page, PageToken, Paginator};
    /// let p = Paginator::new(PageToken::Number(1), |_t| async { Ok(Page::<u8>::new(vec![], Default::default(), None)) })
    ///     .max_items(10);
    /// # drop(p);
    /// ```
    pub fn max_items(mut self, max: usize) -> Self {
        self.max_items = Some(max);
        self
    }

    /// The pages, as a stream.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use futures::StreamExt;
    /// use auth_core::{Page, PageToken, Paginator};
    /// let pages: Vec<_> = Paginator::new(PageToken::Number(1), |_t| async {
    ///     Ok(Page::new(vec![1u8], Default::default(), None))
    /// }).pages().collect().await;
    /// assert_eq!(pages.len(), 1);
    /// # }
    /// ```
    pub fn pages<T, Fut>(self) -> BoxStream<'static, Result<Page<T>, Error>>
    where
        F: FnMut(PageToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Page<T>, Error>> + Send + 'static,
        T: Send + 'static,
    {
        let walk = Walk {
            fetch: self.fetch,
            first: Some(self.first),
            pending: None,
            queued_error: None,
            seen: HashSet::new(),
            received: 0,
            max_items: self.max_items,
        };
        stream::unfold(walk, |mut w| async move {
            if let Some(e) = w.queued_error.take() {
                w.first = None;
                w.pending = None;
                return Some((Err(e), w));
            }
            let handle = match w.pending.take() {
                Some(h) => h,
                None => {
                    let token = w.first.take()?;
                    w.seen.insert(token.clone());
                    AbortOnDrop(tokio::spawn((w.fetch)(token)))
                }
            };
            let page = match (&mut { handle }.0).await {
                Ok(Ok(page)) => page,
                Ok(Err(e)) => return Some((Err(e), w)),
                Err(join) => {
                    let e = Error::new(ErrorKind::Transient, "page fetch task failed")
                        .with_source(join);
                    return Some((Err(e), w));
                }
            };
            w.received = w.received.saturating_add(page.items.len());
            let wants_more = w.max_items.is_none_or(|m| w.received < m);
            match &page.next {
                Some(_) if page.items.is_empty() => {}
                Some(next) if w.seen.contains(next) => {
                    w.queued_error = Some(Error::new(
                        ErrorKind::BadResponse,
                        format!("server repeated a page ({next:?}); stopping to avoid a loop"),
                    ));
                }
                Some(next) if wants_more => {
                    w.seen.insert(next.clone());
                    w.pending = Some(AbortOnDrop(tokio::spawn((w.fetch)(next.clone()))));
                }
                _ => {}
            }
            Some((Ok(page), w))
        })
        .boxed()
    }

    /// The items of every page, in order, as a stream (truncated at `max_items`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use futures::StreamExt;
    /// use auth_core::{Page, PageToken, Paginator};
    /// let n = Paginator::new(PageToken::Number(1), |_t| async {
    ///     Ok(Page::new(vec![1u8, 2, 3], Default::default(), None))
    /// }).max_items(2).items().count().await;
    /// assert_eq!(n, 2);
    /// # }
    /// ```
    pub fn items<T, Fut>(self) -> BoxStream<'static, Result<T, Error>>
    where
        F: FnMut(PageToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Page<T>, Error>> + Send + 'static,
        T: Send + 'static,
    {
        let max = self.max_items.unwrap_or(usize::MAX);
        self.pages()
            .flat_map(|page| match page {
                Ok(p) => stream::iter(p.items.into_iter().map(Ok)).left_stream(),
                Err(e) => stream::iter(std::iter::once(Err(e))).right_stream(),
            })
            .take(max)
            .boxed()
    }
}
