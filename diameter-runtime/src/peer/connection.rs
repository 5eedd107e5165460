//! One transport connection to a peer as a sans-IO state machine: bytes and timeouts in,
//! bytes to send, events and the next deadline out (the shape of quinn-proto's
//! `Connection`). It owns what RFC 6733 and RFC 3539 ask of a connection: framing checks,
//! the capabilities exchange, the watchdog, DWR/DWA, DPR/DPA, the requests waiting for an
//! answer with their deadlines, and the answers the base protocol gives by itself (DWA, DPA,
//! 5015/5011 before closing an unframeable stream, 3008 for bad header bits, a CEA refusing a
//! malformed CER with its Failed-AVP). What the connection cannot decide alone — the election
//! between two connections to one peer, routing, handlers — it hands out as [`Event`]s.
//!
//! No clock is read and no I/O is done here: the caller passes `now`, writes what
//! [`Connection::poll_transmit`] gives, and calls [`Connection::handle_timeout`] at
//! [`Connection::poll_timeout`].
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use diameter_runtime::peer::{Capabilities, Connection, ConnectionConfig, Side};
//!
//! let caps = Arc::new(Capabilities::new("a.example.net", "example.net"));
//! let now = Instant::now();
//! let mut c: Connection<()> =
//!     Connection::new(Side::Initiator, caps, ConnectionConfig::default(), now, (1, 1));
//! let cer = c.poll_transmit().expect("the initiator sends its CER at once");
//! assert_eq!(&cer[5..8], &[0, 1, 1]); // command 257
//! assert!(c.poll_timeout().is_some()); // the CEA is awaited
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::stats::{CommandTally, Counters};
use super::{
    negotiate, AppId, Capabilities, PeerInfo, Refusal, Side, Watchdog, WatchdogConfig,
    WatchdogState,
};
use crate::base::{
    avp, CapabilitiesExchangeAnswer, CapabilitiesExchangeRequest, DeviceWatchdogAnswer,
    DeviceWatchdogRequest, DisconnectCause, DisconnectPeerAnswer, DisconnectPeerRequest, FailedAvp,
    ResultCode,
};
use crate::codec::avp::AvpReader;
use crate::codec::{CommandFlags, DecodeError, FrameError, Framer, Header, Message, HEADER_LEN};
use crate::dictionary::Dictionary;

/// Command codes of the base protocol.
pub mod command {
    /// Capabilities-Exchange.
    pub const CAPABILITIES_EXCHANGE: u32 = 257;
    /// Device-Watchdog.
    pub const DEVICE_WATCHDOG: u32 = 280;
    /// Disconnect-Peer.
    pub const DISCONNECT_PEER: u32 = 282;
}

/// What a connection tolerates and how long it waits.
#[derive(Clone, Debug)]
pub struct ConnectionConfig {
    /// Largest message accepted (a longer one is answered 5015 and the connection closed).
    pub max_message_len: usize,
    /// From the connection's start to the end of the capabilities exchange.
    pub cer_timeout: Duration,
    /// How long one message may take to arrive whole.
    pub frame_timeout: Duration,
    /// How long a DPA is awaited after our DPR.
    pub dpa_timeout: Duration,
    /// The RFC 3539 watchdog.
    pub watchdog: WatchdogConfig,
    /// Origin-Hosts accepted in a CER (others get 3010); `None` accepts any.
    pub allowed_hosts: Option<Vec<String>>,
    /// Dictionaries the base protocol messages are also checked against (their strictness
    /// applies: with a strict M bit, an unknown M-bit AVP in a CER is refused with 5001).
    pub dictionary: Option<Arc<Dictionary>>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            max_message_len: crate::codec::message::DEFAULT_MAX_MESSAGE_LEN,
            cer_timeout: Duration::from_secs(10),
            frame_timeout: Duration::from_secs(10),
            dpa_timeout: Duration::from_secs(2),
            watchdog: WatchdogConfig::default(),
            allowed_hosts: None,
            dictionary: None,
        }
    }
}

/// How a connection ended, for the reconnect policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Reconnect after Tc.
    Closed,
    /// The peer sent DPR with BUSY or DO_NOT_WANT_TO_TALK_TO_YOU (RFC 6733 §5.4.3).
    DoNotReconnect,
}

