//! A hostile title runs no script: not in the server's first render, not after a live
//! update by the embed script.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use fantoccini::Locator;
use futures_util::FutureExt;
use serde_json::{Value, json};

use crate::harness::{
    App, Browser, LOAD_DEADLINE, OtherOrigin, eventually, spotify_playing, text, track_with,
    wait_for_title,
};

const FIRST: &str = "</title><script>alert(1)</script><img src=x onerror=alert(2)>";
const NEXT: &str =
    "<img src=x onerror=alert(3)><svg onload=alert(4)></svg>\"'><script>alert(5)</script>";
const ARTIST: &str = "<img src=x onerror=alert(6)>";

fn hostile(title: &str) -> String {
    track_with(|t: &mut Value| {
        t["item"]["name"] = json!(title);
        t["item"]["artists"][0]["name"] = json!(ARTIST);
        t["item"]["album"]["name"] = json!("<script>alert(7)</script>");
    })
}

/// No dialog, no injected element, and the page's only script is the app's own.
async fn assert_no_script_ran(browser: &Browser, app: &App) {
    browser.assert_no_alert().await;
    let injected = browser
        .client
        .find_all(Locator::Css(r#"img[src="x"], [onerror], [onload]"#))
        .await
        .unwrap();
    assert!(
        injected.is_empty(),
        "{} injected element(s)",
        injected.len()
    );
    let scripts = browser
        .js(r#"return Array.from(document.scripts).map(function (s) { return s.src; });"#)
        .await;
    let scripts = scripts.as_array().unwrap();
    assert_eq!(scripts.len(), 1, "exactly one <script>: {scripts:?}");
    let src = reqwest::Url::parse(&text(&scripts[0])).expect("our script has a URL");
    assert_eq!(src.origin().ascii_serialization(), app.origin(), "{src}");
    assert_eq!(src.path(), "/static/embed.js", "{src}");
    let titles = browser
        .js(r#"return document.querySelectorAll("title").length"#)
        .await;
    assert_eq!(titles, json!(1), "the <title> was broken out of");
    // A script that ran would have had the chance to open its dialog by now.
    browser.assert_no_alert().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: .ci/run runs them with --ignored"]
async fn a_hostile_title_runs_no_script() {
    let spotify = spotify_playing(&hostile(FIRST)).await;
    let app = App::spawn(&spotify).await;
    let browser = Browser::start().await;

    // The server's render.
    browser
        .client
        .goto(&app.url("/embed"))
        .await
        .expect("the embed loads");
    let (widget, _) = wait_for_title(&browser, FIRST, LOAD_DEADLINE).await;
    assert!(text(&widget["artists"]).contains(ARTIST), "{widget}");
    assert_no_script_ran(&browser, &app).await;
    browser.screenshot("xss.png").await;

    // The embed script's render, after a live update.
    browser.js("window.__marker = 1; return null").await;
    spotify.set_playing(&hostile(NEXT));
    let (widget, _) = wait_for_title(&browser, NEXT, Duration::from_secs(10)).await;
    assert!(text(&widget["artists"]).contains(ARTIST), "{widget}");
    assert_eq!(
        browser.js("return window.__marker").await,
        json!(1),
        "reloaded"
    );
    assert_no_script_ran(&browser, &app).await;
    browser.screenshot("xss-live.png").await;
    browser.close().await;
}

/// The control: the checks above do see a script that ran and an element it injected, so
/// the test above passing means something.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: .ci/run runs them with --ignored"]
async fn the_checks_see_a_script_that_ran() {
    let origin = OtherOrigin::start().await;
    let page = origin.page(
        "/",
        r#"<!doctype html><title>unsafe</title><p>unsafe</p>
<img src=x onerror="alert('injected')">"#,
    );
    let browser = Browser::start().await;
    browser.client.goto(&page).await.expect("the page loads");
    let (text, _) = eventually("the alert opens", LOAD_DEADLINE, || async {
        browser
            .client
            .get_alert_text()
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    assert_eq!(text, "injected");
    let missed = AssertUnwindSafe(browser.assert_no_alert())
        .catch_unwind()
        .await;
    assert!(
        missed.is_err(),
        "assert_no_alert did not see the open alert"
    );
    browser.client.accept_alert().await.unwrap();
    browser.assert_no_alert().await;
    let injected = browser
        .client
        .find_all(Locator::Css(r#"img[src="x"], [onerror], [onload]"#))
        .await
        .unwrap();
    assert_eq!(injected.len(), 1, "the injected element is seen");
    browser.close().await;
}
