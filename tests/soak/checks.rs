//! What the run must show (the list, (a) to (g)), and the per-phase summary.

use std::collections::BTreeMap;
use std::process::ExitStatus;
use std::time::Duration;

use crate::load::{Code, Outcome, Route, Sample};
use crate::server::Logs;
use crate::{
    CACHE_TTL, CALL_MARGIN, CALL_TIMEOUT, DEAD_RETRY, Expect, MAX_LATENCY, PhaseRun,
    RSS_GROWTH_LIMIT_KIB, RSS_LIMIT_KIB, STALE_MAX, steady,
};
use mock_spotify::{Answer, Call, Endpoint, Fault};

/// Everything the run produced.
pub(crate) struct Run<'a> {
    pub phases: &'a [PhaseRun],
    pub samples: &'a [Sample],
    pub calls: &'a [Call],
    pub logs: &'a Logs,
    /// (when, `VmRSS` and `VmHWM` in KiB, or `None` once the process is gone)
    pub memory: &'a [(Duration, Option<(u64, u64)>)],
    pub alive_at_end: bool,
    pub exit: Option<ExitStatus>,
    pub exit_took: Duration,
}

impl Run<'_> {
    /// The phase a moment belongs to.
    fn phase_at(&self, at: Duration) -> usize {
        self.phases.iter().rposition(|p| p.start <= at).unwrap_or(0)
    }

    fn in_phase<'b, T>(
        &self,
        i: usize,
        items: &'b [T],
        at: impl Fn(&T) -> Duration + 'b,
    ) -> impl Iterator<Item = &'b T> + 'b {
        let (start, end) = (self.phases[i].start, self.phases[i].end);
        let last = i + 1 == self.phases.len();
        items.iter().filter(move |x| {
            let t = at(x);
            t >= start && (t < end || last)
        })
    }
}

/// One assertion of the list: how often it failed, with the first few failures described.
struct Check {
    label: &'static str,
    count: usize,
    examples: Vec<String>,
}

impl Check {
    fn new(label: &'static str) -> Self {
        Check {
            label,
            count: 0,
            examples: Vec::new(),
        }
    }

    fn fail(&mut self, describe: impl FnOnce() -> String) {
        self.count += 1;
        if self.examples.len() < 6 {
            self.examples.push(describe());
        }
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Fresh => "fresh".into(),
        Outcome::Stale => "stale".into(),
        Outcome::Unavailable(Some(code)) => format!("503 {}", code.name()),
        Outcome::Unavailable(None) => "unavailable card".into(),
        Outcome::Bad(what) => format!("BAD {what}"),
    }
}

/// Whether `outcome` is what `expect` asks for; `may_be_unavailable` when the last good
/// answer may be older than `STALE_MAX` by the time the answer was made.
fn fits(expect: Expect, outcome: &Outcome, may_be_unavailable: bool) -> bool {
    match (expect, outcome) {
        (Expect::Fresh, Outcome::Fresh) => true,
        (Expect::Stale(_), Outcome::Stale) => true,
        (Expect::Stale(code), Outcome::Unavailable(got)) => {
            may_be_unavailable && got.is_none_or(|got| got == code)
        }
        (Expect::Auth, Outcome::Unavailable(got)) => got.is_none_or(|got| got == Code::SpotifyAuth),
        _ => false,
    }
}

fn expect_name(e: Expect, may_be_unavailable: bool) -> String {
    match e {
        Expect::Fresh => "fresh".into(),
        Expect::Stale(code) if may_be_unavailable => format!("stale or 503 {}", code.name()),
        Expect::Stale(_) => "stale".into(),
        Expect::Auth => "503 spotify_auth".into(),
    }
}

