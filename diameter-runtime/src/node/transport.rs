//! Transports: what a connection runs on.
//!
//! TCP and TLS over TCP are built in ([`NodeBuilder::listen`], [`NodeBuilder::peer`]). Any
//! other byte stream that reads and writes asynchronously — a Unix socket, an in-memory
//! pipe ([`tokio::io::duplex`]), a tunnel — carries a connection as a [`Transport`]:
//!
//! - [`Node::serve_connection`] runs the answering side of a connection on one (as if a
//!   listener had accepted it);
//! - [`Node::open_connection`] runs the connecting side once;
//! - [`NodeBuilder::peer_via`] keeps a peer connected through a [`Connector`], reconnecting
//!   after Tc as for a TCP peer.
//!
//! The connection on top is the same as on TCP: capabilities exchange, watchdog, routing,
//! validation and duplicate detection. In-band TLS (RFC 3588 style) needs a TCP stream, so a
//! peer that agrees to it over another transport is disconnected with an error.
//!
//! [`NodeBuilder::listen`]: super::NodeBuilder::listen
//! [`NodeBuilder::peer`]: super::NodeBuilder::peer
//! [`NodeBuilder::peer_via`]: super::NodeBuilder::peer_via
//! [`Node::serve_connection`]: super::Node::serve_connection
//! [`Node::open_connection`]: super::Node::open_connection

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream a connection can run on: anything that reads and writes asynchronously.
///
/// Implemented for every `AsyncRead + AsyncWrite + Send + Unpin + 'static` type, such as
/// [`tokio::io::DuplexStream`] or `tokio::net::UnixStream`.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// The future a [`Connector`] returns.
pub type Connecting = Pin<Box<dyn Future<Output = io::Result<Box<dyn Transport>>> + Send>>;

/// Opens connections to one peer, for a persistent peer kept connected over a custom
/// [`Transport`] ([`NodeBuilder::peer_via`](super::NodeBuilder::peer_via)).
///
/// `connect` is called for the first connection and again after Tc whenever the
/// connection ends; an error is logged and retried the same way.
pub trait Connector: Send + Sync + 'static {
    /// Opens a new connection to the peer.
    fn connect(&self) -> Connecting;

    /// The peer's address for logs, events and [`PeerInfo`](crate::peer::PeerInfo)-side
    /// bookkeeping; unspecified (`0.0.0.0:0`) by default.
    fn peer_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([0, 0, 0, 0], 0))
    }
}

impl<F, Fut, T> Connector for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<T>> + Send + 'static,
    T: Transport,
{
    fn connect(&self) -> Connecting {
        let fut = self();
        Box::pin(async move { fut.await.map(|t| Box::new(t) as Box<dyn Transport>) })
    }
}

/// Most bytes accepted for writing before the stream has taken them.
const OUT_HIGH_WATER: usize = 64 * 1024;
/// Longest wait for a stream to take its last bytes and shut down.
const SHUTDOWN_WITHIN: std::time::Duration = std::time::Duration::from_millis(500);
/// Bytes asked for per read.
const READ_CHUNK: usize = 16 * 1024;

/// A [`Transport`] seen through the readiness interface the connection driver uses for
/// sockets: reads and writes that never wait, and futures that wait until they can make
/// progress.
///
/// Readiness is learnt by polling the stream itself: `readable` reads ahead into `rbuf`,
/// `writable` writes `out` (bytes `try_write` accepted) to the stream. The non-waiting calls
/// poll with a no-op waker; when they find nothing, the driver's next wait polls again with
/// its own waker, which is the one the stream then wakes.
pub(crate) struct StreamSocket {
    state: Mutex<State>,
}

struct State {
    io: Box<dyn Transport>,
    /// Read ahead while waiting for readability.
    rbuf: BytesMut,
    eof: bool,
    /// A read error found while waiting, reported by the next read.
    rerr: Option<io::Error>,
    /// Accepted by `try_write`, not yet taken by the stream.
    out: BytesMut,
    /// A write error, reported by the next write.
    werr: Option<io::Error>,
    /// The stream took `out` but its flush is not over: writable() must poll again.
    flushing: bool,
}

fn noop_cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

