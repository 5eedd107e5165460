//! The RFC 6733 basic and derived AVP data types (§4.2, §4.3) and how each is encoded.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};

use super::avp::{avp_len, put_u32, AvpFlags};

use super::error::{rc, DecodeError};

/// A type that can be the data of an AVP.
pub trait AvpValue: Sized {
    /// The smallest valid data length: the zero-filled Failed-AVP of a missing AVP has it.
    const MIN_LEN: usize = 0;

    /// Decodes the AVP data (padding excluded). Errors carry 5014 for a wrong length and 5004
    /// for an invalid value; the caller attaches the AVP.
    fn decode_value(data: Bytes) -> Result<Self, DecodeError>;

    /// Decodes the data at `buf[start..end]`. The default slices `buf` (a reference count,
    /// no copy); fixed-size and Grouped types read in place.
    #[inline]
    fn decode_at(buf: &Bytes, start: usize, end: usize) -> Result<Self, DecodeError> {
        Self::decode_value(buf.slice(start..end))
    }

    /// Checks the data at `buf[start..end]` as [`AvpValue::decode_at`] would, with the same
    /// error, without building the value (run-time validation calls this).
    #[inline]
    fn check_at(buf: &Bytes, start: usize, end: usize) -> Result<(), DecodeError> {
        Self::decode_at(buf, start, end).map(drop)
    }

    /// Appends the data, without padding.
    fn encode_value(&self, out: &mut BytesMut);

    /// The number of bytes [`AvpValue::encode_value`] appends. The default encodes into a
    /// scratch buffer to count them; every type of this crate and generated types compute it,
    /// so a message is encoded into a buffer of exactly its size.
    #[inline]
    fn value_len(&self) -> usize {
        let mut scratch = BytesMut::new();
        self.encode_value(&mut scratch);
        scratch.len()
    }

    /// A cheap value that decoding overwrites: generated decoders build their struct in place
    /// from placeholders and check afterwards that every required AVP was seen.
    fn placeholder() -> Self;

    /// Decodes `buf[start..end]` into `slot`, which holds [`AvpValue::placeholder`]. Grouped
    /// types decode in place instead of building a value and moving it.
    #[inline(always)]
    fn decode_into(
        slot: &mut Self,
        buf: &Bytes,
        start: usize,
        end: usize,
    ) -> Result<(), DecodeError> {
        *slot = Self::decode_at(buf, start, end)?;
        Ok(())
    }

    /// Appends a whole AVP holding this value: header, data and padding, written with
    /// [`AvpValue::write_avp`] into room of its size.
    #[inline]
    fn encode_avp(&self, out: &mut BytesMut, code: u32, flags: AvpFlags, vendor_id: u32) {
        let start = out.len();
        out.resize(start + avp_len(flags, self.value_len()), 0);
        let written = self.write_avp(&mut out[start..], code, flags, vendor_id);
        assert!(
            written.is_some_and(|rest| rest.is_empty()),
            "value_len differs from what write_avp writes"
        );
    }

    /// Writes a whole AVP holding this value (header, data and padding) at the start of `out`
    /// and returns the rest of `out`; `None` when `out` has no room for it ([`avp_len`] of
    /// [`AvpValue::value_len`] bytes). The default encodes the data with
    /// [`AvpValue::encode_value`] into a scratch buffer and copies it; every type of this crate
    /// and derived types write in place.
    ///
    /// [`avp_len`]: crate::codec::avp::avp_len
    #[inline]
    fn write_avp<'a>(
        &self,
        out: &'a mut [u8],
        code: u32,
        flags: AvpFlags,
        vendor_id: u32,
    ) -> Option<&'a mut [u8]> {
        let mut data = BytesMut::with_capacity(self.value_len());
        self.encode_value(&mut data);
        crate::codec::avp::write_slice_avp(out, code, flags, vendor_id, &data)
    }

    /// Whether this is the empty value `Default` gives and a sender must not leave in a
    /// required field: empty text, identities, URIs and octets, and an enumerated value 0 the
    /// dictionary does not name. Numbers are never unset (0 is a value).
    #[inline]
    fn is_unset(&self) -> bool {
        false
    }

    /// For Grouped values: the name of the first required AVP inside that is unset.
    #[inline]
    fn first_unset(&self) -> Option<&'static str> {
        None
    }
}

