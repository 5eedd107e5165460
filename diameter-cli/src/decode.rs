//! `diameter decode`: hex, a binary file, or every Diameter message over TCP in a pcap or
//! pcapng capture, printed as a tree or JSON, each with the verdict of its command's grammar
//! (what `diameter serve` would answer to it).

use std::collections::HashMap;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use diameter_runtime::codec::dynamic;
use diameter_runtime::Header;

use crate::dict::Dict;
use crate::value;

/// Renders one message as indented text.
pub fn tree(dict: &Dict, m: &dynamic::Message) -> String {
    let h = &m.header;
    let name = dict.message_name(h.application_id, h.command_code, h.flags.is_request());
    let mut s = format!(
        "{name} (command {}, application {}) flags {:?} hop-by-hop {:#010x} end-to-end {:#010x}, {} bytes\n",
        h.command_code, h.application_id, h.flags, h.hop_by_hop, h.end_to_end, h.length
    );
    fn avps(dict: &Dict, list: &[dynamic::Avp], depth: usize, s: &mut String) {
        for a in list {
            let def = dict.avp(a.code, a.vendor_id);
            let name = def
                .map(|d| d.name.clone())
                .unwrap_or_else(|| format!("AVP-{}", a.code));
            let vendor = if a.vendor_id != 0 {
                format!("/{}", a.vendor_id)
            } else {
                String::new()
            };
            let indent = "  ".repeat(depth + 1);
            match &a.value {
                dynamic::Value::Grouped(children) => {
                    s.push_str(&format!(
                        "{indent}{name} ({}{vendor}) {:?}\n",
                        a.code, a.flags
                    ));
                    avps(dict, children, depth + 1, s);
                }
                dynamic::Value::Raw(data) => {
                    s.push_str(&format!(
                        "{indent}{name} ({}{vendor}) {:?} = {}\n",
                        a.code,
                        a.flags,
                        value::text(def, data)
                    ));
                }
            }
        }
    }
    avps(dict, &m.avps, 0, &mut s);
    s
}

/// One message as JSON.
pub fn json(dict: &Dict, m: &dynamic::Message) -> serde_json::Value {
    use serde_json::json;
    fn avps(dict: &Dict, list: &[dynamic::Avp]) -> Vec<serde_json::Value> {
        list.iter()
            .map(|a| {
                let def = dict.avp(a.code, a.vendor_id);
                let mut o = json!({
                    "name": def.map(|d| d.name.clone()),
                    "code": a.code,
                    "vendor": a.vendor_id,
                    "flags": format!("{:?}", a.flags),
                });
                match &a.value {
                    dynamic::Value::Grouped(c) => {
                        o["avps"] = serde_json::Value::Array(avps(dict, c))
                    }
                    dynamic::Value::Raw(d) => o["value"] = value::json(def, d),
                }
                o
            })
            .collect()
    }
    let h = &m.header;
    json!({
        "name": dict.message_name(h.application_id, h.command_code, h.flags.is_request()),
        "command_code": h.command_code,
        "application_id": h.application_id,
        "flags": format!("{:?}", h.flags),
        "request": h.flags.is_request(),
        "hop_by_hop": h.hop_by_hop,
        "end_to_end": h.end_to_end,
        "length": h.length,
        "avps": avps(dict, &m.avps),
    })
}

/// The grammar's verdict on a message, as `diameter serve` judges (strictly): `None` when it
/// is valid, else the Result-Code, its name, the AVP path and the Failed-AVP's code.
pub fn verdict(
    validator: &diameter_runtime::dictionary::Dictionary,
    bytes: &Bytes,
) -> Option<(u32, String, Vec<String>, Option<u32>)> {
    validator.validate(bytes).err().map(|e| {
        (
            e.result_code(),
            e.detail().to_string(),
            e.path().map(String::from).collect(),
            e.failed_avp().map(|a| a.code),
        )
    })
}

/// The verdict as one line of the tree.
pub fn verdict_line(v: &Option<(u32, String, Vec<String>, Option<u32>)>) -> String {
    match v {
        None => "grammar: valid".into(),
        Some((rc, detail, path, _)) => format!(
            "grammar: {rc} {} at {}: {detail}",
            diameter_runtime::codec::error::result_code_name(*rc),
            path.join(" / ")
        ),
    }
}

/// The verdict as JSON.
pub fn verdict_json(v: &Option<(u32, String, Vec<String>, Option<u32>)>) -> serde_json::Value {
    match v {
        None => serde_json::json!({ "valid": true }),
        Some((rc, detail, path, failed)) => serde_json::json!({
            "valid": false,
            "result_code": rc,
            "path": path,
            "failed_avp": failed,
            "detail": detail,
        }),
    }
}

/// Decodes one message, opening Grouped AVPs the dictionaries know.
pub fn decode(dict: &Dict, bytes: Bytes) -> Result<dynamic::Message, String> {
    let lookup = |c: u32, v: u32| dict.is_grouped(c, v);
    dynamic::Message::decode_with(bytes, &lookup).map_err(|e| format!("cannot decode: {e}"))
}

pub fn from_hex(s: &str) -> Result<Bytes, String> {
    let s: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    let s = s.strip_prefix("0x").unwrap_or(&s);
    if s.len() % 2 != 0 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("--hex takes an even number of hex digits".into());
    }
    Ok((0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
        .collect::<Vec<u8>>()
        .into())
}

/// Splits a byte stream into whole messages; a trailing partial message is reported.
pub fn split(mut b: Bytes) -> Result<Vec<Bytes>, String> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let len = Header::peek_length(&b).ok_or("trailing bytes shorter than a header")? as usize;
        if len < 20 || len > b.len() {
            return Err(format!(
                "a message announces {len} bytes with {} left",
                b.len()
            ));
        }
        out.push(b.split_to(len));
    }
    Ok(out)
}