/// Runs every check; returns the failed ones, described.
pub(crate) fn verify(run: &Run) -> Vec<String> {
    let mut a = Check::new(
        "(a) /now-playing answers 200 with the document or 503 `unavailable` with a code that fits the phase; /embed always 200 HTML",
    );
    let mut b = Check::new("(b) no response takes more than 6 s");
    let mut c = Check::new(
        "(c) `stale` is true exactly while Spotify fails (margin at phase edges: see `settle`)",
    );
    let mut d = Check::new(
        "(d) no Spotify call inside a Retry-After window or the minute after invalid_grant; one currently-playing round per CACHE_TTL; a 401 gets one refresh and one retry",
    );
    let mut e = Check::new(
        "(e) fresh again within one CACHE_TTL (+ a call) after Spotify recovers (after invalid_grant: after the once-a-minute token retry falls due)",
    );
    let mut f = Check::new("(f) memory stays bounded and does not grow");
    let mut g = Check::new("(g) nothing panics; alive to the end; exit 0 on SIGTERM within 5 s");
    let mut p = Check::new("(phases) every fault really happened");

    // The times the mock answered currently-playing with the track.
    let good: Vec<Duration> = run
        .calls
        .iter()
        .filter(|c| c.endpoint == Endpoint::CurrentlyPlaying && c.answer == Answer::Ok)
        .map(|c| c.at)
        .collect();

    for s in run.samples {
        let i = run.phase_at(s.at);
        let phase = &run.phases[i];
        let context = || {
            format!(
                "{} at {} (phase {} {}, +{}), took {}",
                s.route.path(),
                secs(s.at),
                i + 1,
                phase.spec.name,
                secs(s.at - phase.start),
                secs(s.latency)
            )
        };
        if s.latency > MAX_LATENCY {
            b.fail(|| format!("{}: {}", context(), describe(&s.outcome)));
        }
        if let Outcome::Bad(_) = s.outcome {
            a.fail(|| format!("{}: {}", context(), describe(&s.outcome)));
            continue;
        }
        // A stale answer must be served while the last good one is younger than STALE_MAX
        // when the answer is made: at the latest one call deadline (plus a call) after the
        // request began.
        let last_good = good.iter().rev().find(|&&t| t <= s.at);
        let may_be_unavailable =
            last_good.is_none_or(|&t| s.at + CALL_TIMEOUT + CALL_MARGIN > t + STALE_MAX);
        let mut allowed = vec![steady(phase.spec.fault)];
        if i > 0 && s.at < phase.start + phase.settle {
            allowed.push(steady(run.phases[i - 1].spec.fault));
        }
        // A request that begins just before the next phase may meet its behaviour.
        if i + 1 < run.phases.len() && s.at + CALL_MARGIN >= phase.end {
            allowed.push(steady(run.phases[i + 1].spec.fault));
        }
        if allowed
            .iter()
            .any(|&x| fits(x, &s.outcome, may_be_unavailable))
        {
            continue;
        }
        let message = || {
            let mut wanted: Vec<String> = allowed
                .iter()
                .map(|&x| expect_name(x, may_be_unavailable))
                .collect();
            wanted.dedup();
            format!(
                "{}: got {}, expected {}",
                context(),
                describe(&s.outcome),
                wanted.join(" or ")
            )
        };
        match &s.outcome {
            Outcome::Unavailable(Some(code))
                if !allowed.iter().any(|x| match x {
                    Expect::Stale(c) => c == code,
                    Expect::Auth => *code == Code::SpotifyAuth,
                    Expect::Fresh => false,
                }) =>
            {
                a.fail(message)
            }
            _ => c.fail(message),
        }
    }

    check_calls(run, &mut d);

    // (e): the last answer that is not fresh, in each phase where Spotify recovers.
    for (i, phase) in run.phases.iter().enumerate().skip(1) {
        let recovers = steady(phase.spec.fault) == Expect::Fresh
            && steady(run.phases[i - 1].spec.fault) != Expect::Fresh;
        if !recovers {
            continue;
        }
        let in_phase: Vec<&Sample> = run.in_phase(i, run.samples, |s| s.at).collect();
        let last_not_fresh = in_phase
            .iter()
            .filter(|s| s.outcome != Outcome::Fresh)
            .map(|s| s.at)
            .max();
        let recovered = last_not_fresh.map_or(Duration::ZERO, |t| t - phase.start);
        let fresh_after = in_phase
            .iter()
            .filter(|s| s.outcome == Outcome::Fresh && s.at >= phase.start + recovered)
            .count();
        println!(
            "soak: phase {} ({}): fresh from +{} on (bound +{}), then {fresh_after} fresh answers",
            i + 1,
            phase.spec.name,
            secs(recovered),
            secs(phase.settle)
        );
        if recovered > phase.settle || fresh_after < 100 {
            e.fail(|| {
                format!(
                    "phase {} {}: last answer that was not fresh at +{}, bound +{}; {fresh_after} fresh answers after it",
                    i + 1,
                    phase.spec.name,
                    secs(recovered),
                    secs(phase.settle)
                )
            });
        }
    }

    check_memory(run, &mut f);

    if !run.alive_at_end {
        g.fail(|| "the server was not running at the end of the run".into());
    }
    if let Some((at, _)) = run.memory.iter().find(|(_, m)| m.is_none()) {
        g.fail(|| format!("the server process was gone at {}", secs(*at)));
    }
    for line in &run.logs.panics {
        g.fail(|| format!("panic in the server's stderr: {line}"));
    }
    match run.exit {
        Some(status) if status.success() => {}
        Some(status) => g.fail(|| format!("after SIGTERM the server exited with {status}")),
        None => g.fail(|| format!("the server did not exit within {}", secs(run.exit_took))),
    }

    check_phases(run, &mut p);

    [a, b, c, d, e, f, g, p]
        .into_iter()
        .filter(|check| check.count > 0)
        .map(|check| {
            format!(
                "FAILED {} ({} times), e.g.:\n    {}",
                check.label,
                check.count,
                check.examples.join("\n    ")
            )
        })
        .collect()
}

