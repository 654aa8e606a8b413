//! An HTTP/1.1 client for the SDK that drives each connection inside the calling request's own task.
//!
//! The SDK's default client (hyper-util's pooled client) runs every connection as a task of its own and
//! hands each request and response between that task and the caller through channels, with a pool
//! checkout, a connection-capture hook and a read-timeout wrapper around each call. Here a request takes
//! an idle connection out of the pool (or opens one), polls hyper's HTTP/1 connection itself until the
//! whole response is in, and puts the connection back: no connection task, no hand-over. Requests made
//! while one batch of tasks runs are written after that batch, back to back (one `yield_now`), so a peer
//! that went idle is woken once for them rather than once per request; on this VM that wake-up is a
//! large part of a small request's kernel time (bench/README.md, "Feature Store writes").
//!
//! What it keeps from the SDK's client: TLS through rustls with ring, the same cipher suites and the
//! platform's root certificates (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured); TCP_NODELAY; the connect and
//! read timeouts of the client's config; idle connections dropped after [`IDLE_TIMEOUT`] or once the
//! server closed them; a request that a reused connection gives back unsent (closed meanwhile) is sent
//! once more, on a new connection, as hyper-util does. Errors map to the SDK's [`ConnectorError`] kinds
//! (timeout, I/O, other), so they classify for retries as the default client's do. No proxy support (the
//! SDK's client has it off unless configured) and no HTTP/2.
//!
//! Responses are read in full before the SDK gets them: this client is for APIs with small JSON
//! responses (the Feature Store runtime), not for streaming downloads.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use http::header::{HeaderValue, HOST};
use http::uri::{PathAndQuery, Scheme};
use http::Uri;
use http_body_util::BodyExt;
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// An idle connection older than this is closed rather than reused (hyper-util's pool keeps them 90 s;
/// services close idle keep-alive connections on their own schedule).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// The SDK [`HttpClient`]: one connection pool per client.
#[derive(Debug, Clone, Default)]
pub struct Http1Client {
    pool: Arc<Pool>,
}

impl HttpClient for Http1Client {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            pool: self.pool.clone(),
            connect_timeout: settings.connect_timeout(),
            read_timeout: settings.read_timeout(),
        })
    }
}

#[derive(Debug)]
struct Connector {
    pool: Arc<Pool>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (pool, connect_timeout, read_timeout) =
            (self.pool.clone(), self.connect_timeout, self.read_timeout);
        HttpConnectorFuture::new(async move { send(&pool, request, connect_timeout, read_timeout).await })
    }
}

/// Where a connection goes (scheme, host, port), and the `Host` header of its requests.
#[derive(Debug)]
struct Origin {
    tls: bool,
    host: String,
    port: u16,
    host_header: HeaderValue,
}

/// An origin as a request's URI names it.
type Key<'a> = (bool, &'a str, u16);

impl Origin {
    fn key(uri: &Uri) -> Result<Key<'_>, ConnectorError> {
        let tls = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP => false,
            _ => return Err(user(format!("unsupported URI scheme in {uri}"))),
        };
        let host = uri.host().ok_or_else(|| user(format!("no host in {uri}")))?;
        Ok((tls, host, uri.port_u16().unwrap_or(if tls { 443 } else { 80 })))
    }

    /// With the `Host` header hyper-util's client would set: the host, and the port unless it is the
    /// scheme's default.
    fn new((tls, host, port): Key<'_>) -> Result<Self, ConnectorError> {
        let default = if tls { 443 } else { 80 };
        let host_header = if port == default {
            HeaderValue::from_str(host)
        } else {
            HeaderValue::from_str(&format!("{host}:{port}"))
        };
        Ok(Origin {
            tls,
            host: host.to_owned(),
            port,
            host_header: host_header.map_err(|e| user(format!("invalid host {host}: {e}")))?,
        })
    }

    fn is(&self, (tls, host, port): Key<'_>) -> bool {
        self.tls == tls && self.port == port && self.host == host
    }
}

