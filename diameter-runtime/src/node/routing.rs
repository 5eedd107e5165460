//! Routing: the realm routing table (local, relay, proxy, redirect), call filters, balancing,
//! the Redirect-Host-Usage cache, and choosing and dispatching to a peer (with failover).

use super::*;

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
    pub(crate) fn accepts(&self, p: &PeerInfo, all: &[&PeerInfo]) -> bool {
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

/// How requests are spread over the peers a route allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Balancing {
    /// In turn.
    #[default]
    RoundRobin,
    /// To the peer with the fewest requests waiting for an answer.
    LeastOutstanding,
}

/// What a cached redirect applies to (RFC 6733 §6.13, Redirect-Host-Usage).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RedirectKey {
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
pub(crate) struct RedirectFacts<'a> {
    app: u32,
    session: Option<&'a [u8]>,
    realm: Option<&'a [u8]>,
    host: Option<&'a [u8]>,
    user: Option<&'a [u8]>,
}

impl<'a> RedirectFacts<'a> {
    pub(crate) fn of(request: &'a Bytes) -> Self {
        let mut f = RedirectFacts {
            app: u32::from_be_bytes([request[8], request[9], request[10], request[11]]),
            ..Default::default()
        };
        for a in AvpReader::within(request, HEADER_LEN, request.len()).flatten() {
            let v = &request[a.start..a.end];
            match a.id() {
                avp::SESSION_ID => f.session = Some(v),
                avp::DESTINATION_REALM => f.realm = Some(v),
                avp::DESTINATION_HOST => f.host = Some(v),
                avp::USER_NAME => f.user = Some(v),
                _ => {}
            }
        }
        f
    }

    pub(crate) fn key(
        &self,
        usage: RedirectHostUsage,
        redirected_by: &[u8],
    ) -> Option<RedirectKey> {
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
pub(crate) struct RedirectCache {
    entries: VecDeque<(RedirectKey, String, tokio::time::Instant)>,
}

impl RedirectCache {
    const CAPACITY: usize = 10_000;

    pub(crate) fn insert(&mut self, key: RedirectKey, host: String, until: tokio::time::Instant) {
        self.entries.retain(|(k, _, _)| *k != key);
        self.entries.push_back((key, host, until));
        while self.entries.len() > Self::CAPACITY {
            self.entries.pop_front();
        }
    }

    /// The host for `request`, if a live entry matches: the most specific usage first
    /// (session, user, realm and application, realm, application, host).
    pub(crate) fn lookup(&mut self, request: &Bytes) -> Option<String> {
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

impl Inner {
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
            Some((per_attempt, _)) => overall.min(crate::peer::later_tokio(
                tokio::time::Instant::now(),
                per_attempt,
            )),
            None => overall,
        };
        let app = u32::from_be_bytes([request[8], request[9], request[10], request[11]]);
        let mut host_at = None;
        let mut realm_at = None;
        for a in AvpReader::within(&request, HEADER_LEN, request.len()).flatten() {
            match a.id() {
                avp::DESTINATION_HOST => host_at = Some(a.start..a.end),
                avp::DESTINATION_REALM => realm_at = Some(a.start..a.end),
                _ => {}
            }
        }
        let hop_by_hop = self.next_hop_by_hop();
        // The identifiers are set in place when nobody else holds the request, else on a copy.
        let mut b = request
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        Header::set_hop_by_hop(&mut b, hop_by_hop);
        match mode {
            Mode::New => Header::set_end_to_end(&mut b, self.next_end_to_end()),
            Mode::Failover => Header::add_flags(&mut b, CommandFlags::RETRANSMIT),
            Mode::Relay => {}
        }
        let bytes = b.freeze();
        let dest_host = host_at.map(|r| &bytes[r]);
        let dest_realm = realm_at.map(|r| &bytes[r]);
        let (mut reply, mut sel) = (reply, sel);
        loop {
            let Some((tx, host, counters)) =
                self.route(app, dest_host, dest_realm, &sel, Some(&bytes))
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

    /// Picks a peer for a request: Destination-Host if connected, else round-robin over the
    /// OKAY peers that share the application, those in Destination-Realm first.
    pub(crate) fn route(
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
