//! `make demo`: the Mews simulator, the Lobby proxy and the demo hotel page, wired together
//! explicitly on fixed loopback ports. Ctrl-C stops everything.
//!
//! Ports can be changed with `LOBBY_DEMO_PAGE_PORT`, `LOBBY_DEMO_PROXY_PORT`, `LOBBY_DEMO_SIM_PORT`.
//!
//! `LOBBY_DEMO_INSTANCES=3 make demo` runs the proxy as a cluster instead: a `redis-server` of
//! its own (Debian's, installed by `make setup`; a temporary directory, a free port), three
//! `lobby` instances sharing it, and in front of them, on the proxy port, a plain TCP balancer
//! that hands each new connection to the next instance (round robin), as a load balancer would.

use std::time::Duration;

use lobby_e2e::{Ports, Stack};
use lobby_proxy::config::RedisConfig;
use secrecy::SecretString;
use tokio::net::{TcpListener, TcpStream};

fn port(var: &str, default: u16) -> u16 {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    lobby_proxy::init_tracing(lobby_proxy::config::LogFormat::Pretty);
    let instances: usize = std::env::var("LOBBY_DEMO_INSTANCES").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let ports = Ports {
        pages: port("LOBBY_DEMO_PAGE_PORT", 8000),
        proxy: port("LOBBY_DEMO_PROXY_PORT", 8080),
        sim: port("LOBBY_DEMO_SIM_PORT", 8090),
    };
    let (stack, cluster) =
        if instances > 1 { start_cluster(ports, instances).await } else { (Stack::start(ports).await, None) };
    println!();
    println!("  Lobby demo is running.");
    println!();
    println!("  Demo hotel page (the guest):   {}", stack.demo_page());
    println!("  Staff console (the hotel):     {}/", stack.sim_url);
    match &cluster {
        None => {
            println!("  Proxy:                         {}   (metrics: {}/metrics)", stack.proxy_url, stack.proxy_url)
        }
        Some(c) => {
            println!("  Proxy (round-robin balancer):  {}", c.front);
            for (i, url) in c.instances.iter().enumerate() {
                println!("    instance {}:                  {url}   (metrics: {url}/metrics)", i + 1);
            }
            println!("  Redis:                         {}", c.redis.url());
        }
    }
    println!("  Mews simulator Connector API:  {}/api/connector/v1/", stack.sim_url);
    println!();
    println!("  Open the hotel page, click the chat button and write; answer from the staff console.");
    println!("  \"I have a booking\": try 1001 + Müller, 4123.456.789 + Muller (Booking.com number), or");
    println!("  room 101 + Dvořák (in-house); the demo stays are in mews-sim/src/guests.rs.");
    println!("  Ctrl-C (or SIGTERM) stops everything.");
    println!();
    // SIGTERM too (a script's `kill`, a terminal closed): the demo's own Redis and instances are
    // children that only `stop` ends.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    println!("stopping…");
    stack.stop().await;
    drop(cluster);
}

struct Cluster {
    front: String,
    instances: Vec<String>,
    redis: lobby_test_redis::RedisServer,
}

/// A Redis, `n` instances on it (the stack's own and `n - 1` more), and a balancer on the proxy port.
async fn start_cluster(ports: Ports, n: usize) -> (Stack, Option<Cluster>) {
    let redis = lobby_test_redis::RedisServer::start();
    let front = TcpListener::bind(("127.0.0.1", ports.proxy)).await.expect("bind the balancer");
    let front_url = format!("http://{}", front.local_addr().unwrap());
    let url = redis.url();
    let stack = Stack::start_custom(Ports { proxy: 0, ..ports }, mews_sim::Config::default(), |c| {
        c.redis = Some(RedisConfig { url: SecretString::from(url), prefix: "lobby:".into() });
    })
    .await;
    let mut instances = vec![stack.proxy_url.clone()];
    for _ in 1..n {
        let mut config = stack.proxy_config().clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an instance");
        config.listen = listener.local_addr().unwrap();
        instances.push(format!("http://{}", config.listen));
        let state =
            lobby_proxy::AppState::open(config, lobby_proxy::assets::Assets::embedded()).await.expect("an instance");
        tokio::spawn(lobby_proxy::serve(listener, state, std::future::pending()));
    }
    stack.set_page_proxy(&front_url);
    let backends: Vec<String> = instances.iter().map(|u| u.trim_start_matches("http://").to_owned()).collect();
    tokio::spawn(async move {
        let mut next = 0;
        loop {
            let Ok((mut client, _)) = front.accept().await else { continue };
            let backend = backends[next % backends.len()].clone();
            next += 1;
            tokio::spawn(async move {
                if let Ok(Ok(mut server)) =
                    tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&backend)).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (stack, Some(Cluster { front: front_url, instances, redis }))
}
