//! Fault soak (issue 5, item 5): the real binary under 64 steady viewers while the mock
//! Spotify fails in every way it can, phase after phase; then every response, every Spotify
//! call and the server's memory are checked against the README ("The JSON document" and
//! "How Spotify is called and cached").
//!
//! `#[ignore]`d: `.ci/run` runs it with `cargo test --test soak -- --ignored --nocapture`.
//! About two and a half minutes.

mod checks;
mod load;
mod server;

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use load::{Code, Sample};
use mock_spotify::{Answer, Call, Fault, MockSpotify, Options};
use server::Server;

const CLIENT_ID: &str = "soak-client-id";
const CLIENT_SECRET: &str = "soak-client-secret-61c0";
const REFRESH_TOKEN: &str = "soak-refresh-token-2b7e";

/// `Retry-After` sent with every 429, longer than `CACHE_TTL` so that honouring it is visible.
const RETRY_AFTER: Duration = Duration::from_secs(6);
/// How long a hanging answer takes: longer than the service's 5 s call deadline.
const HANG: Duration = Duration::from_secs(10);
/// In the 401 phase, an access token works for this long after it was issued (Spotify says
/// 3600 s; the mock revokes it early, so that the phase sees several 401s).
const REVOKED_TOKEN_LIFE: Duration = Duration::from_secs(4);

/// The service's settings for the run. A short TTL so that every phase spans several rounds.
const CACHE_TTL: Duration = Duration::from_secs(2);
/// Longer than every stretch of failures below (see `STALE_COVERS_EVERY_FAILURE`), so that
/// the last good answer must be served as `stale` throughout them, never a 503 `upstream`.
const STALE_MAX: Duration = Duration::from_secs(90);
/// The service's whole-call deadline for a Spotify request (README: How Spotify is called
/// and cached).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Dead credentials (`invalid_grant`) are tried again at most this often.
const DEAD_RETRY: Duration = Duration::from_secs(60);
/// The longest a round of calls to the local mock takes when nothing hangs (a 401, a token
/// refresh and the retry, on loopback): generous, they take milliseconds.
const CALL_MARGIN: Duration = Duration::from_secs(1);
/// No response may take longer (issue 5: the 5 s call deadline, plus serving time).
const MAX_LATENCY: Duration = Duration::from_secs(6);
/// Memory bounds of the server process (a debug build).
const RSS_LIMIT_KIB: u64 = 60 * 1024;
/// How much the resident size may grow from the end of the first normal phase to the end of
/// the run (it stays within 1 MB when nothing leaks): a leak of 60 bytes per request would
/// exceed it, the run serves more than 140 000 requests.
const RSS_GROWTH_LIMIT_KIB: u64 = 8 * 1024;

const CLIENTS: usize = 64;
/// Each client's pause between two requests (plus up to 22 ms, so they spread out).
const PAUSE: Duration = Duration::from_millis(40);
/// How long fresh answers are watched after the service has recovered for good.
const OBSERVE_RECOVERY: Duration = Duration::from_secs(8);

struct PhaseSpec {
    name: &'static str,
    fault: Fault,
    /// At least this long (several `CACHE_TTL`s); the last phase lasts until the service is
    /// due to have recovered, plus `OBSERVE_RECOVERY`.
    len: Duration,
}

const fn phase(name: &'static str, fault: Fault, seconds: u64) -> PhaseSpec {
    PhaseSpec {
        name,
        fault,
        len: Duration::from_secs(seconds),
    }
}

/// The sequence, with "normal again" added after the connection is refused, so that
/// recovery from a transient failure within one `CACHE_TTL` is checked too (after
/// `invalid_grant` the service may wait up to a minute, by design).
const PHASES: [PhaseSpec; 10] = [
    phase("normal", Fault::None, 10),
    phase(
        "401 on old tokens",
        Fault::RevokedTokens {
            life: REVOKED_TOKEN_LIFE,
        },
        12,
    ),
    phase(
        "429 Retry-After 6",
        Fault::RateLimited {
            retry_after: RETRY_AFTER,
        },
        14,
    ),
    phase("5xx", Fault::ServerErrors, 10),
    phase("hanging", Fault::Hang(HANG), 15),
    phase("malformed JSON", Fault::Garbage, 10),
    phase("connection refused", Fault::Refused, 10),
    phase("normal again", Fault::None, 10),
    phase("invalid_grant", Fault::InvalidGrant, 10),
    phase("back to normal", Fault::None, 10),
];

