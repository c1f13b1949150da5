//! Issue 8's measurements: whether a viewer ever waits for a slow Spotify once an answer
//! exists, and whether half-open connections can starve other clients.

use std::time::{Duration, Instant};

use super::report::{Verdict, table};
use super::server::strip_ansi;
use super::streams;
use super::{Bench, TASK};
use crate::bail;
use crate::util::{self, Result, log};

/// Issue 8's targets.
const T_SWR_P99_MS: f64 = 10.0;
const T_SWR_MAX_MS: f64 = 50.0;
const T_OTHER_CLIENT: Duration = Duration::from_secs(1);
/// Held connections are closed within HEADER_TIMEOUT plus this.
const T_CLOSE_SLACK: Duration = Duration::from_secs(3);

impl Bench {
    /// Cached `/now-playing` while Spotify answers in `--swr-latency-ms` with a short
    /// `CACHE_TTL`: wrk's latency percentiles after a first (cold) answer.
    pub(super) async fn swr(&mut self) -> Result<()> {
        let latency = Duration::from_millis(self.args.swr_latency_ms);
        let ttl = self.args.swr_cache_ttl;
        self.mock.set_latency(latency);
        let env = self.env(ttl, "warn", &[]);
        let outcome = async {
            let server = self.start(env, "server-swr.log", None).await?;
            let asked = Instant::now();
            let first = util::get(
                &server.address(),
                "/now-playing",
                &[],
                Duration::from_secs(15),
            )
            .await;
            let cold = asked.elapsed();
            let measured = match first {
                Ok(r) if r.status == 200 => {
                    let load = super::wrk::Load {
                        duration: self.args.swr_duration,
                        ..self.load(self.args.swr_connections, &[])
                    };
                    let healthz = self.wrk("swr-healthz", &server, "/healthz", &load);
                    let route = self.wrk("swr-now-playing", &server, "/now-playing", &load);
                    Ok((healthz, route))
                }
                Ok(r) => Err(util::Error(format!(
                    "the first /now-playing answered {}",
                    r.status
                ))),
                Err(e) => Err(e),
            };
            server.stop().await;
            let (healthz, route) = measured?;
            Ok::<_, util::Error>((cold, healthz?, route?))
        }
        .await;
        self.mock.set_latency(Duration::ZERO);
        let (cold, healthz, route) = outcome?;
        let r = &route.run;
        let setting = format!("Spotify at {} ms, CACHE_TTL={ttl}", latency.as_millis());
        self.report.target(
            format!(
                "p99 of cached `/now-playing`, {setting}, `-c{}` (issue 8)",
                self.args.swr_connections
            ),
            format!(
                "{:.2} ms (p50 {:.2}, p90 {:.2}; {:.0} req/s)",
                r.p99, r.p50, r.p90, r.rps
            ),
            format!("< {T_SWR_P99_MS} ms"),
            Verdict::of(r.p99 < T_SWR_P99_MS),
        );
        self.report.target(
            format!("slowest `/now-playing` after the first answer, {setting} (issue 8)"),
            format!("{:.2} ms", r.max),
            format!("< {T_SWR_MAX_MS} ms"),
            Verdict::of(r.max < T_SWR_MAX_MS),
        );
        let row = |name: &str, m: &super::Measured| {
            let r = &m.run;
            vec![
                name.to_owned(),
                format!("{:.0}", r.rps),
                format!("{:.2}", r.p50),
                format!("{:.2}", r.p90),
                format!("{:.2}", r.p99),
                format!("{:.2}", r.max),
                r.bad.to_string(),
                m.calls.to_string(),
            ]
        };
        let body = table(
            &[
                "route",
                "req/s",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
                "non-2xx + errors",
                "Spotify calls during the run",
            ],
            &[row("`/healthz`", &healthz), row("`/now-playing`", &route)],
        ) + &format!(
            "\n`wrk -t{} -c{} -d{}s --latency`, `/healthz` first, then `/now-playing` (its cache expired meanwhile, so the run begins with a refresh), after a first answer that took {} ms (cold cache: a token call and a currently-playing call at {} ms each). Ratio `/now-playing` ÷ `/healthz`: {:.3}. At most one currently-playing call per CACHE_TTL is allowed: {} in {} s.\n",
            self.args.threads,
            self.args.swr_connections,
            self.args.swr_duration.as_secs_f64(),
            util::ms(cold),
            latency.as_millis(),
            route.run.rps / healthz.run.rps,
            route.calls.get(mock_spotify::Endpoint::CurrentlyPlaying),
            self.args.swr_duration.as_secs_f64(),
        );
        self.report
            .section(&format!("Slow Spotify: {setting} (issue 8)"), body);
        Ok(())
    }

