//! AVP headers, raw AVPs and the reader that walks a sequence of them (RFC 6733 §4.1).

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::error::{rc, DecodeError};

/// AVP flags: `V`, `M` and `P` (RFC 6733 §4.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AvpFlags(u8);

impl AvpFlags {
    /// `V`: a Vendor-ID field follows the length.
    pub const VENDOR: Self = Self(0x80);
    /// `M`: the receiver must understand the AVP or reject the message.
    pub const MANDATORY: Self = Self(0x40);
    /// `P`: end-to-end security (deprecated by RFC 6733, still carried).
    pub const PROTECTED: Self = Self(0x20);
    /// No flag set.
    pub const NONE: Self = Self(0);
    /// Bits RFC 6733 reserves; they must be zero.
    pub const RESERVED_MASK: u8 = 0x1f;

    /// The flags from their wire byte.
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits)
    }
    /// The wire byte.
    pub const fn bits(self) -> u8 {
        self.0
    }
    /// Whether every flag of `other` is set here.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
    /// These flags with `other` set too.
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
    /// These flags with `other` cleared.
    pub const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }
    /// `V` is set.
    pub const fn is_vendor(self) -> bool {
        self.contains(Self::VENDOR)
    }
    /// The length of the AVP header these flags call for: 12 with `V` (room for the
    /// Vendor-ID), else 8.
    pub const fn header_len(self) -> usize {
        if self.is_vendor() {
            AVP_VENDOR_HEADER_LEN
        } else {
            AVP_HEADER_LEN
        }
    }
    /// `M` is set.
    pub const fn is_mandatory(self) -> bool {
        self.contains(Self::MANDATORY)
    }
}

impl std::ops::BitOr for AvpFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.with(rhs)
    }
}

impl fmt::Debug for AvpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        for (flag, c) in [
            (Self::VENDOR, 'V'),
            (Self::MANDATORY, 'M'),
            (Self::PROTECTED, 'P'),
        ] {
            if self.contains(flag) {
                s.push(c);
            }
        }
        if self.0 & Self::RESERVED_MASK != 0 {
            s.push_str(&format!("+{:#x}", self.0 & Self::RESERVED_MASK));
        }
        if s.is_empty() {
            s.push('-');
        }
        f.write_str(&s)
    }
}

/// Length of an AVP header without a Vendor-ID.
pub const AVP_HEADER_LEN: usize = 8;
/// Length of an AVP header with a Vendor-ID.
pub const AVP_VENDOR_HEADER_LEN: usize = 12;

/// Appends the zero padding that follows `len` bytes of AVP (constant-size writes, so no
/// call to memset).
#[inline(always)]
pub(crate) fn put_padding(out: &mut BytesMut, len: usize) {
    match padding(len) {
        1 => out.extend_from_slice(&[0]),
        2 => out.extend_from_slice(&[0, 0]),
        3 => out.extend_from_slice(&[0, 0, 0]),
        _ => {}
    }
}

/// Appends a big-endian u32 (a fixed-size copy the compiler inlines).
#[inline(always)]
pub(crate) fn put_u32(out: &mut BytesMut, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends an AVP header with a zero length, returning where the length goes.
#[inline(always)]
fn put_avp_header(out: &mut BytesMut, code: u32, flags: AvpFlags, vendor_id: u32, len: u32) {
    let mut h = [0u8; AVP_VENDOR_HEADER_LEN];
    h[..4].copy_from_slice(&code.to_be_bytes());
    h[4..8].copy_from_slice(&(((flags.bits() as u32) << 24) | (len & 0x00ff_ffff)).to_be_bytes());
    if flags.is_vendor() {
        h[8..].copy_from_slice(&vendor_id.to_be_bytes());
        out.extend_from_slice(&h);
    } else {
        out.extend_from_slice(&h[..AVP_HEADER_LEN]);
    }
}

/// The padding that brings `len` to a multiple of four.
#[inline]
pub const fn padding(len: usize) -> usize {
    (4 - (len & 3)) & 3
}

/// The encoded size of an AVP with these flags and `data_len` bytes of data: header, data
/// and padding.
#[inline]
pub const fn avp_len(flags: AvpFlags, data_len: usize) -> usize {
    let len = flags.header_len() + data_len;
    len + padding(len)
}

/// An AVP kept as it came: code, flags, vendor and the undecoded data.
///
/// Encoding it again gives the same bytes (padding is written as zeros, as RFC 6733 requires).
/// Used for `*[ AVP ]` in generated types, for Failed-AVP, and by relays.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawAvp {
    /// AVP code.
    pub code: u32,
    /// `V`, `M`, `P` and any reserved bits as received.
    pub flags: AvpFlags,
    /// Vendor-ID; 0 when the `V` flag is clear.
    pub vendor_id: u32,
    /// The data, without padding.
    pub data: Bytes,
}