/// OctetString: arbitrary bytes.
pub type OctetString = Bytes;

impl AvpValue for Bytes {
    #[inline]
    fn placeholder() -> Self {
        Bytes::new()
    }
    #[inline]
    fn decode_value(data: Bytes) -> Result<Self, DecodeError> {
        Ok(data)
    }
    #[inline]
    fn check_at(_: &Bytes, _: usize, _: usize) -> Result<(), DecodeError> {
        Ok(())
    }
    #[inline]
    fn encode_value(&self, out: &mut BytesMut) {
        out.extend_from_slice(self);
    }
    #[inline(always)]
    fn write_avp<'a>(
        &self,
        out: &'a mut [u8],
        code: u32,
        flags: AvpFlags,
        vendor_id: u32,
    ) -> Option<&'a mut [u8]> {
        crate::codec::avp::write_slice_avp(out, code, flags, vendor_id, self)
    }
    #[inline]
    fn value_len(&self) -> usize {
        self.len()
    }
    #[inline]
    fn is_unset(&self) -> bool {
        self.is_empty()
    }
}

#[inline]
fn fixed<const N: usize>(data: &[u8], ty: &'static str) -> Result<[u8; N], DecodeError> {
    <[u8; N]>::try_from(data).map_err(|_| wrong_length(ty, N, data.len()))
}

/// 5014 for a fixed-size value of the wrong length (out of line: decoders inline the check).
#[cold]
#[inline(never)]
fn wrong_length(ty: &'static str, need: usize, got: usize) -> DecodeError {
    DecodeError::new(
        rc::INVALID_AVP_LENGTH,
        format!("{ty} needs {need} bytes, got {got}"),
    )
}

/// 5004 for text that is not UTF-8 (out of line: decoders inline the check).
#[cold]
#[inline(never)]
fn invalid_utf8(label: &'static str, e: std::str::Utf8Error) -> DecodeError {
    DecodeError::new(
        rc::INVALID_AVP_VALUE,
        format!("{label} is not valid UTF-8: {e}"),
    )
}

macro_rules! numeric {
    ($($t:ty, $n:literal, $name:literal);* $(;)?) => {$(
        impl AvpValue for $t {
            const MIN_LEN: usize = $n;
            #[inline]
            fn placeholder() -> Self {
                0 as $t
            }
            #[inline]
            fn decode_value(data: Bytes) -> Result<Self, DecodeError> {
                Ok(<$t>::from_be_bytes(fixed::<$n>(&data, $name)?))
            }
            #[inline]
            fn decode_at(buf: &Bytes, start: usize, end: usize) -> Result<Self, DecodeError> {
                Ok(<$t>::from_be_bytes(fixed::<$n>(&buf[start..end], $name)?))
            }
            #[inline]
            fn encode_value(&self, out: &mut BytesMut) {
                out.extend_from_slice(&self.to_be_bytes());
            }
            #[inline(always)]
            fn value_len(&self) -> usize {
                std::mem::size_of::<$t>()
            }
            #[inline(always)]
            fn write_avp<'a>(&self, out: &'a mut [u8], code: u32, flags: AvpFlags, vendor_id: u32) -> Option<&'a mut [u8]> {
                crate::codec::avp::write_fixed_avp(out, code, flags, vendor_id, self.to_be_bytes())
            }
        }
    )*};
}

numeric! {
    i32, 4, "Integer32";
    i64, 8, "Integer64";
    u32, 4, "Unsigned32";
    u64, 8, "Unsigned64";
    f32, 4, "Float32";
    f64, 8, "Float64";
}

/// Integer32.
pub type Integer32 = i32;
/// Integer64.
pub type Integer64 = i64;
/// Unsigned32.
pub type Unsigned32 = u32;
/// Unsigned64.
pub type Unsigned64 = u64;
/// Float32.
pub type Float32 = f32;
/// Float64.
pub type Float64 = f64;

/// Texts up to this many bytes are stored inline: no reference count, no allocation.
const INLINE_TEXT: usize = 38;