/// Where the connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Responder: waiting for the peer's CER.
    WaitCer,
    /// Responder: a valid CER came; waiting for [`Connection::accept`] or
    /// [`Connection::refuse`].
    WaitDecision,
    /// Initiator: our CER is out; waiting for the CEA.
    WaitCea,
    /// Capabilities exchanged: messages flow.
    Open,
    /// Our DPR is out; waiting for the DPA.
    Closing,
    /// Done; nothing more is read or sent.
    Closed,
}

/// A request received from the peer, parsed once: the header and where the AVPs that routing,
/// duplicate detection and handlers look for lie in the frame.
#[derive(Clone, Debug)]
pub struct Received {
    /// The header.
    pub header: Header,
    /// The whole message.
    pub frame: Bytes,
    session_id: Option<(u32, u32)>,
    origin_host: Option<(u32, u32)>,
    destination_host: Option<(u32, u32)>,
    destination_realm: Option<(u32, u32)>,
}

impl Received {
    /// Indexes the top-level AVPs of a frame (stopping at the first malformed one).
    pub fn new(header: Header, frame: Bytes) -> Received {
        let mut r = Received {
            header,
            frame,
            session_id: None,
            origin_host: None,
            destination_host: None,
            destination_realm: None,
        };
        for a in AvpReader::within(&r.frame, HEADER_LEN, r.frame.len()) {
            let Ok(a) = a else { break };
            let span = Some((a.start as u32, a.end as u32));
            match a.id() {
                avp::SESSION_ID if r.session_id.is_none() => r.session_id = span,
                avp::ORIGIN_HOST if r.origin_host.is_none() => r.origin_host = span,
                avp::DESTINATION_HOST if r.destination_host.is_none() => r.destination_host = span,
                avp::DESTINATION_REALM if r.destination_realm.is_none() => {
                    r.destination_realm = span
                }
                _ => {}
            }
        }
        r
    }

    fn get(&self, span: Option<(u32, u32)>) -> Option<&[u8]> {
        span.map(|(s, e)| &self.frame[s as usize..e as usize])
    }

    /// The first Session-Id's data.
    pub fn session_id(&self) -> Option<&[u8]> {
        self.get(self.session_id)
    }

    /// The first Origin-Host's data.
    pub fn origin_host(&self) -> Option<&[u8]> {
        self.get(self.origin_host)
    }

    /// Where the first Origin-Host's data is in the frame (start, end), for the node's
    /// duplicate cache.
    #[cfg(feature = "node")]
    pub(crate) fn origin_host_span(&self) -> Option<(u32, u32)> {
        self.origin_host
    }

    /// The first Destination-Host's data.
    pub fn destination_host(&self) -> Option<&[u8]> {
        self.get(self.destination_host)
    }

    /// The first Destination-Realm's data.
    pub fn destination_realm(&self) -> Option<&[u8]> {
        self.get(self.destination_realm)
    }
}

/// What happened, for the caller to act on. `W` is what the caller attached to each request
/// it sent (who waits for the answer).
#[derive(Debug)]
pub enum Event<W> {
    /// Responder: the peer's CER is valid and shares applications with us; answer with
    /// [`Connection::accept`] or [`Connection::refuse`] (the election, RFC 6733 §5.6.4).
    CapabilitiesRequest {
        /// Who the peer says it is.
        peer: PeerInfo,
        /// The applications both sides support.
        common: Vec<AppId>,
    },
    /// The capabilities exchange succeeded.
    Open {
        /// The peer.
        peer: PeerInfo,
        /// The applications both sides support.
        common: Vec<AppId>,
    },
    /// The exchange failed: the peer's CEA refused us, or we refused its CER.
    Refused {
        /// The Result-Code.
        result_code: u32,
        /// Why.
        reason: String,
    },
    /// A request for the application layer (not the base protocol's own).
    Request(Received),
    /// The answer to a request sent with [`Connection::send_request`].
    Answer {
        /// What was attached to the request.
        waiter: W,
        /// The answer.
        frame: Bytes,
        /// Its Result-Code class: 0 for 1xxx … 4 for 5xxx, 5 for none or other.
        class: usize,
    },
    /// An answer nobody waits for (late, or for another connection's request).
    Unsolicited(Bytes),
    /// A request got no answer by its deadline; it is no longer waited for here.
    TimedOut(W),
    /// The watchdog found the peer unresponsive: these requests should go elsewhere.
    Failover(Vec<W>),
    /// The watchdog state changed.
    Watchdog(WatchdogState),
    /// The connection is over. Requests still waiting are handed back for failover.
    Closed {
        /// Why.
        reason: String,
        /// Whether the peer may be reconnected.
        outcome: Outcome,
        /// Requests that were waiting for an answer.
        pending: Vec<W>,
    },
}

