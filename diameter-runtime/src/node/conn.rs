//! One transport connection: capabilities exchange, then the read loop with the watchdog,
//! outgoing requests and answers, and a separate writer task so a blocked write never stops
//! reads.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::codec::FramedRead;
use tracing::Instrument;

use super::framing::Frames;
use super::{
    answer_skeleton, Command, Error, ErrorKind, Event, Inner, Reply, Request, RouteAction,
};
use crate::base::{
    CapabilitiesExchangeAnswer, CapabilitiesExchangeRequest, DeviceWatchdogAnswer,
    DeviceWatchdogRequest, DisconnectCause, DisconnectPeerAnswer, DisconnectPeerRequest,
    ResultCode,
};
use crate::codec::avp::AvpReader;
use crate::codec::DiameterIdentity;
use crate::codec::Framer;
use crate::codec::{AvpFlags, CommandFlags, Header, Message, HEADER_LEN};

/// Capabilities-Exchange command code.
const CER_CODE: u32 = 257;
/// Result-Code AVP code.
const RESULT_CODE: u32 = 268;
/// Origin-Host AVP code.
const ORIGIN_HOST: u32 = 264;
use crate::peer::{negotiate, AppId, PeerInfo, Refusal, Side, Watchdog, WatchdogState};

/// How a connection ended, for the reconnect policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Reconnect after Tc.
    Closed,
    /// The peer sent DPR with BUSY or DO_NOT_WANT_TO_TALK_TO_YOU (RFC 6733 §5.4.3).
    DoNotReconnect,
}

/// Which side of the capabilities exchange this connection is.
pub(crate) enum Role {
    /// We connected and send the CER.
    Initiator {
        /// The peer's Origin-Host, when configured (else learned from the CEA).
        expected: Option<DiameterIdentity>,
        /// Fires when the election drops this connection (RFC 6733 §5.6.4).
        abort: Option<oneshot::Receiver<()>>,
    },
    /// The peer connected and sends the CER.
    Responder,
}

type Reader = FramedRead<tokio::net::tcp::OwnedReadHalf, Frames>;

/// Whether one incomplete message has been waiting for longer than the frame timeout,
/// sampled on a timer from the framer's progress.
#[derive(Default)]
struct Stall {
    frames: u64,
    since: Option<std::time::Instant>,
}

impl Stall {
    fn stalled(&mut self, (frames, partial): (u64, bool), timeout: Duration) -> bool {
        if !partial {
            self.since = None;
            return false;
        }
        let now = std::time::Instant::now();
        match self.since {
            Some(t) if frames == self.frames => now.duration_since(t) >= timeout,
            _ => {
                self.frames = frames;
                self.since = Some(now);
                false
            }
        }
    }
}

/// A request waiting for its answer.
struct Waiting {
    reply: oneshot::Sender<Result<Bytes, Error>>,
    /// When this attempt times out.
    deadline: Instant,
    /// When the whole request times out (later than `deadline` with retransmissions).
    overall: Instant,
    /// Retransmissions left after a timeout.
    retries: u32,
    bytes: Bytes,
    sel: super::Selection,
}

/// Requests waiting for their answer, by hop-by-hop id.
type Pending = HashMap<u32, Waiting>;

/// Sends every pending request to another peer, with the T flag (RFC 6733 §5.5.4); those
/// past their deadline fail with a timeout instead.
fn fail_over(inner: &Arc<Inner>, pending: &mut Pending) {
    let now = Instant::now();
    for (_, w) in pending.drain() {
        if w.overall <= now || w.reply.is_closed() {
            let _ = w
                .reply
                .send(Err(Error::new(ErrorKind::Timeout, "no answer in time")));
            continue;
        }
        let inner = inner.clone();
        tokio::spawn(async move {
            inner
                .dispatch_attempt(
                    w.bytes,
                    w.overall,
                    w.reply,
                    w.sel,
                    super::Mode::Failover,
                    w.retries,
                )
                .await;
        });
    }
}

/// Runs one connection to its end; also returns the peer's Origin-Host once known.
pub(crate) async fn run(
    inner: Arc<Inner>,
    stream: TcpStream,
    addr: SocketAddr,
    conn: u64,
    role: Role,
) -> (Outcome, Option<DiameterIdentity>) {
    let initiator = matches!(role, Role::Initiator { .. });
    let span = tracing::info_span!("conn", %addr, conn, initiator);
    run_inner(inner, stream, addr, role, conn)
        .instrument(span)
        .await
}

/// What the writer task needs besides the socket: the statistics it updates, the callbacks'
/// `sending` hook and the peer's Origin-Host once known.
struct WriterCtx {
    counters: Arc<super::Counters>,
    callbacks: Option<Arc<dyn super::Callbacks>>,
    peer: Arc<std::sync::OnceLock<DiameterIdentity>>,
}

fn spawn_writer(
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    queue: usize,
    ctx: WriterCtx,
) -> mpsc::Sender<Bytes> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(queue);
    tokio::spawn(async move {
        let mut buf = BytesMut::with_capacity(64 * 1024);
        while let Some(b) = rx.recv().await {
            {
                let mut tally = ctx.counters.sent_by_command();
                let mut take = |b: &Bytes, buf: &mut BytesMut| {
                    if let Some(cb) = &ctx.callbacks {
                        // A panicking hook must not take the connection down.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
                            cb.sending(b, ctx.peer.get())
                        }));
                    }
                    tally.sent(b);
                    buf.extend_from_slice(b);
                };
                take(&b, &mut buf);
                // Batch what is already queued into one write.
                while buf.len() < 64 * 1024 {
                    match rx.try_recv() {
                        Ok(b) => take(&b, &mut buf),
                        Err(_) => break,
                    }
                }
            }
            if let Err(e) = wr.write_all(&buf).await {
                tracing::debug!("write failed: {e}");
                break;
            }
            buf.clear();
        }
        let _ = wr.shutdown().await;
    });
    tx
}

