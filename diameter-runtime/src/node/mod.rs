//! A tokio Diameter node: listeners and connectors, capabilities exchange, the RFC 3539
//! watchdog, DWR/DPR handling, request routing with answers matched by hop-by-hop id, and
//! handlers for incoming requests.
//!
//! Each connection is a [`peer::Connection`](crate::peer::Connection) (the protocol, sans-IO)
//! driven by one task (`driver`). Around it: `builder` (configuration), `listener` (accepting
//! and connecting), `routing` (routes, filters, balancing, redirects, dispatch with failover),
//! `incoming` and `forward` (what happens to a peer's request: validation, duplicates,
//! handlers, callbacks, relaying), `api` (the application API), `dup` (duplicate detection)
//! and `election` (the RFC 6733 §5.6 peer state machine across connections).
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

mod builder;
mod driver;
mod dup;
mod forward;
mod incoming;
mod listener;
mod routing;
pub mod sctp;
mod tls;
pub mod transport;
pub(crate) use crate::peer::stats::Counters;
pub use crate::peer::stats::{result_code, CommandStats, PeerStats};
mod election;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, oneshot, watch, Semaphore};

pub use crate::app::*;
pub use builder::{sctp_available, NodeBuilder};
use listener::{accept_loop, connect_loop, Dial};
pub use routing::{Balancing, Filter, Route, RouteAction};
pub(crate) use routing::{Mode, Selection};
use routing::{RedirectCache, RedirectFacts};
pub use tls::TlsConfig;
pub use transport::{Connector, Transport};

use crate::base::{avp, DisconnectCause, RedirectHostUsage};
use crate::codec::avp::AvpReader;
use crate::codec::dynamic;
use crate::codec::{
    AvpFlags, CommandFlags, DiameterIdentity, DiameterUri, Fill, Header, Utf8String,
};
use crate::codec::{Message, HEADER_LEN};
use crate::peer::{AppId, Capabilities, PeerInfo, WatchdogConfig, WatchdogState};