impl State {
    /// Reads into `buf` what the stream has; `Pending` when nothing.
    fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        let mut chunk = [0u8; READ_CHUNK];
        let mut rb = tokio::io::ReadBuf::new(&mut chunk);
        match Pin::new(&mut self.io).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    self.eof = true;
                }
                buf.extend_from_slice(rb.filled());
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Writes what the stream takes now, without waiting; a write error found on the way.
    fn push_now(&mut self) -> io::Result<()> {
        let _ = self.poll_push(&mut noop_cx());
        match self.werr.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Writes `out` to the stream and flushes it: `Ready` once all is taken (or failed).
    fn poll_push(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let r = self.poll_push_inner(cx);
        self.flushing = r.is_pending();
        r
    }

    fn poll_push_inner(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while !self.out.is_empty() && self.werr.is_none() {
            match Pin::new(&mut self.io).poll_write(cx, &self.out) {
                Poll::Ready(Ok(0)) => {
                    self.werr = Some(io::ErrorKind::WriteZero.into());
                }
                Poll::Ready(Ok(n)) => self.out.advance(n),
                Poll::Ready(Err(e)) => self.werr = Some(e),
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.werr.is_some() {
            self.out.clear();
            return Poll::Ready(());
        }
        match Pin::new(&mut self.io).poll_flush(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(()),
            Poll::Ready(Err(e)) => {
                self.werr = Some(e);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl StreamSocket {
    pub(crate) fn new(io: Box<dyn Transport>) -> Self {
        StreamSocket {
            state: Mutex::new(State {
                io,
                rbuf: BytesMut::new(),
                eof: false,
                rerr: None,
                out: BytesMut::new(),
                werr: None,
                flushing: false,
            }),
        }
    }

    // A panic while the lock was held leaves plain buffers behind: still usable.
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn state_mut(&mut self) -> &mut State {
        self.state.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until a read finds something (bytes, the end of the stream or an error).
    pub(crate) async fn readable(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| {
            let s = &mut *self.state();
            if !s.rbuf.is_empty() || s.eof || s.rerr.is_some() {
                return Poll::Ready(Ok(()));
            }
            let mut rbuf = std::mem::take(&mut s.rbuf);
            let r = s.poll_read_into(cx, &mut rbuf);
            s.rbuf = rbuf;
            match r {
                Poll::Ready(Ok(_)) => Poll::Ready(Ok(())),
                Poll::Ready(Err(e)) => {
                    s.rerr = Some(e);
                    Poll::Ready(Ok(()))
                }
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// Waits until what was accepted for writing is all out (or writing failed).
    pub(crate) async fn writable(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.state().poll_push(cx).map(Ok)).await
    }

    /// Bytes wait to be written (or flushed).
    pub(crate) fn wants_write(&self) -> bool {
        let s = self.state();
        !s.out.is_empty() || s.flushing
    }

    /// What the stream has, without waiting: `Ok(0)` at its end, `WouldBlock` when nothing.
    pub(crate) fn try_read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        let s = self.state_mut();
        if !s.rbuf.is_empty() {
            let n = s.rbuf.len();
            buf.extend_from_slice(&s.rbuf);
            s.rbuf.clear();
            return Ok(n);
        }
        if let Some(e) = s.rerr.take() {
            return Err(e);
        }
        if s.eof {
            return Ok(0);
        }
        match s.poll_read_into(&mut noop_cx(), buf) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// Accepts bytes for writing, without waiting, and writes what the stream takes now.
    pub(crate) fn try_write(&mut self, b: &[u8]) -> io::Result<usize> {
        let s = self.state_mut();
        if let Some(e) = s.werr.take() {
            return Err(e);
        }
        let room = OUT_HIGH_WATER.saturating_sub(s.out.len());
        if room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = room.min(b.len());
        s.out.extend_from_slice(&b[..n]);
        s.push_now().map(|()| n)
    }

    /// Writes what waits, without waiting.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.state_mut().push_now()
    }

    /// Ends the stream: what waits is written, then the stream is shut down, within
    /// [`SHUTDOWN_WITHIN`] (a peer that stops reading cannot hold the connection's task).
    pub(crate) async fn shutdown(&mut self) {
        let s = self.state_mut();
        let _ = tokio::time::timeout(SHUTDOWN_WITHIN, async {
            std::future::poll_fn(|cx| s.poll_push(cx)).await;
            let _ = std::future::poll_fn(|cx| Pin::new(&mut s.io).poll_shutdown(cx)).await;
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn reads_and_writes_through_readiness() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut s = StreamSocket::new(Box::new(a));
        let mut buf = BytesMut::new();
        // Nothing there yet.
        assert_eq!(
            s.try_read_buf(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        b.write_all(b"hello").await.unwrap();
        s.readable().await.unwrap();
        assert_eq!(s.try_read_buf(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..], b"hello");

        // More than the pipe holds: accepted, then written as the other side reads.
        let data = vec![7u8; 1000];
        assert_eq!(s.try_write(&data).unwrap(), 1000);
        assert!(s.wants_write());
        let reader = tokio::spawn(async move {
            let mut got = vec![0u8; 1000];
            b.read_exact(&mut got).await.unwrap();
            (b, got)
        });
        s.writable().await.unwrap();
        assert!(!s.wants_write());
        let (b, got) = reader.await.unwrap();
        assert_eq!(got, data);

        // The end of the stream.
        drop(b);
        s.readable().await.unwrap();
        assert_eq!(s.try_read_buf(&mut buf).unwrap(), 0);
    }

    /// A stream whose flush is pending once after every write (as a TLS stream over a full
    /// socket): the bytes must still get flushed through `writable`.
    struct SlowFlush {
        inner: tokio::io::DuplexStream,
        owed: bool,
    }

    impl AsyncRead for SlowFlush {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for SlowFlush {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.owed = true;
            Pin::new(&mut self.inner).poll_write(cx, buf)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            if self.owed {
                self.owed = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Pin::new(&mut self.inner).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    #[tokio::test]
    async fn a_pending_flush_is_still_waited_for() {
        let (a, _b) = tokio::io::duplex(64);
        let mut s = StreamSocket::new(Box::new(SlowFlush {
            inner: a,
            owed: false,
        }));
        assert_eq!(s.try_write(b"abc").unwrap(), 3);
        assert!(s.wants_write(), "taken but not flushed");
        s.writable().await.unwrap();
        assert!(!s.wants_write());
    }

    #[tokio::test]
    async fn shutdown_is_bounded_when_the_peer_stops_reading() {
        let (a, _b) = tokio::io::duplex(8);
        let mut s = StreamSocket::new(Box::new(a));
        assert_eq!(s.try_write(&[0u8; 100]).unwrap(), 100);
        let t = std::time::Instant::now();
        s.shutdown().await;
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
    }

    #[tokio::test]
    async fn write_errors_reach_the_writer() {
        let (a, b) = tokio::io::duplex(64);
        let mut s = StreamSocket::new(Box::new(a));
        drop(b);
        let err = s.try_write(b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }
}
