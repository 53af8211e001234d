//! Pagination: page metadata, a page type, and a paginator that streams pages or items,
//! fetching the next pages while the current one is consumed.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::BuildHasher as _;
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt as _};
use tokio::sync::{Semaphore, mpsc};
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
/// let info = auth_core::provider::PageInfo::from_json_header(r#"{"current_Page":2,"total_Pages":5}"#).unwrap();
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
    /// Whether the server says another page follows (`next_Page: "Yes"`, `hasNext: true`).
    pub has_next: Option<bool>,
}

impl PageInfo {
    /// Parse page metadata sent as a JSON object (for example iPaaS.com's `X-Pagination`
    /// header). Keys are matched without regard to case or underscores: `current_Page`,
    /// `currentPage`, `pageNumber`, `page`; `pageSize`; `total_Pages`; `total_Count`,
    /// `totalItems`, `total`; `nextCursor`, `cursor` (not a bare `next`, which is often a URL). Numbers may be JSON numbers or numeric
    /// strings; `null` counts as absent; unknown keys are ignored. Anything else is a typed
    /// [`ErrorKind::BadResponse`].
    ///
    /// ```
    /// use auth_core::provider::PageInfo;
    /// assert!(PageInfo::from_json_header("{}").unwrap().page.is_none());
    /// assert!(PageInfo::from_json_header("not json").unwrap_err().is_bad_response());
    /// assert!(PageInfo::from_json_header(r#"{"pageSize":-1}"#).unwrap_err().is_bad_response());
    /// ```
    pub fn from_json_header(raw: &str) -> Result<Self, Error> {
        let value: serde_json::Value =
            serde_json::from_str(raw.trim()).map_err(|_| bad_meta("is not JSON"))?;
        let serde_json::Value::Object(map) = value else {
            return Err(bad_meta("is not a JSON object"));
        };
        Self::from_json_map(&map)
    }