/// Storage of the text types: short texts inline, longer ones sharing the message buffer.
#[derive(Clone)]
enum TextRepr {
    Inline { len: u8, buf: [u8; INLINE_TEXT] },
    Shared(Bytes),
}

impl TextRepr {
    #[inline]
    fn from_slice(b: &[u8]) -> Option<Self> {
        if b.len() > INLINE_TEXT {
            return None;
        }
        // Copied in whole 8-byte words, the last one assembled in a register: a text copied
        // with narrow stores is then moved with wide loads (into the message being built),
        // which stall on store forwarding. A constant text becomes constant words.
        let mut buf = [0u8; INLINE_TEXT];
        let mut words = b.chunks_exact(8);
        let mut at = 0;
        for w in &mut words {
            buf[at..at + 8].copy_from_slice(w);
            at += 8;
        }
        let n = (INLINE_TEXT - at).min(8);
        buf[at..at + n].copy_from_slice(&tail_word(words.remainder()).to_le_bytes()[..n]);
        Some(TextRepr::Inline {
            len: b.len() as u8,
            buf,
        })
    }
    /// The text at `buf[start..end]`. Short texts are copied inline with one fixed-size copy
    /// when the buffer extends far enough past them (the bytes after `len` are never read).
    #[inline(always)]
    fn from_buffer(buf: &Bytes, start: usize, end: usize) -> Self {
        let len = end - start;
        if len > INLINE_TEXT {
            return TextRepr::Shared(buf.slice(start..end));
        }
        let mut inline = [0u8; INLINE_TEXT];
        match buf.get(start..start + INLINE_TEXT) {
            Some(window) => inline.copy_from_slice(window),
            None => inline[..len].copy_from_slice(&buf[start..end]),
        }
        TextRepr::Inline {
            len: len as u8,
            buf: inline,
        }
    }
    /// Sets `self` to the text at `buf[start..end]`, copying a short text straight into
    /// the inline buffer it already has (decoding writes into placeholders, which are inline):
    /// no temporary, so no misaligned reload of a fresh copy.
    #[inline(always)]
    fn set_from_buffer(&mut self, buf: &Bytes, start: usize, end: usize) {
        let n = end - start;
        if n > INLINE_TEXT {
            *self = TextRepr::Shared(buf.slice(start..end));
            return;
        }
        if let TextRepr::Shared(_) = self {
            *self = TextRepr::Inline {
                len: 0,
                buf: [0; INLINE_TEXT],
            };
        }
        if let TextRepr::Inline { len, buf: inline } = self {
            *len = n as u8;
            match buf.get(start..start + INLINE_TEXT) {
                Some(window) => inline.copy_from_slice(window),
                None => inline[..n].copy_from_slice(&buf[start..end]),
            }
        }
    }
    #[inline]
    fn from_bytes(b: Bytes) -> Self {
        Self::from_slice(&b).unwrap_or(TextRepr::Shared(b))
    }
    #[inline]
    fn as_slice(&self) -> &[u8] {
        match self {
            TextRepr::Inline { len, buf } => &buf[..*len as usize],
            TextRepr::Shared(b) => b,
        }
    }
}

/// The up to 7 bytes of `t` as a little-endian word, zero above them, read as two
/// overlapping loads.
#[inline(always)]
fn tail_word(t: &[u8]) -> u64 {
    let n = t.len();
    let u16_at = |at: usize| match t[at..at + 2].try_into() {
        Ok(b) => u16::from_le_bytes(b) as u64,
        Err(_) => 0,
    };
    let u32_at = |at: usize| match t[at..at + 4].try_into() {
        Ok(b) => u32::from_le_bytes(b) as u64,
        Err(_) => 0,
    };
    match n {
        0 => 0,
        1 => t[0] as u64,
        2..=3 => u16_at(0) | u16_at(n - 2) << ((n - 2) * 8),
        _ => u32_at(0) | u32_at(n - 4) << ((n - 4) * 8),
    }
}

#[inline]
fn check_utf8(b: &[u8]) -> Result<(), std::str::Utf8Error> {
    // Diameter text is nearly always ASCII, which a word-at-a-time scan confirms.
    if !b.is_ascii() {
        std::str::from_utf8(b)?;
    }
    Ok(())
}

