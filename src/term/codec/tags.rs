//! Tag bytes of the external term format, named as in
//! `erts/emulator/beam/external.h` and the `erl_ext_dist` documentation.

/// The version byte that starts every `term_to_binary/1` result.
pub(crate) const VERSION: u8 = 131;

/// Distribution header (`DIST_HEADER`): handled by the distribution layer.
pub(crate) const DIST_HEADER: u8 = 68;
/// Fragmented distribution header (`DIST_FRAG_HEADER`): distribution layer.
pub(crate) const DIST_FRAG_HEADER: u8 = 69;
/// Continuation of a fragmented message (`DIST_FRAG_CONT`). Inside a term
/// this byte means `NEW_FLOAT_EXT`; only the distribution layer sees it as
/// a fragment tag.
pub(crate) const NEW_FLOAT_EXT: u8 = 70;
pub(crate) const BIT_BINARY_EXT: u8 = 77;
pub(crate) const COMPRESSED: u8 = 80;
/// Atom cache reference: only meaningful after a distribution header.
pub(crate) const ATOM_CACHE_REF: u8 = 82;
/// Local-node extension (`LOCAL_EXT`, OTP 26+): only between nodes that
/// share a local-encoding secret; never valid from a peer of ours.
pub(crate) const LOCAL_EXT: u8 = 121;
pub(crate) const NEW_PID_EXT: u8 = 88;
pub(crate) const NEW_PORT_EXT: u8 = 89;
pub(crate) const NEWER_REFERENCE_EXT: u8 = 90;
pub(crate) const SMALL_INTEGER_EXT: u8 = 97;
pub(crate) const INTEGER_EXT: u8 = 98;
pub(crate) const FLOAT_EXT: u8 = 99;
pub(crate) const ATOM_EXT: u8 = 100;
pub(crate) const REFERENCE_EXT: u8 = 101;
pub(crate) const PORT_EXT: u8 = 102;
pub(crate) const PID_EXT: u8 = 103;
pub(crate) const SMALL_TUPLE_EXT: u8 = 104;
pub(crate) const LARGE_TUPLE_EXT: u8 = 105;
pub(crate) const NIL_EXT: u8 = 106;
pub(crate) const STRING_EXT: u8 = 107;
pub(crate) const LIST_EXT: u8 = 108;
pub(crate) const BINARY_EXT: u8 = 109;
pub(crate) const SMALL_BIG_EXT: u8 = 110;
pub(crate) const LARGE_BIG_EXT: u8 = 111;
pub(crate) const NEW_FUN_EXT: u8 = 112;
pub(crate) const EXPORT_EXT: u8 = 113;
pub(crate) const NEW_REFERENCE_EXT: u8 = 114;
pub(crate) const SMALL_ATOM_EXT: u8 = 115;
pub(crate) const MAP_EXT: u8 = 116;
pub(crate) const FUN_EXT: u8 = 117;
pub(crate) const ATOM_UTF8_EXT: u8 = 118;
pub(crate) const SMALL_ATOM_UTF8_EXT: u8 = 119;
pub(crate) const V4_PORT_EXT: u8 = 120;

/// The most characters an atom may have (`MAX_ATOM_CHARACTERS` in erts).
pub(crate) const MAX_ATOM_CHARS: usize = 255;
/// The most id words a reference may carry (`ERTS_MAX_REF_NUMBERS`).
pub(crate) const MAX_REF_WORDS: usize = 5;
/// The longest list `STRING_EXT` can carry (its length field is 16 bits).
pub(crate) const MAX_STRING_EXT: usize = u16::MAX as usize;

/// The documentation name of a tag, for error messages.
pub(crate) fn tag_name(tag: u8) -> &'static str {
    match tag {
        VERSION => "VERSION_MAGIC",
        DIST_HEADER => "DIST_HEADER",
        DIST_FRAG_HEADER => "DIST_FRAG_HEADER",
        NEW_FLOAT_EXT => "NEW_FLOAT_EXT",
        BIT_BINARY_EXT => "BIT_BINARY_EXT",
        COMPRESSED => "COMPRESSED",
        ATOM_CACHE_REF => "ATOM_CACHE_REF",
        LOCAL_EXT => "LOCAL_EXT",
        NEW_PID_EXT => "NEW_PID_EXT",
        NEW_PORT_EXT => "NEW_PORT_EXT",
        NEWER_REFERENCE_EXT => "NEWER_REFERENCE_EXT",
        SMALL_INTEGER_EXT => "SMALL_INTEGER_EXT",
        INTEGER_EXT => "INTEGER_EXT",
        FLOAT_EXT => "FLOAT_EXT",
        ATOM_EXT => "ATOM_EXT",
        REFERENCE_EXT => "REFERENCE_EXT",
        PORT_EXT => "PORT_EXT",
        PID_EXT => "PID_EXT",
        SMALL_TUPLE_EXT => "SMALL_TUPLE_EXT",
        LARGE_TUPLE_EXT => "LARGE_TUPLE_EXT",
        NIL_EXT => "NIL_EXT",
        STRING_EXT => "STRING_EXT",
        LIST_EXT => "LIST_EXT",
        BINARY_EXT => "BINARY_EXT",
        SMALL_BIG_EXT => "SMALL_BIG_EXT",
        LARGE_BIG_EXT => "LARGE_BIG_EXT",
        NEW_FUN_EXT => "NEW_FUN_EXT",
        EXPORT_EXT => "EXPORT_EXT",
        NEW_REFERENCE_EXT => "NEW_REFERENCE_EXT",
        SMALL_ATOM_EXT => "SMALL_ATOM_EXT",
        MAP_EXT => "MAP_EXT",
        FUN_EXT => "FUN_EXT",
        ATOM_UTF8_EXT => "ATOM_UTF8_EXT",
        SMALL_ATOM_UTF8_EXT => "SMALL_ATOM_UTF8_EXT",
        V4_PORT_EXT => "V4_PORT_EXT",
        _ => "unknown",
    }
}
