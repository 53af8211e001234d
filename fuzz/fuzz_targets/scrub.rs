//! Property of `auth_core::http::scrub`: whatever text surrounds a secret, and whichever form the
//! secret is echoed in, the output holds no form of the secret.
//!
//! Byte 0 picks the form embedded, byte 1 the secret's length (3 to 32 characters), byte 2
//! where the rest of the text is split into prefix and suffix; the rest (as UTF-8, lossily)
//! gives the secret (its first characters), then the prefix and suffix text.
//!
//! Skipped, honestly: inputs too short for a 3-character secret (scrub ignores shorter
//! ones by design). Not skipped but discounted: a form found only across a `[REDACTED]`
//! marker (the marker's own letters completing it) is not a leak, so each marker in the
//! output is replaced by a character absent from the secret before searching.
#![no_main]

use secrecy::SecretString;
use vendor_auth_fuzz::encodings;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [form, len, split, rest @ ..] = data else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut chars = text.chars();
    let secret: String = chars.by_ref().take(3 + usize::from(*len) % 30).collect();
    if secret.chars().count() < 3 + usize::from(*len) % 30 {
        return;
    }
    let others: Vec<char> = chars.collect();
    let at = usize::from(*split) % (others.len() + 1);
    let prefix: String = others[..at].iter().collect();
    let suffix: String = others[at..].iter().collect();

    let forms = encodings(&secret);
    let (_, echoed) = &forms[usize::from(*form) % forms.len()];
    let input = format!("{prefix}{echoed}{suffix}");
    let out = auth_core::http::scrub(&input, &[&SecretString::from(secret.clone())]);

    let stand_in = ('\u{e000}'..='\u{f8ff}')
        .find(|c| !secret.contains(*c))
        .expect("a 32-character secret leaves a private-use character free");
    let out = out.replace("[REDACTED]", &stand_in.to_string());
    for (name, f) in &forms {
        assert!(
            !out.contains(f.as_str()),
            "scrub left the secret {secret:?} ({name}: {f:?}) in {out:?} (input {input:?})"
        );
    }
});
