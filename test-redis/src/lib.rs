//! A real `redis-server` for tests: its own free loopback port and its own temporary directory,
//! the append-only file on and fsynced on every write (`--appendonly yes --appendfsync always`,
//! no RDB snapshots), so that a restart keeps everything Redis acknowledged, as a production
//! Redis configured for Lobby does. Tests can stop it gracefully, kill it (`SIGKILL`) and start it
//! again on the same port and directory.
//!
//! Plain `std::process` and a blocking PING over a TCP socket: no Redis client and no async
//! runtime, so that proxy unit tests and the end-to-end tests can both use it.
//!
//! The binary is `redis-server` from `PATH` (Debian's package, installed by `make setup`), or the
//! one named by `LOBBY_REDIS_SERVER`.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// How long a start or restart may take before the test fails.
const READY_WITHIN: Duration = Duration::from_secs(5);
/// How long a graceful stop may take before the process is killed.
const STOP_WITHIN: Duration = Duration::from_secs(5);

/// A running (or stopped) `redis-server` owned by a test; dropping it kills the process and
/// removes its directory.
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free loopback port with a fresh directory and waits until it answers.
    ///
    /// Panics when `redis-server` is not installed, or does not answer PING within 5 s.
    pub fn start() -> RedisServer {
        let dir = tempfile::Builder::new().prefix("lobby-redis-").tempdir().expect("a temporary directory for redis");
        // A port found free can be taken by someone else before redis binds it: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            match spawn_and_wait(port, dir.path()) {
                Ok(child) => return RedisServer { port, dir, child: Some(child) },
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    /// `redis://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's directory (its append-only files and `redis.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the process is still running (it has not been stopped, killed, or died).
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the process with `SIGSTOP`: connections are still accepted by the kernel but nothing
    /// answers (a hung or unreachable Redis). [`RedisServer::thaw`] resumes it.
    pub fn freeze(&mut self) {
        self.signal("-STOP");
    }

    /// Resumes a frozen server (`SIGCONT`).
    pub fn thaw(&mut self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.pid().expect("redis-server is not running").to_string();
        let status = Command::new("kill").args([signal, &pid]).status().expect("run kill");
        assert!(status.success(), "kill {signal} {pid}: {status}");
    }

    /// Stops the server gracefully (`SHUTDOWN`: the append-only file is flushed) and waits for the
    /// process to end; kills it if it has not ended within 5 s. Nothing when not running.
    pub fn stop(&mut self) {
        if self.is_running() {
            self.thaw(); // a frozen server cannot shut down
        }
        let Some(mut child) = self.child.take() else { return };
        if let Ok(mut s) = connect(self.port) {
            // On success Redis closes the connection without an answer.
            let _ = s.write_all(b"*1\r\n$8\r\nSHUTDOWN\r\n");
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
        let deadline = Instant::now() + STOP_WITHIN;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server on port {} did not shut down within {STOP_WITHIN:?}; killed", self.port);
    }

    /// Kills the server with `SIGKILL` (a crash: nothing is flushed beyond what `appendfsync
    /// always` already wrote) and waits for the process to end. Nothing when not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory (stopping it gracefully first if it
    /// runs) and waits until it answers PING, which Redis does only once the append-only file is
    /// loaded (`-LOADING` before).
    pub fn restart(&mut self) {
        self.stop();
        match spawn_and_wait(self.port, self.dir.path()) {
            Ok(child) => self.child = Some(child),
            Err(e) => panic!("redis-server did not restart on port {}: {e}", self.port),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `redis-server` on `port` with its files in `dir`; waits until it answers PING. `Err` when
/// it exited (the port was taken, say), with the end of its log.
fn spawn_and_wait(port: u16, dir: &Path) -> Result<Child, String> {
    let log = dir.join("redis.log");
    let binary = binary();
    let child = Command::new(&binary)
        .current_dir(dir)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir)
        .args(["--appendonly", "yes", "--appendfsync", "always", "--save", ""])
        .args(["--daemonize", "no", "--databases", "1"])
        .arg("--logfile")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("redis-server not found: run `make setup` (installs Debian's redis-server) [{}]", binary.display())
        }
        Err(e) => panic!("cannot run {}: {e}", binary.display()),
    };
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("redis-server exited ({status}); its log:\n{}", log_tail(&log)));
        }
        if ping(port) {
            return Ok(child);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "redis-server on port {port} did not answer PING within {READY_WITHIN:?}; its log:\n{}",
                log_tail(&log)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn binary() -> PathBuf {
    std::env::var_os("LOBBY_REDIS_SERVER").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("redis-server"))
}

fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free loopback port");
    l.local_addr().expect("its address").port()
}

fn connect(port: u16) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), Duration::from_millis(200))?;
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    s.set_write_timeout(Some(Duration::from_millis(500)))?;
    Ok(s)
}

/// `PING` answered with `+PONG` (not `-LOADING`: the data set is loaded).
fn ping(port: u16) -> bool {
    let Ok(mut s) = connect(port) else { return false };
    if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    s.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

fn log_tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends one command (inline arguments) and returns the first line of the answer.
    fn command(port: u16, args: &[&str]) -> String {
        let mut s = connect(port).expect("connect");
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(out.as_bytes()).unwrap();
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        // Bulk strings come as `$N\r\nvalue\r\n`: read two lines for those, one otherwise.
        let mut lines = 0;
        while s.read_exact(&mut byte).is_ok() {
            buf.push(byte[0]);
            if buf.ends_with(b"\r\n") {
                lines += 1;
                if !(buf.starts_with(b"$") && buf != b"$-1\r\n") || lines == 2 {
                    break;
                }
            }
        }
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn a_written_key_survives_a_restart_and_a_kill_closes_the_port() {
        let mut redis = RedisServer::start();
        assert_eq!(redis.url(), format!("redis://127.0.0.1:{}/", redis.port()));
        assert_eq!(command(redis.port(), &["SET", "guest", "Jane"]), "+OK\r\n");

        redis.restart();
        assert_eq!(command(redis.port(), &["GET", "guest"]), "$4\r\nJane\r\n", "graceful stop, then start");

        // SIGKILL right after an acknowledged write: `appendfsync always` wrote it already.
        assert_eq!(command(redis.port(), &["SET", "room", "12"]), "+OK\r\n");
        redis.kill();
        assert!(!redis.is_running());
        assert!(connect(redis.port()).is_err(), "nothing listens after a kill");
        redis.restart();
        assert_eq!(command(redis.port(), &["GET", "room"]), "$2\r\n12\r\n", "acknowledged before SIGKILL");
        assert_eq!(command(redis.port(), &["GET", "guest"]), "$4\r\nJane\r\n");

        redis.freeze();
        assert!(!ping(redis.port()), "a frozen server does not answer");
        redis.thaw();
        assert!(ping(redis.port()));
        redis.freeze();
        redis.restart();
        assert_eq!(command(redis.port(), &["GET", "room"]), "$2\r\n12\r\n", "a frozen server restarts");

        let dir = redis.dir().to_owned();
        assert!(dir.join("redis.log").exists());
        drop(redis);
        assert!(!dir.exists(), "dropping the server removes its directory");
    }

    #[test]
    fn a_frozen_server_does_not_answer_until_thawed() {
        let mut redis = RedisServer::start();
        assert_eq!(command(redis.port(), &["SET", "k", "v"]), "+OK\r\n");
        redis.freeze();
        assert!(!ping(redis.port()), "no answer while stopped");
        redis.thaw();
        assert!(ping(redis.port()));
        assert_eq!(command(redis.port(), &["GET", "k"]), "$1\r\nv\r\n");
        redis.freeze();
        drop(redis); // SIGKILL ends a stopped process too
    }

    #[test]
    fn servers_do_not_share_ports_or_data() {
        let (a, b) = (RedisServer::start(), RedisServer::start());
        assert_ne!(a.port(), b.port());
        assert_eq!(command(a.port(), &["SET", "k", "a"]), "+OK\r\n");
        assert_eq!(command(b.port(), &["GET", "k"]), "$-1\r\n");
        let port = a.port();
        drop(a);
        assert!(connect(port).is_err(), "dropping the server kills it");
    }
}
