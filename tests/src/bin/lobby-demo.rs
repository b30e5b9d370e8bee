//! `make demo`: the Mews simulator, the Lobby proxy and the demo hotel page, wired together
//! explicitly on fixed loopback ports. Ctrl-C stops everything.
//!
//! Ports can be changed with `LOBBY_DEMO_PAGE_PORT`, `LOBBY_DEMO_PROXY_PORT`, `LOBBY_DEMO_SIM_PORT`.

use lobby_e2e::{Ports, Stack};

fn port(var: &str, default: u16) -> u16 {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    lobby_proxy::init_tracing(lobby_proxy::config::LogFormat::Pretty);
    let ports = Ports {
        pages: port("LOBBY_DEMO_PAGE_PORT", 8000),
        proxy: port("LOBBY_DEMO_PROXY_PORT", 8080),
        sim: port("LOBBY_DEMO_SIM_PORT", 8090),
    };
    let stack = Stack::start(ports).await;
    println!();
    println!("  Lobby demo is running.");
    println!();
    println!("  Demo hotel page (the guest):   {}", stack.demo_page());
    println!("  Staff console (the hotel):     {}/", stack.sim_url);
    println!("  Proxy:                         {}   (metrics: {}/metrics)", stack.proxy_url, stack.proxy_url);
    println!("  Mews simulator Connector API:  {}/api/connector/v1/", stack.sim_url);
    println!();
    println!("  Open the hotel page, click the chat button and write; answer from the staff console.");
    println!("  \"I have a booking\": try 1001 + Müller, 4123.456.789 + Muller (Booking.com number), or");
    println!("  room 101 + Dvořák (in-house); the demo stays are in mews-sim/src/guests.rs.");
    println!("  Ctrl-C stops everything.");
    println!();
    let _ = tokio::signal::ctrl_c().await;
    println!("stopping…");
    stack.stop().await;
}
