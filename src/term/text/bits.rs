//! Building the value of a binary literal `<<Seg, ...>>` from its segments,
//! with the semantics of `eval_bits:expr_grp/3` (`otp:lib/stdlib/src/eval_bits.erl`):
//! integers are truncated to their size in two's complement, strings expand
//! to one segment per character, `little` integers put the least
//! significant byte first (`<<16#123:12/little>>` is `<<35,1:4>>`).

use super::MAX_BINARY_BITS;
use crate::term::{BitBinary, Term, binary};
use num_bigint::{BigInt, Sign};
use num_traits::{One, ToPrimitive, Zero};

/// A bit string under construction (bits fill each byte from the most
/// significant end, as in the external term format).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Bits {
    bytes: Vec<u8>,
    len: u64,
}

impl Bits {
    /// Appends the first `nbits` bits of `data` (most significant first).
    fn append(&mut self, data: &[u8], mut nbits: u64) {
        for &b in data {
            if nbits == 0 {
                break;
            }
            let take = nbits.min(8);
            let v = b & high_mask(take);
            let used = self.len % 8;
            if used == 0 {
                self.bytes.push(v);
            } else {
                if let Some(last) = self.bytes.last_mut() {
                    *last |= v >> used;
                }
                if take > 8 - used {
                    self.bytes.push(v << (8 - used));
                }
            }
            self.len += take;
            nbits -= take;
        }
    }

    fn append_bits(&mut self, other: &Self, nbits: u64) {
        self.append(&other.bytes, nbits.min(other.len));
    }
}

/// `eetf`'s convention for [`BitBinary`]: the last byte holds its
/// `tail_bits_size` bits in its *low* end (`<<1:4>>` is `bytes: [1]`); the
/// encoder shifts them up to the wire's most-significant-first layout.
impl From<Bits> for Term {
    fn from(mut b: Bits) -> Self {
        let tail = b.len % 8;
        if tail == 0 {
            return binary(b.bytes);
        }
        if let Some(last) = b.bytes.last_mut() {
            *last >>= 8 - tail;
        }
        Self::BitBinary(BitBinary {
            bytes: b.bytes,
            tail_bits_size: tail as u8,
        })
    }
}

/// The top `n` bits of a byte (`n` in `1..=8`).
fn high_mask(n: u64) -> u8 {
    (0xffu16 << (8 - n.min(8))) as u8
}

/// The value of one segment.
#[derive(Debug, Clone)]
pub(super) enum SegValue {
    /// An integer or a character.
    Int(BigInt),
    /// A float.
    Float(f64),
    /// A string literal: one segment per character.
    Str(Vec<u32>),
    /// A nested binary or bit string.
    Bits(Bits),
}

impl SegValue {
    /// A parenthesised segment value, `<<(Term)>>`.
    pub(super) fn from_term(t: &Term) -> Option<Self> {
        Some(match t {
            Term::FixInteger(i) => Self::Int(BigInt::from(i.value)),
            Term::BigInteger(b) => Self::Int(b.value.clone()),
            Term::Float(f) => Self::Float(f.value),
            Term::ByteList(b) => Self::Str(b.bytes.iter().map(|&c| u32::from(c)).collect()),
            Term::List(l) if l.elements.is_empty() => Self::Str(Vec::new()),
            Term::Binary(b) => Self::Bits(Bits {
                len: b.bytes.len() as u64 * 8,
                bytes: b.bytes.clone(),
            }),
            Term::BitBinary(b) => {
                let tail = b.tail_bits_size.clamp(1, 8);
                let full = (b.bytes.len() as u64).saturating_sub(1) * 8;
                let mut bytes = b.bytes.clone();
                if let Some(last) = bytes.last_mut() {
                    *last <<= 8 - tail;
                }
                Self::Bits(Bits {
                    len: if b.bytes.is_empty() {
                        0
                    } else {
                        full + u64::from(tail)
                    },
                    bytes,
                })
            }
            _ => return None,
        })
    }
}

/// A type specifier after `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Spec {
    /// `integer`, `little`, `utf8`, ...
    Type(String),
    /// `unit:N`.
    Unit(u64),
}

/// One segment `Value:Size/Specs`.
#[derive(Debug, Clone)]
pub(super) struct Segment {
    pub(super) value: SegValue,
    pub(super) size: Option<u64>,
    pub(super) specs: Vec<Spec>,
    /// Byte offset of the segment in the source, for errors.
    pub(super) offset: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Integer,
    Float,
    Binary,
    Bitstring,
    Utf8,
    Utf16,
    Utf32,
}

/// The resolved type specifiers of a segment.
struct Resolved {
    ty: Ty,
    little: bool,
    unit: Option<u64>,
}

