//! A listener whose connections the engine can close: one by one (a fault that drops a
//! connection) or all at once (a restarting server).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// A TCP connection that errors out as soon as its token is cancelled.
pub(crate) struct GuardedStream {
    inner: TcpStream,
    token: CancellationToken,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl GuardedStream {
    fn closed(&mut self, cx: &mut Context<'_>) -> bool {
        self.token.is_cancelled() || self.cancelled.as_mut().poll(cx).is_ready()
    }
}

fn aborted() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection closed by the dev engine",
    )
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.closed(cx) {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.closed(cx) {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.closed(cx) {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The token the connections of a listener derive from; swapped after each mass close.
pub(crate) type KillSwitch = Arc<std::sync::Mutex<CancellationToken>>;

/// Cancels every connection accepted so far; later connections are unaffected.
pub(crate) fn close_all(kill: &KillSwitch) {
    let mut guard = kill.lock().unwrap_or_else(|p| p.into_inner());
    guard.cancel();
    *guard = CancellationToken::new();
}

/// A TCP listener whose connections can all be closed through its [`KillSwitch`].
pub(crate) struct EngineListener {
    pub inner: TcpListener,
    pub kill: KillSwitch,
}

impl axum::serve::Listener for EngineListener {
    type Io = GuardedStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let token = self
                        .kill
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .child_token();
                    let cancelled = Box::pin(token.clone().cancelled_owned());
                    let io = GuardedStream {
                        inner: stream,
                        token,
                        cancelled,
                    };
                    return (io, addr);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "dev engine: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The per-connection token, available to handlers as `ConnectInfo<ConnToken>`.
#[derive(Clone, Debug)]
pub(crate) struct ConnToken(pub CancellationToken);

impl Connected<IncomingStream<'_, EngineListener>> for ConnToken {
    fn connect_info(stream: IncomingStream<'_, EngineListener>) -> Self {
        ConnToken(stream.io().token.clone())
    }
}
