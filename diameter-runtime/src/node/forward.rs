//! Agent forwarding: the realm routing table applied to a request received from a peer
//! (handled here, relayed or proxied, redirected with 3006, or refused with 3002), loop
//! detection (3005) and Route-Record.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{answer_skeleton, Inner, RouteAction};
use crate::base::{RedirectHostUsage, ResultCode};
use crate::codec::avp::AvpReader;
use crate::codec::dynamic::Avp;
use crate::codec::{AvpFlags, DiameterIdentity, Header, Utf8String, HEADER_LEN};
use crate::peer::Received;

use crate::base::avp::{REDIRECT_HOST, REDIRECT_HOST_USAGE, REDIRECT_MAX_CACHE_TIME, ROUTE_RECORD};

/// Applies the routing table to a request from `from`: false to handle it here; true when it
/// was answered (3002, 3006: into `out`) or forwarded (the answer comes through `later`).
pub(crate) fn route_incoming(
    inner: &Arc<Inner>,
    req: &Received,
    from: &DiameterIdentity,
    out: &mut Vec<Bytes>,
    later: &mpsc::Sender<Bytes>,
) -> bool {
    let caps = &inner.caps;
    let (dest_host, dest_realm) = (req.destination_host(), req.destination_realm());
    let for_us = match dest_host {
        Some(h) => h == caps.origin_host.as_bytes(),
        None => dest_realm.is_none_or(|r| r == caps.origin_realm.as_bytes()),
    };
    if for_us {
        return false;
    }
    let answer = |rc: ResultCode, extra: Vec<Avp>| {
        let mut a = answer_skeleton(&req.header, &req.frame, caps, rc, None, None);
        a.avps.extend(extra);
        a.encode()
    };
    let action = inner
        .find_route(dest_realm, req.header.application_id)
        .map(|r| (r.action, r.peers.clone()));
    match action {
        Some((RouteAction::Local, _)) => false,
        Some((RouteAction::Redirect, peers)) => {
            let m = AvpFlags::MANDATORY;
            let mut extra: Vec<Avp> = peers
                .iter()
                .map(|p| {
                    let uri = Utf8String::from(format!("aaa://{p};transport=tcp").as_str());
                    Avp::new(REDIRECT_HOST.code, m, 0, &uri)
                })
                .collect();
            let (usage, max_cache) = inner.config.redirect_usage;
            extra.push(Avp::new(REDIRECT_HOST_USAGE.code, m, 0, &i32::from(usage)));
            if usage != RedirectHostUsage::DontCache {
                let secs = max_cache.as_secs().min(u32::MAX as u64) as u32;
                extra.push(Avp::new(REDIRECT_MAX_CACHE_TIME.code, m, 0, &secs));
            }
            out.push(answer(ResultCode::DIAMETER_REDIRECT_INDICATION, extra));
            true
        }
        None if dest_host.is_none() => {
            out.push(answer(ResultCode::DIAMETER_UNABLE_TO_DELIVER, Vec::new()));
            true
        }
        // Relay, proxy, or a Destination-Host we may reach directly.
        _ => {
            forward(inner, &req.header, &req.frame, from, out, later);
            true
        }
    }
}

/// Forwards a request as a relay: 3005 if our identity is already in its Route-Record,
/// else our Route-Record is appended and the request is sent on (end-to-end id kept, never
/// back to `from`); the answer, or 3002, goes back under the original hop-by-hop id.
pub(crate) fn forward(
    inner: &Arc<Inner>,
    header: &Header,
    frame: &Bytes,
    from: &DiameterIdentity,
    out: &mut Vec<Bytes>,
    later: &mpsc::Sender<Bytes>,
) {
    let caps = &inner.caps;
    let looped = AvpReader::within(frame, HEADER_LEN, frame.len())
        .flatten()
        .any(|a| a.id() == ROUTE_RECORD && &frame[a.start..a.end] == caps.origin_host.as_bytes());
    if looped {
        let rc = ResultCode::DIAMETER_LOOP_DETECTED;
        out.push(answer_skeleton(header, frame, caps, rc, None, None).encode());
        return;
    }
    let mut b = BytesMut::from(&frame[..]);
    append_route_record(&mut b, caps.origin_host.as_bytes());
    let (tx, rx) = oneshot::channel();
    let deadline = crate::peer::later_tokio(Instant::now(), inner.config.request_timeout);
    let inner = inner.clone();
    let later = later.clone();
    let (orig, frame, from) = (*header, frame.clone(), from.clone());
    tokio::spawn(async move {
        let sel = super::Selection {
            tried: vec![from],
            filter: None,
        };
        inner
            .dispatch(b.freeze(), deadline, tx, sel, super::Mode::Relay)
            .await;
        let unable = |why: Option<&str>| {
            let rc = ResultCode::DIAMETER_UNABLE_TO_DELIVER;
            answer_skeleton(&orig, &frame, &inner.caps, rc, None, why).encode()
        };
        let out = match rx.await {
            Ok(Ok(answer)) => {
                let mut a = BytesMut::from(&answer[..]);
                Header::set_hop_by_hop(&mut a, orig.hop_by_hop);
                a.freeze()
            }
            Ok(Err(e)) => unable(Some(&e.to_string())),
            Err(_) => unable(None),
        };
        let _ = later.send(out).await;
    });
}

/// Appends a Route-Record AVP and fixes the message length.
fn append_route_record(b: &mut BytesMut, host: &[u8]) {
    crate::codec::avp::encode_avp_with(b, ROUTE_RECORD.code, AvpFlags::MANDATORY, 0, |o| {
        o.extend_from_slice(host)
    });
    Header::fix_length(b);
}
