//! A tokio Diameter node: listeners and connectors, capabilities exchange, the RFC 3539
//! watchdog, DWR/DPR handling, request routing with answers matched by hop-by-hop id, and
//! handlers for incoming requests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), diameter_runtime::node::Error> {
//! use diameter_runtime::node::{Node, Reply, Request};
//! use diameter_runtime::base::ResultCode;
//!
//! let server = Node::builder()
//!     .origin_host("server.example.net")
//!     .origin_realm("example.net")
//!     .auth_application(4)
//!     .listen("127.0.0.1:3868")
//!     .handler(|req: Request| async move {
//!         let answer = req.generate_answer(ResultCode::DIAMETER_SUCCESS);
//!         Reply::Answer(answer.encode())
//!     })
//!     .start()
//!     .await?;
//! let client = Node::builder()
//!     .origin_host("client.example.net")
//!     .origin_realm("example.net")
//!     .auth_application(4)
//!     .peer("aaa://127.0.0.1:3868;transport=tcp")
//!     .start()
//!     .await?;
//! client.wait_for_ready(4, std::time::Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```

mod conn;
mod dup;
mod forward;
mod incoming;
pub(crate) use crate::peer::stats::Counters;
pub use crate::peer::stats::{result_code, CommandStats, PeerStats};
mod election;
mod error;

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, oneshot, watch, Semaphore};

pub use error::{Error, ErrorKind};

use crate::base::{DisconnectCause, RedirectHostUsage, ResultCode};
use crate::codec::avp::AvpReader;
use crate::codec::dynamic;
use crate::codec::{
    AvpFlags, CommandFlags, DecodeError, DiameterIdentity, DiameterUri, Header, RawAvp,
};
use crate::codec::{Message, HEADER_LEN};
use crate::peer::{AppId, Capabilities, PeerInfo, WatchdogConfig, WatchdogState};

/// A boxed future, as handlers return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a handler does with a request.
#[derive(Debug)]
pub enum Reply {
    /// Send these bytes (an encoded answer) back.
    Answer(Bytes),
    /// Send nothing.
    Discard,
}

/// Answers requests of the applications the node advertises.
pub trait Handler: Send + Sync + 'static {
    /// Handles one request. A handler that panics is answered 5012 (UNABLE_TO_COMPLY).
    fn handle(&self, request: Request) -> BoxFuture<Reply>;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    fn handle(&self, request: Request) -> BoxFuture<Reply> {
        Box::pin(self(request))
    }
}

/// What [`Callbacks::handle_request`] decides for a request (Erlang diameter's
/// `handle_request` return values).
#[derive(Debug)]
pub enum Action {
    /// Send this encoded answer (see [`Request::answer`]).
    Reply(Bytes),
    /// A protocol error (3xxx): the answer-message grammar with the `E` bit.
    ProtocolError(ResultCode),
    /// An error answer (5xxx …) with an optional Failed-AVP.
    AnswerMessage(ResultCode, Option<RawAvp>),
    /// Forward as a relay: Route-Record added, loops answered 3005.
    Relay,
    /// Forward as a proxy (like a relay; AVPs we do not know pass byte-exact).
    Proxy,
    /// Send nothing.
    Discard,
}

/// The callbacks of Erlang/OTP diameter's `diameter_app`, for applications that want the
/// whole request and answer flow. Every method but `handle_request` has a default.
pub trait Callbacks: Send + Sync + 'static {
    /// A peer completed the capabilities exchange.
    fn peer_up(&self, _peer: &PeerInfo) {}
    /// A peer's connection closed.
    fn peer_down(&self, _host: &DiameterIdentity) {}
    /// Picks the peer for an outgoing request among the suitable ones (index into
    /// `candidates`); `None` keeps the configured balancing.
    fn pick_peer(&self, _candidates: &[PeerInfo], _request: &Bytes) -> Option<usize> {
        None
    }
    /// Last look at an outgoing request, identifiers set, before it is sent to `peer`;
    /// `None` discards it (the caller gets an error).
    fn prepare_request(&self, request: Bytes, _peer: &PeerInfo) -> Option<Bytes> {
        Some(request)
    }
    /// The same request sent again, with the T flag, to `peer` after a failover or a
    /// retransmission timeout; `None` discards it (the caller gets an error). By default
    /// the same as [`Callbacks::prepare_request`].
    fn prepare_retransmit(&self, request: Bytes, peer: &PeerInfo) -> Option<Bytes> {
        self.prepare_request(request, peer)
    }
    /// An answer to one of our requests, before the caller gets it.
    fn handle_answer(&self, answer: Bytes, _request: &Bytes) -> Bytes {
        answer
    }
    /// One of our requests failed (timeout, no route, peer down, discarded): what the
    /// caller gets instead. The default passes the error on; an answer may replace it.
    fn handle_error(&self, error: Error, _request: &Bytes) -> Result<Bytes, Error> {
        Err(error)
    }
    /// Every message (requests, answers and the base protocol's own), encoded, just before
    /// it is written to the peer with this Origin-Host (`None` during the capabilities
    /// exchange): for logging, capture or accounting (Erlang diameter's `eval_packet`).
    fn sending(&self, _message: &Bytes, _peer: Option<&DiameterIdentity>) {}
    /// An incoming application request.
    fn handle_request(&self, request: Request) -> BoxFuture<Action>;
}

/// A failed service call: the Result-Code (and Error-Message) to answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceError {
    /// The Result-Code; 3xxx codes are sent with the `E` bit.
    pub result_code: u32,
    /// Error-Message, if any.
    pub message: Option<String>,
}

impl ServiceError {
    /// An error answer with this Result-Code.
    pub fn new(result_code: ResultCode) -> Self {
        ServiceError {
            result_code: result_code.0,
            message: None,
        }
    }
    /// With an Error-Message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
    /// The answer to `request` carrying this error.
    pub fn reply(&self, request: &Request) -> Reply {
        Reply::Answer(
            answer_skeleton(
                &request.header,
                &request.bytes,
                &request.local,
                ResultCode(self.result_code),
                None,
                self.message.as_deref(),
            )
            .encode(),
        )
    }
}

/// What a generated service method returns.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// The 3001 (DIAMETER_COMMAND_UNSUPPORTED) answer, for a command a service does not have.
pub fn unsupported_command(request: &Request) -> Reply {
    ServiceError::new(ResultCode::DIAMETER_COMMAND_UNSUPPORTED).reply(request)
}

/// An incoming request, with what is needed to answer it.
#[derive(Clone, Debug)]
pub struct Request {
    header: Header,
    bytes: Bytes,
    peer: DiameterIdentity,
    local: Arc<Capabilities>,
}

impl Request {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// The whole message as received.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
    /// Origin-Host of the peer it came from.
    pub fn peer(&self) -> &DiameterIdentity {
        &self.peer
    }
    /// Decodes it as the typed `T`, checking its grammar.
    pub fn decode<T: Message>(&self) -> Result<T, DecodeError> {
        T::decode(self.bytes.clone()).map(|(_, m)| m)
    }
    /// The dynamic view, every AVP raw.
    pub fn dynamic(&self) -> Result<dynamic::Message, DecodeError> {
        dynamic::Message::decode(self.bytes.clone())
    }
    /// Encodes a typed answer with this request's identifiers (and its `P` flag).
    pub fn answer<T: Message>(&self, answer: &T) -> Reply {
        let mut h = answer.header(self.header.hop_by_hop, self.header.end_to_end);
        h.application_id = self.header.application_id;
        let mut out = BytesMut::with_capacity(256);
        answer.encode_with_header(&h, &mut out);
        Reply::Answer(out.freeze())
    }
    /// An answer with Session-Id, Origin-Host, Origin-Realm and Result-Code, Proxy-Info
    /// copied (as python-diameter's `generate_answer`); add AVPs before encoding it.
    pub fn generate_answer(&self, result_code: ResultCode) -> dynamic::Message {
        answer_skeleton(
            &self.header,
            &self.bytes,
            &self.local,
            result_code,
            None,
            None,
        )
    }
    /// The RFC 6733 error answer for a request that failed to decode: 3xxx with the `E` bit,
    /// 5xxx in a normal answer, Failed-AVP from the error.
    pub fn error_answer(&self, err: &DecodeError) -> Reply {
        Reply::Answer(
            answer_skeleton(
                &self.header,
                &self.bytes,
                &self.local,
                ResultCode(err.result_code()),
                err.failed_avp(),
                Some(err.detail()),
            )
            .encode(),
        )
    }
}

