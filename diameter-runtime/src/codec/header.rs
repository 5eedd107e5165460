//! The 20-byte Diameter message header (RFC 6733 §3).

use bytes::BytesMut;

use super::error::{rc, DecodeError};

/// Length of the fixed message header in bytes.
pub const HEADER_LEN: usize = 20;

/// The only Diameter version there is.
pub const VERSION: u8 = 1;

/// Command flags of a message header: `R`, `P`, `E` and `T` (RFC 6733 §3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CommandFlags(u8);

impl CommandFlags {
    /// `R`: the message is a request.
    pub const REQUEST: Self = Self(0x80);
    /// `P`: the message may be proxied, relayed or redirected.
    pub const PROXIABLE: Self = Self(0x40);
    /// `E`: the answer carries a protocol error (3xxx) and follows the answer-message grammar.
    pub const ERROR: Self = Self(0x20);
    /// `T`: the request may be a retransmission after a link failover.
    pub const RETRANSMIT: Self = Self(0x10);
    /// No flag set.
    pub const NONE: Self = Self(0);
    /// Bits RFC 6733 reserves; they must be zero.
    pub const RESERVED_MASK: u8 = 0x0f;

    /// The flags from their wire byte, reserved bits included.
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
    /// `R` is set.
    pub const fn is_request(self) -> bool {
        self.contains(Self::REQUEST)
    }
    /// `P` is set.
    pub const fn is_proxiable(self) -> bool {
        self.contains(Self::PROXIABLE)
    }
    /// `E` is set.
    pub const fn is_error(self) -> bool {
        self.contains(Self::ERROR)
    }
    /// `T` is set.
    pub const fn is_retransmit(self) -> bool {
        self.contains(Self::RETRANSMIT)
    }
}

impl std::ops::BitOr for CommandFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.with(rhs)
    }
}

impl std::fmt::Debug for CommandFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        for (flag, c) in [
            (Self::REQUEST, 'R'),
            (Self::PROXIABLE, 'P'),
            (Self::ERROR, 'E'),
            (Self::RETRANSMIT, 'T'),
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

/// A decoded message header.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Header {
    /// Protocol version; always 1 on a valid message.
    pub version: u8,
    /// Message length in bytes, header included.
    pub length: u32,
    /// `R`, `P`, `E`, `T`.
    pub flags: CommandFlags,
    /// 24-bit command code.
    pub command_code: u32,
    /// Application-ID.
    pub application_id: u32,
    /// Hop-by-Hop Identifier: matches an answer to its request on one connection.
    pub hop_by_hop: u32,
    /// End-to-End Identifier: detects duplicate requests.
    pub end_to_end: u32,
}

impl Header {
    /// A header for a new message; `length` is filled in when the message is encoded.
    pub const fn new(
        flags: CommandFlags,
        command_code: u32,
        application_id: u32,
        hop_by_hop: u32,
        end_to_end: u32,
    ) -> Self {
        Header {
            version: VERSION,
            length: 0,
            flags,
            command_code,
            application_id,
            hop_by_hop,
            end_to_end,
        }
    }

    /// The message length announced by the first four bytes of `buf`, if there are four.
    pub fn peek_length(buf: &[u8]) -> Option<u32> {
        if buf.len() < 4 {
            return None;
        }
        Some(u32::from_be_bytes([0, buf[1], buf[2], buf[3]]))
    }

    /// For framing a byte stream: the length of the message starting at `buf`, once its first
    /// four bytes have arrived, checked before any of the body is buffered. Errors: 5011 for a
    /// version other than 1, 5015 for a length under 20, not a multiple of four, or over `max`.
    pub fn frame_length(buf: &[u8], max: usize) -> Result<Option<usize>, DecodeError> {
        let Some(len) = Self::peek_length(buf) else {
            return Ok(None);
        };
        if buf[0] != VERSION {
            return Err(DecodeError::new(
                rc::UNSUPPORTED_VERSION,
                format!("version {}, expected 1", buf[0]),
            ));
        }
        let len = len as usize;
        if len < HEADER_LEN || len % 4 != 0 || len > max {
            return Err(DecodeError::new(
                rc::INVALID_MESSAGE_LENGTH,
                format!("message length {len} (limit {max})"),
            ));
        }
        Ok(Some(len))
    }

    /// The header fields of the 20 bytes at the start of `buf`, as they are, unchecked: to
    /// answer a request whose header [`Header::parse`] refused with its own identifiers.
    ///
    /// Panics if `buf` is shorter than [`HEADER_LEN`].
    #[inline]
    pub fn peek(buf: &[u8]) -> Header {
        let word = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        Header {
            version: buf[0],
            length: word(0) & 0x00ff_ffff,
            flags: CommandFlags(buf[4]),
            command_code: word(4) & 0x00ff_ffff,
            application_id: word(8),
            hop_by_hop: word(12),
            end_to_end: word(16),
        }
    }

    /// Parses and checks the header at the start of `buf`, which must hold exactly one message.
    ///
    /// Errors: 5011 for a version other than 1, 5015 for a length that is short, not a multiple
    /// of four or different from `buf.len()`, and 3008 for reserved bits, `E` on a request or
    /// `T` on an answer.
    #[inline]
    pub fn parse(buf: &[u8]) -> Result<Header, DecodeError> {
        if buf.len() < HEADER_LEN {
            return Err(short_header(buf.len()));
        }
        let header = Self::peek(buf);
        if let Some(fault) = Fault::of(&header, buf.len()) {
            return Err(fault.error(&header, buf.len()));
        }
        Ok(header)
    }