type Io = TokioIo<Stream>;

struct Conn {
    send: SendRequest<SdkBody>,
    conn: Connection<Io, SdkBody>,
    /// When it was last put back into the pool.
    idle_since: Instant,
}

/// The idle connections of each origin the client has talked to (a client talks to one or two).
#[derive(Default)]
struct Pool {
    origins: Mutex<Vec<(Arc<Origin>, Vec<Conn>)>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("idle", &self.idle()).finish()
    }
}

impl Pool {
    /// The origin `uri` names, and an idle connection to it that is still open if there is one.
    fn checkout(&self, uri: &Uri) -> Result<(Arc<Origin>, Option<Conn>), ConnectorError> {
        let key = Origin::key(uri)?;
        let mut origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
        let Some((origin, idle)) = origins.iter_mut().find(|(o, _)| o.is(key)) else {
            let origin = Arc::new(Origin::new(key)?);
            origins.push((origin.clone(), Vec::new()));
            return Ok((origin, None));
        };
        while let Some(mut conn) = idle.pop() {
            if conn.idle_since.elapsed() < IDLE_TIMEOUT && conn.still_open() {
                return Ok((origin.clone(), Some(conn)));
            }
        }
        Ok((origin.clone(), None))
    }

    fn put_back(&self, origin: &Arc<Origin>, mut conn: Conn) {
        conn.idle_since = Instant::now();
        let mut origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
        match origins.iter_mut().find(|(o, _)| Arc::ptr_eq(o, origin)) {
            Some((_, idle)) => idle.push(conn),
            None => origins.push((origin.clone(), vec![conn])),
        }
    }

    /// How many idle connections there are.
    fn idle(&self) -> usize {
        let origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
        origins.iter().map(|(_, idle)| idle.len()).sum()
    }
}

impl Conn {
    fn still_open(&mut self) -> bool {
        still_open(&self.send, &mut self.conn)
    }
}

/// Polls a connection with nothing in flight once, without a task to wake: one the server closed (or that
/// failed) finishes here, and is not used again.
fn still_open(send: &SendRequest<SdkBody>, conn: &mut Connection<Io, SdkBody>) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    !send.is_closed() && Pin::new(conn).poll(&mut cx).is_pending()
}

async fn send(
    pool: &Pool,
    request: HttpRequest,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
) -> Result<HttpResponse, ConnectorError> {
    let mut request = request
        .try_into_http1x()
        .map_err(|e| ConnectorError::user(e.into()))?;
    let (origin, pooled) = pool.checkout(request.uri())?;
    if !request.headers().contains_key(HOST) {
        request.headers_mut().insert(HOST, origin.host_header.clone());
    }
    // Origin-form request target: `/path?query`.
    let target = request
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    *request.uri_mut() = Uri::from(target);

    // A reused connection may have been closed by the server since the check at checkout; a request
    // hyper gives back unsent is sent once more, on a new connection.
    let request = match pooled {
        Some(mut conn) => match exchange(&mut conn, request, read_timeout).await {
            Ok((response, reusable)) => {
                if reusable {
                    pool.put_back(&origin, conn);
                }
                return Ok(response);
            }
            Err(Failed::Unsent(request, _)) => *request,
            Err(Failed::Error(e)) => return Err(e),
        },
        None => request,
    };
    let mut conn = connect(&origin, connect_timeout).await?;
    match exchange(&mut conn, request, read_timeout).await {
        Ok((response, reusable)) => {
            if reusable {
                pool.put_back(&origin, conn);
            }
            Ok(response)
        }
        Err(Failed::Unsent(_, e)) => Err(e),
        Err(Failed::Error(e)) => Err(e),
    }
}