/// 5014 for a text type that cannot be empty.
#[cold]
fn empty_text(label: &str) -> DecodeError {
    DecodeError::new(rc::INVALID_AVP_LENGTH, format!("an empty {label}"))
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $label:literal) => {
        text_type!($(#[$doc])* $name, $label, false);
    };
    ($(#[$doc:meta])* $name:ident, $label:literal, $nonempty:literal) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(TextRepr);

        impl $name {
            /// Wraps text.
            pub fn new(s: impl Into<String>) -> Self {
                Self::from(s.into())
            }
            /// Wraps static text without copying.
            pub const fn from_static(s: &'static str) -> Self {
                Self(TextRepr::Shared(Bytes::from_static(s.as_bytes())))
            }
            /// Checks that `b` is UTF-8 and wraps it.
            #[inline]
            pub fn from_utf8(b: Bytes) -> Result<Self, std::str::Utf8Error> {
                check_utf8(&b)?;
                Ok(Self(TextRepr::from_bytes(b)))
            }
            /// The text.
            #[inline]
            pub fn as_str(&self) -> &str {
                // Every constructor checks UTF-8; the fallback is never taken.
                std::str::from_utf8(self.0.as_slice()).unwrap_or_default()
            }
            /// The encoded bytes.
            #[inline]
            pub fn as_bytes(&self) -> &[u8] {
                self.0.as_slice()
            }
            /// The encoded bytes as `Bytes`.
            pub fn to_bytes(&self) -> Bytes {
                match &self.0 {
                    TextRepr::Shared(b) => b.clone(),
                    TextRepr::Inline { .. } => Bytes::copy_from_slice(self.as_bytes()),
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::from_static("")
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.as_bytes() == other.as_bytes()
            }
        }
        impl Eq for $name {}
        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
                self.as_bytes().hash(h)
            }
        }
        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.as_bytes().cmp(other.as_bytes())
            }
        }

        impl AvpValue for $name {
            #[inline]
            fn placeholder() -> Self {
                Self(TextRepr::Inline { len: 0, buf: [0; INLINE_TEXT] })
            }
            #[inline]
            fn decode_value(data: Bytes) -> Result<Self, DecodeError> {
                if $nonempty && data.is_empty() {
                    return Err(empty_text($label));
                }
                Self::from_utf8(data).map_err(|e| invalid_utf8($label, e))
            }
            #[inline(always)]
            fn decode_at(buf: &Bytes, start: usize, end: usize) -> Result<Self, DecodeError> {
                Self::check_at(buf, start, end)?;
                Ok(Self(TextRepr::from_buffer(buf, start, end)))
            }
            #[inline(always)]
            fn decode_into(slot: &mut Self, buf: &Bytes, start: usize, end: usize) -> Result<(), DecodeError> {
                Self::check_at(buf, start, end)?;
                slot.0.set_from_buffer(buf, start, end);
                Ok(())
            }
            #[inline(always)]
            fn check_at(buf: &Bytes, start: usize, end: usize) -> Result<(), DecodeError> {
                let b = &buf[start..end];
                if $nonempty && b.is_empty() {
                    return Err(empty_text($label));
                }
                if let Err(e) = check_utf8(b) {
                    return Err(invalid_utf8($label, e));
                }
                Ok(())
            }
            #[inline]
            fn encode_value(&self, out: &mut BytesMut) {
                out.extend_from_slice(self.as_bytes());
            }
            #[inline(always)]
            fn value_len(&self) -> usize {
                self.as_bytes().len()
            }
            #[inline(always)]
            fn write_avp<'a>(&self, out: &'a mut [u8], code: u32, flags: AvpFlags, vendor_id: u32) -> Option<&'a mut [u8]> {
                match &self.0 {
                    TextRepr::Inline { len, buf } => crate::codec::avp::write_inline_avp(
                        out, code, flags, vendor_id, buf, *len as usize,
                    ),
                    TextRepr::Shared(b) => {
                        crate::codec::avp::write_slice_avp(out, code, flags, vendor_id, b)
                    }
                }
            }
            #[inline]
            fn is_unset(&self) -> bool {
                self.as_bytes().is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl From<&str> for $name {
            #[inline]
            fn from(s: &str) -> Self {
                Self(TextRepr::from_slice(s.as_bytes())
                    .unwrap_or_else(|| TextRepr::Shared(Bytes::copy_from_slice(s.as_bytes()))))
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(TextRepr::from_bytes(Bytes::from(s)))
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_bytes() == other.as_bytes()
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_bytes() == other.as_bytes()
            }
        }
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                self.as_str()
            }
        }
    };
}

