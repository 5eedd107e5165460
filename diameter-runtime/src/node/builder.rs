//! Building a node: identity, applications, peers, listeners, limits and policies.

use super::*;

/// Builds a [`Node`].
pub struct NodeBuilder {
    pub(crate) caps: Capabilities,
    pub(crate) config: Config,
    /// (address, TLS listener).
    pub(crate) listen: Vec<(String, bool)>,
    pub(crate) tls: Option<TlsConfig>,
    /// (Origin-Host if given, URI or address).
    pub(crate) peers: Vec<(Option<String>, String)>,
    /// (Origin-Host if given, connector): peers over a custom transport.
    pub(crate) custom_peers: Vec<(Option<String>, Arc<dyn Connector>)>,
    /// SCTP listeners, each with its addresses (several: multihomed).
    pub(crate) sctp_listen: Vec<Vec<String>>,
    /// Local addresses of outgoing SCTP associations.
    pub(crate) sctp_local: Vec<std::net::IpAddr>,
    pub(crate) handler: Option<Arc<dyn Handler>>,
    pub(crate) callbacks: Option<Arc<dyn Callbacks>>,
    pub(crate) apps: Vec<Application>,
    pub(crate) dictionary: Option<Arc<crate::dictionary::Dictionary>>,
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
    /// Timeout of requests sent with [`Node::call`] (default 10 s). This and every other
    /// timeout of the builder may be `Duration::MAX`: never.
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