/// One GET outside the SDK (a carbon-intensity forecast API): this module's TLS and connection handling
/// on a connection of its own, `timeout` for the connection and for the answer. The status and the
/// whole body, or why there are none.
pub async fn get(
    url: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<(u16, bytes::Bytes), String> {
    let mut builder = http::Request::builder().method("GET").uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(SdkBody::empty())
        .map_err(|e| format!("GET {url}: {e}"))
        .and_then(|r| HttpRequest::try_from(r).map_err(|e| format!("GET {url}: {e}")))?;
    let response = send(&Pool::default(), request, Some(timeout), Some(timeout))
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status().as_u16();
    // The response was read in full (see the module doc).
    let body = response
        .body()
        .bytes()
        .map(bytes::Bytes::copy_from_slice)
        .unwrap_or_default();
    Ok((status, body))
}

enum Failed {
    /// The connection could not take the request (and why); here it is back.
    Unsent(Box<http::Request<SdkBody>>, ConnectorError),
    Error(ConnectorError),
}

/// Sends one request on `conn` and reads the whole response; also says whether the connection can be
/// used again.
async fn exchange(
    conn: &mut Conn,
    request: http::Request<SdkBody>,
    read_timeout: Option<Duration>,
) -> Result<(HttpResponse, bool), Failed> {
    let Conn { send, conn, .. } = conn;
    // Requests made while the same batch of tasks runs go out together, after it: the peer is woken
    // once for them rather than once each.
    tokio::task::yield_now().await;
    // Not ready means closed: the request has not been sent.
    if let Err(e) = drive(conn, send.ready()).await {
        return Err(Failed::Unsent(Box::new(request), e.into_connector(from_hyper)));
    }
    let response = drive(conn, send.try_send_request(request));
    let response = match read_timeout {
        Some(limit) => match tokio::time::timeout(limit, response).await {
            Ok(r) => r,
            Err(_) => {
                let message = format!("no response within {limit:?}");
                return Err(Failed::Error(ConnectorError::timeout(message.into())));
            }
        },
        None => response.await,
    };
    let response = match response {
        Ok(r) => r,
        Err(Ended::Future(mut e)) => {
            return Err(match e.take_message() {
                Some(request) => Failed::Unsent(Box::new(request), from_hyper(e.into_error())),
                None => Failed::Error(from_hyper(e.into_error())),
            })
        }
        Err(Ended::Connection(e)) => return Err(Failed::Error(connection_ended(e))),
    };
    let (parts, body) = response.into_parts();
    let body = drive(conn, body.collect())
        .await
        .map_err(|e| Failed::Error(e.into_connector(from_hyper)))?;
    // Let the connection settle into its idle state; a `Connection: close` response ends it here.
    let reusable = still_open(send, conn);
    let response = http::Response::from_parts(parts, SdkBody::from(body.to_bytes()));
    let response =
        HttpResponse::try_from(response).map_err(|e| Failed::Error(ConnectorError::other(e.into(), None)))?;
    Ok((response, reusable))
}

/// Runs `future` while polling the connection that serves it, both in the calling task.
async fn drive<F: Future<Output = Result<T, E>>, T, E>(
    conn: &mut Connection<Io, SdkBody>,
    future: F,
) -> Result<T, Ended<E>> {
    let mut future = pin!(future);
    let mut ended = None;
    poll_fn(|cx| {
        if ended.is_none() {
            if let Poll::Ready(result) = Pin::new(&mut *conn).poll(cx) {
                ended = Some(result);
            }
        }
        if let Poll::Ready(result) = future.as_mut().poll(cx) {
            return Poll::Ready(result.map_err(Ended::Future));
        }
        match ended.take() {
            // The connection is gone and the future still waits for it: it never will.
            Some(result) => Poll::Ready(Err(Ended::Connection(result.err()))),
            None => Poll::Pending,
        }
    })
    .await
}

/// Why [`drive`] stopped without a result.
enum Ended<E> {
    /// The future's own error.
    Future(E),
    /// The connection finished (closed, or failed with this error) while the future still waited.
    Connection(Option<hyper::Error>),
}

impl<E> Ended<E> {
    fn into_connector(self, future: impl FnOnce(E) -> ConnectorError) -> ConnectorError {
        match self {
            Ended::Future(e) => future(e),
            Ended::Connection(e) => connection_ended(e),
        }
    }
}

fn connection_ended(e: Option<hyper::Error>) -> ConnectorError {
    match e {
        Some(e) => from_hyper(e),
        None => ConnectorError::io("the connection closed before the response was complete".into()),
    }
}

fn from_hyper(e: hyper::Error) -> ConnectorError {
    if e.is_closed() || e.is_canceled() || e.is_incomplete_message() {
        ConnectorError::io(e.into())
    } else if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if let Some(io) = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<io::Error>()) {
        let kind = io.kind();
        ConnectorError::io(Box::new(io::Error::new(kind, e)))
    } else {
        ConnectorError::other(e.into(), None)
    }
}

