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
async fn binary_prints_its_urls_and_serves_the_api_and_console() {
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

#[test]
fn binary_reads_a_toml_config_file() {
    let dir = std::env::temp_dir().join(format!("mews-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sim.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\nrate_limit = \"nope\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mews-sim")).arg("--config").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "the file is read and its bad value reported");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    std::fs::remove_dir_all(&dir).unwrap();
}