    /// Read page metadata from the members of a JSON object (a header's JSON, or the
    /// members beside the items in a listing body), with the key rules of
    /// [`from_json_header`](Self::from_json_header). Also read: `next_Page` / `hasNext` /
    /// `hasMore` as `true`/`false` or `"Yes"`/`"No"`; `pages` for the page count and `count`
    /// for the item count.
    ///
    /// ```
    /// let body = serde_json::json!({"items": [], "pageNumber": "2", "next_Page": "No"});
    /// let info = auth_core::provider::PageInfo::from_json_map(body.as_object().unwrap()).unwrap();
    /// assert_eq!((info.page, info.has_next), (Some(2), Some(false)));
    /// ```
    pub fn from_json_map(map: &serde_json::Map<String, serde_json::Value>) -> Result<Self, Error> {
        let bad = bad_meta;
        let mut info = PageInfo::default();
        for (key, v) in map {
            let norm: String = key
                .chars()
                .filter(|c| *c != '_' && *c != '-')
                .flat_map(char::to_lowercase)
                .collect();
            let slot = match norm.as_str() {
                "currentpage" | "pagenumber" | "page" | "pageindex" => &mut info.page,
                "pagesize" | "perpage" | "limit" => &mut info.page_size,
                "totalpages" | "pagecount" | "pages" => &mut info.total_pages,
                "totalcount" | "totalitems" | "total" | "totalrecords" | "count" => {
                    &mut info.total_items
                }
                "nextpage" | "hasnext" | "hasnextpage" | "hasmore" => {
                    info.has_next = match v {
                        serde_json::Value::Null => None,
                        serde_json::Value::Bool(b) => Some(*b),
                        serde_json::Value::String(s) => {
                            match s.trim().to_ascii_lowercase().as_str() {
                                "yes" | "true" => Some(true),
                                "no" | "false" => Some(false),
                                _ => return Err(bad(&format!("key {key} is not yes/no"))),
                            }
                        }
                        _ => return Err(bad(&format!("key {key} is not yes/no"))),
                    };
                    continue;
                }
                "nextcursor" | "cursor" => {
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

    /// The next page after page `requested` that brought `received` items, deciding from
    /// whatever the server sent: a cursor; else nothing after an empty page; else
    /// `total_pages`; else `total_items` with `page_size`; else the `has_next` flag; else
    /// "a full page means more may follow".
    ///
    /// ```
    /// use auth_core::{PageToken, provider::PageInfo};
    /// let info = PageInfo::from_json_header(r#"{"current_Page":3,"pageSize":100}"#).unwrap();
    /// assert_eq!(info.next_after(3, 100), Some(PageToken::Number(4)));
    /// assert_eq!(info.next_after(3, 42), None);
    /// ```
    pub fn next_after(&self, requested: u64, received: usize) -> Option<PageToken> {
        if let Some(c) = &self.next_cursor {
            return Some(PageToken::Cursor(c.clone()));
        }
        if received == 0 {
            return None;
        }
        let current = self.page.unwrap_or(requested);
        let following = current.checked_add(1).map(PageToken::Number);
        if let Some(total) = self.total_pages {
            return if current < total { following } else { None };
        }
        if let (Some(total), Some(size)) = (self.total_items, self.page_size.filter(|s| *s > 0)) {
            return if current.saturating_mul(size) < total {
                following
            } else {
                None
            };
        }
        if let Some(more) = self.has_next {
            return if more { following } else { None };
        }
        match self.page_size {
            Some(size) if size > 0 && u64::try_from(received).is_ok_and(|r| r >= size) => following,
            _ => None,
        }
    }

    /// The next page: the cursor if there is one, else `page + 1` while below `total_pages`.
    ///
    /// ```
    /// let mut info = auth_core::provider::PageInfo::default();
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

fn bad_meta(what: &str) -> Error {
    Error::new(
        ErrorKind::BadResponse,
        format!("pagination metadata {what}"),
    )
}

/// One page of items, its metadata, and where the next page starts (`None` on the last).
///
/// ```
/// let page = auth_core::Page::new(vec![1, 2, 3], auth_core::provider::PageInfo::default(), None);
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
/// a task of the walk's own fetches the following pages while the caller consumes the
/// current one, up to [`prefetch`](Self::prefetch) pages ahead (2 by default), so the
/// network works while the caller does. Pages are still requested one after the other: a
/// page's token comes from the page before it.
///
/// Stops at the last page, at an empty page, at `max_items` (without fetching pages it does
/// not need), or with a [`ErrorKind::BadResponse`] error when the server sends a page token
/// it already sent (a server that repeats a page would otherwise loop forever). The guard
/// against repeats takes constant memory however long the walk: a repeat of any of the last
/// 32 tokens is caught before the page is requested again, and a longer loop (a server
/// cycling through more than 32 pages) by Brent's cycle detection over the token sequence,
/// after at most about twice the pages before and inside the loop again (whose items the
/// stream then yields a second time). Tokens are remembered as 64-bit keyed hashes: a false
/// "repeat" is a 1 in 2^58 event per page.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use futures::StreamExt;
/// use auth_core::{Page, PageToken, provider::{PageInfo, Paginator}};
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
    prefetch: usize,
}

impl<F> std::fmt::Debug for Paginator<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paginator")
            .field("first", &self.first)
            .field("max_items", &self.max_items)
            .field("prefetch", &self.prefetch)
            .finish_non_exhaustive()
    }
}

struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Pages fetched ahead of the consumer by default: with the server's latency and the
/// consumer's work per page about equal, one page ahead leaves no slack for either's jitter
/// (measured 1.59x the ideal wall time on two cores); two absorb it (see
/// `benches/paginate.rs`).
const DEFAULT_PREFETCH: usize = 2;

/// Where a walk stands.
enum Walk<T, F> {
    /// Not polled yet: nothing is fetched before the stream is (no runtime needed to build it).
    Idle {
        fetch: F,
        first: PageToken,
        max_items: Option<usize>,
        prefetch: usize,
    },
    /// The fetching task runs ahead; each page taken gives it room for one more.
    Running {
        pages: mpsc::UnboundedReceiver<Result<Page<T>, Error>>,
        room: Arc<Semaphore>,
        fetcher: AbortOnDrop<()>,
    },
    Done,
}

/// Remembers enough of the page tokens seen to stop a server that repeats a page, in
/// constant memory (no allocation at all): the keyed hashes of the last [`RECENT`] tokens,
/// and Brent's cycle detection (one saved token, re-saved at every power of two steps) for
/// loops longer than that.
struct RepeatGuard {
    keys: RandomState,
    recent: [u64; RECENT],
    filled: usize,
    next: usize,
    saved: Option<u64>,
    power: u64,
    steps: u64,
}

/// Tokens remembered exactly: a server that flips between a few pages or repeats the last
/// one, the usual failure, is stopped before the page is fetched again.
const RECENT: usize = 32;

impl RepeatGuard {
    fn new() -> Self {
        RepeatGuard {
            keys: RandomState::new(),
            recent: [0; RECENT],
            filled: 0,
            next: 0,
            saved: None,
            power: 1,
            steps: 0,
        }
    }

    /// Whether `token` repeats one seen; if not, remember it as the latest.
    fn is_repeat(&mut self, token: &PageToken) -> bool {
        let h = self.keys.hash_one(token);
        if self.recent[..self.filled].contains(&h) || self.saved == Some(h) {
            return true;
        }
        self.recent[self.next] = h;
        self.next = (self.next + 1) % RECENT;
        self.filled = (self.filled + 1).min(RECENT);
        self.steps += 1;
        if self.steps == self.power {
            self.saved = Some(h);
            self.power = self.power.saturating_mul(2);
            self.steps = 0;
        }
        false
    }
}

/// The walk's fetching task: requests page after page while there is room ahead of the
/// consumer, and stops where [`Paginator`] says.
async fn fetch_ahead<T, F, Fut>(
    mut fetch: F,
    first: PageToken,
    max_items: Option<usize>,
    out: mpsc::UnboundedSender<Result<Page<T>, Error>>,
    room: Arc<Semaphore>,
) where
    F: FnMut(PageToken) -> Fut,
    Fut: Future<Output = Result<Page<T>, Error>>,
{
    let mut guard = RepeatGuard::new();
    guard.is_repeat(&first);
    let mut token = first;
    let mut received: usize = 0;
    loop {
        // The consumer gives the room back as it takes pages; it closing ends the walk.
        let Ok(permit) = room.acquire().await else {
            return;
        };
        permit.forget();
        let page = match fetch(token).await {
            Ok(page) => page,
            Err(e) => {
                let _ = out.send(Err(e));
                return;
            }
        };
        received = received.saturating_add(page.items.len());
        let wants_more = max_items.is_none_or(|m| received < m);
        let next = match &page.next {
            Some(_) if page.items.is_empty() => None,
            Some(next) if guard.is_repeat(next) => {
                let e = Error::new(
                    ErrorKind::BadResponse,
                    format!("server repeated a page ({next:?}); stopping to avoid a loop"),
                );
                let _ = out.send(Ok(page));
                let _ = out.send(Err(e));
                return;
            }
            Some(next) if wants_more => Some(next.clone()),
            _ => None,
        };
        if out.send(Ok(page)).is_err() {
            return;
        }
        match next {
            Some(next) => token = next,
            None => return,
        }
    }
}

impl<F> Paginator<F> {
    /// A paginator starting at `first`.
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
            prefetch: DEFAULT_PREFETCH,
        }
    }

