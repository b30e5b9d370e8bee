//! The real `lobby` program as a child process (built in this package as `lobby-proc`), pointed
//! at a stack's simulator, so a test can kill it with SIGKILL mid-request and start it again on
//! the same store file.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use mews_wire::demo;

use crate::{PROPERTY, Stack, WEBHOOK_TOKEN, eventually};

pub struct LobbyProcess {
    pub url: String,
    child: Child,
    exe: PathBuf,
    config: PathBuf,
    port: u16,
}

impl LobbyProcess {
    /// Starts `exe` (a test's `env!("CARGO_BIN_EXE_lobby-proc")`) for the stack's simulator with
    /// its store at `store`, and waits until it answers `/healthz`.
    pub async fn start(exe: &str, stack: &Stack, store: &Path) -> Self {
        Self::start_with(exe, stack, store, "").await
    }

    /// Like [`LobbyProcess::start`], with more TOML appended to the configuration (tables such
    /// as `[server]` or `[guest_limits]`).
    pub async fn start_with(exe: &str, stack: &Stack, store: &Path, extra_toml: &str) -> Self {
        Self::start_configured(exe, stack, store, "", extra_toml).await
    }

    /// Like [`LobbyProcess::start_with`], with top-level keys as well (`redis_url = "…"`,
    /// `redis_prefix`, `budget_share`): `top_level_toml` goes before the first table, where TOML
    /// reads keys as the file's own; `tables_toml` (`[guest_limits]`, `[server]`) at the end.
    pub async fn start_configured(
        exe: &str,
        stack: &Stack,
        store: &Path,
        top_level_toml: &str,
        tables_toml: &str,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = store.with_extension("toml");
        let toml = format!(
            r#"
listen = "127.0.0.1:{port}"
store_path = "{store}"
upstream_timeout_secs = 10
{top_level_toml}
[properties.{PROPERTY}]
name = "Grand Hotel Vltava"
mews_url = "{sim}"
client_token = {{ env = "LOBBY_TEST_CLIENT_TOKEN" }}
access_token = {{ env = "LOBBY_TEST_ACCESS_TOKEN" }}
enterprise_id = "{enterprise}"
allowed_origins = ["{origin}"]
{tables_toml}
"#,
            store = store.display(),
            sim = stack.sim_url,
            enterprise = demo::GROSS_ID,
            origin = stack.pages_url,
        );
        std::fs::write(&config, toml).unwrap();
        Self::spawn(PathBuf::from(exe), config, port).await
    }

    async fn spawn(exe: PathBuf, config: PathBuf, port: u16) -> Self {
        let child = Command::new(&exe)
            .env("LOBBY_CONFIG", &config)
            .env("LOBBY_SESSION_SECRET", "process-session-secret-0123456789abcdef")
            .env("LOBBY_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
            .env("LOBBY_TEST_CLIENT_TOKEN", demo::TOKEN_SETS[0].1)
            .env("LOBBY_TEST_ACCESS_TOKEN", demo::TOKEN_SETS[0].2)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("lobby-proc starts");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        eventually(Duration::from_secs(20), "lobby answers /healthz", || async {
            http.get(format!("{url}/healthz")).send().await.ok().filter(|r| r.status().is_success())
        })
        .await;
        Self { url, child, exe, config, port }
    }

    /// The process id (to read its memory from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The port it listens on (kept across [`LobbyProcess::kill_and_restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// Kills the process and starts it again with the same configuration and store.
    pub async fn kill_and_restart(mut self) -> Self {
        self.kill();
        let (exe, config, port) = (self.exe.clone(), self.config.clone(), self.port);
        Self::spawn(exe, config, port).await
    }
}

impl Drop for LobbyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
