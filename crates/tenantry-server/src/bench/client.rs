//! What `bench login-flood` drives the server with: a minimal HTTP/1.1 client on one keep-alive
//! connection (the production binary carries no HTTP client, and the benchmark needs no more),
//! and this process's resident memory.

use anyhow::Context;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Admin password of the benchmark's tenants.
pub const PASSWORD: &str = "bench-password";

/// A minimal HTTP/1.1 client on one keep-alive connection (the production binary carries no HTTP
/// client, and the benchmark needs nothing more); a clone opens its own connection.
pub struct Http {
    addr: String,
    conn: Option<BufReader<TcpStream>>,
}

impl Clone for Http {
    fn clone(&self) -> Self {
        Self::new(self.addr.clone())
    }
}

impl Http {
    pub fn new(addr: String) -> Self {
        Self { addr, conn: None }
    }

    /// Status and body; reconnects once if the server closed the kept-alive connection.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<(u16, String)> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        let fresh = self.conn.is_none();
        match self.exchange(&head).await {
            Ok(answer) => Ok(answer),
            Err(_) if !fresh => {
                self.conn = None;
                self.exchange(&head).await
            }
            Err(e) => Err(e),
        }
    }

    async fn exchange(&mut self, request: &str) -> anyhow::Result<(u16, String)> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(&self.addr).await?;
            stream.set_nodelay(true)?;
            self.conn = Some(BufReader::new(stream));
        }
        let conn = self.conn.as_mut().expect("connected above");
        conn.get_mut().write_all(request.as_bytes()).await?;
        let mut line = String::new();
        anyhow::ensure!(conn.read_line(&mut line).await? > 0, "connection closed");
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("not an HTTP answer: {line:.80}"))?;
        let (mut length, mut close) = (0usize, false);
        loop {
            line.clear();
            anyhow::ensure!(conn.read_line(&mut line).await? > 0, "connection closed");
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse()?,
                "connection" => close = value.trim().eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        conn.read_exact(&mut body).await?;
        if close {
            self.conn = None;
        }
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    pub async fn token(&mut self, code: &str) -> anyhow::Result<String> {
        let body = json!({"username": "admin", "password": PASSWORD});
        let path = format!("/api/auth/login?company={code}");
        let (status, body) = self.request("POST", &path, None, Some(body)).await?;
        anyhow::ensure!(status == 200, "login to {code}: {status} {body}");
        let v: serde_json::Value = serde_json::from_str(&body)?;
        v["token"]
            .as_str()
            .map(str::to_owned)
            .context("no token in the login answer")
    }

    /// `n` sequential `GET /api/tickets` with `token`; each must succeed.
    pub async fn series(&mut self, token: &str, n: usize) -> anyhow::Result<Vec<Duration>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let (status, body) = self
                .request("GET", "/api/tickets", Some(token), None)
                .await?;
            anyhow::ensure!(status == 200, "GET /api/tickets: {status} {body:.200}");
            out.push(t.elapsed());
        }
        Ok(out)
    }
}

/// This process's resident set, KiB (Linux; 0 elsewhere).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
