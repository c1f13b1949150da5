//! The real `now-playing` binary as a child process: its JSON log lines collected as they
//! come (request lines only counted), panics noticed, and its memory read from `/proc`.
//!
//! The log is read on an OS thread of its own: the server writes a line per request, and a
//! reader starved by the test's busy runtime would fill the pipe and stall the server.

use std::io::BufRead;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::process::{Child, Command};

/// A Spotify call as the server logged it ("spotify call" lines), timed when the line was read.
#[derive(Clone, Debug)]
pub(crate) struct LoggedCall {
    pub at: Duration,
    pub endpoint: String,
    pub outcome: String,
}

#[derive(Default)]
pub(crate) struct Logs {
    /// Every line except the one-per-request lines, with when it was read.
    pub lines: Vec<(Duration, String)>,
    pub request_lines: u64,
    /// Lines that mention a panic.
    pub panics: Vec<String>,
    pub calls: Vec<LoggedCall>,
}

pub(crate) struct Server {
    child: Child,
    pub pid: u32,
    pub port: u16,
    pub logs: Arc<Mutex<Logs>>,
    collector: std::thread::JoinHandle<()>,
}

impl Server {
    /// Starts `now-playing serve` in an empty directory (no `.env`) with only `env` (and
    /// `PATH`), JSON logs and port 0, and waits for its "listening" line.
    pub(crate) async fn start(env: &[(&str, String)], epoch: Instant) -> Server {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("soak-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_now-playing"))
            .arg("serve")
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("LOG_FORMAT", "json")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary runs");
        let pid = child.id().expect("the child has a pid");
        let logs = Arc::new(Mutex::new(Logs::default()));
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        let stderr = child.stderr.take().unwrap().into_owned_fd().unwrap();
        let lines = std::io::BufReader::new(std::fs::File::from(stderr)).lines();
        let collected = Arc::clone(&logs);
        let collector = std::thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            for line in lines.map_while(Result::ok) {
                let at = epoch.elapsed();
                let value = serde_json::from_str::<Value>(&line).unwrap_or(Value::Null);
                let mut logs = collected.lock().unwrap();
                if line.contains("panicked") {
                    logs.panics.push(line.clone());
                }
                if let Some(address) = value["address"].as_str()
                    && let Some(tx) = port_tx.take()
                {
                    let port = address.rsplit(':').next().unwrap().parse::<u16>().unwrap();
                    let _ = tx.send(port);
                }
                match value["message"].as_str() {
                    Some("request") => {
                        logs.request_lines += 1;
                        continue;
                    }
                    Some("spotify call" | "spotify call failed") => {
                        let call = LoggedCall {
                            at,
                            endpoint: value["endpoint"].as_str().unwrap_or("?").to_owned(),
                            outcome: value["outcome"].as_str().unwrap_or("?").to_owned(),
                        };
                        logs.calls.push(call);
                    }
                    _ => {}
                }
                logs.lines.push((at, line));
            }
        });
        let port = tokio::time::timeout(Duration::from_secs(10), port_rx)
            .await
            .expect("the server starts within 10 s")
            .expect("the server logs its address");
        Server {
            child,
            pid,
            port,
            logs,
            collector,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Whether the process is still running.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM and waits up to `limit` for the process to exit and its log to end.
    pub(crate) async fn terminate(mut self, limit: Duration) -> (Option<ExitStatus>, Duration) {
        let started = Instant::now();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM could not be sent");
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()
            .map(|s| s.expect("waiting for the child works"));
        let took = started.elapsed();
        if status.is_none() {
            let _ = self.child.kill().await;
        }
        // The log ends with the process (it holds the only write end).
        let collector = tokio::task::spawn_blocking(move || self.collector.join());
        let _ = tokio::time::timeout(Duration::from_secs(5), collector).await;
        (status, took)
    }
}

/// `VmRSS` and `VmHWM` of process `pid` in KiB, while it exists.
pub(crate) fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