/// Builds an answer: Session-Id (if the request has one), Origin-Host, Origin-Realm,
/// Result-Code, Error-Message, Failed-AVP, Proxy-Info copies. 3xxx codes set the `E` bit.
pub(crate) fn answer_skeleton(
    req: &Header,
    bytes: &Bytes,
    local: &Capabilities,
    result_code: ResultCode,
    failed_avp: Option<&RawAvp>,
    error_message: Option<&str>,
) -> dynamic::Message {
    let m = AvpFlags::MANDATORY;
    let mut header = req.answer();
    if (3000..4000).contains(&result_code.0) {
        header.flags = header.flags.with(CommandFlags::ERROR);
    }
    let mut avps = Vec::new();
    let mut proxy = Vec::new();
    if bytes.len() >= HEADER_LEN {
        for a in AvpReader::within(bytes, HEADER_LEN, bytes.len()).flatten() {
            match (a.code, a.vendor_id) {
                (263, 0) if avps.is_empty() => avps.push(dynamic::Avp::from_raw(a.to_raw(bytes))),
                (284, 0) => proxy.push(dynamic::Avp::from_raw(a.to_raw(bytes))),
                _ => {}
            }
        }
    }
    avps.push(dynamic::Avp::new(264, m, 0, &local.origin_host));
    avps.push(dynamic::Avp::new(296, m, 0, &local.origin_realm));
    avps.push(dynamic::Avp::new(268, m, 0, &result_code.0));
    if let Some(msg) = error_message {
        avps.push(dynamic::Avp::new(
            281,
            AvpFlags::NONE,
            0,
            &crate::codec::Utf8String::from(msg),
        ));
    }
    if let Some(f) = failed_avp {
        avps.push(dynamic::Avp::grouped(
            279,
            m,
            0,
            vec![dynamic::Avp::from_raw(f.clone())],
        ));
    }
    avps.extend(proxy);
    dynamic::Message { header, avps }
}

/// `request` with its Destination-Host replaced (or added).
fn with_destination_host(request: &Bytes, host: &str) -> Result<Bytes, Error> {
    let mut m = dynamic::Message::decode(request.clone())?;
    m.avps.retain(|a| !(a.code == 293 && a.vendor_id == 0));
    m.avps.push(dynamic::Avp::new(
        293,
        AvpFlags::MANDATORY,
        0,
        &DiameterIdentity::from(host),
    ));
    Ok(m.encode())
}

/// Something that happened to a peer.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Capabilities were exchanged; the peer is usable.
    PeerUp {
        /// Its Origin-Host.
        host: DiameterIdentity,
        /// The applications both sides support.
        applications: Vec<AppId>,
    },
    /// The connection closed.
    PeerDown {
        /// Its Origin-Host.
        host: DiameterIdentity,
        /// Why.
        reason: String,
    },
    /// The watchdog changed state.
    Watchdog {
        /// The peer.
        host: DiameterIdentity,
        /// The new state.
        state: WatchdogState,
    },
    /// Requests outstanding on a peer that went down or stopped answering were sent to
    /// other peers, with the T flag.
    Failover {
        /// The peer they were sent to first.
        host: DiameterIdentity,
        /// How many.
        requests: usize,
    },
    /// A persistent peer's connection ended or could not be made; the next attempt is in
    /// `after` (Tc, with backoff).
    Reconnecting {
        /// The address connected to.
        addr: String,
        /// The delay before the next attempt.
        after: Duration,
    },
    /// A capabilities exchange failed.
    Refused {
        /// The address of the connection.
        addr: SocketAddr,
        /// The Result-Code.
        result_code: u32,
        /// Why.
        reason: String,
    },
}

/// What a route does with the requests it matches (RFC 6733 §2.7, §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteAction {
    /// Handle here.
    Local,
    /// Forward unchanged but for Route-Record, keeping the end-to-end id.
    Relay,
    /// Forward like a relay (AVPs we do not know pass byte-exact).
    Proxy,
    /// Answer 3006 (DIAMETER_REDIRECT_INDICATION) naming the route's peers.
    Redirect,
}

/// One entry of the realm routing table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination-Realm matched, or `*` for the default route.
    pub realm: String,
    /// Application matched; `None` for any.
    pub application: Option<u32>,
    /// What to do.
    pub action: RouteAction,
    /// Origin-Hosts of the peers to forward to (or to name in a redirect).
    pub peers: Vec<String>,
}

/// Settings beyond the capabilities.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub watchdog: WatchdogConfig,
    pub request_timeout: Duration,
    pub max_message_len: usize,
    pub max_handlers: usize,
    pub queue_len: usize,
    pub allowed_hosts: Option<Vec<String>>,
    pub reconnect: Duration,
    pub routes: Vec<Route>,
    pub balancing: Balancing,
    pub duplicate_cache: usize,
    pub duplicate_lifetime: Duration,
    pub retransmit: Option<(Duration, u32)>,
    /// Redirect-Host-Usage and Redirect-Max-Cache-Time of our 3006 answers.
    pub redirect_usage: (RedirectHostUsage, Duration),
    /// Most requests waiting for their answer on one peer; a full peer takes no more.
    pub max_outstanding: u64,
    /// How long a new connection may take to complete the capabilities exchange.
    pub cer_timeout: Duration,
    /// How long a message may take to arrive whole once its first byte has.
    pub frame_timeout: Duration,
    /// Most accepted connections at once; more are closed at once.
    pub max_connections: usize,
    /// Most accepted connections still in the capabilities exchange; more are closed at once.
    pub max_pending: usize,
}

/// Which peers a request may go to (Erlang diameter's `filter` call option). Applied on top
/// of routing: only peers in OKAY that share the application are ever candidates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// The peer with this Origin-Host.
    Host(String),
    /// Peers of this Origin-Realm.
    Realm(String),
    /// Peers the inner filter refuses.
    Not(Box<Filter>),
    /// Peers every filter accepts.
    All(Vec<Filter>),
    /// Peers some filter accepts.
    Any(Vec<Filter>),
    /// The first filter of the list that accepts any candidate.
    First(Vec<Filter>),
}

impl Filter {
    fn accepts(&self, p: &PeerInfo, all: &[&PeerInfo]) -> bool {
        match self {
            Filter::Host(h) => p.origin_host.as_str() == h,
            Filter::Realm(r) => p.origin_realm.as_str() == r,
            Filter::Not(f) => !f.accepts(p, all),
            Filter::All(fs) => fs.iter().all(|f| f.accepts(p, all)),
            Filter::Any(fs) => fs.iter().any(|f| f.accepts(p, all)),
            Filter::First(fs) => fs
                .iter()
                .find(|f| all.iter().any(|q| f.accepts(q, all)))
                .is_some_and(|f| f.accepts(p, all)),
        }
    }
}

/// The peers a request has been to, and the filter it must obey.
#[derive(Clone, Debug, Default)]
pub(crate) struct Selection {
    pub tried: Vec<DiameterIdentity>,
    pub filter: Option<Arc<Filter>>,
}

/// How [`Inner::dispatch`] treats the identifiers of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Our own request: a new end-to-end id.
    New,
    /// Re-sent after a failover: end-to-end id kept, T flag set (RFC 6733 §5.5.4).
    Failover,
    /// Forwarded by a relay or proxy: end-to-end id kept.
    Relay,
}

pub(crate) enum Command {
    Request {
        /// The request, its Hop-by-Hop id already set.
        bytes: Bytes,
        deadline: tokio::time::Instant,
        reply: oneshot::Sender<Result<Bytes, Error>>,
        /// Peers this request was already sent to (failover never goes back to them), and
        /// its filter.
        sel: Selection,
        /// When the whole request times out; `deadline` is this attempt's.
        overall: tokio::time::Instant,
        /// Retransmissions left after an attempt times out.
        retries: u32,
    },
    Disconnect(DisconnectCause),
    /// Close at once (no DPR), for this reason.
    Close(String),
}

