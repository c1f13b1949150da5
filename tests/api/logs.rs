//! Request logs that cost almost nothing: written by a buffered writer on its own thread,
//! every line still there after shutdown, colours only on a terminal, drops counted.

use std::time::Duration;

use crate::helpers::*;

#[tokio::test]
async fn every_request_line_is_written_out_by_shutdown_without_colour_codes() {
    let port = free_port().to_string();
    let child = binary(
        &["serve", "--demo"],
        &[
            ("PORT", &port),
            ("LOG_FORMAT", "pretty"),
            ("RUST_LOG", "info"),
        ],
    )
    .spawn()
    .expect("the binary runs");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually("the server answers", || async {
        http.get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await;

    const REQUESTS: usize = 300;
    for chunk in 0..REQUESTS / 50 {
        let batch = (0..50).map(|i| {
            let http = http.clone();
            let url = format!("{base}/now-playing?n={}", chunk * 50 + i);
            async move { http.get(url).send().await.unwrap().status().as_u16() }
        });
        for status in futures_util::future::join_all(batch).await {
            assert_eq!(status, 200);
        }
    }
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("now_playing_log_lines_dropped_total 0"),
        "{metrics}"
    );

    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("stops within 10 s")
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains('\x1b'),
        "no ANSI escape codes when stderr is not a terminal:\n{stderr}"
    );
    let logged = stderr
        .lines()
        .filter(|l| l.contains("request") && l.contains("path=\"/now-playing\""))
        .count();
    assert_eq!(logged, REQUESTS, "every request is logged:\n{stderr}");
}

#[tokio::test]
async fn a_long_path_is_logged_cut_to_256_bytes_a_long_method_to_32_and_the_query_never() {
    let mut server = Server::start_with(&["serve", "--demo"], &[("RUST_LOG", "info")], None).await;
    let http = reqwest::Client::new();

    let long = format!("/{}", "a".repeat(1_000));
    let response = http
        .get(server.url(&format!("{long}?code=secret-code")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let longer = format!("/{}", "b".repeat(20_000));
    let response = http.get(server.url(&longer)).send().await.unwrap();
    assert_eq!(response.status(), 414);
    let method = "X".repeat(10_000);
    let response = http
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            server.url("/now-playing"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);

    // Stopped, so that every queued line is written out.
    server.signal("TERM");
    tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .expect("stops within 10 s")
        .unwrap();
    let requests = || -> Vec<(String, String)> {
        server
            .logs
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|l| l["message"] == "request" && l["path"] != "/healthz")
            .map(|l| {
                let field = |name: &str| l[name].as_str().unwrap().to_owned();
                (field("method"), field("path"))
            })
            .collect()
    };
    eventually("the three request lines are read", || async {
        requests().len() >= 3
    })
    .await;
    let log = server.log_text();
    assert!(!log.contains("secret-code"), "{log}");
    let get = || "GET".to_owned();
    assert_eq!(
        requests(),
        [
            (get(), format!("{}…", &long[..256])),
            (get(), format!("{}…", &longer[..256])),
            (format!("{}…", &method[..32]), "/now-playing".to_owned()),
        ],
        "{log}"
    );
}
