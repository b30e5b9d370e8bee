//! The `mews-sim` binary: parse the configuration, bind, print the URLs, serve until Ctrl-C.

use std::process::ExitCode;

use mews_sim::{AppState, Config, ConfigError, serve};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let config = match Config::from_args_and_file(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(ConfigError::Help(usage)) => {
            print!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("mews-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mews-sim: cannot listen on {}: {e}", config.listen);
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().map_or_else(|_| config.listen.to_string(), |a| a.to_string());
    println!("mews-sim listening on http://{addr}");
    println!("  Connector API base: http://{addr}/api/connector/v1");
    println!("  Staff console:      http://{addr}/");
    println!("  Admin API:          http://{addr}/admin/threads");
    match &config.webhook_url {
        Some(url) => println!("  Webhooks to:        {}", mews_sim::webhooks::redact_url(url)),
        None => println!("  Webhooks:           no URL configured (--webhook-url)"),
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match serve(listener, AppState::new(config), shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mews-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