impl RawAvp {
    /// A raw AVP; the `V` flag is set when `vendor_id` is not 0.
    pub fn new(code: u32, flags: AvpFlags, vendor_id: u32, data: impl Into<Bytes>) -> Self {
        let flags = if vendor_id != 0 {
            flags.with(AvpFlags::VENDOR)
        } else {
            flags
        };
        RawAvp {
            code,
            flags,
            vendor_id,
            data: data.into(),
        }
    }

    /// Header length: 12 with the `V` flag, else 8.
    pub fn header_len(&self) -> usize {
        self.flags.header_len()
    }

    /// Encoded length including padding.
    pub fn encoded_len(&self) -> usize {
        avp_len(self.flags, self.data.len())
    }

    /// Appends the AVP, padded.
    pub fn encode(&self, out: &mut BytesMut) {
        encode_slice_avp(out, self.code, self.flags, self.vendor_id, &self.data);
    }

    /// Writes the AVP, padded, at the start of `out` and returns the rest of `out`; `None` when
    /// `out` is shorter than [`RawAvp::encoded_len`].
    #[inline]
    pub fn write<'a>(&self, out: &'a mut [u8]) -> Option<&'a mut [u8]> {
        write_slice_avp(out, self.code, self.flags, self.vendor_id, &self.data)
    }

    /// The AVP as one `Bytes`, padded.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut b);
        b.freeze()
    }
}

impl fmt::Debug for RawAvp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawAvp({}", self.code)?;
        if self.flags.is_vendor() {
            write!(f, "/{}", self.vendor_id)?;
        }
        write!(f, " {:?} ", self.flags)?;
        for b in self.data.iter().take(64) {
            write!(f, "{b:02x}")?;
        }
        if self.data.len() > 64 {
            write!(f, "..")?;
        }
        f.write_str(")")
    }
}

/// One AVP found by [`AvpReader`]: its header fields and where its data lies in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvpRef {
    /// AVP code.
    pub code: u32,
    /// Flags as received.
    pub flags: AvpFlags,
    /// Vendor-ID, 0 without the `V` flag.
    pub vendor_id: u32,
    /// Offset of the data in the reader's buffer.
    pub start: usize,
    /// End of the data (padding excluded).
    pub end: usize,
}

impl AvpRef {
    /// The AVP's code and Vendor-ID, to match against generated `avp` constants.
    #[inline]
    pub fn id(&self) -> AvpCode {
        AvpCode::vendor(self.code, self.vendor_id)
    }

    /// The AVP as an owned [`RawAvp`] sharing `buf`'s memory.
    #[inline]
    pub fn to_raw(&self, buf: &Bytes) -> RawAvp {
        RawAvp {
            code: self.code,
            flags: self.flags,
            vendor_id: self.vendor_id,
            data: buf.slice(self.start..self.end),
        }
    }
}

/// Walks the AVPs of a message body or a Grouped AVP's data without copying.
///
/// Each item is an [`AvpRef`] into the buffer. Errors: 5014 for a length that is too short for
/// the header or runs past the end, 3009 for reserved flag bits.
pub struct AvpReader<'a> {
    buf: &'a Bytes,
    pos: usize,
    end: usize,
}

impl<'a> AvpReader<'a> {
    /// A reader over all of `buf`, which holds whole AVPs back to back.
    pub fn new(buf: &'a Bytes) -> Self {
        Self::within(buf, 0, buf.len())
    }

    /// A reader over `buf[start..end]`.
    pub fn within(buf: &'a Bytes, start: usize, end: usize) -> Self {
        let end = end.min(buf.len());
        AvpReader {
            buf,
            pos: start.min(end),
            end,
        }
    }

    /// The buffer the offsets of each [`AvpRef`] refer to.
    pub fn buffer(&self) -> &'a Bytes {
        self.buf
    }

    /// Stops the reader and gives the error. It returns the error alone (one pointer) rather
    /// than the iterator's item, so that the item of the common path is built in registers:
    /// an item written through memory on both paths is read back with wider loads than it
    /// was stored with, which stalls.
    #[cold]
    #[inline(never)]
    fn fail(&mut self, code: u32, avp: RawAvp, detail: String) -> DecodeError {
        self.pos = self.end;
        DecodeError::with_avp(code, avp, detail)
    }
}

