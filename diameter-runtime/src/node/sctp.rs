//! SCTP (RFC 6733 §2.1): one-to-one sockets, several streams, multihoming, PPID 46.
//!
//! An association is bridged to the connection driver as a [`Transport`]: a reader task
//! passes what SCTP delivers on to the driver as a byte stream (the connection's framing
//! finds the messages, as on TCP); a writer task cuts the driver's output back into whole
//! messages and sends each as one SCTP message, on the stream [`StreamChooser`] picks, with
//! payload protocol identifier 46 (Diameter in clear text).
//!
//! The kernel must have SCTP (Linux: the `sctp` module). Where it does not, opening a socket
//! fails and the node reports it in one error naming the missing kernel support.

use crate::codec::{Header, HEADER_LEN};
use crate::peer::connection::command::{CAPABILITIES_EXCHANGE, DISCONNECT_PEER};

/// SCTP payload protocol identifier of Diameter in clear text (RFC 6733 §2.1; 47 is DTLS).
pub const PPID_DIAMETER: u32 = 46;

/// Streams asked for in each direction when an association starts; the peer may grant fewer.
pub const STREAMS: u16 = 16;

/// Picks the outbound stream of each message: the capabilities exchange and the disconnect
/// (CER/CEA, DPR/DPA) go on stream 0, so they stay in order with each other; everything else
/// is spread round-robin over streams 1.. below the negotiated outbound count (all on 0 when
/// only one was granted).
///
/// SCTP keeps order within a stream only. Until the peer has shown that it is past the
/// capabilities exchange ([`StreamChooser::peer_settled`]: a second message received from
/// it), everything goes on stream 0, so nothing sent after our CEA can reach the peer before
/// it.
#[derive(Debug, Clone)]
pub struct StreamChooser {
    outbound: u16,
    next: u16,
    settled: bool,
}

impl StreamChooser {
    /// For an association with `outbound` streams granted.
    pub fn new(outbound: u16) -> Self {
        StreamChooser {
            outbound,
            next: 1,
            settled: false,
        }
    }

    /// The peer is past the capabilities exchange: other streams may be used from now on.
    pub fn peer_settled(&mut self) {
        self.settled = true;
    }

    /// The stream for `message` (an encoded Diameter message).
    pub fn choose(&mut self, message: &[u8]) -> u16 {
        if message.len() < HEADER_LEN {
            return 0;
        }
        let command = Header::peek(message).command_code;
        if command == CAPABILITIES_EXCHANGE
            || command == DISCONNECT_PEER
            || self.outbound <= 1
            || !self.settled
        {
            return 0;
        }
        if self.next >= self.outbound {
            self.next = 1;
        }
        let sid = self.next;
        self.next += 1;
        sid
    }
}

/// The error for a kernel without SCTP, or the cause as it is.
#[cfg_attr(not(all(feature = "sctp", target_os = "linux")), allow(dead_code))]
pub(crate) fn kernel_error(e: std::io::Error) -> std::io::Error {
    // EPROTONOSUPPORT, ESOCKTNOSUPPORT (Linux numbers).
    if matches!(e.raw_os_error(), Some(93) | Some(94)) {
        std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!(
                "SCTP is not available: this kernel refuses SCTP sockets ({e}); load its SCTP support (modprobe sctp) or use transport=tcp"
            ),
        )
    } else {
        e
    }
}

#[cfg(all(feature = "sctp", target_os = "linux"))]
pub(crate) use sys::{accept, connect, listen, probe, Listener};

