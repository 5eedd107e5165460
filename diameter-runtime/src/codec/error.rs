//! Decoding errors that carry what an error answer needs: Result-Code, Failed-AVP and the path.

use std::borrow::Cow;
use std::fmt;

use super::avp::{AvpFlags, RawAvp};

/// The result codes the codec reports itself (RFC 6733 §7.1).
pub mod rc {
    /// 3008 DIAMETER_INVALID_HDR_BITS.
    pub const INVALID_HDR_BITS: u32 = 3008;
    /// 3009 DIAMETER_INVALID_AVP_BITS.
    pub const INVALID_AVP_BITS: u32 = 3009;
    /// 5001 DIAMETER_AVP_UNSUPPORTED.
    pub const AVP_UNSUPPORTED: u32 = 5001;
    /// 5004 DIAMETER_INVALID_AVP_VALUE.
    pub const INVALID_AVP_VALUE: u32 = 5004;
    /// 5005 DIAMETER_MISSING_AVP.
    pub const MISSING_AVP: u32 = 5005;
    /// 5008 DIAMETER_AVP_NOT_ALLOWED.
    pub const AVP_NOT_ALLOWED: u32 = 5008;
    /// 5009 DIAMETER_AVP_OCCURS_TOO_MANY_TIMES.
    pub const AVP_OCCURS_TOO_MANY_TIMES: u32 = 5009;
    /// 5011 DIAMETER_UNSUPPORTED_VERSION.
    pub const UNSUPPORTED_VERSION: u32 = 5011;
    /// 5014 DIAMETER_INVALID_AVP_LENGTH.
    pub const INVALID_AVP_LENGTH: u32 = 5014;
    /// 5015 DIAMETER_INVALID_MESSAGE_LENGTH.
    pub const INVALID_MESSAGE_LENGTH: u32 = 5015;
    /// 3001 DIAMETER_COMMAND_UNSUPPORTED.
    pub const COMMAND_UNSUPPORTED: u32 = 3001;
}

/// Why bytes could not be decoded, in the terms of an RFC 6733 error answer.
///
/// `result_code` is the code to answer with; `failed_avp` the AVP to put in Failed-AVP (for an
/// error inside a Grouped AVP it is the outer AVP holding only the offending one, as RFC 6733
/// §7.5 allows); `path` names the AVPs from the message down to the offending one.
#[derive(Clone, PartialEq)]
pub struct DecodeError {
    inner: Box<Inner>,
}

#[derive(Clone, PartialEq)]
struct Inner {
    result_code: u32,
    failed_avp: Option<RawAvp>,
    path: Vec<Cow<'static, str>>,
    detail: Cow<'static, str>,
}

impl DecodeError {
    /// An error with a result code and a description, no AVP attached yet.
    pub fn new(result_code: u32, detail: impl Into<Cow<'static, str>>) -> Self {
        DecodeError {
            inner: Box::new(Inner {
                result_code,
                failed_avp: None,
                path: Vec::new(),
                detail: detail.into(),
            }),
        }
    }

    /// An error about one AVP, which becomes the Failed-AVP.
    pub fn with_avp(result_code: u32, avp: RawAvp, detail: impl Into<Cow<'static, str>>) -> Self {
        let mut e = Self::new(result_code, detail);
        e.inner.failed_avp = Some(avp);
        e
    }

    /// 5005: a required AVP is missing. The Failed-AVP is the AVP with a zero-filled value of
    /// the minimum length for its type, as RFC 6733 §7.1.5 asks.
    pub fn missing(
        code: u32,
        vendor_id: u32,
        name: impl Into<Cow<'static, str>>,
        min_len: usize,
    ) -> Self {
        let flags = if vendor_id != 0 {
            AvpFlags::VENDOR
        } else {
            AvpFlags::NONE
        };
        let avp = RawAvp::new(code, flags, vendor_id, vec![0u8; min_len]);
        let mut e = Self::with_avp(rc::MISSING_AVP, avp, "required AVP missing");
        e.inner.path.push(name.into());
        e
    }

    /// The Result-Code to answer with.
    pub fn result_code(&self) -> u32 {
        self.inner.result_code
    }

    /// The AVP for Failed-AVP, if the error is about one.
    pub fn failed_avp(&self) -> Option<&RawAvp> {
        self.inner.failed_avp.as_ref()
    }

    /// AVP names from the outermost to the offending one.
    pub fn path(&self) -> impl Iterator<Item = &str> {
        self.inner.path.iter().map(|s| s.as_ref())
    }

    /// The description of what was wrong.
    pub fn detail(&self) -> &str {
        &self.inner.detail
    }

    /// True for 3xxx codes, answered with the E bit and the answer-message grammar.
    pub fn is_protocol_error(&self) -> bool {
        (3000..4000).contains(&self.inner.result_code)
    }

    /// Attaches the AVP being decoded: it becomes the Failed-AVP if none is set yet, and wraps
    /// the Failed-AVP when the error came from inside it (a Grouped AVP); `name` joins the path.
    pub fn within(mut self, name: impl Into<Cow<'static, str>>, avp: &RawAvp) -> Self {
        let inner = &mut *self.inner;
        inner.failed_avp = Some(match inner.failed_avp.take() {
            None => avp.clone(),
            Some(child) => {
                let mut data = bytes::BytesMut::with_capacity(child.encoded_len());
                child.encode(&mut data);
                RawAvp::new(avp.code, avp.flags, avp.vendor_id, data.freeze())
            }
        });
        inner.path.insert(0, name.into());
        self
    }

    /// Prepends a name to the path without touching the Failed-AVP.
    pub fn in_context(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.inner.path.insert(0, name.into());
        self
    }
}

/// The RFC 6733 name of a result code the codec produces, for messages.
pub fn result_code_name(code: u32) -> &'static str {
    match code {
        rc::COMMAND_UNSUPPORTED => "DIAMETER_COMMAND_UNSUPPORTED",
        rc::INVALID_HDR_BITS => "DIAMETER_INVALID_HDR_BITS",
        rc::INVALID_AVP_BITS => "DIAMETER_INVALID_AVP_BITS",
        rc::AVP_UNSUPPORTED => "DIAMETER_AVP_UNSUPPORTED",
        rc::INVALID_AVP_VALUE => "DIAMETER_INVALID_AVP_VALUE",
        rc::MISSING_AVP => "DIAMETER_MISSING_AVP",
        rc::AVP_NOT_ALLOWED => "DIAMETER_AVP_NOT_ALLOWED",
        rc::AVP_OCCURS_TOO_MANY_TIMES => "DIAMETER_AVP_OCCURS_TOO_MANY_TIMES",
        rc::UNSUPPORTED_VERSION => "DIAMETER_UNSUPPORTED_VERSION",
        rc::INVALID_AVP_LENGTH => "DIAMETER_INVALID_AVP_LENGTH",
        rc::INVALID_MESSAGE_LENGTH => "DIAMETER_INVALID_MESSAGE_LENGTH",
        _ => "result code",
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        write!(f, "{} ({})", result_code_name(i.result_code), i.result_code)?;
        if !i.path.is_empty() {
            f.write_str(" at ")?;
            for (n, p) in i.path.iter().enumerate() {
                if n > 0 {
                    f.write_str(" > ")?;
                }
                f.write_str(p)?;
            }
        }
        write!(f, ": {}", i.detail)
    }
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodeError")
            .field("result_code", &self.inner.result_code)
            .field("path", &self.inner.path)
            .field("detail", &self.inner.detail)
            .field("failed_avp", &self.inner.failed_avp)
            .finish()
    }
}

impl std::error::Error for DecodeError {}