text_type!(
    /// UTF8String: text, checked to be UTF-8 when decoded (invalid → 5004).
    Utf8String,
    "UTF8String"
);
text_type!(
    /// DiameterIdentity: the FQDN of a node or a realm name; never empty (an empty one is
    /// 5014, as Erlang diameter answers).
    DiameterIdentity,
    "DiameterIdentity",
    true
);
text_type!(
    /// IPFilterRule (RFC 6733 §4.3.1): a packet filter in the ipfw-like text form; see
    /// [`IpFilterRule::parse`].
    IpFilterRule,
    "IPFilterRule"
);
text_type!(
    /// QoSFilterRule (RFC 4005 §4.3): a QoS filter in its text form.
    QosFilterRule,
    "QoSFilterRule"
);

/// The parts of an [`IpFilterRule`]: `action dir proto from src to dst [options]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpFilter<'a> {
    /// `permit` or `deny`.
    pub action: &'a str,
    /// `in` or `out`.
    pub direction: &'a str,
    /// `ip` or a protocol number.
    pub protocol: &'a str,
    /// Source address part (`any`, `assigned`, an address, optional `!`, mask and ports).
    pub source: Vec<&'a str>,
    /// Destination address part.
    pub destination: Vec<&'a str>,
    /// Options after the destination (`frag`, `ipoptions`, `tcpflags` …).
    pub options: Vec<&'a str>,
}

impl IpFilterRule {
    /// Splits the rule into its parts, or says what is wrong with it.
    pub fn parse(&self) -> Result<IpFilter<'_>, String> {
        let mut words = self.as_str().split_ascii_whitespace();
        let action = words.next().ok_or("empty rule")?;
        if action != "permit" && action != "deny" {
            return Err(format!("action `{action}` is neither permit nor deny"));
        }
        let direction = words.next().ok_or("no direction")?;
        if direction != "in" && direction != "out" {
            return Err(format!("direction `{direction}` is neither in nor out"));
        }
        let protocol = words.next().ok_or("no protocol")?;
        if words.next() != Some("from") {
            return Err("`from` expected after the protocol".into());
        }
        let mut source = Vec::new();
        for w in words.by_ref() {
            if w == "to" {
                break;
            }
            source.push(w);
        }
        if source.is_empty() {
            return Err("no source address".into());
        }
        let rest: Vec<&str> = words.collect();
        if rest.is_empty() {
            return Err("no destination after `to`".into());
        }
        // The destination is the address plus any port list; options start at a known keyword.
        let opt_start = rest
            .iter()
            .position(|w| {
                matches!(
                    *w,
                    "frag"
                        | "ipoptions"
                        | "tcpoptions"
                        | "established"
                        | "setup"
                        | "tcpflags"
                        | "icmptypes"
                )
            })
            .unwrap_or(rest.len());
        Ok(IpFilter {
            action,
            direction,
            protocol,
            source,
            destination: rest[..opt_start].to_vec(),
            options: rest[opt_start..].to_vec(),
        })
    }
}

/// Address (RFC 6733 §4.3.1): an address family (IANA "Address Family Numbers") and its bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// Family 1.
    V4(Ipv4Addr),
    /// Family 2.
    V6(Ipv6Addr),
    /// Family 8, E.164 number as ASCII digits.
    E164(Bytes),
    /// Any other family, kept as it came.
    Other {
        /// The address family number.
        family: u16,
        /// The address bytes.
        data: Bytes,
    },
}

impl Address {
    /// The address family number.
    pub fn family(&self) -> u16 {
        match self {
            Address::V4(_) => 1,
            Address::V6(_) => 2,
            Address::E164(_) => 8,
            Address::Other { family, .. } => *family,
        }
    }
    /// The IP address, for families 1 and 2.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Address::V4(a) => Some(IpAddr::V4(*a)),
            Address::V6(a) => Some(IpAddr::V6(*a)),
            _ => None,
        }
    }
}