fn user(message: String) -> ConnectorError {
    ConnectorError::user(message.into())
}

async fn connect(origin: &Origin, connect_timeout: Option<Duration>) -> Result<Conn, ConnectorError> {
    let open = async {
        let tcp = TcpStream::connect((origin.host.as_str(), origin.port))
            .await
            .map_err(|e| ConnectorError::io(e.into()))?;
        tcp.set_nodelay(true).map_err(|e| ConnectorError::io(e.into()))?;
        let stream = if origin.tls {
            let name = rustls::pki_types::ServerName::try_from(origin.host.clone())
                .map_err(|e| user(format!("invalid TLS server name {}: {e}", origin.host)))?;
            let config = TLS
                .as_ref()
                .map_err(|e| ConnectorError::other(e.clone().into(), None))?;
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| ConnectorError::io(e.into()))?;
            Stream::Tls(Box::new(tls))
        } else {
            Stream::Plain(tcp)
        };
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(from_hyper)?;
        Ok(Conn {
            send,
            conn,
            idle_since: Instant::now(),
        })
    };
    match connect_timeout {
        Some(limit) => tokio::time::timeout(limit, open).await.map_err(|_| {
            ConnectorError::timeout(
                format!(
                    "could not connect to {}:{} within {limit:?}",
                    origin.host, origin.port
                )
                .into(),
            )
        })?,
        None => open.await,
    }
}

/// The SDK client's TLS settings ([`super::https_client`]: rustls with ring): TLS 1.2 and 1.3 with
/// AES-GCM or ChaCha20-Poly1305 suites only, the platform's root certificates, HTTP/1.1 by ALPN.
static TLS: LazyLock<Result<Arc<rustls::ClientConfig>, String>> = LazyLock::new(|| {
    use rustls::CipherSuite as S;
    const SUITES: [S; 7] = [
        S::TLS13_AES_256_GCM_SHA384,
        S::TLS13_AES_128_GCM_SHA256,
        S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    let base = rustls::crypto::ring::default_provider();
    let cipher_suites = base
        .cipher_suites
        .iter()
        .filter(|s| SUITES.contains(&s.suite()))
        .cloned()
        .collect();
    let provider = Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites,
        ..base
    });
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    if !native.errors.is_empty() {
        tracing::warn!(errors = ?native.errors, "errors loading the platform's root certificates");
    }
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        tracing::warn!("no root certificates found: TLS connections will fail");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
});

