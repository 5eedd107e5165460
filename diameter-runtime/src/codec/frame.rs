//! Splitting a byte stream into Diameter messages, without I/O: every header is judged before
//! its body is buffered. A length under 20, not a multiple of four or over the limit, or a
//! version other than 1 ends the stream (it cannot be resynchronised), with what is needed to
//! answer the request that carried it (RFC 6733: 5015, 5011).

use bytes::BytesMut;

use super::{DecodeError, Header, HEADER_LEN};

/// A header that announces no valid message: the error (5011 or 5015) and the 20 header
/// bytes, to answer a request with its own command and identifiers.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameError {
    /// 5011 (version) or 5015 (length).
    pub error: DecodeError,
    /// The header as received.
    pub header: [u8; HEADER_LEN],
}

/// The framing state of one stream: whole messages out, headers checked first, and how far
/// the stream has got (for a slow-sender timeout, see [`Framer::progress`]).
#[derive(Clone, Debug)]
pub struct Framer {
    max: usize,
    frames: u64,
    partial: bool,
    failed: bool,
}

impl Framer {
    /// A framer for messages of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Framer {
            max,
            frames: 0,
            partial: false,
            failed: false,
        }
    }

    /// How many messages have been framed, and whether bytes of an incomplete one are
    /// waiting. A caller that sees the same count with a partial message for longer than its
    /// timeout has a slow sender (no clock is read per message).
    pub fn progress(&self) -> (u64, bool) {
        (self.frames, self.partial)
    }

    /// Takes the next whole message off the front of `src`, if it has arrived.
    ///
    /// A bad header is reported once its 20 bytes are there (to be answered); from then on
    /// `src` is cleared and nothing is framed again.
    pub fn next_frame(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        if self.failed {
            src.clear();
            return Ok(None);
        }
        match Header::frame_length(src, self.max) {
            Ok(Some(len)) if src.len() >= len => {
                let frame = src.split_to(len);
                self.frames += 1;
                // What follows is the start of the next message.
                self.partial = !src.is_empty();
                Ok(Some(frame))
            }
            Ok(Some(len)) => {
                src.reserve(len - src.len());
                self.partial = true;
                Ok(None)
            }
            Ok(None) => {
                self.partial = !src.is_empty();
                Ok(None)
            }
            Err(error) => {
                if src.len() < HEADER_LEN {
                    self.partial = true;
                    return Ok(None);
                }
                let mut header = [0u8; HEADER_LEN];
                header.copy_from_slice(&src[..HEADER_LEN]);
                src.clear();
                self.failed = true;
                self.partial = false;
                Err(FrameError { error, header })
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
        let m = f.next_frame(&mut b).unwrap().unwrap();
        assert_eq!(m.len(), 24);
        assert!(
            f.next_frame(&mut b).unwrap().is_none(),
            "a partial message waits"
        );
        assert_eq!(f.progress(), (1, true));
        assert_eq!(b.len(), 4, "the partial message stays buffered");
    }

    #[test]
    fn bad_lengths_and_versions_end_the_stream() {
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
            let e = f.next_frame(&mut b).unwrap_err();
            assert_eq!(e.error.result_code(), rc, "length {len} version {version}");
            assert_eq!(&e.header[12..16], &[0, 0, 0, 7]);
            assert!(b.is_empty(), "the stream is not read any further");
            b.extend_from_slice(&header(20, 1));
            assert_eq!(
                f.next_frame(&mut b),
                Ok(None),
                "nothing is framed after an error"
            );
        }
    }

    #[test]
    fn a_bad_header_waits_for_its_twenty_bytes() {
        let mut f = Framer::new(1 << 20);
        let h = header(0, 1);
        let mut b = BytesMut::from(&h[..8]);
        assert!(f.next_frame(&mut b).unwrap().is_none());
        b.extend_from_slice(&h[8..]);
        assert!(f.next_frame(&mut b).is_err());
    }
}
