//! Splitting a byte stream into Diameter messages, with every header judged before its body is
//! buffered: a length under 20, not a multiple of four or over the limit, or a version other
//! than 1, ends the stream (it cannot be resynchronised) with the answer RFC 6733 asks for.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::codec::{CommandFlags, DecodeError, Header, HEADER_LEN};

/// A stream that cannot be framed any further.
#[derive(Debug)]
pub(crate) enum FramingError {
    /// The socket failed.
    Io(std::io::Error),
    /// A header that announces no valid message: 5011 or 5015, with the 20 header bytes when
    /// they arrived (to answer a request with its own identifiers).
    Header {
        error: DecodeError,
        header: Option<[u8; HEADER_LEN]>,
    },
}

impl From<std::io::Error> for FramingError {
    fn from(e: std::io::Error) -> Self {
        FramingError::Io(e)
    }
}

impl std::fmt::Display for FramingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FramingError::Io(e) => write!(f, "read error: {e}"),
            FramingError::Header { error, .. } => write!(f, "unframeable header: {error}"),
        }
    }
}

impl FramingError {
    /// The answer to send before closing: the request's command and identifiers with the
    /// Result-Code (5011 or 5015), when the bad header was a request's.
    pub(crate) fn answer(&self, caps: &crate::peer::Capabilities) -> Option<Bytes> {
        let FramingError::Header {
            error,
            header: Some(h),
        } = self
        else {
            return None;
        };
        if h[4] & CommandFlags::REQUEST.bits() == 0 {
            return None;
        }
        let word = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let header = Header {
            version: 1,
            length: 0,
            flags: CommandFlags::from_bits(h[4] & CommandFlags::PROXIABLE.bits()),
            command_code: word(4) & 0x00ff_ffff,
            application_id: word(8),
            hop_by_hop: word(12),
            end_to_end: word(16),
        };
        let rc = crate::base::ResultCode(error.result_code());
        Some(
            super::answer_skeleton(&header, &Bytes::new(), caps, rc, None, Some(error.detail()))
                .encode(),
        )
    }
}

/// The framing decoder: whole messages out, header checked first; it also notes since when a
/// message has been only partly received (for the slow-sender timeout).
pub(crate) struct Framer {
    max: usize,
    partial_since: Option<Instant>,
}

impl Framer {
    /// A framer for messages of at most `max` bytes.
    pub(crate) fn new(max: usize) -> Self {
        Framer {
            max,
            partial_since: None,
        }
    }

    /// Since when bytes of an incomplete message have been waiting, if any are.
    pub(crate) fn partial_since(&self) -> Option<Instant> {
        self.partial_since
    }
}

impl Decoder for Framer {
    type Item = BytesMut;
    type Error = FramingError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FramingError> {
        match Header::frame_length(src, self.max) {
            Ok(Some(len)) if src.len() >= len => {
                let frame = src.split_to(len);
                // What follows is the start of the next message.
                self.partial_since = (!src.is_empty()).then(Instant::now);
                Ok(Some(frame))
            }
            Ok(Some(len)) => {
                src.reserve(len - src.len());
                self.partial_since.get_or_insert_with(Instant::now);
                Ok(None)
            }
            Ok(None) => {
                if src.is_empty() {
                    self.partial_since = None;
                } else {
                    self.partial_since.get_or_insert_with(Instant::now);
                }
                Ok(None)
            }
            Err(error) => {
                // The header is wrong already; with all 20 bytes of it the request can be
                // answered with its own identifiers. Nothing more is ever framed.
                if src.len() < HEADER_LEN {
                    self.partial_since.get_or_insert_with(Instant::now);
                    return Ok(None);
                }
                let mut header = [0u8; HEADER_LEN];
                header.copy_from_slice(&src[..HEADER_LEN]);
                src.clear();
                Err(FramingError::Header {
                    error,
                    header: Some(header),
                })
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, FramingError> {
        match self.decode(buf)? {
            Some(frame) => Ok(Some(frame)),
            None => {
                // A closed stream with a partial message: nothing to answer.
                buf.clear();
                self.partial_since = None;
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: u32, version: u8) -> Vec<u8> {
        let mut h = vec![
            version, 0, 0, 0, 0x80, 0, 1, 16, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 9,
        ];
        h[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
        h
    }

    #[test]
    fn frames_are_whole_messages() {
        let mut f = Framer::new(1 << 20);
        let mut b = BytesMut::from(&header(24, 1)[..]);
        b.extend_from_slice(&[9, 9, 9, 9]);
        b.extend_from_slice(&[1, 0, 0, 20]);
        let m = f.decode(&mut b).unwrap().unwrap();
        assert_eq!(m.len(), 24);
        assert!(
            f.decode(&mut b).unwrap().is_none(),
            "a partial message waits"
        );
        assert!(f.partial_since().is_some());
        assert_eq!(b.len(), 4, "the partial message stays buffered");
    }

    #[test]
    fn bad_lengths_and_versions_end_the_stream_every_time() {
        for (len, version, rc) in [
            (0, 1, 5015),
            (1, 1, 5015),
            (19, 1, 5015),
            (22, 1, 5015),
            (2 << 20, 1, 5015),
            (20, 0, 5011),
            (20, 2, 5011),
        ] {
            let mut f = Framer::new(1 << 20);
            let mut b = BytesMut::from(&header(len, version)[..]);
            match f.decode(&mut b) {
                Err(FramingError::Header {
                    error,
                    header: Some(h),
                }) => {
                    assert_eq!(error.result_code(), rc, "length {len} version {version}");
                    assert_eq!(&h[12..16], &[0, 0, 0, 7]);
                }
                other => panic!("length {len} version {version}: {other:?}"),
            }
            assert!(b.is_empty(), "the stream is not read any further");
        }
    }

    #[test]
    fn a_bad_header_waits_for_its_twenty_bytes_to_be_answered() {
        let mut f = Framer::new(1 << 20);
        let h = header(0, 1);
        let mut b = BytesMut::from(&h[..8]);
        assert!(f.decode(&mut b).unwrap().is_none());
        b.extend_from_slice(&h[8..]);
        assert!(matches!(
            f.decode(&mut b),
            Err(FramingError::Header {
                header: Some(_),
                ..
            })
        ));
    }

    #[test]
    fn answers_go_to_requests_only() {
        let caps = crate::peer::Capabilities::new("a.example.net", "example.net");
        let mut f = Framer::new(1 << 20);
        let mut b = BytesMut::from(&header(0, 1)[..]);
        let e = f.decode(&mut b).unwrap_err();
        let a = crate::codec::dynamic::Message::decode(e.answer(&caps).unwrap()).unwrap();
        assert_eq!(a.header.command_code, 272);
        assert!(!a.header.flags.is_request());
        assert_eq!(a.header.hop_by_hop, 7);
        assert_eq!(a.find(268, 0).unwrap().get::<u32>().unwrap(), 5015);
        let mut h = header(0, 1);
        h[4] = 0;
        let mut b = BytesMut::from(&h[..]);
        let e = f.decode(&mut b).unwrap_err();
        assert!(e.answer(&caps).is_none());
    }
}