/// The next message of the capabilities exchange, within the CER timeout. A header that
/// cannot be framed is answered (5011, 5015) before the connection ends.
async fn next_frame(
    inner: &Inner,
    reader: &mut Reader,
    writer: &mpsc::Sender<Bytes>,
    counters: &super::Counters,
) -> Result<Bytes, Error> {
    match tokio::time::timeout(inner.config.cer_timeout, reader.next()).await {
        Err(_) => Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "no capabilities exchange within {:?}",
                inner.config.cer_timeout
            ),
        )),
        Ok(None) => Err(Error::new(
            ErrorKind::PeerDown,
            "connection closed during the capabilities exchange",
        )),
        Ok(Some(Err(e))) => {
            if let Some(a) = e.answer(&inner.caps) {
                let _ = writer.send(a).await;
            }
            Err(Error::new(ErrorKind::Io, e.to_string()))
        }
        Ok(Some(Ok(f))) => {
            let f = f.freeze();
            counters.received_by_command().received(&f);
            Ok(f)
        }
    }
}

/// The capabilities exchange; on success the peer and the common applications. The
/// responder side waits for the peer's election to answer the CER.
async fn handshake(
    inner: &Inner,
    reader: &mut Reader,
    writer: &mpsc::Sender<Bytes>,
    addr: SocketAddr,
    role: &mut Role,
    conn: u64,
    counters: &super::Counters,
) -> Result<(PeerInfo, Vec<AppId>), Error> {
    let caps = &inner.caps;
    if let Role::Initiator { abort, .. } = role {
        let cer = caps
            .cer()
            .encode(inner.next_hop_by_hop(), inner.next_end_to_end());
        writer
            .send(cer)
            .await
            .map_err(|_| Error::new(ErrorKind::PeerDown, "writer closed"))?;
        let frame = match abort.take() {
            Some(abort) => tokio::select! {
                f = next_frame(inner, reader, writer, counters) => f?,
                Ok(()) = abort => return Err(Error::new(
                    ErrorKind::Refused,
                    "election won: the peer's own connection is kept (RFC 6733 §5.6.4)",
                )),
            },
            None => next_frame(inner, reader, writer, counters).await?,
        };
        let (_, cea) = CapabilitiesExchangeAnswer::decode(frame)?;
        let peer = PeerInfo::from_cea(&cea);
        if cea.result_code != ResultCode::DIAMETER_SUCCESS {
            let reason = cea
                .error_message
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_default();
            inner.event(Event::Refused {
                addr,
                result_code: cea.result_code.0,
                reason: reason.clone(),
            });
            return Err(Error::refused(
                cea.result_code.0,
                format!(
                    "{} refused the capabilities exchange: {reason}",
                    peer.origin_host
                ),
            ));
        }
        let common = negotiate(caps, &peer).map_err(|r| {
            inner.event(Event::Refused {
                addr,
                result_code: r.result_code.0,
                reason: r.reason.clone(),
            });
            Error::refused(r.result_code.0, r.reason)
        })?;
        Ok((peer, common))
    } else {
        let frame = next_frame(inner, reader, writer, counters).await?;
        let header = Header::parse(&frame)?;
        if header.command_code != CER_CODE || !header.flags.is_request() {
            // Only a CER opens a connection (RFC 6733 §5.6: no other event in Wait-CER).
            return Err(Error::new(
                ErrorKind::Refused,
                format!(
                    "command {} before the capabilities exchange",
                    header.command_code
                ),
            ));
        }
        let refuse = |r: Refusal| {
            let mut cea = caps.cea(r.result_code, Some(&r.reason));
            cea.failed_avp = r
                .failed_avp
                .clone()
                .map(|a| crate::base::FailedAvp { avps: vec![a] });
            let mut h = cea.header(header.hop_by_hop, header.end_to_end);
            if (3000..4000).contains(&r.result_code.0) {
                h.flags = h.flags.with(CommandFlags::ERROR);
            }
            let mut out = BytesMut::new();
            cea.encode_with_header(&h, &mut out);
            (out.freeze(), r)
        };
        let outcome: Result<(PeerInfo, Vec<AppId>), Refusal> = (|| {
            let refusal = |e: crate::codec::DecodeError| Refusal {
                result_code: ResultCode(e.result_code()),
                reason: e.to_string(),
                failed_avp: e.failed_avp().cloned(),
            };
            check_base(inner, &frame).map_err(refusal)?;
            let (_, cer) = CapabilitiesExchangeRequest::decode(frame.clone()).map_err(refusal)?;
            let peer = PeerInfo::from_cer(&cer);
            if let Some(allowed) = &inner.config.allowed_hosts {
                if !allowed.iter().any(|h| h == peer.origin_host.as_str()) {
                    return Err(Refusal {
                        result_code: ResultCode::DIAMETER_UNKNOWN_PEER,
                        reason: format!("{} is not an allowed peer", peer.origin_host),
                        failed_avp: None,
                    });
                }
            }
            let common = negotiate(caps, &peer)?;
            Ok((peer, common))
        })();
        // The peer state machine decides whether this connection is the one to keep: at
        // once, or after the election when our own connection to the peer is opening.
        let outcome = match outcome {
            Ok((peer, common)) => {
                let host = peer.origin_host.clone();
                let (decision, stale) =
                    inner
                        .elections
                        .responder_cer(&host, conn, peer.origin_state_id);
                if let Some(old) = stale {
                    tracing::info!(peer = %host, "new Origin-State-Id: the peer restarted; closing its old connection");
                    inner.close_conn(old, "the peer restarted (new Origin-State-Id)");
                }
                let accepted = tokio::select! {
                    d = decision => d.unwrap_or(false),
                    _ = tokio::time::sleep(inner.config.cer_timeout) => {
                        inner.elections.responder_gone(&host, conn, true);
                        false
                    }
                    _ = reader.next() => {
                        // Closed, or a message before our CEA: either way this one is done.
                        inner.elections.responder_gone(&host, conn, false);
                        false
                    }
                };
                if accepted {
                    Ok((peer, common))
                } else {
                    Err(Refusal {
                        result_code: ResultCode::DIAMETER_ELECTION_LOST,
                        reason: format!(
                            "{host} is already connected or its own connection won the election"
                        ),
                        failed_avp: None,
                    })
                }
            }
            Err(r) => Err(r),
        };
        match outcome {
            Ok((peer, common)) => {
                let cea = caps.cea(ResultCode::DIAMETER_SUCCESS, None);
                let bytes = cea.encode(header.hop_by_hop, header.end_to_end);
                writer
                    .send(bytes)
                    .await
                    .map_err(|_| Error::new(ErrorKind::PeerDown, "writer closed"))?;
                Ok((peer, common))
            }
            Err(r) => {
                let (bytes, r) = refuse(r);
                let _ = writer.send(bytes).await;
                inner.event(Event::Refused {
                    addr,
                    result_code: r.result_code.0,
                    reason: r.reason.clone(),
                });
                Err(Error::refused(r.result_code.0, r.reason))
            }
        }
    }
}