    /// How long a DPA is awaited after our DPR before the connection closes anyway (2 s by
    /// default).
    pub fn dpa_timeout(mut self, t: Duration) -> Self {
        self.config.dpa_timeout = t;
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

    /// Low-latency mode: after traffic, each connection keeps polling its socket and queues
    /// for `window` instead of sleeping until the kernel wakes it (off by default).
    ///
    /// On a VM, waking an idle vCPU costs tens of microseconds, which then dominates the
    /// round trip of a lone request. Polling through the window avoids that wakeup when the
    /// next message comes within it, at the price of a core kept busy for up to `window`
    /// after each message. On a 2-vCPU VM, one request in flight between `diameter serve`
    /// and `diameter bench` on loopback: p50 10–12 µs with 50 µs windows against 87–90 µs
    /// without (`scripts/bench-latency.sh`).
    ///
    /// Worth it for few, latency-bound exchanges where each end has a core of its own: two
    /// busy-polling ends pinned to one CPU take turns by time slice (p50 above 100 µs), and
    /// under load the polling is extra CPU (serve at 256 in flight: about 1.6 µs per answer
    /// instead of 1.1). The window is measured on tokio's clock: under a paused clock
    /// (`tokio::time::pause`) it only passes when the test advances time.
    pub fn busy_poll(mut self, window: Duration) -> Self {
        self.config.busy_poll = Some(window).filter(|w| !w.is_zero());
        self
    }

    /// Keeps the answers to the last `capacity` requests (8,192 by default; 0 turns it off;
    /// the oldest eighth is dropped at once, so at least 7/8 of `capacity` are held) and
    /// replays them to duplicates — a request with the T flag whose Origin-Host and
    /// End-to-End id were already answered (RFC 6733 §5.5.4) — under their new Hop-by-Hop
    /// id, instead of handling them again. At most 16 MiB of answers are held.
    ///
    /// Every answer is copied into the cache, which is most of its cost: about 0.1 µs of
    /// server CPU per answer at 300,000 answers/s on a small VM (`diameter serve`, median of
    /// six runs: 1.01 µs per validated answer with it, 0.89 µs without). Size it for the
    /// history duplicates need: at that rate 8,192 answers are 27 ms.
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
        self.listen.push((addr.to_string(), false));
        self
    }
    /// Listens on a TCP address where every connection starts with a TLS handshake (RFC 6733
    /// §2.1; port 5658 by convention). Needs [`NodeBuilder::tls`].
    pub fn listen_tls(mut self, addr: &str) -> Self {
        self.listen.push((addr.to_string(), true));
        self
    }
    /// Listens on SCTP (one-to-one style, RFC 6733 §2.1), on all of `addrs` at once
    /// (`["10.0.0.1:3868", "10.0.1.1"]`: a multihomed endpoint; the port of the first is used
    /// for all). Associations ask for 16 streams each way; CER/CEA and DPR/DPA go on stream 0,
    /// other messages round-robin over the others, with PPID 46. When the node's
    /// Host-IP-Address is still the default, it becomes these addresses. Needs the `sctp`
    /// feature and a kernel with SCTP; [`NodeBuilder::start`] fails with one clear error
    /// otherwise.
    pub fn listen_sctp(mut self, addrs: &[&str]) -> Self {
        self.sctp_listen
            .push(addrs.iter().map(|a| a.to_string()).collect());
        self
    }
    /// The local addresses outgoing SCTP associations bind to (multihoming); by default the
    /// kernel's choice.
    pub fn sctp_local_addresses(mut self, addrs: &[std::net::IpAddr]) -> Self {
        self.sctp_local = addrs.to_vec();
        self
    }
    /// This node's certificate, key and trusted CAs, for TLS listeners and `aaas://` peers.
    pub fn tls(mut self, config: TlsConfig) -> Self {
        self.tls = Some(config);
        self
    }
    /// TLS in band, RFC 3588 style: CER/CEA advertise Inband-Security-Id TLS (1) only, and
    /// the connection turns to TLS right after them. A peer that does not offer TLS is
    /// refused with 5017 (DIAMETER_NO_COMMON_SECURITY). Needs [`NodeBuilder::tls`].
    pub fn tls_inband(mut self) -> Self {
        self.caps.inband_security_ids = vec![crate::base::InbandSecurityId::TLS];
        self
    }
    /// A persistent peer to connect to: `aaa://host[:port][;transport=tcp|sctp]` or
    /// `host:port`. Over SCTP, every address the host resolves to is given to the association
    /// (a multihomed peer).
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
    /// A persistent peer reached over a custom [`Transport`](super::Transport): the node
    /// calls `connector` for each connection (the first, and again after Tc whenever one
    /// ends). `origin_host`, when known, lets the election of RFC 6733 §5.6.4 run as for
    /// [`NodeBuilder::peer_at`]; else it is learnt from the CEA.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), diameter_runtime::node::Error> {
    /// use diameter_runtime::node::Node;
    ///
    /// let client = Node::builder()
    ///     .origin_host("client.example.net")
    ///     .origin_realm("example.net")
    ///     .auth_application(4)
    ///     .peer_via(Some("ocs.example.net"), || tokio::net::UnixStream::connect("/run/ocs.sock"))
    ///     .start()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn peer_via(mut self, origin_host: Option<&str>, connector: impl Connector) -> Self {
        self.custom_peers
            .push((origin_host.map(str::to_string), Arc::new(connector)));
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
        if self
            .caps
            .inband_security_ids
            .contains(&crate::base::InbandSecurityId::TLS)
            && self.tls.is_none()
        {
            return Err(Error::new(
                ErrorKind::Config,
                "in-band TLS (Inband-Security-Id 1) needs NodeBuilder::tls (certificate, key, CA)",
            ));
        }
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
        // A multihomed SCTP endpoint announces all its addresses (unless told otherwise).
        if self.caps.host_ip_addresses == [std::net::IpAddr::from([127, 0, 0, 1])] {
            let ips: Vec<std::net::IpAddr> = self
                .sctp_listen
                .iter()
                .flatten()
                .filter_map(|a| {
                    a.parse::<SocketAddr>()
                        .map(|s| s.ip())
                        .or_else(|_| a.parse::<std::net::IpAddr>())
                        .ok()
                })
                .filter(|ip| !ip.is_unspecified())
                .collect();
            if !ips.is_empty() {
                self.caps.host_ip_addresses = ips;
            }
        }
        let mut addrs = Vec::new();
        for (identity, p) in &self.peers {
            let (target, host) = parse_peer(p)?;
            let identity = identity.clone().or(host).map(DiameterIdentity::from);
            let addr = match target {
                Target::Tcp(addr) => addr,
                Target::Sctp(host_port) => {
                    if p.starts_with("aaas://") {
                        return Err(Error::new(
                            ErrorKind::Config,
                            format!(
                                "{p}: TLS over SCTP (DTLS) is not supported; use aaa:// for SCTP"
                            ),
                        ));
                    }
                    super::sctp::probe()
                        .map_err(|e| Error::new(ErrorKind::Config, format!("{p}: {e}")))?;
                    let dial = Dial::Sctp {
                        host_port,
                        local: self.sctp_local.clone(),
                    };
                    addrs.push((dial, identity));
                    continue;
                }
            };
            let tls = match (p.starts_with("aaas://"), &self.tls) {
                (false, _) => None,
                (true, Some(config)) => {
                    let uri_host = DiameterUri::parse(p)
                        .map(|u| u.host)
                        .map_err(|e| Error::new(ErrorKind::Config, e))?;
                    Some((config.clone(), uri_host))
                }
                (true, None) => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "{p}: an aaas:// peer needs NodeBuilder::tls (certificate, key, CA)"
                        ),
                    ))
                }
            };
            addrs.push((Dial::Tcp { addr, tls }, identity));
        }
        for (identity, connector) in self.custom_peers.drain(..) {
            addrs.push((
                Dial::Custom(connector),
                identity.map(DiameterIdentity::from),
            ));
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
        let elections = election::Elections::new(self.caps.origin_host.as_str(), self.config.psm());
        let inner = Arc::new(Inner {
            caps: Arc::new(self.caps),
            tls: self.tls.clone(),
            session_high: now.as_secs() as u32,
            session_low: AtomicU32::new(0),
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
        for (l, secure) in &self.listen {
            let tls = match (secure, &self.tls) {
                (false, _) => None,
                (true, Some(config)) => Some(config.clone()),
                (true, None) => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!("TLS listener {l} needs NodeBuilder::tls (certificate, key, CA)"),
                    ))
                }
            };
            let listener = TcpListener::bind(l.as_str())
                .await
                .map_err(|e| Error::new(ErrorKind::Io, format!("cannot listen on {l}: {e}")))?;
            local_addrs.push(listener.local_addr()?);
            tokio::spawn(accept_loop(inner.clone(), listener, tls));
        }
        for addrs in &self.sctp_listen {
            local_addrs.extend(listen_sctp(&inner, addrs).await?);
        }
        for (dial, identity) in addrs {
            tokio::spawn(connect_loop(inner.clone(), dial, identity));
        }
        Ok(Node { inner, local_addrs })
    }
}