impl Iterator for AvpReader<'_> {
    type Item = Result<AvpRef, DecodeError>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let p = self.pos;
        let rest = self.end - p;
        if rest == 0 {
            return None;
        }
        let buf = &self.buf[p..self.end];
        if rest < AVP_HEADER_LEN {
            let avp = RawAvp::new(0, AvpFlags::NONE, 0, self.buf.slice(p..self.end));
            return Some(Err(self.fail(
                rc::INVALID_AVP_LENGTH,
                avp,
                format!("{rest} trailing bytes cannot hold an AVP header"),
            )));
        }
        let code = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let flags = AvpFlags(buf[4]);
        let len = u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize;
        let (hlen, vendor_id) = if flags.is_vendor() {
            if rest < AVP_VENDOR_HEADER_LEN {
                let avp = RawAvp {
                    code,
                    flags,
                    vendor_id: 0,
                    data: Bytes::new(),
                };
                return Some(Err(self.fail(
                    rc::INVALID_AVP_LENGTH,
                    avp,
                    "V flag set but no room for the Vendor-ID".into(),
                )));
            }
            let v = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
            (AVP_VENDOR_HEADER_LEN, v)
        } else {
            (AVP_HEADER_LEN, 0)
        };
        if len < hlen || len > rest {
            let end = (p + len.max(hlen)).min(self.end);
            let avp = RawAvp {
                code,
                flags,
                vendor_id,
                data: self.buf.slice(p + hlen..end.max(p + hlen)),
            };
            return Some(Err(self.fail(
                rc::INVALID_AVP_LENGTH,
                avp,
                format!("AVP {code} length {len} with {rest} bytes left"),
            )));
        }
        let avp = AvpRef {
            code,
            flags,
            vendor_id,
            start: p + hlen,
            end: p + len,
        };
        if flags.bits() & AvpFlags::RESERVED_MASK != 0 {
            let raw = avp.to_raw(self.buf);
            return Some(Err(self.fail(
                rc::INVALID_AVP_BITS,
                raw,
                format!("reserved AVP flag bits set on AVP {code}"),
            )));
        }
        // A missing final padding is tolerated here; the message length check (a multiple of
        // four) catches a short message.
        self.pos = (p + len + padding(len)).min(self.end);
        Some(Ok(avp))
    }
}

/// Appends one AVP whose data `write` produces, filling in the length afterwards.
#[inline(always)]
pub fn encode_avp_with(
    out: &mut BytesMut,
    code: u32,
    flags: AvpFlags,
    vendor_id: u32,
    write: impl FnOnce(&mut BytesMut),
) {
    let start = out.len();
    put_avp_header(out, code, flags, vendor_id, 0);
    write(out);
    let len = out.len() - start;
    let word = ((flags.bits() as u32) << 24) | (len as u32 & 0x00ff_ffff);
    out[start + 4..start + 8].copy_from_slice(&word.to_be_bytes());
    put_padding(out, len);
}

/// Appends one AVP whose data is `data`: the length is known, so the header is written once.
#[inline(always)]
pub fn encode_slice_avp(
    out: &mut BytesMut,
    code: u32,
    flags: AvpFlags,
    vendor_id: u32,
    data: &[u8],
) {
    let len = flags.header_len() + data.len();
    out.reserve(len + padding(len));
    put_avp_header(out, code, flags, vendor_id, len as u32);
    out.extend_from_slice(data);
    put_padding(out, len);
}

/// Writes an AVP header at the start of `avp`: code, flags and length, and the Vendor-ID when
/// `V` is set.
#[inline(always)]
fn write_avp_header(avp: &mut [u8], code: u32, flags: AvpFlags, vendor_id: u32, len: usize) {
    let word = ((flags.bits() as u32) << 24) | (len as u32 & 0x00ff_ffff);
    avp[..4].copy_from_slice(&code.to_be_bytes());
    avp[4..8].copy_from_slice(&word.to_be_bytes());
    if flags.is_vendor() {
        avp[8..12].copy_from_slice(&vendor_id.to_be_bytes());
    }
}

/// Splits the `total` bytes of one AVP off the front of `out`, with its last word zeroed: the
/// part of that word the header and data do not cover is the padding. `None` when `out` is
/// shorter.
#[inline(always)]
fn split_avp(out: &mut [u8], total: usize) -> Option<(&mut [u8], &mut [u8])> {
    let (avp, rest) = out.split_at_mut_checked(total)?;
    avp[total - 4..].copy_from_slice(&[0; 4]);
    Some((avp, rest))
}