struct PeerEntry {
    info: PeerInfo,
    applications: Vec<AppId>,
    tx: mpsc::Sender<Command>,
    state: watch::Receiver<WatchdogState>,
    conn: u64,
    counters: Arc<Counters>,
}

/// How requests are spread over the peers a route allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Balancing {
    /// In turn.
    #[default]
    RoundRobin,
    /// To the peer with the fewest requests waiting for an answer.
    LeastOutstanding,
}

pub(crate) struct Inner {
    pub caps: Arc<Capabilities>,
    pub config: Config,
    pub handler: Option<Arc<dyn Handler>>,
    peers: Mutex<Vec<PeerEntry>>,
    hop_by_hop: AtomicU32,
    end_to_end: AtomicU32,
    rr: AtomicUsize,
    conn_ids: AtomicU32,
    pub handlers: Arc<Semaphore>,
    pub events: broadcast::Sender<Event>,
    pub shutdown: watch::Sender<bool>,
    changed: tokio::sync::Notify,
    pub dup: Option<dup::DupCache>,
    pub callbacks: Option<Arc<dyn Callbacks>>,
    /// The RFC 6733 peer state machine of every peer.
    pub elections: election::Elections,
    /// Redirects followed, kept as their Redirect-Host-Usage says.
    redirects: Mutex<RedirectCache>,
    /// Whether `redirects` may hold anything (no lock on the request path otherwise).
    redirects_used: std::sync::atomic::AtomicBool,
    /// Applications bound to sets of peers, in the order added.
    pub apps: Vec<Application>,
    /// Dictionaries every request handled here is validated against first.
    pub dictionary: Option<Arc<crate::dictionary::Dictionary>>,
    /// Accepted connections open now, and those of them still in the capabilities exchange.
    pub accepted: AtomicUsize,
    pub opening: AtomicUsize,
}

/// What a cached redirect applies to (RFC 6733 §6.13, Redirect-Host-Usage).
#[derive(Clone, Debug, PartialEq, Eq)]
enum RedirectKey {
    /// ALL_SESSION: this Session-Id.
    Session(Bytes),
    /// ALL_REALM: this Destination-Realm.
    Realm(Bytes),
    /// REALM_AND_APPLICATION.
    RealmApp(Bytes, u32),
    /// ALL_APPLICATION.
    App(u32),
    /// ALL_HOST: requests for this Destination-Host (the host that redirected).
    Host(Bytes),
    /// ALL_USER: this User-Name.
    User(Bytes),
}

/// The AVPs of a request a redirect cache entry may match.
#[derive(Default)]
struct RedirectFacts<'a> {
    app: u32,
    session: Option<&'a [u8]>,
    realm: Option<&'a [u8]>,
    host: Option<&'a [u8]>,
    user: Option<&'a [u8]>,
}

impl<'a> RedirectFacts<'a> {
    fn of(request: &'a Bytes) -> Self {
        let mut f = RedirectFacts {
            app: u32::from_be_bytes([request[8], request[9], request[10], request[11]]),
            ..Default::default()
        };
        for a in AvpReader::within(request, HEADER_LEN, request.len()).flatten() {
            let v = &request[a.start..a.end];
            match (a.code, a.vendor_id) {
                (263, 0) => f.session = Some(v),
                (283, 0) => f.realm = Some(v),
                (293, 0) => f.host = Some(v),
                (1, 0) => f.user = Some(v),
                _ => {}
            }
        }
        f
    }

    fn key(&self, usage: RedirectHostUsage, redirected_by: &[u8]) -> Option<RedirectKey> {
        let b = |v: &[u8]| Bytes::copy_from_slice(v);
        match usage {
            RedirectHostUsage::AllSession => self.session.map(|s| RedirectKey::Session(b(s))),
            RedirectHostUsage::AllRealm => self.realm.map(|r| RedirectKey::Realm(b(r))),
            RedirectHostUsage::RealmAndApplication => {
                self.realm.map(|r| RedirectKey::RealmApp(b(r), self.app))
            }
            RedirectHostUsage::AllApplication => Some(RedirectKey::App(self.app)),
            RedirectHostUsage::AllHost => Some(RedirectKey::Host(b(redirected_by))),
            RedirectHostUsage::AllUser => self.user.map(|u| RedirectKey::User(b(u))),
            _ => None,
        }
    }

    fn matches(&self, key: &RedirectKey) -> bool {
        match key {
            RedirectKey::Session(s) => self.session == Some(&s[..]),
            RedirectKey::Realm(r) => self.realm == Some(&r[..]),
            RedirectKey::RealmApp(r, a) => self.realm == Some(&r[..]) && self.app == *a,
            RedirectKey::App(a) => self.app == *a,
            RedirectKey::Host(h) => self.host == Some(&h[..]),
            RedirectKey::User(u) => self.user == Some(&u[..]),
        }
    }
}

/// Redirects to remember: (what they apply to, the host to use, until when). Bounded; the
/// oldest go first.
#[derive(Default)]
struct RedirectCache {
    entries: VecDeque<(RedirectKey, String, tokio::time::Instant)>,
}

impl RedirectCache {
    const CAPACITY: usize = 10_000;

    fn insert(&mut self, key: RedirectKey, host: String, until: tokio::time::Instant) {
        self.entries.retain(|(k, _, _)| *k != key);
        self.entries.push_back((key, host, until));
        while self.entries.len() > Self::CAPACITY {
            self.entries.pop_front();
        }
    }

    /// The host for `request`, if a live entry matches: the most specific usage first
    /// (session, user, realm and application, realm, application, host).
    fn lookup(&mut self, request: &Bytes) -> Option<String> {
        if self.entries.is_empty() {
            return None;
        }
        let now = tokio::time::Instant::now();
        self.entries.retain(|(_, _, until)| *until > now);
        let facts = RedirectFacts::of(request);
        let rank = |k: &RedirectKey| match k {
            RedirectKey::Session(_) => 0,
            RedirectKey::User(_) => 1,
            RedirectKey::RealmApp(..) => 2,
            RedirectKey::Realm(_) => 3,
            RedirectKey::App(_) => 4,
            RedirectKey::Host(_) => 5,
        };
        self.entries
            .iter()
            .filter(|(k, _, _)| facts.matches(k))
            .min_by_key(|(k, _, _)| rank(k))
            .map(|(_, h, _)| h.clone())
    }
}

/// Most answer bytes the duplicate cache holds, whatever its entry count.
const DUPLICATE_CACHE_BYTES: usize = 16 << 20;

