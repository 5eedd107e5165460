//! `diameter serve`: a node that validates every request of its applications against the
//! loaded dictionaries (strictly: unknown M-bit AVPs and undefined enumerated values are
//! refused, as RFC 6733 §4.1 asks of a server) and answers the valid ones with a well-formed
//! answer built from the dictionary's answer grammar; the node answers the others with the
//! RFC 6733 error.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use diameter_codegen::model::Target;
use diameter_runtime::codec::avp::{avp_len, encode_avp_with, AvpReader};
use diameter_runtime::codec::{AvpFlags, HEADER_LEN};
use diameter_runtime::dictionary::{Dictionary, Strictness};
use diameter_runtime::node::{Node, NodeBuilder, Reply, Request};

use crate::dict::Dict;

/// (application, command code).
type CommandKey = (u32, u32);
/// (AVP code, vendor).
type AvpKey = (u32, u32);

/// For each (application, command): the AVP codes of the answer grammar to copy from the
/// request when present (identifying AVPs such as CC-Request-Type/Number).
pub struct AnswerPlan {
    /// (application, command) → AVPs to echo; a handful of entries, searched in order.
    echo: Vec<(CommandKey, Vec<AvpKey>)>,
    origin: Bytes,
    result_code: u32,
}

impl AnswerPlan {
    pub fn new(dict: &Dict, origin_host: &str, origin_realm: &str, result_code: u32) -> Self {
        let mut echo = Vec::new();
        let skip: HashSet<(u32, u32)> = [
            (263, 0),
            (264, 0),
            (296, 0),
            (268, 0),
            (279, 0),
            (281, 0),
            (284, 0),
        ]
        .into();
        for app in &dict.model.applications {
            for c in &app.commands {
                let request: HashSet<(u32, u32)> = c
                    .request
                    .iter()
                    .filter_map(|r| match r.target {
                        Target::Avp(id) => {
                            Some((dict.model.avps[id].code, dict.model.avps[id].vendor_id))
                        }
                        Target::Wildcard => None,
                    })
                    .collect();
                let codes: Vec<(u32, u32)> = c
                    .answer
                    .iter()
                    .filter_map(|r| match r.target {
                        Target::Avp(id) if r.max == Some(1) => {
                            Some((dict.model.avps[id].code, dict.model.avps[id].vendor_id))
                        }
                        _ => None,
                    })
                    .filter(|k| !skip.contains(k) && request.contains(k))
                    .collect();
                echo.push(((app.id, c.code), codes));
            }
        }
        let mut origin = BytesMut::new();
        encode_avp_with(&mut origin, 264, AvpFlags::MANDATORY, 0, |o| {
            o.extend_from_slice(origin_host.as_bytes())
        });
        encode_avp_with(&mut origin, 296, AvpFlags::MANDATORY, 0, |o| {
            o.extend_from_slice(origin_realm.as_bytes())
        });
        AnswerPlan {
            echo,
            origin: origin.freeze(),
            result_code,
        }
    }