    /// Stop after `max` items; pages beyond them are never requested.
    pub fn max_items(mut self, max: usize) -> Self {
        self.max_items = Some(max);
        self
    }

    /// How many pages may be fetched (or be in flight) ahead of the one the caller holds;
    /// at least 1, default 2. With a server latency `S` and the caller's work per page `C`
    /// about equal, depth 1 loses every wobble of either (the next request starts only when
    /// the caller asks for the page), and 2 keeps the wall time near `max(S, C)` per page;
    /// more helps a server whose latency varies a lot, at the cost of holding that many
    /// pages in memory and of requesting pages a caller that stops early never reads.
    /// `max_items` is exact whatever the depth: pages are requested one after the other,
    /// and not past the page that reaches it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::sync::{Arc, Mutex};
    /// use futures::StreamExt;
    /// use auth_core::{Page, PageToken, provider::{PageInfo, Paginator}};
    /// let asked = Arc::new(Mutex::new(Vec::new()));
    /// let log = asked.clone();
    /// let mut pages = Paginator::new(PageToken::Number(1), move |token| {
    ///     let PageToken::Number(n) = token else { unreachable!() };
    ///     log.lock().unwrap().push(n);
    ///     async move { Ok(Page::new(vec![n], PageInfo::default(), Some(PageToken::Number(n + 1)))) }
    /// })
    /// .prefetch(3)
    /// .pages();
    /// let first = pages.next().await.unwrap().unwrap();
    /// assert_eq!(first.items, [1]);
    /// for _ in 0..10 { tokio::task::yield_now().await; }
    /// // While page 1 is held, pages 2 to 4 are fetched, and no more.
    /// assert_eq!(*asked.lock().unwrap(), [1, 2, 3, 4]);
    /// # }
    /// ```
    pub fn prefetch(mut self, pages: usize) -> Self {
        self.prefetch = pages.max(1);
        self
    }