/// The last good answer is at most `CACHE_TTL` + a call old when the failing stretch (429 to
/// connection refused) begins, is served as stale until the next phase has settled
/// (`CACHE_TTL` + a call after it ends), and the stale check allows a call deadline plus a
/// call of slack: all of that stays inside `STALE_MAX`, so that a 503 `upstream` is never a
/// correct answer in this run and the stale assertions say the most.
const STALE_COVERS_EVERY_FAILURE: () = {
    let mut failing = 0;
    let mut i = 0;
    while i < PHASES.len() {
        if let Expect::Stale(_) = steady(PHASES[i].fault) {
            failing += PHASES[i].len.as_secs();
        }
        i += 1;
    }
    let edges = 2 * (CACHE_TTL.as_secs() + CALL_MARGIN.as_secs());
    let slack = CALL_TIMEOUT.as_secs() + CALL_MARGIN.as_secs();
    assert!(failing + edges + slack < STALE_MAX.as_secs());
};

/// A hanging phase follows one that served stale answers already, so that the 5 s call it
/// begins with (answered stale from the previous phase meanwhile) changes no expectation:
/// `settle` counts on it.
const NO_HANG_AFTER_FRESH: () = {
    let mut i = 1;
    while i < PHASES.len() {
        if matches!(PHASES[i].fault, Fault::Hang(_)) {
            assert!(matches!(steady(PHASES[i - 1].fault), Expect::Stale(_)));
        }
        i += 1;
    }
};

/// What the service must serve once a phase has settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// 200, `stale: false`: Spotify answers (after at most one refresh).
    Fresh,
    /// 200, `stale: true` (the last good answer); a 503 with this code only once the last
    /// good answer is older than `STALE_MAX`.
    Stale(Code),
    /// 503 `spotify_auth` at once, even with a last good answer.
    Auth,
}

const fn steady(fault: Fault) -> Expect {
    match fault {
        Fault::None | Fault::RevokedTokens { .. } => Expect::Fresh,
        Fault::RateLimited { .. } => Expect::Stale(Code::RateLimited),
        Fault::ServerErrors | Fault::Hang(_) | Fault::Garbage | Fault::Refused => {
            Expect::Stale(Code::Upstream)
        }
        Fault::InvalidGrant => Expect::Auth,
    }
}

struct PhaseRun {
    spec: &'static PhaseSpec,
    start: Duration,
    end: Duration,
    /// From `start` until `start + settle` the previous phase's answers may still be served.
    settle: Duration,
}

