//! The `mews-sim` binary: parse the configuration, bind, print the URLs, serve until Ctrl-C.

use std::{io::Write, process::ExitCode};

use mews_sim::{AppState, Config, ConfigError, serve};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let config = match Config::from_args_and_file(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(ConfigError::Help(usage)) => {
            let _ = std::io::stdout().write_all(usage.as_bytes());
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
    let webhooks = match &config.webhook_url {
        Some(url) => format!("Webhooks to:        {}", mews_sim::webhooks::redact_url(url)),
        None => "Webhooks:           no URL configured (--webhook-url)".to_string(),
    };
    // Written without `println!`, which would panic if whoever started us closed our stdout.
    let banner = format!(
        "mews-sim listening on http://{addr}\n  Connector API base: http://{addr}/api/connector/v1\n  \
         Staff console:      http://{addr}/\n  Admin API:          http://{addr}/admin/threads\n  {webhooks}\n"
    );
    let mut out = std::io::stdout();
    let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
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
