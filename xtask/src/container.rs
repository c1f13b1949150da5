//! `cargo xtask container`: the container proof. Builds the real Dockerfile with podman,
//! offline (stand-in base images from `scripts/container-base-images.sh`, the host toolchain
//! mounted read-only), runs the image against the mock Spotify on the host and checks it:
//! `/healthz`, `/now-playing`, the HEALTHCHECK, a non-root process, `TOKEN_FILE` written on
//! the volume, the image size, and that `podman stop` ends it by SIGTERM, exit 0, even with
//! an event stream open. Prints a table of checks; fails if any failed.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mock_spotify::{ACCESS_TOKEN_PREFIX, MockSpotify, Options, fixtures};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bail;
use crate::util::{self, Result, log};

const TASK: &str = "container";
const STANDIN_DEBIAN: &str = "docker.io/library/debian:bookworm-slim";
const CLIENT_ID: &str = "test-client";
const CLIENT_SECRET: &str = "test-secret";
const REFRESH_TOKEN: &str = "test-refresh";
const ROTATED_REFRESH_TOKEN: &str = "test-refresh-rotated";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Network {
    /// podman's default bridge; the mock is reached as host.containers.internal.
    Bridge,
    /// The host's network.
    Host,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image tag to build and test.
    #[arg(long, default_value = "localhost/now-playing:ci")]
    image: String,
    /// Test the existing --image, skip the build.
    #[arg(long)]
    skip_build: bool,
    /// Network mode; by default the bridge when a container can reach the host, else host.
    #[arg(long, value_enum)]
    network: Option<Network>,
    /// The image must be smaller than this.
    #[arg(long, default_value_t = 20_000_000)]
    max_image_bytes: u64,
    /// `podman stop` must end the container within this many seconds.
    #[arg(long, default_value_t = 5)]
    max_stop_seconds: u64,
}

/// The checks so far: name, PASS/FAIL/SKIP, detail.
#[derive(Default)]
struct Checks(Vec<(&'static str, &'static str, String)>);

impl Checks {
    fn record(&mut self, name: &'static str, pass: bool, detail: impl Into<String>) {
        let (status, detail) = (if pass { "PASS" } else { "FAIL" }, detail.into());
        log(TASK, format!("{status}: {name}: {detail}"));
        self.0.push((name, status, detail));
    }

    fn skip(&mut self, name: &'static str, detail: impl Into<String>) {
        self.0.push((name, "SKIP", detail.into()));
    }

    fn failed(&self) -> bool {
        self.0.iter().any(|(_, status, _)| *status == "FAIL")
    }

    fn print(&self) {
        println!("\n{:<26} {:<6} DETAIL", "CHECK", "RESULT");
        println!(
            "{:<26} {:<6} {}",
            "-".repeat(26),
            "-".repeat(6),
            "-".repeat(30)
        );
        for (name, status, detail) in &self.0 {
            println!("{name:<26} {status:<6} {detail}");
        }
        println!();
    }
}

/// podman with this machine's containers.conf.
struct Podman {
    conf: String,
}

