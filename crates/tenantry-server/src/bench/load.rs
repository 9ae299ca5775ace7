//! The in-process HTTP load generator of `bench route` and `bench scale`: keep-alive HTTP/1.1
//! connections (hyper's client), one per worker, each sending `GET`s one after another.

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One keep-alive connection to a server.
pub struct Conn {
    sender: SendRequest<Empty<Bytes>>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Self { sender })
    }

    /// `GET path` with a bearer token; the status and the whole body.
    pub async fn get(&mut self, path: &str, token: &str) -> anyhow::Result<(StatusCode, Bytes)> {
        self.sender.ready().await?;
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, "localhost")
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Empty::new())?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        Ok((status, response.into_body().collect().await?.to_bytes()))
    }
}

/// A request of the mix: its path and bearer token.
#[derive(Clone)]
pub struct Target {
    pub path: String,
    pub token: String,
}

/// What one load run measured.
#[derive(Default)]
pub struct Load {
    /// Latency of every successful request, sorted.
    pub latencies: Vec<Duration>,
    /// Requests answered with anything but 200 (or not answered).
    pub errors: u64,
    /// The first error, for the report.
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

impl Load {
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Adds another run's figures (side-by-side rounds are summed).
    pub fn merge(&mut self, other: Load) {
        self.latencies.extend(other.latencies);
        self.latencies.sort_unstable();
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        self.elapsed += other.elapsed;
    }
}

/// Runs `concurrency` workers against `addr` for `duration`. Worker `w` sends targets `w`,
/// `w + concurrency`, `w + 2·concurrency`, … and starts over at `w`, so with at least as many
/// targets as workers no two workers hit the same target (tenant) at once.
pub async fn drive(
    addr: SocketAddr,
    targets: Arc<[Target]>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Load> {
    anyhow::ensure!(!targets.is_empty(), "no targets to load");
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..concurrency {
        let targets = targets.clone();
        workers.spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut load = Load::default();
            let mut i = w % targets.len();
            while Instant::now() < deadline {
                let t = &targets[i];
                let sent = Instant::now();
                match conn.get(&t.path, &t.token).await {
                    Ok((StatusCode::OK, _)) => load.latencies.push(sent.elapsed()),
                    Ok((status, body)) => {
                        load.errors += 1;
                        let body = String::from_utf8_lossy(&body).into_owned();
                        load.first_error.get_or_insert(format!("{status}: {body}"));
                    }
                    Err(e) => {
                        load.errors += 1;
                        load.first_error.get_or_insert(e.to_string());
                        conn = Conn::open(addr).await?;
                    }
                }
                i += concurrency;
                if i >= targets.len() {
                    i = w % targets.len();
                }
            }
            anyhow::Ok(load)
        });
    }
    let mut total = Load::default();
    while let Some(done) = workers.join_next().await {
        let load = done??;
        total.latencies.extend(load.latencies);
        total.errors += load.errors;
        total.first_error = total.first_error.take().or(load.first_error);
    }
    total.elapsed = started.elapsed();
    total.latencies.sort_unstable();
    Ok(total)
}