    /// The pages, as a stream.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use futures::StreamExt;
    /// use auth_core::{Page, PageToken, provider::Paginator};
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
        let walk = Walk::Idle {
            fetch: self.fetch,
            first: self.first,
            max_items: self.max_items,
            prefetch: self.prefetch,
        };
        stream::unfold(walk, |state| async move {
            let (mut pages, room, mut fetcher) = match state {
                Walk::Idle {
                    fetch,
                    first,
                    max_items,
                    prefetch,
                } => {
                    let (out, pages) = mpsc::unbounded_channel();
                    let room = Arc::new(Semaphore::new(prefetch));
                    let task = fetch_ahead(fetch, first, max_items, out, room.clone());
                    (pages, room, AbortOnDrop(tokio::spawn(task)))
                }
                Walk::Running {
                    pages,
                    room,
                    fetcher,
                } => (pages, room, fetcher),
                Walk::Done => return None,
            };
            match pages.recv().await {
                Some(page) => {
                    // The caller now holds this page: room for one more ahead.
                    room.add_permits(1);
                    let next = Walk::Running {
                        pages,
                        room,
                        fetcher,
                    };
                    Some((page, next))
                }
                // The fetching task ended: at the end of the walk, or by a panic in `fetch`.
                None => match (&mut fetcher.0).await {
                    Err(join) if join.is_panic() => {
                        let e = Error::new(ErrorKind::Transient, "page fetch task failed")
                            .with_source(join);
                        Some((Err(e), Walk::Done))
                    }
                    _ => None,
                },
            }
        })
        .boxed()
    }

    /// The items of every page, in order, as a stream (truncated at `max_items`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use futures::StreamExt;
    /// use auth_core::{Page, PageToken, provider::Paginator};
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

#[cfg(test)]
mod tests {
    use super::*;

    fn info(raw: &str) -> PageInfo {
        PageInfo::from_json_header(raw).unwrap()
    }