async fn run_inner(
    inner: Arc<Inner>,
    stream: TcpStream,
    addr: SocketAddr,
    mut role: Role,
    conn: u64,
) -> (Outcome, Option<DiameterIdentity>) {
    let (rd, wr) = stream.into_split();
    let mut reader = FramedRead::new(rd, Frames(Framer::new(inner.config.max_message_len)));
    let counters = Arc::new(super::Counters::default());
    let peer_id = Arc::new(std::sync::OnceLock::new());
    let writer = spawn_writer(
        wr,
        inner.config.queue_len,
        WriterCtx {
            counters: counters.clone(),
            callbacks: inner.callbacks.clone(),
            peer: peer_id.clone(),
        },
    );
    let handshake = handshake(
        &inner,
        &mut reader,
        &writer,
        addr,
        &mut role,
        conn,
        &counters,
    )
    .await;
    let expected = match &role {
        Role::Initiator { expected, .. } => expected.clone(),
        Role::Responder => {
            inner
                .opening
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            None
        }
    };
    let (peer, common) = match handshake {
        Ok(x) => x,
        Err(e) => {
            tracing::info!("capabilities exchange with {addr} failed: {e}");
            if let Some(h) = &expected {
                inner.elections.initiator_failed(h, conn);
            }
            // Let the CEA go out before the writer closes.
            drop(writer);
            tokio::time::sleep(Duration::from_millis(50)).await;
            return (Outcome::Closed, expected);
        }
    };
    let host = peer.origin_host.clone();
    let side = match role {
        Role::Initiator { .. } => {
            let osi = peer.origin_state_id;
            let open = match &expected {
                Some(h) if *h == host => inner.elections.initiator_cea(&host, conn, osi),
                _ => {
                    if let Some(h) = &expected {
                        tracing::warn!(expected = %h, peer = %host, "the peer's Origin-Host is not the one configured");
                        inner.elections.initiator_failed(h, conn);
                    }
                    inner.elections.adopt_initiator(&host, conn, osi)
                }
            };
            if !open {
                tracing::info!(peer = %host, "the peer is already connected (its own connection is kept)");
                return (Outcome::Closed, Some(host));
            }
            Side::Initiator
        }
        Role::Responder => Side::Responder,
    };
    tracing::info!(peer = %host, ?common, "peer up");
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<Command>(inner.config.queue_len);
    let mut watchdog = Watchdog::new(
        inner.config.watchdog,
        conn.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ inner.next_end_to_end() as u64,
    );
    watchdog.on_connection_up(std::time::Instant::now());
    let (state_tx, state_rx) = watch::channel(WatchdogState::Okay);
    let _ = peer_id.set(host.clone());
    inner.add_peer(
        peer.clone(),
        common.clone(),
        cmd_tx,
        state_rx,
        conn,
        counters.clone(),
    );
    if let Some(cb) = &inner.callbacks {
        cb.peer_up(&peer);
    }
    inner.event(Event::PeerUp {
        host: host.clone(),
        applications: common.clone(),
    });

    let mut pending: Pending = HashMap::new();
    let mut sweep = tokio::time::interval(Duration::from_millis(50));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A message must arrive whole within the frame timeout of its first byte (slow senders).
    let frame_timeout = inner.config.frame_timeout;
    let mut slow = tokio::time::interval(frame_timeout / 4);
    let mut stalled = Stall::default();
    slow.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = inner.shutdown.subscribe();
    let mut closing: Option<Instant> = None;
    let mut outcome = Outcome::Closed;
    let far = Duration::from_secs(3600);
    // One timer for the watchdog (and the DPA wait), re-armed only when it fires: the
    // watchdog ignores early calls, so a deadline pushed back by traffic costs one wakeup.
    let next_deadline = |w: &Watchdog, closing: Option<Instant>| {
        let wd = w
            .poll_timeout()
            .map(Instant::from_std)
            .unwrap_or_else(|| Instant::now() + far);
        closing.map_or(wd, |c| c.min(wd))
    };
    let timer = tokio::time::sleep_until(next_deadline(&watchdog, closing));
    tokio::pin!(timer);

    let reason: String = loop {
        tokio::select! {
            frame = reader.next() => match frame {
                None => { break "connection closed by the peer".into(); }
                Some(Err(e)) => {
                    if let Some(a) = e.answer(&inner.caps) {
                        let _ = writer.send(a).await;
                    }
                    break e.to_string();
                }
                Some(Ok(frame)) => {
                    let frame = frame.freeze();
                    let now = std::time::Instant::now();
                    match on_frame(&inner, &frame, &common, &host, &writer, &mut watchdog, &mut pending, &counters, now).await {
                        Flow::Continue => {}
                        Flow::Close(o, why) => { outcome = o; break why; }
                    }
                    let _ = state_tx.send_if_modified(|s| {
                        let changed = *s != watchdog.state();
                        *s = watchdog.state();
                        changed
                    });
                }
            },
            cmd = cmd_rx.recv() => match cmd {
                Some(Command::Request { bytes, hop_by_hop, deadline, reply, mut sel, overall, retries }) => {
                    sel.tried.push(host.clone());
                    let w = Waiting { reply, deadline, overall, retries, bytes: bytes.clone(), sel };
                    if !watchdog.is_okay() {
                        counters.outstanding.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                        // Not usable right now: straight to another peer.
                        let mut one = Pending::new();
                        one.insert(hop_by_hop, w);
                        fail_over(&inner, &mut one);
                        continue;
                    }
                    pending.insert(hop_by_hop, w);
                    counters.requests_sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if writer.send(bytes).await.is_err() {
                        break "writer closed".into();
                    }
                }
                Some(Command::Close(why)) => break why,
                Some(Command::Disconnect(cause)) => {
                    send_dpr(&inner, &writer, cause).await;
                    closing = Some(Instant::now() + Duration::from_secs(2));
                    timer.as_mut().reset(next_deadline(&watchdog, closing));
                }
                None => {}
            },
            _ = slow.tick() => {
                if stalled.stalled(reader.decoder().0.progress(), frame_timeout) {
                    break format!("a message not received whole within {frame_timeout:?}");
                }
            }
            _ = sweep.tick(), if !pending.is_empty() => {
                let now = Instant::now();
                let expired: Vec<u32> = pending
                    .iter()
                    .filter(|(_, w)| w.deadline <= now || w.reply.is_closed())
                    .map(|(k, _)| *k)
                    .collect();
                let mut again = Pending::new();
                for k in expired {
                    if let Some(mut w) = pending.remove(&k) {
                        counters.timeouts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        counters.outstanding.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                        if w.retries > 0 && w.overall > now && !w.reply.is_closed() {
                            // Retransmit elsewhere, with the T flag.
                            w.retries -= 1;
                            again.insert(k, w);
                        } else {
                            let _ = w.reply.send(Err(Error::new(ErrorKind::Timeout, "no answer in time")));
                        }
                    }
                }
                if !again.is_empty() {
                    fail_over(&inner, &mut again);
                }
            }
            _ = &mut timer => {
                if closing.is_some_and(|c| Instant::now() >= c) {
                    break "no DPA".into();
                }
                let now = std::time::Instant::now();
                let mut close = false;
                for action in watchdog.on_timeout(now) {
                    match action {
                        crate::peer::Action::SendWatchdog => {
                            let dwr = DeviceWatchdogRequest {
                                origin_host: inner.caps.origin_host.clone(),
                                origin_realm: inner.caps.origin_realm.clone(),
                                origin_state_id: inner.caps.origin_state_id,
                                avps: Vec::new(),
                            };
                            let _ = writer.send(dwr.encode(inner.next_hop_by_hop(), inner.next_end_to_end())).await;
                        }
                        crate::peer::Action::Failover => {
                            // The peer stopped answering: its requests go elsewhere now.
                            inner.event(Event::Failover { host: host.clone(), requests: pending.len() });
                            let n = pending.len() as u64;
                            counters.failed_over.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                            counters.outstanding.fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
                            fail_over(&inner, &mut pending);
                        }
                        crate::peer::Action::CloseConnection => close = true,
                        crate::peer::Action::Failback | crate::peer::Action::AttemptOpen => {}
                    }
                }
                let st = watchdog.state();
                if *state_tx.borrow() != st {
                    let _ = state_tx.send(st);
                    inner.event(Event::Watchdog { host: host.clone(), state: st });
                }
                if close {
                    break "watchdog: peer unresponsive".into();
                }
                timer.as_mut().reset(next_deadline(&watchdog, closing));
            },
            _ = shutdown.changed(), if closing.is_none() => {
                send_dpr(&inner, &writer, DisconnectCause::Rebooting).await;
                closing = Some(Instant::now() + Duration::from_secs(2));
                timer.as_mut().reset(next_deadline(&watchdog, closing));
            }
        }
    };
    inner.remove_peer(conn);
    inner.elections.closed(&host, conn, side);
    // Requests routed here while the connection was ending go elsewhere too.
    cmd_rx.close();
    while let Ok(cmd) = cmd_rx.try_recv() {
        if let Command::Request {
            bytes,
            hop_by_hop,
            deadline,
            reply,
            mut sel,
            overall,
            retries,
        } = cmd
        {
            sel.tried.push(host.clone());
            pending.insert(
                hop_by_hop,
                Waiting {
                    reply,
                    deadline,
                    overall,
                    retries,
                    bytes,
                    sel,
                },
            );
        }
    }
    if !pending.is_empty() {
        inner.event(Event::Failover {
            host: host.clone(),
            requests: pending.len(),
        });
        fail_over(&inner, &mut pending);
    }
    if let Some(cb) = &inner.callbacks {
        cb.peer_down(&host);
    }
    tracing::info!(peer = %host, %reason, "peer down");
    inner.event(Event::PeerDown {
        host: host.clone(),
        reason,
    });
    (outcome, Some(host))
}