fn resolve(specs: &[Spec]) -> Result<Resolved, String> {
    let mut ty = None;
    let mut little = None;
    let mut unit = None;
    for spec in specs {
        match spec {
            Spec::Unit(n) => {
                if !(1..=256).contains(n) {
                    return Err(format!("unit:{n} is out of range 1..256"));
                }
                unit = Some(*n);
            }
            Spec::Type(name) => {
                let t = match name.as_str() {
                    "integer" => Ty::Integer,
                    "float" => Ty::Float,
                    "binary" | "bytes" => Ty::Binary,
                    "bitstring" | "bits" => Ty::Bitstring,
                    "utf8" => Ty::Utf8,
                    "utf16" => Ty::Utf16,
                    "utf32" => Ty::Utf32,
                    "signed" | "unsigned" => continue,
                    "big" | "little" | "native" => {
                        let l = name == "little"
                            || (name == "native" && cfg!(target_endian = "little"));
                        if little.is_some_and(|prev| prev != l) {
                            return Err("conflicting endianness".into());
                        }
                        little = Some(l);
                        continue;
                    }
                    other => return Err(format!("unknown type specifier {other}")),
                };
                if ty.is_some_and(|prev| prev != t) {
                    return Err(format!("conflicting types ({name})"));
                }
                ty = Some(t);
            }
        }
    }
    Ok(Resolved {
        ty: ty.unwrap_or(Ty::Integer),
        little: little.unwrap_or(false),
        unit,
    })
}

/// Builds the bit string of `segments`, taking the bits it builds out of
/// `budget`; on error, the index of the bad segment and why.
pub(super) fn build(segments: &[Segment], budget: &mut u64) -> Result<Bits, (usize, String)> {
    let mut out = Bits::default();
    for (i, seg) in segments.iter().enumerate() {
        segment(&mut out, seg, budget).map_err(|e| (i, e))?;
    }
    Ok(out)
}

/// Takes `n` bits out of `budget`, before they are allocated.
fn spend(budget: &mut u64, n: u64) -> Result<(), String> {
    if n > *budget {
        return Err(format!(
            "more than {MAX_BINARY_BITS} bits of binary data in one text"
        ));
    }
    *budget -= n;
    Ok(())
}

fn segment(out: &mut Bits, seg: &Segment, budget: &mut u64) -> Result<(), String> {
    let r = resolve(&seg.specs)?;
    let utf = matches!(r.ty, Ty::Utf8 | Ty::Utf16 | Ty::Utf32);
    if utf && (seg.size.is_some() || r.unit.is_some()) {
        return Err("utf8/utf16/utf32 segments take no size or unit".into());
    }
    if r.unit.is_some() && seg.size.is_none() && matches!(r.ty, Ty::Integer | Ty::Float) {
        return Err("a unit needs a size".into());
    }
    // Size in bits, for the types that have one.
    let bits_of = |default_size: u64, default_unit: u64| -> Result<u64, String> {
        let size = seg.size.unwrap_or(default_size);
        size.checked_mul(r.unit.unwrap_or(default_unit))
            .filter(|n| *n <= MAX_BINARY_BITS)
            .ok_or_else(|| format!("more than {MAX_BINARY_BITS} bits of binary data in one text"))
    };
    match (&seg.value, r.ty) {
        (SegValue::Str(chars), Ty::Integer | Ty::Float | Ty::Utf8 | Ty::Utf16 | Ty::Utf32) => {
            for &c in chars {
                let one = Segment {
                    value: SegValue::Int(BigInt::from(c)),
                    size: seg.size,
                    specs: seg.specs.clone(),
                    offset: seg.offset,
                };
                segment(out, &one, budget)?;
            }
            Ok(())
        }
        (SegValue::Int(v), Ty::Integer) => {
            let n = bits_of(8, 1)?;
            spend(budget, n)?;
            append_int(out, v, n, r.little);
            Ok(())
        }
        (SegValue::Int(v), Ty::Float) => {
            let f = v
                .to_f64()
                .filter(|f| f.is_finite())
                .ok_or("integer too large for a float")?;
            let n = bits_of(64, 1)?;
            spend(budget, n)?;
            append_float(out, f, n, r.little)
        }
        (SegValue::Float(f), Ty::Float) => {
            let n = bits_of(64, 1)?;
            spend(budget, n)?;
            append_float(out, *f, n, r.little)
        }
        (SegValue::Int(v), Ty::Utf8 | Ty::Utf16 | Ty::Utf32) => {
            let c = v
                .to_u32()
                .and_then(char::from_u32)
                .ok_or_else(|| format!("{v} is not a Unicode code point"))?;
            spend(budget, 32)?;
            append_utf(out, c, r.ty, r.little);
            Ok(())
        }
        (SegValue::Bits(b), Ty::Binary | Ty::Bitstring) => {
            let default_unit = if r.ty == Ty::Binary { 8 } else { 1 };
            let unit = r.unit.unwrap_or(default_unit);
            let n = match seg.size {
                None => {
                    if b.len % unit != 0 {
                        return Err(format!(
                            "a bit string of {} bits is not a multiple of unit {unit}",
                            b.len
                        ));
                    }
                    b.len
                }
                Some(_) => bits_of(0, default_unit)?,
            };
            if n > b.len {
                return Err(format!(
                    "size {n} bits is larger than the {}-bit value",
                    b.len
                ));
            }
            out.append_bits(b, n);
            Ok(())
        }
        (SegValue::Float(_), _) => Err("a float needs the float type".into()),
        (SegValue::Bits(_), _) => Err("a binary needs the binary or bitstring type".into()),
        (SegValue::Str(_) | SegValue::Int(_), _) => {
            Err("binary and bitstring segments take a binary".into())
        }
    }
}