    /// Rewrites the Hop-by-Hop id of the encoded message `msg` in place (a relayed answer, a
    /// replayed duplicate, a request sent on another connection).
    pub fn set_hop_by_hop(msg: &mut [u8], id: u32) {
        msg[12..16].copy_from_slice(&id.to_be_bytes());
    }

    /// Rewrites the End-to-End id of the encoded message `msg` in place.
    pub fn set_end_to_end(msg: &mut [u8], id: u32) {
        msg[16..20].copy_from_slice(&id.to_be_bytes());
    }

    /// Sets command flags on the encoded message `msg` in place (T on a retransmission).
    pub fn add_flags(msg: &mut [u8], flags: CommandFlags) {
        msg[4] |= flags.0;
    }

    /// Rewrites the Message-Length of the encoded message `msg` to its length, after AVPs
    /// were appended in place.
    pub fn fix_length(msg: &mut [u8]) {
        let len = (msg.len() as u32).to_be_bytes();
        msg[1..4].copy_from_slice(&len[1..]);
    }

    /// Appends the 20 header bytes, with `self.length` as the length.
    #[inline]
    pub fn write(&self, out: &mut BytesMut) {
        out.extend_from_slice(&self.to_bytes());
    }

    /// The 20 header bytes, with `self.length` as the length.
    #[inline]
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let words = [
            ((self.version as u32) << 24) | (self.length & 0x00ff_ffff),
            ((self.flags.0 as u32) << 24) | (self.command_code & 0x00ff_ffff),
            self.application_id,
            self.hop_by_hop,
            self.end_to_end,
        ];
        let mut h = [0u8; HEADER_LEN];
        for (i, w) in words.iter().enumerate() {
            h[i * 4..i * 4 + 4].copy_from_slice(&w.to_be_bytes());
        }
        h
    }

    /// The header of the answer to a request with this header: same command, application and
    /// identifiers, `P` kept, `R` and `T` cleared, version 1 (also when answering a request
    /// refused for its version).
    pub fn answer(&self) -> Header {
        Header {
            version: VERSION,
            flags: CommandFlags(self.flags.0 & CommandFlags::PROXIABLE.0),
            length: 0,
            ..*self
        }
    }
}

/// The error for a buffer shorter than a header (kept out of line: the common path builds
/// its header in registers).
#[cold]
#[inline(never)]
fn short_header(len: usize) -> DecodeError {
    DecodeError::new(
        rc::INVALID_MESSAGE_LENGTH,
        format!("{len} bytes cannot hold a 20-byte header"),
    )
}

/// The first check of [`Header::parse`] a header fails.
#[derive(Clone, Copy)]
enum Fault {
    Version,
    Length,
    ReservedBits,
    ErrorOnRequest,
    RetransmitOnAnswer,
}

impl Fault {
    /// The first check `header` fails, in the order [`Header::parse`] documents, for a
    /// message of `len` bytes. Small and inline: the common path keeps its header in
    /// registers, and only a failure builds its message, out of line.
    #[inline]
    fn of(header: &Header, len: usize) -> Option<Fault> {
        let (length, flags) = (header.length as usize, header.flags);
        if header.version != VERSION {
            Some(Fault::Version)
        } else if length < HEADER_LEN || length % 4 != 0 || length != len {
            Some(Fault::Length)
        } else if flags.0 & CommandFlags::RESERVED_MASK != 0 {
            Some(Fault::ReservedBits)
        } else if flags.is_request() && flags.is_error() {
            Some(Fault::ErrorOnRequest)
        } else if !flags.is_request() && flags.is_retransmit() {
            Some(Fault::RetransmitOnAnswer)
        } else {
            None
        }
    }

    /// The RFC 6733 error for this fault of `header` in a message of `len` bytes.
    #[cold]
    #[inline(never)]
    fn error(self, header: &Header, len: usize) -> DecodeError {
        match self {
            Fault::Version => DecodeError::new(
                rc::UNSUPPORTED_VERSION,
                format!("version {}, expected 1", header.version),
            ),
            Fault::Length => DecodeError::new(
                rc::INVALID_MESSAGE_LENGTH,
                format!(
                    "message length field {} does not fit a {len}-byte message",
                    header.length
                ),
            ),
            Fault::ReservedBits => DecodeError::new(
                rc::INVALID_HDR_BITS,
                format!("reserved command flag bits set: {:?}", header.flags),
            ),
            Fault::ErrorOnRequest => {
                DecodeError::new(rc::INVALID_HDR_BITS, "E bit set on a request")
            }
            Fault::RetransmitOnAnswer => {
                DecodeError::new(rc::INVALID_HDR_BITS, "T bit set on an answer")
            }
        }
    }
}

/// A command code (24 bits), as generated `command` modules hold them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandCode(pub u32);

impl CommandCode {
    /// The code as a number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl PartialEq<u32> for CommandCode {
    fn eq(&self, other: &u32) -> bool {
        self.0 == *other
    }
}

impl PartialEq<CommandCode> for u32 {
    fn eq(&self, other: &CommandCode) -> bool {
        *self == other.0
    }
}

impl From<CommandCode> for u32 {
    fn from(c: CommandCode) -> u32 {
        c.0
    }
}

impl std::fmt::Display for CommandCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