/// (d), on the calls the mock recorded (each timed when it arrived, before it was answered;
/// so a later arrival minus an earlier one is never less than what the service waited).
fn check_calls(run: &Run, d: &mut Check) {
    let calls = run.calls;
    for (k, call) in calls.iter().enumerate() {
        let later = &calls[k + 1..];
        if let Answer::RateLimited { retry_after } = call.answer
            && let Some(early) = later
                .iter()
                .find(|l| l.endpoint != Endpoint::Token && l.at < call.at + retry_after)
        {
            d.fail(|| {
                format!(
                    "429 with Retry-After {} at {}, then a call to the API at {}",
                    secs(retry_after),
                    secs(call.at),
                    secs(early.at)
                )
            });
        }
        if call.answer == Answer::InvalidGrant
            && let Some(early) = later
                .iter()
                .find(|l| l.endpoint == Endpoint::Token && l.at < call.at + DEAD_RETRY)
        {
            d.fail(|| {
                format!(
                    "invalid_grant at {}, then a token call at {} (less than {} later)",
                    secs(call.at),
                    secs(early.at),
                    secs(DEAD_RETRY)
                )
            });
        }
        if call.endpoint == Endpoint::CurrentlyPlaying && call.answer == Answer::Unauthorized {
            // One refresh, then (when it worked) one retry that is not refused.
            let refresh = later.first();
            let retry = later.get(1);
            let ok = match refresh {
                None => true,
                Some(r) if r.endpoint == Endpoint::Token && r.answer == Answer::Ok => retry
                    .is_none_or(|r| {
                        r.endpoint == Endpoint::CurrentlyPlaying && r.answer != Answer::Unauthorized
                    }),
                Some(r) => r.endpoint == Endpoint::Token,
            };
            if !ok {
                d.fail(|| {
                    format!(
                        "401 at {}, then {:?} and {:?} instead of one refresh and one retry",
                        secs(call.at),
                        refresh,
                        retry
                    )
                });
            }
        }
    }
    // One currently-playing call per CACHE_TTL (README: How Spotify is called and cached), retries
    // after a 401 aside.
    let playing: Vec<&Call> = calls
        .iter()
        .filter(|c| c.endpoint == Endpoint::CurrentlyPlaying)
        .collect();
    for pair in playing.windows(2) {
        let (before, after) = (pair[0], pair[1]);
        if before.answer != Answer::Unauthorized && after.at < before.at + CACHE_TTL {
            d.fail(|| {
                format!(
                    "currently-playing at {} ({:?}) and again at {}, less than CACHE_TTL apart",
                    secs(before.at),
                    before.answer,
                    secs(after.at)
                )
            });
        }
    }
}

