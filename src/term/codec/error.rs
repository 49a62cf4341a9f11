//! Codec errors. Every decoding error names the byte offset where it was
//! found (relative to the slice given to the decoder, or to the inflated
//! data for errors wrapped in [`DecodeError::InCompressed`]) so that a log
//! line is enough to find the bad byte in a packet dump.

/// Why bytes could not be decoded as a term.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The first byte was not the version byte 131.
    #[error("bad version byte {found} at offset {offset} (expected 131)")]
    BadVersion {
        /// Offset of the bad byte.
        offset: usize,
        /// The byte found.
        found: u8,
    },
    /// The input ended inside a term.
    #[error("input ends at offset {offset}: {what} needs {needed} more bytes, {remaining} remain")]
    Truncated {
        /// Offset where the missing bytes should start.
        offset: usize,
        /// The field being read.
        what: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A length field claims more elements or bytes than the input can hold
    /// (each element needs at least one byte). Checked before anything is
    /// allocated.
    #[error(
        "{tag_name} at offset {offset} claims {claimed} {unit}, but only {remaining} bytes \
         remain ({promised} of them owed to enclosing terms)"
    )]
    LengthExceedsInput {
        /// Offset of the tag.
        offset: usize,
        /// Name of the tag (e.g. `LIST_EXT`).
        tag_name: &'static str,
        /// The length the field claims.
        claimed: u64,
        /// What is counted: `"elements"`, `"pairs"`, `"bytes"`, ...
        unit: &'static str,
        /// Bytes left in the input after the length field.
        remaining: usize,
        /// Values that enclosing containers still expect (one byte each at least).
        promised: usize,
    },
    /// A tag byte that is not part of the external term format.
    #[error("unknown tag {tag} at offset {offset}")]
    UnknownTag {
        /// Offset of the tag.
        offset: usize,
        /// The tag byte.
        tag: u8,
    },
    /// A known tag that cannot appear here (distribution headers, atom cache
    /// references, `LOCAL_EXT`, a nested compressed term, ...).
    #[error("{tag_name} (tag {tag}) at offset {offset} is not accepted here: {why}")]
    UnsupportedTag {
        /// Offset of the tag.
        offset: usize,
        /// The tag byte.
        tag: u8,
        /// Its documentation name.
        tag_name: &'static str,
        /// Why it is refused.
        why: &'static str,
    },
    /// A sub-term of a fixed kind (node name, fun module, arity, ...) had
    /// the wrong tag.
    #[error("expected {expected} at offset {offset}, found {tag_name} (tag {tag})")]
    UnexpectedTag {
        /// Offset of the tag.
        offset: usize,
        /// The tag byte.
        tag: u8,
        /// Its documentation name.
        tag_name: &'static str,
        /// What was expected, e.g. `"an atom (pid node name)"`.
        expected: &'static str,
    },
    /// Containers nest deeper than [`Limits::max_depth`](super::Limits).
    #[error("term nests deeper than {max_depth} at offset {offset}")]
    TooDeep {
        /// Offset of the container that went one level too deep.
        offset: usize,
        /// The limit in force.
        max_depth: usize,
    },
    /// A UTF-8 atom whose bytes are not valid UTF-8.
    #[error("atom at offset {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// Offset of the atom's tag.
        offset: usize,
    },
    /// An atom longer than 255 characters (BEAM's limit).
    #[error("atom at offset {offset} has {chars} characters (at most 255 allowed)")]
    AtomTooLong {
        /// Offset of the atom's tag.
        offset: usize,
        /// Its length in characters (or a lower bound).
        chars: usize,
    },
    /// A NaN or infinite float (BEAM has neither).
    #[error("non-finite float at offset {offset}")]
    NonFiniteFloat {
        /// Offset of the float's tag.
        offset: usize,
    },
    /// An old-style `FLOAT_EXT` whose 31-byte text is not a number.
    #[error("FLOAT_EXT at offset {offset} does not hold a decimal number")]
    BadFloatText {
        /// Offset of the tag.
        offset: usize,
    },
    /// A bignum sign byte other than 0 or 1.
    #[error("bignum at offset {offset} has sign byte {sign} (must be 0 or 1)")]
    BadBigSign {
        /// Offset of the tag.
        offset: usize,
        /// The sign byte.
        sign: u8,
    },
    /// A `BIT_BINARY_EXT` whose bit count does not fit its length (BEAM
    /// accepts 1..=8 bits for non-empty data and only 0 for empty data).
    #[error("BIT_BINARY_EXT at offset {offset} has {bits} bits in the last of {len} bytes")]
    BadBitCount {
        /// Offset of the tag.
        offset: usize,
        /// The bit count.
        bits: u8,
        /// The data length in bytes.
        len: usize,
    },
    /// A reference with too many id words.
    #[error("{tag_name} at offset {offset} has {words} id words (allowed {min}..=5)")]
    BadReferenceLength {
        /// Offset of the tag.
        offset: usize,
        /// Its documentation name.
        tag_name: &'static str,
        /// The claimed number of words.
        words: usize,
        /// The least number of words the tag allows.
        min: usize,
    },
    /// An integer field out of the range the term model can hold.
    #[error("{what} at offset {offset} is out of range: {value}")]
    IntegerOutOfRange {
        /// Offset of the integer's tag.
        offset: usize,
        /// The field, e.g. `"EXPORT_EXT arity"`.
        what: &'static str,
        /// The value as text.
        value: String,
    },
    /// Two equal keys in one map (BEAM rejects these too).
    #[error("map at offset {offset} repeats a key (in the pair ending at offset {pair_end})")]
    DuplicateMapKey {
        /// Offset of the map's tag.
        offset: usize,
        /// Offset just past the pair whose key was seen before.
        pair_end: usize,
    },
    /// The `Size` field of a `NEW_FUN_EXT` does not match its contents.
    #[error("NEW_FUN_EXT at offset {offset} declares {declared} bytes but occupies {actual}")]
    FunSizeMismatch {
        /// Offset of the tag.
        offset: usize,
        /// The `Size` field.
        declared: u32,
        /// The bytes the fun really occupies (from its `Size` field on).
        actual: usize,
    },
    /// A compressed term declares more than [`Limits::max_decompressed_size`](super::Limits).
    #[error(
        "compressed term at offset {offset} declares {declared} uncompressed bytes \
         (limit {limit})"
    )]
    DecompressedTooLarge {
        /// Offset of the `COMPRESSED` tag.
        offset: usize,
        /// The declared size.
        declared: u64,
        /// The limit in force.
        limit: usize,
    },
    /// The zlib stream of a compressed term is corrupt, truncated, or does
    /// not inflate to exactly the declared size.
    #[error("compressed term at offset {offset}: {reason}")]
    BadCompression {
        /// Offset of the `COMPRESSED` tag.
        offset: usize,
        /// What went wrong.
        reason: String,
    },
    /// An error inside the inflated data of a compressed term; its offsets
    /// are relative to the inflated bytes.
    #[error("in compressed term at offset {offset}: {inner}")]
    InCompressed {
        /// Offset of the `COMPRESSED` tag.
        offset: usize,
        /// The error found in the inflated data.
        #[source]
        inner: Box<Self>,
    },
    /// Bytes left after the term where the whole input had to be one term.
    #[error("{count} trailing bytes after the term, at offset {offset}")]
    TrailingBytes {
        /// Offset of the first trailing byte.
        offset: usize,
        /// How many bytes are left.
        count: usize,
    },
}

