//! ETF round trip: whatever the decoder accepts must encode, decode back
//! to an equal term, and encode to the same bytes again (decoded terms are
//! canonical). Any panic, abort or stack overflow is a bug.
//!
//! Terms are compared through `cmp_terms` and their encodings rather than
//! `==`: eetf hashes a `Map` in `HashMap` iteration order, so `==` is
//! unreliable for maps whose keys hold maps.
//!
//! Run from the repository root (see `fuzz/README.md`):
//!
//! ```text
//! scripts/fuzz.sh etf                                       # 60 s from the seeds
//! cargo fuzz run --sanitizer none etf -- -max_total_time=60 # by hand, stable
//! ```
//!
//! Seeds: `fuzz/seeds/etf` holds real BEAM encodings (from
//! `src/term/codec/testdata/corpus_otp*.txt`).

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
