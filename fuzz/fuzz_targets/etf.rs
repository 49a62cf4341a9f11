//! ETF round trip: whatever the decoder accepts must encode, decode back
//! to an equal term, and encode to the same bytes again (decoded terms are
//! canonical). Any panic, abort or stack overflow is a bug.
//!
//! Terms are compared through `cmp_terms` and their encodings rather than
//! `==`: eetf hashes a `Map` in `HashMap` iteration order, so `==` is
//! unreliable for maps whose keys hold maps.
//!
//! Run from the repository root:
//!
//! ```text
//! cargo install cargo-fuzz
//! cargo +nightly fuzz run etf -- -max_total_time=60          # with ASan
//! cargo fuzz run --sanitizer none etf -- -max_total_time=60  # stable
//! ```
//!
//! Seeds: `src/term/codec/testdata/corpus_otp*.txt` hold real BEAM
//! encodings (third column, hex); `xxd -r -p` turns one into a seed file.

#![no_main]

use distro::term::{Limits, cmp_terms, decode, decode_prefix_with, encode_to_vec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    for with_version in [true, false] {
        let Ok((term, used)) = decode_prefix_with(data, with_version, &limits) else {
            continue;
        };
        assert!(used <= data.len());
        let bytes = encode_to_vec(&term).expect("a decoded term encodes");
        let again = decode(&bytes).expect("our own encoding decodes");
        assert!(cmp_terms(&again, &term).is_eq());
        assert_eq!(encode_to_vec(&again).expect("encodes"), bytes);
    }
});
