//! Finding a secret in text (and in parsed data) however a vendor echoed it, and cutting it
//! out.
//!
//! Vendors echo what they were sent: raw, inside a JSON string (short escapes such as `\"`
//! and `\/`, or `\u0026`-style escapes as Go and .NET servers write them), form- or
//! percent-encoded (upper or lower hex), or as HTML character references in an error page.
//! Servers mix these freely within one string, so the matcher does not enumerate whole
//! encoded forms: it walks the secret one character at a time and accepts, at each step,
//! any encoding of that character. The set of text positions reachable after each
//! character is kept (an NFA walk), so no encoding choice can hide a match from another.

use secrecy::{ExposeSecret, SecretString};

/// What a removed secret is replaced by.
pub(crate) const MARKER: &str = "[REDACTED]";

/// The most bytes one byte of a secret can take once echoed: `\u0026` is 6 for 1, a
/// decimal character reference with leading zeros (`&#0000038;`, at most [`MAX_REF_DIGITS`]
/// digits) is 10 for 1; percent-encoding is 3 for 1 and a `\u` surrogate pair 12 for 4.
pub(crate) const MAX_EXPANSION: usize = 10;

/// Digits accepted in an HTML numeric character reference (bounds [`MAX_EXPANSION`]).
const MAX_REF_DIGITS: usize = 7;

/// Secrets shorter than this are not scrubbed: one or two characters would garble every
/// message and protect nothing.
const MIN_SECRET: usize = 3;

/// How many bytes an echo of `secrets` can take at most: the read window past an error
/// body's bound, so that a secret beginning before the bound is read whole and removed.
pub(crate) fn longest_echo(secrets: &[&SecretString]) -> usize {
    secrets
        .iter()
        .map(|s| s.expose_secret().len())
        .max()
        .unwrap_or(0)
        .saturating_mul(MAX_EXPANSION)
}

/// `text` with every echo of every secret replaced by [`MARKER`].
pub(crate) fn scrub_text(text: &str, secrets: &[&SecretString]) -> String {
    let secrets: Vec<&str> = secrets
        .iter()
        .map(|s| s.expose_secret())
        .filter(|s| s.chars().count() >= MIN_SECRET)
        .collect();
    if secrets.is_empty() {
        return text.to_owned();
    }
    let mut out = text.to_owned();
    // A replacement can form a new echo with its neighbours (a secret that overlaps the
    // marker's own text): scrub again until nothing matches ...
    for _ in 0..4 {
        match replace_matches(&out, &secrets, MARKER) {
            Some(next) => out = next,
            None => return out,
        }
    }
    // ... and if that does not settle, cut matches out with no marker at all: the text
    // shrinks every round, so this ends, and it ends with no echo left.
    while let Some(next) = replace_matches(&out, &secrets, "") {
        out = next;
    }
    out
}

/// Whether `text` holds an echo of any of `secrets`.
pub(crate) fn contains_secret(text: &str, secrets: &[&SecretString]) -> bool {
    secrets
        .iter()
        .map(|s| s.expose_secret())
        .filter(|s| s.chars().count() >= MIN_SECRET)
        .any(|s| (0..text.len()).any(|at| match_at(text.as_bytes(), at, s).is_some()))
}

