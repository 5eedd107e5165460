//! The tokio side of framing: [`crate::codec::Framer`] as a tokio-util decoder, and the answer
//! to a header that cannot be framed.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::codec::{CommandFlags, FrameError, Framer, Header};

/// A stream that cannot be framed any further.
#[derive(Debug)]
pub(crate) enum FramingError {
    /// The socket failed.
    Io(std::io::Error),
    /// A header that announces no valid message.
    Header(FrameError),
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
            FramingError::Header(e) => write!(f, "unframeable header: {}", e.error),
        }
    }
}

impl FramingError {
    /// The answer to send before closing: the request's command and identifiers with the
    /// Result-Code (5011 or 5015), when the bad header was a request's.
    pub(crate) fn answer(&self, caps: &crate::peer::Capabilities) -> Option<Bytes> {
        let FramingError::Header(FrameError { error, header: h }) = self else {
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

/// [`Framer`] for `FramedRead`.
pub(crate) struct Frames(pub Framer);

impl Decoder for Frames {
    type Item = BytesMut;
    type Error = FramingError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FramingError> {
        self.0.next_frame(src).map_err(FramingError::Header)
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, FramingError> {
        let frame = self.decode(buf)?;
        if frame.is_none() {
            // A closed stream with a partial message: nothing to answer.
            buf.clear();
        }
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_go_to_requests_only() {
        let caps = crate::peer::Capabilities::new("a.example.net", "example.net");
        let mut h = vec![
            1, 0, 0, 0, 0x80, 0, 1, 16, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 9,
        ];
        let mut f = Frames(Framer::new(1 << 20));
        let e = f.decode(&mut BytesMut::from(&h[..])).unwrap_err();
        let a = crate::codec::dynamic::Message::decode(e.answer(&caps).unwrap()).unwrap();
        assert_eq!(a.header.command_code, 272);
        assert!(!a.header.flags.is_request());
        assert_eq!(a.header.hop_by_hop, 7);
        assert_eq!(a.find(268, 0).unwrap().get::<u32>().unwrap(), 5015);
        h[4] = 0;
        let mut f = Frames(Framer::new(1 << 20));
        let e = f.decode(&mut BytesMut::from(&h[..])).unwrap_err();
        assert!(e.answer(&caps).is_none());
    }
}