impl Inner {
    pub(crate) fn next_hop_by_hop(&self) -> u32 {
        self.hop_by_hop.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn next_end_to_end(&self) -> u32 {
        self.end_to_end.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn event(&self, e: Event) {
        tracing::debug!(event = ?e);
        let _ = self.events.send(e);
    }

    /// Registers an open connection; returns false if the peer already has one we keep
    /// (the election is lost by the newcomer).
    pub(crate) fn add_peer(
        &self,
        info: PeerInfo,
        applications: Vec<AppId>,
        tx: mpsc::Sender<Command>,
        state: watch::Receiver<WatchdogState>,
        conn: u64,
        counters: Arc<Counters>,
    ) {
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        peers.retain(|p| p.info.origin_host != info.origin_host);
        peers.push(PeerEntry {
            info,
            applications,
            tx,
            state,
            conn,
            counters,
        });
        drop(peers);
        self.changed.notify_waiters();
    }

    /// Closes the open connection `conn` (no DPR): its peer restarted, say.
    pub(crate) fn close_conn(&self, conn: u64, why: &str) {
        let tx = {
            let peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
            peers.iter().find(|p| p.conn == conn).map(|p| p.tx.clone())
        };
        if let Some(tx) = tx {
            let why = why.to_string();
            tokio::spawn(async move {
                let _ = tx.send(Command::Close(why)).await;
            });
        }
    }

    pub(crate) fn remove_peer(&self, conn: u64) {
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        peers.retain(|p| p.conn != conn);
        drop(peers);
        self.changed.notify_waiters();
    }

    /// The route for a Destination-Realm and application: exact realm first, then `*`.
    pub(crate) fn find_route(&self, realm: Option<&[u8]>, app: u32) -> Option<&Route> {
        let app_ok = |r: &&Route| r.application.is_none_or(|a| a == app);
        let routes = &self.config.routes;
        realm
            .and_then(|realm| {
                routes
                    .iter()
                    .filter(app_ok)
                    .find(|r| r.realm.as_bytes() == realm)
            })
            .or_else(|| routes.iter().filter(app_ok).find(|r| r.realm == "*"))
    }

    /// Routes a request and hands it to the chosen connection, with a new hop-by-hop id; see
    /// [`Mode`] for the end-to-end id and the T flag. Errors go to `reply`.
    pub(crate) async fn dispatch(
        &self,
        request: Bytes,
        deadline: tokio::time::Instant,
        reply: oneshot::Sender<Result<Bytes, Error>>,
        sel: Selection,
        mode: Mode,
    ) {
        let retries = self.config.retransmit.map_or(0, |(_, n)| n);
        self.dispatch_attempt(request, deadline, reply, sel, mode, retries)
            .await
    }

    /// One attempt of [`Inner::dispatch`], with `retries` retransmissions left.
    pub(crate) async fn dispatch_attempt(
        &self,
        request: Bytes,
        overall: tokio::time::Instant,
        reply: oneshot::Sender<Result<Bytes, Error>>,
        sel: Selection,
        mode: Mode,
        retries: u32,
    ) {
        let deadline = match self.config.retransmit {
            Some((per_attempt, _)) => overall.min(tokio::time::Instant::now() + per_attempt),
            None => overall,
        };
        let app = u32::from_be_bytes([request[8], request[9], request[10], request[11]]);
        let mut dest_host = None;
        let mut dest_realm = None;
        for a in AvpReader::within(&request, HEADER_LEN, request.len()).flatten() {
            match (a.code, a.vendor_id) {
                (293, 0) => dest_host = Some(&request[a.start..a.end]),
                (283, 0) => dest_realm = Some(&request[a.start..a.end]),
                _ => {}
            }
        }
        let hop_by_hop = self.next_hop_by_hop();
        let mut b = BytesMut::from(&request[..]);
        b[12..16].copy_from_slice(&hop_by_hop.to_be_bytes());
        match mode {
            Mode::New => b[16..20].copy_from_slice(&self.next_end_to_end().to_be_bytes()),
            Mode::Failover => b[4] |= CommandFlags::RETRANSMIT.bits(),
            Mode::Relay => {}
        }
        let bytes = b.freeze();
        let (mut reply, mut sel) = (reply, sel);
        loop {
            let Some((tx, host, counters)) =
                self.route(app, dest_host, dest_realm, &sel, Some(&request))
            else {
                let why = if sel.tried.is_empty() {
                    format!("no peer for application {app}")
                } else {
                    format!("no other peer for application {app} after {:?}", sel.tried)
                };
                let _ = reply.send(Err(Error::new(ErrorKind::NoRoute, why)));
                return;
            };
            let mut bytes = bytes.clone();
            if let Some(cb) = &self.callbacks {
                let info = {
                    let peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
                    peers
                        .iter()
                        .find(|p| p.info.origin_host == host)
                        .map(|p| p.info.clone())
                };
                if let Some(info) = info {
                    let prepared = if mode == Mode::Failover {
                        cb.prepare_retransmit(bytes, &info)
                    } else {
                        cb.prepare_request(bytes, &info)
                    };
                    match prepared {
                        Some(b) => bytes = b,
                        None => {
                            let _ = reply.send(Err(Error::new(
                                ErrorKind::Refused,
                                "discarded by prepare_request or prepare_retransmit",
                            )));
                            return;
                        }
                    }
                }
            }
            let cmd = Command::Request {
                bytes,
                deadline,
                reply,
                sel,
                overall,
                retries,
            };
            // Counted as outstanding now, so the next routing decision sees it.
            counters.outstanding.fetch_add(1, Ordering::Relaxed);
            match tx.send(cmd).await {
                Ok(()) => return,
                // The connection closed in between: try the next peer.
                Err(mpsc::error::SendError(Command::Request {
                    reply: r, sel: t, ..
                })) => {
                    reply = r;
                    sel = t;
                    sel.tried.push(host);
                }
                Err(_) => return,
            }
        }
    }

    pub(crate) fn next_conn_id(&self) -> u64 {
        self.conn_ids.fetch_add(1, Ordering::Relaxed) as u64
    }

    /// Picks a peer for a request: Destination-Host if connected, else round-robin over the
    /// OKAY peers that share the application, those in Destination-Realm first.
    fn route(
        &self,
        app: u32,
        dest_host: Option<&[u8]>,
        dest_realm: Option<&[u8]>,
        sel: &Selection,
        request: Option<&Bytes>,
    ) -> Option<(mpsc::Sender<Command>, DiameterIdentity, Arc<Counters>)> {
        let via: Option<&[String]> = self
            .find_route(dest_realm, app)
            .filter(|r| matches!(r.action, RouteAction::Relay | RouteAction::Proxy))
            .map(|r| r.peers.as_slice());
        let peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        // Not tried yet, in OKAY, with the application and room for one more request.
        let max = self.config.max_outstanding;
        let suitable = |p: &&PeerEntry| {
            p.counters.outstanding.load(Ordering::Relaxed) < max
                && !sel.tried.contains(&p.info.origin_host)
                && *p.state.borrow() == WatchdogState::Okay
                && (app == 0 || p.applications.iter().any(|a| a.id() == app))
        };
        // The filter sees the peers routing would otherwise allow.
        let filtered: Option<Vec<DiameterIdentity>> = sel.filter.as_ref().map(|f| {
            let base: Vec<&PeerInfo> = peers.iter().filter(suitable).map(|p| &p.info).collect();
            base.iter()
                .filter(|p| f.accepts(p, &base))
                .map(|p| p.origin_host.clone())
                .collect()
        });
        let usable = |p: &&PeerEntry| {
            suitable(p)
                && filtered
                    .as_ref()
                    .is_none_or(|f| f.contains(&p.info.origin_host))
        };
        // A route restricts the peers of its realm, but Destination-Host wins.
        let ok = |p: &&PeerEntry| {
            usable(p) && via.is_none_or(|v| v.iter().any(|h| h == p.info.origin_host.as_str()))
        };
        if let Some(h) = dest_host {
            if let Some(p) = peers
                .iter()
                .filter(usable)
                .find(|p| p.info.origin_host.as_bytes() == h)
            {
                return Some((p.tx.clone(), p.info.origin_host.clone(), p.counters.clone()));
            }
        }
        // Round-robin over the usable peers, those in Destination-Realm if there are any.
        let realm_ok =
            |p: &&PeerEntry| dest_realm.is_none_or(|r| p.info.origin_realm.as_bytes() == r);
        let in_realm = peers.iter().filter(ok).filter(realm_ok).count();
        let (n, use_realm) = if in_realm > 0 {
            (in_realm, true)
        } else {
            (peers.iter().filter(ok).count(), false)
        };
        if n == 0 {
            return None;
        }
        let candidates = peers
            .iter()
            .filter(ok)
            .filter(|p| !use_realm || realm_ok(p));
        if let (Some(cb), Some(req)) = (&self.callbacks, request) {
            let infos: Vec<PeerInfo> = candidates.clone().map(|p| p.info.clone()).collect();
            if let Some(p) = cb
                .pick_peer(&infos, req)
                .and_then(|i| candidates.clone().nth(i))
            {
                return Some((p.tx.clone(), p.info.origin_host.clone(), p.counters.clone()));
            }
        }
        let chosen = match self.config.balancing {
            Balancing::RoundRobin => {
                let i = self.rr.fetch_add(1, Ordering::Relaxed) % n;
                candidates.clone().nth(i)
            }
            Balancing::LeastOutstanding => {
                candidates.min_by_key(|p| p.counters.outstanding.load(Ordering::Relaxed))
            }
        };
        chosen.map(|p| (p.tx.clone(), p.info.origin_host.clone(), p.counters.clone()))
    }
}

/// An application bound to a set of peers: see [`NodeBuilder::application`].
#[derive(Clone)]
pub struct Application {
    id: AppId,
    peers: Vec<String>,
    handler: Option<Arc<dyn Handler>>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("id", &self.id)
            .field("peers", &self.peers)
            .field("handler", &self.handler.is_some())
            .finish()
    }
}

impl Application {
    /// An authentication application.
    pub fn auth(id: u32) -> Self {
        Self::new(AppId::Auth(id))
    }
    /// An accounting application.
    pub fn acct(id: u32) -> Self {
        Self::new(AppId::Acct(id))
    }
    /// A vendor-specific authentication application.
    pub fn vendor_auth(vendor: u32, id: u32) -> Self {
        Self::new(AppId::VendorAuth(vendor, id))
    }
    /// Any kind of application.
    pub fn new(id: AppId) -> Self {
        Application {
            id,
            peers: Vec::new(),
            handler: None,
        }
    }
    /// The peers (Origin-Hosts) it is bound to; without this, every peer.
    pub fn peers(mut self, hosts: &[&str]) -> Self {
        self.peers = hosts.iter().map(|h| h.to_string()).collect();
        self
    }
    /// The handler of its requests from those peers (else the node's handler or callbacks
    /// take them).
    pub fn handler(mut self, h: impl Handler) -> Self {
        self.handler = Some(Arc::new(h));
        self
    }
    fn serves(&self, app: u32, peer: &DiameterIdentity) -> bool {
        self.id.id() == app
            && (self.peers.is_empty() || self.peers.iter().any(|p| p == peer.as_str()))
    }
    fn filter(&self) -> Option<Arc<Filter>> {
        (!self.peers.is_empty()).then(|| {
            Arc::new(Filter::Any(
                self.peers.iter().map(|p| Filter::Host(p.clone())).collect(),
            ))
        })
    }
}

/// Sends requests of one application to the peers it is bound to (from
/// [`Node::application`]).
#[derive(Clone)]
pub struct AppHandle {
    node: Node,
    id: u32,
    filter: Option<Arc<Filter>>,
}

impl AppHandle {
    /// The Application-Id.
    pub fn id(&self) -> u32 {
        self.id
    }
    /// The filter that keeps requests to the bound peers (`None`: every peer), for a
    /// generated client's `with_filter` or [`Node::call_filtered`].
    pub fn filter(&self) -> Option<Filter> {
        self.filter.as_deref().cloned()
    }
    /// Waits until one of the bound peers is in OKAY with the application.
    pub async fn wait_for_ready(&self, timeout: Duration) -> Result<(), Error> {
        self.node
            .wait_for_ready_filtered(self.id, self.filter.clone(), timeout)
            .await
    }
    /// Sends an encoded request to one of the bound peers (failover stays among them).
    pub async fn send_bytes(&self, request: Bytes, timeout: Duration) -> Result<Bytes, Error> {
        self.node
            .send_bytes_with(request, timeout, self.filter.clone())
            .await
    }
    /// Sends a dynamic request to one of the bound peers.
    pub async fn send_request(
        &self,
        request: &dynamic::Message,
        timeout: Duration,
    ) -> Result<dynamic::Message, Error> {
        let answer = self.send_bytes(request.encode(), timeout).await?;
        Ok(dynamic::Message::decode(answer)?)
    }
    /// Sends a typed request to one of the bound peers and decodes the typed answer.
    pub async fn call<Req: Message, Ans: Message>(&self, request: &Req) -> Result<Ans, Error> {
        self.node.call_filtered(request, self.filter()).await
    }
}

/// Builds a [`Node`].
pub struct NodeBuilder {
    caps: Capabilities,
    config: Config,
    listen: Vec<String>,
    /// (Origin-Host if given, URI or address).
    peers: Vec<(Option<String>, String)>,
    handler: Option<Arc<dyn Handler>>,
    callbacks: Option<Arc<dyn Callbacks>>,
    apps: Vec<Application>,
    dictionary: Option<Arc<crate::dictionary::Dictionary>>,
}

impl NodeBuilder {
    /// Adds an application bound to a set of peers (python-diameter's
    /// `add_application(app, peers)`), and advertises it. Requests of that application from
    /// those peers go to its handler; from other peers they get 3007 unless another binding
    /// of the same application takes them. One application may be added several times, on
    /// different peer sets. [`Node::application`] gives the handle to send with, in the
    /// order added.
    pub fn application(mut self, app: Application) -> Self {
        if !self.caps.applications.contains(&app.id) {
            self.caps.applications.push(app.id);
        }
        self.apps.push(app);
        self
    }