/// Scrub every string of a JSON value (object keys too). Returns whether anything changed.
pub(crate) fn scrub_value(value: &mut serde_json::Value, secrets: &[&SecretString]) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            let clean = scrub_text(s, secrets);
            let changed = clean != *s;
            *s = clean;
            changed
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, v| scrub_value(v, secrets) | changed),
        Value::Object(map) => {
            let mut changed = false;
            let entries = std::mem::take(map);
            for (key, mut v) in entries {
                let clean_key = scrub_text(&key, secrets);
                changed |= clean_key != key;
                changed |= scrub_value(&mut v, secrets);
                map.insert(clean_key, v);
            }
            changed
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// One pass: every match of every secret replaced by `marker`, or `None` if nothing matched.
fn replace_matches(text: &str, secrets: &[&str], marker: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for secret in secrets {
        // Every start, not just after the last match: overlapping echoes ("abcabc" in
        // "abcabcabc") must all be covered.
        for at in 0..bytes.len() {
            if let Some(end) = match_at(bytes, at, secret) {
                ranges.push((at, end));
            }
        }
    }
    if ranges.is_empty() {
        return None;
    }
    ranges.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    let mut open: Option<(usize, usize)> = None;
    for (start, end) in ranges {
        match open {
            Some((s, e)) if start <= e => open = Some((s, e.max(end))),
            Some((s, e)) => {
                out.push_str(&text[done..s]);
                out.push_str(marker);
                done = e;
                open = Some((start, end));
            }
            None => open = Some((start, end)),
        }
    }
    if let Some((s, e)) = open {
        out.push_str(&text[done..s]);
        out.push_str(marker);
        done = e;
    }
    out.push_str(&text[done..]);
    Some(out)
}

/// The end of the longest echo of `secret` starting at byte `at`, if one does.
///
/// Matches start and end on character boundaries: every alternative either is the
/// character's own UTF-8 bytes or starts and ends with ASCII.
fn match_at(text: &[u8], at: usize, secret: &str) -> Option<usize> {
    let mut frontier: Vec<usize> = vec![at];
    let mut next: Vec<usize> = Vec::new();
    for c in secret.chars() {
        next.clear();
        for &p in &frontier {
            echoes_of(c, text, p, &mut next);
        }
        if next.is_empty() {
            return None;
        }
        next.sort_unstable();
        next.dedup();
        std::mem::swap(&mut frontier, &mut next);
    }
    frontier.last().copied()
}

/// Push the end of every encoding of `c` found at `text[p..]`.
fn echoes_of(c: char, text: &[u8], p: usize, ends: &mut Vec<usize>) {
    let rest = &text[p.min(text.len())..];
    let Some(&first) = rest.first() else {
        return;
    };
    let mut utf8 = [0u8; 4];
    let raw = c.encode_utf8(&mut utf8).as_bytes();
    if rest.starts_with(raw) {
        ends.push(p + raw.len());
    }
    match first {
        b'%' => {
            // Every byte of the character as %HH, either case.
            let mut q = 0;
            for &b in raw {
                match rest.get(q..q + 3) {
                    Some([b'%', h, l]) if hex_pair(*h, *l) == Some(b) => q += 3,
                    _ => return,
                }
            }
            ends.push(p + q);
        }
        b'+' if c == ' ' => ends.push(p + 1),
        b'\\' => json_escape(c, rest, p, ends),
        b'&' => html_reference(c, rest, p, ends),
        _ => {}
    }
}

/// `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, and `\uXXXX` (a surrogate pair beyond
/// the BMP), hex in either case.
fn json_escape(c: char, rest: &[u8], p: usize, ends: &mut Vec<usize>) {
    let short = match c {
        '"' => Some(b'"'),
        '\\' => Some(b'\\'),
        '/' => Some(b'/'),
        '\u{8}' => Some(b'b'),
        '\u{c}' => Some(b'f'),
        '\n' => Some(b'n'),
        '\r' => Some(b'r'),
        '\t' => Some(b't'),
        _ => None,
    };
    if let Some(s) = short
        && rest.get(1) == Some(&s)
    {
        ends.push(p + 2);
    }
    let mut units = [0u16; 2];
    let mut q = 0;
    for unit in c.encode_utf16(&mut units).iter() {
        match rest.get(q..q + 6) {
            Some([b'\\', b'u', digits @ ..]) if hex_u16(digits) == Some(*unit) => q += 6,
            _ => return,
        }
    }
    ends.push(p + q);
}

/// `&#NN;`, `&#xHH;` (or `&#X`), and the named references for `&`, `<`, `>`, `"`, `'`.
fn html_reference(c: char, rest: &[u8], p: usize, ends: &mut Vec<usize>) {
    let named: &[u8] = match c {
        '&' => b"&amp;",
        '<' => b"&lt;",
        '>' => b"&gt;",
        '"' => b"&quot;",
        '\'' => b"&apos;",
        _ => b"",
    };
    if !named.is_empty() && rest.starts_with(named) {
        ends.push(p + named.len());
    }
    if rest.get(1) != Some(&b'#') {
        return;
    }
    let (radix, start) = match rest.get(2) {
        Some(b'x' | b'X') => (16, 3),
        _ => (10, 2),
    };
    let digits = rest[start.min(rest.len())..]
        .iter()
        .take(MAX_REF_DIGITS + 1)
        .take_while(|b| b.is_ascii_hexdigit() && (radix == 16 || b.is_ascii_digit()))
        .count();
    if digits == 0 || digits > MAX_REF_DIGITS || rest.get(start + digits) != Some(&b';') {
        return;
    }
    let number = std::str::from_utf8(&rest[start..start + digits])
        .ok()
        .and_then(|d| u32::from_str_radix(d, radix).ok());
    if number == Some(u32::from(c)) {
        ends.push(p + start + digits + 1);
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

fn hex_pair(h: u8, l: u8) -> Option<u8> {
    Some(hex_digit(h)? << 4 | hex_digit(l)?)
}

fn hex_u16(digits: &[u8]) -> Option<u16> {
    digits
        .iter()
        .try_fold(0u16, |acc, &d| Some(acc << 4 | u16::from(hex_digit(d)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = r#"p&ss<1> "q"/\é€𝄞+ x"#;

    fn every_echo(secret: &str) -> Vec<String> {
        let json = serde_json::to_string(secret).unwrap();
        let json = json.trim_matches('"').to_owned();
        let unicode: String = secret
            .encode_utf16()
            .map(|u| format!("\\u{u:04x}"))
            .collect();
        let upper: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
        let lower: String = secret.bytes().map(|b| format!("%{b:02x}")).collect();
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let html: String = secret
            .chars()
            .map(|c| format!("&#{};", u32::from(c)))
            .collect();
        let html_hex: String = secret
            .chars()
            .map(|c| format!("&#X{:x};", u32::from(c)))
            .collect();
        // Go: & < > as \u0026 \u003c \u003e, the rest as serde writes it; one server mixes.
        let go = json
            .replace('&', "\\u0026")
            .replace('<', "\\u003C")
            .replace('>', "\\u003e");
        let mixed: String = secret
            .chars()
            .enumerate()
            .map(|(i, c)| match i % 3 {
                0 => c.to_string(),
                1 => c.to_string().bytes().map(|b| format!("%{b:02X}")).collect(),
                _ => c
                    .encode_utf16(&mut [0; 2])
                    .iter()
                    .map(|u| format!("\\u{u:04X}"))
                    .collect(),
            })
            .collect();
        vec![
            secret.to_owned(),
            json.replace('/', "\\/"),
            json,
            unicode,
            upper,
            lower,
            form.replace('+', "%20"),
            form,
            html,
            html_hex,
            go,
            mixed,
        ]
    }

    #[test]
    fn every_encoding_and_any_mix_of_them_is_removed() {
        let pw = SecretString::from(PASSWORD);
        for echo in every_echo(PASSWORD) {
            let text = format!("bad password {echo}, try again");
            let out = scrub_text(&text, &[&pw]);
            assert_eq!(out, "bad password [REDACTED], try again", "{echo}");
            assert!(!contains_secret(&out, &[&pw]));
            assert!(echo.len() <= PASSWORD.len() * MAX_EXPANSION, "{echo}");
        }
    }

    #[test]
    fn overlapping_and_adjacent_echoes_merge_into_one_marker() {
        let pw = SecretString::from("abcabc");
        assert_eq!(scrub_text("xabcabcabcx", &[&pw]), "x[REDACTED]x");
        assert_eq!(scrub_text("abcabcabcabc", &[&pw]), "[REDACTED]");
    }

    #[test]
    fn a_secret_inside_the_marker_still_leaves_no_echo() {
        for s in ["ACT", "D]x", "[RE", "REDACTED"] {
            let pw = SecretString::from(s);
            let out = scrub_text(&format!("a {s} b {s}x"), &[&pw]);
            assert!(!contains_secret(&out, &[&pw]), "{s}: {out}");
        }
    }

    #[test]
    fn short_secrets_and_near_misses_are_left_alone() {
        let short = SecretString::from("ab");
        assert_eq!(scrub_text("ab ab", &[&short]), "ab ab");
        let pw = SecretString::from("hunter2");
        // A broken escape is not an echo; neither is a different character.
        for text in [
            "hunter%3",
            "hunte\\u00732",
            "hunter3",
            "&#104unter2",
            "hunte&#1140;2",
        ] {
            assert_eq!(scrub_text(text, &[&pw]), text);
        }
    }

    #[test]
    fn values_are_scrubbed_in_strings_and_keys() {
        let pw = SecretString::from("hunter2");
        let mut v =
            serde_json::json!({"a": ["x hunter2", 1, {"hunter2": "hunter\u{32}"}], "b": null});
        assert!(scrub_value(&mut v, &[&pw]));
        assert_eq!(
            v,
            serde_json::json!({"a": ["x [REDACTED]", 1, {"[REDACTED]": "[REDACTED]"}], "b": null})
        );
        assert!(!scrub_value(&mut v, &[&pw]));
    }
}