/// Where a peer URI points.
enum Target {
    /// `host:port` for TCP.
    Tcp(String),
    /// `host:port` for SCTP.
    Sctp(String),
}

/// The address to connect to, and the peer's identity when the URI names a host (its
/// DiameterIdentity, RFC 6733 §4.3.1) rather than an address.
fn parse_peer(p: &str) -> Result<(Target, Option<String>), Error> {
    if p.starts_with("aaa://") || p.starts_with("aaas://") {
        let uri = DiameterUri::parse(p).map_err(|e| Error::new(ErrorKind::Config, e))?;
        let name = uri
            .host
            .parse::<std::net::IpAddr>()
            .is_err()
            .then(|| uri.host.clone());
        let host_port = if uri.host.contains(':') {
            format!("[{}]:{}", uri.host, uri.port)
        } else {
            format!("{}:{}", uri.host, uri.port)
        };
        let target = match uri.transport {
            crate::codec::types::Transport::Tcp => Target::Tcp(host_port),
            crate::codec::types::Transport::Sctp => Target::Sctp(host_port),
            crate::codec::types::Transport::Udp => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("{p}: Diameter does not run over UDP"),
                ));
            }
        };
        return Ok((target, name));
    }
    Ok((Target::Tcp(p.to_string()), None))
}

/// Whether SCTP can be used here: `Err` names what is missing — the kernel's SCTP support
/// (sockets with IPPROTO_SCTP refused), or the `sctp` feature of this crate.
pub fn sctp_available() -> Result<(), Error> {
    super::sctp::probe().map_err(|e| Error::new(ErrorKind::Config, e.to_string()))
}

/// Binds an SCTP listener on `addrs` and starts accepting: the addresses it is bound to.
async fn listen_sctp(inner: &Arc<Inner>, addrs: &[String]) -> Result<Vec<SocketAddr>, Error> {
    let what = addrs.join(", ");
    super::sctp::probe()
        .map_err(|e| Error::new(ErrorKind::Config, format!("SCTP listener {what}: {e}")))?;
    let mut local = Vec::new();
    for a in addrs {
        // An address without a port takes the first one's (see sctp::listen).
        let addr = match a.parse::<std::net::IpAddr>() {
            Ok(ip) => Some(SocketAddr::new(ip, 0)),
            Err(_) => tokio::net::lookup_host(a.as_str())
                .await
                .map_err(|e| Error::new(ErrorKind::Config, format!("SCTP listener {a}: {e}")))?
                .next(),
        };
        local.extend(addr);
    }
    #[cfg(all(feature = "sctp", target_os = "linux"))]
    {
        let (listener, bound) = super::sctp::listen(&local)
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot listen on SCTP {what}: {e}")))?;
        tokio::spawn(super::listener::sctp_accept_loop(inner.clone(), listener));
        Ok(bound)
    }
    #[cfg(not(all(feature = "sctp", target_os = "linux")))]
    {
        let _ = (inner, local);
        Err(Error::new(
            ErrorKind::Config,
            super::sctp::unavailable().to_string(),
        ))
    }
}
