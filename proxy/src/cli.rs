//! What the `lobby` binary does, in the library so that the end-to-end tests can build the same
//! program as a process of their own (to kill it with SIGKILL) — the binary is one call.

use crate::{AppState, Config, assets::Assets, init_tracing, serve};

/// Runs the proxy as configured by the environment until Ctrl-C or SIGTERM; the exit code says
/// how it ended (2: configuration or store unusable, 1: cannot listen or serve).
pub async fn run() -> std::process::ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lobby: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    init_tracing(config.log_format);
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("lobby: cannot listen on {}: {e}", config.listen);
            return std::process::ExitCode::from(1);
        }
    };
    tracing::info!(addr = %config.listen, properties = config.properties.len(), "lobby listening");
    let state = match AppState::open(config, Assets::embedded()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lobby: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Err(e) = serve(listener, state, shutdown_signal()).await {
        eprintln!("lobby: {e}");
        return std::process::ExitCode::from(1);
    }
    std::process::ExitCode::SUCCESS
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
