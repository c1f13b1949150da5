//! One `wrk --latency` run and what its output says.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::bail;
use crate::util::Result;

/// Load of one run.
#[derive(Clone, Debug)]
pub struct Load {
    pub threads: u32,
    pub connections: u32,
    pub duration: Duration,
    /// Extra request headers (`Name: value`).
    pub headers: Vec<String>,
}

/// What one run measured; latencies in milliseconds.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub rps: f64,
    pub requests: u64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    /// Non-2xx/3xx answers plus socket errors.
    pub bad: u64,
}

/// Runs `wrk` on `url`, saving its output as `out`.
pub fn run(load: &Load, url: &str, out: &Path) -> Result<Run> {
    let mut command = Command::new("wrk");
    command.args([
        format!("-t{}", load.threads),
        format!("-c{}", load.connections),
        format!("-d{}s", load.duration.as_secs_f64().ceil().max(1.0)),
        "--latency".into(),
    ]);
    for header in &load.headers {
        command.args(["-H", header]);
    }
    let output = command.arg(url).output()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    std::fs::write(out, &text)?;
    if !output.status.success() {
        bail!("wrk failed on {url}: {}", text.trim());
    }
    parse(&text)
        .ok_or_else(|| crate::util::Error(format!("cannot read wrk's output ({})", out.display())))
}

/// `1.23ms`, `456.00us`, `2.01s`, `1.5m` in milliseconds.
fn millis(text: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        return None;
    };
    Some(number.parse::<f64>().ok()? * factor)
}

fn parse(text: &str) -> Option<Run> {
    let mut run = Run::default();
    let mut seen_rps = false;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", rps] => {
                run.rps = rps.parse().ok()?;
                seen_rps = true;
            }
            ["Latency", _avg, _stdev, max, ..] => run.max = millis(max)?,
            ["50%", v] => run.p50 = millis(v)?,
            ["75%", v] => run.p75 = millis(v)?,
            ["90%", v] => run.p90 = millis(v)?,
            ["99%", v] => run.p99 = millis(v)?,
            [n, "requests", "in", ..] => run.requests = n.parse().ok()?,
            ["Non-2xx", "or", "3xx", "responses:", n] => run.bad += n.parse::<u64>().ok()?,
            ["Socket", "errors:", rest @ ..] => {
                run.bad += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    seen_rps.then_some(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "Running 10s test @ http://127.0.0.1:8080/healthz
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms    1.37ms  52.38ms   91.64%
    Req/Sec    35.12k     3.05k   41.02k    71.50%
  Latency Distribution
     50%  640.00us
     75%    1.10ms
     90%    2.16ms
     99%    6.91ms
  698846 requests in 10.00s, 84.64MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  69862.95
Transfer/sec:      8.46MB
";

    #[test]
    fn wrk_output_is_read_in_milliseconds() {
        let run = parse(OUTPUT).unwrap();
        assert_eq!(run.rps, 69862.95);
        assert_eq!(run.requests, 698_846);
        assert_eq!(run.p50, 0.64);
        assert_eq!(run.p99, 6.91);
        assert_eq!(run.max, 52.38);
        assert_eq!(run.bad, 7);
        assert_eq!(millis("2.5s"), Some(2500.0));
        assert_eq!(millis("1.5m"), Some(90_000.0));
    }
}