    /// The answer to `req`, written directly from slices of the request.
    pub fn answer(&self, req: &Request) -> Reply {
        let h = req.header();
        let bytes = req.bytes();
        let key = (h.application_id, h.command_code);
        let echo = self
            .echo
            .iter()
            .find(|(k, _)| *k == key)
            .or_else(|| self.echo.iter().find(|((_, c), _)| *c == h.command_code))
            .map(|(_, v)| v);
        // Spans of whole AVPs (header, data, padding) to copy, found in one pass; Proxy-Info
        // (rare) and echoes beyond the first few take a second pass.
        let spans = || Spans {
            avps: AvpReader::within(bytes, HEADER_LEN, bytes.len()),
            start: HEADER_LEN,
            len: bytes.len(),
        };
        let echoes = |k: &AvpKey| echo.is_some_and(|e| e.contains(k));
        // The second passes: every echoed AVP, every Proxy-Info, in the order they came.
        let echoed = || spans().filter(|(k, _)| echoes(k)).map(|(_, s)| s);
        let proxy_infos = || spans().filter(|(k, _)| *k == (284, 0)).map(|(_, s)| s);
        let mut session = None;
        let mut copies = [(0usize, 0usize); 8];
        let (mut n, mut overflow, mut proxies) = (0, false, false);
        for (k, span) in spans() {
            match k {
                (263, 0) if session.is_none() => session = Some(span),
                (284, 0) => proxies = true,
                k if echoes(&k) => {
                    if n < copies.len() {
                        copies[n] = span;
                        n += 1;
                    } else {
                        overflow = true;
                    }
                }
                _ => {}
            }
        }
        // Exactly the answer's size: the frozen buffer then needs no second allocation.
        let span_len = |(s, e): (usize, usize)| e - s;
        let result_code_len = avp_len(AvpFlags::MANDATORY, 4);
        let mut size = HEADER_LEN + self.origin.len() + result_code_len;
        size += session.map_or(0, span_len);
        size += if overflow {
            echoed().map(span_len).sum::<usize>()
        } else {
            copies[..n].iter().copied().map(span_len).sum::<usize>()
        };
        if proxies {
            size += proxy_infos().map(span_len).sum::<usize>();
        }
        let mut out = BytesMut::with_capacity(size);
        let mut header = h.answer();
        if (3000..4000).contains(&self.result_code) {
            header.flags = header.flags.with(diameter_runtime::CommandFlags::ERROR);
        }
        header.write(&mut out);
        if let Some((s, e)) = session {
            out.extend_from_slice(&bytes[s..e]);
        }
        out.extend_from_slice(&self.origin);
        encode_avp_with(&mut out, 268, AvpFlags::MANDATORY, 0, |o| {
            o.extend_from_slice(&self.result_code.to_be_bytes())
        });
        if overflow {
            for (s, e) in echoed() {
                out.extend_from_slice(&bytes[s..e]);
            }
        } else {
            for &(s, e) in &copies[..n] {
                out.extend_from_slice(&bytes[s..e]);
            }
        }
        if proxies {
            for (s, e) in proxy_infos() {
                out.extend_from_slice(&bytes[s..e]);
            }
        }
        debug_assert_eq!(out.len(), size);
        let len = out.len() as u32;
        out[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
        Reply::Answer(out.freeze())
    }
}

/// The top-level AVPs of a request as (code, vendor) and the span of each whole AVP (header,
/// data and padding), up to the first malformed one.
///
/// A named iterator rather than a chain of adapters: the reader's item is matched where it
/// is produced, so it stays in registers instead of passing through memory to a closure.
struct Spans<'a> {
    avps: AvpReader<'a>,
    start: usize,
    len: usize,
}

impl Iterator for Spans<'_> {
    type Item = (AvpKey, (usize, usize));

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self.avps.next() {
            Some(Ok(a)) => {
                let end = a.end + diameter_runtime::codec::avp::padding(a.end - self.start);
                let span = (self.start, end.min(self.len));
                self.start = span.1;
                Some(((a.code, a.vendor_id), span))
            }
            _ => None,
        }
    }
}

/// Adds the applications of the loaded dictionaries (other than the base one) to a builder.
pub fn advertise(dict: &Dict, mut b: NodeBuilder) -> NodeBuilder {
    for app in &dict.model.applications {
        match app.id {
            0 | 0xffff_ffff => {}
            id => {
                b = match app.kind {
                    Some(diameter_codegen::model::AppKind::Acct) => b.acct_application(id),
                    _ => b.auth_application(id),
                }
            }
        }
    }
    b
}

/// Starts a serving node.
pub async fn start(
    dict: Arc<Dict>,
    builder: NodeBuilder,
    origin_host: &str,
    origin_realm: &str,
    result_code: u32,
) -> Result<Node, String> {
    let plan = Arc::new(AnswerPlan::new(
        &dict,
        origin_host,
        origin_realm,
        result_code,
    ));
    let validator = Dictionary::from_model(&dict.model).with_strictness(Strictness::STRICT);
    let b = advertise(&dict, builder)
        .dictionary(Arc::new(validator))
        .origin_host(origin_host)
        .origin_realm(origin_realm)
        .product_name("diameter serve")
        .handler(move |req: Request| std::future::ready(plan.answer(&req)));
    b.start().await.map_err(|e| e.to_string())
}
