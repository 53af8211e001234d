//! iqm's sign-in answer through the crate's own reading (`iqm::fuzzing`): a success
//! body into tokens, an error status through `Http::error_from` and the vendor's error
//! parser. Neither panics, and no error shows the password of the call in any form (see
//! `vendor_auth_fuzz::VendorCase` for the input layout).
#![no_main]

use vendor_auth_fuzz::{VendorCase, block_on};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some(case) = VendorCase::new(data) else {
        return;
    };
    let http = case.http(iqm::fuzzing::error_parser());
    let result = block_on(iqm::fuzzing::sign_in_answer(
        &http,
        case.response(),
        case.secret(),
    ));
    case.check(result);
});
