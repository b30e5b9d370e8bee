//! `lobby`: the production proxy binary. Reads its configuration (`LOBBY_CONFIG` TOML file plus
//! `LOBBY_*` environment overrides), listens, and stops gracefully on Ctrl-C or SIGTERM. It talks
//! only to the Mews addresses in its configuration — never to a simulator unless configured to.
//! Everything is in [`lobby_proxy::cli`].

#[tokio::main]
async fn main() -> std::process::ExitCode {
    lobby_proxy::cli::run().await
}
