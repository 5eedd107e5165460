//! TLS for peer connections, RFC 6733 style: the handshake right after the TCP connect,
//! before CER, on a listener of its own (5658 by convention) and to `aaas://` peers.
//!
//! rustls is driven without its I/O helpers: the connection's records go through the same
//! non-blocking socket reads and writes as plain TCP, so the driver keeps one loop for both.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use bytes::BytesMut;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::TcpStream;

use super::{Error, ErrorKind};

/// Certificates and keys for TLS: this node's certificate chain and key (PEM), the CAs its
/// peers' certificates must chain to, and whether clients must present a certificate.
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) server: Arc<ServerConfig>,
    pub(crate) client: Arc<ClientConfig>,
    pub(crate) check_client_names: bool,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConfig { .. }")
    }
}

fn config_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Config, format!("TLS: {what}: {e}"))
}

impl TlsConfig {
    /// From PEM files: `cert` (chain, leaf first), `key` (PKCS#8, PKCS#1 or SEC1) and `ca`
    /// (one or more CA certificates peers must chain to). With `require_client_cert`, a
    /// listener refuses clients without a certificate from `ca` (mutual TLS).
    pub fn from_pem_files(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
        ca: impl AsRef<Path>,
        require_client_cert: bool,
    ) -> Result<TlsConfig, Error> {
        let read = |p: &Path| {
            std::fs::read_to_string(p)
                .map_err(|e| config_error(&format!("cannot read {}", p.display()), e))
        };
        Self::from_pem(
            &read(cert.as_ref())?,
            &read(key.as_ref())?,
            &read(ca.as_ref())?,
            require_client_cert,
        )
    }

    /// [`TlsConfig::from_pem_files`] from PEM text.
    pub fn from_pem(
        cert: &str,
        key: &str,
        ca: &str,
        require_client_cert: bool,
    ) -> Result<TlsConfig, Error> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| config_error("certificate", e))?;
        if chain.is_empty() {
            return Err(config_error(
                "certificate",
                "no CERTIFICATE block in the PEM",
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
            .map_err(|e| config_error("private key", e))?;
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
            let c = c.map_err(|e| config_error("CA certificate", e))?;
            roots
                .add(c)
                .map_err(|e| config_error("CA certificate", e))?;
        }
        if roots.is_empty() {
            return Err(config_error("CA", "no CERTIFICATE block in the PEM"));
        }
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());

        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error("protocol versions", e))?;
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone());
        let verifier = if require_client_cert {
            verifier.build()
        } else {
            verifier.allow_unauthenticated().build()
        }
        .map_err(|e| config_error("client verifier", e))?;
        let server = builder
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| config_error("certificate and key", e))?;

        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error("protocol versions", e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| config_error("certificate and key", e))?;
        Ok(TlsConfig {
            server: Arc::new(server),
            client: Arc::new(client),
            check_client_names: true,
        })
    }

    /// Whether a client's certificate must name the Origin-Host its CER gives (default on):
    /// a CER from a host its certificate does not name is answered 3010
    /// (DIAMETER_UNKNOWN_PEER). Servers' certificates are always checked against the
    /// Origin-Host (or URI host) a node connects to.
    pub fn check_client_names(mut self, on: bool) -> Self {
        self.check_client_names = on;
        self
    }
}

/// The name a peer's certificate must carry: its expected Origin-Host, else the URI's host.
pub(crate) fn server_name(name: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(name.to_string()).map_err(|e| {
        config_error(
            &format!("`{name}` is not a name a certificate can carry"),
            e,
        )
    })
}

/// A connection's socket: plain TCP, or TCP carrying TLS records.
pub(crate) enum Socket {
    Plain(TcpStream),
    Tls(Box<TlsSocket>),
    /// A user's [`Transport`](super::transport::Transport).
    Stream(Box<super::transport::StreamSocket>),
    /// An in-band upgrade failed to start: the socket is gone.
    Gone,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the TLS upgrade failed")
}

pub(crate) struct TlsSocket {
    tcp: TcpStream,
    conn: rustls::Connection,
    /// The peer ended the TLS session (close_notify) or the TCP stream.
    eof: bool,
}

/// A `Write` over the socket's non-blocking writes, for rustls's records.
struct TcpWriter<'a>(&'a TcpStream);

impl Write for TcpWriter<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.try_write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}"))
}

impl Socket {
    /// A connection on a user's transport.
    pub(crate) fn stream(io: Box<dyn super::transport::Transport>) -> Socket {
        Socket::Stream(Box::new(super::transport::StreamSocket::new(io)))
    }

    /// The accepting side of a TLS session on `tcp`.
    pub(crate) fn tls_server(tcp: TcpStream, config: &TlsConfig) -> io::Result<Socket> {
        let conn = rustls::ServerConnection::new(config.server.clone()).map_err(tls_error)?;
        Ok(Socket::Tls(Box::new(TlsSocket {
            tcp,
            conn: conn.into(),
            eof: false,
        })))
    }

    /// The connecting side of a TLS session on `tcp`, expecting a certificate for `name`.
    pub(crate) fn tls_client(
        tcp: TcpStream,
        config: &TlsConfig,
        name: ServerName<'static>,
    ) -> io::Result<Socket> {
        let conn = rustls::ClientConnection::new(config.client.clone(), name).map_err(tls_error)?;
        Ok(Socket::Tls(Box::new(TlsSocket {
            tcp,
            conn: conn.into(),
            eof: false,
        })))
    }

