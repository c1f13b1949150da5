//! A client socket that notices when its client stops reading. When a write cannot go
//! through (the kernel's send buffer is full because the client reads nothing) a deadline
//! starts; a byte taken by the client clears it, and when it passes the write fails with
//! `TimedOut`, so hyper drops the connection even in the middle of a response. While a
//! write waits, no further request is read: pipelined requests are answered one at a time,
//! and their responses never pile up in memory. A connection closed while its write waits
//! is reset rather than closed in order: an orderly close would leave the kernel holding the
//! unsent bytes, and the socket, until the client reads or its retries run out.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::open::ConnectionState;

/// A socket that can be told to reset, not close in order, if it is closed now.
pub(super) trait Abortable {
    fn reset_on_close(&self, reset: bool);
}

impl Abortable for tokio::net::TcpStream {
    fn reset_on_close(&self, reset: bool) {
        // SO_LINGER with a zero timeout: close() sends a reset and drops the send queue.
        let linger = reset.then_some(Duration::ZERO);
        if let Err(e) = socket2::SockRef::from(self).set_linger(linger) {
            tracing::debug!("cannot set SO_LINGER on a client socket: {e}");
        }
    }
}

pub(super) struct Watched<T> {
    io: T,
    state: Arc<ConnectionState>,
    /// How long a write may wait for the client to take a byte.
    timeout: Duration,
    /// When a waiting write fails: made at the first stall, reset at each later one; it
    /// counts only while `state` says the connection is stalled.
    deadline: Option<Pin<Box<Sleep>>>,
    /// A read put off while the write waited, woken when the client reads again.
    deferred_read: Option<Waker>,
}

impl<T: Abortable> Watched<T> {
    pub(super) fn new(io: T, state: Arc<ConnectionState>, timeout: Duration) -> Self {
        Self {
            io,
            state,
            timeout,
            deadline: None,
            deferred_read: None,
        }
    }

    /// A write found no room: start the deadline if it is not running; fail once it passed.
    fn stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if !self.state.stalled() {
            let now = Instant::now();
            self.state.set_stalled(Some(now.into_std()));
            self.io.reset_on_close(true);
            let at = now + self.timeout;
            match &mut self.deadline {
                Some(deadline) => deadline.as_mut().reset(at),
                None => self.deadline = Some(Box::pin(tokio::time::sleep_until(at))),
            }
        }
        let deadline = self.deadline.as_mut().expect("armed above");
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing for HEADER_TIMEOUT while a response waited",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// What a write of the socket came to: `Pending` starts or checks the stall's deadline;
    /// anything else means the client is reading (or the write failed for its own reason).
    fn written(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match result {
            Poll::Pending => self.stall(cx),
            ready => {
                self.progressed();
                ready
            }
        }
    }

    fn progressed(&mut self) {
        if self.state.stalled() {
            self.state.set_stalled(None);
            self.io.reset_on_close(false);
            if let Some(read) = self.deferred_read.take() {
                read.wake();
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.state.stalled() {
            // The next request waits until the client has taken the last response.
            this.deferred_read = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Abortable + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.written(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.written(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    impl Abortable for tokio::io::DuplexStream {
        fn reset_on_close(&self, _: bool) {}
    }

    /// A pipe whose far end reads nothing: writes stall once its small buffer is full.
    fn watched(timeout: Duration) -> (Watched<tokio::io::DuplexStream>, tokio::io::DuplexStream) {
        let (near, far) = tokio::io::duplex(64);
        let state = Arc::new(ConnectionState::default());
        (Watched::new(near, state, timeout), far)
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_the_client_never_takes_fails_after_the_timeout() {
        let (mut io, _far) = watched(Duration::from_secs(3));
        let started = Instant::now();
        let error = io.write_all(&[b'x'; 1000]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_keeps_reading_is_never_cut() {
        let (mut io, mut far) = watched(Duration::from_secs(3));
        let reader = tokio::spawn(async move {
            let mut taken = 0;
            let mut buf = [0u8; 16];
            while taken < 1000 {
                tokio::time::sleep(Duration::from_secs(2)).await;
                taken += far.read(&mut buf).await.unwrap();
            }
            taken
        });
        io.write_all(&[b'x'; 1000])
            .await
            .expect("every stall is shorter than the timeout");
        assert_eq!(reader.await.unwrap(), 1000);
    }

    #[tokio::test(start_paused = true)]
    async fn no_request_is_read_while_a_response_waits_and_reading_resumes_after() {
        let (mut io, mut far) = watched(Duration::from_secs(60));
        far.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        // Fill the pipe: the next write stalls.
        io.write_all(&[b'x'; 64]).await.unwrap();
        let mut byte = [0u8; 1];
        assert!(
            tokio::time::timeout(Duration::from_millis(1), io.write(&byte))
                .await
                .is_err()
        );
        assert!(io.state.stalled());
        assert!(
            tokio::time::timeout(Duration::from_secs(1), io.read(&mut byte))
                .await
                .is_err(),
            "the pipelined request waits"
        );
        let mut drained = [0u8; 64];
        far.read_exact(&mut drained).await.unwrap();
        io.write_all(b"y").await.unwrap();
        assert!(!io.state.stalled());
        io.read_exact(&mut byte).await.unwrap();
        assert_eq!(&byte, b"G");
    }
}
