//! The server under test as a child process: started on a free port with only the settings
//! given (no `.env`: it runs in an empty directory), timed to its first `/healthz` 200.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::bail;
use crate::util::{self, Result};

pub struct Server {
    child: Child,
    pub pid: u32,
    pub port: u16,
    /// From spawning the process to its first `/healthz` 200.
    pub startup: Duration,
    pub log: PathBuf,
}

/// How to start one server.
pub struct Launch<'a> {
    pub binary: &'a Path,
    /// Settings, on top of `HOST` and `PORT`.
    pub env: Vec<(String, String)>,
    /// stdout and stderr go here (appended).
    pub log: PathBuf,
    /// The working directory: empty, so that no `.env` is read.
    pub dir: &'a Path,
    /// Start it under `prlimit --nofile=N:N`.
    pub open_files: Option<u64>,
}

impl Server {
    pub async fn start(launch: Launch<'_>) -> Result<Server> {
        let port = util::free_port()?;
        let mut command = match launch.open_files {
            Some(n) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}"))
                    .arg("--")
                    .arg(launch.binary);
                c
            }
            None => Command::new(launch.binary),
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&launch.log)?;
        command
            .arg("serve")
            .current_dir(launch.dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "HOME",
                std::env::var("HOME").unwrap_or_else(|_| "/root".into()),
            )
            .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        // The clock starts right before the process does.
        let started = Instant::now();
        let mut child = command.spawn()?;
        let pid = child.id().unwrap_or_default();
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("the server exited ({status}): {}", tail(&launch.log, 20));
            }
            if healthz_ok(port).await {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("no /healthz 200 within 30 s: {}", tail(&launch.log, 20));
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        Ok(Server {
            child,
            pid,
            port,
            startup: started.elapsed(),
            log: launch.log,
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// SIGTERM, then SIGKILL after 6 s.
    pub async fn stop(mut self) {
        // SAFETY: kill only sends a signal to our own child.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(6), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

async fn healthz_ok(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request).await.is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    let read = tokio::time::timeout(Duration::from_secs(1), stream.read_exact(&mut head)).await;
    matches!(read, Ok(Ok(_))) && head.starts_with(b"HTTP/1.1 200")
}

/// The last `lines` lines of a log, ANSI colours removed.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = strip_ansi(&std::fs::read_to_string(path).unwrap_or_default());
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `text` without ANSI escape sequences (a log written to a file may have them).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters, ended by a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
