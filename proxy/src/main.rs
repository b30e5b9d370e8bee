//! `lobby`: the production proxy binary. Reads its configuration (`LOBBY_CONFIG` TOML file plus
//! `LOBBY_*` environment overrides), listens, and stops gracefully on Ctrl-C or SIGTERM. It talks
//! only to the Mews addresses in its configuration — never to a simulator unless configured to.
//! Everything is in [`lobby_proxy::cli`].

/// jemalloc, not the system allocator: an instance holds tens of thousands of idle SSE streams,
/// each with two 8 KiB hyper buffers of which a few hundred bytes are used; jemalloc's size
/// classes leave the untouched pages unresident. Measured by `make bench` (`lobby-bench idle`,
/// release build, 10,000 idle streams): 12.6 KiB resident per stream with glibc's malloc,
/// 10.2 KiB with jemalloc (mimalloc: 20.2 KiB).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    lobby_proxy::cli::run().await
}