async fn send_dpr(inner: &Inner, writer: &mpsc::Sender<Bytes>, cause: DisconnectCause) {
    let dpr = DisconnectPeerRequest {
        origin_host: inner.caps.origin_host.clone(),
        origin_realm: inner.caps.origin_realm.clone(),
        disconnect_cause: cause,
        avps: Vec::new(),
    };
    let _ = writer
        .send(dpr.encode(inner.next_hop_by_hop(), inner.next_end_to_end()))
        .await;
}

/// Destination-Host and Destination-Realm of an encoded request.
fn destination(frame: &Bytes) -> (Option<&[u8]>, Option<&[u8]>) {
    let (mut host, mut realm) = (None, None);
    for a in AvpReader::within(frame, HEADER_LEN, frame.len()).flatten() {
        match (a.code, a.vendor_id) {
            (293, 0) => host = Some(&frame[a.start..a.end]),
            (283, 0) => realm = Some(&frame[a.start..a.end]),
            _ => {}
        }
    }
    (host, realm)
}

/// Applies the routing table to a request from `from`: `None` to handle it here, else it was
/// forwarded or answered (3002, 3005, 3006).
async fn route_incoming(
    inner: &Arc<Inner>,
    header: &Header,
    frame: &Bytes,
    from: &crate::codec::DiameterIdentity,
    writer: &mpsc::Sender<Bytes>,
) -> Option<Flow> {
    let caps = &inner.caps;
    let (dest_host, dest_realm) = destination(frame);
    let for_us = match dest_host {
        Some(h) => h == caps.origin_host.as_bytes(),
        None => dest_realm.is_none_or(|r| r == caps.origin_realm.as_bytes()),
    };
    if for_us {
        return None;
    }
    let answer = |rc: ResultCode, extra: Vec<crate::codec::dynamic::Avp>| {
        let mut a = answer_skeleton(header, frame, caps, rc, None, None);
        a.avps.extend(extra);
        a.encode()
    };
    let action = inner
        .find_route(dest_realm, header.application_id)
        .map(|r| (r.action, r.peers.clone()));
    match action {
        Some((RouteAction::Local, _)) => None,
        Some((RouteAction::Redirect, peers)) => {
            let m = AvpFlags::MANDATORY;
            let mut extra: Vec<crate::codec::dynamic::Avp> = peers
                .iter()
                .map(|p| {
                    crate::codec::dynamic::Avp::new(
                        292,
                        m,
                        0,
                        &crate::codec::Utf8String::from(
                            format!("aaa://{p};transport=tcp").as_str(),
                        ),
                    )
                })
                .collect();
            let (usage, max_cache) = inner.config.redirect_usage;
            extra.push(crate::codec::dynamic::Avp::new(
                261,
                m,
                0,
                &i32::from(usage),
            ));
            if usage != crate::base::RedirectHostUsage::DontCache {
                let secs = max_cache.as_secs().min(u32::MAX as u64) as u32;
                extra.push(crate::codec::dynamic::Avp::new(262, m, 0, &secs));
            }
            let _ = writer
                .send(answer(ResultCode::DIAMETER_REDIRECT_INDICATION, extra))
                .await;
            Some(Flow::Continue)
        }
        None if dest_host.is_none() => {
            let _ = writer
                .send(answer(ResultCode::DIAMETER_UNABLE_TO_DELIVER, Vec::new()))
                .await;
            Some(Flow::Continue)
        }
        // Relay, proxy, or a Destination-Host we may reach directly.
        _ => {
            forward(inner, header, frame, from, writer).await;
            Some(Flow::Continue)
        }
    }
}