    /// Origin-Host.
    pub fn origin_host(mut self, host: &str) -> Self {
        self.caps.origin_host = host.into();
        self
    }
    /// Origin-Realm.
    pub fn origin_realm(mut self, realm: &str) -> Self {
        self.caps.origin_realm = realm.into();
        self
    }
    /// Host-IP-Address (replaces the default 127.0.0.1 on first call).
    pub fn host_ip_address(mut self, ip: std::net::IpAddr) -> Self {
        if self.caps.host_ip_addresses == [std::net::IpAddr::from([127, 0, 0, 1])] {
            self.caps.host_ip_addresses.clear();
        }
        self.caps.host_ip_addresses.push(ip);
        self
    }
    /// Vendor-Id.
    pub fn vendor_id(mut self, id: u32) -> Self {
        self.caps.vendor_id = id;
        self
    }
    /// Product-Name.
    pub fn product_name(mut self, name: &str) -> Self {
        self.caps.product_name = name.into();
        self
    }
    /// Origin-State-Id (default: seconds since the epoch at start).
    pub fn origin_state_id(mut self, id: u32) -> Self {
        self.caps.origin_state_id = Some(id);
        self
    }
    /// Supported-Vendor-Id.
    pub fn supported_vendor_id(mut self, id: u32) -> Self {
        self.caps.supported_vendor_ids.push(id);
        self
    }
    /// Firmware-Revision.
    pub fn firmware_revision(mut self, rev: u32) -> Self {
        self.caps.firmware_revision = Some(rev);
        self
    }
    /// Inband-Security-Id to advertise.
    pub fn inband_security_id(mut self, id: crate::base::InbandSecurityId) -> Self {
        self.caps.inband_security_ids.push(id);
        self
    }
    /// Advertises an authentication application.
    pub fn auth_application(mut self, id: u32) -> Self {
        self.caps.applications.push(AppId::Auth(id));
        self
    }
    /// Advertises an accounting application.
    pub fn acct_application(mut self, id: u32) -> Self {
        self.caps.applications.push(AppId::Acct(id));
        self
    }
    /// Advertises a vendor-specific authentication application.
    pub fn vendor_auth_application(mut self, vendor: u32, id: u32) -> Self {
        self.caps.applications.push(AppId::VendorAuth(vendor, id));
        self
    }
    /// Tw, the watchdog interval (at least 6 s; default 30 s).
    pub fn watchdog_interval(mut self, tw: Duration) -> Self {
        self.config.watchdog = WatchdogConfig::new(tw);
        self
    }
    /// The full watchdog configuration (tests may go below RFC 3539's 6 s floor).
    pub fn watchdog(mut self, config: WatchdogConfig) -> Self {
        self.config.watchdog = config;
        self
    }
    /// Timeout of requests sent with [`Node::call`] (default 10 s).
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.config.request_timeout = t;
        self
    }
    /// Largest message accepted (default 1 MiB); larger ones close the connection.
    pub fn max_message_len(mut self, n: usize) -> Self {
        self.config.max_message_len = n;
        self
    }
    /// Most requests handled at once (default 1024); beyond it reading pauses.
    pub fn max_concurrent_handlers(mut self, n: usize) -> Self {
        self.config.max_handlers = n.max(1);
        self
    }
    /// Only accept CERs from these Origin-Hosts (others get 3010 DIAMETER_UNKNOWN_PEER).
    pub fn allow_host(mut self, host: &str) -> Self {
        self.config
            .allowed_hosts
            .get_or_insert_with(Vec::new)
            .push(host.to_string());
        self
    }
    /// Adds a route: requests for `realm` (`*` for any) and `application` (`None` for any)
    /// are handled locally, relayed, proxied or redirected to `peers` (their Origin-Hosts).
    /// Routes are tried in the order added; a node with routes answers 3002
    /// (DIAMETER_UNABLE_TO_DELIVER) for a foreign realm no route matches. Outgoing requests
    /// follow the same table.
    pub fn route(
        mut self,
        realm: &str,
        application: Option<u32>,
        action: RouteAction,
        peers: &[&str],
    ) -> Self {
        self.config.routes.push(Route {
            realm: realm.to_string(),
            application,
            action,
            peers: peers.iter().map(|p| p.to_string()).collect(),
        });
        self
    }