/// A TCP direction: source address and port, destination address and port.
type FlowKey = (Vec<u8>, u16, Vec<u8>, u16);

/// TCP payloads of a capture, reassembled per direction, on `port`.
pub fn pcap_messages(path: &Path, port: u16) -> Result<Vec<Bytes>, String> {
    use pcap_parser::{Block, PcapBlockOwned, PcapError};
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut reader = pcap_parser::create_reader(1 << 20, file)
        .map_err(|e| format!("{}: not a pcap or pcapng file ({e:?})", path.display()))?;
    let mut linktypes: Vec<i32> = Vec::new();
    let mut legacy_link = 1i32;
    let mut flows: HashMap<FlowKey, (BytesMut, Option<u32>)> = HashMap::new();
    let mut messages = Vec::new();
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                let packet: Option<(i32, Vec<u8>)> = match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_link = h.network.0;
                        None
                    }
                    PcapBlockOwned::Legacy(b) => Some((legacy_link, b.data.to_vec())),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        linktypes.push(idb.linktype.0);
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let lt = linktypes.get(epb.if_id as usize).copied().unwrap_or(1);
                        Some((
                            lt,
                            epb.data[..(epb.caplen as usize).min(epb.data.len())].to_vec(),
                        ))
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        Some((linktypes.first().copied().unwrap_or(1), spb.data.to_vec()))
                    }
                    _ => None,
                };
                reader.consume(offset);
                if let Some((lt, data)) = packet {
                    if let Some(seg) = tcp_segment(lt, &data) {
                        if seg.sport != port && seg.dport != port {
                            continue;
                        }
                        let key = (seg.src.clone(), seg.sport, seg.dst.clone(), seg.dport);
                        let entry = flows.entry(key).or_insert_with(|| (BytesMut::new(), None));
                        // Skip retransmitted bytes already appended.
                        let (buf, next) = entry;
                        let mut payload = &seg.payload[..];
                        if let Some(n) = *next {
                            let behind = n.wrapping_sub(seg.seq) as i32;
                            if behind > 0 {
                                payload = payload.get(behind as usize..).unwrap_or(&[]);
                            }
                        }
                        if !payload.is_empty() || next.is_none() {
                            *next = Some(seg.seq.wrapping_add(seg.payload.len() as u32));
                        }
                        buf.extend_from_slice(payload);
                        while buf.len() >= 4 {
                            let len = Header::peek_length(buf).unwrap_or(0) as usize;
                            if buf[0] != 1 || len < 20 {
                                buf.clear(); // not Diameter, or out of step: give up on this flow
                                break;
                            }
                            if buf.len() < len {
                                break;
                            }
                            messages.push(buf.split_to(len).freeze());
                        }
                    }
                }
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                reader
                    .refill()
                    .map_err(|e| format!("{}: {e:?}", path.display()))?;
            }
            Err(e) => return Err(format!("{}: {e:?}", path.display())),
        }
    }
    Ok(messages)
}

struct Segment {
    src: Vec<u8>,
    dst: Vec<u8>,
    sport: u16,
    dport: u16,
    seq: u32,
    payload: Vec<u8>,
}

/// Parses Ethernet (with VLAN tags), Linux cooked, raw IP and loopback frames down to TCP.
fn tcp_segment(linktype: i32, d: &[u8]) -> Option<Segment> {
    let ip = match linktype {
        1 => {
            let mut off = 12;
            let mut et = u16::from_be_bytes([*d.get(off)?, *d.get(off + 1)?]);
            while et == 0x8100 || et == 0x88a8 {
                off += 4;
                et = u16::from_be_bytes([*d.get(off)?, *d.get(off + 1)?]);
            }
            d.get(off + 2..)?
        }
        113 => d.get(16..)?,
        276 => d.get(20..)?,
        0 | 108 => d.get(4..)?,
        101 | 12 | 14 => d,
        _ => return None,
    };
    let (src, dst, proto, rest) = match ip.first()? >> 4 {
        4 => {
            let ihl = ((ip[0] & 0x0f) as usize) * 4;
            let total = u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]) as usize;
            (
                ip.get(12..16)?.to_vec(),
                ip.get(16..20)?.to_vec(),
                *ip.get(9)?,
                ip.get(ihl..total.min(ip.len()))?,
            )
        }
        6 => {
            let plen = u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]) as usize;
            (
                ip.get(8..24)?.to_vec(),
                ip.get(24..40)?.to_vec(),
                *ip.get(6)?,
                ip.get(40..(40 + plen).min(ip.len()))?,
            )
        }
        _ => return None,
    };
    if proto != 6 {
        return None;
    }
    let doff = ((rest.get(12)? >> 4) as usize) * 4;
    Some(Segment {
        src,
        dst,
        sport: u16::from_be_bytes([rest[0], rest[1]]),
        dport: u16::from_be_bytes([rest[2], rest[3]]),
        seq: u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]),
        payload: rest.get(doff..)?.to_vec(),
    })
}

/// Reads the input of `decode`: --hex, else a file (pcap/pcapng by magic, else raw bytes).
pub fn input(hex: Option<&str>, file: Option<&Path>, port: u16) -> Result<Vec<Bytes>, String> {
    if let Some(h) = hex {
        return split(from_hex(h)?);
    }
    let path = file.ok_or("give --hex HEX or a file")?;
    let head = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let magic = head
        .get(..4)
        .map(|m| u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
    match magic {
        Some(0xa1b2c3d4 | 0xd4c3b2a1 | 0xa1b23c4d | 0x4d3cb2a1 | 0x0a0d0d0a) => {
            pcap_messages(path, port)
        }
        _ => split(head.into()),
    }
}
