//! The `mews-sim` binary: flags, printed URLs, serving.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use mews_wire::paths;
use serde_json::Value;

use crate::common::fixture;

/// Kills the child process we started, even when an assertion fails first.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_prints_its_urls_serves_and_stops_on_ctrl_c() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_mews-sim"))
            .args(["--listen", "127.0.0.1:0", "--rate-limit", "50/10", "--webhook-lag", "instant", "--seed", "3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first.split_whitespace().last().unwrap().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");
    let rest: Vec<String> = lines.by_ref().take(3).map(Result::unwrap).collect();
    assert!(rest[0].contains(&format!("{base}/api/connector/v1")), "{rest:?}");
    assert!(rest[1].contains(&format!("{base}/")) && rest[1].contains("console"), "{rest:?}");
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}{}", paths::MESSAGE_THREADS_ADD))
        .json(&fixture("add_thread_request.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let settings: Value = http.get(format!("{base}/admin/config")).send().await.unwrap().json().await.unwrap();
    assert_eq!(settings["rate_limit_requests"], 50);
    assert_eq!(http.get(format!("{base}/")).send().await.unwrap().status(), 200);

    // Ctrl-C (SIGINT) stops it cleanly, even with an idle keep-alive connection open.
    let pid = child.0.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "still running 10 s after SIGINT");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn binary_help_exits_zero_and_bad_flags_exit_two() {
    let help = Command::new(env!("CARGO_BIN_EXE_mews-sim")).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--webhook-lag"));
    let bad = Command::new(env!("CARGO_BIN_EXE_mews-sim")).arg("--rate-limit=lots").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("rate limit"));
}

#[tokio::test]
async fn binary_reads_a_toml_config_file_that_adds_enterprises_and_tokens() {
    let dir = std::env::temp_dir().join(format!("mews-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sim.toml");
    std::fs::write(
        &file,
        r#"
listen = "127.0.0.1:0"
rate_limit = "7/10"
[[enterprises]]
id = "0f6d3c1e-5b7a-4c2d-9e81-2a4b6c8d0e1f"
name = "Lobby Test Hotel"
[[clients]]
name = "Lobby"
client_token = "LOBBY-CT"
[[clients.access_tokens]]
name = "Lobby hotel"
token = "LOBBY-AT"
enterprise_ids = ["0f6d3c1e-5b7a-4c2d-9e81-2a4b6c8d0e1f"]
"#,
    )
    .unwrap();
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_mews-sim"))
            .arg("--config")
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let first = BufReader::new(child.0.stdout.take().unwrap()).lines().next().unwrap().unwrap();
    let base = first.split_whitespace().last().unwrap().to_string();
    let http = reqwest::Client::new();
    let settings: Value = http.get(format!("{base}/admin/config")).send().await.unwrap().json().await.unwrap();
    assert_eq!(settings["rate_limit_requests"], 7);
    let r = http
        .post(format!("{base}{}", paths::MESSAGE_THREADS_ADD))
        .json(&serde_json::json!({"ClientToken": "LOBBY-CT", "AccessToken": "LOBBY-AT", "Client": "t",
            "OriginalSender": "J", "Subject": "S"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let threads: Value = http.get(format!("{base}/admin/threads")).send().await.unwrap().json().await.unwrap();
    assert_eq!(threads["threads"][0]["enterprise_name"], "Lobby Test Hotel");
    drop(child);

    // A bad value in the file is reported and the binary exits with 2.
    std::fs::write(&file, "rate_limit = \"nope\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mews-sim")).arg("--config").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    std::fs::remove_dir_all(&dir).unwrap();
}