/// Why a term could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Atoms hold at most 255 characters in BEAM.
    #[error("atom '{prefix}...' has {chars} characters (at most 255 allowed)")]
    AtomTooLong {
        /// The first characters of the atom.
        prefix: String,
        /// Its length in characters.
        chars: usize,
    },
    /// The term nests deeper than the limit.
    #[error("term nests deeper than {max_depth}")]
    TooDeep {
        /// The limit in force.
        max_depth: usize,
    },
    /// A length does not fit the format's length field.
    #[error("{what} of length {len} does not fit the external term format")]
    TooLarge {
        /// What was too long (`"tuple"`, `"binary"`, ...).
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// A NaN or infinite float, which BEAM cannot represent.
    #[error("non-finite float {value} cannot be encoded")]
    NonFiniteFloat {
        /// The value, as text.
        value: String,
    },
    /// A `BitBinary` with an impossible `tail_bits_size`.
    #[error("bitstring of {len} bytes with {tail_bits} tail bits cannot be encoded")]
    InvalidBitBinary {
        /// Its byte count.
        len: usize,
        /// Its `tail_bits_size`.
        tail_bits: u8,
    },
    /// A reference with more than 5 id words.
    #[error("reference with {words} id words (at most 5 allowed)")]
    ReferenceTooLong {
        /// The number of words.
        words: usize,
    },
    /// A term that no OTP release from 23 on can decode (an
    /// `InternalFun::Old`, which would be `FUN_EXT`).
    #[error("{what} cannot be encoded: {why}")]
    Unsupported {
        /// What was refused.
        what: &'static str,
        /// Why.
        why: &'static str,
    },
}
