//! Erlang term *text* parser with `file:consult/1` semantics (for `.config` files).
//!
//! TEMPORARY stub.
