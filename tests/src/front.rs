//! A small HTTP front for the browser tests: sits between the widget and the real proxy, forwards
//! every request as it is (real HTTP, byte for byte, SSE included), and can be told to answer some
//! requests itself the way a proxy under pressure or out of reach would: `429` with `Retry-After`
//! for guest messages, or no answer at all for the widget API. Each request is logged with the
//! time it arrived, so a test can check what the widget sent and when.
//!
//! Every forwarded request carries `Connection: close`, so the browser opens a connection per
//! request and each one passes through the fault rules.

use std::{
    sync::{Arc, Mutex},
    time::Instant,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// What the front does instead of forwarding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    None,
    /// Answer the next `n` guest messages (`POST /v1/conversation/messages`) with `429` and
    /// `Retry-After: secs`.
    RateLimitSends { n: u32, secs: u32 },
    /// Never answer requests to the widget API (`/v1/…`): the connection stays open, silent.
    SilentApi,
}

/// One request seen by the front.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Instant,
    pub method: String,
    pub path: String,
    /// `true` when the front answered it itself (a fault), `false` when it was forwarded.
    pub faulted: bool,
}

#[derive(Clone)]
pub struct Front {
    pub url: String,
    fault: Arc<Mutex<Fault>>,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Front {
    /// Starts a front on a free loopback port that forwards to `upstream` (`host:port`).
    pub async fn start(upstream: std::net::SocketAddr) -> Front {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let front = Front { url, fault: Arc::new(Mutex::new(Fault::None)), log: Arc::new(Mutex::new(Vec::new())) };
        let f = front.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let f = f.clone();
                tokio::spawn(async move { f.handle(conn, upstream).await });
            }
        });
        front
    }

    pub fn set_fault(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    /// Every request seen so far.
    pub fn log(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    async fn handle(&self, mut conn: TcpStream, upstream: std::net::SocketAddr) {
        let mut buf = Vec::new();
        let head_end = loop {
            let mut chunk = [0u8; 4096];
            let n = match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut request = lines.next().unwrap_or_default().split(' ');
        let method = request.next().unwrap_or_default().to_owned();
        let path = request.next().unwrap_or_default().to_owned();
        let origin = head
            .split("\r\n")
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("origin")).map(|(_, v)| v.trim()))
            .unwrap_or("*")
            .to_owned();
        let action = {
            let mut fault = self.fault.lock().unwrap();
            match *fault {
                Fault::RateLimitSends { n, secs } if method == "POST" && path == "/v1/conversation/messages" => {
                    *fault = if n > 1 { Fault::RateLimitSends { n: n - 1, secs } } else { Fault::None };
                    Some(Some(secs))
                }
                Fault::SilentApi if path.starts_with("/v1/") => Some(None),
                _ => None,
            }
        };
        self.log.lock().unwrap().push(Seen { at: Instant::now(), method, path, faulted: action.is_some() });
        match action {
            Some(Some(secs)) => {
                let body = r#"{"error":{"code":"rate_limited","message":"Too many messages; try again shortly."}}"#;
                let resp = format!(
                    "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: {secs}\r\naccess-control-allow-origin: {origin}\r\naccess-control-expose-headers: retry-after\r\nvary: origin\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(resp.as_bytes()).await;
                let _ = conn.shutdown().await;
            }
            Some(None) => {
                // Out of reach: hold the connection, never answer (the widget's timeout must act).
                let mut sink = [0u8; 1024];
                while matches!(conn.read(&mut sink).await, Ok(n) if n > 0) {}
            }
            None => {
                let Ok(mut up) = TcpStream::connect(upstream).await else { return };
                let mut out: String = head
                    .trim_end_matches("\r\n")
                    .split("\r\n")
                    .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                    .map(|l| format!("{l}\r\n"))
                    .collect();
                out.push_str("connection: close\r\n\r\n");
                if up.write_all(out.as_bytes()).await.is_err() || up.write_all(&buf[head_end..]).await.is_err() {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut conn, &mut up).await;
            }
        }
    }
}