/// Writes one AVP whose data is `data` at the start of `out`, padding included, and returns
/// the rest of `out`; `None` when `out` has no room for it.
#[inline(always)]
pub fn write_slice_avp<'a>(
    out: &'a mut [u8],
    code: u32,
    flags: AvpFlags,
    vendor_id: u32,
    data: &[u8],
) -> Option<&'a mut [u8]> {
    let header = flags.header_len();
    let len = header + data.len();
    let (avp, rest) = split_avp(out, len + padding(len))?;
    write_avp_header(avp, code, flags, vendor_id, len);
    avp[header..len].copy_from_slice(data);
    Some(rest)
}

/// Writes one AVP whose data is the `N` bytes of `data` (a fixed-size value) at the start of
/// `out` and returns the rest of `out`; `None` when `out` has no room for it.
#[inline(always)]
pub fn write_fixed_avp<const N: usize>(
    out: &mut [u8],
    code: u32,
    flags: AvpFlags,
    vendor_id: u32,
    data: [u8; N],
) -> Option<&mut [u8]> {
    let header = flags.header_len();
    let len = header + N;
    let (avp, rest) = if padding(len) == 0 {
        out.split_at_mut_checked(len)?
    } else {
        split_avp(out, len + padding(len))?
    };
    write_avp_header(avp, code, flags, vendor_id, len);
    avp[header..len].copy_from_slice(&data);
    Some(rest)
}

/// Writes one AVP whose data is the first `len` bytes of the fixed-size `data` (a short text
/// held inline) at the start of `out` and returns the rest of `out`; `None` when `out` has no
/// room for it. With room past the AVP, all of `data` is copied in one fixed-size copy and the
/// bytes past the text are zeroed with one 4-byte write; they lie in the rest of `out`, which
/// later AVPs overwrite.
#[inline(always)]
pub fn write_inline_avp<'a, const N: usize>(
    out: &'a mut [u8],
    code: u32,
    flags: AvpFlags,
    vendor_id: u32,
    data: &[u8; N],
    len: usize,
) -> Option<&'a mut [u8]> {
    let header = flags.header_len();
    let avp_len = header + len;
    if out.len() < header + N + 4 {
        return write_slice_avp(out, code, flags, vendor_id, &data[..len]);
    }
    write_avp_header(out, code, flags, vendor_id, avp_len);
    out[header..header + N].copy_from_slice(data);
    out[avp_len..avp_len + 4].copy_from_slice(&[0; 4]);
    Some(&mut out[avp_len + padding(avp_len)..])
}

/// Writes one AVP at the start of `out` whose data `write` writes at the start of the slice it
/// is given, returning the rest of that slice (a Grouped value writes its AVPs); the header's
/// length is the number of bytes written. Returns the rest of `out`; `None` when `out` has no
/// room for the AVP.
#[inline(always)]
pub fn write_avp_with<'a>(
    out: &'a mut [u8],
    code: u32,
    flags: AvpFlags,
    vendor_id: u32,
    write: impl FnOnce(&'a mut [u8]) -> Option<&'a mut [u8]>,
) -> Option<&'a mut [u8]> {
    let header = flags.header_len();
    let (head, body) = out.split_at_mut_checked(header)?;
    let room = body.len();
    let rest = write(body)?;
    let len = header + room - rest.len();
    write_avp_header(head, code, flags, vendor_id, len);
    match padding(len) {
        0 => Some(rest),
        pad => {
            let (zeros, rest) = rest.split_at_mut_checked(pad)?;
            zeros.fill(0);
            Some(rest)
        }
    }
}

/// An AVP's identity: its code and Vendor-ID (0 for IETF AVPs). Generated `avp` modules
/// hold one per AVP, so a 3GPP code never loses its vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AvpCode {
    /// The AVP code.
    pub code: u32,
    /// The Vendor-ID; 0 for IETF AVPs (no `V` bit).
    pub vendor_id: u32,
}

impl AvpCode {
    /// An IETF AVP (Vendor-ID 0).
    pub const fn new(code: u32) -> Self {
        AvpCode { code, vendor_id: 0 }
    }

    /// A vendor's AVP; Vendor-ID 0 is an IETF AVP.
    pub const fn vendor(code: u32, vendor_id: u32) -> Self {
        AvpCode { code, vendor_id }
    }

    /// Whether `avp` is this AVP.
    pub fn is(self, avp: &AvpRef) -> bool {
        avp.code == self.code && avp.vendor_id == self.vendor_id
    }
}

impl std::fmt::Display for AvpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.vendor_id == 0 {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{} (vendor {})", self.code, self.vendor_id)
        }
    }
}