    /// Validates every request handled here (not those relayed or proxied) against these
    /// dictionaries before any handler or callback sees it: a request that fails its
    /// command's grammar is answered by the node with the RFC 6733 error (3xxx with the E
    /// bit, 5xxx with Failed-AVP), and 3001 for a command the dictionaries do not define.
    pub fn dictionary(mut self, dictionary: Arc<crate::dictionary::Dictionary>) -> Self {
        self.dictionary = Some(dictionary);
        self
    }

    /// How long a connection may take from the TCP connect to the end of the capabilities
    /// exchange (10 s by default); a peer that connects and sends no CER is closed after it.
    pub fn cer_timeout(mut self, t: Duration) -> Self {
        self.config.cer_timeout = t.max(Duration::from_millis(1));
        self
    }

    /// How long a message may take to arrive whole once its first byte has (10 s by default);
    /// a peer that sends half a message and stops, or trickles bytes, is closed after it.
    pub fn frame_timeout(mut self, t: Duration) -> Self {
        self.config.frame_timeout = t.max(Duration::from_millis(4));
        self
    }

    /// Most connections accepted at once (10,000 by default); a listener closes more at once.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.config.max_connections = n;
        self
    }

    /// Most accepted connections still in the capabilities exchange (256 by default); a
    /// listener closes more at once, so idle connections cannot crowd out real peers.
    pub fn max_pending_connections(mut self, n: usize) -> Self {
        self.config.max_pending = n;
        self
    }

    /// Keeps the answers to the last `capacity` requests (8,192 by default; 0 turns it off)
    /// and replays them to duplicates — a request with the T flag whose Origin-Host and
    /// End-to-End id were already answered (RFC 6733 §5.5.4) — under their new Hop-by-Hop
    /// id, instead of handling them again. At most 16 MiB of answers are held.
    pub fn duplicate_cache(mut self, capacity: usize) -> Self {
        self.config.duplicate_cache = capacity;
        self
    }

    /// How long an answer stays in the duplicate cache (30 s by default).
    pub fn duplicate_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.duplicate_lifetime = lifetime;
        self
    }

    /// Retransmission on timeout: each attempt waits `per_attempt`; when it expires the
    /// request is sent again, with the T flag, to a peer not yet tried, at most `retries`
    /// times within the request's timeout. Off by default (a timeout fails the call).
    pub fn retransmit_on_timeout(mut self, per_attempt: Duration, retries: u32) -> Self {
        self.config.retransmit = Some((per_attempt, retries));
        self
    }

    /// What this node's redirect answers (3006) tell clients to cache: Redirect-Host-Usage
    /// and, unless DONT_CACHE (the default), Redirect-Max-Cache-Time.
    pub fn redirect_usage(mut self, usage: RedirectHostUsage, max_cache_time: Duration) -> Self {
        self.config.redirect_usage = (usage, max_cache_time);
        self
    }

    /// Most requests in flight to one peer (default: no limit). A peer at the limit is
    /// skipped by routing; when every suitable peer is full the request fails at once with
    /// [`ErrorKind::NoRoute`] instead of queueing without bound.
    pub fn max_outstanding_per_peer(mut self, n: u64) -> Self {
        self.config.max_outstanding = n.max(1);
        self
    }

    /// How requests are spread over equally suitable peers (default round-robin).
    pub fn balancing(mut self, b: Balancing) -> Self {
        self.config.balancing = b;
        self
    }

    /// Delay before reconnecting a persistent peer (Tc, default 5 s).
    pub fn reconnect_interval(mut self, tc: Duration) -> Self {
        self.config.reconnect = tc;
        self
    }
    /// Listens on a TCP address (`127.0.0.1:3868`; port 0 picks one, see
    /// [`Node::local_addrs`]).
    pub fn listen(mut self, addr: &str) -> Self {
        self.listen.push(addr.to_string());
        self
    }
    /// A persistent peer to connect to: `aaa://host[:port][;transport=tcp]` or `host:port`.
    ///
    /// A URI naming a host (`aaa://ocs.example.net`) names the peer's Origin-Host too, so the
    /// election of RFC 6733 §5.6.4 can run when both sides connect at once; with an address
    /// the Origin-Host is learned from the first CEA (see [`NodeBuilder::peer_at`]).
    pub fn peer(mut self, uri: &str) -> Self {
        self.peers.push((None, uri.to_string()));
        self
    }
    /// A persistent peer known by its Origin-Host, reached at `uri` (an `aaa://` URI or
    /// `host:port`, which may be an address), as freeDiameter's `ConnectPeer`/`ConnectTo`.
    pub fn peer_at(mut self, origin_host: &str, uri: &str) -> Self {
        self.peers
            .push((Some(origin_host.to_string()), uri.to_string()));
        self
    }
    /// Erlang-style callbacks; their `handle_request` takes incoming application requests
    /// (instead of a [`NodeBuilder::handler`]).
    pub fn callbacks(mut self, c: impl Callbacks) -> Self {
        self.callbacks = Some(Arc::new(c));
        self
    }

    /// The handler for incoming application requests.
    pub fn handler(mut self, h: impl Handler) -> Self {
        self.handler = Some(Arc::new(h));
        self
    }

    /// Binds the listeners, starts connecting to the peers, and returns the running node.
    pub async fn start(mut self) -> Result<Node, Error> {
        if self.caps.origin_host.is_empty() || self.caps.origin_realm.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "origin host and realm are required",
            ));
        }
        if self.caps.origin_state_id.is_none() {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            self.caps.origin_state_id = Some(secs as u32);
        }
        let mut addrs = Vec::new();
        for (identity, p) in &self.peers {
            let (addr, host) = parse_peer(p)?;
            let identity = identity.clone().or(host).map(DiameterIdentity::from);
            addrs.push((addr, identity));
        }
        // End-to-end: high 12 bits from the clock, low 20 bits a counter (RFC 6733 §3).
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let e2e = ((now.as_secs() as u32 & 0xfff) << 20) | (now.subsec_micros() & 0xf_ffff);
        let (events, _) = broadcast::channel(1024);
        let (shutdown, _) = watch::channel(false);
        let dup = (self.config.duplicate_cache > 0).then(|| {
            dup::DupCache::new(
                self.config.duplicate_cache,
                self.config.duplicate_lifetime,
                DUPLICATE_CACHE_BYTES,
            )
        });
        let elections = election::Elections::new(
            self.caps.origin_host.as_str(),
            crate::peer::PsmConfig::default(),
        );
        let inner = Arc::new(Inner {
            caps: Arc::new(self.caps),
            handlers: Arc::new(Semaphore::new(self.config.max_handlers)),
            config: self.config,
            handler: self.handler,
            peers: Mutex::new(Vec::new()),
            hop_by_hop: AtomicU32::new(now.subsec_nanos()),
            end_to_end: AtomicU32::new(e2e),
            rr: AtomicUsize::new(0),
            conn_ids: AtomicU32::new(1),
            events,
            shutdown,
            changed: tokio::sync::Notify::new(),
            dup,
            callbacks: self.callbacks,
            elections,
            apps: self.apps,
            redirects: Mutex::new(RedirectCache::default()),
            redirects_used: std::sync::atomic::AtomicBool::new(false),
            dictionary: self.dictionary,
            accepted: AtomicUsize::new(0),
            opening: AtomicUsize::new(0),
        });
        let mut local_addrs = Vec::new();
        for l in &self.listen {
            let listener = TcpListener::bind(l.as_str())
                .await
                .map_err(|e| Error::new(ErrorKind::Io, format!("cannot listen on {l}: {e}")))?;
            local_addrs.push(listener.local_addr()?);
            tokio::spawn(accept_loop(inner.clone(), listener));
        }
        for (addr, identity) in addrs {
            tokio::spawn(connect_loop(inner.clone(), addr, identity));
        }
        Ok(Node { inner, local_addrs })
    }
}

