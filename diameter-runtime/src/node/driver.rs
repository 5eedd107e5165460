//! The tokio driver of one connection: a single task around the sans-IO
//! [`peer::Connection`](crate::peer::Connection) that reads and writes the socket, feeds it
//! time, carries requests from the node to it and answers from handlers back, and turns its
//! events into the node's (peer up and down, failover, the election of RFC 6733 §5.6.4).

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use super::tls::Socket;
use bytes::{Buf, Bytes, BytesMut};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument;

use super::{Command, Error, ErrorKind, Event, Inner};
use crate::base::DisconnectCause;
use crate::codec::DiameterIdentity;
use crate::peer::connection::{Connection, ConnectionConfig, Event as ConnEvent, Phase};
use crate::peer::{Side, WatchdogState};

pub(crate) use crate::peer::Outcome;

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

/// A request waiting for its answer on this connection.
pub(crate) struct Waiting {
    reply: oneshot::Sender<Result<Bytes, Error>>,
    /// When the whole request times out (later than the attempt's deadline with
    /// retransmissions).
    overall: Instant,
    /// Retransmissions left after a timeout.
    retries: u32,
    bytes: Bytes,
    sel: super::Selection,
}

impl Waiting {
    /// What waits for the answer of a request command, with this attempt's deadline; `None`
    /// for other commands.
    fn from_command(cmd: Command) -> Option<(Waiting, Instant)> {
        match cmd {
            Command::Request {
                bytes,
                deadline,
                reply,
                sel,
                overall,
                retries,
            } => Some((
                Waiting {
                    reply,
                    overall,
                    retries,
                    bytes,
                    sel,
                },
                deadline,
            )),
            Command::Close(_) | Command::Disconnect(_) => None,
        }
    }
}

/// Most bytes waiting to be written before reading pauses (a peer that does not read its
/// answers cannot make the node buffer without bound).
const WRITE_HIGH_WATER: usize = 4 << 20;
/// Room the input buffer keeps for one read, and how much it grows by when it has less.
const READ_MIN: usize = 16 * 1024;
const READ_CHUNK: usize = 64 * 1024;
/// Most requests or answers taken from a queue in one go (one write for all of them).
const BATCH: usize = 256;
/// How long what is left to write may take once the connection is over.
const LINGER: Duration = Duration::from_millis(500);

