//! Memory per idle SSE stream: the release `lobby` as a process, N guests' streams open on it and
//! idle (keep-alive comments only), its resident memory read from `/proc/<pid>/status` before
//! and after. Streams share 100 conversations (as tabs do; at most 160 conversations can be
//! created per 30 s), so the figure is the cost of a stream, with its conversation's share.
//!
//! Clients are raw TCP connections from this process, spread over several loopback source
//! addresses (one address has only ~28,000 ephemeral ports); the soft open-file limits of both
//! processes are raised to the hard one, which caps the number of streams (on the CI machine it is
//! 20,000: the 50k step is cut to what fits and says so).
//!
//! Where the memory goes (valgrind massif at 3,000 streams): hyper allocates two 8 KiB buffers
//! per HTTP/1 connection (the read buffer, kept reserved while a streaming answer is written, and
//! the header write buffer), about half of it resident; the connection's task ~1.4 KiB; the
//! stream itself (`routes::events::Live` and its body) under 1 KiB. hyper 1.x offers no smaller
//! buffers (its minimum is its initial size, 8 KiB).

use std::{net::Ipv4Addr, path::Path, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use crate::{PROPERTY, Ports, Stack, guest::Guest, process::LobbyProcess};

/// Conversations the streams are spread over.
const CONVERSATIONS: usize = 100;
/// Streams opened at once while ramping up.
const RAMP: usize = 256;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Opens one SSE stream and reads its response head; the socket then stays open and unread.
async fn open_stream(source: Ipv4Addr, proxy: std::net::SocketAddr, session: &str, origin: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind((source, 0).into()).unwrap();
    let mut s = socket.connect(proxy).await.expect("connect");
    let req = format!(
        "GET /v1/conversation/events?session={session} HTTP/1.1\r\nHost: {proxy}\r\nOrigin: {origin}\r\n\
         Accept: text/event-stream\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await.expect("read head");
        assert!(n > 0, "the proxy closed a stream");
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "stream refused: {}", head.lines().next().unwrap_or(""));
    s
}

/// Opens streams up to each count in `steps` and returns (streams, RSS KiB, KiB per stream).
pub async fn run(exe: &Path, steps: &[usize]) -> Vec<(usize, u64, f64)> {
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("open-file limit");
    // Both processes need one descriptor per stream, and a few hundred more.
    let fits = hard.saturating_sub(500) as usize;
    let steps: Vec<usize> = steps.iter().map(|&s| s.min(fits)).collect();
    if steps.contains(&fits) {
        println!("the hard open-file limit is {hard}: at most {fits} streams on this machine");
    }
    let max = *steps.iter().max().unwrap();
    rlimit::setrlimit(rlimit::Resource::NOFILE, hard, hard).expect("raise the soft open-file limit");
    let stack = Stack::start(Ports::any()).await;
    let store = stack.data_dir().join("idle.redb");
    let limits = format!(
        r#"
[server]
max_connections = {conns}
[guest_limits]
per_ip = {{ burst = 100000.0, per_second = 100000.0 }}
stream_connects_per_session = {{ burst = 100000.0, per_second = 100000.0 }}
stream_connects_per_ip = {{ burst = 100000.0, per_second = 100000.0 }}
streams_per_session = {conns}
streams_per_ip = {conns}
conversations_per_minute = 100000.0
"#,
        conns = max + 1000
    );
    let lobby = LobbyProcess::start_with(&exe.to_string_lossy(), &stack, &store, &limits).await;
    let proxy: std::net::SocketAddr = lobby.url.trim_start_matches("http://").parse().unwrap();
    let mut sessions = Vec::new();
    for c in 0..CONVERSATIONS {
        let (g, _) = Guest::start(&lobby.url, &stack.pages_url, PROPERTY, &format!("Idle guest {c}"), None).await;
        sessions.push(g.session);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let base = rss_kib(lobby.pid());
    println!("lobby (release) with {CONVERSATIONS} conversations, no stream: RSS {base} KiB");
    let mut streams: Vec<TcpStream> = Vec::with_capacity(max);
    let mut out = Vec::new();
    for &target in &steps {
        while streams.len() < target {
            let batch = RAMP.min(target - streams.len());
            let opens: Vec<_> = (0..batch)
                .map(|k| {
                    let i = streams.len() + k;
                    let source = Ipv4Addr::new(127, 0, 1 + (i / 20_000) as u8, 1);
                    let (session, origin) = (sessions[i % CONVERSATIONS].clone(), stack.pages_url.clone());
                    tokio::spawn(async move { open_stream(source, proxy, &session, &origin).await })
                })
                .collect();
            for o in opens {
                streams.push(o.await.unwrap());
            }
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let rss = rss_kib(lobby.pid());
        let per = (rss.saturating_sub(base)) as f64 / target as f64;
        println!(
            "{target} idle streams: RSS {rss} KiB, {per:.1} KiB per stream ({:.0} streams per GiB)",
            1024.0 * 1024.0 / per
        );
        out.push((target, rss, per));
    }
    drop(streams);
    drop(lobby);
    stack.stop().await;
    out
}
