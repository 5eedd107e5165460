//! Listeners and connectors: accepting connections within the limits, and keeping configured
//! peers connected (Tc reconnect with backoff, the peer state machine's Start).

use super::*;

/// Accepts connections; with `tls`, each starts with a TLS handshake (RFC 6733 §2.1's TLS
/// port) before anything else is read.
pub(crate) async fn accept_loop(inner: Arc<Inner>, listener: TcpListener, tls: Option<TlsConfig>) {
    let mut shutdown = inner.shutdown.subscribe();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, addr)) => {
                    if let Err(e) = inner.admit() {
                        tracing::warn!(%addr, "{e}; closing a new connection");
                        drop(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let stream = match &tls {
                        None => tls::Socket::Plain(stream),
                        Some(config) => match tls::Socket::tls_server(stream, config) {
                            Ok(s) => s,
                            Err(e) => {
                                tracing::warn!(%addr, "TLS: {e}");
                                continue;
                            }
                        },
                    };
                    inner.respond(stream, addr);
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

/// How a persistent peer is reached.
pub(crate) enum Dial {
    /// TCP to an address, with TLS from the start (`aaas://`): the TLS configuration and the
    /// URI's host.
    Tcp {
        addr: String,
        tls: Option<(TlsConfig, String)>,
    },
    /// A user's connector.
    Custom(Arc<dyn super::transport::Connector>),
    /// SCTP to every address `host_port` resolves to, from `local` when given.
    Sctp {
        host_port: String,
        local: Vec<std::net::IpAddr>,
    },
}

impl Dial {
    /// How the peer is shown in logs and events.
    fn label(&self) -> String {
        match self {
            Dial::Tcp { addr, .. } => addr.clone(),
            Dial::Custom(c) => format!("{} (custom transport)", c.peer_addr()),
            Dial::Sctp { host_port, .. } => format!("{host_port} (SCTP)"),
        }
    }

    /// Opens a connection: the socket and the peer's address, or why not (and whether that
    /// is worth a warning rather than a debug line).
    async fn open(
        &self,
        identity: Option<&DiameterIdentity>,
    ) -> Result<(tls::Socket, SocketAddr), (String, bool)> {
        match self {
            Dial::Custom(c) => {
                let io = c
                    .connect()
                    .await
                    .map_err(|e| (format!("connect: {e}"), false))?;
                Ok((tls::Socket::stream(io), c.peer_addr()))
            }
            Dial::Sctp { host_port, local } => {
                let remote: Vec<SocketAddr> = tokio::net::lookup_host(host_port.as_str())
                    .await
                    .map_err(|e| (format!("resolve {host_port}: {e}"), false))?
                    .collect();
                let local: Vec<SocketAddr> =
                    local.iter().map(|ip| SocketAddr::new(*ip, 0)).collect();
                let (io, peer) = sctp_connect(&remote, &local)
                    .await
                    .map_err(|e| (format!("SCTP connect {host_port}: {e}"), true))?;
                Ok((tls::Socket::stream(io), peer))
            }
            Dial::Tcp { addr, tls } => {
                let stream = TcpStream::connect(addr.as_str())
                    .await
                    .map_err(|e| (format!("connect {addr}: {e}"), false))?;
                let _ = stream.set_nodelay(true);
                let peer = stream
                    .peer_addr()
                    .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                // aaas://: the peer's certificate must name its Origin-Host when we know it,
                // else the URI's host.
                let socket = match tls {
                    None => tls::Socket::Plain(stream),
                    Some((config, uri_host)) => {
                        let name = identity
                            .map(|h| h.as_str().to_string())
                            .unwrap_or_else(|| uri_host.clone());
                        tls::server_name(&name)
                            .map_err(|e| std::io::Error::other(e.to_string()))
                            .and_then(|n| tls::Socket::tls_client(stream, config, n))
                            .map_err(|e| (format!("{addr}: {e}"), true))?
                    }
                };
                Ok((socket, peer))
            }
        }
    }
}

/// Keeps a persistent peer connected: `Start` for its state machine, connect, and again
/// after Tc when the connection ends. While the peer is connected to us (or a connection is
/// being set up) it waits.
pub(crate) async fn connect_loop(
    inner: Arc<Inner>,
    dial: Dial,
    mut identity: Option<DiameterIdentity>,
) {
    let mut shutdown = inner.shutdown.subscribe();
    let mut backoff = Duration::from_millis(200);
    let label = dial.label();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let start = identity.as_ref().is_none_or(|h| inner.elections.start(h));
        if start {
            match dial.open(identity.as_ref()).await {
                Ok((stream, peer)) => {
                    backoff = Duration::from_millis(200);
                    match inner.initiate(stream, peer, identity.clone()).await {
                        Some((outcome, host)) => {
                            identity = host.or(identity);
                            if outcome == driver::Outcome::DoNotReconnect {
                                tracing::info!("{label}: the peer asked not to reconnect");
                                return;
                            }
                        }
                        None => {
                            tracing::debug!("{label}: the election keeps the peer's connection")
                        }
                    }
                }
                Err((e, warn)) => {
                    inner.event(Event::ConnectionFailed {
                        addr: label.clone(),
                        reason: e.clone(),
                    });
                    if warn {
                        tracing::warn!("{e}");
                    } else {
                        tracing::debug!("{e}");
                    }
                    if let Some(h) = &identity {
                        inner.elections.conn_nack(h);
                    }
                }
            }
        }
        let wait = backoff.min(inner.config.reconnect);
        backoff = backoff.saturating_mul(2).min(inner.config.reconnect);
        inner.event(Event::Reconnecting {
            addr: label.clone(),
            after: wait,
        });
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(all(feature = "sctp", target_os = "linux"))]
use super::sctp::connect as sctp_connect;

#[cfg(not(all(feature = "sctp", target_os = "linux")))]
async fn sctp_connect(
    _remote: &[SocketAddr],
    _local: &[SocketAddr],
) -> std::io::Result<(Box<dyn super::transport::Transport>, SocketAddr)> {
    Err(super::sctp::unavailable())
}

/// Accepts SCTP associations, within the connection limits, as [`accept_loop`] does for TCP.
#[cfg(all(feature = "sctp", target_os = "linux"))]
pub(crate) async fn sctp_accept_loop(inner: Arc<Inner>, listener: super::sctp::Listener) {
    let mut shutdown = inner.shutdown.subscribe();
    loop {
        tokio::select! {
            r = super::sctp::accept(&listener) => match r {
                Ok((io, addr)) => {
                    if let Err(e) = inner.serve(io, addr) {
                        tracing::warn!(%addr, "{e}; closing a new SCTP association");
                    }
                }
                Err(e) => {
                    tracing::warn!("SCTP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = shutdown.changed() => return,
        }
    }
}
