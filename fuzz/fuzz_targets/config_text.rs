//! Fuzz target for the Erlang term text parser (`distro::term::text`) and
//! the config checks built on it.
//!
//! Properties: no input panics or overflows the stack; every term that
//! parses has a text form that parses back to the same term; parsed terms
//! encode to ETF; config text either loads or gives an error, and a loaded
//! config either yields kernel parameters or an error.
//!
//! Run from the repository root (see `fuzz/README.md`):
//!
//! ```text
//! cargo fuzz run --sanitizer none config_text -- -max_total_time=60
//! ```

#![no_main]

use distro::config::{KernelParams, SysConfig};
use distro::term::Term;
use distro::term::exact_eq;
use distro::term::text::{parse_term, parse_terms, to_text};
use libfuzzer_sys::fuzz_target;

fn round_trip(term: &Term) {
    let text = to_text(term).expect("a parsed term has a text form");
    let back =
        parse_term(&text).unwrap_or_else(|e| panic!("printed text {text:?} does not parse: {e}"));
    assert!(
        exact_eq(&back, term),
        "round trip through {text:?}: {back:?} != {term:?}"
    );
    let _ = distro::term::encode_to_vec(term);
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(terms) = parse_terms(src) {
        terms.iter().for_each(round_trip);
    }
    if let Ok(term) = parse_term(src) {
        round_trip(&term);
    }
    if let Ok(cfg) = SysConfig::parse(src) {
        let _ = KernelParams::from_config(&cfg);
    }
});