/// (f): `VmHWM` under the limit, and the resident size at the end of the run no more than
/// `RSS_GROWTH_LIMIT_KIB` above what it was once the first phase had warmed up.
fn check_memory(run: &Run, f: &mut Check) {
    let known: Vec<(Duration, u64, u64)> = run
        .memory
        .iter()
        .filter_map(|(at, m)| m.map(|(rss, hwm)| (*at, rss, hwm)))
        .collect();
    let Some(&(_, _, peak)) = known.iter().max_by_key(|(_, _, hwm)| *hwm) else {
        f.fail(|| "no memory sample".into());
        return;
    };
    if peak > RSS_LIMIT_KIB {
        f.fail(|| format!("peak RSS {} KiB, limit {RSS_LIMIT_KIB} KiB", peak));
    }
    // The mean over the last 5 s of the first phase (warmed up: every client connected and
    // served for a while) and over the last 5 s of the run.
    let window = |end: Duration| -> Option<u64> {
        let values: Vec<u64> = known
            .iter()
            .filter(|(at, _, _)| *at <= end && *at + Duration::from_secs(5) > end)
            .map(|(_, rss, _)| *rss)
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<u64>() / values.len() as u64)
    };
    let (Some(warm), Some(last)) = (
        window(run.phases[0].end),
        window(run.phases.last().unwrap().end),
    ) else {
        f.fail(|| "too few memory samples".into());
        return;
    };
    println!("soak: RSS {warm} KiB after the first phase, {last} KiB at the end, peak {peak} KiB");
    if last > warm + RSS_GROWTH_LIMIT_KIB {
        f.fail(|| {
            format!(
                "RSS grew from {warm} KiB after the first phase to {last} KiB at the end (limit +{RSS_GROWTH_LIMIT_KIB} KiB)"
            )
        });
    }
}

/// Each phase did to the service what it says; otherwise the other checks prove little.
fn check_phases(run: &Run, p: &mut Check) {
    for (i, phase) in run.phases.iter().enumerate() {
        let calls: Vec<&Call> = run.in_phase(i, run.calls, |c| c.at).collect();
        let count = |f: &dyn Fn(&Call) -> bool| calls.iter().filter(|c| f(c)).count();
        let playing = |answer: fn(&Answer) -> bool| {
            count(&|c: &Call| c.endpoint == Endpoint::CurrentlyPlaying && answer(&c.answer))
        };
        let (what, seen, wanted) = match phase.spec.fault {
            Fault::None => (
                "currently-playing answered",
                playing(|a| *a == Answer::Ok),
                2,
            ),
            Fault::RevokedTokens { .. } => (
                "401s each followed by a new token",
                playing(|a| *a == Answer::Unauthorized).min(count(&|c| {
                    c.endpoint == Endpoint::Token && c.answer == Answer::Ok
                })),
                2,
            ),
            Fault::RateLimited { .. } => (
                "429s",
                playing(|a| matches!(a, Answer::RateLimited { .. })),
                2,
            ),
            Fault::ServerErrors => ("5xx", playing(|a| matches!(a, Answer::ServerError(_))), 2),
            Fault::Hang(_) => ("hanging calls", playing(|a| *a == Answer::Hang), 1),
            Fault::Garbage => ("malformed bodies", playing(|a| *a == Answer::Garbage), 2),
            // The mock sees nothing: the server's log shows the refused calls.
            Fault::Refused => (
                "refused calls (server log: currently_playing transport, none reaching the mock)",
                if playing(|_| true) == 0 {
                    run.in_phase(i, &run.logs.calls, |c| c.at)
                        .filter(|c| c.endpoint == "currently_playing" && c.outcome == "transport")
                        .count()
                } else {
                    0
                },
                2,
            ),
            Fault::InvalidGrant => (
                "invalid_grant answers",
                count(&|c| c.answer == Answer::InvalidGrant),
                1,
            ),
        };
        if seen < wanted {
            p.fail(|| {
                format!(
                    "phase {} {}: {seen} {what}, wanted at least {wanted}",
                    i + 1,
                    phase.spec.name
                )
            });
        }
    }
    let other = run
        .calls
        .iter()
        .filter(|c| c.answer == Answer::Unexpected)
        .count();
    if other > 0 {
        p.fail(|| format!("{other} calls the mock did not expect"));
    }
}