impl From<IpAddr> for Address {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Address::V4(a),
            IpAddr::V6(a) => Address::V6(a),
        }
    }
}
impl From<Ipv4Addr> for Address {
    fn from(ip: Ipv4Addr) -> Self {
        Address::V4(ip)
    }
}
impl From<Ipv6Addr> for Address {
    fn from(ip: Ipv6Addr) -> Self {
        Address::V6(ip)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::V4(a) => write!(f, "{a}"),
            Address::V6(a) => write!(f, "{a}"),
            Address::E164(d) => write!(f, "E.164:{}", String::from_utf8_lossy(d)),
            Address::Other { family, data } => {
                write!(f, "family {family}:")?;
                data.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

/// The checks of an Address's data, giving its family: at least the 2 family bytes, the
/// length IPv4 and IPv6 need, digits for E.164.
fn check_address(data: &[u8]) -> Result<u16, DecodeError> {
    if data.len() < 2 {
        return Err(DecodeError::new(
            rc::INVALID_AVP_LENGTH,
            format!("Address needs at least 2 bytes, got {}", data.len()),
        ));
    }
    let family = u16::from_be_bytes([data[0], data[1]]);
    let body = &data[2..];
    // A length that does not fit the family is the AVP's length at fault (Erlang diameter
    // answers it the same way).
    let need = match family {
        1 => 4,
        2 => 16,
        8 => {
            if !body.iter().all(|b| b.is_ascii_digit()) {
                return Err(DecodeError::new(
                    rc::INVALID_AVP_VALUE,
                    "E.164 address holds a non-digit",
                ));
            }
            return Ok(family);
        }
        _ => return Ok(family),
    };
    if body.len() != need {
        return Err(DecodeError::new(
            rc::INVALID_AVP_LENGTH,
            format!(
                "address family {family} needs {need} bytes, got {}",
                body.len()
            ),
        ));
    }
    Ok(family)
}

impl AvpValue for Address {
    #[inline]
    fn placeholder() -> Self {
        Address::V4(Ipv4Addr::UNSPECIFIED)
    }
    const MIN_LEN: usize = 2;
    fn decode_value(data: Bytes) -> Result<Self, DecodeError> {
        let family = check_address(&data)?;
        let body = data.slice(2..);
        Ok(match family {
            1 => Address::V4(Ipv4Addr::from(
                <[u8; 4]>::try_from(&body[..]).expect("checked"),
            )),
            2 => Address::V6(Ipv6Addr::from(
                <[u8; 16]>::try_from(&body[..]).expect("checked"),
            )),
            8 => Address::E164(body),
            _ => Address::Other { family, data: body },
        })
    }
    #[inline]
    fn check_at(buf: &Bytes, start: usize, end: usize) -> Result<(), DecodeError> {
        check_address(&buf[start..end]).map(drop)
    }
    fn encode_value(&self, out: &mut BytesMut) {
        out.extend_from_slice(&(self.family()).to_be_bytes());
        match self {
            Address::V4(a) => out.extend_from_slice(&a.octets()),
            Address::V6(a) => out.extend_from_slice(&a.octets()),
            Address::E164(d) | Address::Other { data: d, .. } => out.extend_from_slice(d),
        }
    }
    #[inline]
    fn value_len(&self) -> usize {
        2 + match self {
            Address::V4(_) => 4,
            Address::V6(_) => 16,
            Address::E164(d) | Address::Other { data: d, .. } => d.len(),
        }
    }
    #[inline]
    fn write_avp<'a>(
        &self,
        out: &'a mut [u8],
        code: u32,
        flags: AvpFlags,
        vendor_id: u32,
    ) -> Option<&'a mut [u8]> {
        crate::codec::avp::write_avp_with(out, code, flags, vendor_id, |data| {
            let (family, rest) = data.split_at_mut_checked(2)?;
            family.copy_from_slice(&self.family().to_be_bytes());
            let (v4, v6);
            let value: &[u8] = match self {
                Address::V4(a) => {
                    v4 = a.octets();
                    &v4
                }
                Address::V6(a) => {
                    v6 = a.octets();
                    &v6
                }
                Address::E164(d) | Address::Other { data: d, .. } => d,
            };
            let (dst, rest) = rest.split_at_mut_checked(value.len())?;
            dst.copy_from_slice(value);
            Some(rest)
        })
    }
}

/// Time (RFC 6733 §4.3.1): seconds since 1900-01-01 UTC as NTP counts them, 32 bits.
///
/// The counter wraps on 2036-02-07 06:28:16 UTC. As RFC 6733 says (after RFC 2030), a value
/// with the top bit clear is read as counting from that date, so times from 1968 to 2104 are
/// representable.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Time(pub u32);

/// Seconds from 1900-01-01 to 1970-01-01.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// The Unix time of the NTP era-1 start, 2036-02-07 06:28:16 UTC.
const ERA1_UNIX: u64 = (1u64 << 32) - NTP_UNIX_OFFSET;

impl Time {
    /// Seconds since the Unix epoch that this value stands for.
    pub fn unix_seconds(self) -> u64 {
        if self.0 & 0x8000_0000 != 0 {
            // Era 0: 1968-01-20 .. 2036-02-07.
            (self.0 as u64).saturating_sub(NTP_UNIX_OFFSET)
        } else {
            ERA1_UNIX + self.0 as u64
        }
    }

