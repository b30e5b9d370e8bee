//! A flood of idle connections (they connect and never send a byte) must not take the proxy down
//! for everyone: `/healthz` and guests are still answered at once while 2,000 are open. The test
//! starts from systemd's default soft open-file limit (1024), where the attack used to work: the
//! proxy raises it to the hard limit at start-up.

use std::time::{Duration, Instant};

use lobby_e2e::{Ports, Stack};
use tokio::net::TcpStream;

const IDLE: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_at_once_while_2000_idle_connections_are_open() {
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    rlimit::setrlimit(rlimit::Resource::NOFILE, 1024.min(hard), hard).unwrap();
    let stack = Stack::start(Ports::any()).await;
    let addr = stack.proxy_url.trim_start_matches("http://").to_owned();
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(TcpStream::connect(&addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    println!("open-file limit: 1024 before the proxy started, {soft} once it runs (hard {hard})");
    // A fresh client each time: a new connection, as a new visitor would open.
    let mut worst = Duration::ZERO;
    for _ in 0..10 {
        let http = reqwest::Client::new();
        let t0 = Instant::now();
        let resp =
            tokio::time::timeout(Duration::from_secs(5), http.get(format!("{}/healthz", stack.proxy_url)).send())
                .await
                .expect("/healthz answered")
                .unwrap();
        worst = worst.max(t0.elapsed());
        assert_eq!(resp.status(), 200);
    }
    println!("/healthz with {IDLE} idle connections open: slowest of 10 answers {worst:?}");
    assert!(worst < Duration::from_millis(100), "{worst:?}");
    drop(idle);
    stack.stop().await;
}