    /// `--halfopen-held` connections each send half a request head to a server started under
    /// `prlimit --nofile=N:N` with `HEADER_TIMEOUT`: is another client served, and when are
    /// the held connections closed?
    pub(super) async fn halfopen(&mut self) -> Result<()> {
        let held = self.args.halfopen_held;
        let timeout = self.args.header_timeout;
        let wait = self.args.halfopen_wait;
        let open_files = self.args.halfopen_open_files;
        // Defaults for MAX_CONNECTIONS and MAX_EVENT_CLIENTS: the server fits them to the limit.
        let mut env = self.env(
            self.args.cache_ttl,
            "info",
            &[("HEADER_TIMEOUT", timeout.to_string())],
        );
        env.retain(|(k, _)| k != "MAX_EVENT_CLIENTS");
        let server = self
            .start(env, "server-halfopen.log", Some(open_files))
            .await?;
        log(
            TASK,
            format!(
                "holding {held} half-open connections (server under prlimit --nofile={open_files}:{open_files}, HEADER_TIMEOUT={timeout})"
            ),
        );
        let half = streams::open_half(&server.address(), held).await;
        let (opened, failed, opening, all_open) =
            (half.opened, half.failed, half.opening, half.all_open);
        let asked = Instant::now();
        let other = util::get(&server.address(), "/healthz", &[], wait).await;
        let served = match &other {
            Ok(r) if r.status == 200 => Some(asked.elapsed()),
            _ => None,
        };
        let waited = asked.elapsed();
        // From when all were open: the watch ends `wait` after that, or after the other
        // client gave up, whichever is later.
        let closed = half.closed(wait.max(all_open.elapsed())).await;
        let log_text = strip_ansi(&std::fs::read_to_string(&server.log).unwrap_or_default());
        server.stop().await;
        if opened == 0 {
            bail!("no connection could be opened ({failed} failed)");
        }

        let still_open = closed.iter().filter(|c| c.is_none()).count();
        // Lived well short of HEADER_TIMEOUT (which starts at accept, a little before the
        // client sees its connection open): closed to make room for newer ones.
        let early = closed
            .iter()
            .flatten()
            .filter(|(_, lived)| *lived + Duration::from_millis(500) < Duration::from_secs(timeout))
            .count();
        let longest = closed
            .iter()
            .flatten()
            .map(|(_, lived)| *lived)
            .max()
            .unwrap_or_default();
        let all_closed = (still_open == 0).then(|| {
            closed
                .iter()
                .flatten()
                .map(|(at, _)| *at)
                .max()
                .unwrap_or_default()
        });
        let lines = |needle: &str| log_text.lines().filter(|l| l.contains(needle)).count();
        let (accept_errors, at_limit) = (lines("accept error"), lines("MAX_CONNECTIONS"));
        let served_text = match (served, &other) {
            (Some(t), _) => format!("{} ms", util::ms(t)),
            (None, Ok(r)) => format!("answered {} after {} ms", r.status, util::ms(waited)),
            (None, Err(_)) => format!("not within {} s", wait.as_secs_f64()),
        };
        let closed_text = match all_closed {
            Some(t) => format!(
                "all {opened} within {:.2} s (longest lived {:.2} s)",
                t.as_secs_f64(),
                longest.as_secs_f64()
            ),
            None => format!(
                "{still_open} of {opened} still open after {:.0} s",
                wait.as_secs_f64()
            ),
        };
        log(
            TASK,
            format!(
                "half-open: another client {served_text}; held connections: {closed_text}; {accept_errors} accept errors logged"
            ),
        );
        self.report.target(
            format!(
                "another client's `/healthz` while {held} half-open connections are held (issue 8)"
            ),
            served_text.clone(),
            format!("< {} s", T_OTHER_CLIENT.as_secs()),
            Verdict::of(served.is_some_and(|t| t < T_OTHER_CLIENT)),
        );
        self.report.target(
            "held half-open connections closed by the server (issue 8)".to_string(),
            closed_text.clone(),
            format!(
                "≤ HEADER_TIMEOUT + {} s = {} s",
                T_CLOSE_SLACK.as_secs(),
                timeout + T_CLOSE_SLACK.as_secs()
            ),
            Verdict::of(
                all_closed.is_some_and(|t| t <= Duration::from_secs(timeout) + T_CLOSE_SLACK),
            ),
        );
        let body = table(
            &["measure", "result"],
            &[
                vec![
                    "connections held (half a request head each)".into(),
                    format!(
                        "{opened} opened in {:.2} s ({failed} could not connect)",
                        opening.as_secs_f64()
                    ),
                ],
                vec![
                    "another client's `/healthz` (asked once all were open)".into(),
                    served_text,
                ],
                vec![
                    "held connections closed by the server, from when all were open".into(),
                    closed_text,
                ],
                vec![
                    format!(
                        "closed well before HEADER_TIMEOUT ({timeout} s): made room for newer ones"
                    ),
                    early.to_string(),
                ],
                vec![
                    "`accept error` lines in the server log".into(),
                    accept_errors.to_string(),
                ],
                vec![
                    "`MAX_CONNECTIONS` lines in the server log (lowered, reached)".into(),
                    at_limit.to_string(),
                ],
            ],
        ) + &format!(
            "\nServer under `prlimit --nofile={open_files}:{open_files}`, `HEADER_TIMEOUT={timeout}` (ignored by a build without it), RUST_LOG=info; log in `server-halfopen.log`. This process raised its own soft open-files limit to hold the connections.\n"
        );
        self.report.section(
            &format!("Half-open connections under a {open_files} open-files limit (issue 8)"),
            body,
        );
        Ok(())
    }
}
