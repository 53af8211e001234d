//! `PageInfo::from_json_map` (page metadata beside the items of a listing) and `next_after`.
//!
//! Bytes 0-7: the requested page number; bytes 8-11: how many items the page brought; the
//! rest: the JSON object. Checks: the map and the same object as a header read alike, and a
//! next page number is always the current page plus one.
#![no_main]

use auth_core::{PageToken, provider::PageInfo};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let (head, json) = data.split_at(12);
    let requested = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    let received = u32::from_le_bytes(head[8..].try_into().expect("4 bytes")) as usize;
    let Ok(map) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(json) else {
        return;
    };
    let info = PageInfo::from_json_map(&map);
    let as_header = PageInfo::from_json_header(&serde_json::Value::Object(map).to_string());
    assert_eq!(info.as_ref().ok(), as_header.as_ref().ok());
    let Ok(info) = info else {
        return;
    };
    match info.next_after(requested, received) {
        Some(PageToken::Number(n)) => {
            let current = info.page.unwrap_or(requested);
            assert!(received > 0, "a next page after an empty one: {info:?}");
            assert_eq!(Some(n), current.checked_add(1), "{info:?}");
        }
        Some(PageToken::Cursor(c)) => assert_eq!(info.next_cursor.as_deref(), Some(c.as_str())),
        Some(other) => panic!("unknown token {other:?}"),
        None => {}
    }
});