/// `request` with its Destination-Host replaced (or added).
fn with_destination_host(request: &Bytes, host: &str) -> Result<Bytes, Error> {
    let mut m = dynamic::Message::decode(request.clone())?;
    m.avps
        .retain(|a| !(a.code == avp::DESTINATION_HOST.code && a.vendor_id == 0));
    m.avps.push(dynamic::Avp::new(
        avp::DESTINATION_HOST.code,
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
    /// A connection could not be made, or ended before its capabilities exchange was over
    /// without a Result-Code (those are [`Event::Refused`]): the TCP connect failed, the TLS
    /// handshake failed (unknown CA, expired certificate, a certificate not naming the peer,
    /// plain text on a TLS port), or the peer closed or sent garbage.
    ConnectionFailed {
        /// The address (or URI) of the connection.
        addr: String,
        /// Why, as one line.
        reason: String,
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
    /// How long a DPA is awaited after our DPR.
    pub dpa_timeout: Duration,
    /// Most accepted connections at once; more are closed at once.
    pub max_connections: usize,
    /// Most accepted connections still in the capabilities exchange; more are closed at once.
    pub max_pending: usize,
    /// How long a connection keeps polling without sleeping after its last traffic.
    pub busy_poll: Option<Duration>,
}

impl Config {
    /// The timers of the peer state machine, the same as each connection's.
    fn psm(&self) -> crate::peer::PsmConfig {
        crate::peer::PsmConfig {
            handshake_timeout: self.cer_timeout,
            dpa_timeout: self.dpa_timeout,
        }
    }
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

pub(crate) struct Inner {
    pub caps: Arc<Capabilities>,
    /// Certificates for TLS in band (listeners and aaas:// peers get their own copy).
    pub tls: Option<TlsConfig>,
    /// Session-Id parts (RFC 6733 §8.8): the start time, and a counter.
    session_high: u32,
    session_low: AtomicU32,
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

/// Most answer bytes the duplicate cache holds, whatever its entry count.
const DUPLICATE_CACHE_BYTES: usize = 16 << 20;

impl Inner {
    /// Whether one more accepted connection fits the limits on open connections and on
    /// connections still in the capabilities exchange.
    fn admit(&self) -> Result<(), Error> {
        let open = self.accepted.load(Ordering::Relaxed);
        let opening = self.opening.load(Ordering::Relaxed);
        if open >= self.config.max_connections || opening >= self.config.max_pending {
            return Err(Error::new(
                ErrorKind::Io,
                format!(
                    "connection limit reached ({open} open, {opening} in the capabilities exchange)"
                ),
            ));
        }
        Ok(())
    }

    /// Runs the answering side of an admitted connection, counted among the open ones and
    /// those in the capabilities exchange.
    fn respond(
        self: &Arc<Self>,
        socket: tls::Socket,
        peer: SocketAddr,
    ) -> tokio::task::JoinHandle<()> {
        let conn = self.next_conn_id();
        self.accepted.fetch_add(1, Ordering::Relaxed);
        // Taken back when the capabilities exchange ends, either way.
        self.opening.fetch_add(1, Ordering::Relaxed);
        let inner = self.clone();
        tokio::spawn(async move {
            driver::run(inner.clone(), socket, peer, conn, driver::Role::Responder).await;
            inner.accepted.fetch_sub(1, Ordering::Relaxed);
        })
    }

    /// Runs the answering side of a connection on a transport, within the listener limits.
    fn serve(
        self: &Arc<Self>,
        io: Box<dyn Transport>,
        peer: SocketAddr,
    ) -> Result<tokio::task::JoinHandle<()>, Error> {
        self.admit()?;
        Ok(self.respond(tls::Socket::stream(io), peer))
    }

    /// Runs the connecting side of a connection to the peer `expected` (when known): the
    /// election's Conn-Ack first (RFC 6733 §5.6.4), then the connection. `None` when the
    /// election keeps another connection of that peer.
    async fn initiate(
        self: &Arc<Self>,
        socket: tls::Socket,
        peer: SocketAddr,
        expected: Option<DiameterIdentity>,
    ) -> Option<(driver::Outcome, Option<DiameterIdentity>)> {
        let conn = self.next_conn_id();
        let (abort_tx, abort) = oneshot::channel();
        if let Some(h) = &expected {
            if !self.elections.conn_ack(h, conn, abort_tx) {
                return None;
            }
        }
        let role = driver::Role::Initiator {
            expected,
            abort: Some(abort),
        };
        Some(driver::run(self.clone(), socket, peer, conn, role).await)
    }

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

    pub(crate) fn next_conn_id(&self) -> u64 {
        self.conn_ids.fetch_add(1, Ordering::Relaxed) as u64
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
    pub async fn call<Req: Message, Ans: Message>(
        &self,
        request: impl IntoCall<Req>,
    ) -> Result<Ans, Error> {
        self.node.call_filtered(request, self.filter()).await
    }
}

/// One typed request to send with options of its own: a timeout instead of the node's, and a
/// filter instead of the client's. Generated clients and [`Node::call`] take anything that is
/// [`IntoCall`]: the message, a reference to it, or a `Call`.
#[derive(Clone, Debug)]
pub struct Call<T> {
    message: T,
    timeout: Option<Duration>,
    filter: Option<Filter>,
}

impl<T> Call<T> {
    /// A call of `message` with the defaults.
    pub fn new(message: T) -> Self {
        Call {
            message,
            timeout: None,
            filter: None,
        }
    }
    /// Waits at most `timeout` for the answer (failover and retransmission included);
    /// `Duration::MAX` waits for as long as it takes.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// Sends only to the peers `filter` accepts.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }
    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }
    /// The message, to change.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.message
    }
}

/// What a typed send takes: a message, a reference to one (cloned), or a [`Call`].
pub trait IntoCall<T> {
    /// The call.
    fn into_call(self) -> Call<T>;
}

impl<T: Message> IntoCall<T> for T {
    fn into_call(self) -> Call<T> {
        Call::new(self)
    }
}

impl<T: Message + Clone> IntoCall<T> for &T {
    fn into_call(self) -> Call<T> {
        Call::new(self.clone())
    }
}

impl<T: Message> IntoCall<T> for Call<T> {
    fn into_call(self) -> Call<T> {
        self
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
                dpa_timeout: Duration::from_secs(2),
                max_connections: 10_000,
                max_pending: 256,
                busy_poll: None,
            },
            listen: Vec::new(),
            tls: None,
            peers: Vec::new(),
            custom_peers: Vec::new(),
            sctp_listen: Vec::new(),
            sctp_local: Vec::new(),
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

    /// Runs the answering side of a connection on `io`, as if a listener had accepted it
    /// from `peer`: the peer sends the CER. The connection counts against
    /// [`NodeBuilder::max_connections`] and [`NodeBuilder::max_pending_connections`]; beyond
    /// them `io` is dropped and an error returned. The returned handle ends with the
    /// connection.
    pub fn serve_connection(
        &self,
        io: impl Transport,
        peer: SocketAddr,
    ) -> Result<tokio::task::JoinHandle<()>, Error> {
        self.inner.serve(Box::new(io), peer)
    }

    /// Runs the connecting side of one connection on `io` (this node sends the CER), to the
    /// peer `origin_host` when known (checked against its CEA and used for the election of
    /// RFC 6733 §5.6.4). Unlike [`NodeBuilder::peer_via`], nothing reconnects when it ends;
    /// the returned handle ends with the connection.
    pub fn open_connection(
        &self,
        io: impl Transport,
        peer: SocketAddr,
        origin_host: Option<&str>,
    ) -> tokio::task::JoinHandle<()> {
        let inner = self.inner.clone();
        let expected = origin_host.map(DiameterIdentity::from);
        let socket = tls::Socket::stream(Box::new(io));
        tokio::spawn(async move {
            if expected.as_ref().is_some_and(|h| !inner.elections.start(h))
                || inner.initiate(socket, peer, expected).await.is_none()
            {
                tracing::debug!("already connected; the new connection is not used");
            }
        })
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
        let deadline = crate::peer::later_tokio(tokio::time::Instant::now(), timeout);
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
                .filter(|a| a.id() == avp::REDIRECT_HOST)
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
                (c, 0, _) if c == avp::ORIGIN_HOST.code => by = v,
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
    ///
    /// The request's empty identity fields are filled first ([`Message::fill`]): a fresh
    /// Session-Id ([`Node::new_session_id`]), this node's Origin-Host and Origin-Realm, the
    /// Destination-Realm of the route ([`Node::destination_realm`]) and the application id. A
    /// required field still unset after that is an [`ErrorKind::Incomplete`] error: nothing
    /// is sent. `request` is the message, a reference to it (cloned), or a [`Call`] with a
    /// timeout and filter of its own.
    pub async fn call<Req: Message, Ans: Message>(
        &self,
        request: impl IntoCall<Req>,
    ) -> Result<Ans, Error> {
        self.call_filtered(request, None).await
    }

    /// A fresh Session-Id in the RFC 6733 §8.8 form `<Origin-Host>;<high 32 bits>;<low 32
    /// bits>`: the high part is the node's start time, the low part counts up.
    pub fn new_session_id(&self) -> Utf8String {
        let low = self.inner.session_low.fetch_add(1, Ordering::Relaxed);
        Utf8String::from(
            format!(
                "{};{};{}",
                self.inner.caps.origin_host, self.inner.session_high, low
            )
            .as_str(),
        )
    }

    /// The Destination-Realm a request of `app` gets when it has none: the realm of a
    /// configured route for the application, else the Origin-Realm of a peer in OKAY that has
    /// it (and that `filter` accepts).
    pub fn destination_realm(&self, app: u32, filter: Option<&Filter>) -> Option<DiameterIdentity> {
        let routed = self
            .inner
            .config
            .routes
            .iter()
            .filter(|r| r.realm != "*" && r.application.is_none_or(|a| a == app))
            .find(|r| r.action != RouteAction::Redirect);
        if let Some(r) = routed {
            return Some(DiameterIdentity::from(r.realm.as_str()));
        }
        let peers = self.inner.peers.lock().unwrap_or_else(|p| p.into_inner());
        let ready: Vec<&PeerInfo> = peers
            .iter()
            .filter(|p| {
                *p.state.borrow() == WatchdogState::Okay
                    && (app == 0 || p.applications.iter().any(|a| a.id() == app))
            })
            .map(|p| &p.info)
            .collect();
        ready
            .iter()
            .find(|p| filter.is_none_or(|f| f.accepts(p, &ready)))
            .map(|p| p.origin_realm.clone())
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

    /// [`Node::call`] restricted to the peers `filter` accepts (all peers with `None`); a
    /// [`Call`]'s own filter wins.
    pub async fn call_filtered<Req: Message, Ans: Message>(
        &self,
        request: impl IntoCall<Req>,
        filter: Option<Filter>,
    ) -> Result<Ans, Error> {
        let Call {
            mut message,
            timeout,
            filter: own,
        } = request.into_call();
        let filter = own.or(filter);
        let realm = || self.destination_realm(Req::APPLICATION_ID, filter.as_ref());
        let session = || self.new_session_id();
        message.fill(&Fill {
            origin_host: &self.inner.caps.origin_host,
            origin_realm: &self.inner.caps.origin_realm,
            destination_realm: &realm,
            session_id: &session,
            application_id: Req::APPLICATION_ID,
        });
        if let Some(name) = message.first_unset() {
            return Err(Error::new(
                ErrorKind::Incomplete,
                format!("{} not sent: {name} is required and still empty", Req::NAME),
            ));
        }
        let bytes = message.encode(0, 0);
        let answer = self
            .send_bytes_with(
                bytes,
                timeout.unwrap_or(self.inner.config.request_timeout),
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