#[cfg(all(feature = "sctp", target_os = "linux"))]
mod sys {
    use std::io;
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use sctp_rs::{
        BindxFlags, ConnectedSocket, NotificationOrData, SendData, SendInfo, Socket,
        SocketToAssociation,
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use bytes::BytesMut;

    use super::{kernel_error, StreamChooser, PPID_DIAMETER, STREAMS};
    use crate::codec::Framer;
    use crate::node::transport::Transport;

    /// The largest Message-Length a header can carry: the framers here cut our own output
    /// and count the peer's first messages; the connection judges the peer's lengths.
    const MAX_FRAME: usize = 0x00ff_ffff;

    /// Longest wait for an association to come up.
    const CONNECT_WITHIN: Duration = Duration::from_secs(10);
    /// Longest a message waits for room in a full socket before the association is dropped.
    const SEND_WITHIN: Duration = Duration::from_secs(10);

    /// A listening one-to-one SCTP socket.
    pub(crate) type Listener = sctp_rs::Listener;

    /// Asks the kernel for an SCTP socket, so a kernel without SCTP is named (the socket
    /// library does not report a failed `socket()` as it is). The probe socket is closed
    /// when dropped; no runtime is needed.
    fn kernel_probe(v6: bool) -> io::Result<()> {
        let domain = if v6 {
            socket2::Domain::IPV6
        } else {
            socket2::Domain::IPV4
        };
        socket2::Socket::new(
            domain,
            socket2::Type::STREAM,
            Some(socket2::Protocol::from(132)),
        )
        .map(drop)
        .map_err(kernel_error)
    }

    /// Whether SCTP sockets can be opened here.
    pub(crate) fn probe() -> io::Result<()> {
        kernel_probe(false)
    }

    fn socket(v6: bool) -> io::Result<Socket> {
        kernel_probe(v6)?;
        let s = if v6 {
            Socket::new_v6(SocketToAssociation::OneToOne)
        } else {
            Socket::new_v4(SocketToAssociation::OneToOne)
        }?;
        if let Err(e) = s.sctp_setup_init_params(STREAMS, STREAMS, 0, 0) {
            discard(s);
            return Err(e);
        }
        Ok(s)
    }

    /// Closes a socket that will not be used. The library's `Socket` does not close its
    /// descriptor when dropped; a `Listener` does, so the socket becomes one first.
    fn discard(s: Socket) {
        let _ = s.listen(1);
    }

    /// The addresses of one family (a socket is IPv4 or IPv6).
    fn one_family(addrs: &[SocketAddr], v6: bool) -> Vec<SocketAddr> {
        addrs
            .iter()
            .copied()
            .filter(|a| a.is_ipv6() == v6)
            .collect()
    }

    /// Binds `local` (several addresses: a multihomed endpoint; the port of the first is
    /// used for all) and listens: the listener and the addresses it is bound to.
    pub(crate) fn listen(local: &[SocketAddr]) -> io::Result<(Listener, Vec<SocketAddr>)> {
        let first = local
            .first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no SCTP address"))?;
        let local = one_family(local, first.is_ipv6());
        if local.len() > 1 && first.port() == 0 {
            // The port is learnt only once listening: a multihomed listener names it.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a multihomed SCTP listener needs a port in its first address",
            ));
        }
        let s = socket(first.is_ipv6())?;
        let all: Vec<SocketAddr> = local
            .iter()
            .map(|a| SocketAddr::new(a.ip(), first.port()))
            .collect();
        if let Err(e) = s.sctp_bindx(&all, BindxFlags::Add) {
            discard(s);
            return Err(e);
        }
        let l = s.listen(128)?;
        let bound = l.sctp_getladdrs(0).unwrap_or(local);
        Ok((l, bound))
    }

    /// Waits for the next association: its bridge and the peer's address.
    pub(crate) async fn accept(l: &Listener) -> io::Result<(Box<dyn Transport>, SocketAddr)> {
        let (sock, peer) = l.accept().await?;
        let (io, run) = bridge(sock);
        tokio::spawn(run);
        Ok((io, peer))
    }

    /// Opens an association to `remote` (all addresses of a multihomed peer), from `local`
    /// when given: its bridge and the peer's primary address.
    ///
    /// The association lives on a thread of its own with a single-threaded runtime (the
    /// socket library's connect cannot move between threads); only the pipe to the driver
    /// crosses over.
    pub(crate) async fn connect(
        remote: &[SocketAddr],
        local: &[SocketAddr],
    ) -> io::Result<(Box<dyn Transport>, SocketAddr)> {
        let first = *remote
            .first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no SCTP address"))?;
        let (remote, local) = (remote.to_vec(), local.to_vec());
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("diameter-sctp".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let opened = async {
                        let v6 = first.is_ipv6();
                        let (remote, local) = (one_family(&remote, v6), one_family(&local, v6));
                        let s = socket(v6)?;
                        if !local.is_empty() {
                            if let Err(e) = s.sctp_bindx(&local, BindxFlags::Add) {
                                discard(s);
                                return Err(e);
                            }
                        }
                        // connectx closes the socket itself when it fails.
                        let (sock, _) =
                            tokio::time::timeout(CONNECT_WITHIN, s.sctp_connectx(&remote))
                                .await
                                .map_err(|_| {
                                    io::Error::new(
                                        io::ErrorKind::TimedOut,
                                        "no SCTP association within 10 s",
                                    )
                                })??;
                        Ok::<_, io::Error>(sock)
                    }
                    .await;
                    match opened {
                        Ok(sock) => {
                            let (io, run) = bridge(sock);
                            if tx.send(Ok(io)).is_ok() {
                                run.await;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })?;
        let io = rx
            .await
            .map_err(|_| io::Error::other("the SCTP association thread ended"))??;
        Ok((io, first))
    }

    /// The driver's side of a pipe, and the future that moves bytes between the pipe's other
    /// side and the association until either ends.
    fn bridge(
        sock: ConnectedSocket,
    ) -> (
        Box<dyn Transport>,
        impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let outbound = sock.sctp_get_status(0).map(|s| s.outstreams).unwrap_or(1);
        let sock = Arc::new(sock);
        let (ours, theirs) = tokio::io::duplex(256 * 1024);
        let (mut from_driver, mut to_driver) = tokio::io::split(theirs);
        let rx = sock.clone();
        let settled = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let settled_rx = settled.clone();
        let reader = async move {
            // Counts the peer's first messages (see StreamChooser).
            let mut first = Some((Framer::new(MAX_FRAME), BytesMut::new(), 0u32));
            loop {
                match rx.sctp_recv().await {
                    Ok(NotificationOrData::Data(d)) if d.payload.is_empty() => break,
                    Ok(NotificationOrData::Data(d)) => {
                        if let Some((framer, buf, seen)) = &mut first {
                            buf.extend_from_slice(&d.payload);
                            let bad = loop {
                                match framer.next_frame(buf) {
                                    Ok(Some(_)) => *seen += 1,
                                    Ok(None) => break false,
                                    Err(_) => break true,
                                }
                            };
                            if *seen >= 2 {
                                settled_rx.store(true, std::sync::atomic::Ordering::Release);
                            }
                            // A bad header ends the counting (the connection refuses it).
                            if *seen >= 2 || bad {
                                first = None;
                            }
                        }
                        if to_driver.write_all(&d.payload).await.is_err() {
                            break;
                        }
                    }
                    Ok(NotificationOrData::Notification(_)) => {}
                    Err(e) => {
                        tracing::debug!("SCTP receive: {e}");
                        break;
                    }
                }
            }
            let _ = to_driver.shutdown().await;
        };
        let writer = async move {
            let mut chooser = StreamChooser::new(outbound);
            let mut framer = Framer::new(MAX_FRAME);
            let mut pending = BytesMut::with_capacity(64 * 1024);
            let mut how = std::net::Shutdown::Write;
            'outer: loop {
                match from_driver.read_buf(&mut pending).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                loop {
                    let m = match framer.next_frame(&mut pending) {
                        Ok(Some(m)) => m,
                        Ok(None) => break,
                        // The node writes no bad header; if it did, nothing after it can be
                        // cut into messages.
                        Err(_) => {
                            how = std::net::Shutdown::Both;
                            break 'outer;
                        }
                    };
                    if settled.load(std::sync::atomic::Ordering::Acquire) {
                        chooser.peer_settled();
                    }
                    let sid = chooser.choose(&m);
                    if let Err(e) = send(&sock, &m, sid).await {
                        tracing::debug!("SCTP send: {e}");
                        // Unblocks the reader too, so the association ends either way.
                        how = std::net::Shutdown::Both;
                        break 'outer;
                    }
                }
            }
            let _ = sock.shutdown(how);
        };
        let run = async move {
            tokio::join!(reader, writer);
        };
        (Box::new(ours), run)
    }

    /// Sends one message on stream `sid` with PPID 46, waiting while the socket is full.
    async fn send(sock: &ConnectedSocket, message: &[u8], sid: u16) -> io::Result<()> {
        let until = tokio::time::Instant::now() + SEND_WITHIN;
        loop {
            let data = SendData {
                payload: message.to_vec(),
                snd_info: Some(SendInfo {
                    sid,
                    flags: 0,
                    // Passed to the wire as it lies in memory: network order.
                    ppid: PPID_DIAMETER.to_be(),
                    context: 0,
                    assoc_id: 0,
                }),
            };
            match sock.sctp_send(data).await {
                Ok(()) => return Ok(()),
                // The library does not wait for room itself: poll for it, for a while.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if tokio::time::Instant::now() >= until {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the peer took no data for 10 s",
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Without the `sctp` feature, or off Linux: every SCTP operation fails with this.
#[cfg(not(all(feature = "sctp", target_os = "linux")))]
pub(crate) fn unavailable() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "SCTP is not available: diameter-runtime was built without its `sctp` feature (Linux only); use transport=tcp",
    )
}

/// Whether SCTP sockets can be opened here.
#[cfg(not(all(feature = "sctp", target_os = "linux")))]
pub(crate) fn probe() -> std::io::Result<()> {
    Err(unavailable())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(command: u32, request: bool, len: usize) -> Vec<u8> {
        let mut m = vec![0u8; len];
        m[0] = 1;
        m[1..4].copy_from_slice(&(len as u32).to_be_bytes()[1..]);
        m[4] = if request { 0x80 } else { 0 };
        m[5..8].copy_from_slice(&command.to_be_bytes()[1..]);
        m
    }

    #[test]
    fn base_protocol_setup_and_teardown_go_on_stream_zero() {
        let mut c = StreamChooser::new(10);
        c.peer_settled();
        for (cmd, req) in [(257, true), (257, false), (282, true), (282, false)] {
            assert_eq!(c.choose(&message(cmd, req, 20)), 0, "{cmd} {req}");
        }
    }

    #[test]
    fn other_messages_spread_below_the_outbound_count() {
        for outbound in [0u16, 1, 2, 3, 10, 16] {
            let mut c = StreamChooser::new(outbound);
            c.peer_settled();
            let sids: Vec<u16> = (0..40)
                .map(|i| c.choose(&message(272, i % 2 == 0, 20)))
                .collect();
            if outbound <= 1 {
                assert!(sids.iter().all(|&s| s == 0), "{outbound}: {sids:?}");
                continue;
            }
            assert!(
                sids.iter().all(|&s| s >= 1 && s < outbound),
                "{outbound}: {sids:?}"
            );
            // Round-robin: every stream but 0 is used, in turn.
            let expect: Vec<u16> = (0..40).map(|i| 1 + (i % (outbound - 1))).collect();
            assert_eq!(sids, expect);
        }
        // DWR/DWA are spread like the rest.
        let mut c = StreamChooser::new(4);
        c.peer_settled();
        assert_eq!(c.choose(&message(280, true, 20)), 1);
    }

    #[test]
    fn everything_stays_on_stream_zero_until_the_peer_is_past_the_exchange() {
        let mut c = StreamChooser::new(10);
        // Our CEA, then requests and a DWR while the peer may not have the CEA yet.
        for (cmd, req) in [(257, false), (272, true), (280, true), (272, false)] {
            assert_eq!(c.choose(&message(cmd, req, 20)), 0, "{cmd}");
        }
        c.peer_settled();
        assert_eq!(c.choose(&message(272, true, 20)), 1);
        assert_eq!(c.choose(&message(272, true, 20)), 2);
    }

    #[test]
    fn a_truncated_message_goes_on_stream_zero() {
        assert_eq!(StreamChooser::new(8).choose(&[1, 0, 0]), 0);
    }

    #[test]
    fn ppid_is_46_on_the_wire() {
        assert_eq!(PPID_DIAMETER, 46);
        assert_eq!(PPID_DIAMETER.to_be().to_ne_bytes(), [0, 0, 0, 46]);
    }

    #[test]
    fn a_kernel_without_sctp_is_named() {
        let e = kernel_error(std::io::Error::from_raw_os_error(93));
        let text = e.to_string();
        assert!(text.contains("SCTP is not available"), "{text}");
        assert!(text.contains("kernel"), "{text}");
        assert!(text.contains("use transport=tcp"), "{text}");
        // Other errors pass as they are.
        let e = kernel_error(std::io::Error::from_raw_os_error(111));
        assert_eq!(e.raw_os_error(), Some(111));
    }
}