/// The address to connect to, and the peer's identity when the URI names a host (its
/// DiameterIdentity, RFC 6733 §4.3.1) rather than an address.
fn parse_peer(p: &str) -> Result<(String, Option<String>), Error> {
    if p.starts_with("aaa://") || p.starts_with("aaas://") {
        let uri = DiameterUri::parse(p).map_err(|e| Error::new(ErrorKind::Config, e))?;
        match uri.transport {
            crate::codec::types::Transport::Tcp => {}
            crate::codec::types::Transport::Sctp => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("{p}: {}", sctp_status()),
                ));
            }
            crate::codec::types::Transport::Udp => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("{p}: Diameter does not run over UDP"),
                ));
            }
        }
        let name = uri
            .host
            .parse::<std::net::IpAddr>()
            .is_err()
            .then(|| uri.host.clone());
        if uri.host.contains(':') {
            return Ok((format!("[{}]:{}", uri.host, uri.port), name));
        }
        return Ok((format!("{}:{}", uri.host, uri.port), name));
    }
    Ok((p.to_string(), None))
}

/// Why an SCTP peer cannot be used here: the kernel may lack SCTP (a socket with
/// IPPROTO_SCTP is refused, as on kernels built without it), or the node's SCTP transport is
/// not there yet.
pub fn sctp_status() -> String {
    let probe = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::STREAM,
        Some(socket2::Protocol::from(132)),
    );
    match probe {
        Err(e) => format!(
            "SCTP is not available on this machine: the kernel refuses SCTP sockets ({e}); use transport=tcp"
        ),
        Ok(_) => "this kernel has SCTP, but the node supports TCP only so far; use transport=tcp".into(),
    }
}

async fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    let mut shutdown = inner.shutdown.subscribe();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, addr)) => {
                    let open = inner.accepted.load(Ordering::Relaxed);
                    let opening = inner.opening.load(Ordering::Relaxed);
                    if open >= inner.config.max_connections || opening >= inner.config.max_pending {
                        tracing::warn!(%addr, open, opening, "connection limit reached; closing a new connection");
                        drop(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let conn = inner.next_conn_id();
                    inner.accepted.fetch_add(1, Ordering::Relaxed);
                    // Taken back when the capabilities exchange ends, either way.
                    inner.opening.fetch_add(1, Ordering::Relaxed);
                    let inner = inner.clone();
                    tokio::spawn(async move {
                        conn::run(inner.clone(), stream, addr, conn, conn::Role::Responder).await;
                        inner.accepted.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = shutdown.changed() => return,
        }
    }
}

/// Keeps a persistent peer connected: `Start` for its state machine, connect, and again
/// after Tc when the connection ends. While the peer is connected to us (or a connection is
/// being set up) it waits.
async fn connect_loop(inner: Arc<Inner>, addr: String, mut identity: Option<DiameterIdentity>) {
    let mut shutdown = inner.shutdown.subscribe();
    let mut backoff = Duration::from_millis(200);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let start = identity.as_ref().is_none_or(|h| inner.elections.start(h));
        if start {
            match TcpStream::connect(addr.as_str()).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    let peer = stream
                        .peer_addr()
                        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                    backoff = Duration::from_millis(200);
                    let conn = inner.next_conn_id();
                    let (abort_tx, abort) = oneshot::channel();
                    let go = identity
                        .as_ref()
                        .is_none_or(|h| inner.elections.conn_ack(h, conn, abort_tx));
                    if go {
                        let role = conn::Role::Initiator {
                            expected: identity.clone(),
                            abort: Some(abort),
                        };
                        let (outcome, host) =
                            conn::run(inner.clone(), stream, peer, conn, role).await;
                        identity = host.or(identity);
                        if outcome == conn::Outcome::DoNotReconnect {
                            tracing::info!("{addr}: the peer asked not to reconnect");
                            return;
                        }
                    } else {
                        tracing::debug!("{addr}: the election keeps the peer's connection");
                    }
                }
                Err(e) => {
                    tracing::debug!("connect {addr}: {e}");
                    if let Some(h) = &identity {
                        inner.elections.conn_nack(h);
                    }
                }
            }
        }
        let wait = backoff.min(inner.config.reconnect);
        backoff = (backoff * 2).min(inner.config.reconnect);
        inner.event(Event::Reconnecting {
            addr: addr.clone(),
            after: wait,
        });
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// A running node. Cheap to clone.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
    local_addrs: Vec<SocketAddr>,
}

impl Node {
    /// A builder with defaults: Tw 30 s, request timeout 10 s, 1 MiB messages.
    pub fn builder() -> NodeBuilder {
        NodeBuilder {
            caps: Capabilities::new("", ""),
            config: Config {
                watchdog: WatchdogConfig::default(),
                request_timeout: Duration::from_secs(10),
                max_message_len: crate::codec::message::DEFAULT_MAX_MESSAGE_LEN,
                max_handlers: 1024,
                queue_len: 4096,
                allowed_hosts: None,
                reconnect: Duration::from_secs(5),
                routes: Vec::new(),
                balancing: Balancing::RoundRobin,
                duplicate_cache: 8192,
                duplicate_lifetime: Duration::from_secs(30),
                retransmit: None,
                redirect_usage: (RedirectHostUsage::DontCache, Duration::ZERO),
                max_outstanding: u64::MAX,
                cer_timeout: Duration::from_secs(10),
                frame_timeout: Duration::from_secs(10),
                max_connections: 10_000,
                max_pending: 256,
            },
            listen: Vec::new(),
            peers: Vec::new(),
            handler: None,
            callbacks: None,
            apps: Vec::new(),
            dictionary: None,
        }
    }

    /// The addresses the listeners are bound to.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// This node's capabilities.
    pub fn capabilities(&self) -> &Capabilities {
        &self.inner.caps
    }

    /// Peer events (up, down, watchdog, refusals).
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// The peers that are connected, with their watchdog state.
    pub fn peers(&self) -> Vec<(PeerInfo, WatchdogState)> {
        let peers = self.inner.peers.lock().unwrap_or_else(|p| p.into_inner());
        peers
            .iter()
            .map(|p| (p.info.clone(), *p.state.borrow()))
            .collect()
    }

    /// The RFC 6733 §5.6 state of the peer with this Origin-Host (Closed if unknown).
    pub fn peer_state(&self, origin_host: &str) -> crate::peer::PeerState {
        self.inner
            .elections
            .state(&DiameterIdentity::from(origin_host))
    }

    /// Statistics of every connected peer.
    pub fn stats(&self) -> Vec<PeerStats> {
        let peers = self.inner.peers.lock().unwrap_or_else(|p| p.into_inner());
        peers
            .iter()
            .map(|p| {
                let c = &p.counters;
                let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
                PeerStats {
                    host: p.info.origin_host.to_string(),
                    state: Some(*p.state.borrow()),
                    requests_sent: get(&c.requests_sent),
                    answers_received: get(&c.answers_received),
                    requests_received: get(&c.requests_received),
                    timeouts: get(&c.timeouts),
                    failed_over: get(&c.failed_over),
                    outstanding: get(&c.outstanding),
                    results: std::array::from_fn(|i| get(&c.results[i])),
                    commands: c.commands(),
                }
            })
            .collect()
    }

    /// Waits until a peer in OKAY supports application `app`.
    pub async fn wait_for_ready(&self, app: u32, timeout: Duration) -> Result<(), Error> {
        self.wait_for_ready_filtered(app, None, timeout).await
    }