struct Waiting<W> {
    waiter: W,
    deadline: Instant,
    end_to_end: u32,
}

/// The state machine of one connection; see the module documentation.
pub struct Connection<W> {
    side: Side,
    caps: Arc<Capabilities>,
    config: ConnectionConfig,
    phase: Phase,
    framer: Framer,
    buf: BytesMut,
    out: VecDeque<Bytes>,
    events: VecDeque<Event<W>>,
    watchdog: Watchdog,
    pending: HashMap<u32, Waiting<W>>,
    /// When the earliest pending deadline may be due.
    sweep_at: Option<Instant>,
    /// The CER or DPA deadline.
    deadline: Option<Instant>,
    /// Slow senders: the framer's progress when a partial message was first seen.
    stall: Option<(u64, Instant)>,
    hop_by_hop: u32,
    end_to_end: u32,
    /// The CER being decided, to answer it.
    cer: Option<Header>,
    peer: Option<PeerInfo>,
    common: Vec<AppId>,
    counters: Arc<Counters>,
    /// Per-command counts not yet added to `counters`.
    tally: CommandTally,
}

impl<W> Connection<W> {
    /// A new connection at `now`. `ids` seeds the Hop-by-Hop and End-to-End ids of the
    /// connection's own requests (CER, DWR, DPR). The initiator's CER is queued at once.
    pub fn new(
        side: Side,
        caps: Arc<Capabilities>,
        config: ConnectionConfig,
        now: Instant,
        ids: (u32, u32),
    ) -> Self {
        let seed = ((ids.0 as u64) << 32 | ids.1 as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut c = Connection {
            side,
            phase: match side {
                Side::Initiator => Phase::WaitCea,
                Side::Responder => Phase::WaitCer,
            },
            framer: Framer::new(config.max_message_len),
            watchdog: Watchdog::new(config.watchdog, seed),
            deadline: Some(super::later(now, config.cer_timeout)),
            caps,
            config,
            buf: BytesMut::with_capacity(8 * 1024),
            out: VecDeque::new(),
            events: VecDeque::new(),
            pending: HashMap::new(),
            sweep_at: None,
            stall: None,
            hop_by_hop: ids.0,
            end_to_end: ids.1,
            cer: None,
            peer: None,
            common: Vec::new(),
            counters: Arc::new(Counters::default()),
            tally: CommandTally::default(),
        };
        if side == Side::Initiator {
            let (h, e) = c.next_ids();
            let cer = c.caps.cer().encode(h, e);
            c.transmit(cer);
        }
        c
    }

    /// Which side opened the connection.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Where the connection is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The peer, once its CER or CEA was read.
    pub fn peer(&self) -> Option<&PeerInfo> {
        self.peer.as_ref()
    }

    /// The applications both sides support (empty before the exchange).
    pub fn common_applications(&self) -> &[AppId] {
        &self.common
    }

    /// The watchdog state.
    pub fn watchdog_state(&self) -> WatchdogState {
        self.watchdog.state()
    }

    /// Whether requests may be sent: open, and the watchdog in OKAY.
    pub fn is_usable(&self) -> bool {
        self.phase == Phase::Open && self.watchdog.is_okay()
    }

    /// The counters of this connection (shared with whoever reports statistics). The
    /// per-command counts are added once per batch: when [`Connection::handle_buffered`]
    /// (or [`Connection::handle_input`]) returns and when [`Connection::poll_transmit`]
    /// has nothing more.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// How many requests wait for their answer.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    fn next_ids(&mut self) -> (u32, u32) {
        let ids = (self.hop_by_hop, self.end_to_end);
        self.hop_by_hop = self.hop_by_hop.wrapping_add(1);
        self.end_to_end = self.end_to_end.wrapping_add(1);
        ids
    }