/// Forwards a request as a relay: 3005 if our identity is already in its Route-Record,
/// else our Route-Record is appended and the request is sent on (end-to-end id kept, never
/// back to `from`); the answer, or 3002, goes back under the original hop-by-hop id.
async fn forward(
    inner: &Arc<Inner>,
    header: &Header,
    frame: &Bytes,
    from: &crate::codec::DiameterIdentity,
    writer: &mpsc::Sender<Bytes>,
) {
    let caps = &inner.caps;
    let looped = AvpReader::within(frame, HEADER_LEN, frame.len())
        .flatten()
        .any(|a| {
            a.code == 282
                && a.vendor_id == 0
                && &frame[a.start..a.end] == caps.origin_host.as_bytes()
        });
    if looped {
        let a = answer_skeleton(
            header,
            frame,
            caps,
            ResultCode::DIAMETER_LOOP_DETECTED,
            None,
            None,
        );
        let _ = writer.send(a.encode()).await;
        return;
    }
    let mut b = BytesMut::from(&frame[..]);
    append_route_record(&mut b, caps.origin_host.as_bytes());
    let (tx, rx) = oneshot::channel();
    let deadline = Instant::now() + inner.config.request_timeout;
    let inner = inner.clone();
    let writer = writer.clone();
    let (orig, frame, from) = (*header, frame.clone(), from.clone());
    tokio::spawn(async move {
        inner
            .dispatch(
                b.freeze(),
                deadline,
                tx,
                super::Selection {
                    tried: vec![from],
                    filter: None,
                },
                super::Mode::Relay,
            )
            .await;
        let out = match rx.await {
            Ok(Ok(answer)) => {
                let mut a = BytesMut::from(&answer[..]);
                a[12..16].copy_from_slice(&orig.hop_by_hop.to_be_bytes());
                a.freeze()
            }
            Ok(Err(e)) => answer_skeleton(
                &orig,
                &frame,
                &inner.caps,
                ResultCode::DIAMETER_UNABLE_TO_DELIVER,
                None,
                Some(&e.to_string()),
            )
            .encode(),
            Err(_) => answer_skeleton(
                &orig,
                &frame,
                &inner.caps,
                ResultCode::DIAMETER_UNABLE_TO_DELIVER,
                None,
                None,
            )
            .encode(),
        };
        let _ = writer.send(out).await;
    });
}

