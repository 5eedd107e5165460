//! The dynamic message model: a header and a tree of AVPs, for relays, tools and applications
//! without generated types.
//!
//! Decoding is lossless: AVPs stay as raw data unless a lookup says they are Grouped, and
//! encoding a decoded message gives the same bytes back.

use bytes::{Bytes, BytesMut};

use super::avp::{encode_avp_with, AvpFlags, AvpReader, RawAvp};
use super::error::{rc, DecodeError};
use super::header::{Header, HEADER_LEN};
use super::message::Message as TypedMessage;
use super::types::AvpValue;

/// How deep Grouped AVPs may nest before decoding gives up (5004).
pub const MAX_GROUPED_DEPTH: usize = 16;

/// A whole message.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The header; `length` is recomputed when encoding.
    pub header: Header,
    /// Top-level AVPs in wire order.
    pub avps: Vec<Avp>,
}

/// One AVP of the tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Avp {
    /// AVP code.
    pub code: u32,
    /// Flags as received (or to send).
    pub flags: AvpFlags,
    /// Vendor-ID, 0 without the `V` flag.
    pub vendor_id: u32,
    /// The data.
    pub value: Value,
}

/// AVP data: raw bytes, or child AVPs for a Grouped AVP.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Undecoded data, without padding.
    Raw(Bytes),
    /// The AVPs inside a Grouped AVP.
    Grouped(Vec<Avp>),
}

impl Avp {
    /// An AVP holding `value`; sets `V` when `vendor_id` is not 0.
    pub fn new<T: AvpValue>(code: u32, flags: AvpFlags, vendor_id: u32, value: &T) -> Avp {
        let mut b = BytesMut::new();
        value.encode_value(&mut b);
        Avp::from_raw(RawAvp::new(code, flags, vendor_id, b.freeze()))
    }

    /// A Grouped AVP holding `children`.
    pub fn grouped(code: u32, flags: AvpFlags, vendor_id: u32, children: Vec<Avp>) -> Avp {
        let flags = if vendor_id != 0 {
            flags.with(AvpFlags::VENDOR)
        } else {
            flags
        };
        Avp {
            code,
            flags,
            vendor_id,
            value: Value::Grouped(children),
        }
    }

    /// Wraps a raw AVP without looking inside it.
    pub fn from_raw(raw: RawAvp) -> Avp {
        Avp {
            code: raw.code,
            flags: raw.flags,
            vendor_id: raw.vendor_id,
            value: Value::Raw(raw.data),
        }
    }

    /// The AVP as raw data (children encoded).
    pub fn to_raw(&self) -> RawAvp {
        RawAvp {
            code: self.code,
            flags: self.flags,
            vendor_id: self.vendor_id,
            data: self.data(),
        }
    }

    /// The data bytes (children encoded for a Grouped AVP).
    pub fn data(&self) -> Bytes {
        match &self.value {
            Value::Raw(b) => b.clone(),
            Value::Grouped(children) => {
                let mut out = BytesMut::new();
                for c in children {
                    c.encode(&mut out);
                }
                out.freeze()
            }
        }
    }

    /// Decodes the data as `T`.
    pub fn get<T: AvpValue>(&self) -> Result<T, DecodeError> {
        T::decode_value(self.data())
    }

    /// The children of a Grouped AVP (empty for raw data).
    pub fn children(&self) -> &[Avp] {
        match &self.value {
            Value::Grouped(c) => c,
            Value::Raw(_) => &[],
        }
    }

    /// The first child with this code and vendor.
    pub fn find(&self, code: u32, vendor_id: u32) -> Option<&Avp> {
        find(self.children(), code, vendor_id)
    }

    /// Appends the AVP, padded.
    pub fn encode(&self, out: &mut BytesMut) {
        match &self.value {
            Value::Raw(data) => encode_avp_with(out, self.code, self.flags, self.vendor_id, |o| {
                o.extend_from_slice(data)
            }),
            Value::Grouped(children) => {
                encode_avp_with(out, self.code, self.flags, self.vendor_id, |o| {
                    for c in children {
                        c.encode(o);
                    }
                })
            }
        }
    }
}

fn find(avps: &[Avp], code: u32, vendor_id: u32) -> Option<&Avp> {
    avps.iter()
        .find(|a| a.code == code && a.vendor_id == vendor_id)
}