    /// The value for a Unix time, or `None` outside 1968-01-20 .. 2104-02-26.
    pub fn from_unix_seconds(secs: u64) -> Option<Time> {
        let ntp = secs + NTP_UNIX_OFFSET;
        if ntp >= 1 << 32 {
            let era1 = secs - ERA1_UNIX;
            (era1 < 0x8000_0000).then_some(Time(era1 as u32))
        } else if ntp >= 0x8000_0000 {
            Some(Time(ntp as u32))
        } else {
            None
        }
    }

    /// As a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.unix_seconds())
    }

    /// From a `SystemTime`, or `None` outside the representable range.
    pub fn from_system_time(t: SystemTime) -> Option<Time> {
        Self::from_unix_seconds(t.duration_since(UNIX_EPOCH).ok()?.as_secs())
    }

    /// The current time.
    pub fn now() -> Time {
        Self::from_system_time(SystemTime::now()).unwrap_or_default()
    }
}

impl fmt::Debug for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Time(unix {})", self.unix_seconds())
    }
}

impl AvpValue for Time {
    #[inline]
    fn placeholder() -> Self {
        Time(0)
    }
    const MIN_LEN: usize = 4;
    #[inline]
    fn decode_value(data: Bytes) -> Result<Self, DecodeError> {
        Ok(Time(u32::from_be_bytes(fixed::<4>(&data, "Time")?)))
    }
    #[inline]
    fn decode_at(buf: &Bytes, start: usize, end: usize) -> Result<Self, DecodeError> {
        Ok(Time(u32::from_be_bytes(fixed::<4>(
            &buf[start..end],
            "Time",
        )?)))
    }
    #[inline]
    fn encode_value(&self, out: &mut BytesMut) {
        put_u32(out, self.0);
    }
    #[inline]
    fn value_len(&self) -> usize {
        4
    }
    #[inline]
    fn write_avp<'a>(
        &self,
        out: &'a mut [u8],
        code: u32,
        flags: AvpFlags,
        vendor_id: u32,
    ) -> Option<&'a mut [u8]> {
        crate::codec::avp::write_fixed_avp(out, code, flags, vendor_id, self.0.to_be_bytes())
    }
}

/// Transport of a [`DiameterUri`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// `tcp`.
    Tcp,
    /// `sctp`.
    Sctp,
    /// `udp` (RADIUS and TACACS+ only).
    Udp,
}

/// Protocol of a [`DiameterUri`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AaaProtocol {
    /// `diameter`.
    Diameter,
    /// `radius`.
    Radius,
    /// `tacacs+`.
    TacacsPlus,
}

