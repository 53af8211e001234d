//! The `auth_core::lenient` serde readers inside a struct, from arbitrary JSON: no panic, and
//! `number` / `string_or_number` never fail an answer whatever JSON the field holds.
#![no_main]

use serde::Deserialize;

/// Every reader, on the types the vendor crates use them with.
#[derive(Debug, Deserialize)]
#[allow(dead_code, reason = "the fields are read only by Debug")]
struct Answer {
    #[serde(default, deserialize_with = "auth_core::lenient::null_as_default")]
    tags: Vec<String>,
    #[serde(default, deserialize_with = "auth_core::lenient::null_as_default")]
    title: String,
    #[serde(default, deserialize_with = "auth_core::lenient::null_as_default")]
    items: Vec<Answer>,
    #[serde(default, deserialize_with = "auth_core::lenient::number")]
    status: Option<u16>,
    #[serde(default, deserialize_with = "auth_core::lenient::number")]
    id: Option<i64>,
    #[serde(default, deserialize_with = "auth_core::lenient::number")]
    total: Option<u64>,
    #[serde(default, deserialize_with = "auth_core::lenient::number")]
    ratio: Option<f64>,
    #[serde(default, deserialize_with = "auth_core::lenient::string_or_number")]
    code: Option<String>,
}

/// Only the readers documented never to fail.
#[derive(Debug, Deserialize)]
#[allow(dead_code, reason = "the fields are read only by Debug")]
struct Tolerant {
    #[serde(default, deserialize_with = "auth_core::lenient::number")]
    status: Option<u16>,
    #[serde(default, deserialize_with = "auth_core::lenient::number")]
    id: Option<i64>,
    #[serde(default, deserialize_with = "auth_core::lenient::number")]
    ratio: Option<f64>,
    #[serde(default, deserialize_with = "auth_core::lenient::string_or_number")]
    code: Option<String>,
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let direct = serde_json::from_slice::<Answer>(data);
    let pipeline = auth_core::http::parse_json::<Answer>(data);
    assert_eq!(direct.is_ok(), pipeline.is_ok());
    if let Err(e) = pipeline {
        assert!(e.is_bad_response());
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(data) else {
        return;
    };
    // Re-serialized, so a duplicate key (which serde refuses for any struct) is gone.
    let text = serde_json::Value::Object(map).to_string();
    if let Err(e) = serde_json::from_str::<Tolerant>(&text) {
        panic!("a lenient number or id failed the answer: {e}");
    }
});