/// Says which AVPs are Grouped, so the dynamic decoder can open them.
pub trait GroupedLookup {
    /// Whether the AVP (code, vendor) is Grouped.
    fn is_grouped(&self, code: u32, vendor_id: u32) -> bool;
}

impl<F: Fn(u32, u32) -> bool> GroupedLookup for F {
    fn is_grouped(&self, code: u32, vendor_id: u32) -> bool {
        self(code, vendor_id)
    }
}

/// A lookup that knows no Grouped AVP: every AVP stays raw.
pub struct NoGrouped;

impl GroupedLookup for NoGrouped {
    fn is_grouped(&self, _: u32, _: u32) -> bool {
        false
    }
}

fn decode_avps(
    body: &Bytes,
    lookup: &dyn GroupedLookup,
    depth: usize,
) -> Result<Vec<Avp>, DecodeError> {
    let mut avps = Vec::new();
    for r in AvpReader::new(body) {
        let raw = r?.to_raw(body);
        if lookup.is_grouped(raw.code, raw.vendor_id) {
            if depth >= MAX_GROUPED_DEPTH {
                return Err(DecodeError::with_avp(
                    rc::INVALID_AVP_VALUE,
                    raw,
                    format!("Grouped AVPs nested deeper than {MAX_GROUPED_DEPTH}"),
                ));
            }
            let children = decode_avps(&raw.data, lookup, depth + 1).map_err(|e| {
                let name: &'static str = "Grouped";
                e.within(name, &raw)
            })?;
            avps.push(Avp {
                code: raw.code,
                flags: raw.flags,
                vendor_id: raw.vendor_id,
                value: Value::Grouped(children),
            });
        } else {
            avps.push(Avp::from_raw(raw));
        }
    }
    Ok(avps)
}

impl Message {
    /// Decodes a whole message, every AVP raw.
    pub fn decode(buf: Bytes) -> Result<Message, DecodeError> {
        Self::decode_with(buf, &NoGrouped)
    }

    /// Decodes a whole message, opening the AVPs `lookup` says are Grouped.
    pub fn decode_with(buf: Bytes, lookup: &dyn GroupedLookup) -> Result<Message, DecodeError> {
        let header = Header::parse(&buf)?;
        let avps = decode_avps(&buf.slice(HEADER_LEN..), lookup, 0)?;
        Ok(Message { header, avps })
    }

    /// Encodes the message, recomputing the length.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(512);
        self.encode_to(&mut out);
        out.freeze()
    }

    /// Appends the message, recomputing the length.
    pub fn encode_to(&self, out: &mut BytesMut) {
        let start = out.len();
        self.header.write(out);
        for a in &self.avps {
            a.encode(out);
        }
        let len = (out.len() - start) as u32;
        let word = ((self.header.version as u32) << 24) | (len & 0x00ff_ffff);
        out[start..start + 4].copy_from_slice(&word.to_be_bytes());
    }

    /// The first top-level AVP with this code and vendor.
    pub fn find(&self, code: u32, vendor_id: u32) -> Option<&Avp> {
        find(&self.avps, code, vendor_id)
    }

    /// Every top-level AVP with this code and vendor.
    pub fn find_all(&self, code: u32, vendor_id: u32) -> impl Iterator<Item = &Avp> {
        self.avps
            .iter()
            .filter(move |a| a.code == code && a.vendor_id == vendor_id)
    }

    /// Follows a path of (code, vendor) through Grouped AVPs.
    pub fn find_path(&self, path: &[(u32, u32)]) -> Option<&Avp> {
        let (&(c, v), rest) = path.split_first()?;
        let mut avp = self.find(c, v)?;
        for &(c, v) in rest {
            avp = avp.find(c, v)?;
        }
        Some(avp)
    }

    /// The dynamic form of a typed message, with the given identifiers.
    pub fn from_typed<T: TypedMessage>(msg: &T, hop_by_hop: u32, end_to_end: u32) -> Message {
        let bytes = msg.encode(hop_by_hop, end_to_end);
        // Our own encoding is always well formed.
        Message::decode(bytes).unwrap_or_else(|_| Message {
            header: msg.header(hop_by_hop, end_to_end),
            avps: Vec::new(),
        })
    }

    /// Decodes this message as the typed `T`, checking its grammar.
    pub fn to_typed<T: TypedMessage>(&self) -> Result<T, DecodeError> {
        T::decode(self.encode()).map(|(_, m)| m)
    }
}
