//! `lobby`: the production proxy binary. Reads its configuration (`LOBBY_CONFIG` TOML file plus
//! `LOBBY_*` environment overrides), listens, and stops gracefully on Ctrl-C or SIGTERM. It talks
//! only to the Mews addresses in its configuration — never to a simulator unless configured to.

use lobby_proxy::{AppState, Config, assets::Assets, init_tracing, serve};

#[tokio::main]
async fn main() -> std::process::ExitCode {
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
    let state = AppState::new(config, Assets::embedded());
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