impl Podman {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("podman");
        command
            .args(args)
            .env("CONTAINERS_CONF", &self.conf)
            .stdin(Stdio::null());
        command
    }

    /// Its stdout, trimmed; an error with its stderr if it fails.
    fn run(&self, args: &[&str]) -> Result<String> {
        let out = self.command(args).output()?;
        if !out.status.success() {
            bail!(
                "podman {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    fn inspect(&self, what: &str, name: &str, format: &str) -> String {
        self.run(&[what, "inspect", "--format", format, name])
            .unwrap_or_default()
    }
}

/// Removes the container and its volume, whatever happened.
struct Cleanup<'a> {
    podman: &'a Podman,
    names: [String; 2],
    volume: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let [a, b] = &self.names;
        let _ = self
            .podman
            .command(&["rm", "-f", "-t", "0", a, b])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self
            .podman
            .command(&["volume", "rm", "-f", &self.volume])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

pub async fn run(args: Args) -> Result<()> {
    let root = util::root();
    log(TASK, "preparing podman and the stand-in base images");
    let prepared = util::output(
        &root
            .join("scripts/container-base-images.sh")
            .display()
            .to_string(),
        &["--print-build-args"],
    )?;
    let mut lines = prepared.lines();
    let conf = lines
        .next()
        .and_then(|l| l.strip_prefix("CONTAINERS_CONF="))
        .ok_or_else(|| {
            util::Error("scripts/container-base-images.sh printed no CONTAINERS_CONF".into())
        })?
        .to_owned();
    let build_args: Vec<String> = lines.map(str::to_owned).collect();
    let podman = Podman { conf };
    let work = std::env::temp_dir().join(format!("np-container-test-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let tag = format!("np-ct-{}", std::process::id());
    let container = tag.clone();
    let _cleanup = Cleanup {
        podman: &podman,
        names: [container.clone(), format!("{tag}-preflight")],
        volume: format!("{tag}-data"),
    };
    let mut checks = Checks::default();
    let outcome = prove(&args, &podman, &build_args, &root, &work, &tag, &mut checks).await;
    checks.print();
    let _ = std::fs::remove_dir_all(&work);
    outcome?;
    if checks.failed() {
        bail!("some container checks failed (see the table above)");
    }
    log(TASK, "all container checks passed");
    Ok(())
}

async fn prove(
    args: &Args,
    podman: &Podman,
    build_args: &[String],
    root: &Path,
    work: &Path,
    tag: &str,
    checks: &mut Checks,
) -> Result<()> {
    let image = args.image.as_str();
    // ---- build
    if args.skip_build {
        if podman.run(&["image", "exists", image]).is_err() {
            bail!("--skip-build but {image} does not exist");
        }
        checks.skip("build", format!("--skip-build, using existing {image}"));
    } else {
        let version = std::fs::read_to_string(root.join("Cargo.toml"))?
            .lines()
            .find_map(|l| {
                l.strip_prefix("version = \"")
                    .map(|v| v.trim_end_matches('"').to_owned())
            })
            .unwrap_or_default();
        let mut build: Vec<String> = ["build", "--pull=never", "--format", "docker"]
            .map(String::from)
            .to_vec();
        build.extend(build_args.iter().cloned());
        build.extend([
            "--build-arg".into(),
            format!("VERSION={version}"),
            "-t".into(),
            image.into(),
            root.display().to_string(),
        ]);
        log(TASK, format!("podman {}", build.join(" ")));
        let started = Instant::now();
        let build_log = work.join("build.log");
        let log_file = std::fs::File::create(&build_log)?;
        let refs: Vec<&str> = build.iter().map(String::as_str).collect();
        let status = podman
            .command(&refs)
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .status()?;
        if !status.success() {
            let text = std::fs::read_to_string(&build_log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(60).collect();
            eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            checks.record("build", false, "podman build failed (log tail above)");
            return Ok(());
        }
        checks.record(
            "build",
            true,
            format!("{} s, {image}", started.elapsed().as_secs()),
        );
    }

    // ---- the image's configuration
    let size: u64 = podman
        .inspect("image", image, "{{.Size}}")
        .parse()
        .unwrap_or(u64::MAX);
    checks.record(
        "image-size",
        size < args.max_image_bytes,
        format!(
            "{size} bytes ({} MB), limit {}",
            util::mb(size),
            args.max_image_bytes
        ),
    );
    let user = podman.inspect("image", image, "{{.Config.User}}");
    let healthcheck = podman.inspect("image", image, "{{json .HealthCheck}}");
    let stop_signal = podman.inspect("image", image, "{{.Config.StopSignal}}");
    let env = format!(
        " {} ",
        podman.inspect("image", image, "{{join .Config.Env \" \"}}")
    );
    let ports = podman.inspect(
        "image",
        image,
        "{{range $p, $v := .Config.ExposedPorts}}{{$p}} {{end}}",
    );
    let entry = podman.inspect(
        "image",
        image,
        "{{json .Config.Entrypoint}} {{json .Config.Cmd}}",
    );
    let uid = user.split(':').next().unwrap_or("");
    let mut problems = Vec::new();
    if uid.is_empty() || !uid.bytes().all(|b| b.is_ascii_digit()) || uid == "0" {
        problems.push(format!("USER '{user}' is not a numeric non-root uid"));
    }
    if !healthcheck.contains("healthcheck") {
        problems.push(format!(
            "no HEALTHCHECK calling 'now-playing healthcheck' ({healthcheck})"
        ));
    }
    if !matches!(stop_signal.as_str(), "SIGTERM" | "15" | "") {
        problems.push(format!("STOPSIGNAL is {stop_signal}"));
    }
    if !(env.contains(" HOST=0.0.0.0 ") && env.contains(" PORT=8080 ")) {
        problems.push("ENV lacks HOST=0.0.0.0 PORT=8080".into());
    }
    if !ports.contains("8080") {
        problems.push("8080 not exposed".into());
    }
    let detail = if problems.is_empty() {
        format!(
            "user {user}, port {ports}, stop {}, {entry}",
            if stop_signal.is_empty() {
                "SIGTERM"
            } else {
                &stop_signal
            }
        )
    } else {
        problems.join("; ")
    };
    checks.record("image-config", problems.is_empty(), detail);

    // ---- the mock Spotify, on every interface so that the container reaches it
    let mock = MockSpotify::start_with(Options {
        host: "0.0.0.0".parse().expect("an address"),
        client: Some((CLIENT_ID.into(), CLIENT_SECRET.into())),
        refresh_token: Some(REFRESH_TOKEN.into()),
        rotate_refresh_token: Some(ROTATED_REFRESH_TOKEN.into()),
        ..Options::default()
    })
    .await?;
    let mock_port = mock.port();
    log(TASK, format!("mock Spotify on 0.0.0.0:{mock_port}"));
    let network = match args.network {
        Some(network) => network,
        None => preflight(podman, tag, mock_port),
    };
    let host_port = util::free_port()?;
    let volume = format!("{tag}-data");
    let mut run: Vec<String> = vec![
        "run".into(),
        "-d".into(),
        "--name".into(),
        tag.into(),
        // The health check is run by hand below; no systemd timer on these machines.
        "--health-interval=disable".into(),
        "-v".into(),
        format!("{volume}:/data"),
    ];
    for (key, value) in [
        ("TOKEN_FILE", "/data/token.json"),
        ("SPOTIFY_CLIENT_ID", CLIENT_ID),
        ("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET),
        ("SPOTIFY_REFRESH_TOKEN", REFRESH_TOKEN),
        ("RUST_LOG", "info"),
    ] {
        run.extend(["-e".into(), format!("{key}={value}")]);
    }
    let mock_url = match network {
        Network::Bridge => {
            run.extend(["-p".into(), format!("127.0.0.1:{host_port}:8080")]);
            format!("http://host.containers.internal:{mock_port}")
        }
        Network::Host => {
            run.extend([
                "--network=host".into(),
                "-e".into(),
                format!("PORT={host_port}"),
            ]);
            format!("http://127.0.0.1:{mock_port}")
        }
    };
    run.extend([
        "-e".into(),
        format!("SPOTIFY_ACCOUNTS_URL={mock_url}"),
        "-e".into(),
        format!("SPOTIFY_API_URL={mock_url}"),
        image.into(),
    ]);
    podman.run(&["volume", "create", &volume])?;
    log(TASK, format!("podman {}", run.join(" ")));
    let refs: Vec<&str> = run.iter().map(String::as_str).collect();
    podman.run(&refs)?;
    let address = format!("127.0.0.1:{host_port}");
    checks.record(
        "network",
        true,
        format!("{network:?}; server at http://{address}, mock at {mock_url}"),
    );

    // ---- /healthz within 30 s
    let started = Instant::now();
    let mut last = "no answer".to_owned();
    let mut healthy = false;
    while started.elapsed() < Duration::from_secs(30) {
        match util::get(&address, "/healthz", &[], Duration::from_secs(5)).await {
            Ok(r) if r.status == 200 => {
                healthy = true;
                last = r.text().chars().take(20).collect();
                break;
            }
            Ok(r) => last = format!("status {}", r.status),
            Err(e) => last = e.0,
        }
        if podman.inspect("container", tag, "{{.State.Running}}") != "true" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !healthy {
        let state = podman.inspect(
            "container",
            tag,
            "{{.State.Running}} exit={{.State.ExitCode}}",
        );
        checks.record("healthz", false, format!("last: {last}; running={state}"));
        show_logs(podman, tag);
        return Ok(());
    }
    checks.record(
        "healthz",
        true,
        format!("200 '{last}' after {} ms", started.elapsed().as_millis()),
    );

    // ---- /now-playing: the mock's track (a few seconds for the first fetch)
    let mut detail = String::new();
    let mut ok = false;
    for _ in 0..20 {
        match util::get(&address, "/now-playing", &[], Duration::from_secs(5)).await {
            Ok(r) if r.status == 200 => {
                let doc: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
                let content_type = r.header("content-type").unwrap_or_default().to_owned();
                detail = format!(
                    "200 {content_type}, state={} title={} stale={}",
                    doc["state"], doc["item"]["title"], doc["stale"]
                );
                ok = content_type.starts_with("application/json")
                    && doc["state"] == "playing"
                    && doc["item"]["title"] == fixtures::TRACK_TITLE
                    && doc["stale"] == false;
            }
            Ok(r) => {
                detail = format!(
                    "status {}: {}",
                    r.status,
                    r.text().chars().take(300).collect::<String>()
                )
            }
            Err(e) => detail = e.0,
        }
        if ok {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    checks.record("now-playing", ok, detail);
    if !ok {
        show_logs(podman, tag);
    }

    // ---- the image's HEALTHCHECK, and the command itself
    match podman.run(&["healthcheck", "run", tag]) {
        Ok(out) => {
            let status = podman.inspect("container", tag, "{{.State.Health.Status}}");
            checks.record(
                "healthcheck",
                true,
                format!(
                    "podman healthcheck run: {} ({status})",
                    if out.is_empty() { "healthy" } else { &out }
                ),
            );
        }
        Err(e) => checks.record("healthcheck", false, e.0),
    }
    match podman.run(&["exec", tag, "/now-playing", "healthcheck"]) {
        Ok(_) => checks.record(
            "healthcheck-exec",
            true,
            format!("podman exec {tag} /now-playing healthcheck: exit 0"),
        ),
        Err(e) => checks.record("healthcheck-exec", false, e.0),
    }

    // ---- non-root: the live process's real and effective uid, from the host's /proc
    let pid = podman.inspect("container", tag, "{{.State.Pid}}");
    let uids: Vec<String> = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .map(|v| v.split_whitespace().take(2).map(str::to_owned).collect())
        .unwrap_or_default();
    let top = podman
        .run(&["top", tag, "user", "huser"])
        .unwrap_or_default()
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    checks.record(
        "non-root",
        uids.len() == 2 && uids.iter().all(|u| u != "0"),
        format!(
            "pid {pid} uid/euid {}; podman top user/huser: {top}",
            uids.join(" ")
        ),
    );

    // ---- TOKEN_FILE on the volume: the mock rotates the refresh token, so the server writes
    // the file, as uid 65532, mode 0600.
    let token_file =
        PathBuf::from(podman.inspect("volume", &volume, "{{.Mountpoint}}")).join("token.json");
    for _ in 0..20 {
        if token_file.is_file() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    match std::fs::metadata(&token_file) {
        Ok(meta) => {
            let owner = format!("{}:{} {:o}", meta.uid(), meta.gid(), meta.mode() & 0o777);
            let rotated = std::fs::read_to_string(&token_file)
                .unwrap_or_default()
                .contains(ROTATED_REFRESH_TOKEN);
            checks.record(
                "token-file",
                owner == "65532:65532 600" && rotated,
                format!(
                    "/data/token.json written, owner:group mode {owner}, rotated token {}",
                    if rotated { "stored" } else { "MISSING" }
                ),
            );
        }
        Err(_) => checks.record(
            "token-file",
            false,
            "no /data/token.json after the token endpoint returned a new refresh token",
        ),
    }

    // ---- podman stop: SIGTERM with an event stream open ends it within the limit, exit 0
    let stream = tokio::spawn(event_stream(address.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    let _ = podman
        .command(&["stop", "-t", "10", tag])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let stopped_in = started.elapsed();
    let exit_code = podman.inspect("container", tag, "{{.State.ExitCode}}");
    let stream_state = if stream.is_finished() {
        match stream.await {
            Ok((status, events)) => format!("HTTP {status}, ended ({events} events)"),
            Err(_) => "ended".into(),
        }
    } else {
        stream.abort();
        "still open".into()
    };
    checks.record(
        "sigterm-stop",
        exit_code == "0" && stopped_in < Duration::from_secs(args.max_stop_seconds),
        format!(
            "podman stop -t 10: {:.2} s (max {}), exit code {exit_code} (137 = SIGKILL after the timeout); event stream {stream_state}",
            stopped_in.as_secs_f64(),
            args.max_stop_seconds
        ),
    );

    log(TASK, format!("mock Spotify calls: {}", mock.counts()));
    let logs = podman.command(&["logs", tag]).output()?;
    let logs =
        String::from_utf8_lossy(&logs.stdout).into_owned() + &String::from_utf8_lossy(&logs.stderr);
    let leaked = [CLIENT_SECRET, REFRESH_TOKEN, ACCESS_TOKEN_PREFIX]
        .iter()
        .any(|s| logs.contains(s));
    checks.record(
        "no-secrets-in-logs",
        !leaked,
        if leaked {
            "a secret from the environment appears in the container log"
        } else {
            "client secret, refresh and access tokens absent from the log"
        },
    );
    println!(
        "image {image}: {size} bytes ({} MB); stop {:.2} s, exit code {exit_code}; network {network:?}",
        util::mb(size),
        stopped_in.as_secs_f64()
    );
    Ok(())
}

/// Whether a container on the default bridge reaches the host's mock (bash's /dev/tcp in the
/// debian stand-in, since the app image has no shell); if not, the host network.
fn preflight(podman: &Podman, tag: &str, mock_port: u16) -> Network {
    let script = format!(
        "exec 3<>/dev/tcp/host.containers.internal/{mock_port} && printf 'GET /_mock/calls HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q '200 OK' <&3"
    );
    let name = format!("{tag}-preflight");
    let out = Command::new("timeout")
        .args([
            "60",
            "podman",
            "run",
            "--rm",
            "--name",
            &name,
            STANDIN_DEBIAN,
            "bash",
            "-c",
            &script,
        ])
        .env("CONTAINERS_CONF", &podman.conf)
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(out) if out.status.success() => Network::Bridge,
        Ok(out) => {
            log(
                TASK,
                format!(
                    "bridge preflight failed ({}); using --network=host",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            );
            Network::Host
        }
        Err(e) => {
            log(
                TASK,
                format!("bridge preflight could not run ({e}); using --network=host"),
            );
            Network::Host
        }
    }
}

/// An event stream held until the server ends it (at most 30 s): its status and events.
async fn event_stream(address: String) -> (String, usize) {
    let held = async {
        let mut stream = tokio::net::TcpStream::connect(&address).await.ok()?;
        stream
            .write_all(
                b"GET /now-playing/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n",
            )
            .await
            .ok()?;
        let mut received = Vec::new();
        let _ = stream.read_to_end(&mut received).await;
        let text = String::from_utf8_lossy(&received);
        let status = text.split(' ').nth(1).unwrap_or("?").to_owned();
        Some((
            status,
            text.lines().filter(|l| l.starts_with("event:")).count(),
        ))
    };
    tokio::time::timeout(Duration::from_secs(30), held)
        .await
        .ok()
        .flatten()
        .unwrap_or(("?".into(), 0))
}

fn show_logs(podman: &Podman, tag: &str) {
    log(TASK, "---- container logs (last 40 lines) ----");
    let _ = podman.command(&["logs", "--tail", "40", tag]).status();
    log(TASK, "----------------------------------------");
}