fn call_label(c: &Call) -> String {
    let endpoint = match c.endpoint {
        Endpoint::Token => "token",
        Endpoint::CurrentlyPlaying => "playing",
        other => other.name(),
    };
    format!("{endpoint} {}", c.answer)
}

fn counts(labels: impl Iterator<Item = String>) -> String {
    let mut map = BTreeMap::<String, usize>::new();
    for label in labels {
        *map.entry(label).or_default() += 1;
    }
    if map.is_empty() {
        return "-".into();
    }
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A few lines per phase, for a person reading CI output.
pub(crate) fn print_summary(run: &Run) {
    println!();
    println!(
        "soak summary: {} requests in {}, {} Spotify calls seen by the mock, {} request log lines",
        run.samples.len(),
        secs(run.phases.last().unwrap().end - run.phases[0].start),
        run.calls.len(),
        run.logs.request_lines
    );
    for (i, phase) in run.phases.iter().enumerate() {
        println!(
            "{:>2} {:<20} {:>7} .. {:>7} ({}, settle {})",
            i + 1,
            phase.spec.name,
            secs(phase.start),
            secs(phase.end),
            secs(phase.end - phase.start),
            secs(phase.settle)
        );
        for route in [Route::Json, Route::Embed] {
            let samples: Vec<&Sample> = run
                .in_phase(i, run.samples, |s| s.at)
                .filter(|s| s.route == route)
                .collect();
            let max = samples.iter().map(|s| s.latency).max().unwrap_or_default();
            let statuses = counts(samples.iter().map(|s| format!("HTTP {}", s.status)));
            let outcomes = counts(samples.iter().map(|s| match &s.outcome {
                Outcome::Bad(_) => "BAD".to_owned(),
                other => describe(other),
            }));
            println!(
                "     {:<13} {:>6} requests, max {:>5} ms | {statuses} | {outcomes}",
                route.path(),
                samples.len(),
                max.as_millis()
            );
        }
        let calls = counts(run.in_phase(i, run.calls, |c| c.at).map(call_label));
        let failed = counts(
            run.in_phase(i, &run.logs.calls, |c| c.at)
                .filter(|c| c.outcome != "ok")
                .map(|c| format!("{} {}", c.endpoint, c.outcome)),
        );
        let rss = run
            .memory
            .iter()
            .filter(|(at, _)| *at >= phase.start && *at < phase.end)
            .filter_map(|(_, m)| m.map(|(rss, _)| rss))
            .max()
            .unwrap_or_default();
        println!(
            "     spotify (mock): {calls} | failed (server log): {failed} | max RSS {:.1} MB",
            rss as f64 / 1024.0
        );
    }
    let exit = match run.exit {
        Some(status) => format!("{status} after {}", secs(run.exit_took)),
        None => format!("none within {}", secs(run.exit_took)),
    };
    println!(
        "SIGTERM: {exit}; panics in stderr: {}; CACHE_TTL {}, STALE_MAX {}",
        run.logs.panics.len(),
        secs(CACHE_TTL),
        secs(STALE_MAX)
    );
    println!();
}