/// Appends `v` as an `n`-bit integer (two's complement, truncated).
fn append_int(out: &mut Bits, v: &BigInt, n: u64, little: bool) {
    if n == 0 {
        return;
    }
    let modulus = BigInt::one() << n;
    let mut m = v % &modulus;
    if m.sign() == Sign::Minus {
        m += &modulus;
    }
    let nbytes = n.div_ceil(8) as usize;
    let pad = nbytes as u64 * 8 - n;
    let data = if little {
        let mut le = if m.is_zero() {
            Vec::new()
        } else {
            m.to_bytes_le().1
        };
        le.resize(nbytes, 0);
        if let Some(last) = le.last_mut() {
            *last <<= pad;
        }
        le
    } else {
        let shifted: BigInt = m << pad;
        let be = if shifted.is_zero() {
            Vec::new()
        } else {
            shifted.to_bytes_be().1
        };
        let mut data = vec![0u8; nbytes.saturating_sub(be.len())];
        data.extend(be);
        data
    };
    out.append(&data, n);
}

fn append_float(out: &mut Bits, f: f64, n: u64, little: bool) -> Result<(), String> {
    let data = match (n, little) {
        (64, false) => f.to_be_bytes().to_vec(),
        (64, true) => f.to_le_bytes().to_vec(),
        (32, false) => (f as f32).to_be_bytes().to_vec(),
        (32, true) => (f as f32).to_le_bytes().to_vec(),
        (16, false) => f16_bits(f).to_be_bytes().to_vec(),
        (16, true) => f16_bits(f).to_le_bytes().to_vec(),
        _ => return Err(format!("a float must be 16, 32 or 64 bits, not {n}")),
    };
    out.append(&data, n);
    Ok(())
}

/// IEEE 754 binary16 bits of `x`, rounded to nearest even.
fn f16_bits(x: f64) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 48) & 0x8000) as u16;
    let a = x.abs();
    if a.is_nan() {
        return sign | 0x7e00;
    }
    if a >= 65520.0 {
        return sign | 0x7c00;
    }
    if a < 6.103_515_625e-5 {
        // Subnormal (or zero): units of 2^-24; may round up to the
        // smallest normal, whose encoding follows on naturally.
        let m = (a * 16_777_216.0).round_ties_even() as u16;
        return sign | m;
    }
    let exp = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mant = bits & ((1u64 << 52) - 1);
    let m10 = mant >> 42;
    let rest = mant & ((1u64 << 42) - 1);
    let half = 1u64 << 41;
    let mut h = (((exp + 15) as u64) << 10) + m10;
    if rest > half || (rest == half && m10 & 1 == 1) {
        h += 1;
    }
    sign | h as u16
}

fn append_utf(out: &mut Bits, c: char, ty: Ty, little: bool) {
    let data: Vec<u8> = match ty {
        Ty::Utf8 => {
            let mut buf = [0u8; 4];
            c.encode_utf8(&mut buf).as_bytes().to_vec()
        }
        Ty::Utf16 => {
            let mut buf = [0u16; 2];
            c.encode_utf16(&mut buf)
                .iter()
                .flat_map(|u| {
                    if little {
                        u.to_le_bytes()
                    } else {
                        u.to_be_bytes()
                    }
                })
                .collect()
        }
        _ => {
            let u = u32::from(c);
            if little {
                u.to_le_bytes()
            } else {
                u.to_be_bytes()
            }
            .to_vec()
        }
    };
    out.append(&data, data.len() as u64 * 8);
}
