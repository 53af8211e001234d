//! `PageInfo::from_json_header` (iPaaS.com's `X-Pagination`) on arbitrary text, and the next
//! page it leads to.
#![no_main]

use auth_core::{PageToken, provider::PageInfo};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(info) = PageInfo::from_json_header(text) else {
        return;
    };
    match info.next_page() {
        Some(PageToken::Number(n)) => {
            let (Some(page), Some(total)) = (info.page, info.total_pages) else {
                panic!("a next page number without page and total: {info:?}");
            };
            assert!(page < total && n == page + 1, "{info:?} -> {n}");
        }
        Some(PageToken::Cursor(c)) => assert_eq!(info.next_cursor.as_deref(), Some(c.as_str())),
        Some(other) => panic!("unknown token {other:?}"),
        None => {}
    }
    for (requested, received) in [(1, 0), (1, 1), (u64::MAX, usize::MAX)] {
        let _ = info.next_after(requested, received);
    }
});