    #[test]
    fn next_after_uses_the_best_evidence_available() {
        let n = |k| Some(PageToken::Number(k));
        // Cursor first, whatever else is said.
        assert_eq!(
            info(r#"{"nextCursor":"c2","total_Pages":1}"#).next_after(1, 0),
            Some(PageToken::Cursor("c2".into()))
        );
        // An empty page ends the walk.
        assert_eq!(info(r#"{"total_Pages":9}"#).next_after(1, 0), None);
        // Total pages.
        assert_eq!(
            info(r#"{"current_Page":2,"total_Pages":3}"#).next_after(2, 5),
            n(3)
        );
        assert_eq!(
            info(r#"{"current_Page":3,"total_Pages":3,"next_Page":"Yes"}"#).next_after(3, 5),
            None
        );
        // Total items with the page size.
        assert_eq!(
            info(r#"{"page":1,"pageSize":2,"total":3}"#).next_after(1, 2),
            n(2)
        );
        assert_eq!(
            info(r#"{"page":2,"pageSize":2,"total":3}"#).next_after(2, 1),
            None
        );
        // The next-page flag, in its spellings.
        assert_eq!(info(r#"{"next_Page":"Yes"}"#).next_after(4, 1), n(5));
        assert_eq!(
            info(r#"{"hasMore":false,"pageSize":1}"#).next_after(4, 1),
            None
        );
        // Else a full page means more may follow; a short one does not.
        assert_eq!(info(r#"{"pageSize":10}"#).next_after(1, 10), n(2));
        assert_eq!(info(r#"{"pageSize":10}"#).next_after(1, 9), None);
        // Nothing known: stop rather than walk forever.
        assert_eq!(info("{}").next_after(1, 10), None);
    }

    #[test]
    fn flags_and_body_keys_are_read_strictly() {
        assert!(
            PageInfo::from_json_header(r#"{"next_Page":"maybe"}"#)
                .unwrap_err()
                .is_bad_response()
        );
        assert!(
            PageInfo::from_json_header(r#"{"hasNext":1}"#)
                .unwrap_err()
                .is_bad_response()
        );
        let i = info(r#"{"pages":"4","count":40,"next":"https://example.com/p2"}"#);
        assert_eq!(
            (i.total_pages, i.total_items, i.next_cursor),
            (Some(4), Some(40), None)
        );
    }

    #[test]
    fn the_guard_stops_short_loops_at_once_and_long_ones_in_bounded_steps() {
        let n = PageToken::Number;
        // A walk of 100 000 distinct pages is never stopped.
        let mut g = RepeatGuard::new();
        assert!((1..=100_000).all(|p| !g.is_repeat(&n(p))));
        // A server flipping between two pages, or repeating the last one: at once.
        for cycle in [vec![1, 2, 1], vec![7, 7], vec![1, 2, 3, 4, 5, 3]] {
            let mut g = RepeatGuard::new();
            let last = cycle.len() - 1;
            for (i, p) in cycle.into_iter().enumerate() {
                assert_eq!(g.is_repeat(&n(p)), i == last, "page {p} at {i}");
            }
        }
        // A loop of `period` pages after `tail` distinct ones: caught at the first repeat
        // while the loop fits the last 32 tokens, else within about 2 x (tail + period).
        for (tail, period) in [(0, 32), (10, 20), (0, 33), (5, 100), (1000, 999), (3, 5000)] {
            let mut g = RepeatGuard::new();
            let page = |i: u64| {
                if i < tail {
                    i
                } else {
                    tail + (i - tail) % period
                }
            };
            let stopped = (0..).find(|i| g.is_repeat(&n(page(*i)))).unwrap();
            let first_repeat = tail + period;
            if period <= RECENT as u64 {
                assert_eq!(stopped, first_repeat, "{tail} {period}");
            } else {
                assert!(stopped >= first_repeat, "{tail} {period}: {stopped}");
                assert!(
                    stopped <= first_repeat + 2 * (tail + period),
                    "{tail} {period}: stopped at {stopped}"
                );
            }
        }
        // Cursors as much as numbers, and the guard's size does not depend on them.
        let mut g = RepeatGuard::new();
        assert!(!g.is_repeat(&PageToken::Cursor("a".repeat(10_000))));
        assert!(g.is_repeat(&PageToken::Cursor("a".repeat(10_000))));
        assert!(std::mem::size_of::<RepeatGuard>() <= 320);
    }
}