/// DiameterURI (RFC 6733 §4.3.1): `aaa://host[:port][;transport=…][;protocol=…]` or `aaas://…`.
///
/// Parsed when decoded (invalid → 5004); the text is kept so it re-encodes byte-exact. Absent
/// parts take RFC 6733's defaults: port 3868 (`aaa`) or 5658 (`aaas`), transport TCP,
/// protocol diameter.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DiameterUri {
    text: Bytes,
    /// `true` for `aaas://` (TLS/DTLS).
    pub secure: bool,
    /// The FQDN or address of the node.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The transport.
    pub transport: Transport,
    /// The protocol.
    pub protocol: AaaProtocol,
}

impl DiameterUri {
    /// Parses a URI.
    pub fn parse(s: &str) -> Result<DiameterUri, String> {
        let (secure, rest) = if let Some(r) = s.strip_prefix("aaas://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("aaa://") {
            (false, r)
        } else {
            return Err(format!("`{s}` does not start with aaa:// or aaas://"));
        };
        let mut parts = rest.split(';');
        let hostport = parts.next().unwrap_or_default();
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let end = v6.find(']').ok_or("unclosed `[` in host")?;
            let port = v6[end + 1..].strip_prefix(':');
            (&v6[..end], port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err("empty host".into());
        }
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| format!("bad port `{p}`"))?,
            None if secure => 5658,
            None => 3868,
        };
        let mut transport = Transport::Tcp;
        let mut protocol = AaaProtocol::Diameter;
        for p in parts {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| format!("bad parameter `{p}`"))?;
            match (
                k.to_ascii_lowercase().as_str(),
                v.to_ascii_lowercase().as_str(),
            ) {
                ("transport", "tcp") => transport = Transport::Tcp,
                ("transport", "sctp") => transport = Transport::Sctp,
                ("transport", "udp") => transport = Transport::Udp,
                ("protocol", "diameter") => protocol = AaaProtocol::Diameter,
                ("protocol", "radius") => protocol = AaaProtocol::Radius,
                ("protocol", "tacacs+") => protocol = AaaProtocol::TacacsPlus,
                _ => return Err(format!("unknown parameter `{p}`")),
            }
        }
        Ok(DiameterUri {
            text: Bytes::copy_from_slice(s.as_bytes()),
            secure,
            host: host.to_string(),
            port,
            transport,
            protocol,
        })
    }

    /// The URI text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text).unwrap_or_default()
    }
}

impl fmt::Debug for DiameterUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::str::FromStr for DiameterUri {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl AvpValue for DiameterUri {
    fn placeholder() -> Self {
        DiameterUri {
            text: Bytes::new(),
            secure: false,
            host: String::new(),
            port: 3868,
            transport: Transport::Tcp,
            protocol: AaaProtocol::Diameter,
        }
    }
    fn decode_value(data: Bytes) -> Result<Self, DecodeError> {
        let s = std::str::from_utf8(&data).map_err(|e| {
            DecodeError::new(
                rc::INVALID_AVP_VALUE,
                format!("DiameterURI is not UTF-8: {e}"),
            )
        })?;
        let mut uri = Self::parse(s).map_err(|e| {
            DecodeError::new(rc::INVALID_AVP_VALUE, format!("invalid DiameterURI: {e}"))
        })?;
        uri.text = data;
        Ok(uri)
    }
    fn encode_value(&self, out: &mut BytesMut) {
        out.extend_from_slice(&self.text);
    }
    fn value_len(&self) -> usize {
        self.text.len()
    }
    fn write_avp<'a>(
        &self,
        out: &'a mut [u8],
        code: u32,
        flags: AvpFlags,
        vendor_id: u32,
    ) -> Option<&'a mut [u8]> {
        crate::codec::avp::write_slice_avp(out, code, flags, vendor_id, &self.text)
    }
    fn is_unset(&self) -> bool {
        self.text.is_empty()
    }
}

/// An Enumerated or named-value type: an Integer32 or Unsigned32 underneath.
pub trait EnumValue: Copy {
    /// The wire type: `i32` for Enumerated and Integer32, `u32` for Unsigned32.
    type Repr: AvpValue + Copy;
    /// The value for a wire number; unknown numbers are kept.
    fn from_repr(v: Self::Repr) -> Self;
    /// The wire number.
    fn to_repr(self) -> Self::Repr;
    /// The dictionary name of the value, if it has one.
    fn name(self) -> Option<&'static str>;
}