    fn transmit(&mut self, b: Bytes) {
        if self.phase != Phase::Closed {
            self.tally.sent(&b);
            self.out.push_back(b);
        }
    }

    /// The next bytes to write, in order. Once all is taken, the per-command counts of what
    /// was sent are published to [`Connection::counters`].
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        let b = self.out.pop_front();
        if b.is_none() {
            self.tally.publish(&self.counters);
        }
        b
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event<W>> {
        self.events.pop_front()
    }

    /// When [`Connection::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase == Phase::Closed {
            return None;
        }
        let mut t = self.deadline;
        let mut min = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        min(self.sweep_at);
        min(self
            .stall
            .map(|(_, since)| since + self.config.frame_timeout));
        if matches!(self.phase, Phase::Open | Phase::Closing) {
            min(self.watchdog.poll_timeout());
        }
        t
    }

    /// Bytes read from the peer at `now`.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.phase == Phase::Closed {
            return;
        }
        self.buf.extend_from_slice(data);
        self.handle_buffered(now);
    }

    /// The buffer of bytes received and not yet framed: a driver may read from its socket
    /// straight into it (no copy) and then call [`Connection::handle_buffered`].
    pub fn input_buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Handles what was appended to [`Connection::input_buffer`], at `now`, then publishes
    /// the per-command counts of what was received to [`Connection::counters`].
    pub fn handle_buffered(&mut self, now: Instant) {
        self.handle_frames(now);
        self.tally.publish(&self.counters);
    }

    fn handle_frames(&mut self, now: Instant) {
        if self.phase == Phase::Closed {
            self.buf.clear();
            return;
        }
        loop {
            match self.framer.next_frame(&mut self.buf) {
                Ok(Some(frame)) => {
                    self.on_frame(now, frame.freeze());
                    if self.phase == Phase::Closed {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    self.on_frame_error(e);
                    return;
                }
            }
        }
        match (self.framer.progress(), self.stall) {
            ((_, false), _) => self.stall = None,
            ((n, true), Some((m, _))) if n == m => {}
            ((n, true), _) => self.stall = Some((n, now)),
        }
    }

    /// The peer closed its side of the stream.
    pub fn handle_eof(&mut self, _now: Instant) {
        let reason = match self.phase {
            Phase::Closing => "disconnected (closed after our DPR)",
            Phase::Open => "connection closed by the peer",
            _ => "connection closed during the capabilities exchange",
        };
        self.close(reason, Outcome::Closed);
    }

    /// The transport failed (a read or write error).
    pub fn handle_error(&mut self, _now: Instant, error: &str) {
        self.close(&format!("transport error: {error}"), Outcome::Closed);
    }

    /// Time has passed: deadlines, the watchdog, slow senders.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Closed {
            return;
        }
        if self.deadline.is_some_and(|d| now >= d) {
            let why = match self.phase {
                Phase::Closing => "no DPA".to_string(),
                _ => format!(
                    "no capabilities exchange within {:?}",
                    self.config.cer_timeout
                ),
            };
            self.close(&why, Outcome::Closed);
            return;
        }
        if let Some((_, since)) = self.stall {
            if now >= since + self.config.frame_timeout {
                let why = format!(
                    "a message not received whole within {:?}",
                    self.config.frame_timeout
                );
                self.close(&why, Outcome::Closed);
                return;
            }
        }
        if self.sweep_at.is_some_and(|t| now >= t) {
            self.sweep(now);
        }
        if matches!(self.phase, Phase::Open | Phase::Closing)
            && self.watchdog.poll_timeout().is_some_and(|t| now >= t)
        {
            let before = self.watchdog.state();
            let actions = self.watchdog.on_timeout(now);
            self.watchdog_actions(actions);
            self.watchdog_changed(before);
        }
    }

    fn sweep(&mut self, now: Instant) {
        let expired: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, w)| w.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            if let Some(w) = self.pending.remove(&k) {
                self.counters.timeouts.fetch_add(1, rel());
                self.counters.outstanding.fetch_sub(1, rel());
                self.events.push_back(Event::TimedOut(w.waiter));
            }
        }
        self.sweep_at = self.pending.values().map(|w| w.deadline).min();
    }

    fn watchdog_actions(&mut self, actions: Vec<super::Action>) {
        for a in actions {
            match a {
                super::Action::SendWatchdog => {
                    let (h, e) = self.next_ids();
                    let dwr = DeviceWatchdogRequest {
                        origin_host: self.caps.origin_host.clone(),
                        origin_realm: self.caps.origin_realm.clone(),
                        origin_state_id: self.caps.origin_state_id,
                        avps: Vec::new(),
                    };
                    self.transmit(dwr.encode(h, e));
                }
                super::Action::Failover => {
                    let waiters = self.drain_pending();
                    self.counters
                        .failed_over
                        .fetch_add(waiters.len() as u64, rel());
                    self.events.push_back(Event::Failover(waiters));
                }
                super::Action::CloseConnection => {
                    self.close("watchdog: peer unresponsive", Outcome::Closed);
                }
                super::Action::Failback | super::Action::AttemptOpen => {}
            }
        }
    }

    fn watchdog_changed(&mut self, before: WatchdogState) {
        let now = self.watchdog.state();
        if now != before && self.phase != Phase::Closed {
            self.events.push_back(Event::Watchdog(now));
        }
    }

    fn drain_pending(&mut self) -> Vec<W> {
        let n = self.pending.len() as u64;
        self.counters.outstanding.fetch_sub(n, rel());
        self.sweep_at = None;
        self.pending.drain().map(|(_, w)| w.waiter).collect()
    }

    /// Sends a request (its Hop-by-Hop and End-to-End ids already set) and waits for its
    /// answer until `deadline`. Refused, handing `waiter` back, unless the connection is open
    /// and its watchdog in OKAY.
    pub fn send_request(&mut self, bytes: Bytes, deadline: Instant, waiter: W) -> Result<(), W> {
        if !self.is_usable() || bytes.len() < HEADER_LEN {
            return Err(waiter);
        }
        let hop_by_hop = u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
        let end_to_end = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
        if let Some(old) = self.pending.insert(
            hop_by_hop,
            Waiting {
                waiter,
                deadline,
                end_to_end,
            },
        ) {
            // The caller reused an id still waited for: the older request is timed out.
            self.counters.outstanding.fetch_sub(1, rel());
            self.events.push_back(Event::TimedOut(old.waiter));
        }
        self.sweep_at = Some(self.sweep_at.map_or(deadline, |t| t.min(deadline)));
        self.counters.requests_sent.fetch_add(1, rel());
        self.transmit(bytes);
        Ok(())
    }

    /// Sends a message that needs no tracking (an answer to a request of the peer).
    pub fn send(&mut self, bytes: Bytes) {
        if matches!(self.phase, Phase::Open | Phase::Closing) {
            self.transmit(bytes);
        }
    }

    /// Responder: accepts the CER announced by [`Event::CapabilitiesRequest`] (CEA 2001).
    pub fn accept(&mut self, now: Instant) {
        if self.phase != Phase::WaitDecision {
            return;
        }
        let Some(h) = self.cer.take() else { return };
        let cea = self.caps.cea(ResultCode::DIAMETER_SUCCESS, None);
        self.transmit(cea.encode(h.hop_by_hop, h.end_to_end));
        self.open(now);
    }

    /// Responder: refuses the CER announced by [`Event::CapabilitiesRequest`] (4003 after a
    /// lost election, say) and closes.
    pub fn refuse(&mut self, result_code: u32, reason: &str) {
        if self.phase != Phase::WaitDecision {
            return;
        }
        let refusal = Refusal {
            result_code: ResultCode(result_code),
            reason: reason.to_string(),
            failed_avp: None,
        };
        self.refuse_cer(refusal);
    }

    /// Sends DPR with `cause` and waits for the DPA (then, or at the DPA timeout, closes).
    pub fn disconnect(&mut self, now: Instant, cause: DisconnectCause) {
        if self.phase != Phase::Open {
            if self.phase != Phase::Closing {
                self.close(
                    "disconnected before the capabilities exchange",
                    Outcome::Closed,
                );
            }
            return;
        }
        let (h, e) = self.next_ids();
        let dpr = DisconnectPeerRequest {
            origin_host: self.caps.origin_host.clone(),
            origin_realm: self.caps.origin_realm.clone(),
            disconnect_cause: cause,
            avps: Vec::new(),
        };
        self.transmit(dpr.encode(h, e));
        self.phase = Phase::Closing;
        self.deadline = Some(super::later(now, self.config.dpa_timeout));
    }

    /// Ends the connection at once (no DPR), for this reason.
    pub fn close(&mut self, reason: &str, outcome: Outcome) {
        if self.phase == Phase::Closed {
            return;
        }
        self.phase = Phase::Closed;
        self.deadline = None;
        self.stall = None;
        self.tally.publish(&self.counters);
        let pending = self.drain_pending();
        self.events.push_back(Event::Closed {
            reason: reason.to_string(),
            outcome,
            pending,
        });
    }

    fn open(&mut self, now: Instant) {
        self.phase = Phase::Open;
        self.deadline = None;
        let actions = self.watchdog.on_connection_up(now);
        self.watchdog_actions(actions);
        if let Some(peer) = self.peer.clone() {
            self.events.push_back(Event::Open {
                peer,
                common: self.common.clone(),
            });
        }
    }

    fn on_frame_error(&mut self, e: FrameError) {
        if e.header[4] & CommandFlags::REQUEST.bits() != 0 {
            let a = self.error_answer(&Header::peek(&e.header), None, &e.error);
            // Sent even before the exchange: the peer learns why it is dropped.
            self.transmit(a);
        }
        self.close(&format!("unframeable header: {}", e.error), Outcome::Closed);
    }

    /// The error answer to a request: its command and identifiers, the E bit for 3xxx,
    /// Failed-AVP from the error, and — for commands other than the base protocol's own,
    /// which have none — Session-Id and Proxy-Info copied from `frame`.
    fn error_answer(&self, req: &Header, frame: Option<&Bytes>, e: &DecodeError) -> Bytes {
        let base = matches!(
            req.command_code,
            command::CAPABILITIES_EXCHANGE | command::DEVICE_WATCHDOG | command::DISCONNECT_PEER
        );
        let copied = match frame {
            Some(f) if !base => f.clone(),
            _ => Bytes::new(),
        };
        let rc = ResultCode(e.result_code());
        crate::app::answer_skeleton(
            req,
            &copied,
            &self.caps,
            rc,
            e.failed_avp(),
            Some(e.detail()),
        )
        .encode()
    }

    /// A base protocol message checked against the dictionaries, when configured.
    fn check_base(&self, frame: &Bytes) -> Result<(), DecodeError> {
        match &self.config.dictionary {
            Some(d) => d.validate(frame).map(drop),
            None => Ok(()),
        }
    }

    fn on_frame(&mut self, now: Instant, frame: Bytes) {
        let class = self.tally.received(&frame);
        let header = match Header::parse(&frame) {
            Ok(h) => h,
            Err(e) => {
                // Bad header bits (3008): a request is answered with its own identifiers.
                if frame[4] & CommandFlags::REQUEST.bits() != 0 && self.phase == Phase::Open {
                    let raw = Header::peek(&frame);
                    let a = self.error_answer(&raw, Some(&frame), &e);
                    self.transmit(a);
                } else if self.phase != Phase::Open {
                    self.close(&format!("bad header: {e}"), Outcome::Closed);
                }
                return;
            }
        };
        match self.phase {
            Phase::WaitCer => self.on_cer(header, frame),
            Phase::WaitCea => self.on_cea(now, header, frame),
            Phase::WaitDecision => {
                self.close("a message before our CEA", Outcome::Closed);
            }
            Phase::Open | Phase::Closing => {
                if header.flags.is_request() {
                    self.on_request(now, header, frame);
                } else {
                    self.on_answer(now, header, frame, class.unwrap_or(5));
                }
            }
            Phase::Closed => {}
        }
    }

    fn on_cer(&mut self, header: Header, frame: Bytes) {
        if header.command_code != command::CAPABILITIES_EXCHANGE || !header.flags.is_request() {
            // Only a CER opens a connection (RFC 6733 §5.6: no other event in Wait-CER).
            self.close(
                &format!(
                    "command {} before the capabilities exchange",
                    header.command_code
                ),
                Outcome::Closed,
            );
            return;
        }
        self.cer = Some(header);
        let refusal = |e: DecodeError| Refusal {
            result_code: ResultCode(e.result_code()),
            reason: e.to_string(),
            failed_avp: e.failed_avp().cloned(),
        };
        let checked = self
            .check_base(&frame)
            .map_err(refusal)
            .and_then(|()| CapabilitiesExchangeRequest::decode(frame).map_err(refusal));
        let cer = match checked {
            Ok((_, cer)) => cer,
            Err(r) => return self.refuse_cer(r),
        };
        let peer = PeerInfo::from_cer(&cer);
        if let Some(allowed) = &self.config.allowed_hosts {
            if !allowed.iter().any(|h| h == peer.origin_host.as_str()) {
                let r = Refusal {
                    result_code: ResultCode::DIAMETER_UNKNOWN_PEER,
                    reason: format!("{} is not an allowed peer", peer.origin_host),
                    failed_avp: None,
                };
                self.peer = Some(peer);
                return self.refuse_cer(r);
            }
        }
        match negotiate(&self.caps, &peer) {
            Ok(common) => {
                self.common = common.clone();
                self.peer = Some(peer.clone());
                self.phase = Phase::WaitDecision;
                self.events
                    .push_back(Event::CapabilitiesRequest { peer, common });
            }
            Err(r) => {
                self.peer = Some(peer);
                self.refuse_cer(r);
            }
        }
    }

    fn refuse_cer(&mut self, r: Refusal) {
        let Some(h) = self.cer.take() else {
            self.close(&r.reason, Outcome::Closed);
            return;
        };
        let mut cea = self.caps.cea(r.result_code, Some(&r.reason));
        cea.failed_avp = r.failed_avp.clone().map(|a| FailedAvp { avps: vec![a] });
        let mut header = cea.header(h.hop_by_hop, h.end_to_end);
        if (3000..4000).contains(&r.result_code.0) {
            header.flags = header.flags.with(CommandFlags::ERROR);
        }
        let mut out = BytesMut::new();
        cea.encode_with_header(&header, &mut out);
        self.transmit(out.freeze());
        self.events.push_back(Event::Refused {
            result_code: r.result_code.0,
            reason: r.reason.clone(),
        });
        self.close(
            &format!("capabilities exchange refused: {}", r.reason),
            Outcome::Closed,
        );
    }

    fn on_cea(&mut self, now: Instant, header: Header, frame: Bytes) {
        if header.command_code != command::CAPABILITIES_EXCHANGE || header.flags.is_request() {
            self.close(
                &format!("command {} instead of a CEA", header.command_code),
                Outcome::Closed,
            );
            return;
        }
        let cea = match self
            .check_base(&frame)
            .and_then(|()| CapabilitiesExchangeAnswer::decode(frame))
        {
            Ok((_, cea)) => cea,
            Err(e) => {
                self.close(&format!("malformed CEA: {e}"), Outcome::Closed);
                return;
            }
        };
        let peer = PeerInfo::from_cea(&cea);
        self.peer = Some(peer.clone());
        if cea.result_code != ResultCode::DIAMETER_SUCCESS {
            let reason = format!(
                "{} refused the capabilities exchange: {}",
                peer.origin_host,
                cea.error_message
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_default()
            );
            self.events.push_back(Event::Refused {
                result_code: cea.result_code.0,
                reason: reason.clone(),
            });
            self.close(&reason, Outcome::Closed);
            return;
        }
        match negotiate(&self.caps, &peer) {
            Ok(common) => {
                self.common = common;
                self.open(now);
            }
            Err(r) => {
                self.events.push_back(Event::Refused {
                    result_code: r.result_code.0,
                    reason: r.reason.clone(),
                });
                self.close(&r.reason, Outcome::Closed);
            }
        }
    }

    fn on_request(&mut self, now: Instant, header: Header, frame: Bytes) {
        let before = self.watchdog.state();
        let actions = self.watchdog.on_other_message(now);
        self.watchdog_actions(actions);
        self.watchdog_changed(before);
        match header.command_code {
            command::DEVICE_WATCHDOG => {
                let checked = self
                    .check_base(&frame)
                    .and_then(|()| DeviceWatchdogRequest::decode_from(&frame).map(drop));
                let answer = match checked {
                    Err(e) => self.error_answer(&header, None, &e),
                    Ok(()) => DeviceWatchdogAnswer {
                        result_code: ResultCode::DIAMETER_SUCCESS,
                        origin_host: self.caps.origin_host.clone(),
                        origin_realm: self.caps.origin_realm.clone(),
                        error_message: None,
                        failed_avp: None,
                        origin_state_id: self.caps.origin_state_id,
                        avps: Vec::new(),
                    }
                    .encode(header.hop_by_hop, header.end_to_end),
                };
                self.transmit(answer);
            }
            command::DISCONNECT_PEER => {
                let checked = self
                    .check_base(&frame)
                    .and_then(|()| DisconnectPeerRequest::decode_from(&frame));
                let cause = match checked {
                    Ok((_, d)) => d.disconnect_cause,
                    Err(e) => {
                        // A malformed DPR is refused; the connection stays.
                        let a = self.error_answer(&header, None, &e);
                        self.transmit(a);
                        return;
                    }
                };
                let dpa = DisconnectPeerAnswer {
                    result_code: ResultCode::DIAMETER_SUCCESS,
                    origin_host: self.caps.origin_host.clone(),
                    origin_realm: self.caps.origin_realm.clone(),
                    error_message: None,
                    failed_avp: None,
                    avps: Vec::new(),
                };
                self.transmit(dpa.encode(header.hop_by_hop, header.end_to_end));
                let outcome = match cause {
                    DisconnectCause::Busy | DisconnectCause::DoNotWantToTalkToYou => {
                        Outcome::DoNotReconnect
                    }
                    _ => Outcome::Closed,
                };
                self.close(&format!("disconnected by the peer ({cause:?})"), outcome);
            }
            command::CAPABILITIES_EXCHANGE => {
                // A CER on an open connection is not expected.
                let e = DecodeError::new(
                    ResultCode::DIAMETER_UNABLE_TO_COMPLY.0,
                    "capabilities already exchanged",
                );
                let a = self.error_answer(&header, None, &e);
                self.transmit(a);
            }
            _ => {
                self.counters.requests_received.fetch_add(1, rel());
                self.events
                    .push_back(Event::Request(Received::new(header, frame)));
            }
        }
    }

    fn on_answer(&mut self, now: Instant, header: Header, frame: Bytes, class: usize) {
        let before = self.watchdog.state();
        match header.command_code {
            command::DEVICE_WATCHDOG => {
                // A malformed DWA still shows the peer is alive; it is reported, not used.
                if let Err(e) = DeviceWatchdogAnswer::decode_from(&frame) {
                    tracing::warn!("malformed DWA: {e}");
                }
                let actions = self.watchdog.on_dwa(now);
                self.watchdog_actions(actions);
            }
            command::DISCONNECT_PEER => {
                if let Err(e) = DisconnectPeerAnswer::decode(frame) {
                    tracing::warn!("malformed DPA: {e}");
                }
                self.close("disconnected (DPA received)", Outcome::Closed);
                return;
            }
            _ => {
                let actions = self.watchdog.on_other_message(now);
                self.watchdog_actions(actions);
                // Matched on hop-by-hop id, end-to-end id and this connection.
                let ours = self
                    .pending
                    .get(&header.hop_by_hop)
                    .is_some_and(|w| w.end_to_end == header.end_to_end);
                match ours
                    .then(|| self.pending.remove(&header.hop_by_hop))
                    .flatten()
                {
                    Some(w) => {
                        self.counters.answered(class);
                        self.events.push_back(Event::Answer {
                            waiter: w.waiter,
                            frame,
                            class,
                        });
                    }
                    None => self.events.push_back(Event::Unsolicited(frame)),
                }
            }
        }
        self.watchdog_changed(before);
    }
}

fn rel() -> std::sync::atomic::Ordering {
    std::sync::atomic::Ordering::Relaxed
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
