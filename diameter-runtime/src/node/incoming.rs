//! What the node does with an application request a peer sent: routing (local, relay, proxy,
//! redirect), the application check (3007), validation against the node's dictionaries, the
//! duplicate cache, then the callbacks' `handle_request` or the handler of the application.
//! Answers ready at once go into `out`; later ones come back through `later`.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::FutureExt;
use tokio::sync::mpsc;

use super::{answer_skeleton, Action, Handler, Inner, Reply, Request};
use crate::base::ResultCode;
use crate::codec::{DiameterIdentity, Header};
use crate::peer::capabilities::RELAY_APPLICATION_ID;
use crate::peer::{AppId, Received};

/// Handles one request from the peer `from`, with which `common` applications are shared,
/// read at `now`.
pub(crate) async fn on_request(
    inner: &Arc<Inner>,
    req: Received,
    from: &DiameterIdentity,
    common: &[AppId],
    out: &mut Vec<Bytes>,
    later: &mpsc::Sender<Bytes>,
    now: Instant,
) {
    let caps = &inner.caps;
    if !inner.config.routes.is_empty()
        && super::forward::route_incoming(inner, &req, from, out, later)
    {
        return;
    }
    let header = req.header;
    let error = |rc: ResultCode, why: Option<&str>| {
        answer_skeleton(&header, &req.frame, caps, rc, None, why).encode()
    };
    let app = header.application_id;
    // The base protocol (application 0) is every peer's.
    let supported = app == 0
        || common
            .iter()
            .any(|a| a.id() == app || a.id() == RELAY_APPLICATION_ID);
    if !supported {
        out.push(error(ResultCode::DIAMETER_APPLICATION_UNSUPPORTED, None));
        return;
    }
    // Applications bound to peer sets: the first binding for this application and peer takes
    // the request; bound only to other peers, the application is unsupported for this one.
    let mut bound: Option<Arc<dyn Handler>> = None;
    if inner.apps.iter().any(|a| a.id.id() == app) {
        match inner.apps.iter().find(|a| a.serves(app, from)) {
            Some(a) => bound = a.handler.clone(),
            None => {
                let why = Some("the application is not offered to this peer");
                out.push(error(ResultCode::DIAMETER_APPLICATION_UNSUPPORTED, why));
                return;
            }
        }
    }
    // Checked against the dictionaries before anything handles it.
    if let Some(dict) = &inner.dictionary {
        if let Err(e) = dict.validate_body(&header, &req.frame) {
            tracing::debug!(command = header.command_code, "refused: {e}");
            let rc = ResultCode(e.result_code());
            let a = answer_skeleton(
                &header,
                &req.frame,
                caps,
                rc,
                e.failed_avp(),
                Some(e.detail()),
            );
            out.push(a.encode());
            return;
        }
    }
    // Where the Origin-Host is, for the key a duplicate of this request would have
    // (Origin-Host, End-to-End id); the key borrows it from the frame.
    let dup_host = inner.dup.as_ref().and(req.origin_host_span());
    let request = Request::new(header, req.frame.clone(), from.clone(), caps.clone());
    if let (None, Some(cb)) = (&bound, inner.callbacks.clone()) {
        let (inner, later, from) = (inner.clone(), later.clone(), from.clone());
        tokio::spawn(async move {
            let fallback = request.clone();
            let fut = std::panic::catch_unwind(AssertUnwindSafe(|| cb.handle_request(request)));
            let action = match fut {
                Ok(f) => AssertUnwindSafe(f).catch_unwind().await.ok(),
                Err(_) => None,
            };
            let caps = &inner.caps;
            let (h, frame) = (&fallback.header, &fallback.bytes);
            let mut now = Vec::new();
            match action {
                Some(Action::Reply(b)) => now.push(b),
                Some(Action::ProtocolError(rc)) | Some(Action::AnswerMessage(rc, None)) => {
                    now.push(answer_skeleton(h, frame, caps, rc, None, None).encode())
                }
                Some(Action::AnswerMessage(rc, Some(failed))) => {
                    now.push(answer_skeleton(h, frame, caps, rc, Some(&failed), None).encode())
                }
                Some(Action::Relay) | Some(Action::Proxy) => {
                    super::forward::forward(&inner, h, frame, &from, &mut now, &later)
                }
                Some(Action::Discard) => {}
                None => now.push(handler_failed(h, frame, caps)),
            }
            for b in now {
                let _ = later.send(b).await;
            }
        });
        return;
    }
    let Some(handler) = bound.as_ref().or(inner.handler.as_ref()) else {
        out.push(error(ResultCode::DIAMETER_COMMAND_UNSUPPORTED, None));
        return;
    };
    // A duplicate of a request we answered: the same answer again (new hop-by-hop). Only a
    // retransmission (T flag) can be one.
    let key = dup_key(dup_host, &req.frame, header.end_to_end);
    if let (Some(cache), Some(key), true) = (&inner.dup, &key, header.flags.is_retransmit()) {
        if let Some(mut a) = cache.get(key) {
            Header::set_hop_by_hop(&mut a, header.hop_by_hop);
            out.push(a.freeze());
            return;
        }
    }
    // A handler whose future is ready at once is answered here, without a task.
    let mut fut = match std::panic::catch_unwind(AssertUnwindSafe(|| handler.handle(request))) {
        Ok(f) => f,
        Err(_) => {
            out.push(handler_failed(&header, &req.frame, caps));
            return;
        }
    };
    match std::panic::catch_unwind(AssertUnwindSafe(|| (&mut fut).now_or_never())) {
        Ok(Some(reply)) => {
            if let Reply::Answer(b) = reply {
                remember(inner, key.as_ref(), &b, now);
                out.push(b);
            }
            return;
        }
        Ok(None) => {}
        Err(_) => {
            out.push(handler_failed(&header, &req.frame, caps));
            return;
        }
    }
    // Bounded concurrency for handlers that wait: when every permit is taken, reading waits.
    let Ok(permit) = inner.handlers.clone().acquire_owned().await else {
        return;
    };
    let (inner, later, frame) = (inner.clone(), later.clone(), req.frame);
    tokio::spawn(async move {
        let reply = AssertUnwindSafe(fut).catch_unwind().await.ok();
        // The permit goes before the answer is queued: the connection may be waiting for it.
        drop(permit);
        let bytes = match reply {
            Some(Reply::Answer(b)) => Some(b),
            Some(Reply::Discard) => None,
            None => Some(handler_failed(&header, &frame, &inner.caps)),
        };
        if let Some(b) = bytes {
            let key = dup_key(dup_host, &frame, header.end_to_end);
            remember(&inner, key.as_ref(), &b, Instant::now());
            let _ = later.send(b).await;
        }
    });
}

/// The duplicate-cache key of a request whose Origin-Host is at `host` in `frame`.
fn dup_key(host: Option<(u32, u32)>, frame: &[u8], end_to_end: u32) -> Option<super::dup::Key<'_>> {
    host.map(|(s, e)| super::dup::Key::new(&frame[s as usize..e as usize], end_to_end))
}

/// Keeps a handler's answer for duplicates of its request (`key`: `None` when the cache is
/// off or the request has no Origin-Host).
fn remember(inner: &Inner, key: Option<&super::dup::Key<'_>>, answer: &[u8], at: Instant) {
    if let (Some(cache), Some(key)) = (&inner.dup, key) {
        cache.insert(key, answer, at);
    }
}

/// The 5012 (UNABLE_TO_COMPLY) answer for a request whose handler panicked.
fn handler_failed(header: &Header, frame: &Bytes, caps: &crate::peer::Capabilities) -> Bytes {
    tracing::warn!("handler panicked; answering 5012");
    answer_skeleton(
        header,
        frame,
        caps,
        ResultCode::DIAMETER_UNABLE_TO_COMPLY,
        None,
        Some("the handler failed"),
    )
    .encode()
}