/// A TCP connection, in the clear or with TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_smithy_runtime_api::client::result::ConnectorError;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// What the test server does after answering a request.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum After {
        KeepOpen,
        /// Answers with `Connection: close` and closes.
        SayClose,
        /// Closes the socket without saying so.
        Drop,
        /// Reads the request and never answers.
        Silent,
    }

    /// A raw HTTP/1.1 server on 127.0.0.1: answers each request with `200` and a chunked body naming
    /// the request's connection and its order on it; counts the connections it accepted.
    async fn server(after: After) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let id = count.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut n = 0;
                    loop {
                        let mut chunk = [0u8; 4096];
                        let read = match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => read,
                        };
                        buf.extend_from_slice(&chunk[..read]);
                        // Requests are a head with `Content-Length` and a body; answer each complete one.
                        while let Some(end) = find(&buf, b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                            if buf.len() < end + 4 + length {
                                break;
                            }
                            let host = head
                                .lines()
                                .find_map(|l| l.strip_prefix("host:"))
                                .unwrap_or("")
                                .trim()
                                .to_owned();
                            let target = head.split(' ').nth(1).unwrap_or("").to_owned();
                            buf.drain(..end + 4 + length);
                            n += 1;
                            if after == After::Silent {
                                continue;
                            }
                            let body = format!("conn {id} request {n} target {target} host {host}");
                            let close = if after == After::SayClose {
                                "connection: close\r\n"
                            } else {
                                ""
                            };
                            let response = format!(
                                "HTTP/1.1 200 OK\r\n{close}transfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                                body.len()
                            );
                            if socket.write_all(response.as_bytes()).await.is_err() {
                                return;
                            }
                            if after != After::KeepOpen {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (format!("http://{addr}"), accepted)
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    fn request(url: &str) -> HttpRequest {
        let request = http::Request::builder()
            .method("POST")
            .uri(url)
            .body(SdkBody::from(r#"{"FeatureGroupName":"g"}"#))
            .unwrap();
        HttpRequest::try_from(request).unwrap()
    }

    async fn body(pool: &Pool, url: &str) -> Result<String, ConnectorError> {
        let response = send(pool, request(url), Some(Duration::from_secs(5)), None).await?;
        assert_eq!(response.status().as_u16(), 200);
        Ok(String::from_utf8(response.body().bytes().unwrap().to_vec()).unwrap())
    }

    #[tokio::test]
    async fn requests_share_one_kept_alive_connection() {
        let (url, accepted) = server(After::KeepOpen).await;
        let pool = Pool::default();
        for n in 1..=3 {
            let body = body(&pool, &format!("{url}/records/a?x=1")).await.unwrap();
            let port = url.rsplit(':').next().unwrap();
            assert_eq!(
                body,
                format!("conn 1 request {n} target /records/a?x=1 host 127.0.0.1:{port}")
            );
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn each_origin_keeps_its_own_connections() {
        let (a, accepted_a) = server(After::KeepOpen).await;
        let (b, accepted_b) = server(After::KeepOpen).await;
        let pool = Pool::default();
        for n in 1..=2 {
            assert!(body(&pool, &a)
                .await
                .unwrap()
                .starts_with(&format!("conn 1 request {n} ")));
            assert!(body(&pool, &b)
                .await
                .unwrap()
                .starts_with(&format!("conn 1 request {n} ")));
        }
        assert_eq!(
            (
                accepted_a.load(Ordering::SeqCst),
                accepted_b.load(Ordering::SeqCst)
            ),
            (1, 1)
        );
        assert_eq!(pool.idle(), 2);
    }

    #[tokio::test]
    async fn concurrent_requests_open_their_own_connections_and_return_them() {
        let (url, accepted) = server(After::KeepOpen).await;
        let pool = Pool::default();
        let bodies = futures_join(&pool, &url).await;
        assert!(bodies.iter().all(|b| b.contains("request 1 ")), "{bodies:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
        // The four are idle in the pool now and serve the next four.
        let bodies = futures_join(&pool, &url).await;
        assert!(bodies.iter().all(|b| b.contains("request 2 ")), "{bodies:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
    }

    async fn futures_join(pool: &Pool, url: &str) -> Vec<String> {
        let (a, b, c, d) = tokio::join!(body(pool, url), body(pool, url), body(pool, url), body(pool, url));
        vec![a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()]
    }

    #[tokio::test]
    async fn a_connection_the_server_closes_is_not_reused() {
        for after in [After::SayClose, After::Drop] {
            let (url, accepted) = server(after).await;
            let pool = Pool::default();
            assert!(body(&pool, &url).await.unwrap().starts_with("conn 1 request 1"));
            // Give the server's FIN time to arrive before the next checkout.
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(body(&pool, &url).await.unwrap().starts_with("conn 2 request 1"));
            assert_eq!(accepted.load(Ordering::SeqCst), 2);
        }
    }

    #[tokio::test]
    async fn a_request_a_closed_connection_gives_back_is_sent_on_a_new_one() {
        let (url, accepted) = server(After::Drop).await;
        let origin = Arc::new(origin(&url));
        let mut conn = connect(&origin, None).await.unwrap();
        let first = request(&url).try_into_http1x().unwrap();
        let (response, _) = exchange(&mut conn, with_target(first), None).await.ok().unwrap();
        assert_eq!(response.status().as_u16(), 200);
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The server has closed it: the request comes back unsent, so nothing was lost or sent twice.
        let second = request(&url).try_into_http1x().unwrap();
        match exchange(&mut conn, with_target(second), None).await {
            Err(Failed::Unsent(request, e)) => {
                assert_eq!(request.uri(), "/");
                assert!(e.is_io(), "{e}");
            }
            Err(Failed::Error(e)) => panic!("expected the request back, got {e}"),
            Ok(_) => panic!("expected the request back"),
        }
        // `send` does the same with a pooled connection and then uses a new one.
        let pool = Pool::default();
        pool.put_back(&origin, conn);
        assert!(body(&pool, &url).await.unwrap().starts_with("conn 2 request 1"));
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    fn with_target(mut request: http::Request<SdkBody>) -> http::Request<SdkBody> {
        let host = Origin::new(Origin::key(request.uri()).unwrap())
            .unwrap()
            .host_header;
        request.headers_mut().insert(HOST, host);
        *request.uri_mut() = Uri::from_static("/");
        request
    }

    #[tokio::test]
    async fn a_silent_server_times_out_and_its_connection_is_dropped() {
        let (url, accepted) = server(After::Silent).await;
        let pool = Pool::default();
        let error = send(&pool, request(&url), None, Some(Duration::from_millis(200)))
            .await
            .unwrap_err();
        assert!(error.is_timeout(), "{error}");
        assert_eq!(pool.idle(), 0);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn nothing_listening_is_an_io_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let error = send(
            &Pool::default(),
            request(&url),
            Some(Duration::from_secs(2)),
            None,
        )
        .await
        .unwrap_err();
        assert!(error.is_io(), "{error}");
    }

    #[tokio::test]
    async fn https_to_a_server_without_tls_fails_the_handshake_as_an_io_error() {
        // A plain HTTP server that answers whatever comes (here the TLS ClientHello) with a 400.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut chunk = [0u8; 1024];
            let _ = socket.read(&mut chunk).await;
            let _ = socket
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        });
        let error = send(
            &Pool::default(),
            request(&url),
            Some(Duration::from_secs(5)),
            None,
        )
        .await
        .unwrap_err();
        assert!(error.is_io(), "{error}");
    }

    #[test]
    fn the_host_header_leaves_out_the_scheme_s_default_port() {
        let host = |url: &str| origin(url).host_header;
        assert_eq!(
            host("https://featurestore-runtime.sagemaker.us-east-1.amazonaws.com/x"),
            "featurestore-runtime.sagemaker.us-east-1.amazonaws.com"
        );
        assert_eq!(host("https://example.com:8443/"), "example.com:8443");
        assert_eq!(host("http://127.0.0.1:80/"), "127.0.0.1");
        assert_eq!(host("http://127.0.0.1:4566/"), "127.0.0.1:4566");
        assert!(Origin::key(&"ftp://example.com/".parse().unwrap()).is_err());
    }

    fn origin(url: &str) -> Origin {
        Origin::new(Origin::key(&url.parse().unwrap()).unwrap()).unwrap()
    }
}