    async fn wait_for_ready_filtered(
        &self,
        app: u32,
        filter: Option<Arc<Filter>>,
        timeout: Duration,
    ) -> Result<(), Error> {
        let sel = Selection {
            tried: Vec::new(),
            filter,
        };
        let wait = async {
            loop {
                let notified = self.inner.changed.notified();
                if self.inner.route(app, None, None, &sel, None).is_some() {
                    return;
                }
                tokio::select! {
                    _ = notified => {}
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.map_err(|_| {
            Error::new(
                ErrorKind::Timeout,
                format!("no peer ready for application {app}"),
            )
        })
    }

    /// Sends an encoded request (its identifiers are replaced) and returns the encoded
    /// answer. Routed by application, Destination-Host and Destination-Realm.
    pub async fn send_bytes(&self, request: Bytes, timeout: Duration) -> Result<Bytes, Error> {
        self.send_bytes_with(request, timeout, None).await
    }

    /// [`Node::send_request`] restricted to the peers `filter` accepts (Erlang diameter's
    /// `filter` call option), failover included.
    pub async fn send_request_filtered(
        &self,
        request: &dynamic::Message,
        timeout: Duration,
        filter: Filter,
    ) -> Result<dynamic::Message, Error> {
        let answer = self
            .send_bytes_with(request.encode(), timeout, Some(Arc::new(filter)))
            .await?;
        Ok(dynamic::Message::decode(answer)?)
    }

    async fn send_bytes_with(
        &self,
        request: Bytes,
        timeout: Duration,
        filter: Option<Arc<Filter>>,
    ) -> Result<Bytes, Error> {
        Header::parse(&request)?;
        let deadline = tokio::time::Instant::now() + timeout;
        // A redirect remembered for requests like this one: straight to its host.
        let cached = if !self.inner.redirects_used.load(Ordering::Relaxed) {
            None
        } else {
            let mut cache = self
                .inner
                .redirects
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            cache.lookup(&request)
        };
        let request = match cached {
            Some(host) if self.is_connected(&host) => with_destination_host(&request, &host)?,
            _ => request,
        };
        let answer = self
            .send_once(request.clone(), deadline, filter.clone())
            .await?;
        // Follow one redirect (3006) to a Redirect-Host we are connected to.
        let header = Header::parse(&answer)?;
        if header.flags.is_error() && result_code(&answer) == Some(3006) {
            let targets: Vec<String> = AvpReader::within(&answer, HEADER_LEN, answer.len())
                .flatten()
                .filter(|a| a.code == 292 && a.vendor_id == 0)
                .filter_map(|a| {
                    std::str::from_utf8(&answer[a.start..a.end])
                        .ok()
                        .and_then(|s| DiameterUri::parse(s).ok())
                })
                .map(|u| u.host)
                .collect();
            if let Some(host) = targets.iter().find(|t| self.is_connected(t)) {
                self.remember_redirect(&request, &answer, host);
                let redirected = with_destination_host(&request, host)?;
                return self.send_once(redirected, deadline, filter).await;
            }
        }
        Ok(answer)
    }

    fn is_connected(&self, host: &str) -> bool {
        let peers = self.inner.peers.lock().unwrap_or_else(|p| p.into_inner());
        peers.iter().any(|p| p.info.origin_host == host)
    }

    /// Caches a followed redirect as its Redirect-Host-Usage and Redirect-Max-Cache-Time
    /// say (DONT_CACHE, or no usage, caches nothing).
    fn remember_redirect(&self, request: &Bytes, answer: &Bytes, host: &str) {
        let (mut usage, mut secs, mut by) = (0i32, 0u32, &[][..]);
        for a in AvpReader::within(answer, HEADER_LEN, answer.len()).flatten() {
            let v = &answer[a.start..a.end];
            match (a.code, a.vendor_id, v.len()) {
                (261, 0, 4) => usage = i32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                (262, 0, 4) => secs = u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                (264, 0, _) => by = v,
                _ => {}
            }
        }
        let usage = RedirectHostUsage::from(usage);
        if let Some(key) = RedirectFacts::of(request).key(usage, by) {
            let until = tokio::time::Instant::now() + Duration::from_secs(secs.into());
            let mut cache = self
                .inner
                .redirects
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            cache.insert(key, host.to_string(), until);
            self.inner.redirects_used.store(true, Ordering::Relaxed);
        }
    }

    async fn send_once(
        &self,
        request: Bytes,
        deadline: tokio::time::Instant,
        filter: Option<Arc<Filter>>,
    ) -> Result<Bytes, Error> {
        let (reply, rx) = oneshot::channel();
        let kept = self.inner.callbacks.as_ref().map(|_| request.clone());
        self.inner
            .dispatch(
                request,
                deadline,
                reply,
                Selection {
                    tried: Vec::new(),
                    filter,
                },
                Mode::New,
            )
            .await;
        // The connection enforces the deadline (no timer per request).
        let result = match rx.await {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                ErrorKind::PeerDown,
                "connection closed before the answer",
            )),
        };
        match (&self.inner.callbacks, kept, result) {
            (Some(cb), Some(req), Ok(answer)) => Ok(cb.handle_answer(answer, &req)),
            (Some(cb), Some(req), Err(e)) => cb.handle_error(e, &req),
            (_, _, r) => r,
        }
    }

    /// Sends a dynamic request and returns the dynamic answer.
    pub async fn send_request(
        &self,
        request: &dynamic::Message,
        timeout: Duration,
    ) -> Result<dynamic::Message, Error> {
        let answer = self.send_bytes(request.encode(), timeout).await?;
        Ok(dynamic::Message::decode(answer)?)
    }

    /// Sends a typed request and decodes the typed answer; an answer with the `E` bit is
    /// returned as a [`ErrorKind::Refused`] error carrying its Result-Code.
    pub async fn call<Req: Message, Ans: Message>(&self, request: &Req) -> Result<Ans, Error> {
        self.call_filtered(request, None).await
    }

    /// The handle of the `index`-th application added with [`NodeBuilder::application`]:
    /// requests sent through it go only to that application's peers.
    pub fn application(&self, index: usize) -> Option<AppHandle> {
        let app = self.inner.apps.get(index)?;
        Some(AppHandle {
            node: self.clone(),
            id: app.id.id(),
            filter: app.filter(),
        })
    }

    /// [`Node::call`] restricted to the peers `filter` accepts (all peers with `None`).
    pub async fn call_filtered<Req: Message, Ans: Message>(
        &self,
        request: &Req,
        filter: Option<Filter>,
    ) -> Result<Ans, Error> {
        let bytes = request.encode(0, 0);
        let answer = self
            .send_bytes_with(
                bytes,
                self.inner.config.request_timeout,
                filter.map(Arc::new),
            )
            .await?;
        let header = Header::parse(&answer)?;
        if header.flags.is_error() {
            let rc = result_code(&answer).unwrap_or(0);
            return Err(Error::refused(
                rc,
                format!("{} answered with a protocol error", Ans::NAME),
            ));
        }
        Ok(Ans::decode(answer)?.1)
    }

    /// Sends DPR with `cause` to one peer; it closes the connection after the DPA. A peer
    /// told BUSY or DO_NOT_WANT_TO_TALK_TO_YOU does not reconnect (RFC 6733 §5.4.3).
    pub async fn disconnect(&self, host: &str, cause: DisconnectCause) -> Result<(), Error> {
        let tx = {
            let peers = self.inner.peers.lock().unwrap_or_else(|p| p.into_inner());
            peers
                .iter()
                .find(|p| p.info.origin_host == host)
                .map(|p| p.tx.clone())
        };
        let tx =
            tx.ok_or_else(|| Error::new(ErrorKind::NoRoute, format!("{host} is not connected")))?;
        tx.send(Command::Disconnect(cause))
            .await
            .map_err(|_| Error::new(ErrorKind::PeerDown, "connection closed"))
    }

    /// Sends DPR (REBOOTING) to every peer, waits briefly for the DPAs, and stops listening
    /// and reconnecting.
    pub async fn shutdown(&self) {
        // Every connection sends its DPR when it sees the signal.
        let _ = self.inner.shutdown.send(true);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while tokio::time::Instant::now() < deadline && !self.peers().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Let in-flight handlers finish.
        let max = self.inner.config.max_handlers as u32;
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            self.inner.handlers.acquire_many(max),
        )
        .await;
    }
}
