//! `COMPRESSED` terms (`term_to_binary(T, [compressed])`): a 32-bit
//! uncompressed size followed by a zlib stream.
//!
//! The output buffer grows with what the stream really produces (never
//! sized from the untrusted header alone) and is capped at the declared
//! size, which is itself capped by [`Limits::max_decompressed_size`]. The
//! stream must inflate to exactly the declared size, and the term inside
//! must fill it exactly (BEAM ignores bytes after that term; nothing
//! legitimate puts any there, so we refuse them).

use super::Limits;
use super::decode::Decoder;
use super::error::DecodeError;
use crate::term::Term;
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::inflate_flags::{
    TINFL_FLAG_PARSE_ZLIB_HEADER, TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
};
use miniz_oxide::inflate::core::{DecompressorOxide, decompress};

/// First output allocation; later ones double up to the declared size.
const FIRST_CHUNK: usize = 64 * 1024;

/// Decodes the compressed term whose `COMPRESSED` tag is at `at`; returns
/// the term and the offset just past the zlib stream.
pub(crate) fn decode_compressed(
    buf: &[u8],
    at: usize,
    limits: &Limits,
) -> Result<(Term, usize), DecodeError> {
    let size_at = at + 1;
    let Some(size) = buf.get(size_at..size_at + 4) else {
        return Err(DecodeError::Truncated {
            offset: size_at,
            what: "COMPRESSED uncompressed size",
            needed: 4,
            remaining: buf.len().saturating_sub(size_at),
        });
    };
    let declared = u32::from_be_bytes([size[0], size[1], size[2], size[3]]);
    let declared_len = declared as usize;
    if declared_len > limits.max_decompressed_size {
        return Err(DecodeError::DecompressedTooLarge {
            offset: at,
            declared: u64::from(declared),
            limit: limits.max_decompressed_size,
        });
    }
    if limits.max_depth == 0 {
        return Err(DecodeError::TooDeep {
            offset: at,
            max_depth: 0,
        });
    }
    let stream_at = size_at + 4;
    let stream = buf.get(stream_at..).unwrap_or_default();
    let (inflated, used) = inflate_exact(stream, declared_len)
        .map_err(|reason| DecodeError::BadCompression { offset: at, reason })?;
    let inside = |inner| DecodeError::InCompressed {
        offset: at,
        inner: Box::new(inner),
    };
    // The compressed wrapper counts as one level of nesting.
    let (term, end) = Decoder::new(&inflated, 0, limits.max_depth - 1)
        .run()
        .map_err(inside)?;
    if end != inflated.len() {
        return Err(inside(DecodeError::TrailingBytes {
            offset: end,
            count: inflated.len() - end,
        }));
    }
    Ok((term, stream_at + used))
}

/// Inflates a zlib stream that must produce exactly `size` bytes; returns
/// them and the number of input bytes the stream occupied.
fn inflate_exact(input: &[u8], size: usize) -> Result<(Vec<u8>, usize), String> {
    let flags = TINFL_FLAG_PARSE_ZLIB_HEADER | TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let mut state = Box::<DecompressorOxide>::default();
    let mut out = vec![0u8; size.min(FIRST_CHUNK)];
    let (mut in_pos, mut out_pos) = (0usize, 0usize);
    loop {
        let rest = input.get(in_pos..).unwrap_or_default();
        let (status, read, written) = decompress(&mut state, rest, &mut out, out_pos, flags);
        in_pos += read;
        out_pos += written;
        match status {
            TINFLStatus::Done if out_pos == size => {
                out.truncate(out_pos);
                return Ok((out, in_pos));
            }
            TINFLStatus::Done => {
                return Err(format!("inflates to {out_pos} bytes, {size} declared"));
            }
            TINFLStatus::HasMoreOutput if out.len() < size => {
                let grown = out.len().saturating_mul(2).clamp(1, size);
                out.resize(grown, 0);
            }
            TINFLStatus::HasMoreOutput => {
                return Err(format!("inflates to more than the {size} bytes declared"));
            }
            TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput => {
                return Err(format!("zlib stream ends early ({out_pos} bytes inflated)"));
            }
            TINFLStatus::Adler32Mismatch => return Err("zlib checksum mismatch".to_owned()),
            other => return Err(format!("corrupt zlib stream ({other:?})")),
        }
    }
}