/// Appends a Route-Record AVP and fixes the message length.
fn append_route_record(b: &mut BytesMut, host: &[u8]) {
    crate::codec::avp::encode_avp_with(b, 282, AvpFlags::MANDATORY, 0, |o| {
        o.extend_from_slice(host)
    });
    let len = b.len() as u32;
    b[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
}

/// Checks a received message against the node's dictionaries when it has them (with their
/// strictness); base protocol messages are decoded with their generated types as well.
fn check_base(inner: &Inner, frame: &Bytes) -> Result<(), crate::codec::DecodeError> {
    match &inner.dictionary {
        Some(d) => d.validate(frame).map(drop),
        None => Ok(()),
    }
}

/// The error answer to a base protocol request (DWR, DPR) that failed its grammar: no
/// Session-Id (those commands have none), the E bit for 3xxx, the Failed-AVP.
fn base_error_answer(
    header: &Header,
    caps: &crate::peer::Capabilities,
    e: &crate::codec::DecodeError,
) -> Bytes {
    tracing::debug!(
        command = header.command_code,
        "malformed base protocol request: {e}"
    );
    let mut a = answer_skeleton(
        header,
        &Bytes::new(),
        caps,
        ResultCode(e.result_code()),
        e.failed_avp(),
        Some(e.detail()),
    );
    // Result-Code first, as the answers' grammars list it.
    if let Some(i) = a.avps.iter().position(|x| x.code == RESULT_CODE) {
        let rc = a.avps.remove(i);
        a.avps.insert(0, rc);
    }
    a.encode()
}

/// The 5012 (UNABLE_TO_COMPLY) answer for a request whose handler panicked.
fn handler_failed(req: &Request, caps: &crate::peer::Capabilities) -> Bytes {
    tracing::warn!("handler panicked; answering 5012");
    answer_skeleton(
        &req.header,
        &req.bytes,
        caps,
        ResultCode::DIAMETER_UNABLE_TO_COMPLY,
        None,
        Some("the handler failed"),
    )
    .encode()
}

enum Flow {
    Continue,
    Close(Outcome, String),
}

#[allow(clippy::too_many_arguments)]
async fn on_frame(
    inner: &Arc<Inner>,
    frame: &Bytes,
    common: &[AppId],
    host: &crate::codec::DiameterIdentity,
    writer: &mpsc::Sender<Bytes>,
    watchdog: &mut Watchdog,
    pending: &mut Pending,
    counters: &super::Counters,
    now: std::time::Instant,
) -> Flow {
    // Counted before anything else, malformed messages included.
    let class = counters.received_by_command().received(frame);
    let header = match Header::parse(frame) {
        Ok(h) => h,
        Err(e) => {
            // A request with bad header bits is answered (3008 …) with its own identifiers.
            if frame.len() >= 20 && frame[4] & 0x80 != 0 {
                let raw = Header {
                    version: 1,
                    length: 0,
                    flags: CommandFlags::from_bits(frame[4] & 0xd0 & !0x20),
                    command_code: u32::from_be_bytes([0, frame[5], frame[6], frame[7]]),
                    application_id: u32::from_be_bytes([frame[8], frame[9], frame[10], frame[11]]),
                    hop_by_hop: u32::from_be_bytes([frame[12], frame[13], frame[14], frame[15]]),
                    end_to_end: u32::from_be_bytes([frame[16], frame[17], frame[18], frame[19]]),
                };
                let ans = answer_skeleton(
                    &raw,
                    &Bytes::new(),
                    &inner.caps,
                    ResultCode(e.result_code()),
                    None,
                    Some(e.detail()),
                );
                let _ = writer.send(ans.encode()).await;
            }
            tracing::debug!("bad header: {e}");
            return Flow::Continue;
        }
    };
    tracing::trace!(?header, "received");
    if !header.flags.is_request() {
        match header.command_code {
            280 => {
                // A malformed DWA still shows the peer is alive; it is reported, not used.
                if let Err(e) = DeviceWatchdogAnswer::decode(frame.clone()) {
                    tracing::warn!(peer = %host, "malformed DWA: {e}");
                }
                watchdog.on_dwa(now);
            }
            282 => {
                if let Err(e) = DisconnectPeerAnswer::decode(frame.clone()) {
                    tracing::warn!(peer = %host, "malformed DPA: {e}");
                }
                return Flow::Close(Outcome::Closed, "disconnected (DPA received)".into());
            }
            _ => {
                watchdog.on_other_message(now);
                // Matched on hop-by-hop id, end-to-end id and this connection.
                let ours = pending
                    .get(&header.hop_by_hop)
                    .is_some_and(|w| w.bytes.get(16..20) == Some(&frame[16..20]));
                match ours.then(|| pending.remove(&header.hop_by_hop)).flatten() {
                    Some(w) => {
                        counters.answered(class.unwrap_or(5));
                        let _ = w.reply.send(Ok(frame.clone()));
                    }
                    None => {
                        tracing::debug!(hop_by_hop = header.hop_by_hop, "answer nobody waits for");
                        // Late (after a timeout) or unsolicited: the callbacks see it.
                        if let Some(cb) = &inner.callbacks {
                            cb.handle_answer(frame.clone(), &Bytes::new());
                        }
                    }
                }
            }
        }
        return Flow::Continue;
    }
    watchdog.on_other_message(now);
    let caps = &inner.caps;
    match header.command_code {
        280 => {
            if let Err(e) = check_base(inner, frame)
                .and_then(|()| DeviceWatchdogRequest::decode(frame.clone()).map(drop))
            {
                let _ = writer.send(base_error_answer(&header, caps, &e)).await;
                return Flow::Continue;
            }
            let dwa = DeviceWatchdogAnswer {
                result_code: ResultCode::DIAMETER_SUCCESS,
                origin_host: caps.origin_host.clone(),
                origin_realm: caps.origin_realm.clone(),
                error_message: None,
                failed_avp: None,
                origin_state_id: caps.origin_state_id,
                avps: Vec::new(),
            };
            let _ = writer
                .send(dwa.encode(header.hop_by_hop, header.end_to_end))
                .await;
            Flow::Continue
        }
        282 => {
            let decoded = check_base(inner, frame)
                .and_then(|()| DisconnectPeerRequest::decode(frame.clone()));
            let cause = match decoded {
                Ok((_, d)) => d.disconnect_cause,
                Err(e) => {
                    // A malformed DPR is refused; the connection stays.
                    let _ = writer.send(base_error_answer(&header, caps, &e)).await;
                    return Flow::Continue;
                }
            };
            let dpa = DisconnectPeerAnswer {
                result_code: ResultCode::DIAMETER_SUCCESS,
                origin_host: caps.origin_host.clone(),
                origin_realm: caps.origin_realm.clone(),
                error_message: None,
                failed_avp: None,
                avps: Vec::new(),
            };
            let _ = writer
                .send(dpa.encode(header.hop_by_hop, header.end_to_end))
                .await;
            let outcome = match cause {
                DisconnectCause::Busy | DisconnectCause::DoNotWantToTalkToYou => {
                    Outcome::DoNotReconnect
                }
                _ => Outcome::Closed,
            };
            Flow::Close(outcome, format!("disconnected by the peer ({cause:?})"))
        }
        257 => {
            // A CER on an open connection is not expected.
            let ans = answer_skeleton(
                &header,
                frame,
                caps,
                ResultCode::DIAMETER_UNABLE_TO_COMPLY,
                None,
                Some("capabilities already exchanged"),
            );
            let _ = writer.send(ans.encode()).await;
            Flow::Continue
        }
        _ => {
            counters
                .requests_received
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if !inner.config.routes.is_empty() {
                if let Some(flow) = route_incoming(inner, &header, frame, host, writer).await {
                    return flow;
                }
            }
            let app = header.application_id;
            // The base protocol (application 0) is every peer's.
            let supported = app == 0
                || common.iter().any(|a| {
                    a.id() == app || a.id() == crate::peer::capabilities::RELAY_APPLICATION_ID
                });
            let request = Request {
                header,
                bytes: frame.clone(),
                peer: host.clone(),
                local: caps.clone(),
            };
            if !supported {
                let ans = answer_skeleton(
                    &header,
                    frame,
                    caps,
                    ResultCode::DIAMETER_APPLICATION_UNSUPPORTED,
                    None,
                    None,
                );
                let _ = writer.send(ans.encode()).await;
                return Flow::Continue;
            }
            // Applications bound to peer sets: the first binding for this application and
            // peer takes the request; bound only to other peers, the application is
            // unsupported for this one.
            let mut bound: Option<Arc<dyn super::Handler>> = None;
            if inner.apps.iter().any(|a| a.id.id() == app) {
                match inner.apps.iter().find(|a| a.serves(app, host)) {
                    Some(a) => bound = a.handler.clone(),
                    None => {
                        let ans = answer_skeleton(
                            &header,
                            frame,
                            caps,
                            ResultCode::DIAMETER_APPLICATION_UNSUPPORTED,
                            None,
                            Some("the application is not offered to this peer"),
                        );
                        let _ = writer.send(ans.encode()).await;
                        return Flow::Continue;
                    }
                }
            }
            // Checked against the dictionaries before anything handles it.
            if let Some(dict) = &inner.dictionary {
                if let Err(e) = dict.validate_body(&header, frame) {
                    tracing::debug!(command = header.command_code, "refused: {e}");
                    let ans = answer_skeleton(
                        &header,
                        frame,
                        caps,
                        ResultCode(e.result_code()),
                        e.failed_avp(),
                        Some(e.detail()),
                    );
                    let _ = writer.send(ans.encode()).await;
                    return Flow::Continue;
                }
            }
            if let (None, Some(cb)) = (&bound, inner.callbacks.clone()) {
                let (inner, writer, from) = (inner.clone(), writer.clone(), host.clone());
                let (header, frame) = (header, frame.clone());
                let fallback = request.clone();
                tokio::spawn(async move {
                    let fut =
                        std::panic::catch_unwind(AssertUnwindSafe(|| cb.handle_request(request)));
                    let action = match fut {
                        Ok(f) => AssertUnwindSafe(f).catch_unwind().await.ok(),
                        Err(_) => None,
                    };
                    let caps = &inner.caps;
                    let out = match action {
                        Some(super::Action::Reply(b)) => Some(b),
                        Some(super::Action::ProtocolError(rc))
                        | Some(super::Action::AnswerMessage(rc, None)) => {
                            Some(answer_skeleton(&header, &frame, caps, rc, None, None).encode())
                        }
                        Some(super::Action::AnswerMessage(rc, Some(failed))) => Some(
                            answer_skeleton(&header, &frame, caps, rc, Some(&failed), None)
                                .encode(),
                        ),
                        Some(super::Action::Relay) | Some(super::Action::Proxy) => {
                            forward(&inner, &header, &frame, &from, &writer).await;
                            None
                        }
                        Some(super::Action::Discard) => None,
                        None => Some(handler_failed(&fallback, caps)),
                    };
                    if let Some(b) = out {
                        let _ = writer.send(b).await;
                    }
                });
                return Flow::Continue;
            }
            let Some(handler) = bound.or_else(|| inner.handler.clone()) else {
                let ans = answer_skeleton(
                    &header,
                    frame,
                    caps,
                    ResultCode::DIAMETER_COMMAND_UNSUPPORTED,
                    None,
                    None,
                );
                let _ = writer.send(ans.encode()).await;
                return Flow::Continue;
            };
            // A duplicate of a request we answered: the same answer again (new hop-by-hop).
            let dup_key = inner.dup.as_ref().and_then(|_| {
                AvpReader::within(frame, HEADER_LEN, frame.len())
                    .flatten()
                    .find(|a| a.code == ORIGIN_HOST && a.vendor_id == 0)
                    .map(|a| super::dup::Key::new(&frame[a.start..a.end], header.end_to_end))
            });
            // Only a retransmission (T flag) can be a duplicate worth replaying.
            let retransmitted = header.flags.is_retransmit();
            if let (Some(cache), Some(key), true) = (&inner.dup, &dup_key, retransmitted) {
                if let Some(answer) = cache.get(key) {
                    let mut a = BytesMut::from(&answer[..]);
                    a[12..16].copy_from_slice(&header.hop_by_hop.to_be_bytes());
                    let _ = writer.send(a.freeze()).await;
                    return Flow::Continue;
                }
            }
            let remember = {
                let inner = inner.clone();
                move |answer: &Bytes| {
                    if let (Some(cache), Some(key)) = (&inner.dup, dup_key) {
                        cache.insert(key, answer.clone());
                    }
                }
            };
            let writer = writer.clone();
            let caps = caps.clone();
            // A handler whose future is ready at once is answered here, without a task.
            let fallback = request.clone();
            let fut = std::panic::catch_unwind(AssertUnwindSafe(|| handler.handle(request)));
            let mut fut = match fut {
                Ok(f) => f,
                Err(_) => {
                    let _ = writer.send(handler_failed(&fallback, &caps)).await;
                    return Flow::Continue;
                }
            };
            match std::panic::catch_unwind(AssertUnwindSafe(|| (&mut fut).now_or_never())) {
                Ok(Some(reply)) => {
                    if let Reply::Answer(b) = reply {
                        remember(&b);
                        let _ = writer.send(b).await;
                    }
                    return Flow::Continue;
                }
                Ok(None) => {}
                Err(_) => {
                    let _ = writer.send(handler_failed(&fallback, &caps)).await;
                    return Flow::Continue;
                }
            }
            // Bounded concurrency for handlers that wait: when every permit is taken,
            // reading waits.
            let Ok(permit) = inner.handlers.clone().acquire_owned().await else {
                return Flow::Continue;
            };
            tokio::spawn(async move {
                let reply = AssertUnwindSafe(fut).catch_unwind().await.ok();
                let bytes = match reply {
                    Some(Reply::Answer(b)) => Some(b),
                    Some(Reply::Discard) => None,
                    None => Some(handler_failed(&fallback, &caps)),
                };
                if let Some(b) = bytes {
                    remember(&b);
                    let _ = writer.send(b).await;
                }
                drop(permit);
            });
            Flow::Continue
        }
    }
}
