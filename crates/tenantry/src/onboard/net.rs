//! Checks 1 and 2: name resolution (for SQLite, the directory and file) and TCP reachability.

use super::{advice, within, Run, NET_TIMEOUT};
use crate::registry::DataSource;
use crate::tenant::Engine;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Check 1. For SQLite, that the directory and the database file exist. Returns the addresses.
pub(super) async fn dns(run: &mut Run, src: &DataSource) -> Vec<SocketAddr> {
    let started = Instant::now();
    if src.engine == Engine::Sqlite {
        let dir = std::path::Path::new(&src.host);
        let file = dir.join(format!("{}.db", src.database));
        match (dir.is_dir(), file.is_file()) {
            (false, _) => run.fail("dns", started, advice::sqlite_dir_missing(&src.host)),
            (true, false) => run.fail("dns", started, advice::sqlite_file_missing(src)),
            (true, true) => run.pass("dns", started, format!("found {}", file.display())),
        }
        return Vec::new();
    }
    let host = src.host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        run.skip("dns", &format!("{ip} is an IP address"));
        return vec![SocketAddr::new(ip, src.port)];
    }
    let found = within(NET_TIMEOUT, tokio::net::lookup_host((host, src.port))).await;
    let detail = match found {
        Some(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if let Some(first) = addrs.first() {
                let msg = format!(
                    "{host} resolves to {} (and {} more)",
                    first.ip(),
                    addrs.len() - 1
                );
                run.pass("dns", started, msg);
                return addrs;
            }
            "no addresses".to_owned()
        }
        Some(Err(e)) => e.to_string(),
        None => format!("no answer within {} s", NET_TIMEOUT.as_secs()),
    };
    run.fail("dns", started, advice::dns_failed(host, &detail));
    Vec::new()
}

/// Check 2: a TCP connection to one of `addrs` within [`NET_TIMEOUT`].
pub(super) async fn tcp(run: &mut Run, src: &DataSource, addrs: &[SocketAddr]) {
    let started = Instant::now();
    let (host, port) = (src.host.as_str(), src.port);
    let message = match within(NET_TIMEOUT, tokio::net::TcpStream::connect(addrs)).await {
        Some(Ok(stream)) => {
            let peer = stream
                .peer_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            return run.pass("tcp", started, format!("connected to {peer}"));
        }
        Some(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            advice::tcp_refused(host, port, src.engine)
        }
        Some(Err(e)) => advice::tcp_other(host, port, &e.to_string()),
        None => advice::tcp_timeout(host, port, NET_TIMEOUT.as_secs()),
    };
    run.fail("tcp", started, message);
}
