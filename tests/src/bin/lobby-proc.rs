//! The `lobby` binary, built in this package so that end-to-end tests can run the real program as
//! a process (`CARGO_BIN_EXE_lobby-proc`) and kill it with SIGKILL. Same code as `proxy/src/main.rs`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    lobby_proxy::cli::run().await
}