/// How long after a phase begins the previous phase's behaviour may still be served.
///
/// An answer from the previous phase comes from a call that began before `start`. That call
/// ended by `start` + the longest call of the previous phase (`CALL_TIMEOUT` when it hung,
/// else `CALL_MARGIN`), and its snapshot is reused for `CACHE_TTL`, or until `Retry-After`
/// when that is longer. A request that finds it expired is still answered from it, at once,
/// while the call it starts runs (stale-while-revalidate); no request that begins
/// after that call has landed is. So the margin is that call time plus that hold (at most
/// the issue's `CACHE_TTL` + 5 s, or 1 s + `Retry-After` after the 429 phase), plus the first
/// call of this phase: where two phases expect different answers that call does not hang,
/// and one `CALL_MARGIN` covers both rounds, which take milliseconds on loopback (the run
/// prints how soon each recovery came).
///
/// After `invalid_grant` the credentials are dead for `DEAD_RETRY` from the last refusal
/// (the token endpoint is asked again at most once a minute): the service can only
/// recover one `CACHE_TTL` (plus a call) after that retry falls due.
fn settle(prev: Option<&PhaseSpec>, start: Duration, calls: &[Call]) -> Duration {
    let Some(prev) = prev else {
        return Duration::ZERO;
    };
    let call = if matches!(prev.fault, Fault::Hang(_)) {
        CALL_TIMEOUT
    } else {
        CALL_MARGIN
    };
    let hold = if matches!(prev.fault, Fault::RateLimited { .. }) {
        CACHE_TTL.max(RETRY_AFTER)
    } else {
        CACHE_TTL
    };
    let mut settle = call + hold;
    if prev.fault == Fault::InvalidGrant
        && let Some(refused) = calls
            .iter()
            .rev()
            .find(|c| c.answer == Answer::InvalidGrant)
    {
        let retry = refused.at + DEAD_RETRY + CACHE_TTL + CALL_MARGIN;
        settle = settle.max(retry.saturating_sub(start));
    }
    settle
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "fault soak: .ci/run runs it with --ignored"]
async fn serves_within_spec_while_spotify_fails_in_every_way() {
    let () = STALE_COVERS_EVERY_FAILURE;
    let () = NO_HANG_AFTER_FRESH;
    let epoch = Instant::now();
    // Only the soak's own client and refresh token are accepted: anything else is a call
    // the mock did not expect, and fails check (phases).
    let spotify = MockSpotify::start_with(Options {
        epoch: Some(epoch),
        client: Some((CLIENT_ID.into(), CLIENT_SECRET.into())),
        refresh_token: Some(REFRESH_TOKEN.into()),
        ..Options::default()
    })
    .await
    .expect("the mock Spotify starts");
    let env = [
        ("SPOTIFY_CLIENT_ID", CLIENT_ID.to_owned()),
        ("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("SPOTIFY_REFRESH_TOKEN", REFRESH_TOKEN.to_owned()),
        ("SPOTIFY_ACCOUNTS_URL", spotify.url()),
        ("SPOTIFY_API_URL", spotify.url()),
        ("CACHE_TTL", CACHE_TTL.as_secs().to_string()),
        ("STALE_MAX", STALE_MAX.as_secs().to_string()),
        ("RUST_LOG", "info".to_owned()),
    ];
    let mut server = Server::start(&env, epoch).await;
    println!(
        "soak: server pid {} on port {}, CACHE_TTL {}s, STALE_MAX {}s, {CLIENTS} clients",
        server.pid,
        server.port,
        CACHE_TTL.as_secs(),
        STALE_MAX.as_secs()
    );

    // Memory, sampled every 250 ms while the run lasts.
    let sampling = CancellationToken::new();
    let sampler = tokio::spawn({
        let (pid, sampling) = (server.pid, sampling.clone());
        async move {
            let mut samples = Vec::new();
            while !sampling.is_cancelled() {
                samples.push((epoch.elapsed(), server::memory(pid)));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            samples
        }
    });

    // The phases, with 64 viewers throughout.
    let stop = CancellationToken::new();
    let mut runs: Vec<PhaseRun> = Vec::new();
    // Built before the clock starts: building 64 HTTP clients keeps the test's CPU busy.
    let mut viewers = Some(load::viewers(CLIENTS, &server.url("")));
    let mut clients = Vec::new();
    for (i, spec) in PHASES.iter().enumerate() {
        spotify.set_fault(spec.fault).await;
        let start = epoch.elapsed();
        if let Some(last) = runs.last_mut() {
            last.end = start;
        }
        let prev = i.checked_sub(1).map(|p| &PHASES[p]);
        let len = if i + 1 == PHASES.len() {
            // The last phase lasts until recovery is due, and then some.
            spec.len
                .max(settle(prev, start, &spotify.calls()) + OBSERVE_RECOVERY)
        } else {
            spec.len
        };
        println!(
            "soak: {:>6.1}s phase {}: {} ({:.0} s)",
            start.as_secs_f64(),
            i + 1,
            spec.name,
            len.as_secs_f64()
        );
        runs.push(PhaseRun {
            spec,
            start,
            end: start + len,
            settle: Duration::ZERO,
        });
        if i == 0 {
            clients = load::spawn(viewers.take().unwrap(), PAUSE, epoch, &stop);
        }
        tokio::time::sleep(len).await;
    }
    let alive_at_end = server.alive();
    stop.cancel();
    runs.last_mut().unwrap().end = epoch.elapsed();
    let mut samples: Vec<Sample> = Vec::new();
    for client in clients {
        samples.extend(client.await.expect("a client task ends"));
    }
    samples.sort_by_key(|s| s.at);
    sampling.cancel();
    let memory = sampler.await.expect("the memory sampler ends");
    let logs = std::sync::Arc::clone(&server.logs);
    let (exit, exit_took) = server.terminate(Duration::from_secs(5)).await;
    let logs = std::mem::take(&mut *logs.lock().unwrap());
    let calls = spotify.calls();
    for i in 0..runs.len() {
        let prev = i.checked_sub(1).map(|p| runs[p].spec);
        runs[i].settle = settle(prev, runs[i].start, &calls);
    }

    let run = checks::Run {
        phases: &runs,
        samples: &samples,
        calls: &calls,
        logs: &logs,
        memory: &memory,
        alive_at_end,
        exit,
        exit_took,
    };
    checks::print_summary(&run);
    let failed = checks::verify(&run);
    if !failed.is_empty() {
        println!("server log (without the request lines):");
        for (at, line) in &logs.lines {
            println!("  {:>7.2}s {line}", at.as_secs_f64());
        }
    }
    assert!(
        failed.is_empty(),
        "the fault soak failed:\n{}",
        failed.join("\n")
    );
}