    /// Turns a plain connection into TLS in band (RFC 3588 style, after CER/CEA): as the
    /// client checking the peer's certificate for `peer`, or as the server without one.
    pub(crate) fn upgrade(
        &mut self,
        config: &TlsConfig,
        peer: Option<ServerName<'static>>,
    ) -> io::Result<()> {
        let tcp = match std::mem::replace(self, Socket::Gone) {
            Socket::Plain(tcp) => tcp,
            Socket::Stream(s) => {
                *self = Socket::Stream(s);
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "in-band TLS needs a TCP connection, not a custom transport",
                ));
            }
            other => {
                *self = other;
                return Ok(());
            }
        };
        *self = match peer {
            Some(name) => Socket::tls_client(tcp, config, name)?,
            None => Socket::tls_server(tcp, config)?,
        };
        Ok(())
    }

    /// Whether the connection runs TLS.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Socket::Tls(_))
    }

    /// Whether a TLS handshake is over (always, for a connection without TLS).
    pub(crate) fn handshake_done(&self) -> bool {
        match self {
            Socket::Tls(t) => !t.conn.is_handshaking(),
            _ => true,
        }
    }

    /// Whether the certificate the peer presented names `host`; `None` without one.
    pub(crate) fn peer_certificate_names(&self, host: &str) -> Option<bool> {
        let Socket::Tls(t) = self else {
            return None;
        };
        let leaf = t.conn.peer_certificates()?.first()?;
        let Ok(name) = ServerName::try_from(host) else {
            return Some(false);
        };
        let Ok(parsed) = rustls::server::ParsedCertificate::try_from(leaf) else {
            return Some(false);
        };
        Some(rustls::client::verify_server_name(&parsed, &name).is_ok())
    }

    /// Waits until the socket has something to read.
    pub(crate) async fn readable(&self) -> io::Result<()> {
        match self {
            Socket::Plain(s) => s.readable().await,
            Socket::Tls(t) => t.tcp.readable().await,
            Socket::Stream(s) => s.readable().await,
            Socket::Gone => Err(gone()),
        }
    }

    /// Waits until the socket takes writes.
    pub(crate) async fn writable(&self) -> io::Result<()> {
        match self {
            Socket::Plain(s) => s.writable().await,
            Socket::Tls(t) => t.tcp.writable().await,
            Socket::Stream(s) => s.writable().await,
            Socket::Gone => Err(gone()),
        }
    }

    /// TLS records (handshake, alerts, data) wait to be written.
    pub(crate) fn wants_write(&self) -> bool {
        match self {
            Socket::Plain(_) | Socket::Gone => false,
            Socket::Tls(t) => t.conn.wants_write(),
            Socket::Stream(s) => s.wants_write(),
        }
    }

    /// Reads what the socket has, without waiting: `Ok(0)` at the end of the stream,
    /// `WouldBlock` when nothing (no plaintext yet, for TLS) is there.
    pub(crate) fn try_read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Socket::Plain(s) => s.try_read_buf(buf),
            Socket::Tls(t) => t.try_read_buf(buf),
            Socket::Stream(s) => s.try_read_buf(buf),
            Socket::Gone => Err(gone()),
        }
    }

    /// Writes what the socket takes, without waiting.
    pub(crate) fn try_write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Plain(s) => s.try_write(b),
            Socket::Tls(t) => t.try_write(b),
            Socket::Stream(s) => s.try_write(b),
            Socket::Gone => Err(gone()),
        }
    }

    /// Writes pending TLS records, without waiting.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match self {
            Socket::Plain(_) | Socket::Gone => Ok(()),
            Socket::Tls(t) => t.flush(),
            Socket::Stream(s) => s.flush(),
        }
    }

    /// Ends the stream: close_notify for TLS, then the TCP write side.
    pub(crate) async fn shutdown(&mut self) {
        let tcp = match self {
            Socket::Plain(s) => s,
            Socket::Tls(t) => {
                t.conn.send_close_notify();
                let _ = t.flush();
                &mut t.tcp
            }
            Socket::Stream(s) => return s.shutdown().await,
            Socket::Gone => return,
        };
        let _ = tokio::io::AsyncWriteExt::shutdown(tcp).await;
    }
}

impl TlsSocket {
    fn flush(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut TcpWriter(&self.tcp)) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Moves decrypted bytes into `buf`; whether the peer closed the session.
    fn drain(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        let mut got = 0;
        let mut chunk = [0u8; 8192];
        loop {
            match self.conn.reader().read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(got);
                }
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    got += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(got),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.eof = true;
                    return Ok(got);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn try_read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        let mut got = 0;
        let mut records = [0u8; 16384];
        while !self.eof {
            let n = match self.tcp.try_read(&mut records) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            };
            let mut rd = &records[..n];
            while !rd.is_empty() {
                // rustls takes nothing more once the session is over (close_notify or a
                // fatal alert): what follows is dropped, and the stream is at its end.
                if self.conn.read_tls(&mut rd)? == 0 {
                    self.eof = true;
                    break;
                }
                if let Err(e) = self.conn.process_new_packets() {
                    // The alert that tells the peer why.
                    let _ = self.flush();
                    return Err(tls_error(e));
                }
                got += self.drain(buf)?;
            }
            if n < records.len() {
                break;
            }
        }
        // Handshake messages and acknowledgements the records just read call for.
        self.flush()?;
        match (got, self.eof) {
            (0, true) => Ok(0),
            (0, false) => Err(io::ErrorKind::WouldBlock.into()),
            (n, _) => Ok(n),
        }
    }

    fn try_write(&mut self, b: &[u8]) -> io::Result<usize> {
        // Records not yet on the wire hold further writes back, so the caller's buffer (and
        // its high-water mark) stays where unwritten bytes are counted.
        self.flush()?;
        if self.conn.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.conn.writer().write(b)?;
        self.flush()?;
        Ok(n)
    }
}
