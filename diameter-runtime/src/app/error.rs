//! The node's error type: one opaque `Error` with a kind to match on.

use std::fmt;

use crate::codec::DecodeError;

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No answer within the request's timeout.
    Timeout,
    /// No connected peer (in OKAY) can take the request.
    NoRoute,
    /// The connection to the peer closed before the answer came.
    PeerDown,
    /// A socket operation failed.
    Io,
    /// Bytes could not be decoded.
    Decode,
    /// The peer answered with a protocol error (E bit) or refused the capabilities exchange.
    Refused,
    /// The node is shutting down.
    Shutdown,
    /// A configuration value is invalid.
    Config,
    /// A typed request still has a required field unset after the node filled the identity
    /// fields it owns: refused before it reaches the wire.
    Incomplete,
}

/// An error from the node.
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    result_code: Option<u32>,
    detail: String,
}

impl Error {
    /// An error of `kind` with a description.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Error {
            kind,
            result_code: None,
            detail: detail.into(),
        }
    }

    /// A refusal carrying the peer's Result-Code.
    pub fn refused(result_code: u32, detail: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Refused,
            result_code: Some(result_code),
            detail: detail.into(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The Result-Code, for refusals and decode errors.
    pub fn result_code(&self) -> Option<u32> {
        self.result_code
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, e.to_string())
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error {
            kind: ErrorKind::Decode,
            result_code: Some(e.result_code()),
            detail: e.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self.kind {
            ErrorKind::Timeout => "timed out",
            ErrorKind::NoRoute => "no route",
            ErrorKind::PeerDown => "peer down",
            ErrorKind::Io => "I/O error",
            ErrorKind::Decode => "cannot decode",
            ErrorKind::Refused => "refused",
            ErrorKind::Shutdown => "node shutting down",
            ErrorKind::Config => "bad configuration",
            ErrorKind::Incomplete => "incomplete request",
        };
        write!(f, "{k}")?;
        if let Some(rc) = self.result_code {
            write!(f, " ({rc})")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}