/// Sends waiting requests to other peers, with the T flag (RFC 6733 §5.5.4); those past
/// their deadline, or whose caller gave up, fail with a timeout instead. `from`, the peer
/// they leave, joins the peers each was tried on (noted only now: most requests never fail
/// over, and the note would cost each of them an allocation).
fn fail_over(inner: &Arc<Inner>, waiting: Vec<Waiting>, from: Option<&DiameterIdentity>) {
    let now = Instant::now();
    for mut w in waiting {
        if let Some(h) = from {
            if !w.sel.tried.contains(h) {
                w.sel.tried.push(h.clone());
            }
        }
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
    stream: Socket,
    addr: SocketAddr,
    conn: u64,
    role: Role,
) -> (Outcome, Option<DiameterIdentity>) {
    let initiator = matches!(role, Role::Initiator { .. });
    let span = tracing::info_span!("conn", %addr, conn, initiator);
    let mut driver = Driver::new(inner, stream, addr, conn, role);
    async move { driver.run().await }.instrument(span).await
}

fn config(inner: &Inner) -> ConnectionConfig {
    ConnectionConfig {
        max_message_len: inner.config.max_message_len,
        cer_timeout: inner.config.cer_timeout,
        frame_timeout: inner.config.frame_timeout,
        dpa_timeout: inner.config.dpa_timeout,
        watchdog: inner.config.watchdog,
        allowed_hosts: inner.config.allowed_hosts.clone(),
        dictionary: inner.dictionary.clone(),
    }
}

/// Where the connection stands with the node.
enum Registered {
    /// Not (yet) a peer of the node.
    No,
    /// Open and registered: its Origin-Host and the watchdog state it publishes.
    Peer {
        host: DiameterIdentity,
        state: watch::Sender<WatchdogState>,
    },
}

struct Driver {
    inner: Arc<Inner>,
    stream: Socket,
    addr: SocketAddr,
    id: u64,
    role: Role,
    c: Connection<Waiting>,
    /// What is waiting to be written.
    wbuf: BytesMut,
    /// Requests from the node, for this peer.
    cmd_tx: mpsc::Sender<Command>,
    cmd_rx: mpsc::Receiver<Command>,
    /// Answers from handlers and forwarders that finished later.
    later_tx: mpsc::Sender<Bytes>,
    later_rx: mpsc::Receiver<Bytes>,
    /// Responder: the election's decision on the peer's CER.
    decision: Option<(DiameterIdentity, oneshot::Receiver<bool>)>,
    registered: Registered,
    outcome: Outcome,
    /// The peer's Origin-Host once known.
    host: Option<DiameterIdentity>,
    /// Answers ready at once, collected while handling events.
    ready: Vec<Bytes>,
    /// When the socket was last read: the time of the requests it brought, for the duplicate
    /// cache (one clock reading per read, not one per answer).
    read_at: std::time::Instant,
    /// Until when the loop polls without sleeping (`busy_poll`): moved on by traffic.
    spin_until: Instant,
    /// Initiator: the peer turned out to be connected already (its connection is kept).
    election_lost: bool,
    /// Responder: counted among the node's connections still in the capabilities exchange.
    opening: bool,
    /// TLS in band agreed: the peer's Origin-Host (as initiator) or `None` (responder), once
    /// what was written in clear (the CEA) is out.
    upgrade: Option<Option<DiameterIdentity>>,
    /// Responder after TLS in band: the Origin-Host the client's certificate must name, checked
    /// once the handshake is over and before anything it sent in TLS is handled.
    inband_client: Option<DiameterIdentity>,
    /// The capabilities exchange ended with a Result-Code (an [`Event::Refused`] was sent).
    refused: bool,
    /// Closed on purpose (election won by the peer's connection, node shutdown): not a
    /// failure to report.
    expected_close: bool,
}

impl Driver {
    fn new(inner: Arc<Inner>, stream: Socket, addr: SocketAddr, id: u64, role: Role) -> Self {
        let side = match role {
            Role::Initiator { .. } => Side::Initiator,
            Role::Responder => Side::Responder,
        };
        let ids = (inner.next_hop_by_hop(), inner.next_end_to_end());
        let c = Connection::new(
            side,
            inner.caps.clone(),
            config(&inner),
            std::time::Instant::now(),
            ids,
        );
        let (cmd_tx, cmd_rx) = mpsc::channel(inner.config.queue_len);
        let (later_tx, later_rx) = mpsc::channel(inner.config.queue_len);
        Driver {
            inner,
            stream,
            addr,
            id,
            role,
            c,
            wbuf: BytesMut::with_capacity(64 * 1024),
            cmd_tx,
            cmd_rx,
            later_tx,
            later_rx,
            decision: None,
            registered: Registered::No,
            outcome: Outcome::Closed,
            host: None,
            ready: Vec::new(),
            read_at: std::time::Instant::now(),
            spin_until: Instant::now(),
            election_lost: false,
            opening: side == Side::Responder,
            upgrade: None,
            inband_client: None,
            refused: false,
            expected_close: false,
        }
    }

    async fn run(&mut self) -> (Outcome, Option<DiameterIdentity>) {
        let mut shutdown = self.inner.shutdown.subscribe();
        let mut abort = match &mut self.role {
            Role::Initiator { abort, .. } => abort.take(),
            Role::Responder => None,
        };
        let mut closing = false;
        let far = Instant::now() + Duration::from_secs(86400);
        // One timer, moved only when the connection's next deadline moves.
        let timer = tokio::time::sleep_until(far);
        tokio::pin!(timer);
        let mut armed = Some(far);
        loop {
            self.events().await;
            self.flush_out();
            if self.c.phase() == Phase::Closed {
                // A write error while flushing may have closed it: its event too.
                self.events().await;
                break;
            }
            let timeout = self.c.poll_timeout().map_or(far, Instant::from_std);
            if armed != Some(timeout) {
                timer.as_mut().reset(timeout);
                armed = Some(timeout);
            }
            let reading = self.wbuf.len() < WRITE_HIGH_WATER;
            let deciding = self.decision.is_some();
            let decision = &mut self.decision;
            let decided = async {
                match decision.as_mut() {
                    Some((_, rx)) => rx.await.unwrap_or(false),
                    None => std::future::pending().await,
                }
            };
            // Busy polling: one more turn of the runtime (which polls the sockets without
            // sleeping) instead of waiting, while traffic was recent.
            let spinning = self.inner.config.busy_poll.is_some()
                && self.c.phase() == Phase::Open
                && Instant::now() < self.spin_until;
            let aborting = abort.is_some();
            let aborted = async {
                match abort.as_mut() {
                    Some(rx) => rx.await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = self.stream.readable(), if reading => {
                    if r.is_ok() {
                        self.read();
                    }
                }
                r = self.stream.writable(), if !self.wbuf.is_empty() || self.stream.wants_write() => {
                    if r.is_ok() {
                        self.write();
                        self.upgrade_when_flushed();
                    }
                }
                // With too much unwritten, requests and answers wait in their queues (whose
                // senders then wait): a peer that stops reading cannot grow the buffer.
                Some(cmd) = self.cmd_rx.recv(), if reading => {
                    self.traffic();
                    self.command(cmd);
                    // Whatever else is queued goes in the same write.
                    for _ in 0..BATCH {
                        match self.cmd_rx.try_recv() {
                            Ok(cmd) => self.command(cmd),
                            Err(_) => break,
                        }
                    }
                }
                Some(b) = self.later_rx.recv(), if reading => {
                    self.traffic();
                    self.c.send(b);
                    // Whatever else is ready goes in the same write.
                    for _ in 0..BATCH {
                        match self.later_rx.try_recv() {
                            Ok(b) => self.c.send(b),
                            Err(_) => break,
                        }
                    }
                }
                d = decided, if deciding => self.decide(d),
                fired = aborted, if aborting => {
                    abort = None;
                    if fired {
                        self.expected_close = true;
                        self.c.close(
                            "election won: the peer's own connection is kept (RFC 6733 §5.6.4)",
                            Outcome::Closed,
                        );
                    }
                }
                _ = &mut timer => {
                    // Fired: re-armed from the next deadline on the next turn.
                    armed = None;
                    self.c.handle_timeout(std::time::Instant::now());
                }
                _ = tokio::task::yield_now(), if spinning => {}
                _ = shutdown.changed(), if !closing => {
                    closing = true;
                    self.expected_close = true;
                    self.c.disconnect(std::time::Instant::now(), DisconnectCause::Rebooting);
                }
            }
        }
        self.linger().await;
        (self.outcome, self.host.clone())
    }

    /// Reads what the socket has, without waiting, straight into the connection's buffer, and
    /// lets it handle that (one read per wakeup keeps each batch of work bounded).
    fn read(&mut self) {
        let buf = self.c.input_buffer();
        if buf.capacity() - buf.len() < READ_MIN {
            // Chunks under glibc's mmap threshold: reused heap, not fresh zeroed pages.
            buf.reserve(READ_CHUNK);
        }
        let now = std::time::Instant::now();
        self.read_at = now;
        let r = self.stream.try_read_buf(buf);
        if self.inband_client.is_some() && self.stream.handshake_done() {
            let host = self.inband_client.take().unwrap_or_default();
            if self.stream.peer_certificate_names(host.as_str()) == Some(false) {
                tracing::warn!(peer = %host, "TLS in band: the client certificate does not name the CER's Origin-Host");
                // Nothing more reaches that client: what was queued for it is dropped with
                // the session.
                self.wbuf.clear();
                self.stream = Socket::Gone;
                self.c.handle_error(
                    now,
                    &format!("TLS in band: the client certificate does not name {host}"),
                );
                return;
            }
        }
        match r {
            Ok(0) => self.c.handle_eof(now),
            Ok(_) => {
                self.traffic();
                self.c.handle_buffered(now)
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => self.c.handle_error(now, &e.to_string()),
        }
    }

    /// Something was read or queued to send: with `busy_poll`, the loop keeps polling for
    /// the window after it.
    fn traffic(&mut self) {
        if let Some(window) = self.inner.config.busy_poll {
            // A window too long for the clock (`Duration::MAX`: always) ends a year on.
            self.spin_until = crate::peer::later_tokio(Instant::now(), window);
        }
    }

    /// Turns to TLS in band once the capabilities exchange is out in clear.
    fn upgrade_when_flushed(&mut self) {
        if self.upgrade.is_none() || !self.wbuf.is_empty() {
            return;
        }
        let Some(peer) = self.upgrade.take() else {
            return;
        };
        let Some(config) = self.inner.tls.clone() else {
            return;
        };
        let name = match peer {
            Some(host) => match super::tls::server_name(host.as_str()) {
                Ok(n) => Some(n),
                Err(e) => {
                    self.c
                        .handle_error(std::time::Instant::now(), &e.to_string());
                    return;
                }
            },
            None => {
                if config.check_client_names {
                    self.inband_client = self.host.clone();
                }
                None
            }
        };
        if let Err(e) = self.stream.upgrade(&config, name) {
            self.c
                .handle_error(std::time::Instant::now(), &format!("TLS in band: {e}"));
            return;
        }
        tracing::debug!("TLS in band: handshake started");
        self.write();
    }

    /// Writes what the socket takes, without waiting.
    fn write(&mut self) {
        if let Err(e) = self.stream.flush() {
            self.wbuf.clear();
            self.c
                .handle_error(std::time::Instant::now(), &e.to_string());
            return;
        }
        while !self.wbuf.is_empty() {
            match self.stream.try_write(&self.wbuf) {
                Ok(n) => self.wbuf.advance(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    self.wbuf.clear();
                    self.c
                        .handle_error(std::time::Instant::now(), &e.to_string());
                    return;
                }
            }
        }
    }

    /// Moves what the connection has to send into the write buffer (the callbacks' `sending`
    /// hook sees each message) and writes as much as the socket takes.
    fn flush_out(&mut self) {
        let peer = self.host.clone();
        while let Some(b) = self.c.poll_transmit() {
            if let Some(cb) = &self.inner.callbacks {
                // A panicking hook must not take the connection down.
                let _ =
                    std::panic::catch_unwind(AssertUnwindSafe(|| cb.sending(&b, peer.as_ref())));
            }
            self.wbuf.extend_from_slice(&b);
        }
        if !self.wbuf.is_empty() {
            self.write();
        }
        self.upgrade_when_flushed();
    }

    /// What is left to write once the connection is over (a CEA refusing the peer, a DPA),
    /// for a short while, then the socket is shut.
    async fn linger(&mut self) {
        self.flush_out();
        let until = Instant::now() + LINGER;
        while !self.wbuf.is_empty() || self.stream.wants_write() {
            tokio::select! {
                r = self.stream.writable() => {
                    if r.is_err() {
                        break;
                    }
                    self.write();
                }
                _ = tokio::time::sleep_until(until) => break,
            }
        }
        self.stream.shutdown().await;
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Close(why) => self.c.close(&why, Outcome::Closed),
            Command::Disconnect(cause) => {
                self.c.disconnect(std::time::Instant::now(), cause);
            }
            request => {
                let Some((w, deadline)) = Waiting::from_command(request) else {
                    return;
                };
                let bytes = w.bytes.clone();
                if let Err(w) = self.c.send_request(bytes, deadline.into_std(), w) {
                    // Not usable right now: straight to another peer.
                    self.c
                        .counters()
                        .outstanding
                        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    fail_over(&self.inner, vec![w], self.host.as_ref());
                }
            }
        }
    }

    /// Responder: the election decided on the peer's CER.
    fn decide(&mut self, accepted: bool) {
        let Some((host, _)) = self.decision.take() else {
            return;
        };
        if accepted {
            self.c.accept(std::time::Instant::now());
        } else {
            self.c.refuse(
                crate::base::ResultCode::DIAMETER_ELECTION_LOST.0,
                &format!("{host} is already connected or its own connection won the election"),
            );
        }
    }

    /// The capabilities exchange is over, either way: the listener's count of connections
    /// still in it (taken when it accepted this one) goes down.
    fn handshake_over(&mut self) {
        if std::mem::take(&mut self.opening) {
            self.inner
                .opening
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Acts on everything the connection has to say.
    async fn events(&mut self) {
        while let Some(ev) = self.c.poll_event() {
            match ev {
                ConnEvent::CapabilitiesRequest { peer, .. } => {
                    let host = peer.origin_host.clone();
                    self.host = Some(host.clone());
                    let check = self.inner.tls.as_ref().is_none_or(|t| t.check_client_names);
                    if check && self.stream.peer_certificate_names(host.as_str()) == Some(false) {
                        tracing::warn!(peer = %host, "the client certificate does not name the CER's Origin-Host");
                        self.c.refuse(
                            3010,
                            &format!("the client certificate does not name {host}"),
                        );
                        continue;
                    }
                    let (decision, stale) =
                        self.inner
                            .elections
                            .responder_cer(&host, self.id, peer.origin_state_id);
                    if let Some(old) = stale {
                        tracing::info!(peer = %host, "new Origin-State-Id: the peer restarted; closing its old connection");
                        self.inner
                            .close_conn(old, "the peer restarted (new Origin-State-Id)");
                    }
                    self.decision = Some((host, decision));
                }
                ConnEvent::Open { peer, common } => self.open(peer, common),
                ConnEvent::Refused {
                    result_code,
                    reason,
                } => {
                    self.refused = true;
                    self.inner.event(Event::Refused {
                        addr: self.addr,
                        result_code,
                        reason,
                    });
                }
                ConnEvent::Request(req) => {
                    let Registered::Peer { host, .. } = &self.registered else {
                        // Only after a lost election: the connection is closing, unregistered.
                        tracing::debug!(
                            command = req.header.command_code,
                            "request on a connection that lost the election: not handled"
                        );
                        continue;
                    };
                    let mut ready = std::mem::take(&mut self.ready);
                    super::incoming::on_request(
                        &self.inner,
                        req,
                        host,
                        self.c.common_applications(),
                        &mut ready,
                        &self.later_tx,
                        self.read_at,
                    )
                    .await;
                    for b in ready.drain(..) {
                        self.c.send(b);
                    }
                    self.ready = ready;
                }
                ConnEvent::Answer { waiter, frame, .. } => {
                    let _ = waiter.reply.send(Ok(frame));
                }
                ConnEvent::Unsolicited(frame) => {
                    tracing::debug!("answer nobody waits for");
                    // Late (after a timeout) or unsolicited: the callbacks see it.
                    if let Some(cb) = &self.inner.callbacks {
                        cb.handle_answer(frame, &Bytes::new());
                    }
                }
                ConnEvent::TimedOut(mut w) => {
                    if w.retries > 0 && w.overall > Instant::now() && !w.reply.is_closed() {
                        // Retransmit elsewhere, with the T flag.
                        w.retries -= 1;
                        fail_over(&self.inner, vec![w], self.host.as_ref());
                    } else {
                        let _ = w
                            .reply
                            .send(Err(Error::new(ErrorKind::Timeout, "no answer in time")));
                    }
                }
                ConnEvent::Failover(waiting) => {
                    if let Some(host) = &self.host {
                        self.inner.event(Event::Failover {
                            host: host.clone(),
                            requests: waiting.len(),
                        });
                    }
                    fail_over(&self.inner, waiting, self.host.as_ref());
                }
                ConnEvent::Watchdog(st) => {
                    if let Registered::Peer { host, state } = &self.registered {
                        let _ = state.send(st);
                        self.inner.event(Event::Watchdog {
                            host: host.clone(),
                            state: st,
                        });
                    }
                }
                ConnEvent::Closed {
                    reason,
                    outcome,
                    pending,
                } => {
                    self.outcome = outcome;
                    self.closed(reason, pending);
                }
            }
        }
    }

    /// The capabilities exchange succeeded: the initiator's election, then the node learns
    /// of the peer.
    fn open(&mut self, peer: crate::peer::PeerInfo, common: Vec<crate::peer::AppId>) {
        self.handshake_over();
        let host = peer.origin_host.clone();
        self.host = Some(host.clone());
        if let Role::Initiator { expected, .. } = &self.role {
            let osi = peer.origin_state_id;
            let elections = &self.inner.elections;
            let open = match expected {
                Some(h) if *h == host => elections.initiator_cea(&host, self.id, osi),
                _ => {
                    if let Some(h) = expected {
                        tracing::warn!(expected = %h, peer = %host, "the peer's Origin-Host is not the one configured");
                        elections.initiator_failed(h, self.id);
                    }
                    elections.adopt_initiator(&host, self.id, osi)
                }
            };
            if !open {
                tracing::info!(peer = %host, "the peer is already connected (its own connection is kept)");
                self.c.close(
                    "the peer is already connected (its own connection is kept)",
                    Outcome::Closed,
                );
                // Not registered: the election's record of the other connection stands.
                self.election_lost = true;
                return;
            }
        }
        if crate::peer::capabilities::inband_tls(&self.inner.caps, &peer) && !self.stream.is_tls() {
            // Done in flush_out, once the CEA (ours, or the peer's) is behind us.
            self.upgrade = Some(match self.role {
                Role::Initiator { .. } => Some(host.clone()),
                Role::Responder => None,
            });
        }
        tracing::info!(peer = %host, ?common, "peer up");
        let (state_tx, state_rx) = watch::channel(WatchdogState::Okay);
        self.inner.add_peer(
            peer.clone(),
            common.clone(),
            self.cmd_tx.clone(),
            state_rx,
            self.id,
            self.c.counters().clone(),
        );
        self.registered = Registered::Peer {
            host: host.clone(),
            state: state_tx,
        };
        if let Some(cb) = &self.inner.callbacks {
            cb.peer_up(&peer);
        }
        self.inner.event(Event::PeerUp {
            host,
            applications: common,
        });
    }

    fn closed(&mut self, reason: String, pending: Vec<Waiting>) {
        self.handshake_over();
        let registered = std::mem::replace(&mut self.registered, Registered::No);
        let Registered::Peer { host, .. } = registered else {
            // Over before it opened.
            tracing::info!("capabilities exchange with {} failed: {reason}", self.addr);
            // An election lost is no failure; a refusal was reported with its Result-Code.
            if !self.refused && !self.election_lost && !self.expected_close {
                self.inner.event(Event::ConnectionFailed {
                    addr: self.addr.to_string(),
                    reason: reason.clone(),
                });
            }
            if let Some((host, _)) = self.decision.take() {
                let timed_out = reason.contains("capabilities exchange within");
                self.inner
                    .elections
                    .responder_gone(&host, self.id, timed_out);
            }
            if let (
                Role::Initiator {
                    expected: Some(h), ..
                },
                false,
            ) = (&self.role, self.election_lost)
            {
                self.inner.elections.initiator_failed(h, self.id);
            }
            fail_over(&self.inner, pending, self.host.as_ref());
            return;
        };
        let side = self.c.side();
        self.inner.remove_peer(self.id);
        self.inner.elections.closed(&host, self.id, side);
        // Requests routed here while the connection was ending go elsewhere too.
        let mut pending = pending;
        self.cmd_rx.close();
        while let Ok(cmd) = self.cmd_rx.try_recv() {
            pending.extend(Waiting::from_command(cmd).map(|(w, _)| w));
        }
        if !pending.is_empty() {
            self.inner.event(Event::Failover {
                host: host.clone(),
                requests: pending.len(),
            });
            fail_over(&self.inner, pending, Some(&host));
        }
        if let Some(cb) = &self.inner.callbacks {
            cb.peer_down(&host);
        }
        tracing::info!(peer = %host, %reason, "peer down");
        self.inner.event(Event::PeerDown { host, reason });
    }
}
